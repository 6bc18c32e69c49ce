//! The services every dialect calls: instances, settings, sending, the
//! queue, receipts. A dialect converts its wire types to these calls and the
//! answers back; it has no rules of its own.

use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::sync::Notify;

use crate::clock::{Clock, Timestamp};
use crate::connector::{ActionError, Connectors};
use crate::contact::Contact;
use crate::error::{Error, FieldPath, Missing, Result, Violation};
use crate::event::{Event, EventId, EventPayload, Inbound};
use crate::ids::{ApiToken, InstanceId, MessageId, TokenHash};
use crate::instance::{
    Account, ConnectorKind, Instance, InstanceState, NAME_MAX_CHARS, WebhookFormat,
};
use crate::message::{Callback, Content, NewMessage, OutboundMessage, Recipient};
use crate::network::NetworkPolicy;
use crate::profiles::ProfileRequests;
use crate::rules::{ContentLimits, check_message};
use crate::settings::{DelayPolicy, Settings, SettingsPatch};
use crate::store::{
    ChatEntry, ChatRead, Delivery, Enqueued, Ingested, NewInstance, Notification,
    NotificationState, Receipt, ReceiptOutcome, ReplayFrom, Store, StoreError, StoredFile,
};
use crate::vault::Vault;
use crate::webhook::WebhookSecret;

/// Longest idempotency key accepted.
pub const IDEMPOTENCY_KEY_MAX_CHARS: usize = 255;

/// Most queued messages one listing returns.
pub const QUEUE_LISTING_MAX: usize = 1000;

/// Most notifications or events one listing returns.
pub const LISTING_MAX: usize = 1000;

/// What creating an instance needs.
#[derive(Debug, Clone)]
pub struct CreateInstance {
    /// Its connector.
    pub kind: ConnectorKind,
    /// A name for people.
    pub name: String,
    /// Its settings (the caller picks the defaults its dialect documents).
    pub settings: Settings,
    /// The shape of its webhooks (the dialect that creates it).
    pub webhook_format: WebhookFormat,
}

/// Rules of the services that come from configuration.
#[derive(Debug, Clone)]
pub struct GatewayPolicy {
    /// Which networks user-supplied URLs may point into.
    pub network: NetworkPolicy,
    /// How long a rotated-out webhook secret keeps signing.
    pub secret_grace: Duration,
    /// Seals secrets that must be shown again (API tokens for the partner).
    pub vault: Arc<Vault>,
}

impl Default for GatewayPolicy {
    fn default() -> Self {
        let key = Vault::parse_key(&Vault::generate_key()).unwrap_or([0; crate::vault::KEY_LEN]);
        Self {
            network: NetworkPolicy::strict(),
            secret_grace: Duration::from_secs(24 * 3600),
            vault: Arc::new(Vault::new(&key)),
        }
    }
}

/// The oldest a platform's event time is believed (Meta redelivers for up
/// to 36 hours, WhatsApp for 7 days).
pub const OCCURRED_AT_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

/// An instance as the partner API shows it.
#[derive(Debug, Clone)]
pub struct PartnerView {
    /// The instance.
    pub instance: Instance,
    /// Its API token, when it can be unsealed with this server's key.
    pub token: Option<String>,
    /// When it was deleted, if it was.
    pub deleted_at: Option<crate::clock::Timestamp>,
}

/// A created instance and its token, shown this once.
#[derive(Debug, Clone)]
pub struct CreatedInstance {
    /// The instance.
    pub instance: Instance,
    /// Its API token in clear; only its hash is stored.
    pub token: ApiToken,
}

/// What sending needs.
#[derive(Debug, Clone)]
pub struct SendRequest {
    /// Who it goes to.
    pub recipient: Recipient,
    /// What it says.
    pub content: Content,
    /// A key that makes a retried request return the first answer instead
    /// of sending twice.
    pub idempotency_key: Option<String>,
    /// The recipient's handle, when the caller knows it (Getloo's
    /// `username`); recorded on the contact.
    pub recipient_username: Option<String>,
    /// Status callbacks and the caller's references (imiconnect).
    pub callback: Option<Callback>,
}

/// A message accepted for sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The stored message.
    pub message: OutboundMessage,
    /// True when this is the answer to an earlier request with the same
    /// idempotency key (nothing new was queued).
    pub replayed: bool,
}

/// Wakes the outbound worker when something was queued, so an idle
/// instance's message leaves at once instead of at the next poll.
#[derive(Debug, Default, Clone)]
pub struct OutboundSignal(Arc<Notify>);

impl OutboundSignal {
    /// Wakes the worker (or makes its next wait return at once).
    pub fn wake(&self) {
        self.0.notify_one();
    }

    /// Waits for a wake.
    pub async fn woken(&self) {
        self.0.notified().await;
    }
}

/// The core services, shared by every dialect and the CLI.
#[derive(Clone)]
pub struct Gateway {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    outbound: OutboundSignal,
    policy: Arc<GatewayPolicy>,
    connectors: Connectors,
    profiles: Arc<ProfileRequests>,
    stopping: Arc<tokio::sync::watch::Sender<bool>>,
}

impl Gateway {
    /// Builds the services on a store and a clock.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        outbound: OutboundSignal,
        policy: GatewayPolicy,
    ) -> Self {
        Self {
            store,
            clock,
            outbound,
            policy: Arc::new(policy),
            connectors: Connectors::new(),
            profiles: Arc::new(ProfileRequests::new()),
            stopping: Arc::new(tokio::sync::watch::channel(false).0),
        }
    }

    /// The process is stopping: long polls answer "nothing yet" at once
    /// instead of holding the graceful stop for up to their whole wait (the
    /// client polls again, elsewhere or after the restart; nothing is
    /// acknowledged, so nothing is lost).
    pub fn begin_stop(&self) {
        self.stopping.send_replace(true);
    }

    /// Whether the process has begun to stop.
    pub fn is_stopping(&self) -> bool {
        *self.stopping.borrow()
    }

    /// Resolves once the process begins to stop: streams that would
    /// otherwise hold the graceful stop open end here.
    pub async fn stopped(&self) {
        let mut stopping = self.stopping.subscribe();
        let _ = stopping.wait_for(|stopping| *stopping).await;
    }

    /// The same services, able to reach the platforms for actions that are
    /// not queued messages (marking read, typing).
    pub fn with_connectors(mut self, connectors: Connectors) -> Self {
        self.connectors = connectors;
        self
    }

    /// Marks the chat with `contact` read on the platform.
    pub async fn mark_read(
        &self,
        instance: &Instance,
        contact: &str,
        message: Option<&str>,
    ) -> Result<()> {
        let connector = self.connector(instance)?;
        // WhatsApp marks read by message: without one, the customer's
        // newest message stands for the chat.
        let newest;
        let message = match message {
            None if instance.kind == ConnectorKind::Whatsapp => {
                newest = self.newest_incoming(instance.id, contact).await?;
                newest.as_deref()
            }
            given => given,
        };
        connector.mark_read(instance, contact, message).await.map_err(action_error)
    }

    /// The platform id of the newest message a contact sent, if any.
    async fn newest_incoming(&self, instance: InstanceId, contact: &str) -> Result<Option<String>> {
        let history = self.chat_history(instance, contact, 50).await?;
        Ok(history.into_iter().find_map(|entry| match entry {
            ChatEntry::Incoming(event) => match event.payload {
                EventPayload::IncomingMessage(m) => Some(m.message_id),
                _ => None,
            },
            ChatEntry::Outgoing(_) => None,
        }))
    }

    /// Shows "typing…" to `contact` on the platform.
    pub async fn typing(&self, instance: &Instance, contact: &str) -> Result<()> {
        let connector = self.connector(instance)?;
        connector.typing(instance, contact).await.map_err(action_error)
    }

    fn connector(&self, instance: &Instance) -> Result<&Arc<dyn crate::connector::Connector>> {
        self.connectors.get(instance.kind).ok_or_else(|| {
            Error::InstanceUnavailable(format!("this server has no {} connector", instance.kind))
        })
    }

    /// The configured rules.
    pub fn policy(&self) -> &GatewayPolicy {
        &self.policy
    }

    /// The store (for the workers, which share it).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Whether the database answers.
    pub async fn ready(&self) -> Result<()> {
        self.store.ping().await.map_err(store_error)
    }

    /// Creates an instance with a fresh id and token.
    pub async fn create_instance(&self, request: CreateInstance) -> Result<CreatedInstance> {
        let name = request.name.trim().to_owned();
        if name.chars().count() > NAME_MAX_CHARS || name.chars().any(char::is_control) {
            return Err(Violation::new(
                FieldPath::key("name"),
                format!("must be at most {NAME_MAX_CHARS} printable characters"),
            )
            .into());
        }
        if let Some(url) = &request.settings.webhook_url {
            self.check_network(url)?;
        }
        let token = ApiToken::generate();
        // A collision of random 10-digit ids is rare but possible: draw again.
        for _ in 0..8 {
            let id = InstanceId::generate();
            // A sandbox instance is its own account; a Meta instance learns
            // its account when its connection is validated.
            let account = (request.kind == ConnectorKind::Sandbox).then(|| Account::sandbox(id));
            let new = NewInstance {
                id,
                kind: request.kind,
                name: name.clone(),
                token_hash: token.hash(),
                token_sealed: self.policy.vault.seal(token.reveal(), &id.to_string()),
                service_secret_sealed: self
                    .policy
                    .vault
                    .seal(&ServiceSecret::generate(), &ServiceSecret::context(id)),
                state: request.kind.initial_state(),
                settings: request.settings.clone(),
                webhook_format: request.webhook_format,
                webhook_secret: WebhookSecret::generate(),
                account,
                created_at: self.clock.now(),
            };
            match self.store.create_instance(new).await {
                Ok(instance) => return Ok(CreatedInstance { instance, token }),
                Err(StoreError::Duplicate(_)) => continue,
                Err(e) => return Err(store_error(e)),
            }
        }
        Err(Error::Internal("could not find a free instance id".into()))
    }

    /// Every instance.
    pub async fn instances(&self) -> Result<Vec<Instance>> {
        self.store.instances().await.map_err(store_error)
    }

    /// One instance.
    pub async fn instance(&self, id: InstanceId) -> Result<Instance> {
        match self.store.instance(id).await.map_err(store_error)? {
            Some((instance, _)) => Ok(instance),
            None => Err(Error::NotFound(Missing::Instance)),
        }
    }

    /// The instance `id`, if `token` is its API token. The comparison takes
    /// the same time however much of the token is right.
    pub async fn authenticate(&self, id: InstanceId, token: &str) -> Result<Instance> {
        let presented = TokenHash::of(token);
        match self.store.instance(id).await.map_err(store_error)? {
            Some((instance, stored)) if stored.matches(&presented) => Ok(instance),
            Some(_) => Err(Error::Unauthorized),
            None => Err(Error::NotFound(Missing::Instance)),
        }
    }

    /// The instance whose API token this is (dialects with the token alone
    /// in the URL). The lookup is by hash, so the token itself is never
    /// compared character by character.
    pub async fn authenticate_token(&self, token: &str) -> Result<Instance> {
        let presented = TokenHash::of(token);
        self.store
            .instance_by_token(&presented)
            .await
            .map_err(store_error)?
            .ok_or(Error::Unauthorized)
    }

    /// Deletes an instance; its queued messages fail.
    pub async fn delete_instance(&self, id: InstanceId) -> Result<()> {
        let deleted = self
            .store
            .delete_instance(id, self.clock.now(), "the instance was deleted")
            .await
            .map_err(store_error)?;
        if deleted { Ok(()) } else { Err(Error::NotFound(Missing::Instance)) }
    }

    /// Changes some settings of an instance.
    pub async fn update_settings(
        &self,
        id: InstanceId,
        patch: &SettingsPatch,
        policy: DelayPolicy,
    ) -> Result<Instance> {
        let current = self.instance(id).await?;
        let next = patch.apply(&current.settings, policy)?;
        if let Some(url) = &next.webhook_url
            && next.webhook_url != current.settings.webhook_url
        {
            self.check_network(url)?;
        }
        let updated = self.store.update_settings(id, &next).await.map_err(store_error)?;
        // A shorter gap may let a waiting message leave earlier.
        self.outbound.wake();
        updated.ok_or(Error::NotFound(Missing::Instance))
    }

    /// Refuses a URL that visibly points into a network chatgate may not
    /// reach (the resolved address is checked again at connect time).
    fn check_network(&self, url: &str) -> Result<()> {
        self.policy
            .network
            .check_url(url)
            .map_err(|reason| Violation::new(FieldPath::key("webhookUrl"), reason).into())
    }

    /// Points the instance's webhooks at `url` (or switches them off with
    /// `None`) in a vendor's format: what a dialect's "set webhook" does.
    pub async fn set_webhook(
        &self,
        id: InstanceId,
        url: Option<String>,
        format: WebhookFormat,
        policy: DelayPolicy,
    ) -> Result<Instance> {
        let patch = SettingsPatch { webhook_url: Some(url), ..SettingsPatch::default() };
        self.update_settings(id, &patch, policy).await?;
        self.store
            .set_webhook_format(id, format)
            .await
            .map_err(store_error)?
            .ok_or(Error::NotFound(Missing::Instance))
    }

    /// Sets the shape of the instance's webhooks (the dialect that wrote its
    /// settings).
    pub async fn set_webhook_format(
        &self,
        id: InstanceId,
        format: WebhookFormat,
    ) -> Result<Instance> {
        self.store
            .set_webhook_format(id, format)
            .await
            .map_err(store_error)?
            .ok_or(Error::NotFound(Missing::Instance))
    }

    /// Replaces the instance's webhook signing secret; the old one keeps
    /// signing for the configured grace period.
    pub async fn rotate_webhook_secret(&self, id: InstanceId) -> Result<Instance> {
        let until = self.clock.now().plus(self.policy.secret_grace);
        self.store
            .rotate_webhook_secret(id, WebhookSecret::generate(), until)
            .await
            .map_err(store_error)?
            .ok_or(Error::NotFound(Missing::Instance))
    }

    /// Changes the instance's state (journaled as a `stateChanged` event).
    pub async fn set_state(
        &self,
        id: InstanceId,
        state: InstanceState,
        reason: Option<&str>,
    ) -> Result<Instance> {
        let updated = self
            .store
            .set_state(id, state, reason, self.clock.now())
            .await
            .map_err(store_error)?
            .ok_or(Error::NotFound(Missing::Instance))?;
        self.outbound.wake();
        Ok(updated)
    }

    /// Journals inbound events (deduplicated on the platform's ids) and
    /// queues their notifications; returns after the commit.
    pub async fn ingest(
        &self,
        instance: InstanceId,
        events: Vec<EventPayload>,
    ) -> Result<Vec<Ingested>> {
        self.ingest_occurred(instance, events.into_iter().map(|e| (e, None)).collect()).await
    }

    /// Like [`Gateway::ingest`] with the time each event happened on the
    /// platform, when it says (a redelivery hours later keeps its time).
    /// The time is kept within the last [`OCCURRED_AT_MAX_AGE`] up to now:
    /// a platform clock ahead of ours, or a nonsense time, must neither
    /// reorder the future nor hand the event to the retention janitor.
    pub async fn ingest_occurred(
        &self,
        instance: InstanceId,
        events: Vec<(EventPayload, Option<Timestamp>)>,
    ) -> Result<Vec<Ingested>> {
        let now = self.clock.now();
        let kinds: Vec<&'static str> = events.iter().map(|(e, _)| e.type_name()).collect();
        let events = events
            .into_iter()
            .map(|(payload, at)| Inbound {
                payload,
                occurred_at: at.map_or(now, |at| at.clamp(now.minus(OCCURRED_AT_MAX_AGE), now)),
                platform_time: at,
            })
            .collect();
        let outcomes = self.store.ingest(instance, events, now).await.map_err(store_error)?;
        for (kind, outcome) in kinds.into_iter().zip(&outcomes) {
            let name = match outcome {
                Ingested::Stored(_) => crate::metrics::INGESTED,
                Ingested::Duplicate => crate::metrics::INGEST_DUPLICATES,
            };
            ::metrics::counter!(name, "kind" => kind).increment(1);
        }
        Ok(outcomes)
    }

    /// Whether a customer's comment with this id reached the instance (a
    /// message to it is then a private reply).
    pub async fn knows_comment(&self, instance: InstanceId, comment_id: &str) -> Result<bool> {
        Ok(self.store.comment_at(instance, comment_id).await.map_err(store_error)?.is_some())
    }

    /// Connects an instance to its platform account: checks the token with
    /// the platform, records the account (id and username) and the sealed
    /// token, and makes the instance `authorized`, or `notAuthorized` with
    /// the platform's reason.
    pub async fn connect(
        &self,
        id: InstanceId,
        connection: crate::connector::Connection<'_>,
    ) -> Result<Instance> {
        let instance = self.instance(id).await?;
        check_connection(instance.kind, &connection)?;
        let crate::connector::Connection { account_id, access_token, .. } = connection;
        // One live instance per account: Meta's webhooks name the account,
        // and each delivery must reach exactly one instance.
        if let Some(other) = self.instance_by_account(account_id).await?
            && other.id != id
        {
            return Err(Error::Conflict(format!(
                "account {account_id} is connected to instance {}; delete that instance first",
                other.id
            )));
        }
        let connector = self.connector(&instance)?;
        let refused = match connector.validate(&connection).await {
            Ok(profile) if profile.id == account_id => {
                let sealed = crate::instance::SealedToken(
                    self.policy.vault.seal(access_token, &id.to_string()),
                );
                let account = Account {
                    id: profile.id,
                    username: profile.username,
                    business_id: profile.business_id,
                };
                let updated = self
                    .store
                    .set_connection(
                        id,
                        account,
                        sealed,
                        InstanceState::Authorized,
                        None,
                        self.clock.now(),
                    )
                    .await
                    .map_err(|e| match e {
                        StoreError::Duplicate(_) => Error::Conflict(format!(
                            "account {account_id} was just connected to another instance"
                        )),
                        other => store_error(other),
                    })?
                    .ok_or(Error::NotFound(Missing::Instance))?;
                self.outbound.wake();
                return Ok(updated);
            }
            Ok(profile) => {
                format!("the access token belongs to account {}, not {account_id}", profile.id)
            }
            Err(crate::connector::ConnectError::Unsupported(name)) => {
                return Err(Violation::new(
                    FieldPath::key("accessToken"),
                    format!("the {name} connector takes no connection"),
                )
                .into());
            }
            // Meta could not say: nothing changes, a working connection stays.
            Err(crate::connector::ConnectError::Unreachable(detail)) => {
                return Err(Error::PlatformUnavailable(format!(
                    "the platform could not be reached to check the token ({detail}); nothing was changed"
                )));
            }
            Err(crate::connector::ConnectError::Rejected(reason)) => reason,
        };
        // A refused token is never stored, nor the account it named (which
        // would otherwise claim that account's webhooks). An instance with a
        // working connection keeps it; one without says why it has none.
        if instance.state == InstanceState::Authorized && instance.access_token.is_some() {
            return Err(Violation::new(
                FieldPath::key("accessToken"),
                format!("the platform refused this token: {refused}; the instance keeps its current connection"),
            )
            .into());
        }
        self.set_state(id, InstanceState::NotAuthorized, Some(&refused)).await
    }

    /// The instance's service secret (base64, 32 bytes), which signs its
    /// JWTs (imiconnect); one is made for an instance that has none.
    pub async fn service_secret(&self, id: InstanceId) -> Result<String> {
        let context = ServiceSecret::context(id);
        let candidate = self.policy.vault.seal(&ServiceSecret::generate(), &context);
        let sealed = self
            .store
            .ensure_service_secret(id, candidate)
            .await
            .map_err(store_error)?
            .ok_or(Error::NotFound(Missing::Instance))?;
        self.policy.vault.open(&sealed, &context).ok_or_else(|| {
            Error::Internal("the service secret cannot be opened with this server's key".into())
        })
    }

    /// Replaces the instance's service secret with a new one (JWTs signed
    /// with the old one stop working at once); returns the new one.
    pub async fn rotate_service_secret(&self, id: InstanceId) -> Result<String> {
        let secret = ServiceSecret::generate();
        let sealed = self.policy.vault.seal(&secret, &ServiceSecret::context(id));
        if self.store.replace_service_secret(id, sealed).await.map_err(store_error)? {
            Ok(secret)
        } else {
            Err(Error::NotFound(Missing::Instance))
        }
    }

    /// The service secret of a live instance, if it has one, without making
    /// one (for authentication).
    pub async fn existing_service_secret(&self, id: InstanceId) -> Result<Option<String>> {
        let sealed = self.store.stored_service_secret(id).await.map_err(store_error)?;
        Ok(sealed.and_then(|sealed| self.policy.vault.open(&sealed, &ServiceSecret::context(id))))
    }

    /// The live instance connected to a platform account.
    pub async fn instance_by_account(&self, account_id: &str) -> Result<Option<Instance>> {
        self.store.instance_by_account(account_id).await.map_err(store_error)
    }

    /// Queues contacts of an instance whose profile is to be asked of the
    /// platform (see [`ProfileRequests`]); cheap, for ingest paths.
    /// Nothing is queued for a platform that gives no profiles.
    pub fn request_profiles(
        &self,
        instance: &Instance,
        contacts: impl IntoIterator<Item = String>,
    ) {
        if self.connectors.get(instance.kind).is_some_and(|c| c.has_profiles()) {
            self.profiles.request(instance.id, contacts);
        }
    }

    /// The contacts waiting for their profile.
    pub fn profile_requests(&self) -> &ProfileRequests {
        &self.profiles
    }

    /// Asks the platform for the profiles of up to `limit` waiting contacts
    /// that still have neither username nor name, and records them. Returns
    /// how many contacts were looked at.
    pub async fn fetch_requested_profiles(&self, limit: usize) -> Result<usize> {
        let taken = self.profiles.take(limit);
        for (instance_id, contact) in &taken {
            let instance = match self.store.instance(*instance_id).await.map_err(store_error)? {
                Some((instance, _)) => instance,
                None => continue,
            };
            self.enrich_contacts(&instance, std::slice::from_ref(contact)).await?;
        }
        Ok(taken.len())
    }

    /// Asks the platform for the profile of contacts that have no name yet,
    /// and records it, once: a contact the platform answered for (even with
    /// no profile) is not asked about again; one the platform could not be
    /// asked about (a network failure) is, after its next message.
    pub async fn enrich_contacts(&self, instance: &Instance, contacts: &[String]) -> Result<()> {
        let Some(connector) = self.connectors.get(instance.kind) else { return Ok(()) };
        for id in contacts {
            let known = self.store.contact(instance.id, id).await.map_err(store_error)?;
            let settled = known.as_ref().is_some_and(|c| {
                c.username.is_some() || c.name.is_some() || c.profile_checked_at.is_some()
            });
            if settled {
                continue;
            }
            if let Some(profile) = connector.profile(instance, id).await {
                self.store
                    .update_contact(
                        instance.id,
                        id,
                        profile.username,
                        profile.name,
                        self.clock.now(),
                    )
                    .await
                    .map_err(store_error)?;
            }
        }
        Ok(())
    }

    /// A contact of the instance.
    pub async fn contact(&self, instance: InstanceId, id: &str) -> Result<Option<Contact>> {
        self.store.contact(instance, id).await.map_err(store_error)
    }

    /// The journal after a sequence number.
    pub async fn events(
        &self,
        instance: InstanceId,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<Event>> {
        self.store.events(instance, after_seq, limit.min(LISTING_MAX)).await.map_err(store_error)
    }

    /// The next notification for a pulling consumer, waiting up to `wait`
    /// for one to arrive. The same notification comes back until it is
    /// acknowledged.
    pub async fn next_notification(
        &self,
        instance: InstanceId,
        wait: Duration,
    ) -> Result<Option<Notification>> {
        let deadline = self.clock.now().plus(wait);
        let signal = self.store.notifications_signal();
        let mut stopping = self.stopping.subscribe();
        loop {
            // Register before looking, so a notification committed between
            // the look and the wait still wakes us.
            let waiter = signal.waiter(instance);
            if let Some(next) = self.store.next_notification(instance).await.map_err(store_error)? {
                return Ok(Some(next));
            }
            if self.clock.now() >= deadline || *stopping.borrow() {
                return Ok(None);
            }
            tokio::select! {
                _ = waiter.wait() => {}
                _ = self.clock.sleep_until(deadline) => {}
                _ = stopping.wait_for(|stopping| *stopping) => {}
            }
        }
    }

    /// Acknowledges a pulled notification; the next one becomes available.
    pub async fn ack_notification(&self, instance: InstanceId, receipt_id: u64) -> Result<()> {
        let acked = self
            .store
            .ack_notification(instance, receipt_id, self.clock.now())
            .await
            .map_err(store_error)?;
        if acked { Ok(()) } else { Err(Error::NotFound(Missing::Notification)) }
    }

    /// How many notifications of the instance are pending.
    pub async fn pending_notifications(&self, instance: InstanceId) -> Result<u64> {
        self.store.pending_notifications(instance).await.map_err(store_error)
    }

    /// Queues the event again for the consumer (same event id, new receipt).
    pub async fn redeliver(&self, instance: InstanceId, event: EventId) -> Result<u64> {
        self.store
            .renotify(instance, event, self.clock.now())
            .await
            .map_err(store_error)?
            .ok_or(Error::NotFound(Missing::Event))
    }

    /// Queues every event from a point on again. Returns how many.
    pub async fn replay(&self, instance: InstanceId, from: ReplayFrom) -> Result<u64> {
        self.store.replay(instance, from, self.clock.now()).await.map_err(store_error)
    }

    /// The instance's recent notifications with every push attempt.
    pub async fn deliveries(
        &self,
        instance: InstanceId,
        state: Option<NotificationState>,
        limit: usize,
    ) -> Result<Vec<Delivery>> {
        self.store.deliveries(instance, state, limit.min(LISTING_MAX)).await.map_err(store_error)
    }

    /// Checks a message against the instance's platform rules, stores it and
    /// queues it. Returns only after it is committed.
    pub async fn send(&self, instance: &Instance, request: SendRequest) -> Result<Accepted> {
        if !instance.active {
            return Err(Error::InstanceUnavailable("the instance is not active".into()));
        }
        check_message(
            &request.recipient,
            &request.content,
            &ContentLimits::for_kind(instance.kind),
        )?;
        if let Some(key) = &request.idempotency_key
            && (key.is_empty()
                || key.chars().count() > IDEMPOTENCY_KEY_MAX_CHARS
                || key.chars().any(char::is_control))
        {
            return Err(Violation::new(
                FieldPath::key("Idempotency-Key"),
                format!("must be 1 to {IDEMPOTENCY_KEY_MAX_CHARS} printable characters"),
            )
            .into());
        }
        if let Some(callback) = &request.callback {
            check_callback(callback)?;
            if let Some(url) = &callback.url {
                self.policy.network.check_url(url).map_err(|reason| {
                    Error::from(Violation::new(FieldPath::key("callbackUrl"), reason))
                })?;
            }
        }
        let fingerprint = request.idempotency_key.as_ref().map(|_| fingerprint(&request));
        let mut content = request.content;
        // A quote may name one of the instance's own messages by chatgate's
        // id (GREEN-API's idMessage): the platform knows it by its own.
        if let Some(quoted) = &content.reply_to
            && let Ok(id) = quoted.parse::<MessageId>()
            && let Some(sent) = self.store.message(instance.id, id).await.map_err(store_error)?
            && let Some(provider) = sent.provider_message_id
        {
            content.reply_to = Some(provider);
        }
        let new = NewMessage {
            id: MessageId::generate(),
            instance_id: instance.id,
            recipient: request.recipient,
            content,
            idempotency_key: request.idempotency_key,
            request_fingerprint: fingerprint,
            recipient_username: request.recipient_username,
            callback: request.callback,
            created_at: self.clock.now(),
        };
        match self.store.enqueue(new).await.map_err(store_error)? {
            Enqueued::Accepted(message) => {
                ::metrics::counter!(
                    crate::metrics::MESSAGES,
                    "status" => "queued",
                    "connector" => instance.kind.as_str()
                )
                .increment(1);
                self.outbound.wake();
                Ok(Accepted { message, replayed: false })
            }
            Enqueued::Duplicate { existing, same_request: true } => {
                Ok(Accepted { message: existing, replayed: true })
            }
            Enqueued::Duplicate { same_request: false, .. } => Err(Error::Conflict(
                "this Idempotency-Key was already used for a different message".into(),
            )),
            Enqueued::CommentAnswered => Err(Violation::new(
                FieldPath::key("to").then("commentId"),
                "this comment was already answered; Instagram allows one private reply per comment",
            )
            .into()),
        }
    }

    /// Every instance, deleted ones included, with its API token unsealed.
    pub async fn partner_instances(&self) -> Result<Vec<PartnerView>> {
        let all = self.store.partner_instances().await.map_err(store_error)?;
        Ok(all
            .into_iter()
            .map(|p| PartnerView {
                token: p
                    .token_sealed
                    .as_deref()
                    .and_then(|sealed| self.policy.vault.open(sealed, &p.instance.id.to_string())),
                deleted_at: p.deleted_at,
                instance: p.instance,
            })
            .collect())
    }

    /// The chat with one contact, newest first.
    pub async fn chat_history(
        &self,
        instance: InstanceId,
        contact: &str,
        limit: usize,
    ) -> Result<Vec<ChatEntry>> {
        self.store
            .chat_history(instance, contact, limit.min(LISTING_MAX))
            .await
            .map_err(store_error)
    }

    /// An inbound message by the platform's id.
    pub async fn inbound_message(
        &self,
        instance: InstanceId,
        message_id: &str,
    ) -> Result<Option<Event>> {
        self.store.inbound_message(instance, message_id).await.map_err(store_error)
    }

    /// The instance's events of one type in the last `window`, newest first.
    pub async fn recent_events(
        &self,
        instance: InstanceId,
        type_name: &str,
        window: Duration,
    ) -> Result<Vec<Event>> {
        let since = self.clock.now().minus(window);
        self.store.events_since(instance, type_name, since, LISTING_MAX).await.map_err(store_error)
    }

    /// The instance's messages queued in the last `window`, newest first.
    pub async fn recent_messages(
        &self,
        instance: InstanceId,
        window: Duration,
    ) -> Result<Vec<OutboundMessage>> {
        let since = self.clock.now().minus(window);
        self.store.messages_since(instance, since, LISTING_MAX).await.map_err(store_error)
    }

    /// How many messages the instance queued since the start of the
    /// current calendar month (UTC).
    pub async fn messages_this_month(&self, instance: InstanceId) -> Result<u64> {
        let now = self.clock.now().to_datetime();
        let start = now.replace_day(1).map(|d| d.replace_time(time::Time::MIDNIGHT)).unwrap_or(now);
        let millis = i64::try_from(start.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
        self.store
            .count_messages_since(instance, crate::clock::Timestamp::from_millis(millis))
            .await
            .map_err(store_error)
    }

    /// Drops the instance's pending notifications. Returns how many.
    pub async fn clear_notifications(&self, instance: InstanceId) -> Result<u64> {
        self.store.clear_notifications(instance).await.map_err(store_error)
    }

    /// Keeps an uploaded file; returns its id.
    pub async fn store_file(
        &self,
        instance: InstanceId,
        name: &str,
        content_type: &str,
        data: Vec<u8>,
    ) -> Result<String> {
        // 128 random bits: the URL is the only key to the file.
        let id = hex::encode(crate::ids::random_bytes::<16>());
        let file = StoredFile {
            id: id.clone(),
            instance_id: instance,
            name: name.to_owned(),
            content_type: content_type.to_owned(),
            data,
            created_at: self.clock.now(),
        };
        self.store.store_file(file).await.map_err(store_error)?;
        Ok(id)
    }

    /// An uploaded file.
    pub async fn file(&self, id: &str) -> Result<Option<StoredFile>> {
        self.store.file(id).await.map_err(store_error)
    }

    /// One message of an instance, with its history.
    pub async fn message(&self, instance: InstanceId, id: MessageId) -> Result<OutboundMessage> {
        self.store
            .message(instance, id)
            .await
            .map_err(store_error)?
            .ok_or(Error::NotFound(Missing::Message))
    }

    /// The instance's pending messages in send order.
    pub async fn queue(&self, instance: InstanceId) -> Result<Vec<OutboundMessage>> {
        self.store.queue(instance, QUEUE_LISTING_MAX).await.map_err(store_error)
    }

    /// How many messages of the instance are pending.
    pub async fn queue_count(&self, instance: InstanceId) -> Result<u64> {
        self.store.queue_count(instance).await.map_err(store_error)
    }

    /// Removes every queued message of the instance (they become `failed`
    /// with the reason "removed from the queue"). Returns how many.
    pub async fn clear_queue(&self, instance: InstanceId) -> Result<u64> {
        self.store
            .clear_queue(instance, self.clock.now(), "removed from the queue by its owner")
            .await
            .map_err(store_error)
    }

    /// Applies a platform's delivery report.
    pub async fn record_receipt(&self, receipt: Receipt) -> Result<ReceiptOutcome> {
        self.store.record_receipt(receipt).await.map_err(store_error)
    }

    /// Records that customers read their chats (see [`ChatRead`]); returns
    /// how many messages became `read`.
    pub async fn record_reads(&self, reads: Vec<ChatRead>) -> Result<usize> {
        if reads.is_empty() {
            return Ok(0);
        }
        self.store.record_reads(reads).await.map_err(store_error)
    }
}

/// A stable digest of what a send request asks for, to tell a retried
/// request from a different one reusing its idempotency key.
fn fingerprint(request: &SendRequest) -> String {
    let canonical = serde_json::to_vec(&(&request.recipient, &request.content)).unwrap_or_default();
    hex::encode(Sha256::digest(canonical))
}

/// The per-instance secret that signs an instance's JWTs (imiconnect's
/// service secret): 32 random bytes in base64, shown to the owner, kept
/// sealed with the server key.
pub struct ServiceSecret;

impl ServiceSecret {
    /// A new secret, base64.
    pub fn generate() -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(crate::ids::random_bytes::<32>())
    }

    /// The vault context that binds a sealed secret to its instance.
    pub fn context(id: InstanceId) -> String {
        format!("service-secret:{id}")
    }
}

/// Longest `callbackData` and `correlationId`, in characters.
pub const CALLBACK_TEXT_MAX_CHARS: usize = 1024;

/// Checks a message's callback: an http(s) URL, data and correlation id of
/// printable text within [`CALLBACK_TEXT_MAX_CHARS`].
fn check_callback(callback: &Callback) -> Result<()> {
    if let Some(url) = &callback.url {
        crate::rules::check_http_url(url, FieldPath::key("callbackUrl"))?;
    }
    for (field, text) in
        [("callbackData", &callback.data), ("correlationId", &callback.correlation_id)]
    {
        if let Some(text) = text
            && (text.chars().count() > CALLBACK_TEXT_MAX_CHARS
                || text.chars().any(char::is_control))
        {
            return Err(Violation::new(
                FieldPath::key(field),
                format!("must be at most {CALLBACK_TEXT_MAX_CHARS} printable characters"),
            )
            .into());
        }
    }
    Ok(())
}

fn action_error(error: ActionError) -> Error {
    match error {
        ActionError::Unsupported { .. } => {
            Violation::new(FieldPath::default(), error.to_string()).into()
        }
        ActionError::Failed(
            e @ (crate::connector::SendError::Transient { .. }
            | crate::connector::SendError::Uncertain { .. }
            | crate::connector::SendError::Throttled { .. }),
        ) => Error::PlatformUnavailable(e.to_string()),
        ActionError::Failed(e) => Error::InstanceUnavailable(e.to_string()),
    }
}

/// Maps a store failure to the core error the caller sees.
pub fn store_error(error: StoreError) -> Error {
    match error {
        StoreError::Unavailable(detail) => Error::Unavailable(detail),
        StoreError::InstanceGone => Error::NotFound(Missing::Instance),
        StoreError::Duplicate(detail) | StoreError::Corrupt(detail) => Error::Internal(detail),
    }
}

/// Checks the shape of a connection (account id and access token) before
/// anything is stored or asked of the platform.
pub fn check_connection(
    kind: ConnectorKind,
    connection: &crate::connector::Connection<'_>,
) -> Result<()> {
    let field_ok =
        |s: &str| !s.is_empty() && s.len() <= 4096 && !s.chars().any(char::is_whitespace);
    let whatsapp = kind == ConnectorKind::Whatsapp;
    let (account_field, account_words) = if whatsapp {
        ("phoneNumberId", "must be the WhatsApp phone number id, without spaces")
    } else {
        ("accountId", "must be the account's id, without spaces")
    };
    if !field_ok(connection.account_id) {
        return Err(Violation::new(FieldPath::key(account_field), account_words).into());
    }
    match (whatsapp, connection.business_id) {
        (true, None) => {
            return Err(Violation::new(
                FieldPath::key("wabaId"),
                "is required: the WhatsApp Business Account id the phone number belongs to",
            )
            .into());
        }
        (true, Some(waba)) if !field_ok(waba) => {
            return Err(Violation::new(
                FieldPath::key("wabaId"),
                "must be the WhatsApp Business Account id, without spaces",
            )
            .into());
        }
        (false, Some(_)) => {
            return Err(Violation::new(
                FieldPath::key("wabaId"),
                format!("the {kind} connector takes no WhatsApp Business Account id"),
            )
            .into());
        }
        _ => {}
    }
    if !field_ok(connection.access_token) {
        return Err(Violation::new(
            FieldPath::key("accessToken"),
            "must be an access token, without spaces",
        )
        .into());
    }
    Ok(())
}
