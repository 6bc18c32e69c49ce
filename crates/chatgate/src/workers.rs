//! The worker loops. They only decide *when* to call the workers' steps;
//! every rule lives in the steps (`chatgate_core::outbound`), which tests
//! call directly.

use std::sync::Arc;
use std::time::Duration;

use chatgate_core::Timestamp;
use chatgate_core::outbound::Step;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::app::App;

/// How often queued messages of held instances are checked for expiry.
const JANITOR_INTERVAL: Duration = Duration::from_secs(60);
/// The shortest sleep when the store says work is due but none was claimed
/// (another node took it): keeps the loop from spinning.
const MIN_IDLE: Duration = Duration::from_millis(5);
/// Contacts looked up per round of the profile loop.
const PROFILE_BATCH: usize = 32;
/// The wait after the database failed, before trying again.
const ERROR_BACKOFF: Duration = Duration::from_secs(1);

/// Starts every loop on `tasks`; they end when `stopped` turns true.
pub fn spawn_all(app: &App, tasks: &mut JoinSet<()>, stopped: watch::Receiver<bool>) {
    tasks.spawn(outbound_loop(app.clone(), stopped.clone()));
    tasks.spawn(receipts_loop(app.clone(), stopped.clone()));
    tasks.spawn(hook_loop(app.clone(), stopped.clone()));
    tasks.spawn(profiles_loop(app.clone(), stopped.clone()));
    tasks.spawn(janitor_loop(app.clone(), stopped));
}

/// How long to sleep until `next`, at most `poll`.
fn wait_until(app: &App, next: Option<Timestamp>, poll: Duration) -> Duration {
    match next {
        Some(at) => at.since(app.gateway.clock().now()).clamp(MIN_IDLE, poll),
        None => poll,
    }
}

/// Claims as many sendable messages as there are free slots, sends each on
/// its own task, and sleeps until the next message may leave or something
/// is queued.
async fn outbound_loop(app: App, mut stopped: watch::Receiver<bool>) {
    let poll = Duration::from_millis(app.config.outbound.poll_interval_ms);
    let slots = Arc::new(Semaphore::new(app.config.outbound.concurrency));
    let mut in_flight = JoinSet::new();
    while !*stopped.borrow() {
        while in_flight.try_join_next().is_some() {}
        let free = slots.available_permits();
        let mut claimed = 0;
        if free > 0 {
            match app.outbound.claim(free).await {
                Ok(claims) => {
                    claimed = claims.len();
                    for claim in claims {
                        let Ok(slot) = slots.clone().acquire_owned().await else {
                            break;
                        };
                        let app = app.clone();
                        in_flight.spawn(async move {
                            match app.outbound.process(claim).await {
                                Ok(Step::Sent(_)) => app.receipts_signal.wake(),
                                Ok(_) => {}
                                Err(e) => tracing::warn!(error = %e, "recording a send failed"),
                            }
                            drop(slot);
                            app.outbound_signal.wake();
                        });
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "claiming outbound messages failed");
                    sleep_or_stop(ERROR_BACKOFF, &mut stopped).await;
                    continue;
                }
            }
        }
        if claimed > 0 && claimed == free {
            continue; // there may be more ready right now
        }
        let next = app.outbound.next_at().await.ok().flatten();
        let wait = wait_until(&app, next, poll);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = app.outbound_signal.woken() => {}
            _ = stopped.changed() => {}
        }
    }
    // Let the sends in flight finish and record their outcome.
    while in_flight.join_next().await.is_some() {}
}

/// Claims due pushes for as many instances as there are free slots, pushes
/// each on its own task, and sleeps until the next is due or something new
/// is queued. A slow or dead receiver occupies one slot for at most the
/// hook timeout and never holds back another instance's lane.
async fn hook_loop(app: App, mut stopped: watch::Receiver<bool>) {
    let poll = Duration::from_millis(app.config.outbound.poll_interval_ms);
    let slots = Arc::new(Semaphore::new(app.config.hooks.concurrency));
    let signal = app.store.notifications_signal();
    let finished = Arc::new(tokio::sync::Notify::new());
    let mut in_flight = JoinSet::new();
    while !*stopped.borrow() {
        while in_flight.try_join_next().is_some() {}
        let free = slots.available_permits();
        let mut claimed = 0;
        if free > 0 {
            match app.hooks.claim(free).await {
                Ok(claims) => {
                    claimed = claims.len();
                    for claim in claims {
                        let Ok(slot) = slots.clone().acquire_owned().await else { break };
                        let (app, finished) = (app.clone(), finished.clone());
                        in_flight.spawn(async move {
                            if let Err(e) = app.hooks.deliver(claim).await {
                                tracing::warn!(error = %e, "recording a webhook push failed");
                            }
                            drop(slot);
                            finished.notify_one();
                        });
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "claiming webhook pushes failed");
                    sleep_or_stop(ERROR_BACKOFF, &mut stopped).await;
                    continue;
                }
            }
        }
        if claimed > 0 && claimed == free {
            continue;
        }
        let next = app.hooks.next_at().await.ok().flatten();
        let wait = wait_until(&app, next, poll);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = signal.any() => {}
            _ = finished.notified() => {}
            _ = stopped.changed() => {}
        }
    }
    while in_flight.join_next().await.is_some() {}
}

/// Applies the sandbox's promised receipts when they fall due.
async fn receipts_loop(app: App, mut stopped: watch::Receiver<bool>) {
    let poll = Duration::from_millis(app.config.outbound.poll_interval_ms);
    while !*stopped.borrow() {
        match app.outbound.apply_due_receipts().await {
            Ok(n) if n >= 1000 => continue,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "applying receipts failed");
                sleep_or_stop(ERROR_BACKOFF, &mut stopped).await;
                continue;
            }
        }
        let next = app.outbound.next_receipt_at().await.ok().flatten();
        let wait = wait_until(&app, next, poll);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = app.receipts_signal.woken() => {}
            _ = stopped.changed() => {}
        }
    }
}

/// Asks the platforms for the profiles of new contacts that ingest queued.
async fn profiles_loop(app: App, mut stopped: watch::Receiver<bool>) {
    while !*stopped.borrow() {
        match app.gateway.fetch_requested_profiles(PROFILE_BATCH).await {
            Ok(n) if n == PROFILE_BATCH => continue,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "recording contact profiles failed");
                sleep_or_stop(ERROR_BACKOFF, &mut stopped).await;
                continue;
            }
        }
        tokio::select! {
            _ = app.gateway.profile_requests().added() => {}
            _ = stopped.changed() => {}
        }
    }
}

/// Expires messages that waited too long (including those of held
/// instances that the outbound loop never claims) and removes what outlived
/// its retention, a bounded batch at a time.
async fn janitor_loop(app: App, mut stopped: watch::Receiver<bool>) {
    while !*stopped.borrow() {
        match app.outbound.expire_stale().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(expired = n, "expired queued messages"),
            Err(e) => tracing::warn!(error = %e, "expiring messages failed"),
        }
        loop {
            match app.janitor.purge_once().await {
                Ok(purged) => {
                    let most = purged.events.max(purged.notifications).max(purged.messages);
                    if most > 0 {
                        tracing::info!(?purged, "removed rows past their retention");
                    }
                    if most < chatgate_core::janitor::PURGE_BATCH as u64 || *stopped.borrow() {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "purging failed");
                    break;
                }
            }
        }
        sleep_or_stop(JANITOR_INTERVAL, &mut stopped).await;
    }
}

async fn sleep_or_stop(duration: Duration, stopped: &mut watch::Receiver<bool>) {
    tokio::select! {
        _ = tokio::time::sleep(duration) => {}
        _ = stopped.changed() => {}
    }
}
