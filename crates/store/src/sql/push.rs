//! The push side of the notification queue: one lane per instance, leased
//! to one hook worker at a time so notifications go out in sequence order.

use chatgate_core::event::{EventPayload, WebhookDisabled};
use chatgate_core::message::Callback;
use chatgate_core::store::{
    ClaimRequest, DeliveryAttempt, Finished, HookClaim, HookFinish, StoreResult, WorkerId,
};
use chatgate_core::{InstanceId, Timestamp};
use sqlx::Row;

use super::backend::{query, query_owned};
use super::journal::{self, event_columns};
use super::ops::{load_any_instance, load_instance};
use super::rows::{db_error, id_value};
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

    let mut claims = Vec::with_capacity(request.limit.min(lanes.len()));
    let mut callback_leases: std::collections::HashMap<i64, i64> = Default::default();
    for (lane, target) in lanes {
        if claims.len() >= request.limit {
            break;
        }
        let id = super::rows::instance_id(lane)?;
        if target.is_some() {
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
        }
        let instance = match (load_instance(cx, id).await?, &target) {
            (Some(instance), Some(_)) => instance,
            (Some(instance), None) if instance.settings.webhook_url.is_some() => instance,
            (_, None) => {
                set_push(cx, id, false).await?;
                continue;
            }
            // A deleted instance's callbacks still go out.
            (None, Some(url)) => match load_any_instance(cx, id).await? {
                Some(instance) => instance,
                None => {
                    drop_callback_lane(cx, id, url, request.now).await?;
                    continue;
                }
            },
        };
        // Two queries, each matching its partial index exactly.
        let head = match &target {
            None => query(concat!(
                "SELECT n.id AS receipt, n.attempts, n.next_attempt_at, n.target, n.callback, ",
                event_columns!(),
                " FROM notifications n JOIN events e ON e.position = n.event_position \
                 WHERE n.instance_id = ? AND n.state = 'pending' AND n.target IS NULL \
                 ORDER BY n.event_seq, n.id LIMIT 1"
            ))
            .bind(lane),
            Some(url) => query(concat!(
                "SELECT n.id AS receipt, n.attempts, n.next_attempt_at, n.target, n.callback, ",
                event_columns!(),
                " FROM notifications n JOIN events e ON e.position = n.event_position \
                 WHERE n.instance_id = ? AND n.target = ? AND n.state = 'pending' \
                 AND n.target IS NOT NULL ORDER BY n.event_seq, n.id LIMIT 1"
            ))
            .bind(lane)
            .bind(url.clone()),
        }
        .fetch_optional(&mut cx.conn)
        .await
        .map_err(db_error)?;
        let due = head
            .as_ref()
            .map(|h| h.try_get::<i64, _>("next_attempt_at"))
            .transpose()
            .map_err(db_error)?
            .is_some_and(|at| at <= now);
        let (Some(head), true) = (head, due) else {
            match &target {
                None => recompute_lane(cx, id, Some(request.now)).await?,
                Some(url) => recompute_callback_lane(cx, id, url, Some(request.now)).await?,
            }
            continue;
        };
        let receipt: i64 = head.try_get("receipt").map_err(db_error)?;
        let attempts: i64 = head.try_get("attempts").map_err(db_error)?;
        query("UPDATE notifications SET attempts = attempts + 1 WHERE id = ?")
            .bind(receipt)
            .execute(&mut cx.conn)
            .await
            .map_err(db_error)?;
        lease_lane(cx, id, target.as_deref(), Some((&request.owner.0, request.lease_until)))
            .await?;
        // The target column routes the push; the JSON only adds the
        // caller's data (a callback is never sent to the webhook).
        let callback = target.map(|url| {
            let stored: Option<Callback> = head
                .try_get::<Option<String>, _>("callback")
                .ok()
                .flatten()
                .and_then(|json| serde_json::from_str(&json).ok());
            Callback { url: Some(url), ..stored.unwrap_or_default() }
        });
        let service_secret_sealed = match &callback {
            None => None,
            Some(_) => query("SELECT service_secret_sealed FROM instances WHERE id = ?")
                .bind(lane)
                .fetch_optional(&mut cx.conn)
                .await
                .map_err(db_error)?
                .and_then(|row| row.try_get("service_secret_sealed").ok())
                .flatten(),
        };
        claims.push(HookClaim {
            receipt_id: u64::try_from(receipt).unwrap_or_default(),
            instance,
            event: journal::event(&head)?,
            attempt: u32::try_from(attempts + 1).unwrap_or(u32::MAX),
            callback,
            service_secret_sealed,
        });
    }
    Ok(claims)
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
    query
        .bind(owner)
        .bind(until)
        .bind(id_value(instance))
        .bind(target)
        .execute(&mut cx.conn)
        .await
        .map_err(db_error)?;
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
