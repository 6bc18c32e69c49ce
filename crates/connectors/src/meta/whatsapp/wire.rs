//! The Cloud API bodies for one chatgate message (`meta-platform.md` §6).
//!
//! `POST /{phone-number-id}/messages` with
//! `{"messaging_product":"whatsapp","recipient_type":"individual","to",
//! "type", <type>: {…}, "context"?: {"message_id"}}`. One message is one
//! call, except audio with a caption: WhatsApp's audio carries none, so the
//! caption follows as a text of its own.
//!
//! Quick replies become reply buttons (an interactive `button` message);
//! the rules refuse them on anything but a text, and more than three.

use chatgate_core::message::{
    Body, ContactCard, Content, ListMessage, Location, Media, MediaKind, MessageTemplate,
    QuickReply, Recipient,
};
use serde_json::{Map, Value, json};

/// Why a message cannot be put on the Cloud API's wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsendable(pub String);

/// The bodies of the calls that send `content` to `recipient`, in order.
pub fn send_bodies(recipient: &Recipient, content: &Content) -> Result<Vec<Value>, Unsendable> {
    let to = match recipient {
        Recipient::User(id) => id.as_str(),
        Recipient::Comment(_) => {
            return Err(Unsendable("WhatsApp has no replies to comments".into()));
        }
    };
    let mut messages: Vec<(&'static str, Value)> = Vec::new();
    match &content.body {
        Body::Text { text } if content.quick_replies.is_empty() => {
            messages.push(("text", text_object(text)));
        }
        Body::Text { text } => {
            let buttons: Vec<Value> = content.quick_replies.iter().map(reply_button).collect();
            messages.push((
                "interactive",
                json!({
                    "type": "button",
                    "body": { "text": text },
                    "action": { "buttons": buttons },
                }),
            ));
        }
        Body::Media(media) => {
            let (kind, object) = media_object(media);
            messages.push((kind, object));
            if media.kind == MediaKind::Audio
                && let Some(caption) = media.caption.as_deref().filter(|c| !c.trim().is_empty())
            {
                messages.push(("text", text_object(caption)));
            }
        }
        Body::Location(location) => messages.push(("location", location_object(location))),
        Body::Contact(card) => messages.push(("contacts", json!([contact_object(card)]))),
        Body::List(list) => messages.push(("interactive", list_object(list))),
        Body::MessageTemplate(template) => messages.push(("template", template_object(template))),
        Body::Reaction { message_id, emoji } => messages.push((
            "reaction",
            // An empty emoji takes the reaction back.
            json!({ "message_id": message_id, "emoji": emoji.as_deref().unwrap_or_default() }),
        )),
        Body::Template(_) => {
            return Err(Unsendable(
                "WhatsApp has no generic templates; send a message template by name".into(),
            ));
        }
        Body::Sticker { .. } => {
            return Err(Unsendable("WhatsApp cannot send Instagram's heart sticker".into()));
        }
    }
    Ok(messages
        .into_iter()
        .enumerate()
        .map(|(n, (kind, object))| {
            let mut body = Map::new();
            body.insert("messaging_product".into(), json!("whatsapp"));
            body.insert("recipient_type".into(), json!("individual"));
            body.insert("to".into(), json!(to));
            body.insert("type".into(), json!(kind));
            body.insert(kind.into(), object);
            // The quoted reply goes with the first part; a reaction names its
            // message itself.
            if n == 0
                && kind != "reaction"
                && let Some(reply_to) = &content.reply_to
            {
                body.insert("context".into(), json!({ "message_id": reply_to }));
            }
            Value::Object(body)
        })
        .collect())
}

/// `{"messaging_product":"whatsapp","status":"read","message_id":…}`.
pub fn mark_read(message_id: &str) -> Value {
    json!({ "messaging_product": "whatsapp", "status": "read", "message_id": message_id })
}

fn text_object(text: &str) -> Value {
    // WhatsApp shows a link preview only when asked to.
    let preview = text.contains("https://") || text.contains("http://");
    json!({ "body": text, "preview_url": preview })
}

fn reply_button(reply: &QuickReply) -> Value {
    json!({
        "type": "reply",
        "reply": { "id": reply.payload.as_deref().unwrap_or(&reply.title), "title": reply.title },
    })
}

fn media_object(media: &Media) -> (&'static str, Value) {
    let kind = match media.kind {
        MediaKind::Image => "image",
        MediaKind::Audio => "audio",
        MediaKind::Video => "video",
        MediaKind::File => "document",
    };
    let mut object = json!({ "link": media.url });
    if media.kind != MediaKind::Audio
        && let Some(caption) = media.caption.as_deref().filter(|c| !c.is_empty())
    {
        object["caption"] = json!(caption);
    }
    if media.kind == MediaKind::File {
        let name = media.file_name.clone().or_else(|| file_name_of(&media.url));
        if let Some(name) = name {
            object["filename"] = json!(name);
        }
    }
    (kind, object)
}

/// The last path segment of a URL, when it looks like a file name.
fn file_name_of(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next()?;
    let last = path.rsplit('/').next()?;
    (last.contains('.') && !last.starts_with('.')).then(|| last.to_owned())
}

fn location_object(location: &Location) -> Value {
    let mut object = json!({ "latitude": location.latitude, "longitude": location.longitude });
    if let Some(name) = &location.name {
        object["name"] = json!(name);
    }
    if let Some(address) = &location.address {
        object["address"] = json!(address);
    }
    object
}

fn contact_object(card: &ContactCard) -> Value {
    let parts: Vec<&str> = [&card.first_name, &card.middle_name, &card.last_name]
        .into_iter()
        .filter_map(|p| p.as_deref())
        .filter(|p| !p.is_empty())
        .collect();
    // WhatsApp requires a formatted name; the number stands in for none.
    let formatted = if parts.is_empty() { format!("+{}", card.phone) } else { parts.join(" ") };
    let mut name = json!({ "formatted_name": formatted });
    for (key, value) in [
        ("first_name", &card.first_name),
        ("middle_name", &card.middle_name),
        ("last_name", &card.last_name),
    ] {
        if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
            name[key] = json!(value);
        }
    }
    let mut contact = json!({
        "name": name,
        "phones": [{ "phone": format!("+{}", card.phone), "type": "CELL", "wa_id": card.phone }],
    });
    if let Some(company) = card.company.as_deref().filter(|c| !c.is_empty()) {
        contact["org"] = json!({ "company": company });
    }
    contact
}

fn list_object(list: &ListMessage) -> Value {
    let sections: Vec<Value> = list
        .sections
        .iter()
        .map(|section| {
            let rows: Vec<Value> = section
                .rows
                .iter()
                .map(|row| {
                    let mut out = json!({ "id": row.id, "title": row.title });
                    if let Some(description) = &row.description {
                        out["description"] = json!(description);
                    }
                    out
                })
                .collect();
            let mut out = json!({ "rows": rows });
            if let Some(title) = &section.title {
                out["title"] = json!(title);
            }
            out
        })
        .collect();
    json!({
        "type": "list",
        "body": { "text": list.text },
        "action": { "button": list.button, "sections": sections },
    })
}

fn template_object(template: &MessageTemplate) -> Value {
    let mut object = json!({ "name": template.name, "language": { "code": template.language } });
    if !template.components.is_empty() {
        object["components"] = json!(template.components);
    }
    object
}

#[cfg(test)]
mod tests {
    use chatgate_core::message::{ListRow, ListSection};

    use super::*;

    const WA_ID: &str = "79001234567";

    fn user() -> Recipient {
        Recipient::User(WA_ID.into())
    }

    fn one(content: &Content) -> Value {
        let mut bodies = send_bodies(&user(), content).unwrap();
        assert_eq!(bodies.len(), 1, "{bodies:?}");
        bodies.remove(0)
    }

    #[test]
    fn a_text_is_one_text_message_with_a_preview_only_for_links() {
        assert_eq!(
            one(&Content::text("hi")),
            json!({
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": WA_ID,
                "type": "text",
                "text": { "body": "hi", "preview_url": false },
            })
        );
        assert_eq!(one(&Content::text("see https://x.test"))["text"]["preview_url"], true);
    }

    #[test]
    fn a_reply_names_the_message_it_answers_in_context() {
        let mut content = Content::text("yes");
        content.reply_to = Some("wamid.HBgL".into());
        assert_eq!(one(&content)["context"], json!({ "message_id": "wamid.HBgL" }));
    }

    #[test]
    fn quick_replies_become_reply_buttons() {
        let mut content = Content::text("Pick one");
        content.quick_replies = vec![
            QuickReply { title: "Yes".into(), payload: Some("YES".into()) },
            QuickReply { title: "No".into(), payload: None },
        ];
        let body = one(&content);
        assert_eq!(body["type"], "interactive");
        assert_eq!(
            body["interactive"],
            json!({
                "type": "button",
                "body": { "text": "Pick one" },
                "action": { "buttons": [
                    { "type": "reply", "reply": { "id": "YES", "title": "Yes" } },
                    { "type": "reply", "reply": { "id": "No", "title": "No" } },
                ] },
            })
        );
    }

    #[test]
    fn a_document_carries_its_file_name_and_caption() {
        let media = |kind, file_name: Option<&str>| {
            Content::of(Body::Media(Media {
                kind,
                url: "https://cdn.test/files/report.pdf?sig=1".into(),
                caption: Some("the report".into()),
                file_name: file_name.map(str::to_owned),
            }))
        };
        let named = one(&media(MediaKind::File, Some("Q3.pdf")));
        assert_eq!(named["type"], "document");
        assert_eq!(
            named["document"],
            json!({ "link": "https://cdn.test/files/report.pdf?sig=1", "caption": "the report", "filename": "Q3.pdf" })
        );
        assert_eq!(one(&media(MediaKind::File, None))["document"]["filename"], "report.pdf");
        let image = one(&media(MediaKind::Image, Some("ignored.png")));
        assert_eq!(
            image["image"],
            json!({ "link": "https://cdn.test/files/report.pdf?sig=1", "caption": "the report" })
        );
    }

    #[test]
    fn an_audio_caption_follows_as_a_text_of_its_own() {
        let content = Content::of(Body::Media(Media {
            kind: MediaKind::Audio,
            url: "https://cdn.test/a.ogg".into(),
            caption: Some("listen".into()),
            file_name: None,
        }));
        let bodies = send_bodies(&user(), &content).unwrap();
        assert_eq!(bodies.len(), 2);
        assert_eq!(bodies[0]["audio"], json!({ "link": "https://cdn.test/a.ogg" }));
        assert_eq!(bodies[1]["text"]["body"], "listen");
    }

    #[test]
    fn a_location_a_contact_a_list_and_a_template() {
        let location = one(&Content::of(Body::Location(Location {
            latitude: 55.75,
            longitude: 37.62,
            name: Some("Office".into()),
            address: None,
        })));
        assert_eq!(
            location["location"],
            json!({ "latitude": 55.75, "longitude": 37.62, "name": "Office" })
        );
        let contact = one(&Content::of(Body::Contact(ContactCard {
            phone: "79005554433".into(),
            first_name: Some("Ivan".into()),
            middle_name: None,
            last_name: Some("Petrov".into()),
            company: Some("Acme".into()),
        })));
        assert_eq!(contact["type"], "contacts");
        assert_eq!(
            contact["contacts"],
            json!([{
                "name": { "formatted_name": "Ivan Petrov", "first_name": "Ivan", "last_name": "Petrov" },
                "phones": [{ "phone": "+79005554433", "type": "CELL", "wa_id": "79005554433" }],
                "org": { "company": "Acme" },
            }])
        );
        let list = one(&Content::of(Body::List(ListMessage {
            text: "Choose a course".into(),
            button: "Courses".into(),
            sections: vec![ListSection {
                title: Some("Spring".into()),
                rows: vec![ListRow {
                    id: "c1".into(),
                    title: "Rust".into(),
                    description: Some("8 weeks".into()),
                }],
            }],
        })));
        assert_eq!(
            list["interactive"],
            json!({
                "type": "list",
                "body": { "text": "Choose a course" },
                "action": { "button": "Courses", "sections": [
                    { "title": "Spring", "rows": [{ "id": "c1", "title": "Rust", "description": "8 weeks" }] },
                ] },
            })
        );
        let components =
            vec![json!({"type": "body", "parameters": [{"type": "text", "text": "Ann"}]})];
        let template = one(&Content::of(Body::MessageTemplate(MessageTemplate {
            name: "order_ready".into(),
            language: "en_US".into(),
            components: components.clone(),
        })));
        assert_eq!(
            template["template"],
            json!({ "name": "order_ready", "language": { "code": "en_US" }, "components": components })
        );
    }

    #[test]
    fn a_reaction_names_its_message_and_an_empty_emoji_takes_it_back() {
        let react = one(&Content::of(Body::Reaction {
            message_id: "wamid.X".into(),
            emoji: Some("👍".into()),
        }));
        assert_eq!(react["reaction"], json!({ "message_id": "wamid.X", "emoji": "👍" }));
        let unreact =
            one(&Content::of(Body::Reaction { message_id: "wamid.X".into(), emoji: None }));
        assert_eq!(unreact["reaction"]["emoji"], "");
    }

    #[test]
    fn comments_generic_templates_and_stickers_cannot_be_sent() {
        assert!(send_bodies(&Recipient::Comment("1".into()), &Content::text("x")).is_err());
        let sticker =
            Content::of(Body::Sticker { sticker: chatgate_core::message::Sticker::LikeHeart });
        assert!(send_bodies(&user(), &sticker).is_err());
    }

    #[test]
    fn mark_read_names_the_message() {
        assert_eq!(
            mark_read("wamid.A"),
            json!({ "messaging_product": "whatsapp", "status": "read", "message_id": "wamid.A" })
        );
    }
}
