//! The janitor: removes what has outlived its retention — journal events
//! (30 days by default), notifications (24 h) and finished outbound messages
//! (with the journal) — and expires messages that waited too long.

use std::sync::Arc;
use std::time::Duration;

use crate::clock::Clock;
use crate::error::Result;
use crate::gateway::store_error;
use crate::store::{Purged, Store};

/// Most rows of each kind one step removes, so a step never holds the
/// writer for long.
pub const PURGE_BATCH: usize = 5000;

/// How long things are kept.
#[derive(Debug, Clone)]
pub struct Retention {
    /// Journal events and finished messages.
    pub journal: Duration,
    /// Notifications (pending pushes are kept until delivered or dead).
    pub notifications: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            journal: Duration::from_secs(30 * 24 * 3600),
            notifications: Duration::from_secs(24 * 3600),
        }
    }
}

/// Removes expired rows.
#[derive(Clone)]
pub struct Janitor {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    retention: Retention,
}

impl Janitor {
    /// A janitor for a store.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, retention: Retention) -> Self {
        Self { store, clock, retention }
    }

    /// One pass of at most [`PURGE_BATCH`] rows of each kind; call again
    /// while it returns a full batch.
    pub async fn purge_once(&self) -> Result<Purged> {
        let now = self.clock.now();
        self.store
            .purge(
                now.minus(self.retention.journal),
                now.minus(self.retention.notifications),
                PURGE_BATCH,
            )
            .await
            .map_err(store_error)
    }
}
