//! The hook worker: pushes each instance's notifications to its webhook
//! URL, one at a time and in sequence order, signed, and decides retries.
//!
//! Invariants (kept by the store's lease, see [`Store::claim_hooks`]):
//! - per instance, a notification is pushed only after every earlier one
//!   was delivered or died, so a consumer sees events in sequence order;
//! - instances never wait for each other: a dead endpoint holds back only
//!   its own instance's queue;
//! - a retry carries the same `webhook-id` (the event id), so consumers
//!   deduplicate.
//!
//! Retry schedule (after the 1st … 7th failure): 5 s, 5 min, 30 min, 2 h,
//! 5 h, 10 h, 10 h, each ±20 % jitter; a `Retry-After` is honoured within
//! [base, 2·base]; at least 60 s after a 429 or a timeout. After the 8th
//! failed attempt the notification is dead: kept, listed, re-deliverable.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::{Clock, Timestamp};
use crate::error::Result;
use crate::event::Event;
use crate::gateway::ServiceSecret;
use crate::gateway::store_error;
use crate::ids::random_bytes;
use crate::instance::{Instance, WebhookFormat};
use crate::message::Callback;
use crate::store::{
    ClaimRequest, DeliveryAttempt, Finished, HookClaim, HookFinish, Store, WorkerId,
};
use crate::vault::Vault;
use crate::webhook::{
    SECRET_PREFIX, WebhookOutcome, WebhookRequest, WebhookSecret, WebhookTransport,
    signature_headers,
};

/// Renders an event as one vendor's webhook body.
pub trait HookFormat: Send + Sync + 'static {
    /// The JSON body for this event, or `None` when the vendor has no
    /// webhook for this kind of event (it is then skipped, not retried).
    fn render(&self, instance: &Instance, event: &Event) -> Option<Vec<u8>>;
}

/// Renders a message's status event as the body of its status callback
/// (a per-message target, such as imiconnect's `callbackUrl`).
pub trait CallbackFormat: Send + Sync + 'static {
    /// The JSON body, or `None` when the event needs no callback.
    fn render(&self, instance: &Instance, event: &Event, callback: &Callback) -> Option<Vec<u8>>;
}

/// The formats of this process, one per [`WebhookFormat`], and the one of
/// status callbacks.
#[derive(Clone, Default)]
pub struct HookFormats {
    by_format: HashMap<WebhookFormat, Arc<dyn HookFormat>>,
    callbacks: Option<Arc<dyn CallbackFormat>>,
}

impl HookFormats {
    /// No formats yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the renderer of a format.
    pub fn with(mut self, format: WebhookFormat, renderer: Arc<dyn HookFormat>) -> Self {
        self.by_format.insert(format, renderer);
        self
    }

    /// The renderer of a format.
    pub fn get(&self, format: WebhookFormat) -> Option<&Arc<dyn HookFormat>> {
        self.by_format.get(&format)
    }

    /// Sets the renderer of status callbacks.
    pub fn with_callbacks(mut self, renderer: Arc<dyn CallbackFormat>) -> Self {
        self.callbacks = Some(renderer);
        self
    }

    /// The renderer of status callbacks.
    pub fn callbacks(&self) -> Option<&Arc<dyn CallbackFormat>> {
        self.callbacks.as_ref()
    }
}

impl fmt::Debug for HookFormats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.by_format.keys()).finish()
    }
}

/// How the hook worker retries.
#[derive(Debug, Clone)]
pub struct HookPolicy {
    /// The wait after the 1st, 2nd, … failed attempt; one more failure than
    /// there are entries makes the notification dead.
    pub schedule: Vec<Duration>,
    /// Each wait is multiplied by a random factor in [1 − jitter, 1 + jitter].
    pub jitter: f64,
    /// The least wait after a 429 or a timeout.
    pub slow_down_floor: Duration,
    /// How long a claimed instance's push lane stays leased.
    pub lease: Duration,
}

impl Default for HookPolicy {
    fn default() -> Self {
        Self {
            schedule: [5, 300, 1800, 7200, 18_000, 36_000, 36_000]
                .map(Duration::from_secs)
                .to_vec(),
            jitter: 0.2,
            slow_down_floor: Duration::from_secs(60),
            lease: Duration::from_secs(60),
        }
    }
}

/// What one step did (the notification's receipt id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookStep {
    /// Pushed and answered 2xx.
    Delivered(u64),
    /// Failed; will be tried again.
    Retrying(u64),
    /// Failed for the last time.
    Dead(u64),
    /// The receiver answered 410; the webhook is now off.
    Disabled(u64),
    /// The instance's format has no webhook for this event.
    Skipped(u64),
    /// The lease ran out meanwhile; another worker owns it.
    LeaseLost(u64),
    /// Nothing is due; the next push is due at `next_at`.
    Idle {
        /// When the next push is due, if any is waiting.
        next_at: Option<Timestamp>,
    },
}

/// Pushes notifications to webhook URLs.
#[derive(Clone)]
pub struct HookWorker {
    store: Arc<dyn Store>,
    transport: Arc<dyn WebhookTransport>,
    formats: HookFormats,
    clock: Arc<dyn Clock>,
    policy: HookPolicy,
    owner: WorkerId,
    vault: Option<Arc<Vault>>,
}

impl HookWorker {
    /// A worker holding leases under the name `owner`.
    pub fn new(
        store: Arc<dyn Store>,
        transport: Arc<dyn WebhookTransport>,
        formats: HookFormats,
        clock: Arc<dyn Clock>,
        policy: HookPolicy,
        owner: WorkerId,
    ) -> Self {
        Self { store, transport, formats, clock, policy, owner, vault: None }
    }

    /// The same worker, able to open service secrets to sign callbacks.
    pub fn with_vault(mut self, vault: Arc<Vault>) -> Self {
        self.vault = Some(vault);
        self
    }

    /// Claims the next due notification and pushes it: the single step
    /// tests call instead of sleeping.
    pub async fn try_deliver_next(&self) -> Result<HookStep> {
        match self.claim(1).await?.into_iter().next() {
            Some(claim) => self.deliver(claim).await,
            None => Ok(HookStep::Idle { next_at: self.next_at().await? }),
        }
    }

    /// Claims up to `limit` due notifications, each of a different instance.
    pub async fn claim(&self, limit: usize) -> Result<Vec<HookClaim>> {
        let now = self.clock.now();
        self.store
            .claim_hooks(ClaimRequest {
                now,
                lease_until: now.plus(self.policy.lease),
                owner: self.owner.clone(),
                limit,
                expire_created_before: Timestamp::EPOCH,
            })
            .await
            .map_err(store_error)
    }

    /// When the next push is due.
    pub async fn next_at(&self) -> Result<Option<Timestamp>> {
        self.store.next_hook_at().await.map_err(store_error)
    }

    /// Pushes one claimed notification and records the outcome.
    pub async fn deliver(&self, claim: HookClaim) -> Result<HookStep> {
        let receipt = claim.receipt_id;
        let started = self.clock.now();
        // A status callback goes to its own URL in the callback format;
        // everything else to the instance's webhook in its format.
        let (url, body, format) = match &claim.callback {
            Some(callback) => (
                callback.url.clone().unwrap_or_default(),
                self.formats
                    .callbacks()
                    .and_then(|f| f.render(&claim.instance, &claim.event, callback)),
                "callback",
            ),
            None => (
                claim.instance.settings.webhook_url.clone().unwrap_or_default(),
                self.formats
                    .get(claim.instance.webhook_format)
                    .and_then(|f| f.render(&claim.instance, &claim.event)),
                claim.instance.webhook_format.as_str(),
            ),
        };
        let mut attempt = DeliveryAttempt {
            attempt: claim.attempt,
            at: started,
            url: url.clone(),
            status_code: None,
            latency_ms: 0,
            error: None,
        };
        let (finish, step) = match (url.is_empty(), body) {
            (true, _) => {
                attempt.error = Some("the webhook URL was removed".into());
                (HookFinish::Retry { at: started }, HookStep::Retrying(receipt))
            }
            (false, None) => {
                attempt.error = Some(format!(
                    "skipped: the {format} format has no webhook for {}",
                    claim.event.payload.type_name()
                ));
                (HookFinish::Delivered, HookStep::Skipped(receipt))
            }
            (false, Some(body)) => {
                let request = self.request(&claim, url, body, started);
                let result = self.transport.post(request).await;
                attempt.latency_ms = u64::try_from(result.latency.as_millis()).unwrap_or(u64::MAX);
                ::metrics::histogram!(crate::metrics::WEBHOOK_DURATION, "format" => format)
                    .record(result.latency.as_secs_f64());
                self.decide(&claim, result.outcome, &mut attempt)
            }
        };
        let step = match self.store.finish_hook(&claim, &self.owner, attempt, finish).await {
            Ok(Finished::Applied) => step,
            Ok(Finished::LeaseLost) => HookStep::LeaseLost(receipt),
            Err(e) => return Err(store_error(e)),
        };
        let outcome = match step {
            HookStep::Delivered(_) => "delivered",
            HookStep::Retrying(_) => "retrying",
            HookStep::Dead(_) => "dead",
            HookStep::Disabled(_) => "disabled",
            HookStep::Skipped(_) => "skipped",
            HookStep::LeaseLost(_) => "lease_lost",
            HookStep::Idle { .. } => return Ok(step),
        };
        ::metrics::counter!(
            crate::metrics::WEBHOOK_DELIVERIES,
            "format" => format,
            "outcome" => outcome
        )
        .increment(1);
        Ok(step)
    }

    fn request(
        &self,
        claim: &HookClaim,
        url: String,
        body: Vec<u8>,
        now: Timestamp,
    ) -> WebhookRequest {
        if claim.callback.is_some() {
            return self.callback_request(claim, url, body, now);
        }
        let id = claim.event.id.to_string();
        let secrets = claim.instance.webhook_secrets.signing_at(now);
        let mut headers = signature_headers(&secrets, &id, now.as_secs(), &body);
        // The webhook's own token goes to the webhook only, never to a
        // caller-supplied callback URL.
        if let (Some(token), None) = (&claim.instance.settings.webhook_url_token, &claim.callback) {
            headers.push(("authorization".into(), format!("Bearer {token}")));
        }
        WebhookRequest { url, headers, body }
    }

    /// A status callback: its own `webhook-id` (`cb_<receipt>`, the same on
    /// every retry, never an event id a webhook also carries), signed with
    /// the instance's service secret as the Standard Webhooks key
    /// `whsec_<serviceSecret>`, and no webhook token.
    fn callback_request(
        &self,
        claim: &HookClaim,
        url: String,
        body: Vec<u8>,
        now: Timestamp,
    ) -> WebhookRequest {
        let id = format!("cb_{}", claim.receipt_id);
        let secret = claim
            .service_secret_sealed
            .as_deref()
            .zip(self.vault.as_ref())
            .and_then(|(sealed, vault)| {
                vault.open(sealed, &ServiceSecret::context(claim.instance.id))
            })
            .and_then(|secret| WebhookSecret::parse(&format!("{SECRET_PREFIX}{secret}")));
        if secret.is_none() {
            tracing::warn!(instance = %claim.instance.id, "a callback goes out unsigned: no service secret");
        }
        let secrets: Vec<&WebhookSecret> = secret.iter().collect();
        let headers = signature_headers(&secrets, &id, now.as_secs(), &body);
        WebhookRequest { url, headers, body }
    }

    /// Turns the receiver's answer into a decision: the one place that
    /// decides retries.
    fn decide(
        &self,
        claim: &HookClaim,
        outcome: WebhookOutcome,
        attempt: &mut DeliveryAttempt,
    ) -> (HookFinish, HookStep) {
        let receipt = claim.receipt_id;
        let mut retry_after = None;
        let mut slow_down = false;
        match outcome {
            WebhookOutcome::Responded { status, .. } if (200..300).contains(&status) => {
                attempt.status_code = Some(status);
                return (HookFinish::Delivered, HookStep::Delivered(receipt));
            }
            WebhookOutcome::Responded { status: 410, .. } => {
                attempt.status_code = Some(410);
                attempt.error = Some("410 Gone: the webhook is switched off".into());
                let reason = "the receiver answered 410 Gone".to_owned();
                return (HookFinish::Disabled { reason }, HookStep::Disabled(receipt));
            }
            WebhookOutcome::Responded { status, retry_after: after } => {
                attempt.status_code = Some(status);
                attempt.error = Some(format!("the receiver answered HTTP {status}"));
                retry_after = after;
                slow_down = status == 429;
            }
            WebhookOutcome::TimedOut => {
                attempt.error = Some("the receiver did not answer in time".into());
                slow_down = true;
            }
            WebhookOutcome::Failed { error } => attempt.error = Some(error),
            // A callback URL the network policy refuses will not change.
            WebhookOutcome::Blocked { reason } if claim.callback.is_some() => {
                attempt.error = Some(format!("blocked: {reason}"));
                return (HookFinish::Dead, HookStep::Dead(receipt));
            }
            WebhookOutcome::Blocked { reason } => {
                attempt.error = Some(format!("blocked: {reason}"))
            }
        }
        let index = usize::try_from(claim.attempt.saturating_sub(1)).unwrap_or(usize::MAX);
        let Some(base) = self.policy.schedule.get(index).copied() else {
            return (HookFinish::Dead, HookStep::Dead(receipt));
        };
        let mut wait = jittered(base, self.policy.jitter);
        if let Some(after) = retry_after {
            wait = after.clamp(base, base.saturating_mul(2));
        }
        if slow_down {
            wait = wait.max(self.policy.slow_down_floor);
        }
        (HookFinish::Retry { at: attempt.at.plus(wait) }, HookStep::Retrying(receipt))
    }
}

/// `base` times a random factor in [1 − jitter, 1 + jitter].
fn jittered(base: Duration, jitter: f64) -> Duration {
    if jitter <= 0.0 {
        return base;
    }
    let unit = f64::from(u32::from_le_bytes(random_bytes::<4>())) / f64::from(u32::MAX);
    let factor = 1.0 - jitter + 2.0 * jitter * unit;
    base.mul_f64(factor.max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_twenty_percent() {
        let base = Duration::from_secs(300);
        for _ in 0..1000 {
            let wait = jittered(base, 0.2);
            assert!(
                wait >= Duration::from_secs(240) && wait <= Duration::from_secs(360),
                "{wait:?}"
            );
        }
        assert_eq!(jittered(base, 0.0), base);
    }
}
