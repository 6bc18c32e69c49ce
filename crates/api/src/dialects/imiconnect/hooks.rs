//! The status callback posted to a message's `callbackUrl` at each status
//! change:
//!
//! ```json
//! {"messageId": "…", "correlationId": "…", "callbackData": "…",
//!  "channel": "instagram", "from": "<account id>", "to": "<igsid>",
//!  "status": "DELIVERED", "statusTime": "2026-11-21T10:00:00.000Z",
//!  "providerMessageId": "…", "reason": "…"}
//! ```
//!
//! `status` is `SENT`, `DELIVERED`, `READ`, `FAILED` or `EXPIRED`; `reason`
//! comes with the last two; `correlationId` and `callbackData` when the
//! message had them; `from` is the instance's account id. Callbacks carry
//! Standard Webhooks headers signed with the key `whsec_<serviceSecret>`
//! (the instance's service secret, not its webhook secret: a callback URL
//! is the caller's, not the instance owner's) and `webhook-id: cb_<n>`, the
//! same on every retry of one callback.

use chatgate_core::event::{Event, EventPayload};
use chatgate_core::hooks::CallbackFormat;
use chatgate_core::message::Callback;
use chatgate_core::{Instance, Recipient};
use serde_json::json;

use super::routes::status_name;

/// Renders status callbacks.
#[derive(Debug, Default, Clone, Copy)]
pub struct ImiconnectCallbacks;

impl CallbackFormat for ImiconnectCallbacks {
    fn render(&self, instance: &Instance, event: &Event, callback: &Callback) -> Option<Vec<u8>> {
        let EventPayload::MessageStatus(change) = &event.payload else { return None };
        let to = match &change.to {
            Recipient::User(id) | Recipient::Comment(id) => id.clone(),
        };
        let mut body = json!({
            "messageId": change.message_id.to_string(),
            "channel": instance.kind.as_str(),
            "from": instance.account.as_ref().map(|a| a.id.clone()),
            "to": to,
            "status": status_name(change.status),
            "statusTime": event.at.to_rfc3339(),
        });
        if let Some(correlation_id) = &callback.correlation_id {
            body["correlationId"] = json!(correlation_id);
        }
        if let Some(data) = &callback.data {
            body["callbackData"] = json!(data);
        }
        if let Some(provider) = &change.provider_message_id {
            body["providerMessageId"] = json!(provider);
        }
        if let Some(reason) = &change.failure {
            body["reason"] = json!(reason);
        }
        serde_json::to_vec(&body).ok()
    }
}
