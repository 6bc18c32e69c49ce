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

#[cfg(test)]
mod tests {
    use chatgate_core::event::{IncomingMessage, SharedContact};

    use super::*;
    use crate::meta::webhook::{self, MetaWebhook};

    const PHONE_ID: &str = "106540352242922";
    const CUSTOMER: &str = "16315551181";

    fn wamid(suffix: &str) -> String {
        format!("wamid.HBgLMTYzMTU1NTExODEVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA{suffix}")
    }

    fn testdata() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/meta/testdata/whatsapp")
    }

    fn fixture(name: &str) -> MetaWebhook {
        let body = std::fs::read(testdata().join(format!("{name}.json"))).unwrap();
        webhook::parse(&body).unwrap()
    }

    /// The one item of a fixture, checking it is routed to the number.
    fn only(name: &str) -> MetaItem {
        let parsed = fixture(name);
        assert_eq!(parsed.object, OBJECT);
        assert_eq!(parsed.entries.len(), 1, "{name}");
        let entry = &parsed.entries[0];
        assert_eq!(entry.account_id, PHONE_ID, "{name}: routed by phone_number_id");
        assert_eq!(entry.items.len(), 1, "{name}: {:?}", entry.items);
        assert_eq!(entry.occurred_ms.len(), 1);
        entry.items[0].clone()
    }

    fn incoming(name: &str) -> IncomingMessage {
        match only(name) {
            MetaItem::Event(EventPayload::IncomingMessage(m)) => m,
            other => panic!("{name}: {other:?}"),
        }
    }

    #[test]
    fn every_fixture_parses_as_a_whatsapp_envelope() {
        let mut count = 0;
        for file in std::fs::read_dir(testdata()).unwrap() {
            let body = std::fs::read(file.unwrap().path()).unwrap();
            let parsed = webhook::parse(&body).unwrap();
            assert_eq!(parsed.object, OBJECT);
            assert!(!parsed.entries.is_empty());
            count += 1;
        }
        assert!(count >= 20, "{count}");
    }

    #[test]
    fn the_table_of_message_types() {
        // (fixture, kind, text, media id, mime type, file name, quick reply
        // payload, reply-to suffix)
        type Row = (
            &'static str,
            InboundKind,
            Option<&'static str>,
            Option<&'static str>,
            Option<&'static str>,
            Option<&'static str>,
            Option<&'static str>,
            Option<&'static str>,
        );
        let table: [Row; 11] = [
            (
                "text",
                InboundKind::Text,
                Some("Hello, is the course still open?"),
                None,
                None,
                None,
                None,
                None,
            ),
            (
                "image",
                InboundKind::Image,
                Some("my receipt"),
                Some("1003383421387256"),
                Some("image/jpeg"),
                None,
                None,
                None,
            ),
            (
                "audio",
                InboundKind::Audio,
                None,
                Some("1003383421387257"),
                Some("audio/ogg; codecs=opus"),
                None,
                None,
                None,
            ),
            (
                "video",
                InboundKind::Video,
                None,
                Some("1003383421387258"),
                Some("video/mp4"),
                None,
                None,
                None,
            ),
            (
                "document",
                InboundKind::File,
                Some("contract"),
                Some("1003383421387259"),
                Some("application/pdf"),
                Some("contract.pdf"),
                None,
                None,
            ),
            (
                "sticker",
                InboundKind::Image,
                None,
                Some("1003383421387260"),
                Some("image/webp"),
                None,
                None,
                None,
            ),
            (
                "button",
                InboundKind::Text,
                Some("Stop promotions"),
                None,
                None,
                None,
                Some("STOP_PROMOS"),
                Some("T1"),
            ),
            (
                "button_reply",
                InboundKind::Text,
                Some("Yes"),
                None,
                None,
                None,
                Some("YES"),
                Some("Q1"),
            ),
            (
                "list_reply",
                InboundKind::Text,
                Some("Rust"),
                None,
                None,
                None,
                Some("c1"),
                Some("L1"),
            ),
            (
                "reply_context",
                InboundKind::Text,
                Some("Yes, that one"),
                None,
                None,
                None,
                None,
                Some("Z9"),
            ),
            ("unsupported", InboundKind::Unsupported, None, None, None, None, None, None),
        ];
        for (name, kind, text, media, mime, file, payload, reply_to) in table {
            let m = incoming(name);
            assert_eq!(m.from.id, CUSTOMER, "{name}");
            assert_eq!(m.from.name.as_deref(), Some("Kerry Fisher"), "{name}");
            assert_eq!(m.kind, kind, "{name}");
            assert_eq!(m.text.as_deref(), text, "{name}");
            assert_eq!(
                m.media.as_ref().and_then(|f| media_id_of(&f.url)),
                media,
                "{name}: files are kept by media id"
            );
            assert_eq!(m.media.as_ref().and_then(|f| f.mime_type.as_deref()), mime, "{name}");
            assert_eq!(m.media.as_ref().and_then(|f| f.file_name.as_deref()), file, "{name}");
            assert_eq!(m.quick_reply_payload.as_deref(), payload, "{name}");
            assert_eq!(m.reply_to, reply_to.map(wamid), "{name}");
            assert!(m.message_id.starts_with("wamid."), "{name}: deduplicated on the wamid");
        }
    }

    #[test]
    fn a_location_carries_the_place() {
        let m = incoming("location");
        assert_eq!(m.kind, InboundKind::Location);
        assert_eq!(
            m.location,
            Some(Location {
                latitude: 55.7539,
                longitude: 37.6208,
                name: Some("Red Square".into()),
                address: Some("Moscow, 109012".into()),
            })
        );
    }

    #[test]
    fn a_shared_contact_becomes_a_vcard() {
        let m = incoming("contacts");
        assert_eq!(m.kind, InboundKind::Contact);
        let SharedContact { display_name, vcard } = m.contact.unwrap();
        assert_eq!(display_name, "Anna Ivanova");
        assert_eq!(
            vcard,
            "BEGIN:VCARD\nVERSION:3.0\nFN:Anna Ivanova\nN:Ivanova;Anna;;;\nORG:Acme\n\
             TEL;waid=79005554433:+7 900 555-44-33\nEMAIL:anna@example.com\nEND:VCARD"
        );
    }

    #[test]
    fn a_reaction_names_the_message_reacted_to() {
        match only("reaction") {
            MetaItem::Event(EventPayload::IncomingReaction(r)) => {
                assert_eq!(r.message_id, wamid("Z9"));
                assert_eq!(r.reaction.as_deref(), Some("👍"));
                assert_eq!(r.action, ReactionAction::React);
                assert_eq!(r.from.id, CUSTOMER);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn statuses_name_the_wamid_and_a_failure_carries_meta_s_words() {
        for (name, status) in [
            ("status_sent", MessageStatus::Sent),
            ("status_delivered", MessageStatus::Delivered),
            ("status_read", MessageStatus::Read),
        ] {
            assert_eq!(
                only(name),
                MetaItem::Status {
                    message_id: wamid("S1"),
                    status,
                    recipient: Some(CUSTOMER.into()),
                    error: None,
                },
                "{name}"
            );
        }
        match only("status_failed") {
            MetaItem::Status { status: MessageStatus::Failed, error: Some(error), .. } => {
                assert!(error.starts_with("131047: Re-engagement message — "), "{error}");
                assert!(error.contains("more than 24 hours"), "{error}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn timestamps_in_seconds_become_milliseconds() {
        let parsed = fixture("text");
        assert_eq!(parsed.entries[0].occurred_ms, [Some(1_767_225_600_000)]);
    }

    #[test]
    fn each_number_of_a_business_account_is_an_entry_of_its_own() {
        let parsed = fixture("two_numbers");
        let accounts: Vec<&str> = parsed.entries.iter().map(|e| e.account_id.as_str()).collect();
        assert_eq!(accounts, [PHONE_ID, "106540352242923"]);
        let batch = fixture("batch");
        let ids: Vec<String> = batch.entries[0]
            .items
            .iter()
            .map(|item| match item {
                MetaItem::Event(EventPayload::IncomingMessage(m)) => m.message_id.clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(ids, [wamid("G1"), wamid("G2")], "order is kept");
    }

    #[test]
    fn other_fields_and_malformed_messages_are_kept_raw() {
        let parsed = fixture("other_field");
        assert_eq!(parsed.entries[0].account_id, "", "no number to route it to");
        assert!(matches!(
            &parsed.entries[0].items[0],
            MetaItem::Event(EventPayload::Raw(raw)) if raw.kind == "phone_number_quality_update"
        ));
        let body = br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[
            {"field":"messages","value":{"metadata":{"phone_number_id":"7"},
             "messages":[{"id":"wamid.x","type":"text"},{"from":"1","id":"wamid.y","type":"image","image":{}}],
             "statuses":[{"status":"delivered"},{"id":"wamid.z","status":"deleted"}]}}]},
            {"id":"2"}]}"#;
        let parsed = webhook::parse(body).unwrap();
        assert_eq!(parsed.entries.len(), 2);
        assert_eq!(parsed.entries[0].account_id, "7");
        assert_eq!(parsed.entries[0].items.len(), 4);
        assert!(
            parsed.entries[0]
                .items
                .iter()
                .all(|item| matches!(item, MetaItem::Event(EventPayload::Raw(_))))
        );
        assert_eq!(parsed.entries[1].account_id, "");
    }

    #[test]
    fn a_media_id_is_read_back_only_from_its_scheme() {
        assert_eq!(media_id_of("whatsapp-media:123"), Some("123"));
        assert_eq!(media_id_of("whatsapp-media:"), None);
        assert_eq!(media_id_of("https://cdn.test/123"), None);
    }
}
