//! Time: the [`Timestamp`] every record carries and the [`Clock`] port that
//! produces it. Production uses [`SystemClock`]; tests inject a
//! [`ManualClock`] and move it forward by hand, so no test ever sleeps.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A point in time with millisecond precision: milliseconds since the Unix
/// epoch, UTC. Stored as a plain integer in every database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The epoch itself.
    pub const EPOCH: Timestamp = Timestamp(0);

    /// From milliseconds since the epoch.
    pub const fn from_millis(millis: i64) -> Self {
        Self(millis)
    }

    /// Milliseconds since the epoch.
    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// Whole seconds since the epoch (GREEN-API's `timestamp` fields).
    pub const fn as_secs(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// This time plus a duration (saturating).
    pub fn plus(self, duration: Duration) -> Self {
        Self(self.0.saturating_add(duration_millis(duration)))
    }

    /// This time minus a duration (saturating).
    pub fn minus(self, duration: Duration) -> Self {
        Self(self.0.saturating_sub(duration_millis(duration)))
    }

    /// The time from `earlier` to `self`, zero when `earlier` is later.
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(u64::try_from(self.0 - earlier.0).unwrap_or(0))
    }

    /// As a `time` value, for formatting.
    pub fn to_datetime(self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// Parses an RFC 3339 time (any offset), e.g. `2026-11-21T10:00:00Z`.
    pub fn parse_rfc3339(s: &str) -> Option<Self> {
        let at = OffsetDateTime::parse(s, &Rfc3339).ok()?;
        i64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok().map(Self)
    }

    /// RFC 3339 in UTC with milliseconds, e.g. `2026-11-21T10:00:00.123Z`.
    pub fn to_rfc3339(self) -> String {
        self.to_datetime().format(&Rfc3339).unwrap_or_else(|_| String::from("1970-01-01T00:00:00Z"))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

fn duration_millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// A future a clock resolves when its time comes.
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// The source of "now" for every rule that depends on time: pacing, retries,
/// leases, expiry, emulated receipts, long-poll timeouts.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> Timestamp;

    /// Resolves once this clock reads `at` or later.
    fn sleep_until(&self, at: Timestamp) -> Sleep;
}

/// Wall-clock time.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let now = OffsetDateTime::now_utc();
        Timestamp::from_millis(i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(0))
    }

    fn sleep_until(&self, at: Timestamp) -> Sleep {
        Box::pin(tokio::time::sleep(at.since(self.now())))
    }
}

/// A clock that moves only when told to. Clones share the same time.
#[derive(Debug, Clone)]
pub struct ManualClock {
    millis: Arc<AtomicI64>,
    moved: Arc<tokio::sync::Notify>,
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: Timestamp) -> Self {
        Self {
            millis: Arc::new(AtomicI64::new(start.as_millis())),
            moved: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        self.millis.fetch_add(duration_millis(by), Ordering::SeqCst);
        self.moved.notify_waiters();
    }

    /// Moves the clock to `to` if that is later than now (never backwards).
    pub fn advance_to(&self, to: Timestamp) {
        self.millis.fetch_max(to.as_millis(), Ordering::SeqCst);
        self.moved.notify_waiters();
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.millis.load(Ordering::SeqCst))
    }

    fn sleep_until(&self, at: Timestamp) -> Sleep {
        let clock = self.clone();
        Box::pin(async move {
            loop {
                // Register before reading the time, so an advance in between
                // is not missed.
                let mut moved = std::pin::pin!(clock.moved.notified());
                moved.as_mut().enable();
                if clock.now() >= at {
                    return;
                }
                moved.await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_forward() {
        let clock = ManualClock::new(Timestamp::from_millis(1_000));
        clock.advance(Duration::from_millis(500));
        assert_eq!(clock.now(), Timestamp::from_millis(1_500));
        clock.advance_to(Timestamp::from_millis(1_200));
        assert_eq!(clock.now(), Timestamp::from_millis(1_500));
        clock.advance_to(Timestamp::from_millis(9_000));
        assert_eq!(clock.now(), Timestamp::from_millis(9_000));
    }

    #[tokio::test]
    async fn a_manual_sleep_ends_when_the_clock_is_moved_past_it() {
        let clock = ManualClock::new(Timestamp::from_millis(0));
        let sleep = tokio::spawn(clock.sleep_until(Timestamp::from_millis(5_000)));
        tokio::task::yield_now().await;
        clock.advance(Duration::from_millis(4_999));
        tokio::task::yield_now().await;
        assert!(!sleep.is_finished());
        clock.advance(Duration::from_millis(1));
        tokio::time::timeout(Duration::from_secs(5), sleep).await.unwrap().unwrap();
    }

    #[test]
    fn timestamps_format_as_rfc3339_utc() {
        assert_eq!(
            Timestamp::from_millis(1_649_367_553_123).to_rfc3339(),
            "2022-04-07T21:39:13.123Z"
        );
    }

    #[test]
    fn rfc3339_parses_back() {
        let t = Timestamp::from_millis(1_649_367_553_123);
        assert_eq!(Timestamp::parse_rfc3339(&t.to_rfc3339()), Some(t));
        assert_eq!(Timestamp::parse_rfc3339("2022-04-08T00:39:13.123+03:00"), Some(t));
        assert_eq!(Timestamp::parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn since_never_goes_negative() {
        let early = Timestamp::from_millis(10);
        let late = Timestamp::from_millis(30);
        assert_eq!(late.since(early), Duration::from_millis(20));
        assert_eq!(early.since(late), Duration::ZERO);
    }
}
