//! The single writer: one task owns the one write connection and applies
//! every change in group commits.
//!
//! Requests queue on a channel; the writer takes everything waiting (up to
//! `batch_max`), applies it inside one `BEGIN IMMEDIATE … COMMIT`, and only
//! then answers each request and wakes the consumers of new notifications.
//! So an answer always means "committed", and many concurrent requests share
//! one fsync. Consecutive enqueues become multi-row inserts. Each other
//! request runs inside its own savepoint, so a failing request is rolled
//! back alone and does not spoil the batch.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use chatgate_core::event::{EventId, Inbound};
use chatgate_core::instance::{Account, SealedToken};
use chatgate_core::message::NewMessage;
use chatgate_core::signal::NotificationSignal;
use chatgate_core::store::{
    ChatRead, Claim, ClaimRequest, DeliveryAttempt, Enqueued, Finish, Finished, HookClaim,
    HookFinish, Ingested, NewInstance, Purged, Receipt, ReceiptOutcome, ReplayFrom, StoreError,
    StoreResult, StoredFile, WorkerId,
};
use chatgate_core::webhook::WebhookSecret;
use chatgate_core::{Instance, InstanceId, InstanceState, Settings, Timestamp, WebhookFormat};

use tokio::sync::{mpsc, oneshot};

use super::backend::Conn;
use super::{janitor, journal, ops, push};
use crate::at_rest::SecretsAtRest;
use crate::cache::InstanceCache;

/// The writer's transaction context: its connection, the instances that
/// got new notifications in the current batch (woken after the commit) and
/// the instances whose row the batch changed (forgotten by the cache after
/// the commit).
pub(crate) struct Cx {
    pub(crate) conn: Conn,
    pub(crate) notified: BTreeSet<InstanceId>,
    pub(crate) changed: BTreeSet<InstanceId>,
    pub(crate) cache: Arc<InstanceCache>,
    /// Seals and opens the instance rows' secrets.
    pub(crate) secrets: SecretsAtRest,
}

type Reply<T> = oneshot::Sender<StoreResult<T>>;

/// Opens a new connection for the writer: at start, and again after the
/// database went away (a restart, a network cut, a failover), so work
/// resumes when it returns without restarting chatgate.
pub(crate) type Connect =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = StoreResult<Conn>> + Send>> + Send + Sync>;

/// One change asked of the writer, with where to send its result.
pub(crate) enum Op {
    CreateInstance(NewInstance, Reply<Instance>),
    DeleteInstance {
        id: InstanceId,
        at: Timestamp,
        reason: String,
        reply: Reply<bool>,
    },
    UpdateSettings {
        id: InstanceId,
        settings: Settings,
        reply: Reply<Option<Instance>>,
    },
    SetWebhookFormat {
        id: InstanceId,
        format: WebhookFormat,
        reply: Reply<Option<Instance>>,
    },
    RotateSecret {
        id: InstanceId,
        secret: WebhookSecret,
        previous_until: Timestamp,
        reply: Reply<Option<Instance>>,
    },
    SetState {
        id: InstanceId,
        state: InstanceState,
        reason: Option<String>,
        at: Timestamp,
        reply: Reply<Option<Instance>>,
    },
    Enqueue(NewMessage, Reply<Enqueued>),
    ClearQueue {
        instance: InstanceId,
        at: Timestamp,
        reason: String,
        reply: Reply<u64>,
    },
    Claim(ClaimRequest, Reply<Vec<Claim>>),
    Finish {
        claim: Box<Claim>,
        owner: WorkerId,
        finish: Finish,
        parts: Vec<String>,
        at: Timestamp,
        reply: Reply<Finished>,
    },
    ReleaseLeases {
        owner: WorkerId,
        reply: Reply<u64>,
    },
    Expire {
        created_before: Timestamp,
        at: Timestamp,
        reply: Reply<u64>,
    },
    Receipt(Receipt, Reply<ReceiptOutcome>),
    Reads(Vec<ChatRead>, Reply<usize>),
    ServiceSecret {
        id: InstanceId,
        candidate: String,
        reply: Reply<Option<String>>,
    },
    ReplaceServiceSecret {
        id: InstanceId,
        sealed: String,
        reply: Reply<bool>,
    },
    ApplyDueReceipts {
        now: Timestamp,
        limit: usize,
        reply: Reply<usize>,
    },
    Ingest {
        instance: InstanceId,
        events: Vec<Inbound>,
        at: Timestamp,
        reply: Reply<Vec<Ingested>>,
    },
    Ack {
        instance: InstanceId,
        receipt: i64,
        at: Timestamp,
        reply: Reply<bool>,
    },
    Renotify {
        instance: InstanceId,
        event: EventId,
        at: Timestamp,
        reply: Reply<Option<u64>>,
    },
    Replay {
        instance: InstanceId,
        from: ReplayFrom,
        at: Timestamp,
        reply: Reply<u64>,
    },
    ClaimHooks(ClaimRequest, Reply<Vec<HookClaim>>),
    FinishHook {
        claim: Box<HookClaim>,
        owner: WorkerId,
        attempt: DeliveryAttempt,
        finish: HookFinish,
        reply: Reply<Finished>,
    },
    ClearNotifications {
        instance: InstanceId,
        reply: Reply<u64>,
    },
    StoreFile(StoredFile, Reply<()>),
    SetConnection {
        id: InstanceId,
        account: Account,
        token: SealedToken,
        state: InstanceState,
        reason: Option<String>,
        at: Timestamp,
        reply: Reply<Option<Instance>>,
    },
    UpdateContact {
        instance: InstanceId,
        contact: String,
        username: Option<String>,
        name: Option<String>,
        at: Timestamp,
        reply: Reply<()>,
    },
    Purge {
        journal_before: Timestamp,
        notifications_before: Timestamp,
        limit: usize,
        reply: Reply<Purged>,
    },
    /// Finish what came before, then stop.
    Shutdown(oneshot::Sender<()>),
}

impl Op {
    /// The op's name in the writer's metrics (`op` label).
    fn kind(&self) -> &'static str {
        match self {
            Op::CreateInstance(..) => "create_instance",
            Op::DeleteInstance { .. } => "delete_instance",
            Op::UpdateSettings { .. } => "update_settings",
            Op::SetWebhookFormat { .. } => "set_webhook_format",
            Op::RotateSecret { .. } => "rotate_secret",
            Op::SetState { .. } => "set_state",
            Op::Enqueue(..) => "enqueue",
            Op::ClearQueue { .. } => "clear_queue",
            Op::Claim(..) => "claim",
            Op::Finish { .. } => "finish",
            Op::ReleaseLeases { .. } => "release_leases",
            Op::Expire { .. } => "expire",
            Op::Receipt(..) => "receipt",
            Op::Reads(..) => "reads",
            Op::ServiceSecret { .. } => "service_secret",
            Op::ReplaceServiceSecret { .. } => "replace_service_secret",
            Op::ApplyDueReceipts { .. } => "apply_due_receipts",
            Op::Ingest { .. } => "ingest",
            Op::Ack { .. } => "ack",
            Op::Renotify { .. } => "renotify",
            Op::Replay { .. } => "replay",
            Op::ClaimHooks(..) => "claim_hooks",
            Op::FinishHook { .. } => "finish_hook",
            Op::ClearNotifications { .. } => "clear_notifications",
            Op::StoreFile(..) => "store_file",
            Op::SetConnection { .. } => "set_connection",
            Op::UpdateContact { .. } => "update_contact",
            Op::Purge { .. } => "purge",
            Op::Shutdown(..) => "shutdown",
        }
    }
}

/// Records the writer's time on `ops` changes of one kind.
fn record_op(kind: &'static str, ops: usize, started: Instant) {
    use chatgate_core::metrics::{STORE_OP_DURATION, STORE_OPS};
    metrics::histogram!(STORE_OP_DURATION, "op" => kind).record(started.elapsed().as_secs_f64());
    metrics::counter!(STORE_OPS, "op" => kind).increment(ops as u64);
}

/// A result computed inside the transaction, delivered after the commit.
trait Deliver: Send {
    fn deliver(self: Box<Self>, commit: &StoreResult<()>);
}

struct Pending<T> {
    reply: Reply<T>,
    result: StoreResult<T>,
}

impl<T: Send> Deliver for Pending<T> {
    fn deliver(self: Box<Self>, commit: &StoreResult<()>) {
        let answer = match commit {
            Ok(()) => self.result,
            Err(e) => Err(e.clone()),
        };
        // The caller may have gone away (timed out); that is fine.
        let _ = self.reply.send(answer);
    }
}

type Work<'a, T> = Pin<Box<dyn Future<Output = StoreResult<T>> + Send + 'a>>;

/// Keeps the writer's thread on one core (the last), and any thread it
/// starts (a thread inherits its creator's CPU set). This tripled the
/// workers' throughput while SQLite's connection ran on a driver thread of
/// its own, each statement a hand-over between the two; the SQLite writer
/// now drives its connection itself, and pinning measures the same as not.
fn pin_to_one_core() {
    if let Some(cores) = core_affinity::get_core_ids()
        && cores.len() > 1
        && let Some(last) = cores.last()
    {
        core_affinity::set_for_current(*last);
    }
}

/// Starts the writer on a thread of its own, with its own single-threaded
/// runtime, and returns once its connection is open.
///
/// On PostgreSQL the writer waits on the server for every statement of a
/// batch (on SQLite it drives its connection itself, see `sqlite/direct.rs`;
/// before, it waited on sqlx's driver thread the same way). On the shared
/// runtime each wait's wake-up queued behind every HTTP task (a batch of 30
/// sends took 5 ms, mostly waiting to be polled); on its own thread it is
/// polled the moment its statement is done. The connection is opened on
/// that runtime too, so a PostgreSQL socket is driven by the writer's own
/// reactor. With `pin`, the thread keeps to one
/// core (see [`pin_to_one_core`]): the push drain went from 1 070 to 3 500
/// deliveries/s with it, end to end from 131 to 420 messages/s.
pub(crate) async fn spawn(
    connect: Connect,
    batch_max: usize,
    pin: bool,
    secrets: SecretsAtRest,
) -> StoreResult<Writer> {
    let batch_max = batch_max.max(1);
    let (writes, rx) = mpsc::channel(batch_max * 8);
    let writer = Writer { writes, signal: NotificationSignal::default(), cache: Arc::default() };
    let (signal, cache) = (writer.signal.clone(), writer.cache.clone());
    let (opened, ready) = oneshot::channel();
    std::thread::Builder::new()
        .name("chatgate-writer".into())
        .spawn(move || {
            if pin {
                pin_to_one_core();
            }
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(runtime) => runtime,
                Err(e) => {
                    let _ = opened.send(Err(StoreError::Unavailable(format!(
                        "cannot start the store writer: {e}"
                    ))));
                    return;
                }
            };
            runtime.block_on(async move {
                match connect().await {
                    Ok(conn) => {
                        let _ = opened.send(Ok(()));
                        run(conn, rx, batch_max, signal, cache, secrets, Some(connect)).await;
                    }
                    Err(e) => {
                        let _ = opened.send(Err(e));
                    }
                }
            });
        })
        .map_err(|e| StoreError::Unavailable(format!("cannot start the store writer: {e}")))?;
    ready.await.map_err(|_| StoreError::Unavailable("the store writer did not start".into()))??;
    Ok(writer)
}

/// A running writer: where to send it ops, and what it shares with the
/// store's readers (the wake-ups it fires, the instance cache it keeps
/// true).
pub(crate) struct Writer {
    pub(crate) writes: mpsc::Sender<Op>,
    pub(crate) signal: NotificationSignal,
    pub(crate) cache: Arc<InstanceCache>,
}

/// Runs the writer until a `Shutdown` op or until every sender is gone.
///
/// When a batch fails and the connection no longer answers, the writer
/// opens a new one (with `reconnect`) before the next batch. While the
/// database is away each batch fails at once — its callers are told
/// "unavailable" and nothing they asked for is acknowledged — and the first
/// batch after it returns commits as usual.
pub(crate) async fn run(
    conn: Conn,
    mut rx: mpsc::Receiver<Op>,
    batch_max: usize,
    signal: NotificationSignal,
    cache: Arc<InstanceCache>,
    secrets: SecretsAtRest,
    reconnect: Option<Connect>,
) {
    let mut cx = Cx { conn, notified: BTreeSet::new(), changed: BTreeSet::new(), cache, secrets };
    let mut broken = false;
    let mut batch = Vec::with_capacity(batch_max);
    loop {
        if rx.recv_many(&mut batch, batch_max).await == 0 {
            break;
        }
        let mut shutdown = None;
        if let Some(pos) = batch.iter().position(|op| matches!(op, Op::Shutdown(_))) {
            // Everything after a shutdown request is refused (its sender is
            // dropped, which the caller sees as "unavailable").
            for op in batch.split_off(pos) {
                if let Op::Shutdown(done) = op {
                    shutdown.get_or_insert(done);
                }
            }
        }
        if !batch.is_empty() {
            if broken && let Some(reconnect) = &reconnect {
                match reconnect().await {
                    Ok(conn) => {
                        let old = std::mem::replace(&mut cx.conn, conn);
                        drop(old);
                        broken = false;
                        tracing::info!("the store writer is connected again");
                    }
                    Err(e) => tracing::debug!(error = %e, "the database is still away"),
                }
            }
            let committed = apply_batch(&mut cx, std::mem::take(&mut batch), &signal).await;
            if !committed && !broken && super::backend::ping(&mut cx.conn).await.is_err() {
                broken = true;
                tracing::warn!("the store writer lost its database connection; reconnecting");
            }
        }
        if let Some(done) = shutdown {
            rx.close();
            while let Ok(op) = rx.try_recv() {
                drop(op);
            }
            super::backend::close(cx.conn).await;
            // What the connections share (SQLite's checkpoint thread) is
            // finished before the store is said to be closed.
            drop(reconnect);
            let _ = done.send(());
            return;
        }
    }
    super::backend::close(cx.conn).await;
}

/// Applies one batch in one transaction; true when it committed.
async fn apply_batch(cx: &mut Cx, batch: Vec<Op>, signal: &NotificationSignal) -> bool {
    let started = Instant::now();
    let size = batch.len();
    let mut delivered: Vec<Box<dyn Deliver>> = Vec::with_capacity(size);
    let commit = match super::backend::raw_sql(super::backend::BEGIN).execute(&mut cx.conn).await {
        Err(e) => Err(super::rows::db_error(e)),
        Ok(_) => {
            let mut ops = batch.into_iter().peekable();
            while let Some(op) = ops.next() {
                let (kind, started, before) = (op.kind(), Instant::now(), delivered.len());
                match op {
                    Op::Enqueue(first, reply) => {
                        // Gather the run of consecutive enqueues into one
                        // multi-row insert.
                        let mut run = vec![(first, reply)];
                        while let Some(Op::Enqueue(..)) = ops.peek() {
                            if let Some(Op::Enqueue(next, reply)) = ops.next() {
                                run.push((next, reply));
                            }
                        }
                        let (messages, replies): (Vec<_>, Vec<_>) = run.into_iter().unzip();
                        let count = messages.len();
                        let results =
                            match in_savepoint(cx, |c| Box::pin(ops::enqueue_many(c, messages)))
                                .await
                            {
                                Ok(results) => results,
                                Err(e) => (0..count).map(|_| Err(e.clone())).collect(),
                            };
                        for (reply, result) in replies.into_iter().zip(results) {
                            delivered.push(Box::new(Pending { reply, result }));
                        }
                    }
                    Op::Ingest { instance, events, at, reply } => {
                        // Gather the run of consecutive ingests (concurrent
                        // webhook deliveries) into one multi-instance write.
                        let mut run = vec![(instance, events, reply)];
                        let mut now = at;
                        while let Some(Op::Ingest { .. }) = ops.peek() {
                            if let Some(Op::Ingest { instance, events, at, reply }) = ops.next() {
                                now = now.max(at);
                                run.push((instance, events, reply));
                            }
                        }
                        let count = run.len();
                        let (batch, replies): (Vec<_>, Vec<_>) =
                            run.into_iter().map(|(i, e, r)| ((i, e), r)).unzip();
                        let results = match in_savepoint(cx, |c| {
                            Box::pin(journal::ingest_many(c, batch, now))
                        })
                        .await
                        {
                            Ok(results) => results.into_iter().map(Ok).collect(),
                            Err(e) => (0..count).map(|_| Err(e.clone())).collect::<Vec<_>>(),
                        };
                        for (reply, result) in replies.into_iter().zip(results) {
                            delivered.push(Box::new(Pending { reply, result }));
                        }
                    }
                    Op::FinishHook { claim, owner, attempt, finish, reply } => {
                        // Gather the run of consecutive push outcomes (the
                        // hook worker's concurrent deliveries) into one
                        // batched finish.
                        let mut run =
                            vec![(push::HookFinishing { claim, owner, attempt, finish }, reply)];
                        while let Some(Op::FinishHook { .. }) = ops.peek() {
                            if let Some(Op::FinishHook { claim, owner, attempt, finish, reply }) =
                                ops.next()
                            {
                                run.push((
                                    push::HookFinishing { claim, owner, attempt, finish },
                                    reply,
                                ));
                            }
                        }
                        finish_hooks(cx, run, &mut delivered).await;
                    }
                    Op::Finish { claim, owner, finish, parts, at, reply } => {
                        // The outbound worker's concurrent send outcomes.
                        let mut run = vec![((claim, owner, finish, parts, at), reply)];
                        while let Some(Op::Finish { .. }) = ops.peek() {
                            if let Some(Op::Finish { claim, owner, finish, parts, at, reply }) =
                                ops.next()
                            {
                                run.push(((claim, owner, finish, parts, at), reply));
                            }
                        }
                        in_shared_savepoint(cx, run, finish_op, &mut delivered).await;
                    }
                    Op::Receipt(receipt, reply) => {
                        // Platform receipts (a sandbox's delivered and read).
                        let mut run = vec![(receipt, reply)];
                        while let Some(Op::Receipt(..)) = ops.peek() {
                            if let Some(Op::Receipt(receipt, reply)) = ops.next() {
                                run.push((receipt, reply));
                            }
                        }
                        in_shared_savepoint(cx, run, receipt_op, &mut delivered).await;
                    }
                    Op::Shutdown(done) => {
                        let _ = done.send(());
                    }
                    other => delivered.push(apply_one(cx, other).await),
                }
                if delivered.len() > before {
                    record_op(kind, delivered.len() - before, started);
                }
            }
            // Other nodes learn of new notifications when this commits.
            if let Err(e) =
                super::backend::before_commit(&mut cx.conn, &cx.notified, &cx.changed).await
            {
                tracing::warn!(error = %e, "announcing notifications to other nodes failed");
            }
            match super::backend::raw_sql("COMMIT").execute(&mut cx.conn).await {
                Ok(_) => {
                    super::backend::after_commit(&mut cx.conn).await;
                    Ok(())
                }
                Err(e) => {
                    let _ = super::backend::raw_sql("ROLLBACK").execute(&mut cx.conn).await;
                    Err(super::rows::db_error(e))
                }
            }
        }
    };
    let notified = std::mem::take(&mut cx.notified);
    // After the commit (or the rollback), never before: a read between the
    // two would otherwise cache the old row again.
    cx.cache.invalidate(std::mem::take(&mut cx.changed));
    match &commit {
        Ok(()) => {
            for instance in notified {
                signal.fire(instance);
            }
        }
        Err(e) => {
            tracing::error!(error = %e, size, "store commit failed; the whole batch is refused")
        }
    }
    let elapsed = started.elapsed();
    record_batch(size, elapsed, commit.is_ok());
    tracing::trace!(size, elapsed_us = elapsed.as_micros() as u64, "store batch committed");
    for d in delivered {
        d.deliver(&commit);
    }
    commit.is_ok()
}

/// Applies a run of push outcomes in one savepoint. Should the batch fail
/// (it should not: each outcome is a few plain updates), it is rolled back
/// and each outcome is applied again in its own savepoint, so one bad
/// outcome fails alone, as any other op would.
async fn finish_hooks(
    cx: &mut Cx,
    mut run: Vec<(push::HookFinishing, Reply<Finished>)>,
    delivered: &mut Vec<Box<dyn Deliver>>,
) {
    if run.len() > 1 {
        let (finishing, replies): (Vec<_>, Vec<_>) = run.into_iter().unzip();
        let copies = finishing.clone();
        match in_savepoint(cx, |c| Box::pin(push::finish_many(c, finishing))).await {
            Ok(results) => {
                for (reply, result) in replies.into_iter().zip(results) {
                    delivered.push(Box::new(Pending { reply, result: Ok(result) }));
                }
                return;
            }
            Err(e) => {
                tracing::debug!(error = %e, "a batch of push outcomes failed; applying each alone");
                run = copies.into_iter().zip(replies).collect();
            }
        }
    }
    // Alone, or again one by one: each in its own savepoint.
    for (f, reply) in run {
        let push::HookFinishing { claim, owner, attempt, finish } = f;
        delivered.push(
            run_op(cx, reply, |c| Box::pin(push::finish(c, claim, owner, attempt, finish))).await,
        );
    }
}

/// Records a group commit's size and duration (and its failure).
fn record_batch(size: usize, elapsed: std::time::Duration, committed: bool) {
    use chatgate_core::metrics::{STORE_BATCH_SIZE, STORE_COMMIT_DURATION, STORE_COMMIT_FAILURES};
    metrics::histogram!(STORE_BATCH_SIZE).record(size as f64);
    metrics::histogram!(STORE_COMMIT_DURATION).record(elapsed.as_secs_f64());
    if !committed {
        metrics::counter!(STORE_COMMIT_FAILURES).increment(1);
    }
}

/// Runs `f` inside a savepoint; on error the savepoint is rolled back and
/// the error is the result.
async fn in_savepoint<T>(
    cx: &mut Cx,
    f: impl for<'a> FnOnce(&'a mut Cx) -> Work<'a, T>,
) -> StoreResult<T> {
    super::backend::raw_sql("SAVEPOINT op")
        .execute(&mut cx.conn)
        .await
        .map_err(super::rows::db_error)?;
    let result = f(cx).await;
    let end = if result.is_ok() { "RELEASE op" } else { "ROLLBACK TO op; RELEASE op" };
    super::backend::raw_sql(end).execute(&mut cx.conn).await.map_err(super::rows::db_error)?;
    result
}

/// A send outcome's input, as [`Op::Finish`] carries it.
type FinishInput = (Box<Claim>, WorkerId, Finish, Vec<String>, Timestamp);

fn finish_op(cx: &mut Cx, (claim, owner, finish, parts, at): FinishInput) -> Work<'_, Finished> {
    Box::pin(ops::finish(cx, claim, owner, finish, parts, at))
}

fn receipt_op(cx: &mut Cx, receipt: Receipt) -> Work<'_, ReceiptOutcome> {
    Box::pin(ops::receipt(cx, receipt))
}

/// Runs a run of ops of one kind inside one savepoint instead of one each
/// (two statements fewer per op). Should any of them fail, the whole run
/// is rolled back and each op is applied again in its own savepoint, from
/// a copy of its input, so a failing op still fails alone.
async fn in_shared_savepoint<I: Clone + Send + 'static, T: Send + 'static>(
    cx: &mut Cx,
    run: Vec<(I, Reply<T>)>,
    apply: impl for<'a> Fn(&'a mut Cx, I) -> Work<'a, T> + Copy + Send + Sync + 'static,
    delivered: &mut Vec<Box<dyn Deliver>>,
) {
    let (inputs, replies): (Vec<I>, Vec<Reply<T>>) = run.into_iter().unzip();
    if inputs.len() > 1 {
        let copies = inputs.clone();
        let all = in_savepoint(cx, |c| {
            Box::pin(async move {
                let mut results = Vec::with_capacity(inputs.len());
                for input in inputs {
                    results.push(apply(c, input).await?);
                }
                Ok(results)
            })
        })
        .await;
        match all {
            Ok(results) => {
                for (reply, result) in replies.into_iter().zip(results) {
                    delivered.push(Box::new(Pending { reply, result: Ok(result) }));
                }
                return;
            }
            Err(e) => {
                tracing::debug!(error = %e, "a run of ops failed together; applying each alone");
                for (input, reply) in copies.into_iter().zip(replies) {
                    delivered.push(run_op(cx, reply, |c| apply(c, input)).await);
                }
                return;
            }
        }
    }
    for (input, reply) in inputs.into_iter().zip(replies) {
        delivered.push(run_op(cx, reply, |c| apply(c, input)).await);
    }
}

/// Runs one op in its savepoint and keeps its result for after the commit.
async fn run_op<T: Send + 'static>(
    cx: &mut Cx,
    reply: Reply<T>,
    f: impl for<'a> FnOnce(&'a mut Cx) -> Work<'a, T>,
) -> Box<dyn Deliver> {
    let result = in_savepoint(cx, f).await;
    Box::new(Pending { reply, result })
}

async fn apply_one(cx: &mut Cx, op: Op) -> Box<dyn Deliver> {
    match op {
        Op::CreateInstance(new, reply) => {
            run_op(cx, reply, |c| Box::pin(ops::create_instance(c, new))).await
        }
        Op::DeleteInstance { id, at, reason, reply } => {
            run_op(cx, reply, |c| Box::pin(ops::delete_instance(c, id, at, reason))).await
        }
        Op::UpdateSettings { id, settings, reply } => {
            run_op(cx, reply, |c| Box::pin(ops::update_settings(c, id, settings))).await
        }
        Op::SetWebhookFormat { id, format, reply } => {
            run_op(cx, reply, |c| Box::pin(ops::set_webhook_format(c, id, format))).await
        }
        Op::RotateSecret { id, secret, previous_until, reply } => {
            run_op(cx, reply, |c| {
                Box::pin(ops::rotate_webhook_secret(c, id, secret, previous_until))
            })
            .await
        }
        Op::SetState { id, state, reason, at, reply } => {
            run_op(cx, reply, |c| Box::pin(ops::set_state(c, id, state, reason, at))).await
        }
        Op::ClearQueue { instance, at, reason, reply } => {
            run_op(cx, reply, |c| Box::pin(ops::clear_queue(c, instance, at, reason))).await
        }
        Op::Claim(request, reply) => run_op(cx, reply, |c| Box::pin(ops::claim(c, request))).await,
        Op::Finish { claim, owner, finish, parts, at, reply } => {
            run_op(cx, reply, |c| Box::pin(ops::finish(c, claim, owner, finish, parts, at))).await
        }
        Op::ReleaseLeases { owner, reply } => {
            run_op(cx, reply, |c| Box::pin(ops::release_leases(c, owner))).await
        }
        Op::Expire { created_before, at, reply } => {
            run_op(cx, reply, |c| Box::pin(ops::expire(c, created_before, at))).await
        }
        Op::Receipt(receipt, reply) => {
            run_op(cx, reply, |c| Box::pin(ops::receipt(c, receipt))).await
        }
        Op::Reads(reads, reply) => run_op(cx, reply, |c| Box::pin(ops::chat_reads(c, reads))).await,
        Op::ReplaceServiceSecret { id, sealed, reply } => {
            run_op(cx, reply, |c| Box::pin(ops::replace_service_secret(c, id, sealed))).await
        }
        Op::ServiceSecret { id, candidate, reply } => {
            run_op(cx, reply, |c| Box::pin(ops::ensure_service_secret(c, id, candidate))).await
        }
        Op::ApplyDueReceipts { now, limit, reply } => {
            run_op(cx, reply, |c| Box::pin(ops::apply_due_receipts(c, now, limit))).await
        }
        Op::Ingest { instance, events, at, reply } => {
            run_op(cx, reply, |c| Box::pin(journal::ingest(c, instance, events, at))).await
        }
        Op::Ack { instance, receipt, at, reply } => {
            run_op(cx, reply, |c| Box::pin(journal::ack(c, instance, receipt, at))).await
        }
        Op::Renotify { instance, event, at, reply } => {
            run_op(cx, reply, |c| Box::pin(journal::renotify(c, instance, event, at))).await
        }
        Op::Replay { instance, from, at, reply } => {
            run_op(cx, reply, |c| Box::pin(journal::replay(c, instance, from, at))).await
        }
        Op::ClaimHooks(request, reply) => {
            run_op(cx, reply, |c| Box::pin(push::claim(c, request))).await
        }
        Op::FinishHook { claim, owner, attempt, finish, reply } => {
            run_op(cx, reply, |c| Box::pin(push::finish(c, claim, owner, attempt, finish))).await
        }
        Op::ClearNotifications { instance, reply } => {
            run_op(cx, reply, |c| Box::pin(ops::clear_notifications(c, instance))).await
        }
        Op::SetConnection { id, account, token, state, reason, at, reply } => {
            run_op(cx, reply, |c| {
                Box::pin(ops::set_connection(c, id, account, token, state, reason, at))
            })
            .await
        }
        Op::UpdateContact { instance, contact, username, name, at, reply } => {
            run_op(cx, reply, |c| {
                Box::pin(ops::update_contact(c, instance, contact, username, name, at))
            })
            .await
        }
        Op::StoreFile(file, reply) => {
            run_op(cx, reply, |c| Box::pin(ops::store_file(c, file))).await
        }
        Op::Purge { journal_before, notifications_before, limit, reply } => {
            run_op(cx, reply, |c| {
                Box::pin(janitor::purge(c, journal_before, notifications_before, limit))
            })
            .await
        }
        Op::Enqueue(message, reply) => {
            let result =
                match in_savepoint(cx, |c| Box::pin(ops::enqueue_many(c, vec![message]))).await {
                    Ok(mut results) => results.pop().unwrap_or_else(|| {
                        Err(StoreError::Corrupt("enqueue returned nothing".into()))
                    }),
                    Err(e) => Err(e),
                };
            Box::new(Pending { reply, result })
        }
        Op::Shutdown(done) => {
            let _ = done.send(());
            Box::new(Nothing)
        }
    }
}

struct Nothing;

impl Deliver for Nothing {
    fn deliver(self: Box<Self>, _: &StoreResult<()>) {}
}
