//! What Meta posts to the gateway's webhook for Instagram (and Messenger,
//! which shares the envelope), parsed into chatgate events, and the
//! `X-Hub-Signature-256` check. WhatsApp's deliveries (`object:
//! "whatsapp_business_account"`) are read by
//! [`super::whatsapp::inbound`] into the same [`MetaWebhook`].
//!
//! The envelope is `{"object", "entry": [{"id", "time", "messaging": [...],
//! "standby": [...], "changes": [{"field", "value"}]}]}`; up to 1000 updates
//! may come in one body. [`parse`] is liberal: any field may be missing or of
//! an unexpected type. Only a body that is not a JSON object is an error; an
//! event it cannot make sense of becomes a [`RawEvent`] (kept as it came),
//! never a failure of the whole body.
//!
//! [`verify_signature`] must run on the raw body bytes, before parsing.

use chatgate_core::event::{
    EventPayload, InboundKind, InboundMedia, IncomingComment, IncomingMessage, IncomingReaction,
    MessageDeleted, MessageEdited, OutgoingMessage, Postback, RawEvent, ReactionAction, Referral,
    ReferralInfo, Sender, StoryRef,
};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;

/// A parsed webhook body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaWebhook {
    /// `object` as given: `instagram`, `page`, … (empty when missing).
    pub object: String,
    /// Every `entry[]`, in order.
    pub entries: Vec<MetaEntry>,
}

/// One `entry[]`: the updates of one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaEntry {
    /// `entry.id`: the Instagram account (or Page) the updates are for;
    /// empty when missing, so the entry matches no instance.
    pub account_id: String,
    /// Its updates, in order: `messaging[]`, then `standby[]`, then comments
    /// and other changes.
    pub items: Vec<MetaItem>,
    /// When each item happened, in ms since the epoch, aligned with
    /// `items`: the messaging event's `timestamp` (seconds or ms), else the
    /// entry's `time`; `None` when Meta gave neither.
    pub occurred_ms: Vec<Option<u64>>,
}

/// One update of an entry.
// Built once per update and matched at once: a box would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetaItem {
    /// Journal this event for the account's instance.
    Event(EventPayload),
    /// The customer read the chat: the account's message with this mid
    /// and those before it (→ `read` status of the outbound messages).
    Read {
        /// The `mid` of the newest message read, when Meta names it (it may
        /// be one typed in the Instagram app, unknown to the gateway).
        message_id: Option<String>,
        /// Who read: the customer.
        reader: Option<String>,
        /// Everything sent before this time (ms) is read (Messenger's
        /// `watermark`, when given).
        watermark_ms: Option<u64>,
    },
    /// WhatsApp reports what became of one of the account's messages
    /// (→ the status of the outbound message with this wamid).
    Status {
        /// The wamid of the message.
        message_id: String,
        /// `Sent`, `Delivered`, `Read` or `Failed`.
        status: chatgate_core::message::MessageStatus,
        /// Whom it was sent to.
        recipient: Option<String>,
        /// Meta's words for a failure (`code: title — details`).
        error: Option<String>,
    },
}

/// Why a webhook body could not be parsed at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The body is not JSON.
    #[error("the webhook body is not JSON: {0}")]
    NotJson(String),
    /// The body is JSON but not an object.
    #[error(
        "the webhook body is JSON but not an object (Meta sends {{\"object\": …, \"entry\": […]}})"
    )]
    NotAnObject,
}

/// Why a webhook's signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `X-Hub-Signature-256` header (or an empty one).
    #[error("the request has no X-Hub-Signature-256 header")]
    Missing,
    /// The header is not `sha256=` and 64 hex digits.
    #[error("the X-Hub-Signature-256 header is not \"sha256=\" followed by 64 hex digits")]
    Malformed,
    /// The signature is not the body's (wrong app secret, or a changed body).
    #[error("the X-Hub-Signature-256 signature does not match the body")]
    Mismatch,
}

type HmacSha256 = Hmac<Sha256>;

/// The HMAC of `body` under `app_secret`.
fn mac(app_secret: &str, body: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(app_secret.as_bytes())
        .expect("HMAC accepts a key of any length");
    mac.update(body);
    mac
}

/// `X-Hub-Signature-256: sha256=<lowercase hex HMAC-SHA256(app secret, raw
/// body)>`, constant-time.
///
/// `body` must be the raw bytes received, never a re-serialised body. The
/// prefix is matched case-insensitively and the hex digits in either case.
/// When no app secret is configured, the caller decides not to check.
///
/// # Errors
///
/// [`SignatureError::Missing`] without a header (or an empty one),
/// [`SignatureError::Malformed`] when it is not `sha256=` and 64 hex digits,
/// [`SignatureError::Mismatch`] when it is not the body's signature.
pub fn verify_signature(
    app_secret: &str,
    body: &[u8],
    header: Option<&str>,
) -> Result<(), SignatureError> {
    let header = header.map(str::trim).filter(|h| !h.is_empty()).ok_or(SignatureError::Missing)?;
    let (scheme, digest) = header.split_once('=').ok_or(SignatureError::Malformed)?;
    if !scheme.trim().eq_ignore_ascii_case("sha256") {
        return Err(SignatureError::Malformed);
    }
    let tag = hex::decode(digest.trim()).map_err(|_| SignatureError::Malformed)?;
    if tag.len() != 32 {
        return Err(SignatureError::Malformed);
    }
    mac(app_secret, body).verify_slice(&tag).map_err(|_| SignatureError::Mismatch)
}

/// For tests and fake senders: the header value for a body.
pub fn sign(app_secret: &str, body: &[u8]) -> String {
    format!("sha256={}", hex::encode(mac(app_secret, body).finalize().into_bytes()))
}

/// Parses a webhook body.
///
/// Every `entry[]` is kept, in order, even one with nothing chatgate can use.
/// Within an entry: every `messaging[]` and `standby[]` event, then comments
/// and other changes (`changes[]`, or `field`/`value` flat on the entry).
/// The account's own comments are skipped; an event that is malformed or of a
/// kind chatgate does not know becomes a [`RawEvent`].
///
/// # Errors
///
/// The body is not JSON, or is JSON but not an object.
pub fn parse(body: &[u8]) -> Result<MetaWebhook, ParseError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| ParseError::NotJson(e.to_string()))?;
    let Value::Object(root) = value else {
        return Err(ParseError::NotAnObject);
    };
    let object = string_of(root.get("object")).unwrap_or_default();
    if object == super::whatsapp::inbound::OBJECT {
        let entries = super::whatsapp::inbound::entries(&root);
        return Ok(MetaWebhook { object, entries });
    }
    let entries = list_of(root.get("entry")).iter().map(parse_entry).collect();
    Ok(MetaWebhook { object, entries })
}

/// The keys of a messaging event that decide its kind, in order of
/// precedence.
const EVENT_KINDS: [&str; 6] =
    ["message", "message_edit", "reaction", "postback", "read", "referral"];

/// The keys of a messaging event that are the envelope, not its kind.
const ENVELOPE_KEYS: [&str; 3] = ["sender", "recipient", "timestamp"];

/// A timestamp below this is in seconds (this many ms is March 1973).
const MILLIS_THRESHOLD: u64 = 100_000_000_000;

fn parse_entry(entry: &Value) -> MetaEntry {
    let Value::Object(map) = entry else {
        return MetaEntry {
            account_id: String::new(),
            items: vec![raw("entry", entry)],
            occurred_ms: vec![None],
        };
    };
    let account_id = string_of(map.get("id")).unwrap_or_default();
    let entry_time = millis_of(map.get("time"));
    let mut items = Vec::new();
    let mut occurred_ms = Vec::new();
    for list in ["messaging", "standby"] {
        for event in list_of(map.get(list)) {
            messaging_event(&account_id, list, event, &mut items);
            let at = millis_of(event.get("timestamp")).or(entry_time);
            occurred_ms.resize(items.len(), at);
        }
    }
    for change in list_of(map.get("changes")) {
        match change {
            Value::Object(c) => {
                push_change(&account_id, c.get("field"), c.get("value"), change, &mut items);
            }
            _ => items.push(raw("changes", change)),
        }
    }
    if map.contains_key("field") || map.contains_key("value") {
        push_change(&account_id, map.get("field"), map.get("value"), entry, &mut items);
    }
    occurred_ms.resize(items.len(), entry_time);
    MetaEntry { account_id, items, occurred_ms }
}

/// A comment or other change; `whole` is what to keep when it has no field.
fn push_change(
    account_id: &str,
    field: Option<&Value>,
    value: Option<&Value>,
    whole: &Value,
    items: &mut Vec<MetaItem>,
) {
    let Some(field) = field.and_then(Value::as_str).filter(|f| !f.is_empty()) else {
        items.push(raw("changes", whole));
        return;
    };
    let value = value.unwrap_or(&Value::Null);
    if field != "comments" && field != "live_comments" {
        items.push(raw(field, value));
        return;
    }
    let from_id = value.get("from").and_then(|from| string_of(from.get("id")));
    if !account_id.is_empty() && from_id.as_deref() == Some(account_id) {
        // The account's own reply: not a customer's comment.
        return;
    }
    match comment(value) {
        Some(comment) => items.push(MetaItem::Event(EventPayload::IncomingComment(comment))),
        None => items.push(raw(field, value)),
    }
}

fn comment(value: &Value) -> Option<IncomingComment> {
    let from = value.get("from")?;
    Some(IncomingComment {
        comment_id: string_of(value.get("id"))?,
        from: Sender {
            id: string_of(from.get("id"))?,
            username: string_of(from.get("username")),
            name: None,
        },
        text: string_of(value.get("text")).unwrap_or_default(),
        media_id: value.get("media").and_then(|media| string_of(media.get("id"))),
        parent_id: string_of(value.get("parent_id")),
    })
}

/// The envelope of one messaging event.
struct Envelope<'a> {
    account_id: &'a str,
    sender: Option<String>,
    recipient: Option<String>,
    timestamp_ms: Option<u64>,
}

impl Envelope<'_> {
    fn customer(&self) -> Option<Sender> {
        self.sender.clone().map(person)
    }

    /// Whether the account itself sent the event.
    fn sent_by_account(&self) -> bool {
        !self.account_id.is_empty() && self.sender.as_deref() == Some(self.account_id)
    }
}

fn messaging_event(account_id: &str, list: &str, event: &Value, items: &mut Vec<MetaItem>) {
    let Value::Object(map) = event else {
        items.push(raw(list, event));
        return;
    };
    let present = |key: &&str| map.get(*key).is_some_and(|v| !v.is_null());
    let Some(kind) = EVENT_KINDS.iter().copied().find(present) else {
        let kind =
            map.keys().map(String::as_str).find(|key| !ENVELOPE_KEYS.contains(key)).unwrap_or(list);
        items.push(raw(kind, event));
        return;
    };
    let envelope = Envelope {
        account_id,
        sender: map.get("sender").and_then(|s| string_of(s.get("id"))),
        recipient: map.get("recipient").and_then(|r| string_of(r.get("id"))),
        timestamp_ms: millis_of(map.get("timestamp")),
    };
    let body = map.get(kind).unwrap_or(&Value::Null);
    let parsed = match kind {
        "message" => message(&envelope, body),
        "message_edit" => edit(&envelope, body).map(event_item),
        "reaction" => reaction(&envelope, body).map(event_item),
        "postback" => postback(&envelope, body).map(event_item),
        "referral" => envelope.customer().filter(|_| body.is_object()).map(|from| {
            event_item(EventPayload::Referral(Referral { from, referral: referral_info(body) }))
        }),
        // A read names the newest message read, or (Messenger) a time up
        // to which everything is read; with neither it says nothing usable.
        _ => body.is_object().then(|| {
            let message_id = string_of(body.get("mid"));
            let watermark_ms = millis_of(body.get("watermark"));
            let reader = envelope.sender.clone();
            if message_id.is_none() && (watermark_ms.is_none() || reader.is_none()) {
                return Vec::new();
            }
            vec![MetaItem::Read { message_id, reader, watermark_ms }]
        }),
    };
    match parsed {
        Some(parsed) => items.extend(parsed),
        None => items.push(raw(kind, event)),
    }
}

fn event_item(payload: EventPayload) -> Vec<MetaItem> {
    vec![MetaItem::Event(payload)]
}

/// What one attachment (or the message without any) carries.
struct Part {
    kind: InboundKind,
    media: Option<InboundMedia>,
    story: Option<StoryRef>,
}

fn message(envelope: &Envelope<'_>, body: &Value) -> Option<Vec<MetaItem>> {
    let Value::Object(m) = body else { return None };
    let mid = string_of(m.get("mid"))?;
    if flag(m.get("is_deleted")) {
        let deleted = MessageDeleted { message_id: mid, from: envelope.customer()? };
        return Some(event_item(EventPayload::MessageDeleted(deleted)));
    }
    let text = string_of(m.get("text"));
    let parts = parts(m, text.is_some());
    let id = |n: usize| if n == 0 { mid.clone() } else { format!("{mid}#{}", n + 1) };
    let caption = |n: usize| if n == 0 { text.clone() } else { None };

    if flag(m.get("is_echo")) || envelope.sent_by_account() {
        let to = person(envelope.recipient.clone()?);
        let echoes = parts.into_iter().enumerate().map(|(n, part)| {
            MetaItem::Event(EventPayload::OutgoingMessage(OutgoingMessage {
                message_id: id(n),
                to: to.clone(),
                kind: part.kind,
                text: caption(n),
                media: part.media,
            }))
        });
        return Some(echoes.collect());
    }

    let from = envelope.customer()?;
    let reply_to = m.get("reply_to");
    let reply_to_mid = reply_to.and_then(|r| string_of(r.get("mid")));
    let reply_to_story = reply_to.and_then(|r| r.get("story")).and_then(story_ref);
    let quick_reply_payload = m.get("quick_reply").and_then(|q| string_of(q.get("payload")));
    let referral = m.get("referral").filter(|r| r.is_object()).map(referral_info);
    let messages = parts.into_iter().enumerate().map(|(n, part)| {
        // What belongs to the message as a whole goes with its first part,
        // like the caption.
        let first = n == 0;
        MetaItem::Event(EventPayload::IncomingMessage(IncomingMessage {
            message_id: id(n),
            from: from.clone(),
            kind: part.kind,
            text: caption(n),
            media: part.media,
            reply_to: reply_to_mid.clone().filter(|_| first),
            quick_reply_payload: quick_reply_payload.clone().filter(|_| first),
            location: None,
            contact: None,
            story: part.story.or_else(|| reply_to_story.clone().filter(|_| first)),
            referral: referral.clone().filter(|_| first),
        }))
    });
    Some(messages.collect())
}

/// One part per attachment; one text (or unsupported) part without any.
fn parts(message: &Map<String, Value>, has_text: bool) -> Vec<Part> {
    let bare = |kind| vec![Part { kind, media: None, story: None }];
    if flag(message.get("is_unsupported")) {
        return bare(InboundKind::Unsupported);
    }
    let attachments = list_of(message.get("attachments"));
    if attachments.is_empty() {
        return bare(if has_text { InboundKind::Text } else { InboundKind::Unsupported });
    }
    attachments.iter().map(attachment).collect()
}

fn attachment(attachment: &Value) -> Part {
    let kind =
        attachment.get("type").and_then(Value::as_str).unwrap_or_default().to_ascii_lowercase();
    let payload = attachment.get("payload");
    let media = payload.and_then(|p| string_of(p.get("url"))).map(|url| InboundMedia {
        url,
        mime_type: None,
        file_name: None,
    });
    let story = || {
        Some(StoryRef {
            id: payload.and_then(|p| string_of(p.get("id"))),
            url: media.as_ref().map(|m| m.url.clone()),
        })
    };
    let (kind, story) = match kind.as_str() {
        "image" => (InboundKind::Image, None),
        "video" => (InboundKind::Video, None),
        "audio" => (InboundKind::Audio, None),
        "file" => (InboundKind::File, None),
        "share" | "ig_post" | "ig_reel" | "reel" | "media" | "media_share" => {
            (InboundKind::Share, None)
        }
        "story_mention" => (InboundKind::StoryMention, story()),
        "story" | "ig_story" => (InboundKind::Image, story()),
        _ => return Part { kind: InboundKind::Unsupported, media: None, story: None },
    };
    Part { kind, media, story }
}

fn edit(envelope: &Envelope<'_>, body: &Value) -> Option<EventPayload> {
    let edits = match body.get("num_edit") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    Some(EventPayload::MessageEdited(MessageEdited {
        message_id: string_of(body.get("mid"))?,
        from: envelope.customer()?,
        text: string_of(body.get("text")).unwrap_or_default(),
        edits: edits.map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX)),
    }))
}

fn reaction(envelope: &Envelope<'_>, body: &Value) -> Option<EventPayload> {
    let emoji = string_of(body.get("emoji")).or_else(|| string_of(body.get("reaction")));
    let action = match body.get("action").and_then(Value::as_str).map(str::to_ascii_lowercase) {
        Some(action) if action == "react" => ReactionAction::React,
        Some(action) if action == "unreact" => ReactionAction::Unreact,
        Some(_) => return None,
        None if emoji.is_some() => ReactionAction::React,
        None => ReactionAction::Unreact,
    };
    Some(EventPayload::IncomingReaction(IncomingReaction {
        message_id: string_of(body.get("mid"))?,
        from: envelope.customer()?,
        reaction: emoji.filter(|_| action == ReactionAction::React),
        action,
    }))
}

fn postback(envelope: &Envelope<'_>, body: &Value) -> Option<EventPayload> {
    if !body.is_object() {
        return None;
    }
    let from = envelope.customer()?;
    let payload = string_of(body.get("payload")).unwrap_or_default();
    let message_id = string_of(body.get("mid")).unwrap_or_else(|| match envelope.timestamp_ms {
        Some(ms) => format!("postback:{}:{ms}", from.id),
        None => format!("postback:{}:{payload}", from.id),
    });
    Some(EventPayload::Postback(Postback {
        message_id,
        from,
        title: string_of(body.get("title")).unwrap_or_default(),
        payload,
    }))
}

fn referral_info(referral: &Value) -> ReferralInfo {
    ReferralInfo {
        reference: string_of(referral.get("ref")),
        source: string_of(referral.get("source")),
        kind: string_of(referral.get("type")),
        ad_id: string_of(referral.get("ad_id")),
        product_id: referral.get("product").and_then(|p| string_of(p.get("id"))),
    }
}

fn story_ref(story: &Value) -> Option<StoryRef> {
    let id = string_of(story.get("id"));
    let url = string_of(story.get("url"));
    (id.is_some() || url.is_some()).then_some(StoryRef { id, url })
}

fn person(id: String) -> Sender {
    Sender { id, username: None, name: None }
}

fn raw(kind: &str, raw: &Value) -> MetaItem {
    MetaItem::Event(EventPayload::Raw(RawEvent { kind: kind.to_owned(), raw: raw.clone() }))
}

/// An array's items; any other value but null as a list of one.
fn list_of(value: Option<&Value>) -> &[Value] {
    match value {
        None | Some(Value::Null) => &[],
        Some(Value::Array(items)) => items,
        Some(one) => std::slice::from_ref(one),
    }
}

/// A non-empty string, or a number as a string (ids come as either).
fn string_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `true`, `"true"` or `1`.
fn flag(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true") || s == "1",
        Some(Value::Number(n)) => n.as_u64() == Some(1),
        _ => false,
    }
}

/// A timestamp in seconds or milliseconds (number or numeric string), in
/// milliseconds.
fn millis_of(value: Option<&Value>) -> Option<u64> {
    let number = match value? {
        Value::Number(n) => {
            n.as_u64().or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
        }
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }?;
    Some(if number < MILLIS_THRESHOLD { number.saturating_mul(1000) } else { number })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCOUNT: &str = "17841400000000000";
    const OTHER_ACCOUNT: &str = "17841400000000001";
    const CUSTOMER: &str = "1234567890123456";
    const OTHER_CUSTOMER: &str = "6543210987654321";
    const SECRET: &str = "app-secret";

    /// The fixtures' mids share this prefix and end in a readable suffix.
    fn mid(suffix: &str) -> String {
        format!(
            "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDAwMDAwMDAwMDAwOjM0MDI4MjM2Njg0MTcxMDMwMTI0NDI1OTk2MjM0MTg3NjI{suffix}"
        )
    }

    fn cdn(asset: &str) -> String {
        format!(
            "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id={asset}&signature=AbzK3f0x9Yq"
        )
    }

    fn testdata() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/meta/testdata/instagram")
    }

    fn fixture(name: &str) -> MetaWebhook {
        let body = std::fs::read(testdata().join(format!("{name}.json"))).unwrap();
        parse(&body).unwrap()
    }

    /// The items of a fixture's one entry, for the usual account.
    fn items(name: &str) -> Vec<MetaItem> {
        let mut hook = fixture(name);
        assert_eq!(hook.object, "instagram");
        assert_eq!(hook.entries.len(), 1, "{name}: one entry");
        let entry = hook.entries.remove(0);
        assert_eq!(entry.account_id, ACCOUNT);
        entry.items
    }

    fn events_of(items: Vec<MetaItem>) -> Vec<EventPayload> {
        items
            .into_iter()
            .map(|item| match item {
                MetaItem::Event(event) => event,
                other => panic!("expected an event, got {other:?}"),
            })
            .collect()
    }

    fn events(name: &str) -> Vec<EventPayload> {
        events_of(items(name))
    }

    fn only(name: &str) -> EventPayload {
        let mut events = events(name);
        assert_eq!(events.len(), 1, "{name}: one event, got {events:?}");
        events.remove(0)
    }

    fn incoming(event: EventPayload) -> IncomingMessage {
        match event {
            EventPayload::IncomingMessage(m) => m,
            other => panic!("expected an incoming message, got {other:?}"),
        }
    }

    fn raw_of(event: &EventPayload) -> &RawEvent {
        match event {
            EventPayload::Raw(raw) => raw,
            other => panic!("expected a raw event, got {other:?}"),
        }
    }

    fn customer() -> Sender {
        person(CUSTOMER.into())
    }

    fn parse_str(body: &str) -> MetaWebhook {
        parse(body.as_bytes()).unwrap()
    }

    /// The events of a one-entry body whose `messaging` is `events`.
    fn messaging(events: &str) -> Vec<MetaItem> {
        let body = format!(
            r#"{{"object":"instagram","entry":[{{"id":"{ACCOUNT}","messaging":{events}}}]}}"#
        );
        parse_str(&body).entries.remove(0).items
    }

    #[test]
    fn every_fixture_parses_as_an_instagram_envelope() {
        let mut count = 0;
        for file in std::fs::read_dir(testdata()).unwrap() {
            let path = file.unwrap().path();
            let hook = parse(&std::fs::read(&path).unwrap()).unwrap();
            assert_eq!(hook.object, "instagram", "{}", path.display());
            assert!(!hook.entries.is_empty(), "{}", path.display());
            count += 1;
        }
        assert_eq!(count, 26);
    }

    #[test]
    fn a_text_message_becomes_an_incoming_text_message() {
        let m = incoming(only("text"));
        assert_eq!(m.message_id, mid("text"));
        assert_eq!(m.from, customer());
        assert_eq!(m.kind, InboundKind::Text);
        assert_eq!(m.text.as_deref(), Some("Hi! Is the blue jacket still available?"));
        assert_eq!(m.media, None);
        assert_eq!(
            (m.reply_to, m.quick_reply_payload, m.story, m.referral),
            (None, None, None, None)
        );
        assert_eq!((m.location, m.contact), (None, None));
    }

    #[test]
    fn an_image_arrives_with_its_url() {
        let m = incoming(only("image"));
        assert_eq!(m.message_id, mid("image"));
        assert_eq!(m.kind, InboundKind::Image);
        assert_eq!(m.text, None);
        assert_eq!(m.media.unwrap().url, cdn("17951234567890123"));
    }

    #[test]
    fn several_attachments_become_one_message_each_and_the_text_captions_the_first() {
        let messages: Vec<_> = events("multiple_attachments").into_iter().map(incoming).collect();
        let ids: Vec<_> = messages.iter().map(|m| m.message_id.clone()).collect();
        assert_eq!(
            ids,
            [mid("multi"), format!("{}#2", mid("multi")), format!("{}#3", mid("multi"))]
        );
        let kinds: Vec<_> = messages.iter().map(|m| m.kind).collect();
        assert_eq!(kinds, [InboundKind::Image, InboundKind::Image, InboundKind::Video]);
        let urls: Vec<_> = messages.iter().map(|m| m.media.clone().unwrap().url).collect();
        assert_eq!(
            urls,
            [cdn("17951234567890001"), cdn("17951234567890002"), cdn("17951234567890003")]
        );
        assert_eq!(messages[0].text.as_deref(), Some("Here are the photos of the damage"));
        assert_eq!((messages[1].text.clone(), messages[2].text.clone()), (None, None));
        assert!(messages.iter().all(|m| m.from == customer()));
    }

    #[test]
    fn a_shared_reel_is_a_share_with_its_url() {
        let m = incoming(only("share_reel"));
        assert_eq!(m.kind, InboundKind::Share);
        assert_eq!(m.media.unwrap().url, cdn("18023456789012345"));
        assert_eq!(m.story, None);
    }

    #[test]
    fn a_story_mention_carries_the_story() {
        let m = incoming(only("story_mention"));
        assert_eq!(m.kind, InboundKind::StoryMention);
        assert_eq!(m.media.unwrap().url, cdn("18034567890123456"));
        let story = m.story.unwrap();
        assert_eq!(story.url, Some(cdn("18034567890123456")));
        assert_eq!(story.id.as_deref(), Some("18034567890123456"));
    }

    #[test]
    fn a_story_reply_carries_the_story_it_answers() {
        let m = incoming(only("story_reply"));
        assert_eq!(m.kind, InboundKind::Text);
        assert_eq!(m.text.as_deref(), Some("Where can I buy this?"));
        assert_eq!(m.reply_to, None);
        let story = m.story.unwrap();
        assert_eq!(story.id.as_deref(), Some("18045678901234567"));
        assert_eq!(story.url, Some(cdn("18045678901234567")));
    }

    #[test]
    fn a_quick_reply_carries_its_payload() {
        let m = incoming(only("quick_reply"));
        assert_eq!(m.text.as_deref(), Some("Track my order"));
        assert_eq!(m.quick_reply_payload.as_deref(), Some("TRACK_ORDER"));
    }

    #[test]
    fn a_reply_carries_the_mid_it_answers() {
        let m = incoming(only("reply_to"));
        assert_eq!(m.reply_to, Some(mid("question")));
        assert_eq!(m.story, None);
    }

    #[test]
    fn a_shop_product_referral_rides_on_the_message() {
        let m = incoming(only("referral_product"));
        assert_eq!(m.kind, InboundKind::Text);
        let referral = m.referral.unwrap();
        assert_eq!(referral.product_id.as_deref(), Some("7026231504126848"));
        assert_eq!(
            (referral.reference, referral.source, referral.kind, referral.ad_id),
            (None, None, None, None)
        );
    }

    #[test]
    fn an_echo_is_an_outgoing_message_to_the_customer() {
        let EventPayload::OutgoingMessage(echo) = only("echo") else { panic!("not an echo") };
        assert_eq!(echo.message_id, mid("echo"));
        assert_eq!(echo.to, customer());
        assert_eq!(echo.kind, InboundKind::Text);
        assert_eq!(echo.text.as_deref(), Some("Thanks for reaching out! We'll reply shortly."));
        assert_eq!(echo.media, None);
    }

    #[test]
    fn a_message_from_the_account_itself_is_an_echo_even_unflagged() {
        let items = messaging(&format!(
            r#"[{{"sender":{{"id":"{ACCOUNT}"}},"recipient":{{"id":"{CUSTOMER}"}},"timestamp":1719830400123,
                "message":{{"mid":"m1","attachments":[{{"type":"image","payload":{{"url":"https://x/1.jpg"}}}}]}}}}]"#
        ));
        let [MetaItem::Event(EventPayload::OutgoingMessage(echo))] = items.as_slice() else {
            panic!("not one echo: {items:?}")
        };
        assert_eq!((echo.message_id.as_str(), echo.kind), ("m1", InboundKind::Image));
        assert_eq!(echo.to, customer());
        assert_eq!(echo.media.as_ref().unwrap().url, "https://x/1.jpg");
    }

    #[test]
    fn an_unsent_message_becomes_message_deleted() {
        let EventPayload::MessageDeleted(deleted) = only("deleted") else { panic!("not deleted") };
        assert_eq!(deleted.message_id, mid("deleted"));
        assert_eq!(deleted.from, customer());
    }

    #[test]
    fn an_unsupported_message_is_unsupported() {
        let m = incoming(only("unsupported"));
        assert_eq!(m.message_id, mid("unsupported"));
        assert_eq!(m.kind, InboundKind::Unsupported);
        assert_eq!((m.text, m.media), (None, None));
    }

    #[test]
    fn an_unknown_attachment_type_is_unsupported() {
        let items = messaging(&format!(
            r#"[{{"sender":{{"id":"{CUSTOMER}"}},"message":{{"mid":"m1","attachments":[{{"type":"like_heart"}}]}}}}]"#
        ));
        let [MetaItem::Event(EventPayload::IncomingMessage(m))] = items.as_slice() else {
            panic!("{items:?}")
        };
        assert_eq!((m.kind, m.media.clone()), (InboundKind::Unsupported, None));
    }

    #[test]
    fn an_edit_carries_the_new_text_and_the_edit_count() {
        let EventPayload::MessageEdited(edit) = only("edit") else { panic!("not an edit") };
        assert_eq!(edit.message_id, mid("text"));
        assert_eq!(edit.from, customer());
        assert_eq!(edit.text, "Hi! Is the red jacket still available?");
        assert_eq!(edit.edits, 1);
    }

    #[test]
    fn a_reaction_carries_the_emoji() {
        let EventPayload::IncomingReaction(r) = only("reaction") else { panic!("not a reaction") };
        assert_eq!(r.message_id, mid("echo"));
        assert_eq!(r.from, customer());
        assert_eq!(r.action, ReactionAction::React);
        assert_eq!(r.reaction.as_deref(), Some("\u{2764}\u{fe0f}"));
    }

    #[test]
    fn a_reaction_without_emoji_falls_back_to_its_name() {
        let items = messaging(&format!(
            r#"[{{"sender":{{"id":"{CUSTOMER}"}},"reaction":{{"mid":"m1","action":"react","reaction":"love"}}}}]"#
        ));
        let [MetaItem::Event(EventPayload::IncomingReaction(r))] = items.as_slice() else {
            panic!("{items:?}")
        };
        assert_eq!(r.reaction.as_deref(), Some("love"));
    }

    #[test]
    fn an_unreact_has_no_emoji() {
        let EventPayload::IncomingReaction(r) = only("unreact") else { panic!("not a reaction") };
        assert_eq!(r.message_id, mid("echo"));
        assert_eq!(r.action, ReactionAction::Unreact);
        assert_eq!(r.reaction, None);
    }

    #[test]
    fn a_postback_carries_its_title_and_payload() {
        let EventPayload::Postback(p) = only("postback") else { panic!("not a postback") };
        assert_eq!(p.message_id, mid("postback"));
        assert_eq!(p.from, customer());
        assert_eq!((p.title.as_str(), p.payload.as_str()), ("Talk to a human", "HUMAN_AGENT"));
    }

    #[test]
    fn a_link_or_ad_referral_becomes_a_referral() {
        let EventPayload::Referral(r) = only("referral") else { panic!("not a referral") };
        assert_eq!(r.from, customer());
        assert_eq!(
            r.referral,
            ReferralInfo {
                reference: Some("summer_sale".into()),
                source: Some("ADS".into()),
                kind: Some("OPEN_THREAD".into()),
                ad_id: Some("120210000000000001".into()),
                product_id: None,
            }
        );
    }

    #[test]
    fn a_read_marks_the_outbound_message_read() {
        assert_eq!(
            items("read"),
            [MetaItem::Read {
                message_id: Some(mid("echo")),
                reader: Some(CUSTOMER.into()),
                watermark_ms: None
            }]
        );
    }

    #[test]
    fn a_read_without_mid_reads_up_to_its_watermark_and_without_either_is_ignored() {
        let items = messaging(&format!(
            r#"[{{"sender":{{"id":"{CUSTOMER}"}},"read":{{"watermark":1719830400}}}}]"#
        ));
        assert_eq!(
            items,
            [MetaItem::Read {
                message_id: None,
                reader: Some(CUSTOMER.into()),
                watermark_ms: Some(1_719_830_400_000)
            }]
        );
        let items = messaging(&format!(r#"[{{"sender":{{"id":"{CUSTOMER}"}},"read":{{}}}}]"#));
        assert_eq!(items, []);
    }

    #[test]
    fn a_comment_in_changes_becomes_an_incoming_comment() {
        let EventPayload::IncomingComment(c) = only("comment_changes") else {
            panic!("not a comment")
        };
        assert_eq!(c.comment_id, "17865799348089039");
        assert_eq!(
            c.from,
            Sender { id: CUSTOMER.into(), username: Some("jane.doe".into()), name: None }
        );
        assert_eq!(c.text, "Love this! How much?");
        assert_eq!(c.media_id.as_deref(), Some("18012345678901234"));
        assert_eq!(c.parent_id, None);
    }

    #[test]
    fn a_flat_comment_becomes_an_incoming_comment_with_its_parent() {
        let EventPayload::IncomingComment(c) = only("comment_flat") else {
            panic!("not a comment")
        };
        assert_eq!(c.comment_id, "17865799348089040");
        assert_eq!(c.text, "Is it waterproof?");
        assert_eq!(c.parent_id.as_deref(), Some("17865799348089039"));
        assert_eq!(c.from.username.as_deref(), Some("jane.doe"));
    }

    #[test]
    fn a_live_comment_is_a_comment_too() {
        let EventPayload::IncomingComment(c) = only("live_comment") else {
            panic!("not a comment")
        };
        assert_eq!(c.comment_id, "17865799348089041");
        assert_eq!(c.media_id.as_deref(), Some("18098765432109876"));
    }

    #[test]
    fn the_accounts_own_comments_are_skipped() {
        assert_eq!(items("own_comment"), []);
    }

    #[test]
    fn unknown_kinds_are_kept_raw() {
        let events = events("unknown_kind");
        assert_eq!(events.len(), 2);
        let optin = raw_of(&events[0]);
        assert_eq!(optin.kind, "optin");
        assert_eq!(optin.raw["sender"]["id"], CUSTOMER, "the whole messaging event is kept");
        assert_eq!(optin.raw["optin"]["payload"], "WEEKLY_DEALS");
        let mention = raw_of(&events[1]);
        assert_eq!(mention.kind, "mentions");
        assert_eq!(mention.raw["comment_id"], "17865799348089050", "a change keeps its value");
    }

    #[test]
    fn every_item_knows_when_it_happened_in_milliseconds() {
        for name in ["text", "seconds_timestamp", "comment_changes", "batch"] {
            let hook = fixture(name);
            for entry in &hook.entries {
                assert_eq!(entry.occurred_ms.len(), entry.items.len(), "{name}");
                assert!(
                    entry.occurred_ms.iter().all(|t| t.is_some_and(|t| t >= MILLIS_THRESHOLD)),
                    "{name}: {:?}",
                    entry.occurred_ms
                );
            }
        }
        let text = fixture("text");
        assert_eq!(text.entries[0].occurred_ms, [Some(1_719_830_400_123)]);
    }

    #[test]
    fn timestamps_in_seconds_are_accepted_and_a_postback_without_mid_gets_a_stable_id() {
        let events = events("seconds_timestamp");
        assert_eq!(events.len(), 2);
        let EventPayload::IncomingMessage(m) = &events[0] else { panic!("not a message") };
        assert_eq!((m.message_id.clone(), m.text.as_deref()), (mid("seconds"), Some("Hello?")));
        let EventPayload::Postback(p) = &events[1] else { panic!("not a postback") };
        assert_eq!(p.message_id, format!("postback:{CUSTOMER}:1719830401000"));
        assert_eq!(p.payload, "GET_STARTED");
        assert_eq!(events, self::events("seconds_timestamp"), "the fallback id is stable");
    }

    #[test]
    fn batches_keep_every_entry_and_event_in_order() {
        let hook = fixture("batch");
        let accounts: Vec<_> = hook.entries.iter().map(|e| e.account_id.as_str()).collect();
        assert_eq!(accounts, [ACCOUNT, OTHER_ACCOUNT]);

        let first = &hook.entries[0].items;
        assert_eq!(first.len(), 4);
        let MetaItem::Event(EventPayload::IncomingMessage(m)) = &first[0] else {
            panic!("{first:?}")
        };
        assert_eq!((m.message_id.clone(), m.text.as_deref()), (mid("b1"), Some("First")));
        let MetaItem::Event(EventPayload::IncomingReaction(r)) = &first[1] else {
            panic!("{first:?}")
        };
        assert_eq!((r.message_id.clone(), r.reaction.as_deref()), (mid("b0"), Some("\u{1f44d}")));
        let MetaItem::Read { message_id, .. } = &first[2] else { panic!("{first:?}") };
        assert_eq!(message_id.as_deref(), Some(mid("b0").as_str()));
        let MetaItem::Event(EventPayload::IncomingMessage(standby)) = &first[3] else {
            panic!("{first:?}")
        };
        assert_eq!(standby.message_id, mid("b2"), "standby events come after messaging ones");
        assert_eq!(standby.from.id, OTHER_CUSTOMER);

        let second = events_of(hook.entries[1].items.clone());
        assert_eq!(second.len(), 2);
        let EventPayload::IncomingMessage(audio) = &second[0] else { panic!("{second:?}") };
        assert_eq!((audio.message_id.clone(), audio.kind), (mid("b3"), InboundKind::Audio));
        let EventPayload::OutgoingMessage(echo) = &second[1] else { panic!("{second:?}") };
        assert_eq!((echo.message_id.clone(), echo.to.clone()), (mid("b4"), customer()));
    }

    #[test]
    fn the_seed_example_is_a_deleted_message_because_deletion_wins() {
        let mut hook = fixture("seed_001");
        let entry = hook.entries.remove(0);
        assert_eq!(entry.account_id, "IGID");
        let [MetaItem::Event(EventPayload::MessageDeleted(deleted))] = entry.items.as_slice()
        else {
            panic!("{:?}", entry.items)
        };
        assert_eq!(deleted.message_id, "MESSAGE-ID");
        assert_eq!(deleted.from.id, "IGSID");
    }

    #[test]
    fn a_repeated_key_keeps_its_last_value_as_in_the_seed() {
        let items = messaging(&format!(
            r#"[{{"sender":{{"id":"{CUSTOMER}"}},"message":{{"mid":"m1","text":"hi",
                "reply_to":{{"mid":"m0"}},"reply_to":{{"story":{{"url":"CDN-URL","id":"STORY-ID"}}}}}}}}]"#
        ));
        let [MetaItem::Event(EventPayload::IncomingMessage(m))] = items.as_slice() else {
            panic!("{items:?}")
        };
        assert_eq!(m.reply_to, None);
        assert_eq!(
            m.story,
            Some(StoryRef { id: Some("STORY-ID".into()), url: Some("CDN-URL".into()) })
        );
    }

    #[test]
    fn malformed_events_become_raw_events_and_never_fail_the_body() {
        let items = messaging(&format!(
            r#"[
                "not an object",
                {{"sender":{{"id":"{CUSTOMER}"}},"message":"not an object"}},
                {{"sender":{{"id":"{CUSTOMER}"}},"message":{{"text":"no mid"}}}},
                {{"recipient":{{"id":"{ACCOUNT}"}},"message":{{"mid":"m1","text":"no sender"}}}},
                {{"sender":{{"id":"{CUSTOMER}"}},"reaction":{{"mid":"m1","action":"shrug"}}}},
                {{"sender":{{"id":"{CUSTOMER}"}},"message_edit":{{"text":"no mid"}}}},
                {{"sender":{{"id":"{CUSTOMER}"}},"timestamp":1}},
                {{"sender":{{"id":"{CUSTOMER}"}},"message":{{"mid":"m2","text":"fine"}}}}
            ]"#
        ));
        let kinds: Vec<_> =
            events_of(items[..7].to_vec()).iter().map(|e| raw_of(e).kind.clone()).collect();
        assert_eq!(
            kinds,
            ["messaging", "message", "message", "message", "reaction", "message_edit", "messaging"]
        );
        let MetaItem::Event(EventPayload::Raw(raw)) = &items[2] else { panic!() };
        assert_eq!(raw.raw["message"]["text"], "no mid", "the whole event is kept");
        let MetaItem::Event(EventPayload::IncomingMessage(fine)) = &items[7] else {
            panic!("{items:?}")
        };
        assert_eq!(fine.message_id, "m2");
        assert_eq!(items.len(), 8);
    }

    #[test]
    fn malformed_entries_and_changes_are_kept_raw() {
        let hook = parse_str(
            r#"{"object":"instagram","entry":[
                42,
                {"id":"17841400000000000","changes":["junk",{"value":{"id":"c1"}},
                    {"field":"comments","value":{"id":"c2","text":"no author"}}]}
            ]}"#,
        );
        assert_eq!(hook.entries.len(), 2);
        assert_eq!(hook.entries[0].account_id, "");
        assert_eq!(raw_of(&events_of(hook.entries[0].items.clone())[0]).kind, "entry");
        let changes = events_of(hook.entries[1].items.clone());
        let kinds: Vec<_> = changes.iter().map(|e| raw_of(e).kind.as_str()).collect();
        assert_eq!(kinds, ["changes", "changes", "comments"]);
    }

    #[test]
    fn numeric_ids_become_strings() {
        let hook = parse_str(
            r#"{"object":"instagram","entry":[{"id":17841400000000000,"messaging":[
                {"sender":{"id":1234567890123456},"recipient":{"id":17841400000000000},
                 "message":{"mid":"m1","text":"hi"}}]}]}"#,
        );
        assert_eq!(hook.entries[0].account_id, ACCOUNT);
        let [MetaItem::Event(EventPayload::IncomingMessage(m))] = hook.entries[0].items.as_slice()
        else {
            panic!("{hook:?}")
        };
        assert_eq!(m.from, customer());
    }

    #[test]
    fn a_body_without_entries_has_no_entries() {
        assert_eq!(
            parse_str(r#"{"object":"page"}"#),
            MetaWebhook { object: "page".into(), entries: vec![] }
        );
        assert_eq!(parse_str("{}"), MetaWebhook { object: String::new(), entries: vec![] });
    }

    #[test]
    fn a_body_that_is_not_a_json_object_is_a_parse_error() {
        for body in ["", "not json", "{\"object\":", "[]", "\"instagram\"", "42", "null"] {
            assert!(parse(body.as_bytes()).is_err(), "{body:?}");
        }
        assert!(matches!(parse(b"{oops"), Err(ParseError::NotJson(_))));
        assert_eq!(parse(b"[{\"object\":\"instagram\"}]"), Err(ParseError::NotAnObject));
        assert!(ParseError::NotAnObject.to_string().contains("not an object"));
        assert!(
            parse(b"nope").unwrap_err().to_string().starts_with("the webhook body is not JSON")
        );
    }

    #[test]
    fn the_right_signature_verifies() {
        let body = br#"{"object":"instagram","entry":[]}"#;
        let header = "sha256=4868ba1823ceabaf8b38db993057d6e01e2dea967330aad8444f60a4531cd687";
        assert_eq!(verify_signature(SECRET, body, Some(header)), Ok(()));
        assert_eq!(verify_signature(SECRET, body, Some(&header.to_uppercase())), Ok(()));
    }

    #[test]
    fn a_wrong_signature_fails() {
        let body = br#"{"object":"instagram","entry":[]}"#;
        let other_secret = sign("another-secret", body);
        assert_eq!(
            verify_signature(SECRET, body, Some(&other_secret)),
            Err(SignatureError::Mismatch)
        );
        let zeros = format!("sha256={}", "0".repeat(64));
        assert_eq!(verify_signature(SECRET, body, Some(&zeros)), Err(SignatureError::Mismatch));
    }

    #[test]
    fn a_missing_signature_fails() {
        assert_eq!(verify_signature(SECRET, b"{}", None), Err(SignatureError::Missing));
        assert_eq!(verify_signature(SECRET, b"{}", Some("  ")), Err(SignatureError::Missing));
    }

    #[test]
    fn a_malformed_signature_fails() {
        let good = sign(SECRET, b"{}");
        let digest = good.trim_start_matches("sha256=");
        for header in [
            digest.to_owned(),
            format!("sha1={digest}"),
            format!("sha256={}", &digest[..62]),
            format!("sha256={digest}00"),
            format!("sha256={}zz", &digest[..62]),
            "sha256=".to_owned(),
        ] {
            assert_eq!(
                verify_signature(SECRET, b"{}", Some(&header)),
                Err(SignatureError::Malformed),
                "{header}"
            );
        }
    }

    #[test]
    fn a_body_changed_by_one_byte_fails() {
        let body = std::fs::read(testdata().join("text.json")).unwrap();
        let header = sign(SECRET, &body);
        assert_eq!(verify_signature(SECRET, &body, Some(&header)), Ok(()));
        let mut changed = body.clone();
        let last = changed.len() - 2;
        changed[last] ^= 0x01;
        assert_eq!(
            verify_signature(SECRET, &changed, Some(&header)),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn sign_round_trips_as_lowercase_hex() {
        let body = br#"{"object":"instagram","entry":[]}"#;
        let header = sign(SECRET, body);
        assert_eq!(
            header,
            "sha256=4868ba1823ceabaf8b38db993057d6e01e2dea967330aad8444f60a4531cd687"
        );
        assert_eq!(verify_signature(SECRET, body, Some(&header)), Ok(()));
        assert_eq!(verify_signature("", b"", Some(&sign("", b""))), Ok(()));
    }

    #[test]
    fn signature_errors_read_as_sentences() {
        assert!(SignatureError::Missing.to_string().contains("X-Hub-Signature-256"));
        assert!(SignatureError::Malformed.to_string().contains("sha256="));
        assert!(SignatureError::Mismatch.to_string().contains("does not match"));
    }
}
