//! Contacts whose public profile (username, name) is still to be asked of
//! the platform.
//!
//! Ingest must answer the platform fast (Meta: within 5 s), so it only
//! queues the ids of new contacts here; a worker loop asks the connector
//! afterwards and records what it learns, and later events of the contact
//! carry it. The queue is in memory and bounded: a request lost to a
//! restart or an overflow is made again by the contact's next message,
//! because the contact still has no profile then.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

use tokio::sync::Notify;

use crate::ids::InstanceId;

/// Most contacts waiting for their profile at once.
pub const PROFILE_QUEUE_MAX: usize = 10_000;

/// The waiting contacts, each once, oldest first.
#[derive(Debug, Default)]
pub struct ProfileRequests {
    waiting: Mutex<Waiting>,
    added: Notify,
}

#[derive(Debug, Default)]
struct Waiting {
    order: VecDeque<(InstanceId, String)>,
    present: HashSet<(InstanceId, String)>,
}

impl ProfileRequests {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues contacts of an instance (each at most once while waiting).
    /// Returns how many were added; the rest were waiting already or did
    /// not fit.
    pub fn request(
        &self,
        instance: InstanceId,
        contacts: impl IntoIterator<Item = String>,
    ) -> usize {
        let mut added = 0;
        {
            let mut waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
            for contact in contacts {
                if waiting.order.len() >= PROFILE_QUEUE_MAX {
                    break;
                }
                let key = (instance, contact);
                if waiting.present.insert(key.clone()) {
                    waiting.order.push_back(key);
                    added += 1;
                }
            }
        }
        if added > 0 {
            self.added.notify_one();
        }
        added
    }

    /// Takes up to `limit` waiting contacts, oldest first.
    pub fn take(&self, limit: usize) -> Vec<(InstanceId, String)> {
        let mut waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        let n = limit.min(waiting.order.len());
        let taken: Vec<_> = waiting.order.drain(..n).collect();
        for key in &taken {
            waiting.present.remove(key);
        }
        taken
    }

    /// How many contacts wait.
    pub fn len(&self) -> usize {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner()).order.len()
    }

    /// Whether none waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Resolves when contacts were added since the last call (or at once
    /// if some were added while nobody waited).
    pub async fn added(&self) {
        self.added.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_contact_waits_once_and_leaves_oldest_first() {
        let queue = ProfileRequests::new();
        let a = InstanceId::generate();
        assert_eq!(queue.request(a, ["x".to_owned(), "y".to_owned(), "x".to_owned()]), 2);
        assert_eq!(queue.request(a, ["y".to_owned()]), 0);
        assert_eq!(queue.take(1), [(a, "x".to_owned())]);
        assert_eq!(queue.request(a, ["x".to_owned()]), 1, "taken contacts may be asked again");
        assert_eq!(queue.take(10), [(a, "y".to_owned()), (a, "x".to_owned())]);
        assert!(queue.is_empty());
    }

    #[test]
    fn the_queue_is_bounded() {
        let queue = ProfileRequests::new();
        let a = InstanceId::generate();
        let added = queue.request(a, (0..PROFILE_QUEUE_MAX + 5).map(|i| i.to_string()));
        assert_eq!(added, PROFILE_QUEUE_MAX);
        assert_eq!(queue.len(), PROFILE_QUEUE_MAX);
    }
}
