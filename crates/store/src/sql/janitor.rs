//! Removing what outlived its retention, in bounded batches.

use super::backend::RowExt;
use chatgate_core::Timestamp;
use chatgate_core::store::{Purged, StoreResult};

use super::backend::{query, query_owned};
use super::journal::in_list;
use super::rows::db_error;
use super::writer::Cx;

async fn ids(
    cx: &mut Cx,
    sql: &'static str,
    cutoff: Timestamp,
    limit: usize,
) -> StoreResult<Vec<i64>> {
    query(sql)
        .bind(cutoff.as_millis())
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&mut cx.conn)
        .await
        .map_err(db_error)?
        .iter()
        .map(|r| r.try_get::<i64, _>(0).map_err(db_error))
        .collect()
}

async fn delete_in(cx: &mut Cx, table_and_column: &str, ids: &[i64]) -> StoreResult<()> {
    for chunk in ids.chunks(400) {
        let sql = format!("DELETE FROM {table_and_column} IN ({})", in_list(chunk.len()));
        let mut query = query_owned(sql).persistent(false);
        for id in chunk {
            query = query.bind(*id);
        }
        query.execute(&mut cx.conn).await.map_err(db_error)?;
    }
    Ok(())
}

/// One bounded pass: old notifications that are done (or pending for a
/// pulling consumer), then journal events nothing refers to any more, then
/// finished messages.
pub(crate) async fn purge(
    cx: &mut Cx,
    journal_before: Timestamp,
    notifications_before: Timestamp,
    limit: usize,
) -> StoreResult<Purged> {
    // A pending push is never dropped: it ends delivered or dead first.
    let notifications = ids(
        cx,
        "SELECT id FROM notifications WHERE created_at < ? AND (state <> 'pending' OR \
         (target IS NULL AND instance_id NOT IN (SELECT instance_id FROM hook_lanes WHERE push))) \
         ORDER BY id LIMIT ?",
        notifications_before,
        limit,
    )
    .await?;
    delete_in(cx, "delivery_attempts WHERE notification_id", &notifications).await?;
    delete_in(cx, "notifications WHERE id", &notifications).await?;

    let events = ids(
        cx,
        "SELECT position FROM events WHERE at < ? AND NOT EXISTS \
         (SELECT 1 FROM notifications n WHERE n.event_position = events.position) \
         ORDER BY position LIMIT ?",
        journal_before,
        limit,
    )
    .await?;
    delete_in(cx, "events WHERE position", &events).await?;

    let messages = ids(
        cx,
        "SELECT seq FROM messages WHERE status IN ('read', 'failed', 'expired', 'sent', 'delivered') \
         AND status_at < ? ORDER BY seq LIMIT ?",
        journal_before,
        limit,
    )
    .await?;
    delete_in(cx, "message_transitions WHERE message_seq", &messages).await?;
    delete_in(cx, "simulated_receipts WHERE message_seq", &messages).await?;
    delete_in(cx, "messages WHERE seq", &messages).await?;

    Ok(Purged {
        events: events.len() as u64,
        notifications: notifications.len() as u64,
        messages: messages.len() as u64,
    })
}
