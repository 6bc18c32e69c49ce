//! The journal: appending events (with their notifications) inside the
//! transaction of the change that caused them, and the pull side of the
//! notification queue.

use std::collections::{BTreeSet, HashMap};

use super::backend::RowExt;
use chatgate_core::event::{EventId, EventPayload, Inbound, OutgoingMessage, Sender};
use chatgate_core::message::{Body, Callback, Content};
use chatgate_core::store::{Ingested, ReplayFrom, StoreError, StoreResult};
use chatgate_core::{InstanceId, Settings, Timestamp};

use super::backend::{Conn, DbRow, query, query_owned};
use super::rows::{self, db_error, id_value};
use super::writer::Cx;

/// Rows per multi-row insert (SQLite allows 32 766 bound values).
pub(crate) const INSERT_CHUNK: usize = 400;

/// Items per statement built in [`shaped`] sizes: at most this many rows
/// of an insert or items of an `IN` list.
pub(crate) const SHAPED_CHUNK: usize = 256;

/// `(?, ?, …), (?, ?, …)` for a multi-row insert.
pub(crate) fn push_placeholders(sql: &mut String, rows: usize, columns: usize) {
    let row = format!("({})", vec!["?"; columns].join(", "));
    for i in 0..rows {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&row);
    }
}

/// `WITH wanted (instance_id, key) AS (VALUES (?, ?), …) ` for `pairs`
/// `(instance, key)` pairs, to join with the table a lookup reads: one
/// index probe a pair. (`instance_id IN (…) AND key IN (…)` probes every
/// combination of the two lists: 160 000 probes for a batch of 400 events
/// of 400 instances, 17 ms a batch when the push benchmark built its
/// backlog.)
fn wanted_pairs(pairs: usize) -> String {
    let mut sql = String::from("WITH wanted (instance_id, key) AS (VALUES ");
    push_placeholders(&mut sql, pairs, 2);
    sql.push_str(") ");
    sql
}

/// Whether statements built at run time come in a few fixed sizes, kept
/// prepared ([`shaped`]): on SQLite, not on PostgreSQL (the backends' own
/// `SHAPES_STATEMENTS` say why). Such statements are marked
/// `persistent(SHAPED)`.
pub(crate) const SHAPED: bool = super::backend::SHAPES_STATEMENTS;

/// How many items a statement built at run time for `n` items is made for:
/// on SQLite the next power of two, else `n`. Such statements come in these
/// few sizes, padded by repeating their last item (harmless in an `IN`
/// list, a `CASE` or a lookup), or, for inserts, run in chunks of these
/// sizes ([`shaped_chunks`]); they are marked `persistent(SHAPED)`, so
/// SQLite's writer keeps each size prepared. Prepared anew at each run,
/// statements of hundreds of parameters took an eighth of the writer's
/// time while the push benchmark drained its backlog.
pub(crate) fn shaped(n: usize) -> usize {
    if SHAPED { n.max(1).next_power_of_two() } else { n }
}

/// `items`, then its last item again until there are [`shaped`]`(len)`.
pub(crate) fn padded<T>(items: &[T]) -> impl Iterator<Item = &T> {
    let extra = shaped(items.len()) - items.len();
    items.iter().chain(items.last().into_iter().cycle().take(extra))
}

/// `?, ?, ?` for an `IN (…)` list of `n` items padded to [`shaped`]`(n)`:
/// bind them with [`padded`].
pub(crate) fn shaped_in_list(n: usize) -> String {
    in_list(shaped(n))
}

/// `items` in consecutive chunks of at most `max` (a power of two): the
/// rows of multi-row inserts. On SQLite ([`SHAPED`]) each chunk's length is
/// a power of two, so each statement has one of a few sizes: 100 rows go
/// as 64, 32 and 4.
pub(crate) fn shaped_chunks<T>(mut items: &[T], max: usize) -> impl Iterator<Item = &[T]> {
    debug_assert!(max.is_power_of_two());
    std::iter::from_fn(move || {
        if items.is_empty() {
            return None;
        }
        let len = match items.len() >= max {
            true => max,
            false if SHAPED => 1 << items.len().ilog2(),
            false => items.len(),
        };
        let (chunk, rest) = items.split_at(len);
        items = rest;
        Some(chunk)
    })
}

/// `?, ?, ?` for an `IN (…)` list.
pub(crate) fn in_list(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// Appends events of one instance. Events whose platform id was journaled
/// before (or earlier in the same list) are skipped as duplicates. Every
/// event the instance's switches allow is queued as a notification, and the
/// instance is marked for a wake-up after the commit. Returns, per input,
/// the new event's id or `None` for a duplicate. Events for a deleted
/// instance are dropped.
pub(crate) async fn append(
    cx: &mut Cx,
    instance: InstanceId,
    events: Vec<EventPayload>,
    at: Timestamp,
) -> StoreResult<Vec<Option<EventId>>> {
    let events = events
        .into_iter()
        .map(|payload| {
            let key = payload.dedupe_key();
            (payload, at, key)
        })
        .collect();
    append_occurred(cx, instance, events, at).await
}

/// One event to append: the payload, when it happened (its journal time),
/// and its dedupe key.
pub(crate) type Timed = (EventPayload, Timestamp, Option<String>);

/// Like [`append`], each event with the time it happened (its journal
/// time) and its dedupe key; notifications are queued at `now`.
pub(crate) async fn append_occurred(
    cx: &mut Cx,
    instance: InstanceId,
    events: Vec<Timed>,
    now: Timestamp,
) -> StoreResult<Vec<Option<EventId>>> {
    Ok(append_many(cx, vec![(instance, events)], now).await?.pop().unwrap_or_default())
}

/// Appends the events of many instances at once: a few statements for the
/// whole batch (multi-row inserts, `IN` lookups), whatever its size. Per
/// instance, as [`append`]: duplicates skipped, notifications queued as its
/// switches allow, nothing for a deleted instance. Returns per instance,
/// per event, the new event's id or `None`.
pub(crate) async fn append_many(
    cx: &mut Cx,
    batch: Vec<(InstanceId, Vec<Timed>)>,
    now: Timestamp,
) -> StoreResult<Vec<Vec<Option<EventId>>>> {
    let mut instances: Vec<i64> = batch.iter().map(|(id, _)| id_value(*id)).collect();
    instances.sort_unstable();
    instances.dedup();
    // Each live instance's switches and last sequence number.
    let mut state: HashMap<i64, (Settings, i64)> = HashMap::new();
    for chunk in instances.chunks(SHAPED_CHUNK) {
        let sql = format!(
            "SELECT id, settings, last_event_seq FROM instances \
             WHERE deleted_at IS NULL AND id IN ({})",
            shaped_in_list(chunk.len())
        );
        let mut query = query_owned(sql).persistent(SHAPED);
        for id in padded(chunk) {
            query = query.bind(*id);
        }
        for row in query.fetch_all(&mut cx.conn).await.map_err(db_error)? {
            let settings: Settings =
                serde_json::from_str(&row.try_get::<String, _>("settings").map_err(db_error)?)
                    .map_err(|e| StoreError::Corrupt(format!("bad settings: {e}")))?;
            let seq: i64 = row.try_get("last_event_seq").map_err(db_error)?;
            state.insert(row.try_get("id").map_err(db_error)?, (settings, seq));
        }
    }
    // Dedupe keys the journals already hold.
    let wanted: Vec<(i64, &str)> = batch
        .iter()
        .filter(|(id, _)| state.contains_key(&id_value(*id)))
        .flat_map(|(id, events)| {
            events.iter().filter_map(|(_, _, key)| Some((id_value(*id), key.as_deref()?)))
        })
        .collect();
    let mut seen = known_keys(&mut cx.conn, &wanted).await?;

    struct Row {
        id: EventId,
        instance: InstanceId,
        seq: i64,
        payload: String,
        kind: &'static str,
        category: &'static str,
        notify: bool,
        key: Option<String>,
        contact: Option<String>,
        occurred_at: Timestamp,
    }
    let mut rows_out = Vec::new();
    let mut results: Vec<Vec<Option<EventId>>> = Vec::with_capacity(batch.len());
    for (instance, events) in &batch {
        let mut ids = vec![None; events.len()];
        if let Some((settings, seq)) = state.get_mut(&id_value(*instance)) {
            for (index, (event, occurred_at, key)) in events.iter().enumerate() {
                if let Some(key) = key
                    && !seen.insert((id_value(*instance), key.clone()))
                {
                    continue;
                }
                *seq += 1;
                let id = EventId::generate();
                ids[index] = Some(id);
                rows_out.push(Row {
                    id,
                    instance: *instance,
                    seq: *seq,
                    payload: serde_json::to_string(event)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    kind: event.type_name(),
                    category: event.category().as_str(),
                    notify: event.category().allowed_by(settings),
                    key: key.clone(),
                    contact: event.sender().map(|s| s.id.clone()),
                    occurred_at: *occurred_at,
                });
            }
        }
        results.push(ids);
    }
    if rows_out.is_empty() {
        return Ok(results);
    }

    let mut positions: HashMap<String, i64> = HashMap::with_capacity(rows_out.len());
    for chunk in shaped_chunks(&rows_out, SHAPED_CHUNK) {
        let mut sql = String::from(
            "INSERT INTO events (id, instance_id, seq, type, category, payload, dedupe_key, at, contact_id) VALUES ",
        );
        push_placeholders(&mut sql, chunk.len(), 9);
        sql.push_str(" RETURNING position, id");
        let mut query = query_owned(sql).persistent(SHAPED);
        for r in chunk {
            query = query
                .bind(r.id.to_string())
                .bind(id_value(r.instance))
                .bind(r.seq)
                .bind(r.kind)
                .bind(r.category)
                .bind(r.payload.clone())
                .bind(r.key.clone())
                .bind(r.occurred_at.as_millis())
                .bind(r.contact.clone());
        }
        // RETURNING rows come in no guaranteed order: match them by id.
        for row in query.fetch_all(&mut cx.conn).await.map_err(db_error)? {
            positions.insert(
                row.try_get("id").map_err(db_error)?,
                row.try_get("position").map_err(db_error)?,
            );
        }
    }
    // Each instance's new last sequence number, in one statement a chunk.
    let last: Vec<(i64, i64)> = state.iter().map(|(id, (_, seq))| (*id, *seq)).collect();
    for chunk in last.chunks(SHAPED_CHUNK / 2) {
        let cases = vec!["WHEN ? THEN ?"; shaped(chunk.len())].join(" ");
        let sql = format!(
            "UPDATE instances SET last_event_seq = CASE id {cases} ELSE last_event_seq END \
             WHERE id IN ({})",
            shaped_in_list(chunk.len())
        );
        let mut query = query_owned(sql).persistent(SHAPED);
        for (id, seq) in padded(chunk) {
            query = query.bind(*id).bind(*seq);
        }
        for (id, _) in padded(chunk) {
            query = query.bind(*id);
        }
        query.execute(&mut cx.conn).await.map_err(db_error)?;
    }

    let queued: Vec<(InstanceId, i64, i64)> = rows_out
        .iter()
        .filter(|r| r.notify)
        .map(|r| (r.instance, positions.get(&r.id.to_string()).copied().unwrap_or_default(), r.seq))
        .collect();
    queue_notifications_many(cx, &queued, now).await?;
    Ok(results)
}

/// The `(instance, dedupe key)` pairs among `wanted` the journals already
/// hold.
async fn known_keys(
    conn: &mut Conn,
    wanted: &[(i64, &str)],
) -> StoreResult<BTreeSet<(i64, String)>> {
    let mut known = BTreeSet::new();
    for chunk in wanted.chunks(SHAPED_CHUNK) {
        let sql = wanted_pairs(shaped(chunk.len()))
            + "SELECT e.instance_id, e.dedupe_key FROM wanted w JOIN events e \
               ON e.instance_id = w.instance_id AND e.dedupe_key = w.key \
               WHERE e.dedupe_key IS NOT NULL";
        let mut query = query_owned(sql).persistent(SHAPED);
        for (instance, key) in padded(chunk) {
            query = query.bind(*instance).bind(*key);
        }
        for row in query.fetch_all(&mut *conn).await.map_err(db_error)? {
            known.insert((
                row.try_get("instance_id").map_err(db_error)?,
                row.try_get("dedupe_key").map_err(db_error)?,
            ));
        }
    }
    Ok(known)
}

/// Queues notifications of journaled events `(position, seq)` and wakes the
/// instance's push lane.
pub(crate) async fn queue_notifications(
    cx: &mut Cx,
    instance: InstanceId,
    events: &[(i64, i64)],
    at: Timestamp,
) -> StoreResult<()> {
    let events: Vec<(InstanceId, i64, i64)> =
        events.iter().map(|(position, seq)| (instance, *position, *seq)).collect();
    queue_notifications_many(cx, &events, at).await
}

/// Queues notifications of journaled events `(instance, position, seq)` of
/// many instances and wakes their push lanes.
pub(crate) async fn queue_notifications_many(
    cx: &mut Cx,
    events: &[(InstanceId, i64, i64)],
    at: Timestamp,
) -> StoreResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    for chunk in shaped_chunks(events, SHAPED_CHUNK) {
        let mut sql = String::from(
            "INSERT INTO notifications (instance_id, event_position, event_seq, state, next_attempt_at, created_at) VALUES ",
        );
        push_placeholders(&mut sql, chunk.len(), 6);
        let mut query = query_owned(sql).persistent(SHAPED);
        for (instance, position, seq) in chunk {
            query = query
                .bind(id_value(*instance))
                .bind(*position)
                .bind(*seq)
                .bind("pending")
                .bind(at.as_millis())
                .bind(at.as_millis());
        }
        query.execute(&mut cx.conn).await.map_err(db_error)?;
    }
    let mut instances: Vec<i64> = events.iter().map(|(id, _, _)| id_value(*id)).collect();
    instances.sort_unstable();
    instances.dedup();
    for chunk in instances.chunks(SHAPED_CHUNK) {
        let sql = format!(
            "UPDATE hook_lanes SET ready_at = COALESCE(ready_at, ?) WHERE push AND instance_id IN ({})",
            shaped_in_list(chunk.len())
        );
        let mut query = query_owned(sql).persistent(SHAPED).bind(at.as_millis());
        for id in padded(chunk) {
            query = query.bind(*id);
        }
        query.execute(&mut cx.conn).await.map_err(db_error)?;
    }
    for (instance, _, _) in events {
        cx.notified.insert(*instance);
    }
    Ok(())
}

/// Journals inbound events of one instance and records their senders as
/// contacts.
pub(crate) async fn ingest(
    cx: &mut Cx,
    instance: InstanceId,
    events: Vec<Inbound>,
    now: Timestamp,
) -> StoreResult<Vec<Ingested>> {
    Ok(ingest_many(cx, vec![(instance, events)], now).await?.pop().unwrap_or_default())
}

/// Journals the inbound events of many instances at once (what concurrent
/// webhook deliveries bring), with a few statements for the whole batch,
/// and records their senders as contacts. Returns per instance what became
/// of each event.
pub(crate) async fn ingest_many(
    cx: &mut Cx,
    mut batch: Vec<(InstanceId, Vec<Inbound>)>,
    now: Timestamp,
) -> StoreResult<Vec<Vec<Ingested>>> {
    // Events carry what is known of their sender: a platform that names
    // only the id (Instagram) gets the username and name fetched earlier.
    // One query for the senders of the whole batch.
    let mut wanted: BTreeSet<(i64, String)> = BTreeSet::new();
    for (instance, events) in &batch {
        for event in events {
            if let Some(sender) = event.payload.sender()
                && (sender.username.is_none() || sender.name.is_none())
            {
                wanted.insert((id_value(*instance), sender.id.clone()));
            }
        }
    }
    let known = known_contacts(&mut cx.conn, &wanted).await?;
    for (instance, events) in &mut batch {
        for event in events.iter_mut() {
            let Some(sender) = event.payload.sender_mut() else { continue };
            if let Some((username, name)) = known.get(&(id_value(*instance), sender.id.clone())) {
                if sender.username.is_none() {
                    sender.username.clone_from(username);
                }
                if sender.name.is_none() {
                    sender.name.clone_from(name);
                }
            }
        }
    }
    // Meta echoes every message the account sends, the gateway's own too:
    // those are journaled already (as the API message), so their echo is a
    // duplicate. Echoes of messages sent from the Instagram app stay.
    let mut own_echoes: Vec<Vec<bool>> = Vec::with_capacity(batch.len());
    for (instance, events) in &batch {
        let mut own = Vec::with_capacity(events.len());
        for event in events {
            own.push(match &event.payload {
                EventPayload::OutgoingMessage(echo) => is_own_echo(cx, *instance, echo).await?,
                _ => false,
            });
        }
        own_echoes.push(own);
    }
    // Who wrote and when: a comment makes its author a contact but opens no
    // direct-message window.
    let mut appending: Vec<(InstanceId, Vec<Timed>)> = Vec::with_capacity(batch.len());
    let mut senders: Vec<Vec<Option<Writer>>> = Vec::new();
    for ((instance, events), own) in batch.into_iter().zip(&own_echoes) {
        let timed: Vec<Timed> = events
            .into_iter()
            .zip(own)
            .filter(|(_, own)| !**own)
            .map(|(event, _)| {
                let key = event.dedupe_key();
                (event.payload, event.occurred_at, key)
            })
            .collect();
        senders.push(
            timed
                .iter()
                .map(|(event, at, _)| {
                    if matches!(event, EventPayload::OutgoingMessage(_)) {
                        return None;
                    }
                    let opens_window = !matches!(event, EventPayload::IncomingComment(_));
                    event.sender().cloned().map(|s| (s, opens_window.then_some(*at)))
                })
                .collect(),
        );
        appending.push((instance, timed));
    }
    let instances: Vec<InstanceId> = appending.iter().map(|(id, _)| *id).collect();
    let ids = append_many(cx, appending, now).await?;
    // One row per person, from the events actually stored (a redelivered
    // duplicate must not move the messaging window), with what the batch
    // says of them last and the latest time they opened the window.
    let mut people: Vec<(InstanceId, Sender, Option<Timestamp>)> = Vec::new();
    let mut index: HashMap<(InstanceId, String), usize> = HashMap::new();
    for ((instance, senders), ids) in instances.iter().zip(senders).zip(&ids) {
        for (sender, id) in senders.into_iter().zip(ids) {
            let (Some((sender, last_inbound)), Some(_)) = (sender, id) else { continue };
            match index.get(&(*instance, sender.id.clone())).map(|at| &mut people[*at]) {
                Some((_, known, latest)) => {
                    if sender.username.is_some() {
                        known.username = sender.username;
                    }
                    if sender.name.is_some() {
                        known.name = sender.name;
                    }
                    *latest = (*latest).max(last_inbound);
                }
                None => {
                    index.insert((*instance, sender.id.clone()), people.len());
                    people.push((*instance, sender, last_inbound));
                }
            }
        }
    }
    for chunk in shaped_chunks(&people, SHAPED_CHUNK / 2) {
        let mut sql = String::from(
            "INSERT INTO contacts (instance_id, id, username, name, first_seen_at, last_inbound_at) VALUES ",
        );
        push_placeholders(&mut sql, chunk.len(), 6);
        sql.push_str(
            " ON CONFLICT (instance_id, id) DO UPDATE SET \
             username = COALESCE(excluded.username, contacts.username), \
             name = COALESCE(excluded.name, contacts.name), \
             last_inbound_at = CASE WHEN excluded.last_inbound_at IS NULL THEN contacts.last_inbound_at \
               WHEN COALESCE(contacts.last_inbound_at, 0) > excluded.last_inbound_at \
               THEN contacts.last_inbound_at ELSE excluded.last_inbound_at END",
        );
        let mut query = query_owned(sql).persistent(SHAPED);
        for (instance, sender, last_inbound) in chunk {
            query = query
                .bind(id_value(*instance))
                .bind(sender.id.clone())
                .bind(sender.username.clone())
                .bind(sender.name.clone())
                .bind(now.as_millis())
                .bind(last_inbound.map(Timestamp::as_millis));
        }
        query.execute(&mut cx.conn).await.map_err(db_error)?;
    }
    Ok(own_echoes
        .into_iter()
        .zip(ids)
        .map(|(own, ids)| {
            let mut ids = ids.into_iter();
            own.into_iter()
                .map(|own| match (own, if own { None } else { ids.next() }) {
                    (false, Some(Some(id))) => Ingested::Stored(id),
                    _ => Ingested::Duplicate,
                })
                .collect()
        })
        .collect())
}

/// Who wrote an event, and when it opened the messaging window (`None` for
/// a comment, which opens none).
type Writer = (Sender, Option<Timestamp>);

/// What the journals know of these `(instance, contact)` pairs: their
/// handles and names.
async fn known_contacts(
    conn: &mut Conn,
    wanted: &BTreeSet<(i64, String)>,
) -> StoreResult<HashMap<(i64, String), (Option<String>, Option<String>)>> {
    let mut known = HashMap::new();
    let wanted: Vec<&(i64, String)> = wanted.iter().collect();
    for chunk in wanted.chunks(SHAPED_CHUNK) {
        let sql = wanted_pairs(shaped(chunk.len()))
            + "SELECT c.instance_id, c.id, c.username, c.name FROM wanted w JOIN contacts c \
               ON c.instance_id = w.instance_id AND c.id = w.key";
        let mut query = query_owned(sql).persistent(SHAPED);
        for (instance, id) in padded(chunk) {
            query = query.bind(*instance).bind(id.as_str());
        }
        for row in query.fetch_all(&mut *conn).await.map_err(db_error)? {
            known.insert(
                (
                    row.try_get("instance_id").map_err(db_error)?,
                    row.try_get("id").map_err(db_error)?,
                ),
                (
                    row.try_get("username").map_err(db_error)?,
                    row.try_get("name").map_err(db_error)?,
                ),
            );
        }
    }
    Ok(known)
}

/// Whether an echo is of a message the gateway sent itself: one with that
/// platform id, or — as the echo may outrun the platform's answer to the
/// send, before the id is recorded — while a send to the same person is in
/// flight.
async fn is_own_echo(
    cx: &mut Cx,
    instance: InstanceId,
    echo: &OutgoingMessage,
) -> StoreResult<bool> {
    let known = query(
        "SELECT 1 FROM messages WHERE instance_id = ?1 AND provider_message_id = ?2 \
         UNION ALL SELECT 1 FROM message_parts WHERE instance_id = ?1 AND provider_message_id = ?2 \
         LIMIT 1",
    )
    .bind(id_value(instance))
    .bind(&echo.message_id)
    .fetch_optional(&mut cx.conn)
    .await
    .map_err(db_error)?
    .is_some();
    if known {
        return Ok(true);
    }
    // `status IN (…)` lets SQLite use the pending-messages index.
    let in_flight = query(
        "SELECT content FROM messages WHERE instance_id = ? \
         AND status IN ('queued', 'sending') AND status = 'sending' \
         AND recipient_kind = 'user' AND recipient_id = ?",
    )
    .bind(id_value(instance))
    .bind(&echo.to.id)
    .fetch_all(&mut cx.conn)
    .await
    .map_err(db_error)?;
    for row in in_flight {
        let content: String = row.try_get("content").map_err(db_error)?;
        if let Ok(content) = serde_json::from_str::<Content>(&content)
            && could_be_echo_of(&content, echo)
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether an echo could be (a part of) this message: its text is in the
/// message's text or caption, or both carry no text (an attachment, a
/// sticker, a template).
fn could_be_echo_of(content: &Content, echo: &OutgoingMessage) -> bool {
    match (echo.text.as_deref().filter(|t| !t.is_empty()), &content.body) {
        (Some(text), Body::Text { text: sent }) => sent.contains(text),
        (Some(text), Body::Media(media)) => {
            media.caption.as_deref().is_some_and(|c| c.contains(text))
        }
        (Some(_), _) | (None, Body::Text { .. }) => false,
        (None, _) => true,
    }
}

/// Queues the callback of a message's status event: a notification with
/// the callback URL as its target, on that URL's own lane.
pub(crate) async fn queue_callback(
    cx: &mut Cx,
    instance: InstanceId,
    event: EventId,
    callback: &Callback,
    at: Timestamp,
) -> StoreResult<()> {
    let Some(target) = &callback.url else { return Ok(()) };
    let row = query("SELECT position, seq FROM events WHERE id = ?")
        .bind(event.to_string())
        .fetch_one(&mut cx.conn)
        .await
        .map_err(db_error)?;
    let position: i64 = row.try_get("position").map_err(db_error)?;
    let seq: i64 = row.try_get("seq").map_err(db_error)?;
    query(
        "INSERT INTO notifications (instance_id, event_position, event_seq, state, next_attempt_at, \
         created_at, target, callback) VALUES (?, ?, ?, 'pending', ?, ?, ?, ?)",
    )
    .bind(id_value(instance))
    .bind(position)
    .bind(seq)
    .bind(at.as_millis())
    .bind(at.as_millis())
    .bind(target)
    .bind(super::rows::callback_json(callback))
    .execute(&mut cx.conn)
    .await
    .map_err(db_error)?;
    query(
        "INSERT INTO callback_lanes (instance_id, target, ready_at) VALUES (?, ?, ?) \
         ON CONFLICT (instance_id, target) DO UPDATE SET \
         ready_at = COALESCE(callback_lanes.ready_at, excluded.ready_at)",
    )
    .bind(id_value(instance))
    .bind(target)
    .bind(at.as_millis())
    .execute(&mut cx.conn)
    .await
    .map_err(db_error)?;
    cx.notified.insert(instance);
    Ok(())
}

/// Marks a pending notification delivered (a pull consumer's ack).
pub(crate) async fn ack(
    cx: &mut Cx,
    instance: InstanceId,
    receipt: i64,
    at: Timestamp,
) -> StoreResult<bool> {
    let done = query(
        "UPDATE notifications SET state = 'delivered', done_at = ? \
         WHERE id = ? AND instance_id = ? AND state = 'pending' AND target IS NULL",
    )
    .bind(at.as_millis())
    .bind(receipt)
    .bind(id_value(instance))
    .execute(&mut cx.conn)
    .await
    .map_err(db_error)?
    .rows_affected();
    if done > 0 {
        super::push::recompute_lane(cx, instance, Some(at)).await?;
    }
    Ok(done > 0)
}

/// Queues one more notification of an event.
pub(crate) async fn renotify(
    cx: &mut Cx,
    instance: InstanceId,
    event: EventId,
    at: Timestamp,
) -> StoreResult<Option<u64>> {
    let Some(row) = query("SELECT position, seq FROM events WHERE id = ? AND instance_id = ?")
        .bind(event.to_string())
        .bind(id_value(instance))
        .fetch_optional(&mut cx.conn)
        .await
        .map_err(db_error)?
    else {
        return Ok(None);
    };
    let position: i64 = row.try_get("position").map_err(db_error)?;
    let seq: i64 = row.try_get("seq").map_err(db_error)?;
    queue_notifications(cx, instance, &[(position, seq)], at).await?;
    let receipt: i64 =
        query("SELECT MAX(id) AS id FROM notifications WHERE instance_id = ? AND target IS NULL")
            .bind(id_value(instance))
            .fetch_one(&mut cx.conn)
            .await
            .map_err(db_error)?
            .try_get("id")
            .map_err(db_error)?;
    Ok(u64::try_from(receipt).ok())
}

/// Queues a notification of every event from a point on.
pub(crate) async fn replay(
    cx: &mut Cx,
    instance: InstanceId,
    from: ReplayFrom,
    at: Timestamp,
) -> StoreResult<u64> {
    let query = match from {
        ReplayFrom::AfterSeq(seq) => {
            query("SELECT position, seq FROM events WHERE instance_id = ? AND seq > ? ORDER BY seq")
                .bind(id_value(instance))
                .bind(i64::try_from(seq).unwrap_or(i64::MAX))
        }
        ReplayFrom::Since(since) => {
            query("SELECT position, seq FROM events WHERE instance_id = ? AND at >= ? ORDER BY seq")
                .bind(id_value(instance))
                .bind(since.as_millis())
        }
    };
    let events: Vec<(i64, i64)> = query
        .fetch_all(&mut cx.conn)
        .await
        .map_err(db_error)?
        .iter()
        .map(|r| Ok((r.try_get("position")?, r.try_get("seq")?)))
        .collect::<Result<_, sqlx::Error>>()
        .map_err(db_error)?;
    queue_notifications(cx, instance, &events, at).await?;
    Ok(events.len() as u64)
}

/// Decodes an event joined from the `events` table (columns `e_id`,
/// `e_instance`, `e_seq`, `e_at`, `e_payload`).
pub(crate) fn event(row: &DbRow) -> StoreResult<chatgate_core::Event> {
    let id: String = row.try_get("e_id").map_err(db_error)?;
    let payload: String = row.try_get("e_payload").map_err(db_error)?;
    Ok(chatgate_core::Event {
        id: id.parse().map_err(|_| StoreError::Corrupt(format!("bad event id {id}")))?,
        instance_id: rows::instance_id(row.try_get("e_instance").map_err(db_error)?)?,
        seq: u64::try_from(row.try_get::<i64, _>("e_seq").map_err(db_error)?).unwrap_or(0),
        at: Timestamp::from_millis(row.try_get("e_at").map_err(db_error)?),
        payload: serde_json::from_str(&payload)
            .map_err(|e| StoreError::Corrupt(format!("bad event payload: {e}")))?,
    })
}

/// The event columns, aliased for [`event`].
macro_rules! event_columns {
    () => {
        "e.id AS e_id, e.instance_id AS e_instance, e.seq AS e_seq, e.at AS e_at, e.payload AS e_payload"
    };
}
pub(crate) use event_columns;

#[cfg(test)]
mod tests {
    use super::{SHAPED, padded, shaped, shaped_chunks};

    #[test]
    fn statements_come_in_power_of_two_sizes_on_sqlite_and_their_own_elsewhere() {
        let sizes: Vec<usize> = [0, 1, 2, 3, 5, 64, 65, 256].into_iter().map(shaped).collect();
        match SHAPED {
            true => assert_eq!(sizes, [1, 1, 2, 4, 8, 64, 128, 256]),
            false => assert_eq!(sizes, [0, 1, 2, 3, 5, 64, 65, 256]),
        }
    }

    #[test]
    fn a_list_is_padded_with_its_last_item_to_its_shape() {
        let padded: Vec<i32> = padded(&[1, 2, 3]).copied().collect();
        match SHAPED {
            true => assert_eq!(padded, [1, 2, 3, 3]),
            false => assert_eq!(padded, [1, 2, 3]),
        }
        assert_eq!(super::padded::<i32>(&[]).count(), 0, "nothing to repeat");
    }

    #[test]
    fn rows_go_in_chunks_of_their_shape_in_order() {
        let rows: Vec<usize> = (0..100).collect();
        let chunks: Vec<&[usize]> = shaped_chunks(&rows, 32).collect();
        let lengths: Vec<usize> = chunks.iter().map(|c| c.len()).collect();
        assert_eq!(lengths, [32, 32, 32, 4]);
        assert_eq!(chunks.concat(), rows, "every row once, in order");
        let lengths: Vec<usize> = shaped_chunks(&rows[..7], 256).map(<[usize]>::len).collect();
        match SHAPED {
            true => assert_eq!(lengths, [4, 2, 1]),
            false => assert_eq!(lengths, [7]),
        }
    }
}
