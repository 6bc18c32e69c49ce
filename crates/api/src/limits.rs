//! Abuse limits of the API, keyed on the instance (never the caller's IP:
//! many instances sit behind one CRM's address, and one instance's owner
//! may call from many):
//!
//! - requests per second per instance on the native API, with a budget of
//!   their own for sends (429 with `Retry-After`);
//! - long polls waiting at once per instance (native
//!   `notifications/next`, GREEN-API `receiveNotification`): one more is
//!   answered 429 at once instead of holding a connection and a task.
//!
//! The rates are per node, on the wall clock: they bound what one caller
//! costs one process.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chatgate_core::InstanceId;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// The limits' configuration (section `limits`); 0 switches one off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitsConfig {
    /// Native sends (`POST …/messages`) per second per instance.
    pub sends_per_second: u32,
    /// Other native requests per second per instance.
    pub requests_per_second: u32,
    /// Long polls waiting at once per instance, native and GREEN-API
    /// together.
    pub long_polls_per_instance: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self { sends_per_second: 50, requests_per_second: 100, long_polls_per_instance: 4 }
    }
}

/// Which budget a native request draws on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// A send (`POST /api/v1/instances/{id}/messages`).
    Send,
    /// Anything else about an instance.
    Other,
}

/// The limiters, shared by every request of this process.
pub struct ApiLimits {
    config: LimitsConfig,
    sends: Option<DefaultKeyedRateLimiter<InstanceId>>,
    requests: Option<DefaultKeyedRateLimiter<InstanceId>>,
    long_polls: Arc<Mutex<HashMap<InstanceId, u32>>>,
}

fn limiter(per_second: u32) -> Option<DefaultKeyedRateLimiter<InstanceId>> {
    NonZeroU32::new(per_second).map(|rate| RateLimiter::keyed(Quota::per_second(rate)))
}

impl ApiLimits {
    /// Limiters for a configuration.
    pub fn new(config: LimitsConfig) -> Self {
        Self {
            config,
            sends: limiter(config.sends_per_second),
            requests: limiter(config.requests_per_second),
            long_polls: Arc::default(),
        }
    }

    /// The configuration they enforce.
    pub fn config(&self) -> LimitsConfig {
        self.config
    }

    /// Takes one request of `kind` from the instance's budget; `Err` with
    /// how long to wait when it is used up.
    pub fn check(&self, instance: InstanceId, kind: RequestKind) -> Result<(), Duration> {
        let limiter = match kind {
            RequestKind::Send => &self.sends,
            RequestKind::Other => &self.requests,
        };
        match limiter {
            None => Ok(()),
            Some(limiter) => limiter
                .check_key(&instance)
                .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now())),
        }
    }

    /// A slot for one more long poll of the instance, held until the
    /// returned guard drops; `None` when all of its slots are taken.
    pub fn long_poll(&self, instance: InstanceId) -> Option<LongPollSlot> {
        let most = self.config.long_polls_per_instance;
        let mut polls = self.long_polls.lock().unwrap_or_else(PoisonError::into_inner);
        let waiting = polls.entry(instance).or_insert(0);
        if most > 0 && *waiting >= most {
            return None;
        }
        *waiting += 1;
        Some(LongPollSlot { instance, polls: self.long_polls.clone() })
    }
}

impl Default for ApiLimits {
    fn default() -> Self {
        Self::new(LimitsConfig::default())
    }
}

/// One long poll's place; given back when dropped (the poll answered, or
/// its client went away and the handler was cancelled).
pub struct LongPollSlot {
    instance: InstanceId,
    polls: Arc<Mutex<HashMap<InstanceId, u32>>>,
}

impl Drop for LongPollSlot {
    fn drop(&mut self) {
        let mut polls = self.polls.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(waiting) = polls.get_mut(&self.instance) {
            *waiting = waiting.saturating_sub(1);
            if *waiting == 0 {
                polls.remove(&self.instance);
            }
        }
    }
}

/// Seconds to put in `Retry-After` for a wait: rounded up, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_and_other_requests_have_budgets_of_their_own_per_instance() {
        let limits = ApiLimits::new(LimitsConfig {
            sends_per_second: 2,
            requests_per_second: 1,
            long_polls_per_instance: 0,
        });
        let id = InstanceId::generate();
        assert!(limits.check(id, RequestKind::Send).is_ok());
        assert!(limits.check(id, RequestKind::Send).is_ok());
        let wait = limits.check(id, RequestKind::Send).unwrap_err();
        assert!(wait <= Duration::from_secs(1), "{wait:?}");
        assert!(limits.check(id, RequestKind::Other).is_ok());
        assert!(limits.check(id, RequestKind::Other).is_err());
        assert!(limits.check(InstanceId::generate(), RequestKind::Send).is_ok());
    }

    #[test]
    fn a_long_poll_slot_comes_back_when_its_guard_drops() {
        let limits =
            ApiLimits::new(LimitsConfig { long_polls_per_instance: 1, ..Default::default() });
        let id = InstanceId::generate();
        let first = limits.long_poll(id).unwrap();
        assert!(limits.long_poll(id).is_none());
        assert!(limits.long_poll(InstanceId::generate()).is_some(), "per instance");
        drop(first);
        assert!(limits.long_poll(id).is_some());
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(10)), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
    }
}
