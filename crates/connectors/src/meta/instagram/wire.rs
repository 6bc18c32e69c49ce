//! The Send API bodies for one chatgate message (`meta-platform.md` §1).
//!
//! One message may take several calls: Instagram texts are at most 1000
//! **bytes**, so a longer text (the seed allows 1000 characters, which is up
//! to 4000 bytes) is split at word boundaries; a media caption is a text
//! message of its own after the attachment. Quick replies ride on the last
//! call, as the person sees them under the newest message.

use chatgate_core::message::{Body, Content, Media, QuickReply, Recipient, TemplateButton};
use serde_json::{Value, json};

/// Most bytes in one Instagram text.
pub const TEXT_MAX_BYTES: usize = 1000;

/// How a message relates to the person's last message (`messaging_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessagingType {
    /// A reply within the 24-hour window.
    Response,
    /// A human agent's reply within 7 days (`MESSAGE_TAG` + `HUMAN_AGENT`).
    HumanAgent,
}

/// Which of Meta's call budgets a call spends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// Text, links, reactions, stickers, templates, images, files.
    Send,
    /// Audio and video attachments.
    Media,
    /// Private replies to comments.
    Comment,
}

/// One call to `POST /{account}/messages`.
#[derive(Debug, Clone, PartialEq)]
pub struct SendCall {
    /// The budget it spends.
    pub lane: Lane,
    /// The JSON body.
    pub body: Value,
}

/// Why a message cannot be put on Instagram's wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsendable(pub String);

/// The calls that send `content` to `recipient`, in order.
pub fn send_calls(
    recipient: &Recipient,
    content: &Content,
    messaging: MessagingType,
) -> Result<Vec<SendCall>, Unsendable> {
    let (to, comment) = match recipient {
        Recipient::User(id) => (json!({ "id": id }), false),
        Recipient::Comment(id) => (json!({ "comment_id": id }), true),
    };
    let mut messages: Vec<(Lane, Value)> = Vec::new();
    match &content.body {
        Body::Text { text } => {
            for part in split_text(text, TEXT_MAX_BYTES) {
                messages.push((Lane::Send, json!({ "text": part })));
            }
        }
        Body::Media(media) => {
            messages.push((lane_of(media), json!({ "attachment": attachment(media) })));
            if let Some(caption) = media.caption.as_deref().filter(|c| !c.is_empty()) {
                for part in split_text(caption, TEXT_MAX_BYTES) {
                    messages.push((Lane::Send, json!({ "text": part })));
                }
            }
        }
        Body::Template(template) => {
            let elements: Vec<Value> = template
                .elements
                .iter()
                .map(|element| {
                    let mut card = json!({ "title": element.title });
                    if let Some(subtitle) = &element.subtitle {
                        card["subtitle"] = json!(subtitle);
                    }
                    if let Some(image) = &element.image_url {
                        card["image_url"] = json!(image);
                    }
                    if let Some(url) = &element.default_action_url {
                        card["default_action"] = json!({ "type": "web_url", "url": url });
                    }
                    if !element.buttons.is_empty() {
                        card["buttons"] = element.buttons.iter().map(button).collect();
                    }
                    card
                })
                .collect();
            messages.push((
                Lane::Send,
                json!({ "attachment": {
                    "type": "template",
                    "payload": { "template_type": "generic", "elements": elements },
                }}),
            ));
        }
        Body::Sticker { sticker } => {
            messages.push((Lane::Send, json!({ "attachment": { "type": sticker.as_str() } })));
        }
        Body::Reaction { message_id, emoji } => {
            // A reaction is a sender action, not a message.
            let body = match emoji {
                Some(emoji) => json!({
                    "recipient": to,
                    "sender_action": "react",
                    "payload": { "message_id": message_id, "reaction": emoji },
                }),
                None => json!({
                    "recipient": to,
                    "sender_action": "unreact",
                    "payload": { "message_id": message_id },
                }),
            };
            return Ok(vec![SendCall { lane: Lane::Send, body }]);
        }
        Body::Location(_) => return Err(Unsendable("Instagram cannot send locations".into())),
        Body::Contact(_) => return Err(Unsendable("Instagram cannot send contact cards".into())),
        Body::List(_) => return Err(Unsendable("Instagram cannot send list messages".into())),
        Body::MessageTemplate(_) => {
            return Err(Unsendable("Instagram has no message templates by name".into()));
        }
    }
    if !content.quick_replies.is_empty()
        && let Some((_, last)) = messages.last_mut()
    {
        last["quick_replies"] = content.quick_replies.iter().map(quick_reply).collect();
    }
    Ok(messages
        .into_iter()
        .map(|(lane, message)| {
            let lane = if comment { Lane::Comment } else { lane };
            let mut body = json!({ "recipient": to, "message": message });
            match (messaging, comment) {
                (_, true) => {}
                (MessagingType::Response, false) => body["messaging_type"] = json!("RESPONSE"),
                (MessagingType::HumanAgent, false) => {
                    body["messaging_type"] = json!("MESSAGE_TAG");
                    body["tag"] = json!("HUMAN_AGENT");
                }
            }
            SendCall { lane, body }
        })
        .collect())
}

/// A sender action (`typing_on`, `mark_seen`) for a person.
pub fn sender_action(contact: &str, action: &str) -> Value {
    json!({ "recipient": { "id": contact }, "sender_action": action })
}

fn lane_of(media: &Media) -> Lane {
    use chatgate_core::message::MediaKind;
    match media.kind {
        MediaKind::Audio | MediaKind::Video => Lane::Media,
        MediaKind::Image | MediaKind::File => Lane::Send,
    }
}

fn attachment(media: &Media) -> Value {
    json!({ "type": media.kind.as_str(), "payload": { "url": media.url } })
}

fn button(button: &TemplateButton) -> Value {
    match button {
        TemplateButton::WebUrl { title, url } => {
            json!({ "type": "web_url", "title": title, "url": url })
        }
        TemplateButton::Postback { title, payload } => {
            json!({ "type": "postback", "title": title, "payload": payload })
        }
    }
}

fn quick_reply(reply: &QuickReply) -> Value {
    json!({
        "content_type": "text",
        "title": reply.title,
        "payload": reply.payload.as_deref().unwrap_or(&reply.title),
    })
}

/// Splits `text` into parts of at most `max_bytes` bytes, each ending at a
/// line break or space when there is one in the part's second half, and
/// never inside a character.
pub fn split_text(text: &str, max_bytes: usize) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut rest = text;
    while rest.len() > max_bytes {
        let mut cut = max_bytes;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let window = &rest[..cut];
        let natural = window
            .rfind('\n')
            .filter(|&i| i >= cut / 2)
            .or_else(|| window.rfind(char::is_whitespace).filter(|&i| i >= cut / 2));
        if let Some(at) = natural {
            // Keep the break with the earlier part; the next starts after it.
            let end = at + window[at..].chars().next().map_or(1, char::len_utf8);
            cut = end;
        }
        parts.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    if !rest.is_empty() || parts.is_empty() {
        parts.push(rest);
    }
    parts
}

#[cfg(test)]
mod tests {
    use chatgate_core::message::{GenericTemplate, MediaKind, Sticker, TemplateElement};

    use super::*;

    fn user() -> Recipient {
        Recipient::User("17841400000000001".into())
    }

    fn bodies(calls: Vec<SendCall>) -> Vec<Value> {
        calls.into_iter().map(|c| c.body).collect()
    }

    #[test]
    fn a_text_is_one_message_with_its_messaging_type() {
        let calls = send_calls(&user(), &Content::text("hi"), MessagingType::Response).unwrap();
        assert_eq!(
            bodies(calls),
            [json!({
                "recipient": { "id": "17841400000000001" },
                "message": { "text": "hi" },
                "messaging_type": "RESPONSE",
            })]
        );
    }

    #[test]
    fn a_human_agent_reply_carries_the_tag() {
        let calls = send_calls(&user(), &Content::text("hi"), MessagingType::HumanAgent).unwrap();
        assert_eq!(calls[0].body["messaging_type"], "MESSAGE_TAG");
        assert_eq!(calls[0].body["tag"], "HUMAN_AGENT");
    }

    #[test]
    fn a_thousand_cyrillic_characters_are_split_into_parts_of_at_most_1000_bytes() {
        let text = "привет ".repeat(143); // 1001 characters, 1859 bytes
        let parts = split_text(&text, TEXT_MAX_BYTES);
        assert!(parts.len() == 2, "{}", parts.len());
        assert!(parts.iter().all(|p| p.len() <= TEXT_MAX_BYTES));
        assert!(parts[0].ends_with(' '), "cut at a space");
        assert_eq!(parts.concat(), text);
    }

    #[test]
    fn a_text_without_spaces_is_cut_between_characters() {
        let text = "ж".repeat(1001);
        let parts = split_text(&text, TEXT_MAX_BYTES);
        assert_eq!(parts.iter().map(|p| p.len()).collect::<Vec<_>>(), [1000, 1000, 2]);
        assert_eq!(parts.concat(), text);
    }

    #[test]
    fn an_empty_or_short_text_is_one_part() {
        assert_eq!(split_text("", 10), [""]);
        assert_eq!(split_text("abc", 10), ["abc"]);
    }

    #[test]
    fn media_goes_first_and_the_caption_follows_with_the_quick_replies() {
        let content = Content {
            body: Body::Media(Media {
                kind: MediaKind::Video,
                url: "https://cdn.example.com/a.mp4".into(),
                caption: Some("look".into()),
                file_name: None,
            }),
            quick_replies: vec![QuickReply { title: "Yes".into(), payload: None }],
            reply_to: None,
        };
        let calls = send_calls(&user(), &content, MessagingType::Response).unwrap();
        assert_eq!(calls[0].lane, Lane::Media);
        assert_eq!(
            calls[0].body["message"],
            json!({ "attachment": { "type": "video", "payload": { "url": "https://cdn.example.com/a.mp4" } } })
        );
        assert_eq!(calls[1].lane, Lane::Send);
        assert_eq!(
            calls[1].body["message"],
            json!({ "text": "look", "quick_replies": [
                { "content_type": "text", "title": "Yes", "payload": "Yes" }
            ] })
        );
    }

    #[test]
    fn a_template_becomes_a_generic_template_attachment() {
        let content = Content::of(Body::Template(GenericTemplate {
            elements: vec![TemplateElement {
                title: "Course".into(),
                subtitle: Some("Spring".into()),
                image_url: Some("https://cdn.example.com/c.png".into()),
                default_action_url: Some("https://example.com/c".into()),
                buttons: vec![
                    TemplateButton::WebUrl {
                        title: "Open".into(),
                        url: "https://example.com".into(),
                    },
                    TemplateButton::Postback { title: "Buy".into(), payload: "BUY".into() },
                ],
            }],
        }));
        let calls = send_calls(&user(), &content, MessagingType::Response).unwrap();
        assert_eq!(
            calls[0].body["message"]["attachment"],
            json!({ "type": "template", "payload": { "template_type": "generic", "elements": [{
                "title": "Course",
                "subtitle": "Spring",
                "image_url": "https://cdn.example.com/c.png",
                "default_action": { "type": "web_url", "url": "https://example.com/c" },
                "buttons": [
                    { "type": "web_url", "title": "Open", "url": "https://example.com" },
                    { "type": "postback", "title": "Buy", "payload": "BUY" },
                ],
            }] } })
        );
    }

    #[test]
    fn the_heart_sticker_and_reactions() {
        let heart = send_calls(
            &user(),
            &Content::of(Body::Sticker { sticker: Sticker::LikeHeart }),
            MessagingType::Response,
        )
        .unwrap();
        assert_eq!(heart[0].body["message"], json!({ "attachment": { "type": "like_heart" } }));
        let react = send_calls(
            &user(),
            &Content::of(Body::Reaction { message_id: "m1".into(), emoji: Some("❤".into()) }),
            MessagingType::Response,
        )
        .unwrap();
        assert_eq!(
            bodies(react),
            [json!({
                "recipient": { "id": "17841400000000001" },
                "sender_action": "react",
                "payload": { "message_id": "m1", "reaction": "❤" },
            })]
        );
        let unreact = send_calls(
            &user(),
            &Content::of(Body::Reaction { message_id: "m1".into(), emoji: None }),
            MessagingType::Response,
        )
        .unwrap();
        assert_eq!(unreact[0].body["sender_action"], "unreact");
    }

    #[test]
    fn a_private_reply_names_the_comment_and_spends_the_comment_budget() {
        let calls = send_calls(
            &Recipient::Comment("1789".into()),
            &Content::text("thanks"),
            MessagingType::Response,
        )
        .unwrap();
        assert_eq!(calls[0].lane, Lane::Comment);
        assert_eq!(
            calls[0].body,
            json!({ "recipient": { "comment_id": "1789" }, "message": { "text": "thanks" } })
        );
    }
}
