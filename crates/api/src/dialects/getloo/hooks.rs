//! Events as Getloo webhooks (seed 000): `incomingMessage`,
//! `incomingComment` and the delivery reports `whatsappSuccess`,
//! `reportActionReceived`, `reportActionExecuted`, `errorActionFail`.

use chatgate_core::event::{
    EventPayload, InboundKind, IncomingComment, IncomingMessage, MessageStatusChange, Sender,
};
use chatgate_core::hooks::HookFormat;
use chatgate_core::{Event, Instance, MessageStatus, Recipient, Timestamp};
use serde_json::{Value, json};
use time::UtcOffset;
use time::format_description::FormatItem;
use time::macros::format_description;

use super::convert::{event_queue_id, message_queue_id};

/// `2022-12-07T12:29:21+03:00`, the seed's `createdAt`.
const CREATED_AT: &[FormatItem<'static>] = format_description!(
    "[year]-[month]-[day]T[hour]:[minute]:[second][offset_hour sign:mandatory]:[offset_minute]"
);

/// Renders events as Getloo webhooks.
#[derive(Debug, Clone, Copy)]
pub struct GetlooHooks {
    offset: UtcOffset,
}

impl GetlooHooks {
    /// Timestamps are written with this offset.
    pub fn new(offset: UtcOffset) -> Self {
        Self { offset }
    }

    /// Parses an offset like `+03:00`.
    pub fn parse_offset(text: &str) -> Option<UtcOffset> {
        UtcOffset::parse(text, format_description!("[offset_hour sign:mandatory]:[offset_minute]"))
            .ok()
    }

    fn created_at(&self, at: Timestamp) -> String {
        at.to_datetime().to_offset(self.offset).format(CREATED_AT).unwrap_or_default()
    }

    /// The webhook body for an event, or `None` when Getloo has no webhook
    /// for it.
    pub fn body(&self, event: &Event) -> Option<Value> {
        let created_at = self.created_at(event.at);
        match &event.payload {
            EventPayload::IncomingMessage(m) => Some(incoming_message(event, m, created_at)),
            EventPayload::IncomingComment(c) => Some(incoming_comment(event, c, created_at)),
            EventPayload::MessageStatus(s) => delivery_report(s, created_at),
            _ => None,
        }
    }
}

impl HookFormat for GetlooHooks {
    fn render(&self, _instance: &Instance, event: &Event) -> Option<Vec<u8>> {
        self.body(event).and_then(|body| serde_json::to_vec(&body).ok())
    }
}

/// The seed's fields are strings: what is unknown is an empty string, not
/// `null`.
fn text(value: Option<&String>) -> &str {
    value.map_or("", String::as_str)
}

fn device(from: &Sender) -> Value {
    json!({
        "user_id": from.id,
        "username": text(from.username.as_ref()),
        "profileName": text(from.name.as_ref()),
    })
}

fn incoming_message(event: &Event, m: &IncomingMessage, created_at: String) -> Value {
    let IncomingMessage {
        message_id: _,
        from,
        kind,
        text,
        media,
        reply_to: _,
        quick_reply_payload: _,
        location,
        contact,
        story: _,
        referral: _,
    } = m;
    // Getloo has no location or contact webhook: they arrive as text.
    let shared = location
        .as_ref()
        .map(|l| {
            let place = [l.name.as_deref(), l.address.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(", ");
            format!("{place} ({}, {})", l.latitude, l.longitude).trim().to_owned()
        })
        .or_else(|| contact.as_ref().map(|c| c.vcard.clone()));
    let (kind, content) = match (kind, media) {
        (InboundKind::Text, _) | (_, None) => {
            ("text", json!({"body": text.clone().or(shared).unwrap_or_default()}))
        }
        (_, Some(media)) => {
            let mut content = json!({
                "mimeType": media.mime_type.clone().unwrap_or_else(|| default_mime(*kind).to_owned()),
                "filename": media.file_name.clone().unwrap_or_else(|| file_name(&media.url)),
                "href": media.url,
            });
            if let Some(caption) = text.as_ref().filter(|t| !t.is_empty()) {
                content["body"] = json!(caption);
            }
            // Seed 000 shows every file (its video too) as "image".
            ("image", content)
        }
    };
    json!({
        "event": {
            "name": "incomingMessage",
            "properties": {"queueId": event_queue_id(&event.id), "type": kind, "content": content},
            "createdAt": created_at,
        },
        "device": device(from),
    })
}

fn incoming_comment(event: &Event, c: &IncomingComment, created_at: String) -> Value {
    let IncomingComment { comment_id, from, text, media_id: _, parent_id: _ } = c;
    let mut device = device(from);
    device["comment_id"] = json!(comment_id);
    json!({
        "event": {
            "name": "incomingComment",
            "properties": {
                "queueId": event_queue_id(&event.id),
                "type": "comment",
                "content": {"body": text},
            },
            "createdAt": created_at,
        },
        "device": device,
    })
}

fn delivery_report(s: &MessageStatusChange, created_at: String) -> Option<Value> {
    let MessageStatusChange {
        message_id,
        provider_message_id: _,
        to,
        contact,
        status,
        failure: _,
        possible_duplicate: _,
    } = s;
    let (name, status) = match status {
        MessageStatus::Sent => ("whatsappSuccess", "pending"),
        MessageStatus::Delivered => ("reportActionReceived", "delivered"),
        MessageStatus::Read => ("reportActionExecuted", "read"),
        MessageStatus::Failed | MessageStatus::Expired => ("errorActionFail", "fail"),
        MessageStatus::Queued | MessageStatus::Sending => return None,
    };
    let recipient = match to {
        Recipient::User(id) | Recipient::Comment(id) => id.clone(),
    };
    Some(json!({
        "event": {
            "name": name,
            "properties": {"queueId": message_queue_id(message_id), "status": status},
            "createdAt": created_at,
        },
        "device": {
            "mdn": recipient,
            "profileName": text(contact.as_ref().and_then(|c| c.name.as_ref())),
            "user_id": recipient,
            "username": text(contact.as_ref().and_then(|c| c.username.as_ref())),
        },
    }))
}

fn default_mime(kind: InboundKind) -> &'static str {
    match kind {
        InboundKind::Image => "image/jpeg",
        InboundKind::Video => "video/mp4",
        InboundKind::Audio => "audio/mp4",
        InboundKind::File
        | InboundKind::Text
        | InboundKind::Location
        | InboundKind::Contact
        | InboundKind::Share
        | InboundKind::StoryMention
        | InboundKind::Unsupported => "application/octet-stream",
    }
}

/// The last path segment of a URL, percent-decoded.
fn file_name(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.path_segments().and_then(|mut s| s.next_back().map(str::to_owned)))
        .map(|name| percent_decode(&name))
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "file".to_owned())
}

fn percent_decode(s: &str) -> String {
    form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_owned())
}
