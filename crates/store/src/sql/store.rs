//! The [`Store`] on a SQL database, shared by the backends: this file is
//! compiled once per backend (SQLite, PostgreSQL), each time with that
//! backend's connection, row and pool types and its SQL translation (see
//! `backend` in `sqlite/mod.rs` and `postgres/mod.rs`). Reads go to a pool;
//! every change goes to the one writer task (see `writer`).

use super::backend::RowExt;
use async_trait::async_trait;
use chatgate_core::contact::Contact;
use chatgate_core::event::{Event, EventId, Inbound};
use chatgate_core::instance::{Account, SealedToken};
use chatgate_core::message::NewMessage;
use chatgate_core::signal::NotificationSignal;
use chatgate_core::store::{
    Backlog, ChatEntry, ChatRead, Claim, ClaimRequest, Delivery, DeliveryAttempt, Enqueued, Finish,
    Finished, HookClaim, HookFinish, Ingested, NewInstance, Notification, NotificationState,
    PartnerInstance, Purged, Receipt, ReceiptOutcome, ReplayFrom, Store, StoreError, StoreResult,
    StoredFile, WorkTotals, WorkerId,
};
use chatgate_core::webhook::WebhookSecret;
use chatgate_core::{
    Instance, InstanceId, InstanceState, MessageId, OutboundMessage, Settings, Timestamp,
    TokenHash, WebhookFormat,
};
use tokio::sync::{mpsc, oneshot};

use std::sync::Arc;

use super::backend::{Conn, DbPool, query};
use super::journal::event_columns;
use super::rows::{db_error, id_value, instance_columns, instance_id, message_columns};
use super::writer::Op;
use super::{journal, rows};
use crate::at_rest::SecretsAtRest;
use crate::cache::InstanceCache;

/// The Store on one SQL database (see the backend's `open`).
pub struct SqlStore {
    pub(crate) reader: DbPool,
    pub(crate) cache: Arc<InstanceCache>,
    pub(crate) writes: mpsc::Sender<Op>,
    pub(crate) signal: NotificationSignal,
    pub(crate) secrets: SecretsAtRest,
    pub(crate) backend: super::backend::Extra,
}

impl SqlStore {
    /// Sends an op to the writer and waits for its committed result.
    async fn write<T>(
        &self,
        op: impl FnOnce(oneshot::Sender<StoreResult<T>>) -> Op,
    ) -> StoreResult<T> {
        let (reply, answer) = oneshot::channel();
        self.writes.send(op(reply)).await.map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }

    async fn transitions(&self, seq: i64) -> StoreResult<Vec<chatgate_core::message::Transition>> {
        query(
            "SELECT status, at, detail FROM message_transitions WHERE message_seq = ? ORDER BY rowid",
        )
        .bind(seq)
        .fetch_all(&self.reader)
        .await
        .map_err(db_error)?
        .iter()
        .map(rows::transition)
        .collect()
    }
}

/// Instances created before webhook secrets existed get one now (SQLite
/// cannot generate base64 in a migration).
pub(crate) async fn seal_every_instance_secret(
    conn: &mut Conn,
    secrets: &SecretsAtRest,
) -> StoreResult<()> {
    // Rows from before webhook secrets existed get one.
    let missing: Vec<i64> = query("SELECT id FROM instances WHERE webhook_secret = ''")
        .fetch_all(&mut *conn)
        .await
        .map_err(db_error)?
        .iter()
        .map(|r| r.try_get("id"))
        .collect::<Result<_, _>>()
        .map_err(db_error)?;
    for id in missing {
        query("UPDATE instances SET webhook_secret = ? WHERE id = ?")
            .bind(secrets.seal_webhook_secret(instance_id(id)?, &WebhookSecret::generate()))
            .bind(id)
            .execute(&mut *conn)
            .await
            .map_err(db_error)?;
    }
    // Rows from before secrets were sealed at rest get them sealed, each
    // row in one statement (a crash between rows leaves some sealed, some
    // in clear, and the next start finishes). Clear values are recognised
    // by their shape: a webhook secret is `whsec_…`, a sealed one never is.
    let rows = query(
        "SELECT id, settings, webhook_secret, webhook_secret_previous FROM instances \
         WHERE webhook_secret LIKE 'whsec\\_%' ESCAPE '\\' \
            OR webhook_secret_previous LIKE 'whsec\\_%' ESCAPE '\\' \
            OR settings LIKE '%\"webhookUrlToken\":\"%'",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(db_error)?;
    for row in rows {
        let raw: i64 = row.try_get("id").map_err(db_error)?;
        let id = instance_id(raw)?;
        let settings: String = row.try_get("settings").map_err(db_error)?;
        let current: String = row.try_get("webhook_secret").map_err(db_error)?;
        let previous: Option<String> = row.try_get("webhook_secret_previous").map_err(db_error)?;
        let settings = secrets.reseal_settings(id, &settings).unwrap_or(settings);
        let current = secrets.reseal_webhook_secret(id, &current).unwrap_or(current);
        let previous = previous.map(|p| secrets.reseal_webhook_secret(id, &p).unwrap_or(p));
        query(
            "UPDATE instances SET settings = ?, webhook_secret = ?, webhook_secret_previous = ? \
             WHERE id = ?",
        )
        .bind(settings)
        .bind(current)
        .bind(previous)
        .bind(raw)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    }
    Ok(())
}

fn closed() -> StoreError {
    StoreError::Unavailable("the store is shutting down".into())
}

#[async_trait]
impl Store for SqlStore {
    async fn ping(&self) -> StoreResult<()> {
        query("SELECT 1").execute(&self.reader).await.map_err(db_error)?;
        if self.writes.is_closed() {
            return Err(closed());
        }
        Ok(())
    }

    async fn close(&self) {
        let (done, finished) = oneshot::channel();
        if self.writes.send(Op::Shutdown(done)).await.is_ok() {
            let _ = finished.await;
        }
        self.reader.close().await;
    }

    fn notifications_signal(&self) -> NotificationSignal {
        self.signal.clone()
    }

    async fn create_instance(&self, new: NewInstance) -> StoreResult<Instance> {
        self.write(|reply| Op::CreateInstance(new, reply)).await
    }

    async fn instance(&self, id: InstanceId) -> StoreResult<Option<(Instance, TokenHash)>> {
        if let Some(hit) = self.cache.get(id) {
            return Ok(Some(hit));
        }
        let generation = self.cache.generation();
        let found = query(concat!(
            "SELECT ",
            instance_columns!(),
            " FROM instances WHERE id = ? AND deleted_at IS NULL"
        ))
        .bind(id_value(id))
        .fetch_optional(&self.reader)
        .await
        .map_err(db_error)?
        .map(|row| rows::instance(&row, &self.secrets))
        .transpose()?;
        if let Some((instance, token)) = &found {
            self.cache.put(generation, instance, token);
        }
        Ok(found)
    }

    async fn instance_by_token(&self, hash: &TokenHash) -> StoreResult<Option<Instance>> {
        if let Some(hit) = self.cache.get_by_token(hash) {
            return Ok(Some(hit));
        }
        let generation = self.cache.generation();
        let row = query(concat!(
            "SELECT ",
            instance_columns!(),
            " FROM instances WHERE token_hash = ? AND deleted_at IS NULL"
        ))
        .bind(hash.as_str())
        .fetch_optional(&self.reader)
        .await
        .map_err(db_error)?;
        match row {
            // The index found the row by equality; compare once more in
            // constant time so the answer never depends on a partial match.
            Some(row) => {
                let (instance, stored) = rows::instance(&row, &self.secrets)?;
                if !stored.matches(hash) {
                    return Ok(None);
                }
                self.cache.put(generation, &instance, &stored);
                Ok(Some(instance))
            }
            None => Ok(None),
        }
    }

    async fn instances(&self) -> StoreResult<Vec<Instance>> {
        query(concat!(
            "SELECT ",
            instance_columns!(),
            " FROM instances WHERE deleted_at IS NULL ORDER BY created_at, id"
        ))
        .fetch_all(&self.reader)
        .await
        .map_err(db_error)?
        .iter()
        .map(|row| rows::instance(row, &self.secrets).map(|(i, _)| i))
        .collect()
    }

    async fn delete_instance(
        &self,
        id: InstanceId,
        at: Timestamp,
        reason: &str,
    ) -> StoreResult<bool> {
        let reason = reason.to_owned();
        self.write(|reply| Op::DeleteInstance { id, at, reason, reply }).await
    }

    async fn update_settings(
        &self,
        id: InstanceId,
        settings: &Settings,
    ) -> StoreResult<Option<Instance>> {
        let settings = settings.clone();
        self.write(|reply| Op::UpdateSettings { id, settings, reply }).await
    }

    async fn set_state(
        &self,
        id: InstanceId,
        state: InstanceState,
        reason: Option<&str>,
        at: Timestamp,
    ) -> StoreResult<Option<Instance>> {
        let reason = reason.map(str::to_owned);
        self.write(|reply| Op::SetState { id, state, reason, at, reply }).await
    }

    async fn enqueue(&self, message: NewMessage) -> StoreResult<Enqueued> {
        self.write(|reply| Op::Enqueue(message, reply)).await
    }

    async fn message(
        &self,
        instance: InstanceId,
        id: MessageId,
    ) -> StoreResult<Option<OutboundMessage>> {
        let row = query(concat!(
            "SELECT ",
            message_columns!(),
            " FROM messages WHERE id = ? AND instance_id = ?"
        ))
        .bind(id.to_string())
        .bind(id_value(instance))
        .fetch_optional(&self.reader)
        .await
        .map_err(db_error)?;
        let Some(row) = row else { return Ok(None) };
        let (seq, mut message) = rows::message(&row)?;
        message.transitions = self.transitions(seq).await?;
        Ok(Some(message))
    }

    async fn queue(&self, instance: InstanceId, limit: usize) -> StoreResult<Vec<OutboundMessage>> {
        query(concat!(
            "SELECT ",
            message_columns!(),
            " FROM messages WHERE instance_id = ? AND status IN ('queued', 'sending') \
             ORDER BY seq LIMIT ?"
        ))
        .bind(id_value(instance))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.reader)
        .await
        .map_err(db_error)?
        .iter()
        .map(|row| rows::message(row).map(|(_, m)| m))
        .collect()
    }

    async fn queue_count(&self, instance: InstanceId) -> StoreResult<u64> {
        let row = query(
            "SELECT COUNT(*) AS n FROM messages WHERE instance_id = ? AND status IN ('queued', 'sending')",
        )
        .bind(id_value(instance))
        .fetch_one(&self.reader)
        .await
        .map_err(db_error)?;
        let n: i64 = row.try_get("n").map_err(db_error)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn clear_queue(
        &self,
        instance: InstanceId,
        at: Timestamp,
        reason: &str,
    ) -> StoreResult<u64> {
        let reason = reason.to_owned();
        self.write(|reply| Op::ClearQueue { instance, at, reason, reply }).await
    }

    async fn claim_outbound(&self, request: ClaimRequest) -> StoreResult<Vec<Claim>> {
        self.write(|reply| Op::Claim(request, reply)).await
    }

    async fn finish_outbound(
        &self,
        claim: &Claim,
        owner: &WorkerId,
        finish: Finish,
        parts: Vec<String>,
        at: Timestamp,
    ) -> StoreResult<Finished> {
        let claim = Box::new(claim.clone());
        let owner = owner.clone();
        self.write(|reply| Op::Finish { claim, owner, finish, parts, at, reply }).await
    }

    async fn release_leases(&self, owner: &WorkerId) -> StoreResult<u64> {
        let owner = owner.clone();
        self.write(|reply| Op::ReleaseLeases { owner, reply }).await
    }

    async fn next_outbound_at(&self) -> StoreResult<Option<Timestamp>> {
        let row =
            query("SELECT MIN(ready_at) AS next FROM outbound_lanes WHERE ready_at IS NOT NULL")
                .fetch_one(&self.reader)
                .await
                .map_err(db_error)?;
        let next: Option<i64> = row.try_get("next").map_err(db_error)?;
        Ok(next.map(Timestamp::from_millis))
    }

    async fn expire_outbound(&self, created_before: Timestamp, at: Timestamp) -> StoreResult<u64> {
        self.write(|reply| Op::Expire { created_before, at, reply }).await
    }

    async fn record_receipt(&self, receipt: Receipt) -> StoreResult<ReceiptOutcome> {
        self.write(|reply| Op::Receipt(receipt, reply)).await
    }

    async fn replace_service_secret(&self, id: InstanceId, sealed: String) -> StoreResult<bool> {
        self.write(|reply| Op::ReplaceServiceSecret { id, sealed, reply }).await
    }

    async fn stored_service_secret(&self, id: InstanceId) -> StoreResult<Option<String>> {
        query("SELECT service_secret_sealed FROM instances WHERE id = ? AND deleted_at IS NULL")
            .bind(id_value(id))
            .fetch_optional(&self.reader)
            .await
            .map_err(db_error)?
            .map(|row| row.try_get::<Option<String>, _>("service_secret_sealed"))
            .transpose()
            .map_err(db_error)
            .map(Option::flatten)
    }

    async fn ensure_service_secret(
        &self,
        id: InstanceId,
        candidate: String,
    ) -> StoreResult<Option<String>> {
        // Most calls find one: read first, write only when missing.
        let stored: Option<Option<String>> = query(
            "SELECT service_secret_sealed FROM instances WHERE id = ? AND deleted_at IS NULL",
        )
        .bind(id_value(id))
        .fetch_optional(&self.reader)
        .await
        .map_err(db_error)?
        .map(|row| row.try_get("service_secret_sealed"))
        .transpose()
        .map_err(db_error)?;
        match stored {
            None => Ok(None),
            Some(Some(sealed)) => Ok(Some(sealed)),
            Some(None) => self.write(|reply| Op::ServiceSecret { id, candidate, reply }).await,
        }
    }

    async fn record_reads(&self, reads: Vec<ChatRead>) -> StoreResult<usize> {
        self.write(|reply| Op::Reads(reads, reply)).await
    }

    async fn apply_due_simulated_receipts(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> StoreResult<usize> {
        self.write(|reply| Op::ApplyDueReceipts { now, limit, reply }).await
    }

    async fn next_simulated_receipt_at(&self) -> StoreResult<Option<Timestamp>> {
        let row = query("SELECT MIN(due_at) AS next FROM simulated_receipts")
            .fetch_one(&self.reader)
            .await
            .map_err(db_error)?;
        let next: Option<i64> = row.try_get("next").map_err(db_error)?;
        Ok(next.map(Timestamp::from_millis))
    }

    async fn set_webhook_format(
        &self,
        id: InstanceId,
        format: WebhookFormat,
    ) -> StoreResult<Option<Instance>> {
        self.write(|reply| Op::SetWebhookFormat { id, format, reply }).await
    }

    async fn rotate_webhook_secret(
        &self,
        id: InstanceId,
        secret: WebhookSecret,
        previous_until: Timestamp,
    ) -> StoreResult<Option<Instance>> {
        self.write(|reply| Op::RotateSecret { id, secret, previous_until, reply }).await
    }

    async fn ingest(
        &self,
        instance: InstanceId,
        events: Vec<Inbound>,
        at: Timestamp,
    ) -> StoreResult<Vec<Ingested>> {
        self.write(|reply| Op::Ingest { instance, events, at, reply }).await
    }

    async fn comment_at(
        &self,
        instance: InstanceId,
        comment_id: &str,
    ) -> StoreResult<Option<Timestamp>> {
        let row = query("SELECT at FROM events WHERE instance_id = ? AND dedupe_key = ?")
            .bind(id_value(instance))
            .bind(format!("comment:{comment_id}"))
            .fetch_optional(&self.reader)
            .await
            .map_err(db_error)?;
        row.map(|r| r.try_get::<i64, _>("at").map(Timestamp::from_millis))
            .transpose()
            .map_err(db_error)
    }

    async fn instance_by_account(&self, account_id: &str) -> StoreResult<Option<Instance>> {
        if let Some(hit) = self.cache.get_by_account(account_id) {
            return Ok(Some(hit));
        }
        let generation = self.cache.generation();
        let found = query(concat!(
            "SELECT ",
            instance_columns!(),
            " FROM instances WHERE account_id = ? AND deleted_at IS NULL ORDER BY created_at DESC LIMIT 1"
        ))
        .bind(account_id)
        .fetch_optional(&self.reader)
        .await
        .map_err(db_error)?
        .map(|row| rows::instance(&row, &self.secrets))
        .transpose()?;
        Ok(found.map(|(instance, token)| {
            self.cache.put_for_account(generation, account_id, &instance, &token);
            instance
        }))
    }

    async fn set_connection(
        &self,
        id: InstanceId,
        account: Account,
        token: SealedToken,
        state: InstanceState,
        reason: Option<String>,
        at: Timestamp,
    ) -> StoreResult<Option<Instance>> {
        self.write(|reply| Op::SetConnection { id, account, token, state, reason, at, reply }).await
    }

    async fn update_contact(
        &self,
        instance: InstanceId,
        id: &str,
        username: Option<String>,
        name: Option<String>,
        at: Timestamp,
    ) -> StoreResult<()> {
        let contact = id.to_owned();
        self.write(|reply| Op::UpdateContact { instance, contact, username, name, at, reply }).await
    }

    async fn contact(&self, instance: InstanceId, id: &str) -> StoreResult<Option<Contact>> {
        let row = query(
            "SELECT id, username, name, last_inbound_at, profile_checked_at FROM contacts \
             WHERE instance_id = ? AND id = ?",
        )
        .bind(id_value(instance))
        .bind(id)
        .fetch_optional(&self.reader)
        .await
        .map_err(db_error)?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(Contact {
            instance_id: instance,
            id: row.try_get("id").map_err(db_error)?,
            username: row.try_get("username").map_err(db_error)?,
            name: row.try_get("name").map_err(db_error)?,
            last_inbound_at: row
                .try_get::<Option<i64>, _>("last_inbound_at")
                .map_err(db_error)?
                .map(Timestamp::from_millis),
            profile_checked_at: row
                .try_get::<Option<i64>, _>("profile_checked_at")
                .map_err(db_error)?
                .map(Timestamp::from_millis),
        }))
    }

    async fn events(
        &self,
        instance: InstanceId,
        after_seq: u64,
        limit: usize,
    ) -> StoreResult<Vec<Event>> {
        query(concat!(
            "SELECT ",
            event_columns!(),
            " FROM events e WHERE e.instance_id = ? AND e.seq > ? ORDER BY e.seq LIMIT ?"
        ))
        .bind(id_value(instance))
        .bind(i64::try_from(after_seq).unwrap_or(i64::MAX))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.reader)
        .await
        .map_err(db_error)?
        .iter()
        .map(journal::event)
        .collect()
    }

    async fn latest_events(&self, instance: InstanceId, limit: usize) -> StoreResult<Vec<Event>> {
        query(concat!(
            "SELECT ",
            event_columns!(),
            " FROM events e WHERE e.instance_id = ? ORDER BY e.seq DESC LIMIT ?"
        ))
        .bind(id_value(instance))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.reader)
        .await
        .map_err(db_error)?
        .iter()
        .map(journal::event)
        .collect()
    }

    async fn backlogs(&self) -> StoreResult<Vec<Backlog>> {
        let mut backlogs = std::collections::BTreeMap::<i64, (u64, u64)>::new();
        let queued = query(
            "SELECT instance_id, COUNT(*) AS n FROM messages \
             WHERE status IN ('queued', 'sending') GROUP BY instance_id",
        )
        .fetch_all(&self.reader)
        .await
        .map_err(db_error)?;
        for row in queued {
            let n: i64 = row.try_get("n").map_err(db_error)?;
            backlogs.entry(row.try_get("instance_id").map_err(db_error)?).or_default().0 =
                u64::try_from(n).unwrap_or(0);
        }
        let pending = query(
            "SELECT instance_id, COUNT(*) AS n FROM notifications \
             WHERE state = 'pending' AND target IS NULL GROUP BY instance_id",
        )
        .fetch_all(&self.reader)
        .await
        .map_err(db_error)?;
        for row in pending {
            let n: i64 = row.try_get("n").map_err(db_error)?;
            backlogs.entry(row.try_get("instance_id").map_err(db_error)?).or_default().1 =
                u64::try_from(n).unwrap_or(0);
        }
        backlogs
            .into_iter()
            .map(|(id, (queued, pending_notifications))| {
                Ok(Backlog { instance: instance_id(id)?, queued, pending_notifications })
            })
            .collect()
    }

    async fn event(&self, instance: InstanceId, id: EventId) -> StoreResult<Option<Event>> {
        query(concat!(
            "SELECT ",
            event_columns!(),
            " FROM events e WHERE e.id = ? AND e.instance_id = ?"
        ))
        .bind(id.to_string())
        .bind(id_value(instance))
        .fetch_optional(&self.reader)
        .await
        .map_err(db_error)?
        .map(|row| journal::event(&row))
        .transpose()
    }

    async fn next_notification(&self, instance: InstanceId) -> StoreResult<Option<Notification>> {
        let row = query(concat!(
            "SELECT n.id AS receipt, ",
            event_columns!(),
            " FROM notifications n JOIN events e ON e.position = n.event_position \
             WHERE n.instance_id = ? AND n.state = 'pending' AND n.target IS NULL \
             ORDER BY n.event_seq, n.id LIMIT 1"
        ))
        .bind(id_value(instance))
        .fetch_optional(&self.reader)
        .await
        .map_err(db_error)?;
        let Some(row) = row else { return Ok(None) };
        let receipt: i64 = row.try_get("receipt").map_err(db_error)?;
        Ok(Some(Notification {
            receipt_id: u64::try_from(receipt).unwrap_or_default(),
            event: journal::event(&row)?,
        }))
    }

    async fn ack_notification(
        &self,
        instance: InstanceId,
        receipt_id: u64,
        at: Timestamp,
    ) -> StoreResult<bool> {
        let Ok(receipt) = i64::try_from(receipt_id) else { return Ok(false) };
        self.write(|reply| Op::Ack { instance, receipt, at, reply }).await
    }

    async fn pending_notifications(&self, instance: InstanceId) -> StoreResult<u64> {
        let row = query(
            "SELECT COUNT(*) AS n FROM notifications WHERE instance_id = ? AND state = 'pending' \
             AND target IS NULL",
        )
        .bind(id_value(instance))
        .fetch_one(&self.reader)
        .await
        .map_err(db_error)?;
        Ok(u64::try_from(row.try_get::<i64, _>("n").map_err(db_error)?).unwrap_or(0))
    }

    async fn work_totals(&self) -> StoreResult<WorkTotals> {
        let messages =
            query("SELECT COUNT(*) AS n FROM messages WHERE status IN ('queued', 'sending')")
                .fetch_one(&self.reader)
                .await
                .map_err(db_error)?;
        let notifications = query(
            "SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM notifications \
             WHERE state = 'pending'",
        )
        .fetch_one(&self.reader)
        .await
        .map_err(db_error)?;
        let count = |row: &super::backend::DbRow| -> StoreResult<u64> {
            Ok(u64::try_from(row.try_get::<i64, _>("n").map_err(db_error)?).unwrap_or(0))
        };
        let oldest: Option<i64> = notifications.try_get("oldest").map_err(db_error)?;
        Ok(WorkTotals {
            queued_messages: count(&messages)?,
            pending_notifications: count(&notifications)?,
            oldest_pending_notification: oldest.map(Timestamp::from_millis),
        })
    }

    async fn renotify(
        &self,
        instance: InstanceId,
        event: EventId,
        at: Timestamp,
    ) -> StoreResult<Option<u64>> {
        self.write(|reply| Op::Renotify { instance, event, at, reply }).await
    }

    async fn replay(
        &self,
        instance: InstanceId,
        from: ReplayFrom,
        at: Timestamp,
    ) -> StoreResult<u64> {
        self.write(|reply| Op::Replay { instance, from, at, reply }).await
    }

    async fn deliveries(
        &self,
        instance: InstanceId,
        state: Option<NotificationState>,
        limit: usize,
    ) -> StoreResult<Vec<Delivery>> {
        let rows = query(concat!(
            "SELECT n.id AS receipt, n.state, n.next_attempt_at, n.created_at, ",
            event_columns!(),
            " FROM notifications n JOIN events e ON e.position = n.event_position \
             WHERE n.instance_id = ? AND n.target IS NULL AND (? IS NULL OR n.state = ?) \
             ORDER BY n.id DESC LIMIT ?"
        ))
        .bind(id_value(instance))
        .bind(state.map(NotificationState::as_str))
        .bind(state.map(NotificationState::as_str))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.reader)
        .await
        .map_err(db_error)?;
        let mut deliveries = Vec::with_capacity(rows.len());
        for row in &rows {
            let receipt: i64 = row.try_get("receipt").map_err(db_error)?;
            let state = match row.try_get::<String, _>("state").map_err(db_error)?.as_str() {
                "pending" => NotificationState::Pending,
                "delivered" => NotificationState::Delivered,
                "dead" => NotificationState::Dead,
                other => {
                    return Err(StoreError::Corrupt(format!("bad notification state {other}")));
                }
            };
            let attempts = query(
                "SELECT attempt, at, url, status_code, latency_ms, error FROM delivery_attempts \
                 WHERE notification_id = ? ORDER BY attempt, id",
            )
            .bind(receipt)
            .fetch_all(&self.reader)
            .await
            .map_err(db_error)?
            .iter()
            .map(|a| {
                Ok(DeliveryAttempt {
                    attempt: u32::try_from(a.try_get::<i64, _>("attempt")?).unwrap_or(0),
                    at: Timestamp::from_millis(a.try_get("at")?),
                    url: a.try_get("url")?,
                    status_code: a
                        .try_get::<Option<i64>, _>("status_code")?
                        .and_then(|c| u16::try_from(c).ok()),
                    latency_ms: u64::try_from(a.try_get::<i64, _>("latency_ms")?).unwrap_or(0),
                    error: a.try_get("error")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(db_error)?;
            deliveries.push(Delivery {
                receipt_id: u64::try_from(receipt).unwrap_or_default(),
                event: journal::event(row)?,
                state,
                next_attempt_at: (state == NotificationState::Pending)
                    .then(|| row.try_get("next_attempt_at").map(Timestamp::from_millis))
                    .transpose()
                    .map_err(db_error)?,
                created_at: Timestamp::from_millis(row.try_get("created_at").map_err(db_error)?),
                attempts,
            });
        }
        Ok(deliveries)
    }

    async fn claim_hooks(&self, request: ClaimRequest) -> StoreResult<Vec<HookClaim>> {
        self.write(|reply| Op::ClaimHooks(request, reply)).await
    }

    async fn finish_hook(
        &self,
        claim: &HookClaim,
        owner: &WorkerId,
        attempt: DeliveryAttempt,
        finish: HookFinish,
    ) -> StoreResult<Finished> {
        let claim = Box::new(claim.clone());
        let owner = owner.clone();
        self.write(|reply| Op::FinishHook { claim, owner, attempt, finish, reply }).await
    }

    async fn next_hook_at(&self) -> StoreResult<Option<Timestamp>> {
        let row = query(
            "SELECT MIN(next) AS next FROM (\
             SELECT MIN(ready_at) AS next FROM hook_lanes WHERE ready_at IS NOT NULL \
             UNION ALL SELECT MIN(ready_at) FROM callback_lanes WHERE ready_at IS NOT NULL) AS lanes",
        )
        .fetch_one(&self.reader)
        .await
        .map_err(db_error)?;
        let next: Option<i64> = row.try_get("next").map_err(db_error)?;
        Ok(next.map(Timestamp::from_millis))
    }

    async fn purge(
        &self,
        journal_before: Timestamp,
        notifications_before: Timestamp,
        limit: usize,
    ) -> StoreResult<Purged> {
        self.write(|reply| Op::Purge { journal_before, notifications_before, limit, reply }).await
    }

    async fn partner_instances(&self) -> StoreResult<Vec<PartnerInstance>> {
        query(concat!(
            "SELECT ",
            instance_columns!(),
            ", token_sealed, deleted_at FROM instances ORDER BY created_at, id"
        ))
        .fetch_all(&self.reader)
        .await
        .map_err(db_error)?
        .iter()
        .map(|row| {
            Ok(PartnerInstance {
                instance: rows::instance(row, &self.secrets)?.0,
                token_sealed: row.try_get("token_sealed").map_err(db_error)?,
                deleted_at: row
                    .try_get::<Option<i64>, _>("deleted_at")
                    .map_err(db_error)?
                    .map(Timestamp::from_millis),
            })
        })
        .collect()
    }

    async fn chat_history(
        &self,
        instance: InstanceId,
        contact: &str,
        limit: usize,
    ) -> StoreResult<Vec<ChatEntry>> {
        let limit_i64 = i64::try_from(limit).unwrap_or(i64::MAX);
        let outgoing = query(concat!(
            "SELECT ",
            message_columns!(),
            " FROM messages WHERE instance_id = ? AND recipient_id = ? ORDER BY seq DESC LIMIT ?"
        ))
        .bind(id_value(instance))
        .bind(contact)
        .bind(limit_i64)
        .fetch_all(&self.reader)
        .await
        .map_err(db_error)?;
        let incoming = query(concat!(
            "SELECT ",
            event_columns!(),
            " FROM events e WHERE e.instance_id = ? AND e.contact_id = ? ORDER BY e.seq DESC LIMIT ?"
        ))
        .bind(id_value(instance))
        .bind(contact)
        .bind(limit_i64)
        .fetch_all(&self.reader)
        .await
        .map_err(db_error)?;
        let mut entries = Vec::with_capacity(outgoing.len() + incoming.len());
        for row in &outgoing {
            let (seq, mut message) = rows::message(row)?;
            message.transitions = self.transitions(seq).await?;
            entries.push(ChatEntry::Outgoing(message));
        }
        for row in &incoming {
            entries.push(ChatEntry::Incoming(journal::event(row)?));
        }
        entries.sort_by_key(|e| std::cmp::Reverse(e.at()));
        entries.truncate(limit);
        Ok(entries)
    }

    async fn inbound_message(
        &self,
        instance: InstanceId,
        message_id: &str,
    ) -> StoreResult<Option<Event>> {
        query(concat!(
            "SELECT ",
            event_columns!(),
            " FROM events e WHERE e.instance_id = ? AND e.dedupe_key = ?"
        ))
        .bind(id_value(instance))
        .bind(format!("message:{message_id}"))
        .fetch_optional(&self.reader)
        .await
        .map_err(db_error)?
        .map(|row| journal::event(&row))
        .transpose()
    }

    async fn events_since(
        &self,
        instance: InstanceId,
        type_name: &str,
        since: Timestamp,
        limit: usize,
    ) -> StoreResult<Vec<Event>> {
        query(concat!(
            "SELECT ",
            event_columns!(),
            " FROM events e WHERE e.instance_id = ? AND e.type = ? AND e.at >= ? ORDER BY e.seq DESC LIMIT ?"
        ))
        .bind(id_value(instance))
        .bind(type_name)
        .bind(since.as_millis())
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.reader)
        .await
        .map_err(db_error)?
        .iter()
        .map(journal::event)
        .collect()
    }

    async fn messages_since(
        &self,
        instance: InstanceId,
        since: Timestamp,
        limit: usize,
    ) -> StoreResult<Vec<OutboundMessage>> {
        let rows = query(concat!(
            "SELECT ",
            message_columns!(),
            " FROM messages WHERE instance_id = ? AND created_at >= ? ORDER BY seq DESC LIMIT ?"
        ))
        .bind(id_value(instance))
        .bind(since.as_millis())
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.reader)
        .await
        .map_err(db_error)?;
        let mut messages = Vec::with_capacity(rows.len());
        for row in &rows {
            let (seq, mut message) = rows::message(row)?;
            message.transitions = self.transitions(seq).await?;
            messages.push(message);
        }
        Ok(messages)
    }

    async fn count_messages_since(
        &self,
        instance: InstanceId,
        since: Timestamp,
    ) -> StoreResult<u64> {
        let row =
            query("SELECT COUNT(*) AS n FROM messages WHERE instance_id = ? AND created_at >= ?")
                .bind(id_value(instance))
                .bind(since.as_millis())
                .fetch_one(&self.reader)
                .await
                .map_err(db_error)?;
        Ok(u64::try_from(row.try_get::<i64, _>("n").map_err(db_error)?).unwrap_or(0))
    }

    async fn clear_notifications(&self, instance: InstanceId) -> StoreResult<u64> {
        self.write(|reply| Op::ClearNotifications { instance, reply }).await
    }

    async fn store_file(&self, file: StoredFile) -> StoreResult<()> {
        self.write(|reply| Op::StoreFile(file, reply)).await
    }

    async fn file(&self, id: &str) -> StoreResult<Option<StoredFile>> {
        let row = query(
            "SELECT id, instance_id, name, content_type, data, created_at FROM files WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.reader)
        .await
        .map_err(db_error)?;
        row.map(|row| {
            Ok(StoredFile {
                id: row.try_get("id").map_err(db_error)?,
                instance_id: rows::instance_id(row.try_get("instance_id").map_err(db_error)?)?,
                name: row.try_get("name").map_err(db_error)?,
                content_type: row.try_get("content_type").map_err(db_error)?,
                data: row.try_get("data").map_err(db_error)?,
                created_at: Timestamp::from_millis(row.try_get("created_at").map_err(db_error)?),
            })
        })
        .transpose()
    }
}
