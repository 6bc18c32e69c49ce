//! The seed's message → a core message, with the seed's own limits checked
//! first (≤ 10 quick replies with titles ≤ 20 and payloads ≤ 1000; ≤ 10
//! template elements with title and subtitle ≤ 80 and ≤ 3 buttons), and
//! core field paths renamed to the seed's.

use chatgate_core::error::{FieldPath, PathSegment};
use chatgate_core::message::{
    Body, Callback, Content, GenericTemplate, Media, MediaKind, QuickReply, Recipient, Sticker,
    TemplateButton, TemplateElement,
};

use super::error::ImiError;
use super::wire::{ButtonIn, ElementIn, MessageIn, QuickReplyIn, TemplateIn};

/// Most quick replies on one message (seed 002).
pub const QUICK_REPLIES_MAX: usize = 10;
/// Longest quick-reply title.
pub const QUICK_REPLY_TITLE_MAX: usize = 20;
/// Longest quick-reply payload.
pub const QUICK_REPLY_PAYLOAD_MAX: usize = 1000;
/// Most template elements.
pub const ELEMENTS_MAX: usize = 10;
/// Longest element title or subtitle.
pub const ELEMENT_TEXT_MAX: usize = 80;
/// Most buttons on an element.
pub const BUTTONS_MAX: usize = 3;

/// What a request asks to send.
#[derive(Debug)]
pub struct Outgoing {
    /// Who it goes to.
    pub recipient: Recipient,
    /// What it says.
    pub content: Content,
    /// Callback and references.
    pub callback: Callback,
    /// `contentType` as given (upper case), for answers.
    pub content_type: String,
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

fn required<'a>(value: &'a Option<String>, field: &str) -> Result<&'a str, ImiError> {
    match value.as_deref() {
        Some(v) if !v.trim().is_empty() => Ok(v),
        _ => Err(ImiError::invalid(field, format!("{field} is mandatory"))),
    }
}

fn one_of(value: &Option<String>, field: &str, allowed: &[&str]) -> Result<(), ImiError> {
    match value {
        Some(v) if !allowed.iter().any(|a| a.eq_ignore_ascii_case(v)) => Err(ImiError::invalid(
            field,
            format!("{field} must be one of {}, not {v:?}", allowed.join(", ")),
        )),
        _ => Ok(()),
    }
}

/// A URL as the seed writes them: `www.google.com` means `https://www.google.com`.
fn web_url(url: &str) -> String {
    let url = url.trim();
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") || url.contains("://") {
        url.to_owned()
    } else {
        format!("https://{url}")
    }
}

/// Converts and checks a request.
pub fn outgoing(message: MessageIn) -> Result<Outgoing, ImiError> {
    let content_type = required(&message.content_type, "contentType")?.to_ascii_uppercase();
    required(&message.from, "from")?;
    let to = required(&message.to, "to")?.to_owned();
    one_of(&message.messaging_type, "messagingType", &["RESPONSE", "UPDATE", "MESSAGE_TAG"])?;
    one_of(&message.notification_type, "notificationType", &["REGULAR", "SILENT_PUSH", "NO_PUSH"])?;
    let body = match content_type.as_str() {
        "TEXT" => Body::Text { text: required(&message.content, "content")?.to_owned() },
        "MEDIA" => Body::Media(Media {
            // "The channel only supports image at the moment."
            kind: MediaKind::Image,
            url: required(&message.url, "url")?.to_owned(),
            caption: None,
            file_name: None,
        }),
        "STICKER" => {
            let sticker = required(&message.sticker, "type")?;
            if sticker != Sticker::LikeHeart.as_str() {
                return Err(ImiError::invalid(
                    "type",
                    format!("the only sticker is like_heart, not {sticker:?}"),
                ));
            }
            Body::Sticker { sticker: Sticker::LikeHeart }
        }
        "TEMPLATE" => {
            let elements = match message.template {
                None => {
                    return Err(ImiError::invalid(
                        "template",
                        "template is mandatory for TEMPLATE",
                    ));
                }
                Some(TemplateIn::Elements(elements)) => elements,
                Some(TemplateIn::Object { template_type, elements }) => {
                    one_of(&template_type, "template.template_type", &["generic"])?;
                    elements
                }
            };
            Body::Template(template(elements)?)
        }
        other => {
            return Err(ImiError::invalid(
                "contentType",
                format!("contentType must be TEXT, TEMPLATE, MEDIA or STICKER, not {other:?}"),
            ));
        }
    };
    let quick_replies = quick_replies(message.quick_replies.unwrap_or_default())?;
    Ok(Outgoing {
        recipient: Recipient::User(to),
        content: Content { body, quick_replies, reply_to: None },
        callback: Callback {
            url: message.callback_url.filter(|u| !u.trim().is_empty()),
            data: message.callback_data,
            correlation_id: message.correlation_id,
        },
        content_type,
    })
}

fn quick_replies(replies: Vec<QuickReplyIn>) -> Result<Vec<QuickReply>, ImiError> {
    if replies.len() > QUICK_REPLIES_MAX {
        return Err(ImiError::invalid(
            "quickReplies",
            format!(
                "at most {QUICK_REPLIES_MAX} quick replies; this message has {}",
                replies.len()
            ),
        ));
    }
    replies
        .into_iter()
        .enumerate()
        .map(|(i, reply)| {
            let at = |name: &str| format!("quickReplies[{i}].{name}");
            one_of(&reply.kind, &at("type"), &["TEXT"])?;
            let title = required(&reply.title, &at("title"))?;
            if chars(title) > QUICK_REPLY_TITLE_MAX {
                return Err(ImiError::invalid(
                    at("title"),
                    format!(
                        "is {} characters long; at most {QUICK_REPLY_TITLE_MAX} are allowed",
                        chars(title)
                    ),
                ));
            }
            let payload = required(&reply.payload, &at("payload"))?;
            if chars(payload) > QUICK_REPLY_PAYLOAD_MAX {
                return Err(ImiError::invalid(
                    at("payload"),
                    format!(
                        "is {} characters long; at most {QUICK_REPLY_PAYLOAD_MAX} are allowed",
                        chars(payload)
                    ),
                ));
            }
            Ok(QuickReply { title: title.to_owned(), payload: Some(payload.to_owned()) })
        })
        .collect()
}

fn template(elements: Vec<ElementIn>) -> Result<GenericTemplate, ImiError> {
    if elements.is_empty() || elements.len() > ELEMENTS_MAX {
        return Err(ImiError::invalid(
            "template",
            format!("a template has 1 to {ELEMENTS_MAX} elements; this one has {}", elements.len()),
        ));
    }
    let elements = elements
        .into_iter()
        .enumerate()
        .map(|(i, element)| {
            let at = |name: &str| format!("template[{i}].{name}");
            let title = required(&element.title, &at("title"))?;
            for (name, text) in [("title", Some(title)), ("subtitle", element.subtitle.as_deref())]
            {
                if let Some(text) = text
                    && chars(text) > ELEMENT_TEXT_MAX
                {
                    return Err(ImiError::invalid(
                        at(name),
                        format!(
                            "is {} characters long; at most {ELEMENT_TEXT_MAX} are allowed",
                            chars(text)
                        ),
                    ));
                }
            }
            let default_action_url = match element.default_action {
                None => None,
                Some(action) => {
                    one_of(&action.kind, &at("defaultAction.type"), &["WEB_URL"])?;
                    Some(web_url(required(&action.url, &at("defaultAction.url"))?))
                }
            };
            let buttons = element.buttons.unwrap_or_default();
            if buttons.len() > BUTTONS_MAX {
                return Err(ImiError::invalid(
                    at("buttons"),
                    format!("at most {BUTTONS_MAX} buttons; this element has {}", buttons.len()),
                ));
            }
            let buttons = buttons
                .into_iter()
                .enumerate()
                .map(|(j, b)| button(b, &format!("template[{i}].buttons[{j}]")))
                .collect::<Result<_, _>>()?;
            Ok(TemplateElement {
                title: title.to_owned(),
                subtitle: element.subtitle,
                image_url: element.image_url,
                default_action_url,
                buttons,
            })
        })
        .collect::<Result<_, ImiError>>()?;
    Ok(GenericTemplate { elements })
}

fn button(button: ButtonIn, at: &str) -> Result<TemplateButton, ImiError> {
    let field = |name: &str| format!("{at}.{name}");
    let title = required(&button.title, &field("title"))?.to_owned();
    match required(&button.kind, &field("type"))?.to_ascii_lowercase().as_str() {
        "web_url" => Ok(TemplateButton::WebUrl {
            title,
            url: web_url(required(&button.url, &field("url"))?),
        }),
        "postback" => Ok(TemplateButton::Postback {
            title,
            payload: required(&button.payload, &field("payload"))?.to_owned(),
        }),
        other => Err(ImiError::invalid(
            field("type"),
            format!("a button is web_url or postback, not {other:?}"),
        )),
    }
}

/// A core field path in the seed's naming: `text` is `content`,
/// `media.url` is `url`, `sticker` is `type`, `template.elements[2].imageUrl`
/// is `template[2].imageUrl`, `to.id` is `to`.
pub fn imiconnect_field(path: &FieldPath) -> String {
    let segments = path.segments();
    let mut out = String::new();
    let mut rest = segments;
    match segments {
        [PathSegment::Key("text"), tail @ ..] => {
            out.push_str("content");
            rest = tail;
        }
        [PathSegment::Key("media"), PathSegment::Key(_), tail @ ..]
        | [PathSegment::Key("media"), tail @ ..] => {
            out.push_str("url");
            rest = tail;
        }
        [PathSegment::Key("sticker"), tail @ ..] => {
            out.push_str("type");
            rest = tail;
        }
        [PathSegment::Key("template"), PathSegment::Key("elements"), tail @ ..] => {
            out.push_str("template");
            rest = tail;
        }
        [PathSegment::Key("to"), PathSegment::Key(_), tail @ ..] => {
            out.push_str("to");
            rest = tail;
        }
        _ => {}
    }
    for segment in rest {
        match segment {
            PathSegment::Key("defaultActionUrl") => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str("defaultAction.url");
            }
            PathSegment::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            PathSegment::Index(n) => {
                out.push('[');
                out.push_str(&n.to_string());
                out.push(']');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_paths_read_in_the_seed_s_names() {
        let cases = [
            (FieldPath::key("text"), "content"),
            (FieldPath::key("media").then("url"), "url"),
            (FieldPath::key("sticker"), "type"),
            (
                FieldPath::key("template").then("elements").at(2).then("imageUrl"),
                "template[2].imageUrl",
            ),
            (
                FieldPath::key("template").then("elements").at(0).then("defaultActionUrl"),
                "template[0].defaultAction.url",
            ),
            (FieldPath::key("quickReplies").at(1).then("title"), "quickReplies[1].title"),
            (FieldPath::key("to").then("id"), "to"),
            (FieldPath::key("callbackUrl"), "callbackUrl"),
        ];
        for (path, expected) in cases {
            assert_eq!(imiconnect_field(&path), expected);
        }
    }

    #[test]
    fn a_url_without_a_scheme_is_taken_as_https() {
        assert_eq!(web_url("www.google.com"), "https://www.google.com");
        assert_eq!(web_url("http://x.example"), "http://x.example");
    }
}
