//! What Meta posts to the gateway's webhook for WhatsApp (`object:
//! "whatsapp_business_account"`), parsed into chatgate events.
//!
//! Docs: <https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components>.
//!
//! ```json
//! {"object":"whatsapp_business_account","entry":[{"id":"<WABA id>","changes":[{"field":"messages",
//!  "value":{"messaging_product":"whatsapp",
//!   "metadata":{"display_phone_number":"15550001111","phone_number_id":"106540352242922"},
//!   "contacts":[{"profile":{"name":"Ann"},"wa_id":"79001234567"}],
//!   "messages":[{"from":"79001234567","id":"wamid.HBgL…","timestamp":"1767225600",
//!                "type":"text","text":{"body":"hi"}}],
//!   "statuses":[{"id":"wamid.…","status":"delivered","timestamp":"…","recipient_id":"…"}]}}]}]}
//! ```
//!
//! One WABA may have several numbers: each `changes[].value` becomes one
//! [`MetaEntry`] routed by `metadata.phone_number_id` (the instance's
//! account id), never by the WABA id. Media arrive as ids, not URLs: the
//! message keeps `whatsapp-media:<id>` as its URL ([`media_id_of`]) and the
//! ingest turns it into a download link of the gateway, which asks Meta's
//! media API only when the file is fetched — so answering Meta never waits
//! on another call to Meta.
//!
//! Like the Instagram parser, it is liberal: what it cannot read becomes a
//! raw event, never a failure of the whole body.

use chatgate_core::event::{
    EventPayload, InboundKind, InboundMedia, IncomingMessage, IncomingReaction, RawEvent,
    ReactionAction, ReferralInfo, Sender, SharedContact,
};
use chatgate_core::message::{Location, MessageStatus};
use serde_json::Value;

use crate::meta::webhook::{MetaEntry, MetaItem};

/// The `object` of WhatsApp deliveries.
pub const OBJECT: &str = "whatsapp_business_account";

/// The URL scheme a received file's media id is kept under until the
/// ingest gives it a download link.
pub const MEDIA_SCHEME: &str = "whatsapp-media:";

/// The media id in a URL made by this parser, if it is one.
pub fn media_id_of(url: &str) -> Option<&str> {
    url.strip_prefix(MEDIA_SCHEME).filter(|id| !id.is_empty())
}

/// The entries of a WhatsApp delivery: one per `changes[]` value, named by
/// its phone number id.
pub fn entries(root: &serde_json::Map<String, Value>) -> Vec<MetaEntry> {
    let mut out = Vec::new();
    for entry in list_of(root.get("entry")) {
        let changes = list_of(entry.get("changes"));
        if changes.is_empty() {
            out.push(unroutable(entry));
        }
        for change in changes {
            out.push(change_entry(change));
        }
    }
    out
}

fn unroutable(value: &Value) -> MetaEntry {
    MetaEntry {
        account_id: String::new(),
        items: vec![raw("entry", value)],
        occurred_ms: vec![None],
    }
}

fn change_entry(change: &Value) -> MetaEntry {
    let field = change.get("field").and_then(Value::as_str).unwrap_or_default();
    let value = change.get("value").unwrap_or(&Value::Null);
    let account_id =
        value.get("metadata").and_then(|m| string_of(m.get("phone_number_id"))).unwrap_or_default();
    let mut items = Vec::new();
    let mut occurred_ms = Vec::new();
    if field != "messages" {
        items.push(raw(if field.is_empty() { "changes" } else { field }, value));
        occurred_ms.push(None);
        return MetaEntry { account_id, items, occurred_ms };
    }
    let contacts = list_of(value.get("contacts"));
    for message in list_of(value.get("messages")) {
        let at = seconds_of(message.get("timestamp"));
        items.push(incoming(message, contacts));
        occurred_ms.push(at);
    }
    for status in list_of(value.get("statuses")) {
        let at = seconds_of(status.get("timestamp"));
        items.push(status_item(status));
        occurred_ms.push(at);
    }
    for error in list_of(value.get("errors")) {
        items.push(raw("errors", error));
        occurred_ms.push(None);
    }
    MetaEntry { account_id, items, occurred_ms }
}

/// The sender, with the profile name the delivery's `contacts[]` gives.
fn sender(from: String, contacts: &[Value]) -> Sender {
    let name = contacts
        .iter()
        .find(|c| string_of(c.get("wa_id")).as_deref() == Some(from.as_str()))
        .or_else(|| (contacts.len() == 1).then(|| &contacts[0]))
        .and_then(|c| c.get("profile"))
        .and_then(|p| string_of(p.get("name")));
    Sender { id: from, username: None, name }
}

fn incoming(message: &Value, contacts: &[Value]) -> MetaItem {
    let (Some(id), Some(from)) = (string_of(message.get("id")), string_of(message.get("from")))
    else {
        return raw("messages", message);
    };
    let kind = message.get("type").and_then(Value::as_str).unwrap_or_default();
    let from = sender(from, contacts);
    let reply_to = message.get("context").and_then(|c| string_of(c.get("id")));
    let mut out = IncomingMessage {
        message_id: id,
        from,
        kind: InboundKind::Text,
        text: None,
        media: None,
        reply_to,
        quick_reply_payload: None,
        location: None,
        contact: None,
        story: None,
        referral: message.get("referral").filter(|r| r.is_object()).map(referral_info),
    };
    let body = message.get(kind).unwrap_or(&Value::Null);
    match kind {
        "text" => out.text = string_of(body.get("body")),
        "image" | "video" | "audio" | "document" | "sticker" => {
            out.kind = match kind {
                "image" | "sticker" => InboundKind::Image,
                "video" => InboundKind::Video,
                "audio" => InboundKind::Audio,
                _ => InboundKind::File,
            };
            out.text = string_of(body.get("caption"));
            out.media = string_of(body.get("id")).map(|media_id| InboundMedia {
                url: format!("{MEDIA_SCHEME}{media_id}"),
                mime_type: string_of(body.get("mime_type")),
                file_name: string_of(body.get("filename")),
            });
            if out.media.is_none() {
                return raw(kind, message);
            }
        }
        "location" => {
            let (Some(latitude), Some(longitude)) = (
                body.get("latitude").and_then(Value::as_f64),
                body.get("longitude").and_then(Value::as_f64),
            ) else {
                return raw(kind, message);
            };
            out.kind = InboundKind::Location;
            out.location = Some(Location {
                latitude,
                longitude,
                name: string_of(body.get("name")),
                address: string_of(body.get("address")),
            });
        }
        "contacts" => {
            let Some(card) = list_of(message.get("contacts")).first() else {
                return raw(kind, message);
            };
            out.kind = InboundKind::Contact;
            out.contact = Some(shared_contact(card));
        }
        "button" => {
            // A quick-reply button of a template.
            out.text = string_of(body.get("text"));
            out.quick_reply_payload =
                string_of(body.get("payload")).or_else(|| string_of(body.get("text")));
        }
        "interactive" => {
            let reply = body.get("button_reply").or_else(|| body.get("list_reply"));
            let Some(reply) = reply.filter(|r| r.is_object()) else {
                return raw(kind, message);
            };
            out.text = string_of(reply.get("title"));
            out.quick_reply_payload = string_of(reply.get("id"));
        }
        "reaction" => {
            let Some(target) = string_of(body.get("message_id")) else {
                return raw(kind, message);
            };
            let emoji = string_of(body.get("emoji"));
            let action =
                if emoji.is_some() { ReactionAction::React } else { ReactionAction::Unreact };
            return MetaItem::Event(EventPayload::IncomingReaction(IncomingReaction {
                message_id: target,
                from: out.from,
                reaction: emoji,
                action,
            }));
        }
        _ => {
            // `unsupported`, `system`, `order`, …: kept as a message the
            // platform cannot show, so the customer is not lost.
            out.kind = InboundKind::Unsupported;
            out.text = string_of(body.get("body"));
        }
    }
    MetaItem::Event(EventPayload::IncomingMessage(out))
}

/// A shared contact as a vCard, with the name WhatsApp formatted.
fn shared_contact(card: &Value) -> SharedContact {
    let name = card.get("name");
    let display_name = name
        .and_then(|n| string_of(n.get("formatted_name")))
        .or_else(|| {
            let first = name.and_then(|n| string_of(n.get("first_name")));
            let last = name.and_then(|n| string_of(n.get("last_name")));
            let joined = [first, last].into_iter().flatten().collect::<Vec<_>>().join(" ");
            (!joined.is_empty()).then_some(joined)
        })
        .unwrap_or_default();
    let mut vcard = format!("BEGIN:VCARD\nVERSION:3.0\nFN:{}\n", escape(&display_name));
    let part = |key: &str| name.and_then(|n| string_of(n.get(key))).unwrap_or_default();
    vcard.push_str(&format!(
        "N:{};{};{};;\n",
        escape(&part("last_name")),
        escape(&part("first_name")),
        escape(&part("middle_name"))
    ));
    if let Some(company) = card.get("org").and_then(|o| string_of(o.get("company"))) {
        vcard.push_str(&format!("ORG:{}\n", escape(&company)));
    }
    for phone in list_of(card.get("phones")) {
        let Some(number) = string_of(phone.get("phone")) else { continue };
        match string_of(phone.get("wa_id")) {
            Some(wa_id) => {
                vcard.push_str(&format!("TEL;waid={}:{}\n", escape(&wa_id), escape(&number)));
            }
            None => vcard.push_str(&format!("TEL:{}\n", escape(&number))),
        }
    }
    for email in list_of(card.get("emails")) {
        if let Some(address) = string_of(email.get("email")) {
            vcard.push_str(&format!("EMAIL:{}\n", escape(&address)));
        }
    }
    vcard.push_str("END:VCARD");
    SharedContact { display_name, vcard }
}

/// Escapes a vCard value (RFC 6350 §3.4).
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('\n', "\\n").replace(',', "\\,").replace(';', "\\;")
}

fn status_item(status: &Value) -> MetaItem {
    let Some(message_id) = string_of(status.get("id")) else {
        return raw("statuses", status);
    };
    let state = match status.get("status").and_then(Value::as_str) {
        Some("sent") => MessageStatus::Sent,
        Some("delivered") => MessageStatus::Delivered,
        Some("read") => MessageStatus::Read,
        Some("failed") => MessageStatus::Failed,
        _ => return raw("statuses", status),
    };
    let errors: Vec<String> = list_of(status.get("errors")).iter().map(error_words).collect();
    MetaItem::Status {
        message_id,
        status: state,
        recipient: string_of(status.get("recipient_id")),
        error: (!errors.is_empty()).then(|| errors.join("; ")),
    }
}

/// `131051: Unsupported message type — Message type is not currently
/// supported`.
fn error_words(error: &Value) -> String {
    let code = string_of(error.get("code"));
    let title = string_of(error.get("title")).or_else(|| string_of(error.get("message")));
    let details = error.get("error_data").and_then(|d| string_of(d.get("details")));
    let mut words = match (code, title) {
        (Some(code), Some(title)) => format!("{code}: {title}"),
        (Some(code), None) => code,
        (None, Some(title)) => title,
        (None, None) => "failed".to_owned(),
    };
    if let Some(details) = details.filter(|d| !words.contains(d.as_str())) {
        words.push_str(" — ");
        words.push_str(&details);
    }
    words
}

fn referral_info(referral: &Value) -> ReferralInfo {
    ReferralInfo {
        reference: string_of(referral.get("source_url")),
        source: string_of(referral.get("source_type")),
        kind: string_of(referral.get("media_type")),
        ad_id: string_of(referral.get("source_id")),
        product_id: None,
    }
}

fn raw(kind: &str, raw: &Value) -> MetaItem {
    MetaItem::Event(EventPayload::Raw(RawEvent { kind: kind.to_owned(), raw: raw.clone() }))
}

fn list_of(value: Option<&Value>) -> &[Value] {
    match value {
        None | Some(Value::Null) => &[],
        Some(Value::Array(items)) => items,
        Some(one) => std::slice::from_ref(one),
    }
}

fn string_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A Cloud API timestamp (seconds, as a string) in milliseconds.
fn seconds_of(value: Option<&Value>) -> Option<u64> {
    let seconds: u64 = match value? {
        Value::Number(n) => n.as_u64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    // A value already in milliseconds is kept as it is.
    Some(if seconds < 100_000_000_000 { seconds.saturating_mul(1000) } else { seconds })
}
