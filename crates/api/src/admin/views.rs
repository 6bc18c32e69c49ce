//! The admin pages' templates and the rows they show, built from the core's
//! types (everything in them is escaped by askama unless marked safe).

use askama::Template;
use chatgate_core::event::{Event, EventPayload};
use chatgate_core::store::{ChatEntry, Delivery};
use chatgate_core::{Instance, OutboundMessage};

use super::page::{content_summary, when};

/// The sign-in page.
#[derive(Template)]
#[template(path = "admin/login.html")]
pub struct LoginPage {
    /// Empty: nobody is signed in (the header shows no navigation).
    pub csrf: String,
    /// The login form's CSRF token.
    pub login_csrf: String,
    /// Why the last attempt failed.
    pub error: Option<String>,
}

/// One row of the instances list.
pub struct InstanceRow {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its connector.
    pub kind: String,
    /// Its state.
    pub state: String,
    /// Why it is in that state.
    pub state_reason: Option<String>,
    /// Messages queued or sending.
    pub queued: u64,
    /// Notifications waiting.
    pub pending: u64,
    /// Whether it is a sandbox instance (it has a chat to play).
    pub sandbox: bool,
}

/// The instances list with the form to create one.
#[derive(Template)]
#[template(path = "admin/instances.html")]
pub struct InstancesPage {
    /// The session's CSRF token.
    pub csrf: String,
    /// The instances of this page.
    pub rows: Vec<InstanceRow>,
    /// The filter.
    pub q: String,
    /// How many instances match the filter.
    pub total: usize,
    /// This page, from 1.
    pub page: usize,
    /// How many pages.
    pub pages: usize,
    /// The previous page's link.
    pub previous: Option<String>,
    /// The next page's link.
    pub next: Option<String>,
}

/// The page shown once after creating an instance, with its token.
#[derive(Template)]
#[template(path = "admin/created.html")]
pub struct CreatedPage {
    /// The session's CSRF token.
    pub csrf: String,
    /// The new instance's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its connector.
    pub kind: String,
    /// Its API token, in clear, this once.
    pub api_token: String,
    /// Whether it is a sandbox instance.
    pub sandbox: bool,
}

/// The confirmation before deleting an instance.
#[derive(Template)]
#[template(path = "admin/delete.html")]
pub struct DeletePage {
    /// The session's CSRF token.
    pub csrf: String,
    /// The instance's id.
    pub id: String,
    /// Its name.
    pub name: String,
}

/// An event switch of the settings form.
pub struct Switch {
    /// The form field (the setting's snake_case name).
    pub name: &'static str,
    /// What it switches.
    pub label: &'static str,
    /// Whether it is on.
    pub on: bool,
}

/// One status change of a message.
pub struct TransitionRow {
    /// The status reached.
    pub status: String,
    /// When.
    pub at: String,
    /// Why, for a failure or a retry.
    pub detail: Option<String>,
}

/// A message in the queue or the recent list.
pub struct MessageRow {
    /// Its id.
    pub id: String,
    /// The platform's id, once sent.
    pub provider_id: Option<String>,
    /// Who it goes to.
    pub to: String,
    /// What it says.
    pub summary: String,
    /// Where it is.
    pub status: String,
    /// Why it failed.
    pub failure: Option<String>,
    /// How often it was handed to the connector.
    pub attempts: u32,
    /// When it was queued.
    pub created_at: String,
    /// Its status timeline, oldest first.
    pub transitions: Vec<TransitionRow>,
}

impl From<&OutboundMessage> for MessageRow {
    fn from(m: &OutboundMessage) -> Self {
        Self {
            id: m.id.to_string(),
            provider_id: m.provider_message_id.clone(),
            to: m.recipient.id().to_owned(),
            summary: content_summary(&m.content),
            status: m.status.to_string(),
            failure: m.failure.clone(),
            attempts: m.attempts,
            created_at: when(m.created_at),
            transitions: m
                .transitions
                .iter()
                .map(|t| TransitionRow {
                    status: t.status.to_string(),
                    at: when(t.at),
                    detail: t.detail.clone(),
                })
                .collect(),
        }
    }
}

/// An event of the journal.
pub struct EventRow {
    /// Its sequence number.
    pub seq: u64,
    /// Its id.
    pub id: String,
    /// Its type.
    pub type_name: &'static str,
    /// When it happened.
    pub at: String,
    /// The native webhook body of it, pretty-printed.
    pub json: String,
}

impl From<&Event> for EventRow {
    fn from(e: &Event) -> Self {
        let json = crate::native::hooks::event_json(e);
        Self {
            seq: e.seq,
            id: e.id.to_string(),
            type_name: e.payload.type_name(),
            at: when(e.at),
            json: serde_json::to_string_pretty(&json).unwrap_or_default(),
        }
    }
}

/// One push attempt of a notification.
pub struct AttemptRow {
    /// 1 for the first.
    pub attempt: u32,
    /// When.
    pub at: String,
    /// Where to.
    pub url: String,
    /// The receiver's status code.
    pub status_code: Option<u16>,
    /// How long it took.
    pub latency_ms: u64,
    /// What went wrong.
    pub error: Option<String>,
}

/// A notification with its attempts.
pub struct DeliveryRow {
    /// The notification's id.
    pub receipt_id: u64,
    /// Its event's id.
    pub event_id: String,
    /// Its event's type.
    pub event_type: &'static str,
    /// pending, delivered or dead.
    pub state: &'static str,
    /// When the next push is due.
    pub next_attempt_at: Option<String>,
    /// When it was queued.
    pub created_at: String,
    /// Every push, oldest first.
    pub attempts: Vec<AttemptRow>,
}

impl From<&Delivery> for DeliveryRow {
    fn from(d: &Delivery) -> Self {
        Self {
            receipt_id: d.receipt_id,
            event_id: d.event.id.to_string(),
            event_type: d.event.payload.type_name(),
            state: d.state.as_str(),
            next_attempt_at: d.next_attempt_at.map(when),
            created_at: when(d.created_at),
            attempts: d
                .attempts
                .iter()
                .map(|a| AttemptRow {
                    attempt: a.attempt,
                    at: when(a.at),
                    url: a.url.clone(),
                    status_code: a.status_code,
                    latency_ms: a.latency_ms,
                    error: a.error.clone(),
                })
                .collect(),
        }
    }
}

/// One instance: settings, queue, messages, events, deliveries.
#[derive(Template)]
#[template(path = "admin/instance.html")]
pub struct InstancePage {
    /// The session's CSRF token.
    pub csrf: String,
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its connector.
    pub kind: String,
    /// Its state.
    pub state: String,
    /// Why it is in that state.
    pub state_reason: Option<String>,
    /// The platform account it is connected to.
    pub account: Option<String>,
    /// When it was created.
    pub created_at: String,
    /// Whether it is a sandbox instance.
    pub sandbox: bool,
    /// A line about what just happened (saved, redelivered).
    pub notice: Option<String>,
    /// Its webhook URL, or empty.
    pub webhook_url: String,
    /// Whether a webhook token is set (never shown).
    pub webhook_token_set: bool,
    /// The gap between sends.
    pub delay_ms: u32,
    /// The event switches.
    pub switches: Vec<Switch>,
    /// Messages waiting or being sent.
    pub queue: Vec<MessageRow>,
    /// Messages of the last 30 days, newest first.
    pub messages: Vec<MessageRow>,
    /// The latest events, newest first.
    pub events: Vec<EventRow>,
    /// The latest notifications, newest first.
    pub deliveries: Vec<DeliveryRow>,
}

/// One bubble of the sandbox chat.
pub struct Bubble {
    /// `customer` or `business`.
    pub side: &'static str,
    /// What it says.
    pub text: String,
    /// When.
    pub at: String,
    /// The message id, for the business's messages.
    pub message_id: Option<String>,
    /// The status, for the business's messages.
    pub status: Option<String>,
    /// Why it failed.
    pub failure: Option<String>,
}

impl From<&ChatEntry> for Bubble {
    fn from(entry: &ChatEntry) -> Self {
        match entry {
            ChatEntry::Incoming(event) => Bubble {
                side: "customer",
                text: incoming_text(&event.payload),
                at: when(event.at),
                message_id: None,
                status: None,
                failure: None,
            },
            ChatEntry::Outgoing(m) => Bubble {
                side: "business",
                text: content_summary(&m.content),
                at: when(m.created_at),
                message_id: Some(m.id.to_string()),
                status: Some(m.status.to_string()),
                failure: m.failure.clone(),
            },
        }
    }
}

fn incoming_text(payload: &EventPayload) -> String {
    match payload {
        EventPayload::IncomingMessage(m) => {
            let kind = format!("{:?}", m.kind).to_lowercase();
            match (&m.media, &m.text) {
                (Some(media), Some(text)) => format!("[{kind}] {} — {text}", media.url),
                (Some(media), None) => format!("[{kind}] {}", media.url),
                (None, Some(text)) => text.clone(),
                (None, None) => format!("[{kind}]"),
            }
        }
        EventPayload::IncomingComment(c) => format!("[comment] {}", c.text),
        other => format!("[{}]", other.type_name()),
    }
}

/// The conversation with one contact (a fragment: the chat page embeds it
/// and the live stream sends it again when it changes).
#[derive(Template)]
#[template(path = "admin/thread.html")]
pub struct ThreadView {
    /// The contact.
    pub contact: String,
    /// Oldest first.
    pub entries: Vec<Bubble>,
}

/// The sandbox chat page.
#[derive(Template)]
#[template(path = "admin/chat.html")]
pub struct ChatPage {
    /// The session's CSRF token.
    pub csrf: String,
    /// The instance.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Whether the customer can be played (a sandbox instance).
    pub sandbox: bool,
    /// The contact.
    pub contact: String,
    /// The rendered thread.
    pub thread: String,
}

/// The event switches of an instance's settings, in the form's order.
pub fn switches(instance: &Instance) -> Vec<Switch> {
    let s = &instance.settings;
    vec![
        Switch { name: "incoming_webhook", label: "Incoming messages", on: s.incoming_webhook },
        Switch {
            name: "outgoing_webhook",
            label: "Statuses of sent messages",
            on: s.outgoing_webhook,
        },
        Switch {
            name: "outgoing_message_webhook",
            label: "Messages sent from the app (echoes)",
            on: s.outgoing_message_webhook,
        },
        Switch {
            name: "outgoing_api_message_webhook",
            label: "Messages sent through the API",
            on: s.outgoing_api_message_webhook,
        },
        Switch { name: "state_webhook", label: "Instance state changes", on: s.state_webhook },
        Switch {
            name: "edited_message_webhook",
            label: "Edited messages",
            on: s.edited_message_webhook,
        },
        Switch {
            name: "deleted_message_webhook",
            label: "Deleted messages",
            on: s.deleted_message_webhook,
        },
        Switch {
            name: "mark_incoming_messages_readed",
            label: "Mark incoming messages read",
            on: s.mark_incoming_messages_readed,
        },
        Switch {
            name: "mark_incoming_messages_readed_on_reply",
            label: "Mark read on reply",
            on: s.mark_incoming_messages_readed_on_reply,
        },
        Switch {
            name: "human_agent_tag",
            label: "Instagram: HUMAN_AGENT tag up to 7 days",
            on: s.human_agent_tag,
        },
    ]
}
