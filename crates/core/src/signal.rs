//! Wakes whoever waits for an instance's notifications (long-polling pull
//! consumers, the hook worker) as soon as new ones are committed, instead of
//! polling the table.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::ids::InstanceId;

/// The hub. Cheap to clone; clones share it.
#[derive(Debug, Clone, Default)]
pub struct NotificationSignal {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// One `Notify` per instance somebody is waiting on right now.
    waiters: Mutex<HashMap<InstanceId, Arc<Notify>>>,
    /// Fired for every instance: the hook loop waits here.
    any: Notify,
}

/// A registration to wait for one instance's next notification. Create it
/// *before* looking at the queue, then await [`Waiter::wait`]: a
/// notification committed in between is not missed.
pub struct Waiter {
    notify: Arc<Notify>,
    signal: NotificationSignal,
    instance: InstanceId,
}

impl NotificationSignal {
    /// Tells waiters that the instance has new notifications (called after
    /// the commit).
    pub fn fire(&self, instance: InstanceId) {
        let notify = self.lock().get(&instance).cloned();
        if let Some(notify) = notify {
            notify.notify_waiters();
            // A waiter registered but not yet polling gets the permit.
            notify.notify_one();
        }
        self.inner.any.notify_one();
    }

    /// Waits until any instance gets a notification.
    pub async fn any(&self) {
        self.inner.any.notified().await;
    }

    /// Whether somebody waits for the instance right now (a long poll in
    /// progress); for diagnostics and tests.
    pub fn is_waited_on(&self, instance: InstanceId) -> bool {
        self.lock().contains_key(&instance)
    }

    /// Registers interest in one instance.
    pub fn waiter(&self, instance: InstanceId) -> Waiter {
        let notify = self.lock().entry(instance).or_default().clone();
        Waiter { notify, signal: self.clone(), instance }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<InstanceId, Arc<Notify>>> {
        // A poisoned map only means another thread panicked mid-insert; the
        // map itself is still usable.
        self.inner.waiters.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Waiter {
    /// Waits for the next [`NotificationSignal::fire`] of the instance (or a
    /// permit left by one fired since registration).
    pub async fn wait(&self) {
        self.notify.notified().await;
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        let mut map = self.signal.lock();
        // The map holds one reference, this waiter another: the last waiter
        // removes the entry.
        if Arc::strong_count(&self.notify) <= 2 {
            map.remove(&self.instance);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_fire_after_registration_wakes_the_waiter() {
        let signal = NotificationSignal::default();
        let id = InstanceId::generate();
        let waiter = signal.waiter(id);
        signal.fire(id);
        tokio::time::timeout(Duration::from_secs(5), waiter.wait()).await.unwrap();
    }

    #[tokio::test]
    async fn the_last_waiter_leaves_no_entry_behind() {
        let signal = NotificationSignal::default();
        let id = InstanceId::generate();
        drop(signal.waiter(id));
        assert!(signal.lock().is_empty());
    }
}
