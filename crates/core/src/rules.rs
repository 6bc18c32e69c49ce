//! The content rules of the seeds and of Meta's platforms, checked before a
//! message is stored. A message that passes here is one the connector can
//! send; one that does not is refused with the field and a sentence.
//!
//! Sources: seed 000 (caption ≤ 1000 characters, ≤ 13 quick replies of ≤ 20
//! characters, a comment is answered with text only), seed 002 (template
//! titles and subtitles ≤ 80, ≤ 3 buttons, ≤ 10 elements, quick-reply
//! payloads ≤ 1000), `meta-platform.md` §1 and §6.
//!
//! Text length is counted in characters (Unicode scalar values), as the seeds
//! count it; where Meta counts bytes (Instagram: 1000 bytes) the connector
//! splits, so a 1000-character Cyrillic text the seed allows is still sent.

use crate::error::{FieldPath, Violation};
use crate::instance::ConnectorKind;
use crate::message::{
    Body, Content, GenericTemplate, ListMessage, Media, MessageTemplate, QuickReply, Recipient,
    TemplateButton,
};

/// The limits of one platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentLimits {
    /// The connector these are the limits of, for messages.
    pub connector: &'static str,
    /// Whether locations and contact cards exist on the platform.
    pub locations_and_contacts: bool,
    /// Whether reactions can be sent.
    pub reactions: bool,
    /// Longest text message, in characters.
    pub text_max_chars: usize,
    /// Longest media caption, in characters.
    pub caption_max_chars: usize,
    /// Most quick replies on one message.
    pub quick_replies_max: usize,
    /// Longest quick-reply title, in characters.
    pub quick_reply_title_max_chars: usize,
    /// Longest quick-reply payload, in characters.
    pub quick_reply_payload_max_chars: usize,
    /// Whether generic templates and stickers exist on the platform.
    pub templates_and_stickers: bool,
    /// Whether a private reply to a comment exists on the platform.
    pub comment_replies: bool,
    /// Whether list messages and message templates exist on the platform
    /// (WhatsApp).
    pub lists_and_message_templates: bool,
    /// Whether quick replies ride only on a text (WhatsApp's reply buttons
    /// are an interactive text message).
    pub quick_replies_on_text_only: bool,
    /// Longest text of a message with buttons or a list, in characters
    /// (WhatsApp's interactive body: 1024).
    pub interactive_text_max_chars: usize,
}

/// Longest private reply to a comment, in UTF-8 bytes (one Instagram
/// message, never split).
pub const COMMENT_REPLY_MAX_BYTES: usize = 1000;
/// Most elements in a generic template.
pub const TEMPLATE_ELEMENTS_MAX: usize = 10;
/// Longest element title or subtitle, in characters.
pub const TEMPLATE_TEXT_MAX_CHARS: usize = 80;
/// Most buttons on one element.
pub const TEMPLATE_BUTTONS_MAX: usize = 3;
/// Longest button title, in characters.
pub const BUTTON_TITLE_MAX_CHARS: usize = 20;
/// Longest postback payload, in characters.
pub const POSTBACK_PAYLOAD_MAX_CHARS: usize = 1000;
/// Longest URL accepted anywhere.
pub const URL_MAX_CHARS: usize = 2048;
/// Longest recipient id.
pub const RECIPIENT_ID_MAX_CHARS: usize = 256;
/// Most rows in a list message, over all its sections (WhatsApp).
pub const LIST_ROWS_MAX: usize = 10;
/// Most sections in a list message (WhatsApp).
pub const LIST_SECTIONS_MAX: usize = 10;
/// Longest list button label, section title or row title, in characters.
pub const LIST_BUTTON_MAX_CHARS: usize = 20;
/// Longest section or row title, in characters.
pub const LIST_TITLE_MAX_CHARS: usize = 24;
/// Longest row description, in characters.
pub const LIST_DESCRIPTION_MAX_CHARS: usize = 72;
/// Longest row id, in characters.
pub const LIST_ROW_ID_MAX_CHARS: usize = 200;
/// Longest message template name, in characters.
pub const TEMPLATE_NAME_MAX_CHARS: usize = 512;
/// Longest file name of a document, in characters.
pub const FILE_NAME_MAX_CHARS: usize = 240;

impl ContentLimits {
    /// Instagram's limits (the sandbox emulates Instagram).
    pub const INSTAGRAM: ContentLimits = ContentLimits {
        connector: "instagram",
        locations_and_contacts: false,
        reactions: true,
        text_max_chars: 1000,
        caption_max_chars: 1000,
        quick_replies_max: 13,
        quick_reply_title_max_chars: 20,
        quick_reply_payload_max_chars: 1000,
        templates_and_stickers: true,
        comment_replies: true,
        lists_and_message_templates: false,
        quick_replies_on_text_only: false,
        interactive_text_max_chars: 1000,
    };

    /// WhatsApp Cloud API's limits (quick replies become reply buttons).
    pub const WHATSAPP: ContentLimits = ContentLimits {
        connector: "whatsapp",
        locations_and_contacts: true,
        reactions: true,
        text_max_chars: 4096,
        caption_max_chars: 1024,
        quick_replies_max: 3,
        quick_reply_title_max_chars: 20,
        quick_reply_payload_max_chars: 256,
        templates_and_stickers: false,
        comment_replies: false,
        lists_and_message_templates: true,
        quick_replies_on_text_only: true,
        interactive_text_max_chars: 1024,
    };

    /// The limits of a connector (the sandbox emulates Instagram).
    pub fn for_kind(kind: ConnectorKind) -> ContentLimits {
        match kind {
            ConnectorKind::Sandbox => ContentLimits { connector: "sandbox", ..Self::INSTAGRAM },
            ConnectorKind::Instagram => Self::INSTAGRAM,
            ConnectorKind::Whatsapp => Self::WHATSAPP,
        }
    }
}

/// Checks a message against a platform's limits.
pub fn check_message(
    recipient: &Recipient,
    content: &Content,
    limits: &ContentLimits,
) -> Result<(), Violation> {
    check_recipient(recipient, limits)?;
    if let (Body::Reaction { .. }, false) = (&content.body, content.quick_replies.is_empty()) {
        return Err(Violation::new(
            FieldPath::key("quickReplies"),
            "a reaction carries no quick replies",
        ));
    }
    if let Recipient::Comment(_) = recipient {
        if !matches!(content.body, Body::Text { .. }) {
            return Err(Violation::new(
                FieldPath::key("to").then("commentId"),
                "a comment can be answered only with a text message",
            ));
        }
        if !content.quick_replies.is_empty() {
            return Err(Violation::new(
                FieldPath::key("quickReplies"),
                "a reply to a comment can carry only text, not quick replies",
            ));
        }
        // A private reply is exactly one message, which Instagram limits in
        // bytes: it cannot be split like other texts.
        if let Body::Text { text } = &content.body
            && text.len() > COMMENT_REPLY_MAX_BYTES
        {
            return Err(Violation::new(
                FieldPath::key("text"),
                format!(
                    "a reply to a comment is one message of at most {COMMENT_REPLY_MAX_BYTES} bytes in UTF-8; this one has {}",
                    text.len()
                ),
            ));
        }
    }
    match &content.body {
        Body::Text { text } if !content.quick_replies.is_empty() => {
            check_text(text, FieldPath::key("text"), limits.interactive_text_max_chars)?;
        }
        Body::Text { text } => check_text(text, FieldPath::key("text"), limits.text_max_chars)?,
        Body::Media(media) => check_media(media, limits)?,
        Body::Template(template) => {
            if !limits.templates_and_stickers {
                return Err(unsupported("template", "generic templates", limits));
            }
            check_template(template)?;
        }
        Body::Sticker { .. } => {
            if !limits.templates_and_stickers {
                return Err(unsupported("sticker", "stickers", limits));
            }
        }
        Body::Location(location) => {
            if !limits.locations_and_contacts {
                return Err(unsupported("location", "locations", limits));
            }
            if !(-90.0..=90.0).contains(&location.latitude) {
                return Err(Violation::new(
                    FieldPath::key("location").then("latitude"),
                    "must be between -90 and 90",
                ));
            }
            if !(-180.0..=180.0).contains(&location.longitude) {
                return Err(Violation::new(
                    FieldPath::key("location").then("longitude"),
                    "must be between -180 and 180",
                ));
            }
        }
        Body::Reaction { message_id, emoji } => {
            if !limits.reactions {
                return Err(unsupported("reaction", "reactions", limits));
            }
            if message_id.trim().is_empty() {
                return Err(Violation::new(
                    FieldPath::key("reaction").then("messageId"),
                    "must not be empty",
                ));
            }
            if let Some(emoji) = emoji
                && (emoji.is_empty() || emoji.chars().count() > 8)
            {
                return Err(Violation::new(
                    FieldPath::key("reaction").then("emoji"),
                    "must be one emoji",
                ));
            }
        }
        Body::List(list) => {
            if !limits.lists_and_message_templates {
                return Err(unsupported("list", "list messages", limits));
            }
            check_list(list, limits)?;
        }
        Body::MessageTemplate(template) => {
            if !limits.lists_and_message_templates {
                return Err(unsupported("messageTemplate", "message templates", limits));
            }
            check_message_template(template)?;
        }
        Body::Contact(card) => {
            if !limits.locations_and_contacts {
                return Err(unsupported("contact", "contact cards", limits));
            }
            if card.phone.is_empty() || !card.phone.chars().all(|c| c.is_ascii_digit()) {
                return Err(Violation::new(
                    FieldPath::key("contact").then("phone"),
                    "must be digits only",
                ));
            }
        }
    }
    if limits.quick_replies_on_text_only
        && !content.quick_replies.is_empty()
        && !matches!(content.body, Body::Text { .. })
    {
        return Err(Violation::new(
            FieldPath::key("quickReplies"),
            format!(
                "the {} connector carries quick replies (reply buttons) only on a text message",
                limits.connector
            ),
        ));
    }
    check_quick_replies(&content.quick_replies, limits)
}

fn check_list(list: &ListMessage, limits: &ContentLimits) -> Result<(), Violation> {
    let at = FieldPath::key("list");
    check_text(&list.text, at.clone().then("text"), limits.interactive_text_max_chars)?;
    check_text(&list.button, at.clone().then("button"), LIST_BUTTON_MAX_CHARS)?;
    let sections = at.then("sections");
    if list.sections.is_empty() {
        return Err(Violation::new(sections, "must have at least one section"));
    }
    if list.sections.len() > LIST_SECTIONS_MAX {
        return Err(Violation::new(
            sections,
            format!(
                "has {} sections; at most {LIST_SECTIONS_MAX} are allowed",
                list.sections.len()
            ),
        ));
    }
    let rows: usize = list.sections.iter().map(|s| s.rows.len()).sum();
    if rows > LIST_ROWS_MAX {
        return Err(Violation::new(
            sections,
            format!("has {rows} rows in all; at most {LIST_ROWS_MAX} are allowed"),
        ));
    }
    let mut ids: Vec<&str> = Vec::with_capacity(rows);
    for (i, section) in list.sections.iter().enumerate() {
        let at = sections.clone().at(i);
        match &section.title {
            Some(title) => check_text(title, at.clone().then("title"), LIST_TITLE_MAX_CHARS)?,
            None if list.sections.len() > 1 => {
                return Err(Violation::new(
                    at.then("title"),
                    "is required when a list has several sections",
                ));
            }
            None => {}
        }
        if section.rows.is_empty() {
            return Err(Violation::new(at.then("rows"), "must have at least one row"));
        }
        for (j, row) in section.rows.iter().enumerate() {
            let at = at.clone().then("rows").at(j);
            check_text(&row.id, at.clone().then("id"), LIST_ROW_ID_MAX_CHARS)?;
            check_text(&row.title, at.clone().then("title"), LIST_TITLE_MAX_CHARS)?;
            if let Some(description) = &row.description {
                check_len(description, at.clone().then("description"), LIST_DESCRIPTION_MAX_CHARS)?;
            }
            if ids.contains(&row.id.as_str()) {
                return Err(Violation::new(at.then("id"), "must be unique within the list"));
            }
            ids.push(&row.id);
        }
    }
    Ok(())
}

fn check_message_template(template: &MessageTemplate) -> Result<(), Violation> {
    let at = FieldPath::key("messageTemplate");
    check_text(&template.name, at.clone().then("name"), TEMPLATE_NAME_MAX_CHARS)?;
    let name_ok =
        template.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !name_ok {
        return Err(Violation::new(
            at.then("name"),
            "must be the template's name: lowercase letters, digits and underscores",
        ));
    }
    let language_ok = (2..=15).contains(&template.language.len())
        && template.language.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !language_ok {
        return Err(Violation::new(
            at.clone().then("language"),
            "must be a language code such as en_US or ru",
        ));
    }
    for (i, component) in template.components.iter().enumerate() {
        if component.get("type").and_then(serde_json::Value::as_str).is_none() {
            return Err(Violation::new(
                at.clone().then("components").at(i).then("type"),
                "is required (header, body, button, …)",
            ));
        }
    }
    Ok(())
}

fn unsupported(field: &'static str, what: &str, limits: &ContentLimits) -> Violation {
    Violation::new(
        FieldPath::key(field),
        format!("the {} connector cannot send {what}", limits.connector),
    )
}

fn check_recipient(recipient: &Recipient, limits: &ContentLimits) -> Result<(), Violation> {
    let field = match recipient {
        Recipient::User(_) => FieldPath::key("to").then("id"),
        Recipient::Comment(_) => {
            if !limits.comment_replies {
                return Err(Violation::new(
                    FieldPath::key("to").then("commentId"),
                    format!("the {} connector cannot reply to comments", limits.connector),
                ));
            }
            FieldPath::key("to").then("commentId")
        }
    };
    let id = recipient.id();
    if id.trim().is_empty() {
        return Err(Violation::new(field, "must not be empty"));
    }
    if id.chars().count() > RECIPIENT_ID_MAX_CHARS
        || id.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(Violation::new(
            field,
            format!("must be at most {RECIPIENT_ID_MAX_CHARS} characters with no spaces"),
        ));
    }
    Ok(())
}

fn check_text(text: &str, field: FieldPath, max: usize) -> Result<(), Violation> {
    if text.trim().is_empty() {
        return Err(Violation::new(field, "must not be empty"));
    }
    check_len(text, field, max)
}

fn check_len(text: &str, field: FieldPath, max: usize) -> Result<(), Violation> {
    let len = text.chars().count();
    if len > max {
        return Err(Violation::new(
            field,
            format!("is {len} characters long; at most {max} are allowed"),
        ));
    }
    Ok(())
}

fn check_media(media: &Media, limits: &ContentLimits) -> Result<(), Violation> {
    check_http_url(&media.url, FieldPath::key("media").then("url"))?;
    if let Some(caption) = &media.caption {
        check_len(caption, FieldPath::key("media").then("caption"), limits.caption_max_chars)?;
    }
    if let Some(name) = &media.file_name {
        let field = FieldPath::key("media").then("fileName");
        check_text(name, field.clone(), FILE_NAME_MAX_CHARS)?;
        if name.chars().any(|c| c.is_control() || c == '/' || c == '\\') {
            return Err(Violation::new(field, "must be a file name, without slashes"));
        }
    }
    Ok(())
}

fn check_quick_replies(replies: &[QuickReply], limits: &ContentLimits) -> Result<(), Violation> {
    let field = FieldPath::key("quickReplies");
    if replies.len() > limits.quick_replies_max {
        return Err(Violation::new(
            field,
            format!(
                "has {} quick replies; at most {} are allowed",
                replies.len(),
                limits.quick_replies_max
            ),
        ));
    }
    for (i, reply) in replies.iter().enumerate() {
        check_text(
            &reply.title,
            field.clone().at(i).then("title"),
            limits.quick_reply_title_max_chars,
        )?;
        if let Some(payload) = &reply.payload {
            check_text(
                payload,
                field.clone().at(i).then("payload"),
                limits.quick_reply_payload_max_chars,
            )?;
        }
    }
    Ok(())
}

fn check_template(template: &GenericTemplate) -> Result<(), Violation> {
    let field = FieldPath::key("template").then("elements");
    if template.elements.is_empty() {
        return Err(Violation::new(field, "must have at least one element"));
    }
    if template.elements.len() > TEMPLATE_ELEMENTS_MAX {
        return Err(Violation::new(
            field,
            format!(
                "has {} elements; at most {TEMPLATE_ELEMENTS_MAX} are allowed",
                template.elements.len()
            ),
        ));
    }
    for (i, element) in template.elements.iter().enumerate() {
        let at = field.clone().at(i);
        check_text(&element.title, at.clone().then("title"), TEMPLATE_TEXT_MAX_CHARS)?;
        if let Some(subtitle) = &element.subtitle {
            check_len(subtitle, at.clone().then("subtitle"), TEMPLATE_TEXT_MAX_CHARS)?;
        }
        if let Some(url) = &element.image_url {
            check_http_url(url, at.clone().then("imageUrl"))?;
        }
        if let Some(url) = &element.default_action_url {
            check_http_url(url, at.clone().then("defaultActionUrl"))?;
        }
        if element.buttons.len() > TEMPLATE_BUTTONS_MAX {
            return Err(Violation::new(
                at.then("buttons"),
                format!(
                    "has {} buttons; at most {TEMPLATE_BUTTONS_MAX} are allowed",
                    element.buttons.len()
                ),
            ));
        }
        for (j, button) in element.buttons.iter().enumerate() {
            let at = at.clone().then("buttons").at(j);
            match button {
                TemplateButton::WebUrl { title, url } => {
                    check_text(title, at.clone().then("title"), BUTTON_TITLE_MAX_CHARS)?;
                    check_http_url(url, at.then("url"))?;
                }
                TemplateButton::Postback { title, payload } => {
                    check_text(title, at.clone().then("title"), BUTTON_TITLE_MAX_CHARS)?;
                    check_text(payload, at.then("payload"), POSTBACK_PAYLOAD_MAX_CHARS)?;
                }
            }
        }
    }
    Ok(())
}

/// Checks that `url` is an absolute http(s) URL with a host, at most
/// [`URL_MAX_CHARS`] long. (Where it may point — no private networks — is
/// checked when connecting, on the resolved address.)
pub fn check_http_url(url: &str, field: FieldPath) -> Result<(), Violation> {
    if url.len() > URL_MAX_CHARS {
        return Err(Violation::new(field, format!("is longer than {URL_MAX_CHARS} characters")));
    }
    match url::Url::parse(url) {
        Ok(parsed)
            if matches!(parsed.scheme(), "http" | "https")
                && parsed.host_str().is_some_and(|h| !h.is_empty()) =>
        {
            Ok(())
        }
        _ => Err(Violation::new(field, "must be an absolute http:// or https:// URL")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{MediaKind, Sticker, TemplateElement};

    fn user() -> Recipient {
        Recipient::User("17841400000000001".into())
    }

    fn field_of(result: Result<(), Violation>) -> String {
        result.unwrap_err().field.to_string()
    }

    #[test]
    fn a_plain_text_passes() {
        check_message(&user(), &Content::text("hello"), &ContentLimits::INSTAGRAM).unwrap();
    }

    #[test]
    fn a_comment_reply_is_limited_to_1000_bytes_as_it_cannot_be_split() {
        let comment = Recipient::Comment("1790".into());
        let cyrillic = "ж".repeat(501);
        let err = check_message(&comment, &Content::text(cyrillic), &ContentLimits::INSTAGRAM)
            .unwrap_err();
        assert_eq!(err.field.to_string(), "text");
        assert!(err.message.contains("1002"), "{}", err.message);
        let fits = "ж".repeat(500);
        check_message(&comment, &Content::text(fits), &ContentLimits::INSTAGRAM).unwrap();
    }

    #[test]
    fn text_is_limited_to_1000_characters_on_instagram_but_not_bytes() {
        let cyrillic = "ж".repeat(1000);
        check_message(&user(), &Content::text(cyrillic), &ContentLimits::INSTAGRAM).unwrap();
        let long = "a".repeat(1001);
        let err =
            check_message(&user(), &Content::text(long), &ContentLimits::INSTAGRAM).unwrap_err();
        assert_eq!(err.field.to_string(), "text");
        assert!(err.message.contains("1001"), "{}", err.message);
    }

    #[test]
    fn an_empty_text_is_refused() {
        assert_eq!(
            field_of(check_message(&user(), &Content::text("  "), &ContentLimits::INSTAGRAM)),
            "text"
        );
    }

    #[test]
    fn more_than_13_quick_replies_are_refused_and_titles_are_limited_to_20() {
        let reply = |t: &str| QuickReply { title: t.into(), payload: None };
        let mut content = Content::text("pick");
        content.quick_replies = (0..14).map(|i| reply(&i.to_string())).collect();
        assert_eq!(
            field_of(check_message(&user(), &content, &ContentLimits::INSTAGRAM)),
            "quickReplies"
        );
        content.quick_replies = vec![reply("ok"), reply(&"x".repeat(21))];
        assert_eq!(
            field_of(check_message(&user(), &content, &ContentLimits::INSTAGRAM)),
            "quickReplies[1].title"
        );
    }

    #[test]
    fn a_comment_can_be_answered_only_with_text() {
        let comment = Recipient::Comment("178000111".into());
        check_message(&comment, &Content::text("thanks"), &ContentLimits::INSTAGRAM).unwrap();
        let media = Content {
            body: Body::Media(Media {
                kind: MediaKind::Image,
                url: "https://x.test/a.png".into(),
                caption: None,
                file_name: None,
            }),
            quick_replies: vec![],
            reply_to: None,
        };
        assert_eq!(
            field_of(check_message(&comment, &media, &ContentLimits::INSTAGRAM)),
            "to.commentId"
        );
    }

    #[test]
    fn template_limits_follow_seed_002() {
        let element = |title: &str| TemplateElement {
            title: title.into(),
            subtitle: None,
            image_url: None,
            default_action_url: None,
            buttons: vec![],
        };
        let template = |elements| Content {
            body: Body::Template(GenericTemplate { elements }),
            quick_replies: vec![],
            reply_to: None,
        };
        let eleven = (0..11).map(|_| element("t")).collect();
        assert_eq!(
            field_of(check_message(&user(), &template(eleven), &ContentLimits::INSTAGRAM)),
            "template.elements"
        );
        let long_title = vec![element(&"t".repeat(81))];
        assert_eq!(
            field_of(check_message(&user(), &template(long_title), &ContentLimits::INSTAGRAM)),
            "template.elements[0].title"
        );
        let mut four_buttons = element("t");
        four_buttons.buttons = (0..4)
            .map(|_| TemplateButton::Postback { title: "b".into(), payload: "p".into() })
            .collect();
        assert_eq!(
            field_of(check_message(
                &user(),
                &template(vec![four_buttons]),
                &ContentLimits::INSTAGRAM
            )),
            "template.elements[0].buttons"
        );
    }

    #[test]
    fn media_urls_must_be_http() {
        let media = |url: &str| Content {
            body: Body::Media(Media {
                kind: MediaKind::Video,
                url: url.into(),
                caption: None,
                file_name: None,
            }),
            quick_replies: vec![],
            reply_to: None,
        };
        check_message(&user(), &media("https://cdn.test/v.mp4"), &ContentLimits::INSTAGRAM)
            .unwrap();
        assert_eq!(
            field_of(check_message(
                &user(),
                &media("file:///etc/passwd"),
                &ContentLimits::INSTAGRAM
            )),
            "media.url"
        );
        assert_eq!(
            field_of(check_message(&user(), &media("not a url"), &ContentLimits::INSTAGRAM)),
            "media.url"
        );
    }

    #[test]
    fn a_whatsapp_text_with_buttons_is_limited_to_1024_characters() {
        let mut content = Content::text("x".repeat(1025));
        check_message(&user(), &content, &ContentLimits::WHATSAPP).unwrap();
        content.quick_replies = vec![QuickReply { title: "ok".into(), payload: None }];
        let err = check_message(&user(), &content, &ContentLimits::WHATSAPP).unwrap_err();
        assert_eq!(err.field.to_string(), "text");
        assert!(err.message.contains("1024"), "{}", err.message);
    }

    #[test]
    fn a_list_needs_rows_titles_for_several_sections_and_unique_ids() {
        use crate::message::{ListMessage, ListRow, ListSection};
        let row = |id: &str| ListRow { id: id.into(), title: "t".into(), description: None };
        let list = |sections| {
            Content::of(Body::List(ListMessage {
                text: "pick".into(),
                button: "open".into(),
                sections,
            }))
        };
        let untitled = list(vec![
            ListSection { title: None, rows: vec![row("1")] },
            ListSection { title: None, rows: vec![row("2")] },
        ]);
        assert_eq!(
            field_of(check_message(&user(), &untitled, &ContentLimits::WHATSAPP)),
            "list.sections[0].title"
        );
        let empty = list(vec![ListSection { title: None, rows: vec![] }]);
        assert_eq!(
            field_of(check_message(&user(), &empty, &ContentLimits::WHATSAPP)),
            "list.sections[0].rows"
        );
        let twice = list(vec![ListSection { title: None, rows: vec![row("1"), row("1")] }]);
        assert_eq!(
            field_of(check_message(&user(), &twice, &ContentLimits::WHATSAPP)),
            "list.sections[0].rows[1].id"
        );
        let fine = list(vec![ListSection { title: None, rows: vec![row("1"), row("2")] }]);
        check_message(&user(), &fine, &ContentLimits::WHATSAPP).unwrap();
        assert_eq!(field_of(check_message(&user(), &fine, &ContentLimits::INSTAGRAM)), "list");
    }

    #[test]
    fn a_message_template_needs_a_template_name_and_a_language_code() {
        use crate::message::MessageTemplate;
        let template = |name: &str, language: &str| {
            Content::of(Body::MessageTemplate(MessageTemplate {
                name: name.into(),
                language: language.into(),
                components: vec![],
            }))
        };
        check_message(&user(), &template("order_ready", "en_US"), &ContentLimits::WHATSAPP)
            .unwrap();
        for (name, language, field) in [
            ("Order Ready", "en_US", "messageTemplate.name"),
            ("", "en_US", "messageTemplate.name"),
            ("order_ready", "e", "messageTemplate.language"),
            ("order_ready", "en US", "messageTemplate.language"),
        ] {
            assert_eq!(
                field_of(check_message(
                    &user(),
                    &template(name, language),
                    &ContentLimits::WHATSAPP
                )),
                field,
                "{name:?} {language:?}"
            );
        }
    }

    #[test]
    fn whatsapp_has_no_stickers_or_comment_replies() {
        let sticker = Content {
            body: Body::Sticker { sticker: Sticker::LikeHeart },
            quick_replies: vec![],
            reply_to: None,
        };
        assert_eq!(field_of(check_message(&user(), &sticker, &ContentLimits::WHATSAPP)), "sticker");
        let comment = Recipient::Comment("1".into());
        assert_eq!(
            field_of(check_message(&comment, &Content::text("x"), &ContentLimits::WHATSAPP)),
            "to.commentId"
        );
    }

    #[test]
    fn recipient_ids_must_not_be_empty_or_contain_spaces() {
        let content = Content::text("x");
        assert_eq!(
            field_of(check_message(
                &Recipient::User(String::new()),
                &content,
                &ContentLimits::INSTAGRAM
            )),
            "to.id"
        );
        assert_eq!(
            field_of(check_message(
                &Recipient::User("a b".into()),
                &content,
                &ContentLimits::INSTAGRAM
            )),
            "to.id"
        );
    }
}
