//! Instances: one connected messenger account of one customer.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::ids::InstanceId;
use crate::settings::Settings;
use crate::webhook::WebhookSecret;

/// Which connector an instance talks through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectorKind {
    /// The built-in messenger emulator.
    Sandbox,
    /// Instagram Direct through Meta's Graph API.
    Instagram,
    /// WhatsApp through Meta's Cloud API.
    Whatsapp,
}

impl ConnectorKind {
    /// Every kind, in a stable order.
    pub const ALL: [ConnectorKind; 3] =
        [ConnectorKind::Sandbox, ConnectorKind::Instagram, ConnectorKind::Whatsapp];

    /// The lowercase name used on every wire and in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectorKind::Sandbox => "sandbox",
            ConnectorKind::Instagram => "instagram",
            ConnectorKind::Whatsapp => "whatsapp",
        }
    }

    /// The state a new instance of this kind starts in: a sandbox is ready at
    /// once; a Meta account is not until its connection is validated.
    pub fn initial_state(self) -> InstanceState {
        match self {
            ConnectorKind::Sandbox => InstanceState::Authorized,
            ConnectorKind::Instagram | ConnectorKind::Whatsapp => InstanceState::NotAuthorized,
        }
    }
}

impl fmt::Display for ConnectorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ConnectorKind {
    type Err = UnknownKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|k| k.as_str() == s).ok_or(UnknownKind)
    }
}

/// A connector name that chatgate does not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown connector kind; expected one of sandbox, instagram, whatsapp")]
pub struct UnknownKind;

/// An instance's state, named as GREEN-API names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum InstanceState {
    /// The connection is missing or was rejected by the platform.
    #[serde(rename = "notAuthorized")]
    NotAuthorized,
    /// Ready to send and receive.
    #[serde(rename = "authorized")]
    Authorized,
    /// Blocked by the platform or the operator.
    #[serde(rename = "blocked")]
    Blocked,
    /// Being brought up.
    #[serde(rename = "starting")]
    Starting,
}

impl InstanceState {
    /// Every state.
    pub const ALL: [InstanceState; 4] = [
        InstanceState::NotAuthorized,
        InstanceState::Authorized,
        InstanceState::Blocked,
        InstanceState::Starting,
    ];

    /// The name used on every wire and in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceState::NotAuthorized => "notAuthorized",
            InstanceState::Authorized => "authorized",
            InstanceState::Blocked => "blocked",
            InstanceState::Starting => "starting",
        }
    }

    /// Whether messages may leave in this state.
    pub fn can_send(self) -> bool {
        self == InstanceState::Authorized
    }
}

impl fmt::Display for InstanceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for InstanceState {
    type Err = UnknownState;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|k| k.as_str() == s).ok_or(UnknownState)
    }
}

/// A state name that does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown instance state")]
pub struct UnknownState;

/// Which vendor's shape the instance's webhooks take (the dialect that set
/// the webhook up).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    /// chatgate's own event JSON.
    Native,
    /// Getloo's Insta API webhooks (seed 000).
    Getloo,
    /// GREEN-API's notifications.
    Greenapi,
    /// imiconnect / Webex Connect callbacks (seed 002).
    Imiconnect,
}

impl WebhookFormat {
    /// Every format.
    pub const ALL: [WebhookFormat; 4] = [
        WebhookFormat::Native,
        WebhookFormat::Getloo,
        WebhookFormat::Greenapi,
        WebhookFormat::Imiconnect,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookFormat::Native => "native",
            WebhookFormat::Getloo => "getloo",
            WebhookFormat::Greenapi => "greenapi",
            WebhookFormat::Imiconnect => "imiconnect",
        }
    }
}

impl FromStr for WebhookFormat {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|f| f.as_str() == s).ok_or(())
    }
}

/// The instance's webhook signing secrets: the current one and, during a
/// rotation's grace period, the previous one (both sign every push).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSecrets {
    /// The secret in use.
    pub current: WebhookSecret,
    /// The secret it replaced, and until when it still signs.
    pub previous: Option<(WebhookSecret, Timestamp)>,
}

impl WebhookSecrets {
    /// The secrets that sign a push at `now`: the current one, and the
    /// previous one while its grace period lasts.
    pub fn signing_at(&self, now: Timestamp) -> Vec<&WebhookSecret> {
        let mut secrets = vec![&self.current];
        if let Some((previous, until)) = &self.previous
            && now < *until
        {
            secrets.push(previous);
        }
        secrets
    }
}

/// One connected messenger account of one customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// The 10-digit id.
    pub id: InstanceId,
    /// The connector it talks through.
    pub kind: ConnectorKind,
    /// A name for people (may be empty).
    pub name: String,
    /// Authorization state.
    pub state: InstanceState,
    /// Why the instance is in its state, when that is not obvious (e.g. the
    /// platform's reason for rejecting a token).
    pub state_reason: Option<String>,
    /// Whether the operator lets it work (Getloo's "paid" flag).
    pub active: bool,
    /// Its settings.
    pub settings: Settings,
    /// The shape of its webhooks.
    pub webhook_format: WebhookFormat,
    /// Its webhook signing secrets.
    pub webhook_secrets: WebhookSecrets,
    /// The messenger account it is connected to, once known.
    pub account: Option<Account>,
    /// The platform access token, sealed with the server key (see
    /// [`crate::vault`]); only a connector opens it, to call the platform.
    pub access_token: Option<SealedToken>,
    /// When it was created.
    pub created_at: Timestamp,
}

/// An access token sealed with the server key. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedToken(pub String);

impl std::fmt::Debug for SealedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealedToken(…)")
    }
}

/// The messenger account behind an instance (the Instagram professional
/// account, the WhatsApp number).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The platform's id for the account (Instagram user id; WhatsApp
    /// phone number id), the id Meta's webhooks name.
    pub id: String,
    /// Its public handle, when it has one (WhatsApp: the display phone
    /// number, digits only).
    pub username: Option<String>,
    /// The business account it belongs to, when the platform has one
    /// (the WhatsApp Business Account id).
    pub business_id: Option<String>,
}

impl Account {
    /// The account a sandbox instance plays: an Instagram-like 15-digit id
    /// made from the instance id, and the handle `sandbox_<instance id>`.
    pub fn sandbox(instance: InstanceId) -> Self {
        Self {
            id: format!("17841{instance}"),
            username: Some(format!("sandbox_{instance}")),
            business_id: None,
        }
    }
}

impl Instance {
    /// Whether its outbound queue may move now.
    pub fn can_send(&self) -> bool {
        self.active && self.state.can_send()
    }
}

/// Name limit for instances.
pub const NAME_MAX_CHARS: usize = 200;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_states_round_trip_through_their_names() {
        for kind in ConnectorKind::ALL {
            assert_eq!(kind.as_str().parse::<ConnectorKind>().unwrap(), kind);
        }
        for state in InstanceState::ALL {
            assert_eq!(state.as_str().parse::<InstanceState>().unwrap(), state);
        }
        assert!("telegram".parse::<ConnectorKind>().is_err());
    }

    #[test]
    fn only_a_sandbox_starts_authorized() {
        assert_eq!(ConnectorKind::Sandbox.initial_state(), InstanceState::Authorized);
        assert_eq!(ConnectorKind::Instagram.initial_state(), InstanceState::NotAuthorized);
    }
}
