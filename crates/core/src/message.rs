//! Outbound messages: what a business asks to send, and the status machine
//! it moves through (`queued → sending → sent → delivered → read`, or
//! `failed` / `expired`).
//!
//! The serde form of the content types is the storage form (a JSON column),
//! not a wire format; dialects have their own wire types and convert.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::ids::{InstanceId, MessageId};

/// Who a message goes to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "camelCase")]
pub enum Recipient {
    /// A person, by the platform's id for them (Instagram-scoped id,
    /// WhatsApp id).
    User(String),
    /// A private reply to a comment, by the comment's id (Instagram allows
    /// one, text only).
    Comment(String),
}

impl Recipient {
    /// The id inside, whatever the kind.
    pub fn id(&self) -> &str {
        match self {
            Recipient::User(id) | Recipient::Comment(id) => id,
        }
    }
}

/// What kind of file a media message carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    /// A picture.
    Image,
    /// A voice message or other sound.
    Audio,
    /// A video.
    Video,
    /// Any other file (a PDF, say).
    File,
}

impl MediaKind {
    /// Every kind.
    pub const ALL: [MediaKind; 4] =
        [MediaKind::Image, MediaKind::Audio, MediaKind::Video, MediaKind::File];

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Audio => "audio",
            MediaKind::Video => "video",
            MediaKind::File => "file",
        }
    }
}

impl FromStr for MediaKind {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|k| k.as_str() == s).ok_or(())
    }
}

/// A file sent by URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Media {
    /// What kind of file.
    pub kind: MediaKind,
    /// Where the platform fetches it (http or https).
    pub url: String,
    /// Text shown with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    /// The name the recipient sees for a file (WhatsApp documents); other
    /// platforms take it from the URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
}

/// A button above the composer that sends its payload back when tapped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuickReply {
    /// The label (≤ 20 characters).
    pub title: String,
    /// Sent back when tapped (≤ 1000 characters); the title when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
}

/// A button of a template element.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TemplateButton {
    /// Opens a web page.
    WebUrl {
        /// The label.
        title: String,
        /// The page.
        url: String,
    },
    /// Sends a postback event with the payload.
    Postback {
        /// The label.
        title: String,
        /// Sent back when tapped.
        payload: String,
    },
}

/// One card of a generic template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateElement {
    /// The card's title (≤ 80 characters).
    pub title: String,
    /// The line under it (≤ 80 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtitle: Option<String>,
    /// The card's picture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    /// The page opened when the card is tapped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_action_url: Option<String>,
    /// Up to three buttons.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<TemplateButton>,
}

/// A horizontally scrolling set of cards (Meta's generic template).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenericTemplate {
    /// The cards, 1 … 10.
    pub elements: Vec<TemplateElement>,
}

/// A sticker. Instagram supports only the heart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sticker {
    /// The heart sticker.
    LikeHeart,
}

impl Sticker {
    /// The platform's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Sticker::LikeHeart => "like_heart",
        }
    }
}

/// A place on the map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Location {
    /// Degrees north, −90 … 90.
    pub latitude: f64,
    /// Degrees east, −180 … 180.
    pub longitude: f64,
    /// The place's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

impl Eq for Location {}

/// A contact card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactCard {
    /// The phone number (digits, international form).
    pub phone: String,
    /// First name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// Middle name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<String>,
    /// Last name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// Company.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
}

/// One choice of a list message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListRow {
    /// Sent back when chosen (≤ 200 characters).
    pub id: String,
    /// The choice (≤ 24 characters).
    pub title: String,
    /// A line under it (≤ 72 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A titled group of rows of a list message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListSection {
    /// The group's title (≤ 24 characters; required when there are
    /// several sections).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Its rows.
    pub rows: Vec<ListRow>,
}

/// A text with a button that opens a list of choices (WhatsApp's
/// interactive list).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListMessage {
    /// The message text (≤ 1024 characters).
    pub text: String,
    /// The label of the button that opens the list (≤ 20 characters).
    pub button: String,
    /// The sections, at most 10 rows in all.
    pub sections: Vec<ListSection>,
}

/// A message template approved for the WhatsApp Business account, by name:
/// the only kind of message WhatsApp delivers outside the 24-hour
/// customer-service window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageTemplate {
    /// The template's name.
    pub name: String,
    /// The language code of the translation to use (`en_US`, `ru`).
    pub language: String,
    /// The values of its variables, as WhatsApp's `components` array
    /// (`[{"type":"body","parameters":[{"type":"text","text":"…"}]}]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<serde_json::Value>,
}

/// The main part of a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Body {
    /// Plain text.
    Text {
        /// The text.
        text: String,
    },
    /// A file by URL.
    Media(Media),
    /// Cards with buttons.
    Template(GenericTemplate),
    /// A sticker.
    Sticker {
        /// Which sticker.
        sticker: Sticker,
    },
    /// A place (WhatsApp).
    Location(Location),
    /// A contact card (WhatsApp).
    Contact(ContactCard),
    /// A text with a list of choices (WhatsApp).
    List(ListMessage),
    /// A message template by name (WhatsApp).
    MessageTemplate(MessageTemplate),
    /// A reaction to one of the customer's messages (Instagram); without
    /// an emoji it takes a reaction back.
    Reaction {
        /// The platform id of the message reacted to.
        message_id: String,
        /// The emoji; `None` removes the reaction.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        emoji: Option<String>,
    },
}

impl Body {
    /// A short name for logs and listings.
    pub fn kind(&self) -> &'static str {
        match self {
            Body::Text { .. } => "text",
            Body::Media(media) => media.kind.as_str(),
            Body::Template(_) => "template",
            Body::Sticker { .. } => "sticker",
            Body::Location(_) => "location",
            Body::Contact(_) => "contact",
            Body::Reaction { .. } => "reaction",
            Body::List(_) => "list",
            Body::MessageTemplate(_) => "messageTemplate",
        }
    }
}

/// Everything a business asks to send in one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Content {
    /// The main part.
    pub body: Body,
    /// Buttons offered with it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quick_replies: Vec<QuickReply>,
    /// The platform id of the message this one answers (a quoted reply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
}

impl Content {
    /// A text message with no buttons.
    pub fn text(text: impl Into<String>) -> Self {
        Self { body: Body::Text { text: text.into() }, quick_replies: Vec::new(), reply_to: None }
    }

    /// A message with this body and nothing else.
    pub fn of(body: Body) -> Self {
        Self { body, quick_replies: Vec::new(), reply_to: None }
    }
}

/// Where an outbound message is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageStatus {
    /// Accepted and stored, waiting its turn.
    Queued,
    /// Handed to the connector; the answer is not in yet.
    Sending,
    /// The platform accepted it.
    Sent,
    /// The platform reports it reached the recipient.
    Delivered,
    /// The recipient read it.
    Read,
    /// It will not be sent (the reason is kept).
    Failed,
    /// It waited in the queue longer than allowed (24 h).
    Expired,
}

impl MessageStatus {
    /// Every status, in the order of the happy path first.
    pub const ALL: [MessageStatus; 7] = [
        MessageStatus::Queued,
        MessageStatus::Sending,
        MessageStatus::Sent,
        MessageStatus::Delivered,
        MessageStatus::Read,
        MessageStatus::Failed,
        MessageStatus::Expired,
    ];

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Queued => "queued",
            MessageStatus::Sending => "sending",
            MessageStatus::Sent => "sent",
            MessageStatus::Delivered => "delivered",
            MessageStatus::Read => "read",
            MessageStatus::Failed => "failed",
            MessageStatus::Expired => "expired",
        }
    }

    /// Still waiting to leave (counted in the queue).
    pub fn is_pending(self) -> bool {
        matches!(self, MessageStatus::Queued | MessageStatus::Sending)
    }

    /// No further transition will happen.
    pub fn is_final(self) -> bool {
        matches!(self, MessageStatus::Read | MessageStatus::Failed | MessageStatus::Expired)
    }

    /// Whether the machine allows `self → next`. Receipts from a platform
    /// only move forward (`sent → delivered → read`, `sent → read` when
    /// "delivered" is skipped); a late "delivered" after "read" is ignored.
    pub fn can_become(self, next: MessageStatus) -> bool {
        use MessageStatus::*;
        matches!(
            (self, next),
            (Queued, Sending | Failed | Expired)
                | (Sending, Queued | Sent | Failed | Expired)
                | (Sent, Delivered | Read | Failed)
                | (Delivered, Read)
        )
    }
}

impl fmt::Display for MessageStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MessageStatus {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|k| k.as_str() == s).ok_or(())
    }
}

/// One step of a message's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The status entered.
    pub status: MessageStatus,
    /// When.
    pub at: Timestamp,
    /// Why, when there is something to say (a retry's cause, a failure's
    /// reason).
    pub detail: Option<String>,
}

/// An outbound message as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundMessage {
    /// Its id.
    pub id: MessageId,
    /// The instance sending it.
    pub instance_id: InstanceId,
    /// Who it goes to.
    pub recipient: Recipient,
    /// What it says.
    pub content: Content,
    /// Where it is now.
    pub status: MessageStatus,
    /// Why it failed or expired.
    pub failure: Option<String>,
    /// The platform's id for it, once sent.
    pub provider_message_id: Option<String>,
    /// How many times it was handed to the connector.
    pub attempts: u32,
    /// How many of its parts (a message the platform takes in several
    /// calls) were delivered so far.
    pub parts_sent: u32,
    /// How many attempts failed transiently (network, platform errors);
    /// throttling is not counted.
    pub transient_failures: u32,
    /// The caller's callback and references, when given.
    pub callback: Option<Callback>,
    /// The caller's idempotency key, if it gave one.
    pub idempotency_key: Option<String>,
    /// When it was accepted.
    pub created_at: Timestamp,
    /// Every status it went through, oldest first (empty when not loaded).
    pub transitions: Vec<Transition>,
}

/// What the caller asked to be told about a message, as it goes
/// (imiconnect's `callbackUrl`, `callbackData`, `correlationId`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Callback {
    /// Where each status change of the message is posted, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The caller's data, echoed in every callback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// The caller's id for the message, echoed in answers and callbacks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
}

impl Callback {
    /// Whether it asks for nothing.
    pub fn is_empty(&self) -> bool {
        self.url.is_none() && self.data.is_none() && self.correlation_id.is_none()
    }
}

/// A message about to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// Its id, generated by the core.
    pub id: MessageId,
    /// The instance sending it.
    pub instance_id: InstanceId,
    /// Who it goes to.
    pub recipient: Recipient,
    /// What it says (already checked against the rules).
    pub content: Content,
    /// The caller's idempotency key.
    pub idempotency_key: Option<String>,
    /// A fingerprint of the request, to tell a retry from a different
    /// request reusing the key.
    pub request_fingerprint: Option<String>,
    /// The recipient's handle, when the caller named it (recorded on the
    /// contact).
    pub recipient_username: Option<String>,
    /// The caller's callback and references.
    pub callback: Option<Callback>,
    /// When it was accepted.
    pub created_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::MessageStatus::*;

    #[test]
    fn the_happy_path_moves_forward_one_way() {
        assert!(Queued.can_become(Sending));
        assert!(Sending.can_become(Sent));
        assert!(Sent.can_become(Delivered));
        assert!(Delivered.can_become(Read));
        assert!(Sent.can_become(Read));
        assert!(!Read.can_become(Delivered));
        assert!(!Delivered.can_become(Sent));
        assert!(!Failed.can_become(Queued));
    }

    #[test]
    fn a_retry_puts_a_message_back_in_the_queue() {
        assert!(Sending.can_become(Queued));
        assert!(!Sent.can_become(Queued));
    }

    #[test]
    fn only_read_failed_and_expired_are_final() {
        let finals: Vec<_> =
            super::MessageStatus::ALL.into_iter().filter(|s| s.is_final()).collect();
        assert_eq!(finals, vec![Read, Failed, Expired]);
    }
}
