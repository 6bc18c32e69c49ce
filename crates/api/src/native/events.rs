//! The event side of the native API: pulling notifications (long poll and
//! acknowledge), the journal, and the operator's tools — delivery logs,
//! redelivery, replay, the pending count.

use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use chatgate_core::Timestamp;
use chatgate_core::store::{Delivery, NotificationState, ReplayFrom};
use serde::Deserialize;
use serde_json::{Value, json};

use super::hooks::event_json;
use crate::AppState;
use crate::auth::InstanceCaller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{EventPath, JsonBody, QueryParams, ReceiptPath};

/// Shortest and longest long-poll, in seconds (GREEN-API's receiveTimeout).
pub const WAIT_SECONDS: std::ops::RangeInclusive<u64> = 5..=60;
/// The long-poll when none is asked for.
pub const DEFAULT_WAIT_SECONDS: u64 = 5;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NextQuery {
    wait: Option<u64>,
}

/// `GET …/notifications/next?wait=N`: the oldest unacknowledged
/// notification, waiting up to N seconds for one; 204 when none came.
async fn next(
    State(state): State<AppState>,
    InstanceCaller(instance): InstanceCaller,
    QueryParams(query): QueryParams<NextQuery>,
) -> ApiResult<Response> {
    let wait = query.wait.unwrap_or(DEFAULT_WAIT_SECONDS);
    if !WAIT_SECONDS.contains(&wait) {
        return Err(ApiError::invalid(
            "wait",
            format!(
                "wait must be {} to {} seconds, got {wait}",
                WAIT_SECONDS.start(),
                WAIT_SECONDS.end()
            ),
        ));
    }
    if instance.settings.webhook_url.is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "push_mode",
            "this instance pushes its notifications to its webhookUrl; clear webhookUrl to pull them",
        ));
    }
    let next = state.gateway.next_notification(instance.id, Duration::from_secs(wait)).await?;
    Ok(match next {
        Some(n) => {
            Json(json!({"receiptId": n.receipt_id, "event": event_json(&n.event)})).into_response()
        }
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

/// `DELETE …/notifications/{receiptId}`: acknowledges a pulled notification.
async fn ack(
    State(state): State<AppState>,
    InstanceCaller(instance): InstanceCaller,
    ReceiptPath(receipt): ReceiptPath,
) -> ApiResult<StatusCode> {
    state.gateway.ack_notification(instance.id, receipt).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET …/notifications/count`.
async fn count(
    State(state): State<AppState>,
    InstanceCaller(instance): InstanceCaller,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"pending": state.gateway.pending_notifications(instance.id).await?})))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct EventsQuery {
    after_seq: Option<u64>,
    limit: Option<usize>,
}

/// `GET …/events?afterSeq=&limit=`: the journal, oldest first.
async fn events(
    State(state): State<AppState>,
    InstanceCaller(instance): InstanceCaller,
    QueryParams(query): QueryParams<EventsQuery>,
) -> ApiResult<Json<Value>> {
    let events = state
        .gateway
        .events(instance.id, query.after_seq.unwrap_or(0), query.limit.unwrap_or(100))
        .await?;
    Ok(Json(json!({"events": events.iter().map(event_json).collect::<Vec<_>>()})))
}

/// `POST …/events/{eventId}/redeliver`: queues the event again (same event
/// id, so consumers deduplicate).
async fn redeliver(
    State(state): State<AppState>,
    InstanceCaller(instance): InstanceCaller,
    EventPath(event): EventPath,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let receipt = state.gateway.redeliver(instance.id, event).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"receiptId": receipt}))))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ReplayIn {
    after_seq: Option<u64>,
    since: Option<String>,
}

/// `POST …/events/replay {afterSeq | since}`: queues every event from there.
async fn replay(
    State(state): State<AppState>,
    InstanceCaller(instance): InstanceCaller,
    JsonBody(body): JsonBody<ReplayIn>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let from = match (body.after_seq, body.since) {
        (Some(seq), None) => ReplayFrom::AfterSeq(seq),
        (None, Some(since)) => {
            let at = Timestamp::parse_rfc3339(&since).ok_or_else(|| {
                ApiError::invalid(
                    "since",
                    "since must be an RFC 3339 time, e.g. 2026-11-21T10:00:00Z",
                )
            })?;
            ReplayFrom::Since(at)
        }
        _ => {
            return Err(ApiError::invalid(
                "afterSeq",
                "give exactly one of afterSeq (a sequence number) or since (an RFC 3339 time)",
            ));
        }
    };
    let queued = state.gateway.replay(instance.id, from).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"queued": queued}))))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeliveriesQuery {
    state: Option<String>,
    limit: Option<usize>,
}

fn delivery_json(d: &Delivery) -> Value {
    json!({
        "receiptId": d.receipt_id,
        "eventId": d.event.id.to_string(),
        "type": d.event.payload.type_name(),
        "seq": d.event.seq,
        "state": d.state.as_str(),
        "createdAt": d.created_at.to_rfc3339(),
        "nextAttemptAt": d.next_attempt_at.map(|t| t.to_rfc3339()),
        "attempts": d.attempts.iter().map(|a| json!({
            "attempt": a.attempt,
            "at": a.at.to_rfc3339(),
            "url": a.url,
            "statusCode": a.status_code,
            "latencyMs": a.latency_ms,
            "error": a.error,
        })).collect::<Vec<_>>(),
    })
}

/// `GET …/deliveries?state=pending|delivered|dead&limit=`: notifications,
/// newest first, with every push attempt.
async fn deliveries(
    State(state): State<AppState>,
    InstanceCaller(instance): InstanceCaller,
    QueryParams(query): QueryParams<DeliveriesQuery>,
) -> ApiResult<Json<Value>> {
    let filter = match query.state.as_deref() {
        None => None,
        Some("pending") => Some(NotificationState::Pending),
        Some("delivered") => Some(NotificationState::Delivered),
        Some("dead") => Some(NotificationState::Dead),
        Some(other) => {
            return Err(ApiError::invalid(
                "state",
                format!("state must be pending, delivered or dead, got {other:?}"),
            ));
        }
    };
    let deliveries =
        state.gateway.deliveries(instance.id, filter, query.limit.unwrap_or(100)).await?;
    Ok(Json(json!({"deliveries": deliveries.iter().map(delivery_json).collect::<Vec<_>>()})))
}

/// The event routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/instances/{id}/notifications/next", get(next))
        .route("/api/v1/instances/{id}/notifications/count", get(count))
        .route("/api/v1/instances/{id}/notifications/{receiptId}", delete(ack))
        .route("/api/v1/instances/{id}/events", get(events))
        .route("/api/v1/instances/{id}/events/replay", post(replay))
        .route("/api/v1/instances/{id}/events/{eventId}/redeliver", post(redeliver))
        .route("/api/v1/instances/{id}/deliveries", get(deliveries))
}
