//! Events: everything that happens to an instance, journaled before anyone
//! is told. Each has a stable id (the webhook id consumers deduplicate on),
//! a per-instance sequence number and a typed payload.
//!
//! The serde form of [`EventPayload`] is the storage form (a JSON column),
//! not a wire format; every dialect renders events in its own shape.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::clock::Timestamp;
use crate::ids::{InstanceId, InvalidId, MessageId};
use crate::instance::InstanceState;
use crate::message::{Content, MessageStatus, Recipient};
use crate::settings::Settings;

/// The id of an event: a UUIDv7, so ids sort by time. It is the
/// `webhook-id` of every push of the event, retries and replays included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventId(Uuid);

impl EventId {
    /// A fresh time-ordered id.
    pub fn generate() -> Self {
        Self(Uuid::now_v7())
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for EventId {
    type Err = InvalidId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(Self).map_err(|_| InvalidId)
    }
}

/// The person behind an inbound event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sender {
    /// The platform's id for them (Instagram-scoped id, WhatsApp id).
    pub id: String,
    /// Their public handle, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Their profile name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// What an inbound message or status carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InboundKind {
    /// Text only.
    Text,
    /// A picture.
    Image,
    /// A video.
    Video,
    /// A voice message or other sound.
    Audio,
    /// Another file.
    File,
    /// A place on the map (WhatsApp).
    Location,
    /// A contact card (WhatsApp).
    Contact,
    /// A shared post, reel or link (Instagram `share`, `ig_post`, `ig_reel`).
    Share,
    /// A mention of the account in the customer's story.
    StoryMention,
    /// Something the platform cannot show through its API.
    Unsupported,
}

impl InboundKind {
    /// Every kind.
    pub const ALL: [InboundKind; 5] = [
        InboundKind::Text,
        InboundKind::Image,
        InboundKind::Video,
        InboundKind::Audio,
        InboundKind::File,
    ];

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            InboundKind::Text => "text",
            InboundKind::Image => "image",
            InboundKind::Video => "video",
            InboundKind::Audio => "audio",
            InboundKind::File => "file",
            InboundKind::Location => "location",
            InboundKind::Contact => "contact",
            InboundKind::Share => "share",
            InboundKind::StoryMention => "storyMention",
            InboundKind::Unsupported => "unsupported",
        }
    }
}

/// A file that arrived, by the URL it can be downloaded from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InboundMedia {
    /// Where to download it.
    pub url: String,
    /// Its MIME type, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// Its file name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
}

/// A customer wrote to the instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IncomingMessage {
    /// The platform's id for the message (Meta's `mid`).
    pub message_id: String,
    /// Who wrote.
    pub from: Sender,
    /// What kind of message.
    pub kind: InboundKind,
    /// The text, or a media caption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The file, for media.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<InboundMedia>,
    /// The platform id of the message this one answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// The payload of the quick reply the customer tapped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quick_reply_payload: Option<String>,
    /// The place, for a location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<crate::message::Location>,
    /// The card, for a contact: its display name and vCard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<SharedContact>,
    /// The story this message answers or mentions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub story: Option<StoryRef>,
    /// Where the customer came from (an ad, a shop product).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral: Option<ReferralInfo>,
}

/// A story a message refers to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoryRef {
    /// The story's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Where its media can be fetched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// Where a customer came from.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReferralInfo {
    /// The `ref` parameter of the link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// `ADS`, `SHORTLINK`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// `OPEN_THREAD`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The ad, when it came from one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ad_id: Option<String>,
    /// The shop product, when it came from one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
}

/// A message the account sent from somewhere other than chatgate (the
/// Instagram app, another tool), reported back by the platform (an echo).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutgoingMessage {
    /// The platform's id for it.
    pub message_id: String,
    /// Who it went to.
    pub to: Sender,
    /// What kind of message.
    pub kind: InboundKind,
    /// Its text or caption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Its file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<InboundMedia>,
}

/// A customer took back (unsent) a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageDeleted {
    /// The platform's id of the message.
    pub message_id: String,
    /// Who deleted it.
    pub from: Sender,
}

/// A customer edited a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageEdited {
    /// The platform's id of the message.
    pub message_id: String,
    /// Who edited it.
    pub from: Sender,
    /// The new text.
    pub text: String,
    /// How many times it was edited.
    pub edits: u32,
}

/// A customer tapped a postback button (of a template).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Postback {
    /// The platform's id of the postback.
    pub message_id: String,
    /// Who tapped.
    pub from: Sender,
    /// The button's title.
    pub title: String,
    /// The button's payload.
    pub payload: String,
}

/// A customer opened the conversation from a link or an ad.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Referral {
    /// Who.
    pub from: Sender,
    /// From where.
    pub referral: ReferralInfo,
}

/// A platform event chatgate does not know: kept as it came.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawEvent {
    /// The platform's name for it (the key of the event object).
    pub kind: String,
    /// The event as the platform sent it.
    pub raw: serde_json::Value,
}

/// A contact card a customer shared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SharedContact {
    /// The name shown.
    pub display_name: String,
    /// The card as a vCard.
    pub vcard: String,
}

/// A customer commented on one of the account's posts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IncomingComment {
    /// The comment's id: send a private reply to it with `to.commentId`.
    pub comment_id: String,
    /// Who commented.
    pub from: Sender,
    /// The comment.
    pub text: String,
    /// The post or reel commented on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_id: Option<String>,
    /// The comment this one answers, in a thread.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
}

/// Whether a reaction was added or taken back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReactionAction {
    /// Added.
    React,
    /// Removed.
    Unreact,
}

/// A customer reacted to a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IncomingReaction {
    /// The platform id of the message reacted to.
    pub message_id: String,
    /// Who reacted.
    pub from: Sender,
    /// The emoji (absent when taken back).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reaction: Option<String>,
    /// Added or removed.
    pub action: ReactionAction,
}

/// A customer posted a status (a story) the instance can see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IncomingStatus {
    /// The platform's id for the status.
    pub status_id: String,
    /// Whose status.
    pub from: Sender,
    /// Text, image or video.
    pub kind: InboundKind,
    /// Its text or caption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Its picture or video.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<InboundMedia>,
}

/// A message sent through the API left (GREEN-API's
/// outgoingAPIMessageReceived).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutgoingApiMessage {
    /// chatgate's id for it.
    pub message_id: MessageId,
    /// The platform's id for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_message_id: Option<String>,
    /// Who it went to.
    pub to: Recipient,
    /// The recipient as a contact, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<Sender>,
    /// What it said.
    pub content: Content,
}

/// An outbound message changed status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageStatusChange {
    /// chatgate's id for it.
    pub message_id: MessageId,
    /// The platform's id for it, once sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_message_id: Option<String>,
    /// Who it goes to.
    pub to: Recipient,
    /// The recipient as a contact, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<Sender>,
    /// `sent`, `delivered`, `read`, `failed` or `expired`.
    pub status: MessageStatus,
    /// Why it failed or expired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// An earlier attempt at the message was cut short (the process died
    /// mid-send), so the platform may have received it twice: set on the
    /// `sent` or `failed` status that follows such an attempt.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub possible_duplicate: bool,
}

/// The instance's state changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateChange {
    /// The new state.
    pub state: InstanceState,
    /// Why, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The instance's webhook was switched off because the receiver answered
/// 410 Gone; notifications wait in the queue for pulling.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookDisabled {
    /// The URL that answered 410.
    pub url: String,
    /// Why it was switched off.
    pub reason: String,
}

/// What happened.
// Events are built once and serialized; the size of the largest variant
// costs nothing worth a box on every match.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "camelCase")]
pub enum EventPayload {
    /// A customer wrote.
    IncomingMessage(IncomingMessage),
    /// A customer commented.
    IncomingComment(IncomingComment),
    /// A customer reacted.
    IncomingReaction(IncomingReaction),
    /// A customer posted a status.
    IncomingStatus(IncomingStatus),
    /// A message sent through the API left.
    OutgoingApiMessage(OutgoingApiMessage),
    /// An outbound message changed status.
    MessageStatus(MessageStatusChange),
    /// The instance's state changed.
    StateChanged(StateChange),
    /// The webhook was switched off after a 410.
    WebhookDisabled(WebhookDisabled),
    /// The account sent a message from elsewhere (an echo).
    OutgoingMessage(OutgoingMessage),
    /// A customer took back a message.
    MessageDeleted(MessageDeleted),
    /// A customer edited a message.
    MessageEdited(MessageEdited),
    /// A customer tapped a postback button.
    Postback(Postback),
    /// A customer came from a link or an ad.
    Referral(Referral),
    /// A platform event chatgate does not know, kept raw.
    Raw(RawEvent),
}

/// Which notification switch (seed 003's settings) governs an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventCategory {
    /// `incomingWebhook`: messages, comments, reactions, statuses.
    Incoming,
    /// `outgoingWebhook`: statuses of sent messages.
    OutgoingStatus,
    /// `outgoingAPIMessageWebhook`: messages sent through the API.
    OutgoingApi,
    /// `stateWebhook`: the instance's state.
    State,
    /// `outgoingMessageWebhook`: messages sent from elsewhere (echoes).
    OutgoingEcho,
    /// `editedMessageWebhook`: edited messages.
    Edited,
    /// `deletedMessageWebhook`: deleted messages.
    Deleted,
}

impl EventCategory {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventCategory::Incoming => "incoming",
            EventCategory::OutgoingStatus => "outgoing",
            EventCategory::OutgoingApi => "outgoingApi",
            EventCategory::State => "state",
            EventCategory::OutgoingEcho => "outgoingEcho",
            EventCategory::Edited => "edited",
            EventCategory::Deleted => "deleted",
        }
    }

    /// Whether the instance's switches let this event be notified.
    pub fn allowed_by(self, settings: &Settings) -> bool {
        match self {
            EventCategory::Incoming => settings.incoming_webhook,
            EventCategory::OutgoingStatus => settings.outgoing_webhook,
            EventCategory::OutgoingApi => settings.outgoing_api_message_webhook,
            EventCategory::State => settings.state_webhook,
            EventCategory::OutgoingEcho => settings.outgoing_message_webhook,
            EventCategory::Edited => settings.edited_message_webhook,
            EventCategory::Deleted => settings.deleted_message_webhook,
        }
    }
}

impl EventPayload {
    /// The event's type name, e.g. `incomingMessage`.
    pub fn type_name(&self) -> &'static str {
        match self {
            EventPayload::IncomingMessage(_) => "incomingMessage",
            EventPayload::IncomingComment(_) => "incomingComment",
            EventPayload::IncomingReaction(_) => "incomingReaction",
            EventPayload::IncomingStatus(_) => "incomingStatus",
            EventPayload::OutgoingApiMessage(_) => "outgoingApiMessage",
            EventPayload::MessageStatus(_) => "messageStatus",
            EventPayload::StateChanged(_) => "stateChanged",
            EventPayload::WebhookDisabled(_) => "webhookDisabled",
            EventPayload::OutgoingMessage(_) => "outgoingMessage",
            EventPayload::MessageDeleted(_) => "messageDeleted",
            EventPayload::MessageEdited(_) => "messageEdited",
            EventPayload::Postback(_) => "postback",
            EventPayload::Referral(_) => "referral",
            EventPayload::Raw(_) => "raw",
        }
    }

    /// The switch that governs it.
    pub fn category(&self) -> EventCategory {
        match self {
            EventPayload::IncomingMessage(_)
            | EventPayload::IncomingComment(_)
            | EventPayload::IncomingReaction(_)
            | EventPayload::IncomingStatus(_) => EventCategory::Incoming,
            EventPayload::OutgoingApiMessage(_) => EventCategory::OutgoingApi,
            EventPayload::MessageStatus(_) => EventCategory::OutgoingStatus,
            EventPayload::StateChanged(_) | EventPayload::WebhookDisabled(_) => {
                EventCategory::State
            }
            EventPayload::OutgoingMessage(_) => EventCategory::OutgoingEcho,
            EventPayload::MessageEdited(_) => EventCategory::Edited,
            EventPayload::MessageDeleted(_) => EventCategory::Deleted,
            EventPayload::Postback(_) | EventPayload::Referral(_) | EventPayload::Raw(_) => {
                EventCategory::Incoming
            }
        }
    }

    /// The person an inbound event comes from.
    pub fn sender(&self) -> Option<&Sender> {
        match self {
            EventPayload::IncomingMessage(m) => Some(&m.from),
            EventPayload::IncomingComment(c) => Some(&c.from),
            EventPayload::IncomingReaction(r) => Some(&r.from),
            EventPayload::IncomingStatus(s) => Some(&s.from),
            EventPayload::MessageDeleted(d) => Some(&d.from),
            EventPayload::MessageEdited(e) => Some(&e.from),
            EventPayload::Postback(p) => Some(&p.from),
            EventPayload::Referral(r) => Some(&r.from),
            _ => None,
        }
    }

    /// The sender, to fill in what is known about them.
    pub fn sender_mut(&mut self) -> Option<&mut Sender> {
        match self {
            EventPayload::IncomingMessage(m) => Some(&mut m.from),
            EventPayload::IncomingComment(c) => Some(&mut c.from),
            EventPayload::IncomingReaction(r) => Some(&mut r.from),
            EventPayload::IncomingStatus(s) => Some(&mut s.from),
            EventPayload::MessageDeleted(d) => Some(&mut d.from),
            EventPayload::MessageEdited(e) => Some(&mut e.from),
            EventPayload::Postback(p) => Some(&mut p.from),
            EventPayload::Referral(r) => Some(&mut r.from),
            EventPayload::OutgoingMessage(m) => Some(&mut m.to),
            _ => None,
        }
    }

    /// The platform's id of an inbound event, on which redeliveries are
    /// deduplicated.
    pub fn dedupe_key(&self) -> Option<String> {
        match self {
            EventPayload::IncomingMessage(m) => Some(format!("message:{}", m.message_id)),
            EventPayload::IncomingComment(c) => Some(format!("comment:{}", c.comment_id)),
            EventPayload::IncomingReaction(r) => Some(format!(
                "reaction:{}:{}:{}:{}",
                r.message_id,
                r.from.id,
                match r.action {
                    ReactionAction::React => "react",
                    ReactionAction::Unreact => "unreact",
                },
                r.reaction.as_deref().unwrap_or_default()
            )),
            EventPayload::IncomingStatus(s) => Some(format!("status:{}", s.status_id)),
            EventPayload::OutgoingMessage(m) => Some(format!("echo:{}", m.message_id)),
            EventPayload::MessageDeleted(d) => Some(format!("deleted:{}", d.message_id)),
            EventPayload::MessageEdited(e) => Some(format!("edited:{}:{}", e.message_id, e.edits)),
            EventPayload::Postback(p) => Some(format!("postback:{}", p.message_id)),
            // Referrals and unknown events carry no id: their whole content
            // is the key, so a redelivery of the same JSON is caught.
            EventPayload::Referral(_) | EventPayload::Raw(_) => {
                use sha2::Digest;
                let json = serde_json::to_vec(self).unwrap_or_default();
                Some(format!("hash:{}", hex::encode(sha2::Sha256::digest(json))))
            }
            _ => None,
        }
    }
}

/// A journaled event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Its stable id.
    pub id: EventId,
    /// The instance it happened to.
    pub instance_id: InstanceId,
    /// Its place in the instance's sequence, from 1.
    pub seq: u64,
    /// When it happened (when chatgate learned of it).
    pub at: Timestamp,
    /// What happened.
    pub payload: EventPayload,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sender() -> Sender {
        Sender { id: "u1".into(), username: None, name: None }
    }

    #[test]
    fn each_category_follows_its_switch() {
        let mut settings = Settings::switches_off();
        assert!(!EventCategory::Incoming.allowed_by(&settings));
        settings.incoming_webhook = true;
        assert!(EventCategory::Incoming.allowed_by(&settings));
        assert!(!EventCategory::State.allowed_by(&settings));
        assert!(EventCategory::State.allowed_by(&Settings::switches_on()));
    }

    #[test]
    fn payloads_name_their_type_and_round_trip_through_storage() {
        let payload = EventPayload::IncomingComment(IncomingComment {
            comment_id: "c1".into(),
            from: sender(),
            text: "nice".into(),
            media_id: Some("p1".into()),
            parent_id: None,
        });
        assert_eq!(payload.type_name(), "incomingComment");
        let stored = serde_json::to_string(&payload).unwrap();
        assert_eq!(serde_json::from_str::<EventPayload>(&stored).unwrap(), payload);
    }

    #[test]
    fn inbound_events_dedupe_on_the_platform_id_and_others_never() {
        let message = EventPayload::IncomingMessage(IncomingMessage {
            message_id: "mid.1".into(),
            from: sender(),
            kind: InboundKind::Text,
            text: Some("hi".into()),
            media: None,
            reply_to: None,
            quick_reply_payload: None,
            location: None,
            contact: None,
            story: None,
            referral: None,
        });
        assert_eq!(message.dedupe_key().as_deref(), Some("message:mid.1"));
        let state = EventPayload::StateChanged(StateChange {
            state: InstanceState::Authorized,
            reason: None,
        });
        assert_eq!(state.dedupe_key(), None);
    }
}

/// An inbound event with the time it happened on the platform, as handed to
/// the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    /// The event.
    pub payload: EventPayload,
    /// When it happened (never later than when it was received): the
    /// journal's time for it, and for a customer's message the start of the
    /// messaging window.
    pub occurred_at: Timestamp,
    /// The platform's own time for it, as given (unclamped), when it gave
    /// one. Events the platform gives no unique id (a reaction, a referral,
    /// an edit) are told apart by it: the same reaction twice is two
    /// events, a redelivery of one is a duplicate.
    pub platform_time: Option<Timestamp>,
}

impl Inbound {
    /// The key that catches redeliveries of this event, if it has one.
    pub fn dedupe_key(&self) -> Option<String> {
        let key = self.payload.dedupe_key()?;
        let by_time = matches!(
            self.payload,
            EventPayload::IncomingReaction(_)
                | EventPayload::Referral(_)
                | EventPayload::MessageEdited(_)
                | EventPayload::Postback(_)
        );
        Some(match (by_time, self.platform_time) {
            (true, Some(at)) => format!("{key}@{}", at.as_millis()),
            _ => key,
        })
    }
}
