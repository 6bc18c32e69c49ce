//! The outbound worker: takes the next message of an instance whose turn it
//! is, hands it to the connector and decides what the answer means.
//!
//! Invariants (kept by the store's lease, see [`Store::claim_outbound`]):
//! - one message per instance is in flight at a time, so each instance's
//!   queue is strictly FIFO;
//! - the next message of an instance leaves no earlier than
//!   `delaySendMessagesMilliseconds` after the previous attempt of that
//!   instance ended (an idle instance sends at once);
//! - a worker that dies mid-send loses its lease when it expires, and the
//!   message is sent again by whoever claims it next.
//!
//! The loop that calls [`OutboundWorker::try_send_next`] (or claims in
//! batches) lives in the binary; tests call the step directly.

use std::sync::Arc;
use std::time::Duration;

use crate::clock::{Clock, Timestamp};
use crate::connector::{Connectors, SendContext, SendError};
use crate::error::Result;
use crate::gateway::store_error;
use crate::ids::MessageId;
use crate::message::Recipient;
use crate::store::{Claim, ClaimRequest, Finish, Finished, Store, WorkerId};

/// How the worker paces retries and leases.
#[derive(Debug, Clone)]
pub struct OutboundPolicy {
    /// How long a claimed instance stays leased to one worker. A send that
    /// takes longer than this may be repeated by another worker.
    pub lease: Duration,
    /// The longest a connector call may take before it counts as a
    /// transient failure (must be well below `lease`).
    pub send_timeout: Duration,
    /// Queued messages older than this expire (GREEN-API: 24 h).
    pub message_ttl: Duration,
    /// Waits after the 1st, 2nd, … transient failure; after the last one
    /// the message fails.
    pub transient_backoff: Vec<Duration>,
    /// First wait after throttling without a `Retry-After`; doubles with
    /// every attempt up to `throttle_max`.
    pub throttle_base: Duration,
    /// Longest wait after throttling.
    pub throttle_max: Duration,
}

impl Default for OutboundPolicy {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(60),
            send_timeout: Duration::from_secs(30),
            message_ttl: Duration::from_secs(24 * 3600),
            transient_backoff: [1, 5, 30, 120, 600].map(Duration::from_secs).to_vec(),
            throttle_base: Duration::from_secs(1),
            throttle_max: Duration::from_secs(300),
        }
    }
}

/// What one step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A message left and the platform accepted it.
    Sent(MessageId),
    /// A message will be tried again later.
    Retrying(MessageId),
    /// A message failed for good.
    Failed(MessageId),
    /// The platform rejected the instance's credentials; its queue is held.
    Held(MessageId),
    /// The lease expired during the send and another worker took over.
    LeaseLost(MessageId),
    /// Nothing may leave now; the next message may leave at `next_at`.
    Idle {
        /// When the next message may leave, if any is waiting.
        next_at: Option<Timestamp>,
    },
}

/// Counts a recorded attempt, and the status it gave the message.
fn record(step: &Step, connector: &'static str) {
    use crate::metrics::{MESSAGES, SEND_ATTEMPTS};
    let (outcome, status) = match step {
        Step::Sent(_) => ("sent", Some("sent")),
        Step::Failed(_) => ("failed", Some("failed")),
        Step::Retrying(_) => ("retrying", None),
        Step::Held(_) => ("held", None),
        Step::LeaseLost(_) => ("lease_lost", None),
        Step::Idle { .. } => return,
    };
    ::metrics::counter!(SEND_ATTEMPTS, "connector" => connector, "outcome" => outcome).increment(1);
    if let Some(status) = status {
        ::metrics::counter!(MESSAGES, "status" => status, "connector" => connector).increment(1);
    }
}

/// Sends queued messages through the connectors.
#[derive(Clone)]
pub struct OutboundWorker {
    store: Arc<dyn Store>,
    connectors: Connectors,
    clock: Arc<dyn Clock>,
    policy: OutboundPolicy,
    owner: WorkerId,
}

impl OutboundWorker {
    /// A worker holding leases under the name `owner`.
    pub fn new(
        store: Arc<dyn Store>,
        connectors: Connectors,
        clock: Arc<dyn Clock>,
        policy: OutboundPolicy,
        owner: WorkerId,
    ) -> Self {
        Self { store, connectors, clock, policy, owner }
    }

    /// Claims the next message whose turn it is and sends it: the single
    /// step tests call instead of sleeping.
    pub async fn try_send_next(&self) -> Result<Step> {
        match self.claim(1).await?.into_iter().next() {
            Some(claim) => self.process(claim).await,
            None => Ok(Step::Idle { next_at: self.next_at().await? }),
        }
    }

    /// Claims up to `limit` messages, each of a different instance, whose
    /// turn it is now.
    pub async fn claim(&self, limit: usize) -> Result<Vec<Claim>> {
        let now = self.clock.now();
        self.store
            .claim_outbound(ClaimRequest {
                now,
                lease_until: now.plus(self.policy.lease),
                owner: self.owner.clone(),
                limit,
                expire_created_before: now.minus(self.policy.message_ttl),
            })
            .await
            .map_err(store_error)
    }

    /// Sends one claimed message and records the outcome.
    pub async fn process(&self, claim: Claim) -> Result<Step> {
        let id = claim.message.id;
        let outcome = match self.connectors.get(claim.instance.kind) {
            None => Err(SendError::Unauthorized {
                detail: format!("this server has no {} connector", claim.instance.kind),
            }),
            Some(connector) => {
                let context = self.context(&claim).await?;
                let send = connector.send(&claim.instance, &claim.message, &context);
                match tokio::time::timeout(self.policy.send_timeout, send).await {
                    Ok(outcome) => outcome,
                    // Cut off mid-call: the platform may have acted on it.
                    Err(_) => Err(SendError::Uncertain {
                        detail: format!(
                            "the platform did not answer within {} s",
                            self.policy.send_timeout.as_secs()
                        ),
                    }),
                }
            }
        };
        let now = self.clock.now();
        // The parts delivered in this attempt are kept whatever the outcome.
        let (outcome, parts) = match outcome {
            Ok(mut receipt) => {
                let mut parts = std::mem::take(&mut receipt.earlier_parts);
                if !parts.is_empty() {
                    parts.push(receipt.provider_message_id.clone());
                }
                (Ok(receipt), parts)
            }
            Err(SendError::Partial { sent, error }) => (Err(*error), sent),
            Err(error) => (Err(error), Vec::new()),
        };
        let (finish, step) = self.decide(&claim, outcome, now);
        let step = match self.store.finish_outbound(&claim, &self.owner, finish, parts, now).await {
            Ok(Finished::Applied) => step,
            Ok(Finished::LeaseLost) => {
                tracing::warn!(message = %id, instance = %claim.instance.id, "lease lost during send");
                Step::LeaseLost(id)
            }
            Err(e) => return Err(store_error(e)),
        };
        record(&step, claim.instance.kind.as_str());
        Ok(step)
    }

    /// What the connector needs to know about the recipient.
    async fn context(&self, claim: &Claim) -> Result<SendContext> {
        let instance = claim.instance.id;
        let (last_inbound_at, comment_at) = match &claim.message.recipient {
            Recipient::User(id) => {
                let contact = self.store.contact(instance, id).await.map_err(store_error)?;
                (contact.and_then(|c| c.last_inbound_at), None)
            }
            Recipient::Comment(id) => {
                (None, self.store.comment_at(instance, id).await.map_err(store_error)?)
            }
        };
        Ok(SendContext {
            now: self.clock.now(),
            last_inbound_at,
            comment_at,
            parts_sent: claim.message.parts_sent,
            deadline: Some(tokio::time::Instant::now() + self.policy.send_timeout),
        })
    }

    /// Turns a connector's answer into a decision. Connectors classify; this
    /// is the one place that decides retries and statuses.
    fn decide(
        &self,
        claim: &Claim,
        outcome: std::result::Result<crate::connector::SendReceipt, SendError>,
        now: Timestamp,
    ) -> (Finish, Step) {
        let id = claim.message.id;
        let attempts = claim.message.attempts.max(1);
        match outcome {
            Ok(receipt) => (
                Finish::Sent {
                    provider_message_id: receipt.provider_message_id,
                    simulated_receipts: receipt.simulated_receipts,
                },
                Step::Sent(id),
            ),
            Err(SendError::Throttled { retry_after }) => {
                let wait = retry_after
                    .unwrap_or_else(|| {
                        let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(20));
                        self.policy.throttle_base.saturating_mul(factor)
                    })
                    .min(self.policy.throttle_max);
                let until = now.plus(wait);
                (
                    Finish::Retry {
                        not_before: until,
                        hold_instance_until: Some(until),
                        detail: format!(
                            "throttled by the platform; retrying in {} ms",
                            wait.as_millis()
                        ),
                        transient: false,
                        uncertain: false,
                    },
                    Step::Retrying(id),
                )
            }
            Err(SendError::Transient { detail }) => self.after_transient(claim, detail, false, now),
            Err(SendError::Uncertain { detail }) => self.after_transient(claim, detail, true, now),
            Err(SendError::Unauthorized { detail }) => {
                (Finish::Unauthorized { reason: detail }, Step::Held(id))
            }
            Err(SendError::WindowClosed { detail }) => (
                Finish::Failed { reason: format!("messaging window closed: {detail}") },
                Step::Failed(id),
            ),
            Err(SendError::Permanent { code, detail }) => {
                let reason = match code {
                    Some(code) => format!("{detail} (platform code {code})"),
                    None => detail,
                };
                (Finish::Failed { reason }, Step::Failed(id))
            }
            // `process` unwraps partial sends; a nested one is its error.
            Err(SendError::Partial { error, .. }) => self.decide(claim, Err(*error), now),
        }
    }

    /// A transient failure walks the retry schedule (throttling before it
    /// does not shorten it) and fails the message at its end. `uncertain`:
    /// the platform may have received the attempt.
    fn after_transient(
        &self,
        claim: &Claim,
        detail: String,
        uncertain: bool,
        now: Timestamp,
    ) -> (Finish, Step) {
        let id = claim.message.id;
        let failures = claim.message.transient_failures;
        let index = usize::try_from(failures).unwrap_or(usize::MAX);
        match self.policy.transient_backoff.get(index) {
            Some(wait) => (
                Finish::Retry {
                    not_before: now.plus(*wait),
                    hold_instance_until: None,
                    detail: format!("{detail}; retrying in {} ms", wait.as_millis()),
                    transient: true,
                    uncertain,
                },
                Step::Retrying(id),
            ),
            None => {
                let maybe = if uncertain { "; the platform may have received it" } else { "" };
                let reason =
                    format!("gave up after {} transient failures: {detail}{maybe}", failures + 1);
                (Finish::Failed { reason }, Step::Failed(id))
            }
        }
    }

    /// When the next message of any instance may leave.
    pub async fn next_at(&self) -> Result<Option<Timestamp>> {
        self.store.next_outbound_at().await.map_err(store_error)
    }

    /// Expires queued messages older than the TTL, including those of held
    /// instances that no claim would reach. Returns how many.
    pub async fn expire_stale(&self) -> Result<u64> {
        let now = self.clock.now();
        self.store
            .expire_outbound(now.minus(self.policy.message_ttl), now)
            .await
            .map_err(store_error)
    }

    /// Applies the emulated platform's receipts that are due. Returns how
    /// many were taken.
    pub async fn apply_due_receipts(&self) -> Result<usize> {
        self.store.apply_due_simulated_receipts(self.clock.now(), 1000).await.map_err(store_error)
    }

    /// When the next emulated receipt is due.
    pub async fn next_receipt_at(&self) -> Result<Option<Timestamp>> {
        self.store.next_simulated_receipt_at().await.map_err(store_error)
    }
}
