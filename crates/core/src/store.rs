//! The Store port: everything the core needs to persist. Implemented by the
//! `chatgate-store` crate on SQLite (and PostgreSQL). Every method that
//! changes something returns only after the change is committed.

use async_trait::async_trait;

use crate::clock::Timestamp;
use crate::contact::Contact;
use crate::event::{Event, EventId, Inbound};
use crate::ids::{InstanceId, MessageId, TokenHash};
use crate::instance::{
    Account, ConnectorKind, Instance, InstanceState, SealedToken, WebhookFormat,
};
use crate::message::{MessageStatus, NewMessage, OutboundMessage};
use crate::settings::Settings;
use crate::signal::NotificationSignal;
use crate::webhook::WebhookSecret;

/// Why the store could not do something.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or is shutting down; retrying later
    /// may work.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A unique key is taken (an instance id collision).
    #[error("already exists: {0}")]
    Duplicate(String),
    /// The instance was deleted while the request was on its way.
    #[error("the instance no longer exists")]
    InstanceGone,
    /// Stored data that cannot be read back (a bug or a hand-edited row).
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

/// Store results.
pub type StoreResult<T> = Result<T, StoreError>;

/// An instance about to be stored.
#[derive(Debug, Clone)]
pub struct NewInstance {
    /// Its id.
    pub id: InstanceId,
    /// Its connector.
    pub kind: ConnectorKind,
    /// Its name.
    pub name: String,
    /// The hash of its API token.
    pub token_hash: TokenHash,
    /// Its API token sealed with the server key (shown to the partner again
    /// by GREEN-API's getInstances).
    pub token_sealed: String,
    /// Its first state.
    pub state: InstanceState,
    /// Its settings.
    pub settings: Settings,
    /// The shape of its webhooks.
    pub webhook_format: WebhookFormat,
    /// Its webhook signing secret.
    pub webhook_secret: WebhookSecret,
    /// The messenger account, when known at creation (a sandbox's own).
    pub account: Option<Account>,
    /// Its service secret (signing its JWTs), sealed with the server key.
    pub service_secret_sealed: String,
    /// When it was created.
    pub created_at: Timestamp,
}

/// What storing a new message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enqueued {
    /// The message was stored and queued.
    Accepted(OutboundMessage),
    /// The message is a reply to a comment that already has a reply
    /// (Instagram allows one); nothing was stored.
    CommentAnswered,
    /// A message with the same idempotency key exists; nothing was stored.
    Duplicate {
        /// The message stored earlier under that key.
        existing: OutboundMessage,
        /// Whether the earlier request was the same as this one.
        same_request: bool,
    },
}

/// The identity of a worker holding leases (one per process and loop).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WorkerId(pub String);

/// What the outbound worker asks for when it claims work.
#[derive(Debug, Clone)]
pub struct ClaimRequest {
    /// Now.
    pub now: Timestamp,
    /// Until when the claimed instances are leased to this worker.
    pub lease_until: Timestamp,
    /// Who claims.
    pub owner: WorkerId,
    /// At most this many messages (each of a different instance).
    pub limit: usize,
    /// Queued messages created before this are expired instead of sent.
    pub expire_created_before: Timestamp,
}

/// A message handed to one worker, with its instance. While the lease holds,
/// no other worker sends anything for that instance: this is what keeps
/// per-instance FIFO order and the pacing gap across workers and nodes.
#[derive(Debug, Clone)]
pub struct Claim {
    /// The instance, as stored at claim time.
    pub instance: Instance,
    /// The message, now `sending`, with `attempts` already counted.
    pub message: OutboundMessage,
}

/// How a send attempt ended, as decided by the outbound worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finish {
    /// The platform accepted the message.
    Sent {
        /// The platform's id for it.
        provider_message_id: String,
        /// Receipts an emulated platform promises to deliver later
        /// (status, due time); stored durably and applied when due.
        simulated_receipts: Vec<(MessageStatus, Timestamp)>,
    },
    /// Try again later; the message goes back to the head of the queue.
    Retry {
        /// The message is not tried again before this.
        not_before: Timestamp,
        /// Hold the whole instance until then (throttling is per account).
        hold_instance_until: Option<Timestamp>,
        /// Why, for the message's history.
        detail: String,
        /// Whether a transient failure caused it (counted against the
        /// transient retry schedule; throttling is not).
        transient: bool,
        /// Whether the platform may have received the attempt all the same
        /// (no answer): a later success or failure is then flagged as a
        /// possible duplicate.
        uncertain: bool,
    },
    /// The message will never be sent.
    Failed {
        /// Why.
        reason: String,
    },
    /// The platform rejected the instance's credentials: the message goes
    /// back to the queue and the instance becomes `notAuthorized`, which
    /// holds its queue until it is authorized again.
    Unauthorized {
        /// The platform's reason.
        reason: String,
    },
}

/// Whether a finish was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finished {
    /// Recorded.
    Applied,
    /// The lease had expired and another worker took the message over;
    /// nothing was changed.
    LeaseLost,
}

/// A delivery report from a platform about an outbound message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The instance that sent the message.
    pub instance_id: InstanceId,
    /// The platform's id for the message.
    pub provider_message_id: String,
    /// `Delivered` or `Read` (or `Failed`).
    pub status: MessageStatus,
    /// When the platform says it happened.
    pub at: Timestamp,
    /// The platform's words, for a failure.
    pub detail: Option<String>,
}

/// A customer read a chat (Meta's `read` webhook): the message with this
/// platform id and every earlier one to them; or, when the id names no
/// message of the gateway (one typed in the app), every message to them
/// sent up to `up_to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatRead {
    /// The instance.
    pub instance_id: InstanceId,
    /// The platform's id of the newest message read, when given.
    pub provider_message_id: Option<String>,
    /// The customer who read, when known.
    pub contact: Option<String>,
    /// Everything sent up to this time is read (the read's time, or
    /// Messenger's watermark).
    pub up_to: Timestamp,
    /// When it is recorded.
    pub at: Timestamp,
}

/// What a receipt did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptOutcome {
    /// The message moved to the reported status.
    Applied,
    /// The message is already at or past that status; nothing changed.
    Stale,
    /// No message of that instance has that provider id.
    Unknown,
}

/// What storing one inbound event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ingested {
    /// Journaled (and queued for the consumer when its switch is on).
    Stored(EventId),
    /// The platform delivered this event before; nothing was stored.
    Duplicate,
}

/// A notification handed to a pulling consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The id to acknowledge it with.
    pub receipt_id: u64,
    /// The event.
    pub event: Event,
}

/// Where a replay starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayFrom {
    /// Events with a sequence number greater than this.
    AfterSeq(u64),
    /// Events at or after this time.
    Since(Timestamp),
}

/// Where a notification is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotificationState {
    /// Waiting to be pushed (or retried), or to be pulled and acknowledged.
    Pending,
    /// Pushed with a 2xx answer, or acknowledged by the puller.
    Delivered,
    /// Every push attempt failed; kept and re-deliverable.
    Dead,
}

impl NotificationState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationState::Pending => "pending",
            NotificationState::Delivered => "delivered",
            NotificationState::Dead => "dead",
        }
    }
}

/// One try to push a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryAttempt {
    /// 1 for the first try.
    pub attempt: u32,
    /// When it started.
    pub at: Timestamp,
    /// Where it went.
    pub url: String,
    /// The receiver's status code, if it answered.
    pub status_code: Option<u16>,
    /// How long it took.
    pub latency_ms: u64,
    /// What went wrong, if anything.
    pub error: Option<String>,
}

/// A notification with its push history (the operator's view).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The notification's id.
    pub receipt_id: u64,
    /// The event.
    pub event: Event,
    /// Where it stands.
    pub state: NotificationState,
    /// When the next push is due, while pending.
    pub next_attempt_at: Option<Timestamp>,
    /// When it was queued.
    pub created_at: Timestamp,
    /// Every push so far, oldest first.
    pub attempts: Vec<DeliveryAttempt>,
}

/// A notification handed to one hook worker for pushing. While the lease
/// holds, nothing else of that instance is pushed: this keeps per-instance
/// order.
#[derive(Debug, Clone)]
pub struct HookClaim {
    /// The notification's id.
    pub receipt_id: u64,
    /// The instance (its webhook URL, token, secrets and format).
    pub instance: Instance,
    /// The event to push.
    pub event: Event,
    /// Which attempt this is, from 1.
    pub attempt: u32,
    /// For a message's status callback: its URL (the target, instead of
    /// the instance's webhook), data and correlation id.
    pub callback: Option<crate::message::Callback>,
    /// For a callback: the instance's service secret, sealed, which signs
    /// it (never the webhook secret: a callback URL is the caller's).
    pub service_secret_sealed: Option<String>,
}

/// How a push attempt ended, as decided by the hook worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookFinish {
    /// 2xx, or the format has nothing to send for this event.
    Delivered,
    /// Try again at this time.
    Retry {
        /// When.
        at: Timestamp,
    },
    /// The last attempt failed: the notification is dead.
    Dead,
    /// The receiver answered 410 Gone: clear the webhook URL, keep the
    /// notification pending for pulling, and journal a `webhookDisabled`
    /// event.
    Disabled {
        /// Why.
        reason: String,
    },
}

/// What the janitor removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    /// Journal events.
    pub events: u64,
    /// Notifications (with their attempts).
    pub notifications: u64,
    /// Finished outbound messages (with their histories).
    pub messages: u64,
}

/// The work waiting across all instances, for the metrics gauges.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkTotals {
    /// Outbound messages queued or being sent.
    pub queued_messages: u64,
    /// Notifications not yet delivered or acknowledged (pushes, pulls and
    /// status callbacks).
    pub pending_notifications: u64,
    /// When the oldest of those was created, if any is pending.
    pub oldest_pending_notification: Option<Timestamp>,
}

/// An instance as the partner API lists it: deleted ones included, with
/// the sealed token.
#[derive(Debug, Clone)]
pub struct PartnerInstance {
    /// The instance.
    pub instance: Instance,
    /// Its API token sealed with the server key.
    pub token_sealed: Option<String>,
    /// When it was deleted, if it was.
    pub deleted_at: Option<Timestamp>,
}

/// The work waiting for one instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backlog {
    /// The instance.
    pub instance: InstanceId,
    /// Messages queued or being sent.
    pub queued: u64,
    /// Notifications not yet delivered or acknowledged (status callbacks
    /// excluded).
    pub pending_notifications: u64,
}

/// One entry of a chat's history.
#[allow(clippy::large_enum_variant)] // short-lived, built for one listing
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatEntry {
    /// Something the customer sent (an `incoming…` event).
    Incoming(Event),
    /// A message the instance sent.
    Outgoing(OutboundMessage),
}

impl ChatEntry {
    /// When it happened.
    pub fn at(&self) -> Timestamp {
        match self {
            ChatEntry::Incoming(e) => e.at,
            ChatEntry::Outgoing(m) => m.created_at,
        }
    }
}

/// A file a business uploaded to be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    /// Its id (part of its URL).
    pub id: String,
    /// The instance that uploaded it.
    pub instance_id: InstanceId,
    /// Its file name.
    pub name: String,
    /// Its MIME type.
    pub content_type: String,
    /// Its bytes.
    pub data: Vec<u8>,
    /// When it was uploaded.
    pub created_at: Timestamp,
}

/// Everything chatgate persists.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Checks that the database answers.
    async fn ping(&self) -> StoreResult<()>;

    /// Finishes the writes already asked for, then refuses new ones and
    /// closes the database. Idempotent.
    async fn close(&self);

    /// Fired after every commit that queued notifications, per instance.
    fn notifications_signal(&self) -> NotificationSignal;

    /// Stores a new instance (and its empty outbound queue).
    async fn create_instance(&self, new: NewInstance) -> StoreResult<Instance>;

    /// An instance that is not deleted, with the hash of its token.
    async fn instance(&self, id: InstanceId) -> StoreResult<Option<(Instance, TokenHash)>>;

    /// The instance whose token has this hash (for dialects with the token
    /// alone in the URL).
    async fn instance_by_token(&self, hash: &TokenHash) -> StoreResult<Option<Instance>>;

    /// Every instance that is not deleted, oldest first.
    async fn instances(&self) -> StoreResult<Vec<Instance>>;

    /// Deletes an instance: its token stops working and its queued messages
    /// fail with the reason given. False when there was no such instance.
    async fn delete_instance(
        &self,
        id: InstanceId,
        at: Timestamp,
        reason: &str,
    ) -> StoreResult<bool>;

    /// Replaces an instance's settings.
    async fn update_settings(
        &self,
        id: InstanceId,
        settings: &Settings,
    ) -> StoreResult<Option<Instance>>;

    /// Changes an instance's state (and holds or releases its queue).
    async fn set_state(
        &self,
        id: InstanceId,
        state: InstanceState,
        reason: Option<&str>,
        at: Timestamp,
    ) -> StoreResult<Option<Instance>>;

    /// Stores and queues a message, or finds the one stored earlier under
    /// the same idempotency key.
    async fn enqueue(&self, message: NewMessage) -> StoreResult<Enqueued>;

    /// One message of an instance, with its history.
    async fn message(
        &self,
        instance: InstanceId,
        id: MessageId,
    ) -> StoreResult<Option<OutboundMessage>>;

    /// The instance's pending (`queued` or `sending`) messages in send
    /// order, at most `limit`, without histories.
    async fn queue(&self, instance: InstanceId, limit: usize) -> StoreResult<Vec<OutboundMessage>>;

    /// How many messages of the instance are pending.
    async fn queue_count(&self, instance: InstanceId) -> StoreResult<u64>;

    /// Fails every `queued` message of the instance with the reason given
    /// (a message already `sending` finishes its attempt). Returns how many.
    async fn clear_queue(
        &self,
        instance: InstanceId,
        at: Timestamp,
        reason: &str,
    ) -> StoreResult<u64>;

    /// Leases up to `limit` instances whose next message may leave now and
    /// marks those messages `sending`.
    async fn claim_outbound(&self, request: ClaimRequest) -> StoreResult<Vec<Claim>>;

    /// Records how a claimed send ended and releases the instance's lease.
    /// `parts` are the platform ids of the message's parts this attempt
    /// delivered, in order (recorded whatever the finish, so a retry
    /// resumes after them).
    async fn finish_outbound(
        &self,
        claim: &Claim,
        owner: &WorkerId,
        finish: Finish,
        parts: Vec<String>,
        at: Timestamp,
    ) -> StoreResult<Finished>;

    /// Gives up every lease `owner` holds, on outbound and push lanes
    /// alike, so another worker takes the work at once instead of after the
    /// lease runs out (a stopping process calls it last). A message whose
    /// attempt was cut short stays `sending` and is claimed again as
    /// interrupted; a push whose attempt was cut short is pushed again.
    /// Returns how many lanes were released.
    async fn release_leases(&self, owner: &WorkerId) -> StoreResult<u64>;

    /// When the next message of any instance may leave, if any is waiting
    /// (including messages whose lease will expire).
    async fn next_outbound_at(&self) -> StoreResult<Option<Timestamp>>;

    /// Expires every `queued` message created before the cutoff (messages of
    /// held instances included). Returns how many.
    async fn expire_outbound(&self, created_before: Timestamp, at: Timestamp) -> StoreResult<u64>;

    /// Applies a platform's delivery report.
    async fn record_receipt(&self, receipt: Receipt) -> StoreResult<ReceiptOutcome>;

    /// Applies up to `limit` simulated receipts that are due at `now`.
    /// Returns how many were taken (applied or stale).
    async fn apply_due_simulated_receipts(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> StoreResult<usize>;

    /// When the next simulated receipt is due, if any.
    async fn next_simulated_receipt_at(&self) -> StoreResult<Option<Timestamp>>;

    /// Sets the shape of an instance's webhooks (the dialect that set the
    /// webhook up).
    async fn set_webhook_format(
        &self,
        id: InstanceId,
        format: WebhookFormat,
    ) -> StoreResult<Option<Instance>>;

    /// Replaces an instance's webhook secret; the old one keeps signing
    /// until `previous_until`.
    async fn rotate_webhook_secret(
        &self,
        id: InstanceId,
        secret: WebhookSecret,
        previous_until: Timestamp,
    ) -> StoreResult<Option<Instance>>;

    /// Replaces an instance's service secret (sealed); false for an unknown
    /// instance.
    async fn replace_service_secret(&self, id: InstanceId, sealed: String) -> StoreResult<bool>;

    /// An instance's stored service secret, sealed, without making one
    /// (authentication reads; only the owner's settings create).
    async fn stored_service_secret(&self, id: InstanceId) -> StoreResult<Option<String>>;

    /// An instance's service secret, sealed: the stored one, or — when it
    /// has none yet (created before service secrets existed) — `candidate`,
    /// which is stored. `None` for an unknown instance.
    async fn ensure_service_secret(
        &self,
        id: InstanceId,
        candidate: String,
    ) -> StoreResult<Option<String>>;

    /// Marks chats read (many reads in one commit); returns how many
    /// messages became `read`.
    async fn record_reads(&self, reads: Vec<ChatRead>) -> StoreResult<usize>;

    /// Journals inbound events of one instance (deduplicated on the
    /// platform's ids), records their senders as contacts, and queues
    /// notifications as the instance's switches allow — all in one commit.
    async fn ingest(
        &self,
        instance: InstanceId,
        events: Vec<Inbound>,
        at: Timestamp,
    ) -> StoreResult<Vec<Ingested>>;

    /// When the comment with this id reached the instance, if it did (a
    /// message to it is then a private reply).
    async fn comment_at(
        &self,
        instance: InstanceId,
        comment_id: &str,
    ) -> StoreResult<Option<Timestamp>>;

    /// The live instance connected to a platform account.
    async fn instance_by_account(&self, account_id: &str) -> StoreResult<Option<Instance>>;

    /// Records a connection (account and sealed token) and the state it
    /// leads to (journaled when it changes).
    async fn set_connection(
        &self,
        id: InstanceId,
        account: Account,
        token: SealedToken,
        state: InstanceState,
        reason: Option<String>,
        at: Timestamp,
    ) -> StoreResult<Option<Instance>>;

    /// Fills in a contact's handle and name (from the platform's profile).
    async fn update_contact(
        &self,
        instance: InstanceId,
        id: &str,
        username: Option<String>,
        name: Option<String>,
        at: Timestamp,
    ) -> StoreResult<()>;

    /// A contact of an instance.
    async fn contact(&self, instance: InstanceId, id: &str) -> StoreResult<Option<Contact>>;

    /// The instance's journal after a sequence number, oldest first.
    async fn events(
        &self,
        instance: InstanceId,
        after_seq: u64,
        limit: usize,
    ) -> StoreResult<Vec<Event>>;

    /// The instance's latest journal events, newest first (the operator's
    /// view).
    async fn latest_events(&self, instance: InstanceId, limit: usize) -> StoreResult<Vec<Event>>;

    /// For every live instance with work waiting: how many messages are
    /// queued or sending and how many notifications wait to be pushed or
    /// pulled (the admin overview; two grouped queries, not two per
    /// instance).
    async fn backlogs(&self) -> StoreResult<Vec<Backlog>>;

    /// One event of an instance.
    async fn event(&self, instance: InstanceId, id: EventId) -> StoreResult<Option<Event>>;

    /// The instance's oldest pending notification (the same one until it is
    /// acknowledged).
    async fn next_notification(&self, instance: InstanceId) -> StoreResult<Option<Notification>>;

    /// Marks a pending notification delivered. False when the instance has
    /// no pending notification with that id.
    async fn ack_notification(
        &self,
        instance: InstanceId,
        receipt_id: u64,
        at: Timestamp,
    ) -> StoreResult<bool>;

    /// How many notifications of the instance are pending.
    async fn pending_notifications(&self, instance: InstanceId) -> StoreResult<u64>;

    /// Queues a new notification of an existing event (a redelivery).
    async fn renotify(
        &self,
        instance: InstanceId,
        event: EventId,
        at: Timestamp,
    ) -> StoreResult<Option<u64>>;

    /// Queues a new notification of every event from a point on. Returns
    /// how many.
    async fn replay(
        &self,
        instance: InstanceId,
        from: ReplayFrom,
        at: Timestamp,
    ) -> StoreResult<u64>;

    /// The instance's most recent notifications with their push attempts,
    /// newest first, optionally only those in one state.
    async fn deliveries(
        &self,
        instance: InstanceId,
        state: Option<NotificationState>,
        limit: usize,
    ) -> StoreResult<Vec<Delivery>>;

    /// Leases up to `limit` instances whose next notification is due for a
    /// push and counts the attempt.
    async fn claim_hooks(&self, request: ClaimRequest) -> StoreResult<Vec<HookClaim>>;

    /// Records a push attempt and its outcome, and releases the lease.
    async fn finish_hook(
        &self,
        claim: &HookClaim,
        owner: &WorkerId,
        attempt: DeliveryAttempt,
        finish: HookFinish,
    ) -> StoreResult<Finished>;

    /// When the next push of any instance is due.
    async fn next_hook_at(&self) -> StoreResult<Option<Timestamp>>;

    /// Every instance, deleted ones included, for the partner API.
    async fn partner_instances(&self) -> StoreResult<Vec<PartnerInstance>>;

    /// The chat with one contact, newest first: what they sent and what the
    /// instance sent them.
    async fn chat_history(
        &self,
        instance: InstanceId,
        contact: &str,
        limit: usize,
    ) -> StoreResult<Vec<ChatEntry>>;

    /// An inbound message event by the platform's message id.
    async fn inbound_message(
        &self,
        instance: InstanceId,
        message_id: &str,
    ) -> StoreResult<Option<Event>>;

    /// The instance's events of one type since a time, newest first.
    async fn events_since(
        &self,
        instance: InstanceId,
        type_name: &str,
        since: Timestamp,
        limit: usize,
    ) -> StoreResult<Vec<Event>>;

    /// The instance's outbound messages created since a time, newest first.
    async fn messages_since(
        &self,
        instance: InstanceId,
        since: Timestamp,
        limit: usize,
    ) -> StoreResult<Vec<OutboundMessage>>;

    /// How many messages the instance queued since a time (quotas).
    async fn count_messages_since(
        &self,
        instance: InstanceId,
        since: Timestamp,
    ) -> StoreResult<u64>;

    /// Drops every pending notification of the instance (the journal keeps
    /// the events). Returns how many.
    async fn clear_notifications(&self, instance: InstanceId) -> StoreResult<u64>;

    /// Stores an uploaded file.
    async fn store_file(&self, file: StoredFile) -> StoreResult<()>;

    /// An uploaded file.
    async fn file(&self, id: &str) -> StoreResult<Option<StoredFile>>;

    /// The work waiting across all instances (a few counts over partial
    /// indexes: cheap enough for each metrics scrape, not for each request).
    async fn work_totals(&self) -> StoreResult<WorkTotals>;

    /// Removes journal events, notifications and finished messages older
    /// than the cutoffs, at most `limit` rows of each. Pending pushes are
    /// kept until they are delivered or dead.
    async fn purge(
        &self,
        journal_before: Timestamp,
        notifications_before: Timestamp,
        limit: usize,
    ) -> StoreResult<Purged>;
}
