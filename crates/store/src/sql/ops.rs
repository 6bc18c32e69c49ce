//! The changes the writer applies, each inside the batch's transaction.
//!
//! Invariant: every status change of an outbound message that a consumer
//! cares about (`sent`, `delivered`, `read`, `failed`, `expired`) and every
//! state change of an instance is journaled as an event in the same
//! transaction as the change (see [`journal::append`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chatgate_core::event::{
    EventPayload, MessageStatusChange, OutgoingApiMessage, Sender, StateChange,
};
use chatgate_core::instance::{Account, SealedToken};
use chatgate_core::message::{
    Callback, Content, MessageStatus, NewMessage, OutboundMessage, Transition,
};
use chatgate_core::store::{
    ChatRead, Claim, ClaimRequest, Enqueued, Finish, Finished, NewInstance, Receipt,
    ReceiptOutcome, StoreError, StoreResult, StoredFile, WorkerId,
};
use chatgate_core::webhook::WebhookSecret;
use chatgate_core::{
    Instance, InstanceId, InstanceState, MessageId, Recipient, Settings, Timestamp, WebhookFormat,
};

use super::backend::RowExt;

use super::backend::{DbRow, query, query_owned};
use super::journal::{self, INSERT_CHUNK, in_list, push_placeholders};
use super::push;
use super::rows::{self, db_error, id_value, instance_columns, message_columns};
use super::writer::Cx;

pub(crate) async fn create_instance(cx: &mut Cx, new: NewInstance) -> StoreResult<Instance> {
    query(
        "INSERT INTO instances (id, kind, name, token_hash, state, active, settings, created_at, \
         webhook_format, webhook_secret, account_id, account_username, token_sealed, \
         service_secret_sealed) VALUES (?, ?, ?, ?, ?, TRUE, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id_value(new.id))
    .bind(new.kind.as_str())
    .bind(&new.name)
    .bind(new.token_hash.as_str())
    .bind(new.state.as_str())
    .bind(cx.secrets.settings_json(new.id, &new.settings))
    .bind(new.created_at.as_millis())
    .bind(new.webhook_format.as_str())
    .bind(cx.secrets.seal_webhook_secret(new.id, &new.webhook_secret))
    .bind(new.account.as_ref().map(|a| a.id.clone()))
    .bind(new.account.as_ref().and_then(|a| a.username.clone()))
    .bind(&new.token_sealed)
    .bind(&new.service_secret_sealed)
    .execute(&mut cx.conn)
    .await
    .map_err(db_error)?;
    query("INSERT INTO outbound_lanes (instance_id, delay_ms, blocked) VALUES (?, ?, ?)")
        .bind(id_value(new.id))
        .bind(i64::from(new.settings.delay_send_messages_milliseconds))
        .bind(!new.state.can_send())
        .execute(&mut cx.conn)
        .await
        .map_err(db_error)?;
    query("INSERT INTO hook_lanes (instance_id, push) VALUES (?, ?)")
        .bind(id_value(new.id))
        .bind(new.settings.webhook_url.is_some())
        .execute(&mut cx.conn)
        .await
        .map_err(db_error)?;
    load_instance(cx, new.id)
        .await?
        .ok_or_else(|| StoreError::Corrupt("instance vanished after insert".into()))
}

/// The instance as the writer's transaction sees it.
pub(crate) async fn load_instance(cx: &mut Cx, id: InstanceId) -> StoreResult<Option<Instance>> {
    let row = query(concat!(
        "SELECT ",
        instance_columns!(),
        " FROM instances WHERE id = ? AND deleted_at IS NULL"
    ))
    .bind(id_value(id))
    .fetch_optional(&mut cx.conn)
    .await
    .map_err(db_error)?;
    row.map(|r| rows::instance(&r, &cx.secrets).map(|(i, _)| i)).transpose()
}

/// Replaces the instance's sealed service secret.
pub(crate) async fn replace_service_secret(
    cx: &mut Cx,
    id: InstanceId,
    sealed: String,
) -> StoreResult<bool> {
    let done =
        query("UPDATE instances SET service_secret_sealed = ? WHERE id = ? AND deleted_at IS NULL")
            .bind(sealed)
            .bind(id_value(id))
            .execute(&mut cx.conn)
            .await
            .map_err(db_error)?
            .rows_affected();
    Ok(done > 0)
}

/// Stores `candidate` as the instance's sealed service secret unless it has
/// one; returns the one it has now.
pub(crate) async fn ensure_service_secret(
    cx: &mut Cx,
    id: InstanceId,
    candidate: String,
) -> StoreResult<Option<String>> {
    query(
        "UPDATE instances SET service_secret_sealed = COALESCE(service_secret_sealed, ?) \
         WHERE id = ? AND deleted_at IS NULL",
    )
    .bind(&candidate)
    .bind(id_value(id))
    .execute(&mut cx.conn)
    .await
    .map_err(db_error)?;
    query("SELECT service_secret_sealed FROM instances WHERE id = ? AND deleted_at IS NULL")
        .bind(id_value(id))
        .fetch_optional(&mut cx.conn)
        .await
        .map_err(db_error)?
        .map(|row| row.try_get("service_secret_sealed"))
        .transpose()
        .map_err(db_error)
}

/// An instance, deleted or not (its messages' callbacks outlive it).
pub(crate) async fn load_any_instance(
    cx: &mut Cx,
    id: InstanceId,
) -> StoreResult<Option<Instance>> {
    let row = query(concat!("SELECT ", instance_columns!(), " FROM instances WHERE id = ?"))
        .bind(id_value(id))
        .fetch_optional(&mut cx.conn)
        .await
        .map_err(db_error)?;
    row.map(|r| rows::instance(&r, &cx.secrets).map(|(i, _)| i)).transpose()
}

pub(crate) async fn delete_instance(
    cx: &mut Cx,
    id: InstanceId,
    at: Timestamp,
    reason: String,
) -> StoreResult<bool> {
    if load_instance(cx, id).await?.is_none() {
        return Ok(false);
    }
    // The instance goes, so its consumers are not told of these failures;
    // but a caller that asked for a message's callback is (journaled while
    // the instance still exists, for the callback to refer to).
    // A message being sent right now may reach the platform all the same:
    // its failure says so (possibleDuplicate), as after a crash.
    let in_flight: BTreeSet<i64> =
        query("SELECT seq FROM messages WHERE instance_id = ? AND status = 'sending'")
            .bind(id_value(id))
            .fetch_all(&mut cx.conn)
            .await
            .map_err(db_error)?
            .iter()
            .map(|r| r.try_get::<i64, _>("seq"))
            .collect::<Result<_, _>>()
            .map_err(db_error)?;
    let failed = fail_pending(cx, id, Pending::QueuedOrSending, at, &reason).await?;
    let (maybe_sent, not_sent): (Vec<Brief>, Vec<Brief>) = failed
        .into_iter()
        .filter(|b| b.callback.is_some())
        .partition(|b| in_flight.contains(&b.seq));
    journal_statuses(cx, &not_sent, MessageStatus::Failed, Some(&reason), false, at).await?;
    journal_statuses(cx, &maybe_sent, MessageStatus::Failed, Some(&reason), true, at).await?;
    cx.changed.insert(id);
    query("UPDATE instances SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL")
        .bind(at.as_millis())
        .bind(id_value(id))
        .execute(&mut cx.conn)
        .await
        .map_err(db_error)?;
    for table in [
        "DELETE FROM outbound_lanes WHERE instance_id = ?",
        "DELETE FROM hook_lanes WHERE instance_id = ?",
    ] {
        query(table).bind(id_value(id)).execute(&mut cx.conn).await.map_err(db_error)?;
    }
    Ok(true)
}

/// Which pending messages [`fail_pending`] fails.
#[derive(Clone, Copy)]
enum Pending {
    Queued,
    QueuedOrSending,
}

/// The columns a status event needs, returned by updates.
macro_rules! brief_columns {
    () => {
        "seq, id, instance_id, recipient_kind, recipient_id, provider_message_id, content, callback"
    };
}

/// The recipient of a message as a contact, when the instance knows them.
async fn recipient_contact(cx: &mut Cx, brief: &Brief) -> StoreResult<Option<Sender>> {
    let Recipient::User(id) = &brief.recipient else { return Ok(None) };
    let row = query("SELECT username, name FROM contacts WHERE instance_id = ? AND id = ?")
        .bind(id_value(brief.instance))
        .bind(id)
        .fetch_optional(&mut cx.conn)
        .await
        .map_err(db_error)?;
    row.map(|row| {
        Ok(Sender {
            id: id.clone(),
            username: row.try_get("username").map_err(db_error)?,
            name: row.try_get("name").map_err(db_error)?,
        })
    })
    .transpose()
}

/// What a status event says about a message.
struct Brief {
    seq: i64,
    id: MessageId,
    instance: InstanceId,
    recipient: Recipient,
    provider_message_id: Option<String>,
    content: String,
    /// Where the caller wants status callbacks, with its references.
    callback: Option<Callback>,
}

fn brief(row: &DbRow) -> StoreResult<Brief> {
    let id: String = row.try_get("id").map_err(db_error)?;
    let kind: String = row.try_get("recipient_kind").map_err(db_error)?;
    let recipient: String = row.try_get("recipient_id").map_err(db_error)?;
    Ok(Brief {
        seq: row.try_get("seq").map_err(db_error)?,
        id: id.parse().map_err(|_| StoreError::Corrupt(format!("bad message id {id}")))?,
        instance: rows::instance_id(row.try_get("instance_id").map_err(db_error)?)?,
        recipient: if kind == "comment" {
            Recipient::Comment(recipient)
        } else {
            Recipient::User(recipient)
        },
        provider_message_id: row.try_get("provider_message_id").map_err(db_error)?,
        content: row.try_get("content").map_err(db_error)?,
        callback: row
            .try_get::<Option<String>, _>("callback")
            .map_err(db_error)?
            .and_then(|json| serde_json::from_str::<Callback>(&json).ok())
            .filter(|c| c.url.is_some()),
    })
}

async fn load_brief(cx: &mut Cx, seq: i64) -> StoreResult<Brief> {
    let row = query(concat!("SELECT ", brief_columns!(), " FROM messages WHERE seq = ?"))
        .bind(seq)
        .fetch_one(&mut cx.conn)
        .await
        .map_err(db_error)?;
    brief(&row)
}

fn status_event(
    brief: &Brief,
    contact: Option<Sender>,
    status: MessageStatus,
    failure: Option<String>,
    possible_duplicate: bool,
) -> EventPayload {
    EventPayload::MessageStatus(MessageStatusChange {
        message_id: brief.id,
        provider_message_id: brief.provider_message_id.clone(),
        to: brief.recipient.clone(),
        contact,
        status,
        failure,
        possible_duplicate,
    })
}

/// The detail of the `sending` transition of an attempt that follows one
/// cut short (the process died, or its lease ran out, mid-send).
const INTERRUPTED: &str = "sending again: the previous attempt was interrupted";
/// The start of the detail of a retry after an attempt whose outcome is
/// unknown. `was_interrupted` compares the first 43 characters (ASCII: the
/// same count on both backends).
const MAYBE_RECEIVED: &str = "the platform may have received this attempt";
const _: () = assert!(MAYBE_RECEIVED.len() == 43);

/// Whether an attempt at the message was cut short: the platform may have
/// got it then, so what this attempt sends may be a second copy.
async fn was_interrupted(cx: &mut Cx, seq: i64) -> StoreResult<bool> {
    // A prefix compared with `substr`, not `LIKE ?`: SQLite prepares a
    // statement again whenever the pattern bound to a LIKE changes, which
    // cost a preparation per run (3 % of the writer's time end to end).
    let row = query(
        "SELECT 1 AS hit FROM message_transitions \
         WHERE message_seq = ? AND (detail = ? OR substr(detail, 1, 43) = ?) LIMIT 1",
    )
    .bind(seq)
    .bind(INTERRUPTED)
    .bind(MAYBE_RECEIVED)
    .fetch_optional(&mut cx.conn)
    .await
    .map_err(db_error)?;
    Ok(row.is_some())
}

/// Journals one status event per message, grouped by instance.
async fn journal_statuses(
    cx: &mut Cx,
    briefs: &[Brief],
    status: MessageStatus,
    failure: Option<&str>,
    possible_duplicate: bool,
    at: Timestamp,
) -> StoreResult<()> {
    let mut by_instance: BTreeMap<InstanceId, Vec<(EventPayload, Option<Callback>)>> =
        BTreeMap::new();
    for b in briefs {
        let contact = recipient_contact(cx, b).await?;
        let event =
            status_event(b, contact, status, failure.map(str::to_owned), possible_duplicate);
        by_instance.entry(b.instance).or_default().push((event, b.callback.clone()));
    }
    for (instance, events) in by_instance {
        let (events, callbacks): (Vec<_>, Vec<_>) = events.into_iter().unzip();
        let ids = journal::append(cx, instance, events, at).await?;
        for (id, callback) in ids.into_iter().zip(callbacks) {
            if let (Some(id), Some(callback)) = (id, callback) {
                journal::queue_callback(cx, instance, id, &callback, at).await?;
            }
        }
    }
    Ok(())
}

/// Fails the instance's pending messages; returns them.
async fn fail_pending(
    cx: &mut Cx,
    instance: InstanceId,
    which: Pending,
    at: Timestamp,
    reason: &str,
) -> StoreResult<Vec<Brief>> {
    let sql = match which {
        Pending::QueuedOrSending => concat!(
            "UPDATE messages SET status = 'failed', failure = ?, status_at = ? \
             WHERE instance_id = ? AND status IN ('queued', 'sending') RETURNING ",
            brief_columns!()
        ),
        Pending::Queued => concat!(
            "UPDATE messages SET status = 'failed', failure = ?, status_at = ? \
             WHERE instance_id = ? AND status = 'queued' RETURNING ",
            brief_columns!()
        ),
    };
    let briefs: Vec<Brief> = query(sql)
        .bind(reason)
        .bind(at.as_millis())
        .bind(id_value(instance))
        .fetch_all(&mut cx.conn)
        .await
        .map_err(db_error)?
        .iter()
        .map(brief)
        .collect::<StoreResult<_>>()?;
    let failed = Transition { status: MessageStatus::Failed, at, detail: Some(reason.to_owned()) };
    let transitions: Vec<_> = briefs.iter().map(|b| (b.seq, failed.clone())).collect();
    insert_transitions(cx, &transitions).await?;
    Ok(briefs)
}

pub(crate) async fn update_settings(
    cx: &mut Cx,
    id: InstanceId,
    settings: Settings,
) -> StoreResult<Option<Instance>> {
    cx.changed.insert(id);
    let updated = query("UPDATE instances SET settings = ? WHERE id = ? AND deleted_at IS NULL")
        .bind(cx.secrets.settings_json(id, &settings))
        .bind(id_value(id))
        .execute(&mut cx.conn)
        .await
        .map_err(db_error)?
        .rows_affected();
    if updated == 0 {
        return Ok(None);
    }
    query("UPDATE outbound_lanes SET delay_ms = ? WHERE instance_id = ?")
        .bind(i64::from(settings.delay_send_messages_milliseconds))
        .bind(id_value(id))
        .execute(&mut cx.conn)
        .await
        .map_err(db_error)?;
    recompute_lane(cx, id, None).await?;
    push::set_push(cx, id, settings.webhook_url.is_some()).await?;
    load_instance(cx, id).await
}

pub(crate) async fn set_webhook_format(
    cx: &mut Cx,
    id: InstanceId,
    format: WebhookFormat,
) -> StoreResult<Option<Instance>> {
    cx.changed.insert(id);
    query("UPDATE instances SET webhook_format = ? WHERE id = ? AND deleted_at IS NULL")
        .bind(format.as_str())
        .bind(id_value(id))
        .execute(&mut cx.conn)
        .await
        .map_err(db_error)?;
    load_instance(cx, id).await
}

pub(crate) async fn clear_notifications(cx: &mut Cx, instance: InstanceId) -> StoreResult<u64> {
    let cleared = query(
        "DELETE FROM notifications WHERE instance_id = ? AND state = 'pending' AND target IS NULL",
    )
    .bind(id_value(instance))
    .execute(&mut cx.conn)
    .await
    .map_err(db_error)?
    .rows_affected();
    push::recompute_lane(cx, instance, None).await?;
    Ok(cleared)
}

pub(crate) async fn store_file(cx: &mut Cx, file: StoredFile) -> StoreResult<()> {
    query(
        "INSERT INTO files (id, instance_id, name, content_type, size, data, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&file.id)
    .bind(id_value(file.instance_id))
    .bind(&file.name)
    .bind(&file.content_type)
    .bind(i64::try_from(file.data.len()).unwrap_or(i64::MAX))
    .bind(&file.data)
    .bind(file.created_at.as_millis())
    .execute(&mut cx.conn)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub(crate) async fn set_connection(
    cx: &mut Cx,
    id: InstanceId,
    account: Account,
    token: SealedToken,
    state: InstanceState,
    reason: Option<String>,
    at: Timestamp,
) -> StoreResult<Option<Instance>> {
    let Some(before) = load_instance(cx, id).await? else {
        return Ok(None);
    };
    cx.changed.insert(id);
    query(
        "UPDATE instances SET account_id = ?, account_username = ?, account_business_id = ?, \
         access_token_sealed = ? WHERE id = ?",
    )
    .bind(&account.id)
    .bind(&account.username)
    .bind(&account.business_id)
    .bind(&token.0)
    .bind(id_value(id))
    .execute(&mut cx.conn)
    .await
    .map_err(db_error)?;
    change_state(cx, &before, state, reason, at).await?;
    recompute_lane(cx, id, None).await?;
    load_instance(cx, id).await
}

pub(crate) async fn update_contact(
    cx: &mut Cx,
    instance: InstanceId,
    contact: String,
    username: Option<String>,
    name: Option<String>,
    at: Timestamp,
) -> StoreResult<()> {
    query(
        "UPDATE contacts SET username = COALESCE(?, username), name = COALESCE(?, name), \
         profile_checked_at = ? WHERE instance_id = ? AND id = ?",
    )
    .bind(username)
    .bind(name)
    .bind(at.as_millis())
    .bind(id_value(instance))
    .bind(contact)
    .execute(&mut cx.conn)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub(crate) async fn rotate_webhook_secret(
    cx: &mut Cx,
    id: InstanceId,
    secret: WebhookSecret,
    previous_until: Timestamp,
) -> StoreResult<Option<Instance>> {
    cx.changed.insert(id);
    let updated = query(
        "UPDATE instances SET webhook_secret_previous = webhook_secret, \
         webhook_secret_previous_until = ?, webhook_secret = ? WHERE id = ? AND deleted_at IS NULL",
    )
    .bind(previous_until.as_millis())
    .bind(cx.secrets.seal_webhook_secret(id, &secret))
    .bind(id_value(id))
    .execute(&mut cx.conn)
    .await
    .map_err(db_error)?
    .rows_affected();
    if updated == 0 {
        return Ok(None);
    }
    load_instance(cx, id).await
}

pub(crate) async fn set_state(
    cx: &mut Cx,
    id: InstanceId,
    state: InstanceState,
    reason: Option<String>,
    at: Timestamp,
) -> StoreResult<Option<Instance>> {
    let Some(before) = load_instance(cx, id).await? else {
        return Ok(None);
    };
    change_state(cx, &before, state, reason, at).await?;
    recompute_lane(cx, id, None).await?;
    load_instance(cx, id).await
}

/// Sets an instance's state, holds or releases its queue, and journals a
/// `stateChanged` event when the state really changed.
async fn change_state(
    cx: &mut Cx,
    before: &Instance,
    state: InstanceState,
    reason: Option<String>,
    at: Timestamp,
) -> StoreResult<()> {
    cx.changed.insert(before.id);
    query("UPDATE instances SET state = ?, state_reason = ? WHERE id = ?")
        .bind(state.as_str())
        .bind(&reason)
        .bind(id_value(before.id))
        .execute(&mut cx.conn)
        .await
        .map_err(db_error)?;
    query("UPDATE outbound_lanes SET blocked = ? WHERE instance_id = ?")
        .bind(!(before.active && state.can_send()))
        .bind(id_value(before.id))
        .execute(&mut cx.conn)
        .await
        .map_err(db_error)?;
    if before.state != state {
        let event = EventPayload::StateChanged(StateChange { state, reason });
        journal::append(cx, before.id, vec![event], at).await?;
    }
    Ok(())
}

/// Re-establishes the outbound lane invariant (see the migration):
/// `ready_at` is NULL when nothing may leave, else the earliest time the
/// head may. A lane under a live lease (at `now`) is left alone; `None`
/// means "treat every lease as live".
async fn recompute_lane(cx: &mut Cx, id: InstanceId, now: Option<Timestamp>) -> StoreResult<()> {
    let Some(lane) = query(
        "SELECT blocked, delay_ms, last_attempt_at, hold_until, lease_owner, lease_until \
         FROM outbound_lanes WHERE instance_id = ?",
    )
    .bind(id_value(id))
    .fetch_optional(&mut cx.conn)
    .await
    .map_err(db_error)?
    else {
        return Ok(());
    };
    let get_i64 = |name: &str| lane.try_get::<Option<i64>, _>(name).map_err(db_error);
    let lease_owner: Option<String> = lane.try_get("lease_owner").map_err(db_error)?;
    if lease_owner.is_some() {
        let lease_until = get_i64("lease_until")?.unwrap_or(0);
        if now.is_none_or(|now| lease_until > now.as_millis()) {
            return Ok(());
        }
    }
    let blocked: bool = lane.try_get("blocked").map_err(db_error)?;
    let delay = get_i64("delay_ms")?.unwrap_or(0);
    let last = get_i64("last_attempt_at")?;
    let hold = get_i64("hold_until")?;
    let head: Option<i64> = if blocked {
        None
    } else {
        query(
            "SELECT not_before FROM messages WHERE instance_id = ? \
             AND status IN ('queued', 'sending') ORDER BY seq LIMIT 1",
        )
        .bind(id_value(id))
        .fetch_optional(&mut cx.conn)
        .await
        .map_err(db_error)?
        .map(|r| r.try_get("not_before"))
        .transpose()
        .map_err(db_error)?
    };
    let ready =
        head.map(|not_before| not_before.max(last.map_or(0, |l| l + delay)).max(hold.unwrap_or(0)));
    query(
        "UPDATE outbound_lanes SET ready_at = ?, lease_owner = NULL, lease_until = NULL \
         WHERE instance_id = ?",
    )
    .bind(ready)
    .bind(id_value(id))
    .execute(&mut cx.conn)
    .await
    .map_err(db_error)?;
    Ok(())
}

async fn insert_transitions(cx: &mut Cx, transitions: &[(i64, Transition)]) -> StoreResult<()> {
    for chunk in transitions.chunks(INSERT_CHUNK) {
        let mut sql = String::from(
            "INSERT INTO message_transitions (message_seq, status, at, detail) VALUES ",
        );
        push_placeholders(&mut sql, chunk.len(), 4);
        let mut query = query_owned(sql).persistent(false);
        for (seq, t) in chunk {
            query = query
                .bind(*seq)
                .bind(t.status.as_str())
                .bind(t.at.as_millis())
                .bind(t.detail.clone());
        }
        query.execute(&mut cx.conn).await.map_err(db_error)?;
    }
    Ok(())
}

/// Stores a run of new messages, in order: messages without an idempotency
/// key go in multi-row inserts; a keyed one first flushes what is buffered
/// so order is kept, then checks its key.
pub(crate) async fn enqueue_many(
    cx: &mut Cx,
    messages: Vec<NewMessage>,
) -> StoreResult<Vec<StoreResult<Enqueued>>> {
    let live = live_instances(cx, &messages).await?;
    let mut results: Vec<Option<StoreResult<Enqueued>>> =
        (0..messages.len()).map(|_| None).collect();
    let mut buffer: Vec<(usize, NewMessage)> = Vec::new();
    for (index, message) in messages.into_iter().enumerate() {
        if !live.contains(&message.instance_id) {
            results[index] = Some(Err(StoreError::InstanceGone));
            continue;
        }
        if let Recipient::Comment(comment) = &message.recipient {
            // One private reply per comment: checked one by one, after what
            // is buffered, so two replies in one batch are caught too.
            flush(cx, &mut buffer, &mut results).await?;
            if comment_answered(cx, message.instance_id, comment).await? {
                results[index] = Some(Ok(Enqueued::CommentAnswered));
                continue;
            }
        }
        if let Some(key) = message.idempotency_key.clone() {
            flush(cx, &mut buffer, &mut results).await?;
            if let Some((fingerprint, existing)) =
                by_idempotency_key(cx, message.instance_id, &key).await?
            {
                let same_request = fingerprint == message.request_fingerprint;
                results[index] = Some(Ok(Enqueued::Duplicate { existing, same_request }));
                continue;
            }
        }
        buffer.push((index, message));
    }
    flush(cx, &mut buffer, &mut results).await?;
    Ok(results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(StoreError::Corrupt("enqueue lost a result".into()))))
        .collect())
}

async fn comment_answered(cx: &mut Cx, instance: InstanceId, comment: &str) -> StoreResult<bool> {
    let row = query(
        "SELECT 1 FROM messages WHERE instance_id = ? AND recipient_kind = 'comment' \
         AND recipient_id = ? AND status NOT IN ('failed', 'expired')",
    )
    .bind(id_value(instance))
    .bind(comment)
    .fetch_optional(&mut cx.conn)
    .await
    .map_err(db_error)?;
    Ok(row.is_some())
}

/// Records a recipient's handle named by the caller (Getloo's `username`).
async fn remember_recipients(cx: &mut Cx, messages: &[(usize, NewMessage)]) -> StoreResult<()> {
    for (_, m) in messages {
        let (Recipient::User(id), Some(username)) = (&m.recipient, &m.recipient_username) else {
            continue;
        };
        query(
            "INSERT INTO contacts (instance_id, id, username, first_seen_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (instance_id, id) DO UPDATE SET username = excluded.username",
        )
        .bind(id_value(m.instance_id))
        .bind(id)
        .bind(username)
        .bind(m.created_at.as_millis())
        .execute(&mut cx.conn)
        .await
        .map_err(db_error)?;
    }
    Ok(())
}

async fn live_instances(cx: &mut Cx, messages: &[NewMessage]) -> StoreResult<BTreeSet<InstanceId>> {
    let wanted: Vec<InstanceId> =
        messages.iter().map(|m| m.instance_id).collect::<BTreeSet<_>>().into_iter().collect();
    let mut live = BTreeSet::new();
    for chunk in wanted.chunks(INSERT_CHUNK) {
        let sql = format!(
            "SELECT instance_id FROM outbound_lanes WHERE instance_id IN ({})",
            in_list(chunk.len())
        );
        let mut query = query_owned(sql).persistent(false);
        for id in chunk {
            query = query.bind(id_value(*id));
        }
        for row in query.fetch_all(&mut cx.conn).await.map_err(db_error)? {
            live.insert(rows::instance_id(row.try_get("instance_id").map_err(db_error)?)?);
        }
    }
    Ok(live)
}

async fn by_idempotency_key(
    cx: &mut Cx,
    instance: InstanceId,
    key: &str,
) -> StoreResult<Option<(Option<String>, OutboundMessage)>> {
    let row = query(concat!(
        "SELECT request_fingerprint, ",
        message_columns!(),
        " FROM messages WHERE instance_id = ? AND idempotency_key = ?"
    ))
    .bind(id_value(instance))
    .bind(key)
    .fetch_optional(&mut cx.conn)
    .await
    .map_err(db_error)?;
    let Some(row) = row else { return Ok(None) };
    let fingerprint: Option<String> = row.try_get("request_fingerprint").map_err(db_error)?;
    let (seq, mut message) = rows::message(&row)?;
    message.transitions = query(
        "SELECT status, at, detail FROM message_transitions WHERE message_seq = ? ORDER BY rowid",
    )
    .bind(seq)
    .fetch_all(&mut cx.conn)
    .await
    .map_err(db_error)?
    .iter()
    .map(rows::transition)
    .collect::<StoreResult<_>>()?;
    Ok(Some((fingerprint, message)))
}

/// Inserts the buffered messages (multi-row), their `queued` transitions,
/// and wakes their lanes.
async fn flush(
    cx: &mut Cx,
    buffer: &mut Vec<(usize, NewMessage)>,
    results: &mut [Option<StoreResult<Enqueued>>],
) -> StoreResult<()> {
    if buffer.is_empty() {
        return Ok(());
    }
    remember_recipients(cx, buffer).await?;
    let mut seqs: HashMap<String, i64> = HashMap::with_capacity(buffer.len());
    for chunk in buffer.chunks(INSERT_CHUNK) {
        let mut sql = String::from(
            "INSERT INTO messages (id, instance_id, recipient_kind, recipient_id, content, status, \
             not_before, idempotency_key, request_fingerprint, created_at, status_at, callback) VALUES ",
        );
        push_placeholders(&mut sql, chunk.len(), 12);
        sql.push_str(" RETURNING seq, id");
        let mut query = query_owned(sql).persistent(false);
        for (_, m) in chunk {
            let (kind, recipient) = rows::recipient_columns(&m.recipient);
            query = query
                .bind(m.id.to_string())
                .bind(id_value(m.instance_id))
                .bind(kind)
                .bind(recipient.to_owned())
                .bind(rows::content_json(&m.content))
                .bind(MessageStatus::Queued.as_str())
                .bind(m.created_at.as_millis())
                .bind(m.idempotency_key.clone())
                .bind(m.request_fingerprint.clone())
                .bind(m.created_at.as_millis())
                .bind(m.created_at.as_millis())
                .bind(m.callback.as_ref().filter(|c| !c.is_empty()).map(rows::callback_json));
        }
        // RETURNING rows come in no guaranteed order: match them by id.
        for row in query.fetch_all(&mut cx.conn).await.map_err(db_error)? {
            seqs.insert(
                row.try_get("id").map_err(db_error)?,
                row.try_get("seq").map_err(db_error)?,
            );
        }
    }
    let mut transitions = Vec::with_capacity(buffer.len());
    let mut lanes = BTreeSet::new();
    let mut now = Timestamp::EPOCH;
    for (index, m) in buffer.drain(..) {
        let seq = *seqs
            .get(&m.id.to_string())
            .ok_or_else(|| StoreError::Corrupt("inserted message has no seq".into()))?;
        let queued = Transition { status: MessageStatus::Queued, at: m.created_at, detail: None };
        transitions.push((seq, queued.clone()));
        lanes.insert(m.instance_id);
        now = now.max(m.created_at);
        results[index] = Some(Ok(Enqueued::Accepted(OutboundMessage {
            id: m.id,
            instance_id: m.instance_id,
            recipient: m.recipient,
            content: m.content,
            status: MessageStatus::Queued,
            failure: None,
            provider_message_id: None,
            attempts: 0,
            parts_sent: 0,
            transient_failures: 0,
            callback: m.callback.filter(|c| !c.is_empty()),
            idempotency_key: m.idempotency_key,
            created_at: m.created_at,
            transitions: vec![queued],
        })));
    }
    insert_transitions(cx, &transitions).await?;
    // A lane with a head already has its ready_at; an empty lane becomes
    // ready at once, or when its gap / hold since the last attempt is over.
    let lanes: Vec<InstanceId> = lanes.into_iter().collect();
    for chunk in lanes.chunks(INSERT_CHUNK) {
        let sql = format!(
            "UPDATE outbound_lanes SET ready_at = COALESCE(ready_at, \
             {}(?, COALESCE(last_attempt_at + delay_ms, 0), COALESCE(hold_until, 0))) \
             WHERE NOT blocked AND instance_id IN ({})",
            super::backend::GREATEST,
            in_list(chunk.len())
        );
        let mut query = query_owned(sql).persistent(false).bind(now.as_millis());
        for id in chunk {
            query = query.bind(id_value(*id));
        }
        query.execute(&mut cx.conn).await.map_err(db_error)?;
    }
    Ok(())
}

pub(crate) async fn clear_queue(
    cx: &mut Cx,
    instance: InstanceId,
    at: Timestamp,
    reason: String,
) -> StoreResult<u64> {
    let failed = fail_pending(cx, instance, Pending::Queued, at, &reason).await?;
    journal_statuses(cx, &failed, MessageStatus::Failed, Some(&reason), false, at).await?;
    recompute_lane(cx, instance, Some(at)).await?;
    Ok(failed.len() as u64)
}

pub(crate) async fn claim(cx: &mut Cx, request: ClaimRequest) -> StoreResult<Vec<Claim>> {
    let now = request.now.as_millis();
    // Lanes another node is claiming right now are skipped, not waited for;
    // once it commits, their lease keeps them from everyone else.
    let lanes: Vec<i64> = query_owned(format!(
        "SELECT instance_id FROM outbound_lanes WHERE ready_at IS NOT NULL AND ready_at <= ? \
         ORDER BY ready_at LIMIT ?{}",
        super::backend::LOCK
    ))
    .bind(now)
    .bind(i64::try_from(request.limit).unwrap_or(i64::MAX))
    .fetch_all(&mut cx.conn)
    .await
    .map_err(db_error)?
    .iter()
    .map(|r| r.try_get("instance_id"))
    .collect::<Result<_, _>>()
    .map_err(db_error)?;

    let mut claims = Vec::with_capacity(lanes.len());
    for lane in lanes {
        let id = rows::instance_id(lane)?;
        let Some(instance) = load_instance(cx, id).await? else {
            continue;
        };
        let Some((seq, mut message, status)) = claimable_head(cx, id, &request).await? else {
            // Nothing pending (or everything expired): the lane rests.
            recompute_lane(cx, id, Some(request.now)).await?;
            continue;
        };
        let detail = (status == "sending").then(|| INTERRUPTED.to_owned());
        query(
            "UPDATE messages SET status = 'sending', attempts = attempts + 1, status_at = ? WHERE seq = ?",
        )
        .bind(now)
        .bind(seq)
        .execute(&mut cx.conn)
        .await
        .map_err(db_error)?;
        let sending = Transition { status: MessageStatus::Sending, at: request.now, detail };
        insert_transitions(cx, &[(seq, sending)]).await?;
        query(
            "UPDATE outbound_lanes SET lease_owner = ?, lease_until = ?, ready_at = ? \
             WHERE instance_id = ?",
        )
        .bind(&request.owner.0)
        .bind(request.lease_until.as_millis())
        .bind(request.lease_until.as_millis())
        .bind(lane)
        .execute(&mut cx.conn)
        .await
        .map_err(db_error)?;
        message.status = MessageStatus::Sending;
        message.attempts += 1;
        claims.push(Claim { instance, message });
    }
    Ok(claims)
}

/// Releases every outbound, push and callback lane leased to `owner` and
/// re-establishes each lane's invariant, so the work is claimable now.
pub(crate) async fn release_leases(cx: &mut Cx, owner: WorkerId) -> StoreResult<u64> {
    let mut released = 0;
    let lanes = query("SELECT instance_id FROM outbound_lanes WHERE lease_owner = ?")
        .bind(&owner.0)
        .fetch_all(&mut cx.conn)
        .await
        .map_err(db_error)?;
    for lane in lanes {
        let id = rows::instance_id(lane.try_get("instance_id").map_err(db_error)?)?;
        query(
            "UPDATE outbound_lanes SET lease_owner = NULL, lease_until = NULL \
             WHERE instance_id = ?",
        )
        .bind(id_value(id))
        .execute(&mut cx.conn)
        .await
        .map_err(db_error)?;
        recompute_lane(cx, id, None).await?;
        released += 1;
    }
    let lanes = query("SELECT instance_id FROM hook_lanes WHERE lease_owner = ?")
        .bind(&owner.0)
        .fetch_all(&mut cx.conn)
        .await
        .map_err(db_error)?;
    for lane in lanes {
        let id = rows::instance_id(lane.try_get("instance_id").map_err(db_error)?)?;
        query("UPDATE hook_lanes SET lease_owner = NULL, lease_until = NULL WHERE instance_id = ?")
            .bind(id_value(id))
            .execute(&mut cx.conn)
            .await
            .map_err(db_error)?;
        push::recompute_lane(cx, id, None).await?;
        released += 1;
    }
    let lanes = query("SELECT instance_id, target FROM callback_lanes WHERE lease_owner = ?")
        .bind(&owner.0)
        .fetch_all(&mut cx.conn)
        .await
        .map_err(db_error)?;
    for lane in lanes {
        let id = rows::instance_id(lane.try_get("instance_id").map_err(db_error)?)?;
        let target: String = lane.try_get("target").map_err(db_error)?;
        query(
            "UPDATE callback_lanes SET lease_owner = NULL, lease_until = NULL \
             WHERE instance_id = ? AND target = ?",
        )
        .bind(id_value(id))
        .bind(&target)
        .execute(&mut cx.conn)
        .await
        .map_err(db_error)?;
        push::recompute_callback_lane(cx, id, &target, None).await?;
        released += 1;
    }
    Ok(released)
}

/// The instance's oldest pending message, expiring the queued ones that are
/// too old on the way. Returns its seq, the message and its stored status.
async fn claimable_head(
    cx: &mut Cx,
    id: InstanceId,
    request: &ClaimRequest,
) -> StoreResult<Option<(i64, OutboundMessage, String)>> {
    loop {
        let Some(row) = query(concat!(
            "SELECT ",
            message_columns!(),
            " FROM messages WHERE instance_id = ? AND status IN ('queued', 'sending') \
             ORDER BY seq LIMIT 1"
        ))
        .bind(id_value(id))
        .fetch_optional(&mut cx.conn)
        .await
        .map_err(db_error)?
        else {
            return Ok(None);
        };
        let (seq, message) = rows::message(&row)?;
        let status: String = row.try_get("status").map_err(db_error)?;
        if status == "queued" && message.created_at < request.expire_created_before {
            expire_one(cx, seq, request.now).await?;
            continue;
        }
        return Ok(Some((seq, message, status)));
    }
}

const EXPIRED_REASON: &str = "waited in the queue longer than the message lifetime";

async fn expire_one(cx: &mut Cx, seq: i64, at: Timestamp) -> StoreResult<()> {
    query("UPDATE messages SET status = 'expired', failure = ?, status_at = ? WHERE seq = ?")
        .bind(EXPIRED_REASON)
        .bind(at.as_millis())
        .bind(seq)
        .execute(&mut cx.conn)
        .await
        .map_err(db_error)?;
    let t = Transition { status: MessageStatus::Expired, at, detail: Some(EXPIRED_REASON.into()) };
    insert_transitions(cx, &[(seq, t)]).await?;
    let brief = load_brief(cx, seq).await?;
    journal_statuses(cx, &[brief], MessageStatus::Expired, Some(EXPIRED_REASON), false, at).await
}

pub(crate) async fn finish(
    cx: &mut Cx,
    claim: Box<Claim>,
    owner: WorkerId,
    finish: Finish,
    parts: Vec<String>,
    at: Timestamp,
) -> StoreResult<Finished> {
    let instance = claim.instance.id;
    // The lease is ours only if the lane is still leased to us and the
    // message is still in the attempt we claimed.
    let row = query(
        "SELECT m.seq FROM messages m JOIN outbound_lanes l ON l.instance_id = m.instance_id \
         WHERE m.id = ? AND m.status = 'sending' AND m.attempts = ? AND l.lease_owner = ?",
    )
    .bind(claim.message.id.to_string())
    .bind(i64::from(claim.message.attempts))
    .bind(&owner.0)
    .fetch_optional(&mut cx.conn)
    .await
    .map_err(db_error)?;
    let Some(row) = row else {
        return Ok(Finished::LeaseLost);
    };
    let seq: i64 = row.try_get("seq").map_err(db_error)?;
    let parts_before = i64::from(claim.message.parts_sent);
    for (offset, provider_id) in parts.iter().enumerate() {
        query(
            "INSERT INTO message_parts (message_seq, idx, instance_id, provider_message_id) \
             VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(seq)
        .bind(parts_before + i64::try_from(offset).unwrap_or(i64::MAX))
        .bind(id_value(instance))
        .bind(provider_id)
        .execute(&mut cx.conn)
        .await
        .map_err(db_error)?;
    }
    let parts_total = parts_before + i64::try_from(parts.len()).unwrap_or(0);
    if !parts.is_empty() {
        query("UPDATE messages SET parts_sent = ? WHERE seq = ?")
            .bind(parts_total)
            .bind(seq)
            .execute(&mut cx.conn)
            .await
            .map_err(db_error)?;
    }
    // A message that fails after some of its parts went out says so.
    let finish = match finish {
        Finish::Failed { reason } if parts_total > 0 => Finish::Failed {
            reason: format!(
                "{reason} ({parts_total} part(s) of the message were delivered before)"
            ),
        },
        other => other,
    };
    let mut hold_until = None;
    let mut block = false;
    let transition = match finish {
        Finish::Sent { provider_message_id, simulated_receipts } => {
            query(
                "UPDATE messages SET status = 'sent', provider_message_id = ?, status_at = ? WHERE seq = ?",
            )
            .bind(&provider_message_id)
            .bind(at.as_millis())
            .bind(seq)
            .execute(&mut cx.conn)
            .await
            .map_err(db_error)?;
            for (status, due) in simulated_receipts {
                query(
                    "INSERT INTO simulated_receipts (message_seq, status, due_at) VALUES (?, ?, ?)",
                )
                .bind(seq)
                .bind(status.as_str())
                .bind(due.as_millis())
                .execute(&mut cx.conn)
                .await
                .map_err(db_error)?;
            }
            let brief = load_brief(cx, seq).await?;
            let possible_duplicate = was_interrupted(cx, seq).await?;
            let content: Content = serde_json::from_str(&brief.content)
                .map_err(|e| StoreError::Corrupt(format!("bad content: {e}")))?;
            let contact = recipient_contact(cx, &brief).await?;
            let events = vec![
                EventPayload::OutgoingApiMessage(OutgoingApiMessage {
                    message_id: brief.id,
                    provider_message_id: brief.provider_message_id.clone(),
                    to: brief.recipient.clone(),
                    contact: contact.clone(),
                    content,
                }),
                status_event(&brief, contact, MessageStatus::Sent, None, possible_duplicate),
            ];
            let ids = journal::append(cx, instance, events, at).await?;
            if let (Some(Some(status)), Some(callback)) = (ids.get(1), &brief.callback) {
                journal::queue_callback(cx, instance, *status, callback, at).await?;
            }
            Transition { status: MessageStatus::Sent, at, detail: None }
        }
        Finish::Retry { not_before, hold_instance_until, detail, transient, uncertain } => {
            query(
                "UPDATE messages SET status = 'queued', not_before = ?, status_at = ?, \
                 transient_failures = transient_failures + ? WHERE seq = ?",
            )
            .bind(not_before.as_millis())
            .bind(at.as_millis())
            .bind(i64::from(transient))
            .bind(seq)
            .execute(&mut cx.conn)
            .await
            .map_err(db_error)?;
            hold_until = hold_instance_until;
            // The marker `was_interrupted` finds: the next outcome is then
            // flagged as a possible duplicate.
            let detail = if uncertain { format!("{MAYBE_RECEIVED} ({detail})") } else { detail };
            Transition { status: MessageStatus::Queued, at, detail: Some(detail) }
        }
        Finish::Failed { reason } => {
            query(
                "UPDATE messages SET status = 'failed', failure = ?, status_at = ? WHERE seq = ?",
            )
            .bind(&reason)
            .bind(at.as_millis())
            .bind(seq)
            .execute(&mut cx.conn)
            .await
            .map_err(db_error)?;
            let brief = load_brief(cx, seq).await?;
            let possible_duplicate = was_interrupted(cx, seq).await?;
            journal_statuses(
                cx,
                &[brief],
                MessageStatus::Failed,
                Some(&reason),
                possible_duplicate,
                at,
            )
            .await?;
            Transition { status: MessageStatus::Failed, at, detail: Some(reason) }
        }
        Finish::Unauthorized { reason } => {
            query("UPDATE messages SET status = 'queued', status_at = ? WHERE seq = ?")
                .bind(at.as_millis())
                .bind(seq)
                .execute(&mut cx.conn)
                .await
                .map_err(db_error)?;
            let current = load_instance(cx, instance).await?.unwrap_or(claim.instance.clone());
            // A connection made while the send was in flight is not undone
            // by the refusal of the credentials it replaced.
            let reconnected = current.access_token != claim.instance.access_token;
            if !reconnected {
                change_state(cx, &current, InstanceState::NotAuthorized, Some(reason.clone()), at)
                    .await?;
                block = true;
            }
            Transition {
                status: MessageStatus::Queued,
                at,
                detail: Some(if reconnected {
                    format!(
                        "the platform rejected the credentials this attempt used ({reason}); \
                         the instance was connected again since, so it is sent with the new ones"
                    )
                } else {
                    format!("held: the platform rejected the instance's credentials: {reason}")
                }),
            }
        }
    };
    insert_transitions(cx, &[(seq, transition)]).await?;
    query(
        "UPDATE outbound_lanes SET last_attempt_at = ?, \
         hold_until = COALESCE(?, hold_until), blocked = blocked OR ?, \
         lease_owner = NULL, lease_until = NULL WHERE instance_id = ?",
    )
    .bind(at.as_millis())
    .bind(hold_until.map(Timestamp::as_millis))
    .bind(block)
    .bind(id_value(instance))
    .execute(&mut cx.conn)
    .await
    .map_err(db_error)?;
    recompute_lane(cx, instance, Some(at)).await?;
    Ok(Finished::Applied)
}

pub(crate) async fn expire(
    cx: &mut Cx,
    created_before: Timestamp,
    at: Timestamp,
) -> StoreResult<u64> {
    let briefs: Vec<Brief> = query(concat!(
        "UPDATE messages SET status = 'expired', failure = ?, status_at = ? \
         WHERE status = 'queued' AND created_at < ? RETURNING ",
        brief_columns!()
    ))
    .bind(EXPIRED_REASON)
    .bind(at.as_millis())
    .bind(created_before.as_millis())
    .fetch_all(&mut cx.conn)
    .await
    .map_err(db_error)?
    .iter()
    .map(brief)
    .collect::<StoreResult<_>>()?;
    let expired =
        Transition { status: MessageStatus::Expired, at, detail: Some(EXPIRED_REASON.into()) };
    let transitions: Vec<_> = briefs.iter().map(|b| (b.seq, expired.clone())).collect();
    insert_transitions(cx, &transitions).await?;
    journal_statuses(cx, &briefs, MessageStatus::Expired, Some(EXPIRED_REASON), false, at).await?;
    let lanes: BTreeSet<InstanceId> = briefs.iter().map(|b| b.instance).collect();
    for lane in lanes {
        recompute_lane(cx, lane, Some(at)).await?;
    }
    Ok(briefs.len() as u64)
}

pub(crate) async fn receipt(cx: &mut Cx, receipt: Receipt) -> StoreResult<ReceiptOutcome> {
    // Any part's id finds its message (a message may take several calls).
    let row = query(
        "SELECT seq, status FROM messages WHERE instance_id = ?1 AND provider_message_id = ?2 \
         UNION ALL SELECT m.seq, m.status FROM message_parts p JOIN messages m ON m.seq = p.message_seq \
         WHERE p.instance_id = ?1 AND p.provider_message_id = ?2 LIMIT 1",
    )
    .bind(id_value(receipt.instance_id))
    .bind(&receipt.provider_message_id)
    .fetch_optional(&mut cx.conn)
    .await
    .map_err(db_error)?;
    let Some(row) = row else {
        return Ok(ReceiptOutcome::Unknown);
    };
    let seq: i64 = row.try_get("seq").map_err(db_error)?;
    let status: String = row.try_get("status").map_err(db_error)?;
    if receipt.status == MessageStatus::Read {
        // A person who read a message has read the ones before it in the
        // chat too (Meta reports only the newest read mid).
        let earlier = query(
            "SELECT e.seq, e.status FROM messages e JOIN messages m ON m.seq = ? \
             WHERE e.instance_id = m.instance_id AND e.recipient_kind = m.recipient_kind \
             AND e.recipient_id = m.recipient_id AND e.seq < m.seq \
             AND e.status IN ('sent', 'delivered') ORDER BY e.seq DESC LIMIT 1000",
        )
        .bind(seq)
        .fetch_all(&mut cx.conn)
        .await
        .map_err(db_error)?;
        for row in earlier {
            let earlier_seq: i64 = row.try_get("seq").map_err(db_error)?;
            let earlier_status: String = row.try_get("status").map_err(db_error)?;
            advance(
                cx,
                earlier_seq,
                rows::status(&earlier_status)?,
                MessageStatus::Read,
                receipt.at,
                None,
            )
            .await?;
        }
    }
    advance(cx, seq, rows::status(&status)?, receipt.status, receipt.at, receipt.detail).await
}

/// Marks chats read: for each read, the message it names and the earlier
/// ones of its chat, or (naming none of ours) the contact's messages sent
/// up to its time. Newest first, at most 1000 per read.
pub(crate) async fn chat_reads(cx: &mut Cx, reads: Vec<ChatRead>) -> StoreResult<usize> {
    let mut moved = 0;
    for read in reads {
        let named = match &read.provider_message_id {
            Some(mid) => query(
                "SELECT seq FROM messages WHERE instance_id = ?1 AND provider_message_id = ?2 \
                 UNION ALL SELECT message_seq AS seq FROM message_parts \
                 WHERE instance_id = ?1 AND provider_message_id = ?2 LIMIT 1",
            )
            .bind(id_value(read.instance_id))
            .bind(mid)
            .fetch_optional(&mut cx.conn)
            .await
            .map_err(db_error)?
            .map(|row| row.try_get::<i64, _>("seq"))
            .transpose()
            .map_err(db_error)?,
            None => None,
        };
        let unread = match (named, &read.contact) {
            (Some(seq), _) => {
                query(
                    "SELECT e.seq, e.status FROM messages e JOIN messages m ON m.seq = ? \
                     WHERE e.instance_id = m.instance_id AND e.recipient_kind = m.recipient_kind \
                     AND e.recipient_id = m.recipient_id AND e.seq <= m.seq \
                     AND e.status IN ('sent', 'delivered') ORDER BY e.seq DESC LIMIT 1000",
                )
                .bind(seq)
                .fetch_all(&mut cx.conn)
                .await
            }
            (None, Some(contact)) => {
                query(
                    "SELECT seq, status FROM messages WHERE instance_id = ? \
                     AND recipient_kind = 'user' AND recipient_id = ? \
                     AND status IN ('sent', 'delivered') AND status_at <= ? \
                     ORDER BY seq DESC LIMIT 1000",
                )
                .bind(id_value(read.instance_id))
                .bind(contact)
                .bind(read.up_to.as_millis())
                .fetch_all(&mut cx.conn)
                .await
            }
            (None, None) => Ok(Vec::new()),
        }
        .map_err(db_error)?;
        for row in unread {
            let seq: i64 = row.try_get("seq").map_err(db_error)?;
            let status: String = row.try_get("status").map_err(db_error)?;
            let outcome =
                advance(cx, seq, rows::status(&status)?, MessageStatus::Read, read.at, None)
                    .await?;
            if outcome == ReceiptOutcome::Applied {
                moved += 1;
            }
        }
    }
    Ok(moved)
}

/// Moves a sent message forward by a receipt, if the machine allows it.
async fn advance(
    cx: &mut Cx,
    seq: i64,
    current: MessageStatus,
    next: MessageStatus,
    at: Timestamp,
    detail: Option<String>,
) -> StoreResult<ReceiptOutcome> {
    if !current.can_become(next)
        || !matches!(current, MessageStatus::Sent | MessageStatus::Delivered)
    {
        return Ok(ReceiptOutcome::Stale);
    }
    let failure = (next == MessageStatus::Failed).then(|| detail.clone()).flatten();
    query(
        "UPDATE messages SET status = ?, status_at = ?, failure = COALESCE(?, failure) WHERE seq = ?",
    )
    .bind(next.as_str())
    .bind(at.as_millis())
    .bind(&failure)
    .bind(seq)
    .execute(&mut cx.conn)
    .await
    .map_err(db_error)?;
    insert_transitions(cx, &[(seq, Transition { status: next, at, detail })]).await?;
    let brief = load_brief(cx, seq).await?;
    journal_statuses(cx, &[brief], next, failure.as_deref(), false, at).await?;
    Ok(ReceiptOutcome::Applied)
}

pub(crate) async fn apply_due_receipts(
    cx: &mut Cx,
    now: Timestamp,
    limit: usize,
) -> StoreResult<usize> {
    // Other nodes skip the receipts (and messages) this one takes.
    let due = query_owned(format!(
        "SELECT r.id, r.message_seq, r.status AS next, r.due_at, m.status AS current \
         FROM simulated_receipts r JOIN messages m ON m.seq = r.message_seq \
         WHERE r.due_at <= ? ORDER BY r.due_at, r.id LIMIT ?{}",
        super::backend::LOCK
    ))
    .bind(now.as_millis())
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(&mut cx.conn)
    .await
    .map_err(db_error)?;
    let mut taken = Vec::with_capacity(due.len());
    // Within one message the receipts are applied in due order, so the
    // status read from the row must be tracked as it changes.
    let mut statuses: HashMap<i64, MessageStatus> = HashMap::new();
    for row in &due {
        let id: i64 = row.try_get("id").map_err(db_error)?;
        let seq: i64 = row.try_get("message_seq").map_err(db_error)?;
        let next = rows::status(&row.try_get::<String, _>("next").map_err(db_error)?)?;
        let stored = rows::status(&row.try_get::<String, _>("current").map_err(db_error)?)?;
        let due_at = Timestamp::from_millis(row.try_get("due_at").map_err(db_error)?);
        let current = *statuses.entry(seq).or_insert(stored);
        if advance(cx, seq, current, next, due_at, None).await? == ReceiptOutcome::Applied {
            statuses.insert(seq, next);
            // Only the sandbox promises receipts.
            metrics::counter!(
                chatgate_core::metrics::MESSAGES,
                "status" => next.as_str(),
                "connector" => "sandbox"
            )
            .increment(1);
        }
        taken.push(id);
    }
    for chunk in taken.chunks(INSERT_CHUNK) {
        let sql = format!("DELETE FROM simulated_receipts WHERE id IN ({})", in_list(chunk.len()));
        let mut query = query_owned(sql).persistent(false);
        for id in chunk {
            query = query.bind(*id);
        }
        query.execute(&mut cx.conn).await.map_err(db_error)?;
    }
    Ok(taken.len())
}
