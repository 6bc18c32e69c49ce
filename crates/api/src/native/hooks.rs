//! The native event JSON: the body of every native webhook push and of
//! every pulled notification.
//!
//! ```json
//! {"id": "<event id = webhook-id>", "instanceId": 1234567890, "seq": 17,
//!  "type": "incomingMessage", "timestamp": "2026-11-21T10:00:00.000Z",
//!  "data": {…}}
//! ```

use chatgate_core::event::{
    EventPayload, InboundMedia, IncomingComment, IncomingMessage, IncomingReaction, IncomingStatus,
    MessageStatusChange, OutgoingApiMessage, ReactionAction, Sender, StateChange, WebhookDisabled,
};
use chatgate_core::event::{
    MessageDeleted, MessageEdited, OutgoingMessage, Postback, RawEvent, Referral, ReferralInfo,
};
use chatgate_core::hooks::HookFormat;
use chatgate_core::{Event, Instance, Recipient};
use serde_json::{Value, json};

use super::wire::{EventOut, MessageOut};

/// Renders events as native webhooks.
#[derive(Debug, Clone, Copy, Default)]
pub struct NativeHooks;

impl HookFormat for NativeHooks {
    fn render(&self, _instance: &Instance, event: &Event) -> Option<Vec<u8>> {
        serde_json::to_vec(&event_json(event)).ok()
    }
}

/// An event as native JSON.
pub fn event_json(event: &Event) -> Value {
    serde_json::to_value(event_out(event)).unwrap_or_default()
}

/// An event as the native API answers it.
pub fn event_out(event: &Event) -> EventOut {
    EventOut {
        id: event.id.to_string(),
        instance_id: event.instance_id.get(),
        seq: event.seq,
        kind: event.payload.type_name(),
        timestamp: event.at.to_rfc3339(),
        data: data(&event.payload),
    }
}

fn sender(s: &Sender) -> Value {
    let mut out = json!({"id": s.id});
    if let Some(username) = &s.username {
        out["username"] = json!(username);
    }
    if let Some(name) = &s.name {
        out["name"] = json!(name);
    }
    out
}

fn media(m: &Option<InboundMedia>) -> Value {
    match m {
        None => Value::Null,
        Some(m) => json!({"url": m.url, "mimeType": m.mime_type, "fileName": m.file_name}),
    }
}

fn referral_json(r: &ReferralInfo) -> Value {
    let ReferralInfo { reference, source, kind, ad_id, product_id } = r;
    json!({"ref": reference, "source": source, "type": kind, "adId": ad_id, "productId": product_id})
}

fn recipient(r: &Recipient) -> Value {
    match r {
        Recipient::User(id) => json!({"id": id}),
        Recipient::Comment(id) => json!({"commentId": id}),
    }
}

fn data(payload: &EventPayload) -> Value {
    match payload {
        EventPayload::IncomingMessage(IncomingMessage {
            message_id,
            from,
            kind,
            text,
            media: m,
            reply_to,
            quick_reply_payload,
            location,
            contact,
            story,
            referral,
        }) => json!({
            "story": story.as_ref().map(|s| json!({"id": s.id, "url": s.url})),
            "referral": referral.as_ref().map(referral_json),
            "location": location.as_ref().map(|l| json!({"latitude": l.latitude, "longitude": l.longitude, "name": l.name, "address": l.address})),
            "contact": contact.as_ref().map(|c| json!({"displayName": c.display_name, "vcard": c.vcard})),
            "messageId": message_id,
            "from": sender(from),
            "kind": kind.as_str(),
            "text": text,
            "media": media(m),
            "replyTo": reply_to,
            "quickReplyPayload": quick_reply_payload,
        }),
        EventPayload::IncomingComment(IncomingComment {
            comment_id,
            from,
            text,
            media_id,
            parent_id,
        }) => {
            json!({
                "commentId": comment_id,
                "from": sender(from),
                "text": text,
                "mediaId": media_id,
                "parentId": parent_id,
            })
        }
        EventPayload::IncomingReaction(IncomingReaction { message_id, from, reaction, action }) => {
            json!({
                "messageId": message_id,
                "from": sender(from),
                "reaction": reaction,
                "action": match action {
                    ReactionAction::React => "react",
                    ReactionAction::Unreact => "unreact",
                },
            })
        }
        EventPayload::IncomingStatus(IncomingStatus { status_id, from, kind, text, media: m }) => {
            json!({
                "statusId": status_id,
                "from": sender(from),
                "kind": kind.as_str(),
                "text": text,
                "media": media(m),
            })
        }
        EventPayload::OutgoingApiMessage(OutgoingApiMessage {
            message_id,
            provider_message_id,
            to,
            contact,
            content,
        }) => {
            // The message as GET …/messages/{id} shows its content.
            let shown = MessageOut::content_json(content);
            json!({
                "messageId": message_id.to_string(),
                "providerMessageId": provider_message_id,
                "to": recipient(to),
                "contact": contact.as_ref().map(sender),
                "content": shown,
            })
        }
        EventPayload::MessageStatus(MessageStatusChange {
            message_id,
            provider_message_id,
            to,
            contact,
            status,
            failure,
            possible_duplicate,
        }) => json!({
            "messageId": message_id.to_string(),
            "providerMessageId": provider_message_id,
            "possibleDuplicate": possible_duplicate,
            "to": recipient(to),
            "contact": contact.as_ref().map(sender),
            "status": status.as_str(),
            "failure": failure,
        }),
        EventPayload::StateChanged(StateChange { state, reason }) => {
            json!({"state": state.as_str(), "reason": reason})
        }
        EventPayload::WebhookDisabled(WebhookDisabled { url, reason }) => {
            json!({"url": url, "reason": reason})
        }
        EventPayload::OutgoingMessage(OutgoingMessage { message_id, to, kind, text, media: m }) => {
            json!({
                "messageId": message_id,
                "to": sender(to),
                "kind": kind.as_str(),
                "text": text,
                "media": media(m),
            })
        }
        EventPayload::MessageDeleted(MessageDeleted { message_id, from }) => {
            json!({"messageId": message_id, "from": sender(from)})
        }
        EventPayload::MessageEdited(MessageEdited { message_id, from, text, edits }) => {
            json!({"messageId": message_id, "from": sender(from), "text": text, "edits": edits})
        }
        EventPayload::Postback(Postback { message_id, from, title, payload }) => {
            json!({"messageId": message_id, "from": sender(from), "title": title, "payload": payload})
        }
        EventPayload::Referral(Referral { from, referral }) => {
            json!({"from": sender(from), "referral": referral_json(referral)})
        }
        EventPayload::Raw(RawEvent { kind, raw }) => json!({"kind": kind, "raw": raw}),
    }
}
