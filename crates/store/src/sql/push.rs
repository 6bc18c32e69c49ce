//! The push side of the notification queue: one lane per instance, leased
//! to one hook worker at a time so notifications go out in sequence order.

use super::backend::RowExt;
use chatgate_core::event::{EventPayload, WebhookDisabled};
use chatgate_core::message::Callback;
use chatgate_core::store::{
    ClaimRequest, DeliveryAttempt, Finished, HookClaim, HookFinish, StoreResult, WorkerId,
};
use chatgate_core::{InstanceId, Timestamp};

use std::collections::{BTreeSet, HashMap, HashSet};

use chatgate_core::Instance;

use super::backend::{DbRow, query, query_owned};
use super::journal::{
    self, INSERT_CHUNK, SHAPED, SHAPED_CHUNK, event_columns, padded, push_placeholders, shaped,
    shaped_chunks, shaped_in_list,
};
use super::ops::{load_any_instance, load_instance};
use super::rows::{db_error, id_value, instance_columns};
use super::writer::Cx;

/// Re-establishes the lane invariant (see the migration): `ready_at` is
/// NULL unless the instance pushes and has a pending notification, else the
/// head's `next_attempt_at`. A lane under a live lease (at `now`) is left
/// alone; `None` treats every lease as live.
pub(crate) async fn recompute_lane(
    cx: &mut Cx,
    instance: InstanceId,
    now: Option<Timestamp>,
) -> StoreResult<()> {
    // One statement: it runs for every delivered webhook and every batch
    // of queued notifications. The WHERE leaves a live lease alone.
    query(
        "UPDATE hook_lanes SET lease_owner = NULL, lease_until = NULL, ready_at = \
         CASE WHEN push THEN (SELECT next_attempt_at FROM notifications \
         WHERE instance_id = ?1 AND state = 'pending' AND target IS NULL \
         ORDER BY event_seq, id LIMIT 1) ELSE NULL END \
         WHERE instance_id = ?1 \
         AND (lease_owner IS NULL OR (?2 IS NOT NULL AND COALESCE(lease_until, 0) <= ?2))",
    )
    .bind(id_value(instance))
    .bind(now.map(Timestamp::as_millis))
    .execute(&mut cx.conn)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Switches pushing on or off for an instance (its webhook URL was set or
/// cleared) and re-establishes the lane.
pub(crate) async fn set_push(cx: &mut Cx, instance: InstanceId, push: bool) -> StoreResult<()> {
    query("UPDATE hook_lanes SET push = ? WHERE instance_id = ?")
        .bind(push)
        .bind(id_value(instance))
        .execute(&mut cx.conn)
        .await
        .map_err(db_error)?;
    recompute_lane(cx, instance, None).await
}

/// Most callback lanes of one instance leased at once: callbacks to many
/// slow URLs of one caller must not take every hook slot from the other
/// instances.
pub(crate) const CALLBACK_LANES_PER_INSTANCE: i64 = 4;

/// Leases due lanes (instance webhook lanes and callback lanes, earliest
/// first) and counts an attempt of each head notification.
pub(crate) async fn claim(cx: &mut Cx, request: ClaimRequest) -> StoreResult<Vec<HookClaim>> {
    let now = request.now.as_millis();
    // A few more candidates than wanted: some are skipped below.
    let candidates = i64::try_from(request.limit).unwrap_or(i64::MAX).saturating_mul(4);
    // Webhook lanes and callback lanes, each read (and locked against other
    // nodes) on its own, then merged by due time.
    let mut due: Vec<(i64, i64, Option<String>)> = Vec::new();
    for sql in [
        "SELECT instance_id, ready_at FROM hook_lanes \
         WHERE ready_at IS NOT NULL AND ready_at <= ? ORDER BY ready_at LIMIT ?",
        "SELECT instance_id, target, ready_at FROM callback_lanes \
         WHERE ready_at IS NOT NULL AND ready_at <= ? ORDER BY ready_at LIMIT ?",
    ] {
        let rows = query_owned(format!("{sql}{}", super::backend::LOCK))
            .bind(now)
            .bind(candidates)
            .fetch_all(&mut cx.conn)
            .await
            .map_err(db_error)?;
        for row in rows {
            let target: Option<String> = match sql.contains("target") {
                true => Some(row.try_get("target").map_err(db_error)?),
                false => None,
            };
            due.push((
                row.try_get("ready_at").map_err(db_error)?,
                row.try_get("instance_id").map_err(db_error)?,
                target,
            ));
        }
    }
    due.sort_by_key(|(ready_at, _, _)| *ready_at);
    let lanes: Vec<(i64, Option<String>)> =
        due.into_iter().map(|(_, lane, target)| (lane, target)).collect();

    // The webhook lanes' instances and head notifications are read a slice
    // at a time (two statements a slice, not two a lane), as many lanes as
    // are still wanted: the candidates beyond stay due for the next claim.
    // A lane found unusable (no head due, no webhook URL) makes the next
    // lane needed, and a further slice is read when the loop reaches it.
    let webhook_lanes: Vec<i64> =
        lanes.iter().filter(|(_, target)| target.is_none()).map(|(lane, _)| *lane).collect();
    let mut unread = webhook_lanes.as_slice();
    let mut read: HashSet<i64> = HashSet::new();
    let mut instances: HashMap<i64, Instance> = HashMap::new();
    let mut heads: HashMap<i64, DbRow> = HashMap::new();

    let mut claims = Vec::with_capacity(request.limit.min(lanes.len()));
    // Webhook heads claimed: their attempts are counted and their lanes
    // leased together after the loop.
    let mut taken: Vec<(i64, i64)> = Vec::new();
    let mut callback_leases: HashMap<i64, i64> = HashMap::new();
    for (lane, target) in lanes {
        if claims.len() >= request.limit {
            break;
        }
        let id = super::rows::instance_id(lane)?;
        let Some(url) = target else {
            if !read.contains(&lane) {
                // Lanes are met in order, so this one opens the unread part.
                let wanted = (request.limit - claims.len()).min(unread.len());
                let (slice, rest) = unread.split_at(wanted);
                unread = rest;
                let (more_instances, more_heads) = webhook_heads(cx, slice).await?;
                instances.extend(more_instances);
                heads.extend(more_heads);
                read.extend(slice.iter().copied());
            }
            let instance = match instances.remove(&lane) {
                Some(instance) if instance.settings.webhook_url.is_some() => instance,
                _ => {
                    set_push(cx, id, false).await?;
                    continue;
                }
            };
            let Some(head) = due_head(heads.remove(&lane), now)? else {
                recompute_lane(cx, id, Some(request.now)).await?;
                continue;
            };
            let receipt: i64 = head.try_get("receipt").map_err(db_error)?;
            let attempts: i64 = head.try_get("attempts").map_err(db_error)?;
            taken.push((lane, receipt));
            claims.push(HookClaim {
                receipt_id: u64::try_from(receipt).unwrap_or_default(),
                instance,
                event: journal::event(&head)?,
                attempt: u32::try_from(attempts + 1).unwrap_or(u32::MAX),
                callback: None,
                service_secret_sealed: None,
            });
            continue;
        };
        let leased = match callback_leases.get(&lane) {
            Some(n) => *n,
            None => query(
                "SELECT COUNT(*) AS n FROM callback_lanes WHERE instance_id = ? \
                 AND lease_owner IS NOT NULL AND lease_until > ?",
            )
            .bind(lane)
            .bind(now)
            .fetch_one(&mut cx.conn)
            .await
            .map_err(db_error)?
            .try_get("n")
            .map_err(db_error)?,
        };
        if leased >= CALLBACK_LANES_PER_INSTANCE {
            callback_leases.insert(lane, leased);
            continue;
        }
        callback_leases.insert(lane, leased + 1);
        let instance = match load_instance(cx, id).await? {
            Some(instance) => instance,
            // A deleted instance's callbacks still go out.
            None => match load_any_instance(cx, id).await? {
                Some(instance) => instance,
                None => {
                    drop_callback_lane(cx, id, &url, request.now).await?;
                    continue;
                }
            },
        };
        // The query matches its partial index exactly.
        let head = query(concat!(
            "SELECT n.id AS receipt, n.attempts, n.next_attempt_at, n.target, n.callback, ",
            event_columns!(),
            " FROM notifications n JOIN events e ON e.position = n.event_position \
             WHERE n.instance_id = ? AND n.target = ? AND n.state = 'pending' \
             AND n.target IS NOT NULL ORDER BY n.event_seq, n.id LIMIT 1"
        ))
        .bind(lane)
        .bind(url.clone())
        .fetch_optional(&mut cx.conn)
        .await
        .map_err(db_error)?;
        let Some(head) = due_head(head, now)? else {
            recompute_callback_lane(cx, id, &url, Some(request.now)).await?;
            continue;
        };
        let receipt: i64 = head.try_get("receipt").map_err(db_error)?;
        let attempts: i64 = head.try_get("attempts").map_err(db_error)?;
        query("UPDATE notifications SET attempts = attempts + 1 WHERE id = ?")
            .bind(receipt)
            .execute(&mut cx.conn)
            .await
            .map_err(db_error)?;
        lease_lane(cx, id, Some(&url), Some((&request.owner.0, request.lease_until))).await?;
        // The target column routes the push; the JSON only adds the
        // caller's data (a callback is never sent to the webhook).
        let stored: Option<Callback> = head
            .try_get::<Option<String>, _>("callback")
            .ok()
            .flatten()
            .and_then(|json| serde_json::from_str(&json).ok());
        let callback = Callback { url: Some(url), ..stored.unwrap_or_default() };
        let service_secret_sealed =
            query("SELECT service_secret_sealed FROM instances WHERE id = ?")
                .bind(lane)
                .fetch_optional(&mut cx.conn)
                .await
                .map_err(db_error)?
                .and_then(|row| row.try_get("service_secret_sealed").ok())
                .flatten();
        claims.push(HookClaim {
            receipt_id: u64::try_from(receipt).unwrap_or_default(),
            instance,
            event: journal::event(&head)?,
            attempt: u32::try_from(attempts + 1).unwrap_or(u32::MAX),
            callback: Some(callback),
            service_secret_sealed,
        });
    }
    lease_webhook_lanes(cx, &taken, &request).await?;
    Ok(claims)
}

/// A lane's head notification, if there is one and it is due at `now`.
fn due_head(head: Option<DbRow>, now: i64) -> StoreResult<Option<DbRow>> {
    let Some(head) = head else { return Ok(None) };
    let at: i64 = head.try_get("next_attempt_at").map_err(db_error)?;
    Ok((at <= now).then_some(head))
}

/// The live instances of webhook lanes and each lane's head notification
/// (the first pending one in sequence order, with its event), by lane.
async fn webhook_heads(
    cx: &mut Cx,
    lanes: &[i64],
) -> StoreResult<(HashMap<i64, Instance>, HashMap<i64, DbRow>)> {
    let mut instances = HashMap::with_capacity(lanes.len());
    let mut heads = HashMap::with_capacity(lanes.len());
    for chunk in lanes.chunks(SHAPED_CHUNK) {
        const INSTANCES: &str = concat!(
            "SELECT ",
            instance_columns!(),
            " FROM instances WHERE deleted_at IS NULL AND id IN ("
        );
        let sql = format!("{INSTANCES}{})", shaped_in_list(chunk.len()));
        let mut read = query_owned(sql).persistent(SHAPED);
        for lane in padded(chunk) {
            read = read.bind(*lane);
        }
        for row in read.fetch_all(&mut cx.conn).await.map_err(db_error)? {
            let (instance, _) = super::rows::instance(&row, &cx.secrets)?;
            instances.insert(id_value(instance.id), instance);
        }
        // Each lane's head, found through the lane's partial index.
        const HEADS: &str = concat!(
            "SELECT n.id AS receipt, n.instance_id AS lane, n.attempts, n.next_attempt_at, \
             n.target, n.callback, ",
            event_columns!(),
            " FROM notifications n JOIN events e ON e.position = n.event_position \
             WHERE n.id IN (SELECT (SELECT h.id FROM notifications h \
             WHERE h.instance_id = l.instance_id AND h.state = 'pending' AND h.target IS NULL \
             ORDER BY h.event_seq, h.id LIMIT 1) FROM hook_lanes l WHERE l.instance_id IN ("
        );
        let sql = format!("{HEADS}{}))", shaped_in_list(chunk.len()));
        let mut read = query_owned(sql).persistent(SHAPED);
        for lane in padded(chunk) {
            read = read.bind(*lane);
        }
        for row in read.fetch_all(&mut cx.conn).await.map_err(db_error)? {
            heads.insert(row.try_get("lane").map_err(db_error)?, row);
        }
    }
    Ok((instances, heads))
}

/// Counts an attempt of each claimed head and leases its webhook lane to
/// the claiming worker (the lane is next ready when the lease ends).
async fn lease_webhook_lanes(
    cx: &mut Cx,
    leased: &[(i64, i64)],
    request: &ClaimRequest,
) -> StoreResult<()> {
    for chunk in leased.chunks(SHAPED_CHUNK) {
        let sql = format!(
            "UPDATE notifications SET attempts = attempts + 1 WHERE id IN ({})",
            shaped_in_list(chunk.len())
        );
        let mut update = query_owned(sql).persistent(SHAPED);
        for (_, receipt) in padded(chunk) {
            update = update.bind(*receipt);
        }
        update.execute(&mut cx.conn).await.map_err(db_error)?;
        let sql = format!(
            "UPDATE hook_lanes SET lease_owner = ?, lease_until = ?, ready_at = ? \
             WHERE instance_id IN ({})",
            shaped_in_list(chunk.len())
        );
        let until = request.lease_until.as_millis();
        let mut lease = query_owned(sql)
            .persistent(SHAPED)
            .bind(request.owner.0.clone())
            .bind(until)
            .bind(until);
        for (lane, _) in padded(chunk) {
            lease = lease.bind(*lane);
        }
        lease.execute(&mut cx.conn).await.map_err(db_error)?;
    }
    Ok(())
}

/// Ends a callback lane whose instance is gone: its callbacks are dead.
async fn drop_callback_lane(
    cx: &mut Cx,
    instance: InstanceId,
    target: &str,
    at: Timestamp,
) -> StoreResult<()> {
    query(
        "UPDATE notifications SET state = 'dead', done_at = ? \
         WHERE instance_id = ? AND target = ? AND state = 'pending'",
    )
    .bind(at.as_millis())
    .bind(id_value(instance))
    .bind(target)
    .execute(&mut cx.conn)
    .await
    .map_err(db_error)?;
    query("DELETE FROM callback_lanes WHERE instance_id = ? AND target = ?")
        .bind(id_value(instance))
        .bind(target)
        .execute(&mut cx.conn)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// Leases a lane to `owner` until a time (its `ready_at` becomes the lease's
/// end), or with `None` releases it.
async fn lease_lane(
    cx: &mut Cx,
    instance: InstanceId,
    target: Option<&str>,
    lease: Option<(&str, Timestamp)>,
) -> StoreResult<()> {
    let (owner, until) = match lease {
        Some((owner, until)) => (Some(owner), Some(until.as_millis())),
        None => (None, None),
    };
    let query = match target {
        None => query(
            "UPDATE hook_lanes SET lease_owner = ?1, lease_until = ?2, ready_at = COALESCE(?2, ready_at) \
             WHERE instance_id = ?3",
        ),
        Some(_) => query(
            "UPDATE callback_lanes SET lease_owner = ?1, lease_until = ?2, \
             ready_at = COALESCE(?2, ready_at) WHERE instance_id = ?3 AND target = ?4",
        ),
    };
    let query = query.bind(owner).bind(until).bind(id_value(instance));
    // A callback lane is also named by its target; a webhook lane is not.
    let query = match target {
        Some(target) => query.bind(target),
        None => query,
    };
    query.execute(&mut cx.conn).await.map_err(db_error)?;
    Ok(())
}

/// [`recompute_lane`] for a callback lane: `ready_at` is its head's
/// `next_attempt_at`, or NULL (and the lane goes) when nothing is pending.
pub(crate) async fn recompute_callback_lane(
    cx: &mut Cx,
    instance: InstanceId,
    target: &str,
    now: Option<Timestamp>,
) -> StoreResult<()> {
    let Some(lane) = query(
        "SELECT lease_owner, lease_until FROM callback_lanes WHERE instance_id = ? AND target = ?",
    )
    .bind(id_value(instance))
    .bind(target)
    .fetch_optional(&mut cx.conn)
    .await
    .map_err(db_error)?
    else {
        return Ok(());
    };
    let owner: Option<String> = lane.try_get("lease_owner").map_err(db_error)?;
    let until: Option<i64> = lane.try_get("lease_until").map_err(db_error)?;
    if owner.is_some() && now.is_none_or(|now| until.unwrap_or(0) > now.as_millis()) {
        return Ok(());
    }
    let ready: Option<i64> = query(
        "SELECT next_attempt_at FROM notifications WHERE instance_id = ? AND target = ? \
         AND state = 'pending' AND target IS NOT NULL ORDER BY event_seq, id LIMIT 1",
    )
    .bind(id_value(instance))
    .bind(target)
    .fetch_optional(&mut cx.conn)
    .await
    .map_err(db_error)?
    .map(|r| r.try_get("next_attempt_at"))
    .transpose()
    .map_err(db_error)?;
    let sql = if ready.is_some() {
        "UPDATE callback_lanes SET ready_at = ?, lease_owner = NULL, lease_until = NULL \
         WHERE instance_id = ? AND target = ?"
    } else {
        "DELETE FROM callback_lanes WHERE ? IS NULL AND instance_id = ? AND target = ?"
    };
    query(sql)
        .bind(ready)
        .bind(id_value(instance))
        .bind(target)
        .execute(&mut cx.conn)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// Records an attempt and its outcome, if the lease is still ours.
pub(crate) async fn finish(
    cx: &mut Cx,
    claim: Box<HookClaim>,
    owner: WorkerId,
    attempt: DeliveryAttempt,
    finish: HookFinish,
) -> StoreResult<Finished> {
    let instance = claim.instance.id;
    let receipt = i64::try_from(claim.receipt_id).unwrap_or(i64::MAX);
    let target = claim.callback.as_ref().and_then(|c| c.url.clone());
    let ours = match &target {
        None => query(
            "SELECT 1 FROM notifications n JOIN hook_lanes l ON l.instance_id = n.instance_id \
             WHERE n.id = ? AND n.state = 'pending' AND n.attempts = ? AND l.lease_owner = ?",
        ),
        Some(_) => query(
            "SELECT 1 FROM notifications n JOIN callback_lanes l \
             ON l.instance_id = n.instance_id AND l.target = n.target \
             WHERE n.id = ? AND n.state = 'pending' AND n.attempts = ? AND l.lease_owner = ?",
        ),
    }
    .bind(receipt)
    .bind(i64::from(claim.attempt))
    .bind(&owner.0)
    .fetch_optional(&mut cx.conn)
    .await
    .map_err(db_error)?;
    if ours.is_none() {
        return Ok(Finished::LeaseLost);
    }
    let at = attempt.at;
    query(
        "INSERT INTO delivery_attempts (notification_id, instance_id, attempt, at, url, status_code, latency_ms, error) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(receipt)
    .bind(id_value(instance))
    .bind(i64::from(attempt.attempt))
    .bind(at.as_millis())
    .bind(&attempt.url)
    .bind(attempt.status_code.map(i64::from))
    .bind(i64::try_from(attempt.latency_ms).unwrap_or(i64::MAX))
    .bind(&attempt.error)
    .execute(&mut cx.conn)
    .await
    .map_err(db_error)?;
    let done_at = at.plus(std::time::Duration::from_millis(attempt.latency_ms));
    match finish {
        HookFinish::Delivered => set_state(cx, receipt, "delivered", Some(done_at), None).await?,
        HookFinish::Dead => set_state(cx, receipt, "dead", Some(done_at), None).await?,
        HookFinish::Retry { at: next } => {
            set_state(cx, receipt, "pending", None, Some(next)).await?
        }
        // A callback URL that answers 410 only ends that callback.
        HookFinish::Disabled { .. } if target.is_some() => {
            set_state(cx, receipt, "dead", Some(done_at), None).await?
        }
        HookFinish::Disabled { reason } => {
            // The notification stays pending, to be pulled; the webhook URL
            // goes, and the consumer learns why from the journal.
            set_state(cx, receipt, "pending", None, Some(done_at)).await?;
            let url = claim.instance.settings.webhook_url.clone().unwrap_or_default();
            let mut settings = claim.instance.settings.clone();
            settings.webhook_url = None;
            cx.changed.insert(instance);
            query("UPDATE instances SET settings = ? WHERE id = ?")
                .bind(cx.secrets.settings_json(instance, &settings))
                .bind(id_value(instance))
                .execute(&mut cx.conn)
                .await
                .map_err(db_error)?;
            query("UPDATE hook_lanes SET push = FALSE WHERE instance_id = ?")
                .bind(id_value(instance))
                .execute(&mut cx.conn)
                .await
                .map_err(db_error)?;
            let event = EventPayload::WebhookDisabled(WebhookDisabled { url, reason });
            journal::append(cx, instance, vec![event], done_at).await?;
        }
    }
    match &target {
        None => {
            lease_lane(cx, instance, None, None).await?;
            recompute_lane(cx, instance, Some(done_at)).await?;
        }
        Some(url) => {
            lease_lane(cx, instance, Some(url), None).await?;
            recompute_callback_lane(cx, instance, url, Some(done_at)).await?;
        }
    }
    Ok(Finished::Applied)
}

/// One finished push, as the hook worker reports it.
#[derive(Clone)]
pub(crate) struct HookFinishing {
    pub(crate) claim: Box<HookClaim>,
    pub(crate) owner: WorkerId,
    pub(crate) attempt: DeliveryAttempt,
    pub(crate) finish: HookFinish,
}

/// [`finish`] for many pushes at once (the hook worker's concurrent
/// deliveries that reached one group commit): the common case, a webhook
/// delivered, retried or dead, takes four statements for the whole batch
/// instead of five per push. Callbacks and 410s take [`finish`]'s path.
/// Returns, per input and in order, what [`finish`] would have.
pub(crate) async fn finish_many(
    cx: &mut Cx,
    finishing: Vec<HookFinishing>,
) -> StoreResult<Vec<Finished>> {
    let mut results = vec![Finished::LeaseLost; finishing.len()];
    let mut plain = Vec::with_capacity(finishing.len());
    for (i, f) in finishing.into_iter().enumerate() {
        if f.claim.callback.is_some() || matches!(f.finish, HookFinish::Disabled { .. }) {
            results[i] = finish(cx, f.claim, f.owner, f.attempt, f.finish).await?;
        } else {
            plain.push((i, f));
        }
    }
    for chunk in plain.chunks(INSERT_CHUNK / 4) {
        for (i, finished) in finish_webhooks(cx, chunk).await? {
            results[i] = finished;
        }
    }
    Ok(results)
}

/// The batched part of [`finish_many`]: webhook pushes (no callback, no
/// 410), at most `INSERT_CHUNK / 4` of them.
async fn finish_webhooks(
    cx: &mut Cx,
    chunk: &[(usize, HookFinishing)],
) -> StoreResult<Vec<(usize, Finished)>> {
    // Whose lease still holds: the notification is pending at the claimed
    // attempt and its lane is leased to the finishing worker.
    let sql = format!(
        "SELECT n.id, n.attempts, n.state, l.lease_owner FROM notifications n \
         JOIN hook_lanes l ON l.instance_id = n.instance_id WHERE n.id IN ({})",
        shaped_in_list(chunk.len())
    );
    let mut lookup = query_owned(sql).persistent(SHAPED);
    for (_, f) in padded(chunk) {
        lookup = lookup.bind(i64::try_from(f.claim.receipt_id).unwrap_or(i64::MAX));
    }
    let mut held = HashMap::new();
    for row in lookup.fetch_all(&mut cx.conn).await.map_err(db_error)? {
        let id: i64 = row.try_get("id").map_err(db_error)?;
        let attempts: i64 = row.try_get("attempts").map_err(db_error)?;
        let state: String = row.try_get("state").map_err(db_error)?;
        let owner: Option<String> = row.try_get("lease_owner").map_err(db_error)?;
        held.insert(id, (attempts, state, owner));
    }
    let mut ours = Vec::with_capacity(chunk.len());
    let mut counted = HashSet::new();
    let mut outcome = Vec::with_capacity(chunk.len());
    for (i, f) in chunk {
        let receipt = i64::try_from(f.claim.receipt_id).unwrap_or(i64::MAX);
        let holds = held.get(&receipt).is_some_and(|(attempts, state, owner)| {
            *attempts == i64::from(f.claim.attempt)
                && state == "pending"
                && owner.as_deref() == Some(f.owner.0.as_str())
        });
        // The same push finished twice in one batch counts once, as it
        // would one after the other (the first ends the lease).
        if holds && counted.insert(receipt) {
            ours.push((receipt, f));
            outcome.push((*i, Finished::Applied));
        } else {
            outcome.push((*i, Finished::LeaseLost));
        }
    }
    if ours.is_empty() {
        return Ok(outcome);
    }

    for rows in shaped_chunks(&ours, SHAPED_CHUNK) {
        let mut sql = String::from(
            "INSERT INTO delivery_attempts \
             (notification_id, instance_id, attempt, at, url, status_code, latency_ms, error) \
             VALUES ",
        );
        push_placeholders(&mut sql, rows.len(), 8);
        let mut insert = query_owned(sql).persistent(SHAPED);
        for (receipt, f) in rows {
            let a = &f.attempt;
            insert = insert
                .bind(*receipt)
                .bind(id_value(f.claim.instance.id))
                .bind(i64::from(a.attempt))
                .bind(a.at.as_millis())
                .bind(a.url.clone())
                .bind(a.status_code.map(i64::from))
                .bind(i64::try_from(a.latency_ms).unwrap_or(i64::MAX))
                .bind(a.error.clone());
        }
        insert.execute(&mut cx.conn).await.map_err(db_error)?;
    }

    // Each notification's new state in one statement: delivered and dead
    // ones are done at the end of their attempt; a retry stays pending
    // with its next attempt's time. Each list is padded to its shape.
    let changes: Vec<(i64, &str, Option<i64>)> = ours
        .iter()
        .map(|(receipt, f)| match f.finish {
            HookFinish::Delivered => (*receipt, "delivered", Some(done_at(&f.attempt).as_millis())),
            HookFinish::Dead => (*receipt, "dead", Some(done_at(&f.attempt).as_millis())),
            // (A 410 takes `finish`'s path, never this one.)
            HookFinish::Retry { .. } | HookFinish::Disabled { .. } => (*receipt, "pending", None),
        })
        .collect();
    let retries: Vec<(i64, i64)> = ours
        .iter()
        .filter_map(|(receipt, f)| match f.finish {
            HookFinish::Retry { at } => Some((*receipt, at.as_millis())),
            _ => None,
        })
        .collect();
    let cases = " WHEN ? THEN ?".repeat(shaped(changes.len()));
    let next = match retries.is_empty() {
        true => String::new(),
        false => format!(
            ", next_attempt_at = CASE id{} ELSE next_attempt_at END",
            " WHEN ? THEN ?".repeat(shaped(retries.len()))
        ),
    };
    let sql = format!(
        "UPDATE notifications SET state = CASE id{cases} ELSE state END, \
         done_at = CASE id{cases} ELSE done_at END{next} WHERE id IN ({})",
        shaped_in_list(changes.len())
    );
    let mut update = query_owned(sql).persistent(SHAPED);
    for (receipt, state, _) in padded(&changes) {
        update = update.bind(*receipt).bind(*state);
    }
    for (receipt, _, done_at) in padded(&changes) {
        update = update.bind(*receipt).bind(*done_at);
    }
    for (receipt, at) in padded(&retries) {
        update = update.bind(*receipt).bind(*at);
    }
    for (receipt, _, _) in padded(&changes) {
        update = update.bind(*receipt);
    }
    update.execute(&mut cx.conn).await.map_err(db_error)?;

    // The leases end and each lane is ready when its new head is due (the
    // statement of [`recompute_lane`], for every lane at once; a lane
    // finished here is leased to us, so no live lease is passed over).
    let lanes: Vec<i64> = ours
        .iter()
        .map(|(_, f)| id_value(f.claim.instance.id))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let sql = format!(
        "UPDATE hook_lanes SET lease_owner = NULL, lease_until = NULL, ready_at = \
         CASE WHEN push THEN (SELECT n.next_attempt_at FROM notifications n \
         WHERE n.instance_id = hook_lanes.instance_id AND n.state = 'pending' \
         AND n.target IS NULL ORDER BY n.event_seq, n.id LIMIT 1) ELSE NULL END \
         WHERE instance_id IN ({})",
        shaped_in_list(lanes.len())
    );
    let mut release = query_owned(sql).persistent(SHAPED);
    for lane in padded(&lanes) {
        release = release.bind(*lane);
    }
    release.execute(&mut cx.conn).await.map_err(db_error)?;
    Ok(outcome)
}

/// When an attempt ended: its start plus its latency.
fn done_at(attempt: &DeliveryAttempt) -> Timestamp {
    attempt.at.plus(std::time::Duration::from_millis(attempt.latency_ms))
}

async fn set_state(
    cx: &mut Cx,
    receipt: i64,
    state: &str,
    done_at: Option<Timestamp>,
    next_attempt_at: Option<Timestamp>,
) -> StoreResult<()> {
    query(
        "UPDATE notifications SET state = ?, done_at = ?, \
         next_attempt_at = COALESCE(?, next_attempt_at) WHERE id = ?",
    )
    .bind(state)
    .bind(done_at.map(Timestamp::as_millis))
    .bind(next_attempt_at.map(Timestamp::as_millis))
    .bind(receipt)
    .execute(&mut cx.conn)
    .await
    .map_err(db_error)?;
    Ok(())
}
