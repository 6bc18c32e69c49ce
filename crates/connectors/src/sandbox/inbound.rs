//! The customer's side of the sandbox: what a real platform would report
//! when a customer writes, sends a file, comments, reacts or posts a story.
//! Each request becomes exactly the event the Instagram connector produces
//! from Meta's webhook, with the same ids a private reply or a reaction
//! needs.

use chatgate_core::event::{
    EventPayload, InboundKind, InboundMedia, IncomingComment, IncomingMessage, IncomingReaction,
    IncomingStatus, ReactionAction, Sender,
};
use chatgate_core::rules::check_http_url;
use chatgate_core::{FieldPath, Violation};

/// What the customer does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncomingType {
    /// Writes text.
    Text,
    /// Sends a picture.
    Image,
    /// Sends a video.
    Video,
    /// Sends a voice message.
    Audio,
    /// Sends a file.
    File,
    /// Comments on a post.
    Comment,
    /// Reacts to a message.
    Reaction,
    /// Posts a story.
    Status,
    /// Shares a place (a WhatsApp-style message the sandbox can also play).
    Location,
    /// Shares a contact card (likewise).
    Contact,
}

impl IncomingType {
    /// Parses the wire name.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "text" => Self::Text,
            "image" => Self::Image,
            "video" => Self::Video,
            "audio" => Self::Audio,
            "file" => Self::File,
            "comment" => Self::Comment,
            "reaction" => Self::Reaction,
            "status" => Self::Status,
            "location" => Self::Location,
            "contact" => Self::Contact,
            _ => return None,
        })
    }
}

/// One customer action.
#[derive(Debug, Clone, PartialEq)]
pub struct SandboxIncoming {
    /// Who.
    pub from: Sender,
    /// What.
    pub kind: IncomingType,
    /// The text, caption, comment or reaction emoji.
    pub text: Option<String>,
    /// The file's URL (media and statuses).
    pub url: Option<String>,
    /// The file's MIME type.
    pub mime_type: Option<String>,
    /// The file's name.
    pub file_name: Option<String>,
    /// The comment's id (generated when absent).
    pub comment_id: Option<String>,
    /// The post commented on.
    pub media_id: Option<String>,
    /// The platform id of this message or status (generated when absent);
    /// sending the same id twice is a platform redelivery.
    pub id: Option<String>,
    /// For a reaction: the platform id of the message reacted to.
    pub react_to: Option<String>,
    /// For a reaction: taken back instead of added.
    pub unreact: bool,
    /// For a location: degrees north and east.
    pub latitude: Option<f64>,
    /// For a location.
    pub longitude: Option<f64>,
    /// For a location: its address.
    pub address: Option<String>,
    /// For a contact: the phone number.
    pub phone: Option<String>,
}

/// Longest text a customer may send through the sandbox.
pub const TEXT_MAX_CHARS: usize = 4096;

fn generated(prefix: &str) -> String {
    format!("sandbox.{prefix}.{}", uuid::Uuid::now_v7().simple())
}

/// The event the platform would report, or what is wrong with the request.
pub fn event(request: SandboxIncoming) -> Result<EventPayload, Violation> {
    let SandboxIncoming {
        from,
        kind,
        text,
        url,
        mime_type,
        file_name,
        comment_id,
        media_id,
        id,
        react_to,
        unreact,
        latitude,
        longitude,
        address,
        phone,
    } = request;
    if from.id.trim().is_empty() || from.id.chars().any(char::is_whitespace) {
        return Err(Violation::new(
            FieldPath::key("from").then("id"),
            "must be a non-empty id without spaces",
        ));
    }
    if let Some(text) = &text
        && text.chars().count() > TEXT_MAX_CHARS
    {
        return Err(Violation::new(
            FieldPath::key("text"),
            format!("is longer than {TEXT_MAX_CHARS} characters"),
        ));
    }
    let needs_text = |text: Option<String>| {
        text.filter(|t| !t.trim().is_empty())
            .ok_or_else(|| Violation::new(FieldPath::key("text"), "is required for this type"))
    };
    let needs_media = |url: Option<String>| -> Result<InboundMedia, Violation> {
        let url =
            url.ok_or_else(|| Violation::new(FieldPath::key("url"), "is required for this type"))?;
        check_http_url(&url, FieldPath::key("url"))?;
        Ok(InboundMedia { url, mime_type: mime_type.clone(), file_name: file_name.clone() })
    };
    Ok(match kind {
        IncomingType::Text => EventPayload::IncomingMessage(IncomingMessage {
            message_id: id.unwrap_or_else(|| generated("mid")),
            from,
            kind: InboundKind::Text,
            text: Some(needs_text(text)?),
            media: None,
            reply_to: None,
            quick_reply_payload: None,
            location: None,
            contact: None,
            story: None,
            referral: None,
        }),
        IncomingType::Image | IncomingType::Video | IncomingType::Audio | IncomingType::File => {
            let inbound = match kind {
                IncomingType::Image => InboundKind::Image,
                IncomingType::Video => InboundKind::Video,
                IncomingType::Audio => InboundKind::Audio,
                _ => InboundKind::File,
            };
            EventPayload::IncomingMessage(IncomingMessage {
                message_id: id.unwrap_or_else(|| generated("mid")),
                from,
                kind: inbound,
                text: text.filter(|t| !t.is_empty()),
                media: Some(needs_media(url)?),
                reply_to: None,
                quick_reply_payload: None,
                location: None,
                contact: None,
                story: None,
                referral: None,
            })
        }
        IncomingType::Comment => EventPayload::IncomingComment(IncomingComment {
            comment_id: comment_id.or(id).unwrap_or_else(|| generated("comment")),
            from,
            text: needs_text(text)?,
            media_id: media_id.or_else(|| Some(generated("post"))),
            parent_id: None,
        }),
        IncomingType::Reaction => {
            let message_id = react_to.ok_or_else(|| {
                Violation::new(
                    FieldPath::key("reactTo"),
                    "is required for a reaction: the providerMessageId of the message reacted to",
                )
            })?;
            EventPayload::IncomingReaction(IncomingReaction {
                message_id,
                from,
                reaction: if unreact { None } else { Some(text.unwrap_or_else(|| "❤".into())) },
                action: if unreact { ReactionAction::Unreact } else { ReactionAction::React },
            })
        }
        IncomingType::Location => {
            let (Some(latitude), Some(longitude)) = (latitude, longitude) else {
                return Err(Violation::new(
                    FieldPath::key("latitude"),
                    "latitude and longitude are required for a location",
                ));
            };
            let location =
                chatgate_core::message::Location { latitude, longitude, name: text, address };
            EventPayload::IncomingMessage(IncomingMessage {
                message_id: id.unwrap_or_else(|| generated("mid")),
                from,
                kind: InboundKind::Location,
                text: None,
                media: None,
                reply_to: None,
                quick_reply_payload: None,
                location: Some(location),
                contact: None,
                story: None,
                referral: None,
            })
        }
        IncomingType::Contact => {
            let phone = phone
                .filter(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
                .ok_or_else(|| {
                    Violation::new(FieldPath::key("phone"), "digits only, required for a contact")
                })?;
            let name = text.unwrap_or_else(|| phone.clone());
            let vcard = format!(
                "BEGIN:VCARD\nVERSION:3.0\nFN:{name}\nTEL;type=CELL;waid={phone}:+{phone}\nEND:VCARD"
            );
            EventPayload::IncomingMessage(IncomingMessage {
                message_id: id.unwrap_or_else(|| generated("mid")),
                from,
                kind: InboundKind::Contact,
                text: None,
                media: None,
                reply_to: None,
                quick_reply_payload: None,
                location: None,
                contact: Some(chatgate_core::event::SharedContact { display_name: name, vcard }),
                story: None,
                referral: None,
            })
        }
        IncomingType::Status => {
            let media = url.map(|u| needs_media(Some(u))).transpose()?;
            let status_kind = match (&media, mime_type.as_deref()) {
                (None, _) => InboundKind::Text,
                (Some(_), Some(m)) if m.starts_with("video/") => InboundKind::Video,
                (Some(_), _) => InboundKind::Image,
            };
            if media.is_none() {
                needs_text(text.clone())?;
            }
            EventPayload::IncomingStatus(IncomingStatus {
                status_id: id.unwrap_or_else(|| generated("status")),
                from,
                kind: status_kind,
                text,
                media,
            })
        }
    })
}

impl SandboxIncoming {
    /// The customer doing `kind` with nothing else said yet; the caller
    /// fills in what the action carries (`text`, `url`, …).
    pub fn new(from: Sender, kind: IncomingType) -> Self {
        Self {
            from,
            kind,
            text: None,
            url: None,
            mime_type: None,
            file_name: None,
            comment_id: None,
            media_id: None,
            id: None,
            react_to: None,
            unreact: false,
            latitude: None,
            longitude: None,
            address: None,
            phone: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(kind: IncomingType) -> SandboxIncoming {
        SandboxIncoming::new(
            Sender { id: "17841400000000001".into(), username: Some("ann".into()), name: None },
            kind,
        )
    }

    #[test]
    fn a_text_needs_text_and_gets_a_message_id() {
        assert_eq!(event(request(IncomingType::Text)).unwrap_err().field.to_string(), "text");
        let with_text = SandboxIncoming { text: Some("hi".into()), ..request(IncomingType::Text) };
        let EventPayload::IncomingMessage(m) = event(with_text).unwrap() else { panic!() };
        assert!(m.message_id.starts_with("sandbox.mid."));
        assert_eq!(m.kind, InboundKind::Text);
    }

    #[test]
    fn media_needs_an_http_url() {
        let no_url = request(IncomingType::Image);
        assert_eq!(event(no_url).unwrap_err().field.to_string(), "url");
        let bad = SandboxIncoming { url: Some("ftp://x".into()), ..request(IncomingType::Image) };
        assert_eq!(event(bad).unwrap_err().field.to_string(), "url");
    }

    #[test]
    fn a_comment_carries_the_id_a_private_reply_needs() {
        let comment = SandboxIncoming {
            text: Some("price?".into()),
            comment_id: Some("c-1".into()),
            ..request(IncomingType::Comment)
        };
        let EventPayload::IncomingComment(c) = event(comment).unwrap() else { panic!() };
        assert_eq!(c.comment_id, "c-1");
    }

    #[test]
    fn a_reaction_names_the_message_reacted_to() {
        assert_eq!(
            event(request(IncomingType::Reaction)).unwrap_err().field.to_string(),
            "reactTo"
        );
        let reaction = SandboxIncoming {
            react_to: Some("sandbox.abc".into()),
            ..request(IncomingType::Reaction)
        };
        let EventPayload::IncomingReaction(r) = event(reaction).unwrap() else { panic!() };
        assert_eq!(r.action, ReactionAction::React);
    }

    #[test]
    fn a_status_is_a_picture_a_video_or_text() {
        let video = SandboxIncoming {
            url: Some("https://cdn.example.com/s.mp4".into()),
            mime_type: Some("video/mp4".into()),
            ..request(IncomingType::Status)
        };
        let EventPayload::IncomingStatus(s) = event(video).unwrap() else { panic!() };
        assert_eq!(s.kind, InboundKind::Video);
        assert!(event(request(IncomingType::Status)).is_err(), "an empty status");
    }
}
