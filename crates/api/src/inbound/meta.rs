//! Meta's webhook: `GET /webhooks/meta` (the subscription handshake) and
//! `POST /webhooks/meta` (deliveries), and the ingest both this route and
//! the Huawei push endpoint use.
//!
//! A delivery is checked, stored and only then answered 200:
//! 1. `X-Hub-Signature-256` over the raw body, with the app secret
//!    (401, nothing stored, on a missing or wrong signature);
//! 2. the body parsed (`chatgate_connectors::meta::webhook`): a body that is
//!    not a JSON object is 400; an event chatgate cannot read is kept raw;
//! 3. every entry routed by its account id to the instance connected to it;
//!    entries of unknown accounts are counted and logged, and answered 200
//!    (Meta would otherwise retry them for 36 hours);
//! 4. the events of each instance journaled in one write (deduplicated on
//!    `mid` / comment id, as Meta redelivers), `read` updates applied to the
//!    outbound message with that mid;
//! 5. new contacts queued for a profile lookup, done after the answer;
//! 6. WhatsApp's statuses applied to the outbound message with that wamid,
//!    and its files given download links of the gateway (fetched from Meta
//!    only when followed, see [`super::whatsapp_media`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chatgate_connectors::meta::webhook::{self, MetaItem, MetaWebhook, SignatureError};
use chatgate_core::event::EventPayload;
use chatgate_core::ids::TokenHash;
use chatgate_core::message::MessageStatus;
use chatgate_core::store::{ChatRead, Ingested, Receipt, ReceiptOutcome};
use chatgate_core::{ConnectorKind, Instance, InstanceId, Timestamp};

use crate::AppState;
use crate::error::ApiError;

/// The signature header Meta sends.
pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";

/// Meta's webhook settings and what the ingest has seen. `Debug` shows no
/// secret.
pub struct MetaInbound {
    app_secret: String,
    verify_token: Option<TokenHash>,
    /// WhatsApp's files, fetched from Meta when their link is followed.
    pub whatsapp_media: Option<super::whatsapp_media::WhatsappMedia>,
    /// The largest delivery accepted, in bytes.
    pub max_body_bytes: usize,
    /// Entries received for accounts no instance is connected to.
    pub unknown_accounts: AtomicU64,
}

impl std::fmt::Debug for MetaInbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetaInbound")
            .field("has_app_secret", &self.has_app_secret())
            .field("has_verify_token", &self.verify_token.is_some())
            .field("max_body_bytes", &self.max_body_bytes)
            .field("unknown_accounts", &self.unknown_accounts)
            .finish()
    }
}

impl MetaInbound {
    /// Settings from the configuration (`meta.app_secret`,
    /// `meta.verify_token`); empty strings switch the checks to "refuse".
    pub fn new(app_secret: &str, verify_token: &str, max_body_bytes: usize) -> Self {
        Self {
            app_secret: app_secret.to_owned(),
            verify_token: (!verify_token.is_empty()).then(|| TokenHash::of(verify_token)),
            whatsapp_media: None,
            max_body_bytes,
            unknown_accounts: AtomicU64::new(0),
        }
    }

    /// With WhatsApp's files served through `media` (see
    /// [`super::whatsapp_media`]).
    pub fn with_whatsapp_media(mut self, media: super::whatsapp_media::WhatsappMedia) -> Self {
        self.whatsapp_media = Some(media);
        self
    }

    /// Whether an app secret is configured.
    pub fn has_app_secret(&self) -> bool {
        !self.app_secret.is_empty()
    }

    /// Checks `X-Hub-Signature-256` over the raw body.
    pub fn verify(&self, body: &[u8], headers: &HeaderMap) -> Result<(), String> {
        if !self.has_app_secret() {
            return Err("this gateway has no Meta app secret configured (meta.app_secret), \
                        so it cannot check signatures"
                .into());
        }
        let header = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
        webhook::verify_signature(&self.app_secret, body, header)
            .map_err(|e: SignatureError| e.to_string())
    }
}

/// Where the entries of a delivery go.
#[derive(Debug, Clone, Copy)]
pub enum Routing<'a> {
    /// Each entry to the instance connected to its account; with `only`,
    /// entries of any other instance count as unknown.
    ByAccount {
        /// The one instance the sender may deliver for.
        only: Option<InstanceId>,
    },
    /// Every entry to this instance, whatever its account id.
    To(&'a Instance),
}

/// What a delivery did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestSummary {
    /// Events journaled.
    pub stored: usize,
    /// Events delivered before (not stored again).
    pub duplicates: usize,
    /// Outbound messages that `read` updates made `read`.
    pub reads: usize,
    /// Outbound messages whose status a WhatsApp status update moved.
    pub statuses: usize,
    /// Entries for accounts no instance is connected to.
    pub unknown_entries: usize,
    /// Entries of other instances' accounts in a push authenticated as one
    /// instance (ignored).
    pub foreign_entries: usize,
}

/// Journals a parsed delivery (steps 3–5 above).
pub async fn ingest(
    state: &AppState,
    delivery: MetaWebhook,
    routing: Routing<'_>,
) -> Result<IngestSummary, chatgate_core::Error> {
    let mut summary = IngestSummary::default();
    let mut instances: HashMap<String, Option<Instance>> = HashMap::new();
    // Per instance, in delivery order: its events; and every read.
    type Timed = (EventPayload, Option<Timestamp>);
    let mut batches: Vec<(Instance, Vec<Timed>)> = Vec::new();
    // Per connector (for the metrics; one group in practice): the reads.
    let mut reads: Vec<(ConnectorKind, Vec<ChatRead>)> = Vec::new();
    // WhatsApp's statuses of outbound messages, in delivery order.
    let mut receipts: Vec<(ConnectorKind, Receipt)> = Vec::new();
    let now = state.gateway.clock().now();
    for entry in delivery.entries {
        let instance = match routing {
            Routing::To(instance) => Some(instance.clone()),
            Routing::ByAccount { only } => {
                if !instances.contains_key(&entry.account_id) {
                    let found = if entry.account_id.is_empty() {
                        None
                    } else {
                        state.gateway.instance_by_account(&entry.account_id).await?
                    };
                    instances.insert(entry.account_id.clone(), found);
                }
                match instances[&entry.account_id].clone() {
                    Some(instance) if only.is_some_and(|only| instance.id != only) => {
                        summary.foreign_entries += 1;
                        tracing::warn!(
                            account = %entry.account_id,
                            "a push authenticated as one instance carried an entry of another instance's account; it was ignored"
                        );
                        continue;
                    }
                    found => found,
                }
            }
        };
        let Some(instance) = instance else {
            summary.unknown_entries += 1;
            state.meta.unknown_accounts.fetch_add(1, Ordering::Relaxed);
            metrics::counter!(chatgate_core::metrics::META_UNKNOWN_ENTRIES).increment(1);
            tracing::warn!(
                account = %entry.account_id,
                updates = entry.items.len(),
                "a Meta webhook entry for an account no instance is connected to was dropped"
            );
            continue;
        };
        let index = match batches.iter().position(|(i, _)| i.id == instance.id) {
            Some(index) => index,
            None => {
                batches.push((instance, Vec::new()));
                batches.len() - 1
            }
        };
        let occurred = entry.occurred_ms.into_iter().chain(std::iter::repeat(None));
        for (item, at) in entry.items.into_iter().zip(occurred) {
            let at = at.and_then(|ms| i64::try_from(ms).ok()).map(Timestamp::from_millis);
            match item {
                MetaItem::Event(event) => {
                    let event = state.meta.link_media(&batches[index].0, event);
                    batches[index].1.push((event, at));
                }
                // The send's own answer made it `sent`.
                MetaItem::Status { status: MessageStatus::Sent, .. } => {}
                MetaItem::Status { message_id, status, error, .. } => {
                    let receipt = Receipt {
                        instance_id: batches[index].0.id,
                        provider_message_id: message_id,
                        status,
                        at: at.map_or(now, |t| t.min(now)),
                        detail: error,
                    };
                    receipts.push((batches[index].0.kind, receipt));
                }
                MetaItem::Read { message_id, reader, watermark_ms } => {
                    let watermark = watermark_ms
                        .and_then(|ms| i64::try_from(ms).ok())
                        .map(Timestamp::from_millis);
                    let read = ChatRead {
                        instance_id: batches[index].0.id,
                        provider_message_id: message_id,
                        contact: reader,
                        up_to: watermark.or(at).map_or(now, |t| t.min(now)),
                        at: now,
                    };
                    let kind = batches[index].0.kind;
                    match reads.iter_mut().find(|(k, _)| *k == kind) {
                        Some((_, group)) => group.push(read),
                        None => reads.push((kind, vec![read])),
                    }
                }
            }
        }
    }
    // Every instance's events go to the store at once, so one delivery for
    // many accounts is one group commit, not one commit after another.
    let mut writes = Vec::with_capacity(batches.len());
    let mut profiles = Vec::with_capacity(batches.len());
    for (instance, events) in batches {
        // Contacts whose events carried no profile, each once: the profile
        // worker asks the platform about those it does not know yet.
        let mut unknown: Vec<String> = Vec::new();
        for sender in events
            .iter()
            .map(|(e, _)| e)
            .filter(|e| {
                matches!(e, EventPayload::IncomingMessage(_) | EventPayload::IncomingComment(_))
            })
            .filter_map(|e| e.sender())
            .filter(|s| s.username.is_none() && s.name.is_none())
        {
            if !unknown.contains(&sender.id) {
                unknown.push(sender.id.clone());
            }
        }
        if !events.is_empty() {
            writes.push(state.gateway.ingest_occurred(instance.id, events));
        }
        profiles.push((instance, unknown));
    }
    for outcomes in futures::future::join_all(writes).await {
        for outcome in outcomes? {
            match outcome {
                Ingested::Stored(_) => summary.stored += 1,
                Ingested::Duplicate => summary.duplicates += 1,
            }
        }
    }
    // After the commit: the profile worker finds the contacts stored.
    for (instance, unknown) in profiles {
        state.gateway.request_profiles(&instance, unknown);
    }
    for (kind, group) in reads {
        let read = state.gateway.record_reads(group).await?;
        metrics::counter!(
            chatgate_core::metrics::MESSAGES,
            "status" => "read",
            "connector" => kind.as_str()
        )
        .increment(read as u64);
        summary.reads += read;
    }
    for (kind, receipt) in receipts {
        let status = receipt.status;
        let message = receipt.provider_message_id.clone();
        match state.gateway.record_receipt(receipt).await? {
            ReceiptOutcome::Applied => {
                summary.statuses += 1;
                metrics::counter!(
                    chatgate_core::metrics::MESSAGES,
                    "status" => status.as_str(),
                    "connector" => kind.as_str()
                )
                .increment(1);
            }
            ReceiptOutcome::Stale => {}
            ReceiptOutcome::Unknown => {
                tracing::debug!(%message, "a status of a message this gateway did not send");
            }
        }
    }
    Ok(summary)
}

/// `GET /webhooks/meta`: answers `hub.challenge` when `hub.verify_token` is
/// the configured one (compared in constant time), 403 otherwise.
async fn handshake(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let presented = query.get("hub.verify_token").map(String::as_str).unwrap_or_default();
    let subscribe = query.get("hub.mode").map(String::as_str) == Some("subscribe");
    let token_ok = state
        .meta
        .verify_token
        .as_ref()
        .is_some_and(|expected| expected.matches(&TokenHash::of(presented)));
    match (subscribe, token_ok, query.get("hub.challenge")) {
        (true, true, Some(challenge)) => {
            tracing::info!("Meta webhook subscription verified");
            ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], challenge.clone())
                .into_response()
        }
        (_, _, None) => {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid", "hub.challenge is missing")
                .into_response()
        }
        (false, _, _) => {
            ApiError::new(StatusCode::FORBIDDEN, "forbidden", "hub.mode must be subscribe")
                .into_response()
        }
        (true, false, _) => {
            let detail = if state.meta.verify_token.is_none() {
                "this gateway has no verify token configured (meta.verify_token)"
            } else {
                "hub.verify_token is not this gateway's verify token"
            };
            ApiError::new(StatusCode::FORBIDDEN, "forbidden", detail).into_response()
        }
    }
}

/// `POST /webhooks/meta`: one delivery.
async fn deliver(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiError> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("a delivery may be at most {} bytes", state.meta.max_body_bytes),
            )
        } else {
            ApiError::new(rejection.status(), "bad_body", rejection.body_text())
        }
    })?;
    state.meta.verify(&body, &headers).map_err(ApiError::unauthorized)?;
    let delivery = webhook::parse(&body).map_err(|e| ApiError::invalid("body", e.to_string()))?;
    let summary = ingest(&state, delivery, Routing::ByAccount { only: None }).await?;
    tracing::debug!(?summary, "Meta webhook delivery stored");
    Ok(StatusCode::OK)
}

/// The Meta webhook routes.
pub fn router(max_body_bytes: usize) -> Router<AppState> {
    Router::new()
        .route("/webhooks/meta", get(handshake).post(deliver))
        .layer(DefaultBodyLimit::max(max_body_bytes))
}
