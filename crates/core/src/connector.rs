//! The Connector port: the code that talks to one messenger platform.
//!
//! Connectors only *classify* failures; the outbound worker decides what to
//! do about them (retry, hold the instance, fail the message).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::clock::Timestamp;
use crate::instance::{ConnectorKind, Instance};
use crate::message::{MessageStatus, OutboundMessage};

/// What a platform answered to a successful send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendReceipt {
    /// The platform's id for the message (Meta's `mid` / `wamid`).
    pub provider_message_id: String,
    /// The platform's ids of the parts sent before the last one in this
    /// attempt, in order, when the message took several calls (the last
    /// part's id is `provider_message_id`).
    pub earlier_parts: Vec<String>,
    /// For an emulated platform: the receipts it will report later and
    /// when. Real platforms report through their webhooks instead and leave
    /// this empty.
    pub simulated_receipts: Vec<(MessageStatus, Timestamp)>,
}

/// Why a send did not succeed, in the few classes the worker acts on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The platform asks us to slow down (per account); retry after the
    /// given time if it said one.
    #[error("throttled by the platform")]
    Throttled {
        /// The platform's `Retry-After`, if any.
        retry_after: Option<Duration>,
    },
    /// A passing failure (network, 5xx, platform hiccup): retry with backoff.
    #[error("transient failure: {detail}")]
    Transient {
        /// What happened.
        detail: String,
    },
    /// The call may have reached the platform, but no answer says what
    /// happened (a timeout, a connection broken after the request went
    /// out). Retried like a transient failure; if the message then goes
    /// out, its status says it may be a duplicate (`possibleDuplicate`).
    #[error("outcome unknown: {detail}")]
    Uncertain {
        /// What happened.
        detail: String,
    },
    /// The platform rejected the instance's credentials.
    #[error("not authorized: {detail}")]
    Unauthorized {
        /// The platform's words.
        detail: String,
    },
    /// The messaging window with this recipient is closed (24 h rule).
    #[error("messaging window closed: {detail}")]
    WindowClosed {
        /// The platform's words.
        detail: String,
    },
    /// The message can never be sent as it is.
    #[error("permanent failure: {detail}")]
    Permanent {
        /// The platform's error code, if any.
        code: Option<String>,
        /// What happened, in words a person understands.
        detail: String,
    },
    /// Some parts of a message that takes several calls went out before
    /// `error` stopped the rest. The sent parts are recorded, and a retry
    /// resumes after them.
    #[error("{error} (after {} part(s) were delivered)", sent.len())]
    Partial {
        /// The platform's ids of the parts sent in this attempt, in order.
        sent: Vec<String>,
        /// Why the rest did not go.
        error: Box<SendError>,
    },
}

/// What the outbound worker knows about a message's recipient, for the
/// platform's rules (Instagram's 24-hour window, the comment-reply window).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendContext {
    /// Now.
    pub now: Timestamp,
    /// When the person last wrote to the instance, if ever.
    pub last_inbound_at: Option<Timestamp>,
    /// When the comment being answered arrived, for a private reply.
    pub comment_at: Option<Timestamp>,
    /// How many parts of the message earlier attempts delivered: the
    /// connector resumes after them.
    pub parts_sent: u32,
    /// When the worker gives up waiting for this attempt: a connector that
    /// makes several calls stops early (reporting the parts sent) rather
    /// than be cut off mid-call and lose track of them.
    pub deadline: Option<tokio::time::Instant>,
}

/// The account a connection reaches, as the platform reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountProfile {
    /// The account's id (the id webhooks name).
    pub id: String,
    /// Its handle (WhatsApp: the display phone number, digits only).
    pub username: Option<String>,
    /// Its name (WhatsApp: the verified name).
    pub name: Option<String>,
    /// The business account it belongs to (WhatsApp Business Account id).
    pub business_id: Option<String>,
}

/// What a business gives to connect an instance. `Debug` never shows the
/// token.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Connection<'a> {
    /// The platform's id of the account (Instagram user id; WhatsApp phone
    /// number id).
    pub account_id: &'a str,
    /// The business account it belongs to (WhatsApp Business Account id),
    /// for platforms that have one.
    pub business_id: Option<&'a str>,
    /// The access token.
    pub access_token: &'a str,
}

impl fmt::Debug for Connection<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("account_id", &self.account_id)
            .field("business_id", &self.business_id)
            .finish_non_exhaustive()
    }
}

/// Why a connection was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    /// The platform refused the token (expired, revoked, wrong account).
    #[error("the platform refused the connection: {0}")]
    Rejected(String),
    /// The platform could not be reached or failed.
    #[error("the platform could not be reached: {0}")]
    Unreachable(String),
    /// This connector takes no connection.
    #[error("the {0} connector takes no connection")]
    Unsupported(&'static str),
}

/// A customer's public profile.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContactProfile {
    /// Their handle.
    pub username: Option<String>,
    /// Their name.
    pub name: Option<String>,
}

/// Why an action other than sending (marking read, typing) did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    /// The platform has no such action.
    #[error("the {connector} connector cannot {action}")]
    Unsupported {
        /// The connector.
        connector: &'static str,
        /// What was asked, e.g. "show typing".
        action: &'static str,
    },
    /// The platform refused or failed.
    #[error("{0}")]
    Failed(SendError),
}

/// One messenger platform.
#[async_trait]
pub trait Connector: Send + Sync + 'static {
    /// Which kind of instance this connector serves.
    fn kind(&self) -> ConnectorKind;

    /// Sends one message for one instance. Called at most once at a time per
    /// instance; the pacing gap has already been waited.
    async fn send(
        &self,
        instance: &Instance,
        message: &OutboundMessage,
        context: &SendContext,
    ) -> Result<SendReceipt, SendError>;

    /// Checks a connection (account id and access token) with the platform.
    async fn validate(&self, connection: &Connection<'_>) -> Result<AccountProfile, ConnectError> {
        let _ = connection;
        Err(ConnectError::Unsupported(self.kind().as_str()))
    }

    /// Whether [`Connector::profile`] can tell anything (ingest then queues
    /// new contacts for it).
    fn has_profiles(&self) -> bool {
        false
    }

    /// A customer's profile, fetched once per new contact: `Some` when the
    /// platform answered (an empty profile when it shares none), `None`
    /// when it could not be asked (network, throttling, credentials) and
    /// should be asked again later.
    async fn profile(&self, instance: &Instance, contact: &str) -> Option<ContactProfile> {
        let _ = (instance, contact);
        None
    }

    /// Marks the chat with `contact` read (up to `message_id` when given).
    async fn mark_read(
        &self,
        instance: &Instance,
        contact: &str,
        message_id: Option<&str>,
    ) -> Result<(), ActionError> {
        let _ = (instance, contact, message_id);
        Err(ActionError::Unsupported { connector: self.kind().as_str(), action: "mark chats read" })
    }

    /// Shows "typing…" to `contact`.
    async fn typing(&self, instance: &Instance, contact: &str) -> Result<(), ActionError> {
        let _ = (instance, contact);
        Err(ActionError::Unsupported { connector: self.kind().as_str(), action: "show typing" })
    }
}

/// The connectors of this process, one per kind.
#[derive(Clone, Default)]
pub struct Connectors {
    by_kind: HashMap<ConnectorKind, Arc<dyn Connector>>,
}

impl Connectors {
    /// No connectors yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the connector of its kind.
    pub fn with(mut self, connector: Arc<dyn Connector>) -> Self {
        self.by_kind.insert(connector.kind(), connector);
        self
    }

    /// The connector of a kind, if this process has one.
    pub fn get(&self, kind: ConnectorKind) -> Option<&Arc<dyn Connector>> {
        self.by_kind.get(&kind)
    }
}

impl fmt::Debug for Connectors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.by_kind.keys()).finish()
    }
}
