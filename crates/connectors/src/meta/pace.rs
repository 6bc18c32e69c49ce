//! Per-account rate limits (Meta's published call budgets), kept on the
//! injected clock so tests can step through them.
//!
//! Each budget is a generic cell rate (GCRA): `limit` calls per `period`,
//! all of which may be spent at once, after which one call frees up every
//! `period / limit`. A send that would overdraw a budget is not made; the
//! connector answers "throttled" with the time until there is room, and the
//! outbound worker holds the instance until then.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chatgate_core::clock::Timestamp;

/// One budget: `limit` calls per `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Calls allowed per period (0 means no limit).
    pub limit: u32,
    /// The period.
    pub period: Duration,
}

impl Budget {
    /// `limit` calls per second.
    pub const fn per_second(limit: u32) -> Self {
        Self { limit, period: Duration::from_secs(1) }
    }

    /// `limit` calls per hour.
    pub const fn per_hour(limit: u32) -> Self {
        Self { limit, period: Duration::from_secs(3600) }
    }

    /// Microseconds between two calls at the steady rate.
    fn interval_micros(self) -> i64 {
        let period = i64::try_from(self.period.as_micros()).unwrap_or(i64::MAX);
        period / i64::from(self.limit.max(1))
    }
}

/// The budgets of many accounts, each by a key (account id and lane).
#[derive(Debug, Default)]
pub struct Pacer {
    /// The theoretical arrival time of the next call, per key, in
    /// microseconds since the epoch.
    next: Mutex<HashMap<(String, &'static str), i64>>,
}

impl Pacer {
    /// An empty pacer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes `calls` calls from the budget of `(account, lane)` now, or
    /// tells how long to wait until they fit (and takes nothing).
    pub fn take(
        &self,
        account: &str,
        lane: &'static str,
        budget: Budget,
        calls: u32,
        now: Timestamp,
    ) -> Result<(), Duration> {
        self.take_all(account, &[(lane, budget, calls)], now)
    }

    /// Takes calls from several budgets of an account at once: from all of
    /// them, or (telling the longest wait) from none. A demand larger than a
    /// whole budget is capped at the budget, so it can always be met once
    /// the budget is full again.
    pub fn take_all(
        &self,
        account: &str,
        demands: &[(&'static str, Budget, u32)],
        now: Timestamp,
    ) -> Result<(), Duration> {
        let now = now.as_millis().saturating_mul(1000);
        let mut next = self.next.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut updates = Vec::with_capacity(demands.len());
        let mut wait = 0i64;
        for &(lane, budget, calls) in demands {
            if budget.limit == 0 || calls == 0 {
                continue;
            }
            let calls = calls.min(budget.limit);
            let interval = budget.interval_micros();
            // All `limit` calls may be spent at once: the burst tolerance.
            let tolerance = interval * i64::from(budget.limit - 1);
            let key = (account.to_owned(), lane);
            let tat = next.get(&key).copied().unwrap_or(now).max(now);
            let after = tat + interval * i64::from(calls);
            let earliest = after - interval - tolerance;
            wait = wait.max(earliest - now);
            updates.push((key, after));
        }
        if wait > 0 {
            let wait = u64::try_from(wait).unwrap_or(0);
            return Err(Duration::from_micros(wait).max(Duration::from_millis(1)));
        }
        for (key, after) in updates {
            next.insert(key, after);
        }
        if next.len() > 100_000 {
            // Forget accounts whose budget is whole again.
            next.retain(|_, tat| *tat > now);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: Timestamp = Timestamp::from_millis(1_800_000_000_000);

    #[test]
    fn a_whole_budget_can_be_spent_at_once_and_then_frees_up_one_call_per_interval() {
        let pacer = Pacer::new();
        let budget = Budget::per_second(10);
        for _ in 0..10 {
            pacer.take("acc", "media", budget, 1, AT).unwrap();
        }
        assert_eq!(pacer.take("acc", "media", budget, 1, AT), Err(Duration::from_millis(100)));
        assert!(pacer.take("acc", "media", budget, 1, AT.plus(Duration::from_millis(99))).is_err());
        pacer.take("acc", "media", budget, 1, AT.plus(Duration::from_millis(100))).unwrap();
    }

    #[test]
    fn accounts_and_lanes_have_separate_budgets() {
        let pacer = Pacer::new();
        let budget = Budget::per_second(1);
        pacer.take("a", "send", budget, 1, AT).unwrap();
        pacer.take("b", "send", budget, 1, AT).unwrap();
        pacer.take("a", "media", budget, 1, AT).unwrap();
        assert!(pacer.take("a", "send", budget, 1, AT).is_err());
    }

    #[test]
    fn several_calls_are_taken_together_or_not_at_all() {
        let pacer = Pacer::new();
        let budget = Budget::per_hour(750);
        pacer.take("acc", "comments", budget, 749, AT).unwrap();
        let wait = pacer.take("acc", "comments", budget, 2, AT).unwrap_err();
        assert_eq!(wait, Duration::from_millis(4800));
        pacer.take("acc", "comments", budget, 1, AT).unwrap();
    }

    #[test]
    fn a_demand_larger_than_the_budget_waits_for_a_full_budget_instead_of_forever() {
        let pacer = Pacer::new();
        let budget = Budget::per_second(2);
        pacer.take("acc", "send", budget, 5, AT).unwrap();
        assert_eq!(pacer.take("acc", "send", budget, 5, AT), Err(Duration::from_secs(1)));
        pacer.take("acc", "send", budget, 5, AT.plus(Duration::from_secs(1))).unwrap();
    }

    #[test]
    fn several_budgets_are_taken_from_all_or_none() {
        let pacer = Pacer::new();
        let (send, media) = (Budget::per_second(10), Budget::per_second(1));
        pacer.take("acc", "media", media, 1, AT).unwrap();
        let both = [("send", send, 1), ("media", media, 1)];
        assert!(pacer.take_all("acc", &both, AT).is_err());
        for _ in 0..10 {
            pacer.take("acc", "send", send, 1, AT).unwrap();
        }
    }

    #[test]
    fn a_zero_limit_means_no_limit() {
        let pacer = Pacer::new();
        for _ in 0..10_000 {
            pacer.take("acc", "send", Budget::per_second(0), 1, AT).unwrap();
        }
    }
}
