//! `Gate`: holds the requests a fake server receives until the test opens
//! it, so a test can act while a send or a push is in flight, without
//! sleeping.

use std::sync::Arc;

use tokio::sync::watch;

/// A gate the fakes' handlers wait at.
#[derive(Debug, Clone)]
pub struct Gate {
    arrived: Arc<watch::Sender<usize>>,
    open: Arc<watch::Sender<bool>>,
}

impl Default for Gate {
    fn default() -> Self {
        Self::new()
    }
}

impl Gate {
    /// A closed gate.
    pub fn new() -> Gate {
        Gate { arrived: Arc::new(watch::channel(0).0), open: Arc::new(watch::channel(false).0) }
    }

    /// Called by a handler: counts the request and waits until the gate is
    /// open.
    pub async fn pass(&self) {
        self.arrived.send_modify(|n| *n += 1);
        let mut open = self.open.subscribe();
        let _ = open.wait_for(|open| *open).await;
    }

    /// Waits until `n` requests have reached the gate.
    pub async fn arrived(&self, n: usize) {
        let mut arrived = self.arrived.subscribe();
        let _ = arrived.wait_for(|count| *count >= n).await;
    }

    /// Lets every waiting and later request through.
    pub fn open(&self) {
        self.open.send_replace(true);
    }
}
