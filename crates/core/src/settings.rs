//! An instance's settings: every field of GREEN-API's createInstance (seed
//! 003) with its documented default and range.

use serde::{Deserialize, Serialize};

use crate::error::{FieldPath, Violation};
use crate::rules::check_http_url;

/// Which range `delaySendMessagesMilliseconds` may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DelayPolicy {
    /// Seed 003's range for the vendor dialects: 500 … 600 000 ms.
    Vendor,
    /// chatgate's native API also allows 0, meaning no gap at all.
    Native,
}

impl DelayPolicy {
    /// The smallest allowed gap in milliseconds.
    pub fn min(self) -> u32 {
        match self {
            DelayPolicy::Vendor => Settings::DELAY_MIN_MS,
            DelayPolicy::Native => 0,
        }
    }

    /// Checks a requested gap against this policy.
    pub fn check(self, value: i64) -> Result<u32, Violation> {
        let (min, max) = (i64::from(self.min()), i64::from(Settings::DELAY_MAX_MS));
        if (min..=max).contains(&value) {
            Ok(u32::try_from(value).unwrap_or(Settings::DELAY_MAX_MS))
        } else {
            Err(Violation::new(
                FieldPath::key("delaySendMessagesMilliseconds"),
                format!("must be between {min} and {max} milliseconds, got {value}"),
            ))
        }
    }
}

/// An instance's settings. Field names follow seed 003; the storage form is
/// this struct's serde form (not a wire format: dialects convert).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Settings {
    /// Where notifications are pushed; `None` means the consumer pulls.
    pub webhook_url: Option<String>,
    /// Sent as `Authorization: Bearer <token>` with every push, when set.
    pub webhook_url_token: Option<String>,
    /// Minimum gap in ms between two messages of this instance leaving.
    pub delay_send_messages_milliseconds: u32,
    /// Mark incoming messages read (seed 003: "temporarily not working").
    pub mark_incoming_messages_readed: bool,
    /// Mark incoming messages read when replying.
    pub mark_incoming_messages_readed_on_reply: bool,
    /// Notify statuses of sent messages.
    pub outgoing_webhook: bool,
    /// Notify messages sent from the phone / other clients.
    pub outgoing_message_webhook: bool,
    /// Notify messages sent through the API.
    pub outgoing_api_message_webhook: bool,
    /// Notify changes of the instance's authorization state.
    pub state_webhook: bool,
    /// Notify incoming messages and files.
    pub incoming_webhook: bool,
    /// Keep the account shown as online.
    pub keep_online_status: bool,
    /// Notify poll updates.
    pub poll_message_webhook: bool,
    /// Notify incoming calls.
    pub incoming_call_webhook: bool,
    /// Notify edited messages.
    pub edited_message_webhook: bool,
    /// Notify deleted messages.
    pub deleted_message_webhook: bool,
    /// The incoming and outgoing statuses (stories) methods are enabled
    /// (GREEN-API's beta statuses feature; off unless the operator enables
    /// it).
    pub statuses_enabled: bool,
    /// Instagram: outside the 24-hour window, send with Meta's HUMAN_AGENT
    /// tag (allowed up to 7 days after the customer's last message, for
    /// replies by a person). Off by default.
    pub human_agent_tag: bool,
}

impl Settings {
    /// Seed 003's default gap: 3000 ms.
    pub const DELAY_DEFAULT_MS: u32 = 3_000;
    /// Seed 003's minimum gap: 500 ms.
    pub const DELAY_MIN_MS: u32 = 500;
    /// Seed 003's maximum gap: 600 000 ms (10 minutes).
    pub const DELAY_MAX_MS: u32 = 600_000;

    /// Settings of an instance created through GREEN-API's createInstance:
    /// "after creating an instance without settings, the default settings
    /// are off" (seed 003).
    pub fn switches_off() -> Self {
        Self {
            webhook_url: None,
            webhook_url_token: None,
            delay_send_messages_milliseconds: Self::DELAY_DEFAULT_MS,
            mark_incoming_messages_readed: false,
            mark_incoming_messages_readed_on_reply: false,
            outgoing_webhook: false,
            outgoing_message_webhook: false,
            outgoing_api_message_webhook: false,
            state_webhook: false,
            incoming_webhook: false,
            keep_online_status: false,
            poll_message_webhook: false,
            incoming_call_webhook: false,
            edited_message_webhook: false,
            deleted_message_webhook: false,
            statuses_enabled: false,
            human_agent_tag: false,
        }
    }

    /// Settings of an instance created through the native API or at first
    /// start: every notification switch on, so a new user sees everything.
    pub fn switches_on() -> Self {
        Self {
            outgoing_webhook: true,
            outgoing_message_webhook: true,
            outgoing_api_message_webhook: true,
            state_webhook: true,
            incoming_webhook: true,
            poll_message_webhook: true,
            incoming_call_webhook: true,
            edited_message_webhook: true,
            deleted_message_webhook: true,
            ..Self::switches_off()
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self::switches_off()
    }
}

/// A change to some settings; `None` leaves a field as it is. For the two
/// optional strings, `Some(None)` (an empty string on the wire) clears them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct SettingsPatch {
    pub webhook_url: Option<Option<String>>,
    pub webhook_url_token: Option<Option<String>>,
    /// Unchecked: [`SettingsPatch::apply`] checks it against a [`DelayPolicy`].
    pub delay_send_messages_milliseconds: Option<i64>,
    pub mark_incoming_messages_readed: Option<bool>,
    pub mark_incoming_messages_readed_on_reply: Option<bool>,
    pub outgoing_webhook: Option<bool>,
    pub outgoing_message_webhook: Option<bool>,
    pub outgoing_api_message_webhook: Option<bool>,
    pub state_webhook: Option<bool>,
    pub incoming_webhook: Option<bool>,
    pub keep_online_status: Option<bool>,
    pub poll_message_webhook: Option<bool>,
    pub incoming_call_webhook: Option<bool>,
    pub edited_message_webhook: Option<bool>,
    pub deleted_message_webhook: Option<bool>,
    pub statuses_enabled: Option<bool>,
    pub human_agent_tag: Option<bool>,
}

impl SettingsPatch {
    /// True when the patch changes nothing (seed 003: "at least one
    /// parameter must be given").
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The settings with this patch applied, or the first rule it breaks.
    pub fn apply(&self, base: &Settings, policy: DelayPolicy) -> Result<Settings, Violation> {
        let mut next = base.clone();
        if let Some(url) = &self.webhook_url {
            next.webhook_url = match url.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(url) => {
                    check_http_url(url, FieldPath::key("webhookUrl"))?;
                    Some(url.to_owned())
                }
            };
        }
        if let Some(token) = &self.webhook_url_token {
            next.webhook_url_token = token.clone().filter(|t| !t.is_empty());
            if let Some(token) = &next.webhook_url_token
                && (token.len() > 1024 || token.chars().any(char::is_control))
            {
                return Err(Violation::new(
                    FieldPath::key("webhookUrlToken"),
                    "must be at most 1024 printable characters",
                ));
            }
        }
        if let Some(delay) = self.delay_send_messages_milliseconds {
            next.delay_send_messages_milliseconds = policy.check(delay)?;
        }
        let switches: [(&Option<bool>, &mut bool); 14] = [
            (&self.mark_incoming_messages_readed, &mut next.mark_incoming_messages_readed),
            (
                &self.mark_incoming_messages_readed_on_reply,
                &mut next.mark_incoming_messages_readed_on_reply,
            ),
            (&self.outgoing_webhook, &mut next.outgoing_webhook),
            (&self.outgoing_message_webhook, &mut next.outgoing_message_webhook),
            (&self.outgoing_api_message_webhook, &mut next.outgoing_api_message_webhook),
            (&self.state_webhook, &mut next.state_webhook),
            (&self.incoming_webhook, &mut next.incoming_webhook),
            (&self.keep_online_status, &mut next.keep_online_status),
            (&self.poll_message_webhook, &mut next.poll_message_webhook),
            (&self.incoming_call_webhook, &mut next.incoming_call_webhook),
            (&self.edited_message_webhook, &mut next.edited_message_webhook),
            (&self.deleted_message_webhook, &mut next.deleted_message_webhook),
            (&self.statuses_enabled, &mut next.statuses_enabled),
            (&self.human_agent_tag, &mut next.human_agent_tag),
        ];
        for (change, field) in switches {
            if let Some(value) = change {
                *field = *value;
            }
        }
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn green_api_defaults_have_every_switch_off_and_a_3000_ms_gap() {
        let s = Settings::switches_off();
        assert_eq!(s.delay_send_messages_milliseconds, 3000);
        assert!(!s.incoming_webhook && !s.outgoing_webhook && !s.state_webhook);
    }

    #[test]
    fn native_defaults_have_the_notification_switches_on() {
        let s = Settings::switches_on();
        assert!(s.incoming_webhook && s.outgoing_webhook && s.state_webhook);
        assert!(!s.mark_incoming_messages_readed);
    }

    #[test]
    fn vendor_dialects_refuse_a_gap_below_500_but_native_accepts_zero() {
        assert!(DelayPolicy::Vendor.check(499).is_err());
        assert_eq!(DelayPolicy::Vendor.check(500).unwrap(), 500);
        assert_eq!(DelayPolicy::Native.check(0).unwrap(), 0);
        assert!(DelayPolicy::Native.check(600_001).is_err());
        assert!(DelayPolicy::Native.check(-1).is_err());
    }

    #[test]
    fn a_patch_changes_only_what_it_names() {
        let patch = SettingsPatch {
            incoming_webhook: Some(true),
            delay_send_messages_milliseconds: Some(1000),
            ..Default::default()
        };
        let next = patch.apply(&Settings::switches_off(), DelayPolicy::Vendor).unwrap();
        assert!(next.incoming_webhook);
        assert!(!next.outgoing_webhook);
        assert_eq!(next.delay_send_messages_milliseconds, 1000);
    }

    #[test]
    fn an_empty_webhook_url_clears_it_and_a_bad_one_is_refused() {
        let base = Settings {
            webhook_url: Some("https://example.com/hook".into()),
            ..Settings::switches_off()
        };
        let cleared =
            SettingsPatch { webhook_url: Some(Some(String::new())), ..Default::default() };
        assert_eq!(cleared.apply(&base, DelayPolicy::Native).unwrap().webhook_url, None);
        let bad = SettingsPatch { webhook_url: Some(Some("ftp://x".into())), ..Default::default() };
        let err = bad.apply(&base, DelayPolicy::Native).unwrap_err();
        assert_eq!(err.field.to_string(), "webhookUrl");
    }
}
