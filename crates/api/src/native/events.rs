//! The event side of the native API: pulling notifications (long poll and
//! acknowledge), the journal, and the operator's tools — delivery logs,
//! redelivery, replay, the pending count.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chatgate_core::Timestamp;
use chatgate_core::store::{Delivery, NotificationState, ReplayFrom};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::hooks::event_out;
use super::wire::{
    AttemptOut, DeliveriesOut, DeliveryOut, EventsOut, NotificationOut, PendingOut, QueuedOut,
    ReceiptOut,
};
use crate::AppState;
use crate::auth::InstanceCaller;
use crate::error::{ApiError, ApiResult, ErrorOut};
use crate::extract::{EventPath, JsonBody, QueryParams, ReceiptPath};

/// Shortest and longest long-poll, in seconds (GREEN-API's receiveTimeout).
pub const WAIT_SECONDS: std::ops::RangeInclusive<u64> = 5..=60;
/// The long-poll when none is asked for.
pub const DEFAULT_WAIT_SECONDS: u64 = 5;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct NextQuery {
    /// How long to wait for a notification, in seconds (5 … 60, default 5).
    #[param(minimum = 5, maximum = 60)]
    wait: Option<u64>,
}

/// Pulls the oldest unacknowledged notification.
///
/// Waits up to `wait` seconds for one; the same one is answered until it is
/// acknowledged. Only while no `webhookUrl` is set.
#[utoipa::path(
    get,
    path = "/api/v1/instances/{id}/notifications/next",
    operation_id = "receiveNotification",
    tag = "events",
    security(("instanceToken" = []), ("partnerToken" = [])),
    params(("id" = u64, Path, description = "The instance id (10 digits)"), NextQuery),
    responses(
        (status = 200, description = "The notification", body = NotificationOut),
        (status = 204, description = "None came within the wait"),
        (status = 400, description = "The id or `wait` is wrong", body = ErrorOut),
        (status = 401, description = "No token, or not this instance's", body = ErrorOut),
        (status = 404, description = "No instance has this id", body = ErrorOut),
        (status = 409, description = "`push_mode`: the instance pushes to its webhookUrl", body = ErrorOut),
        (status = 429, description = "`rate_limited`: too many requests, or too many long polls waiting, for this instance (see Retry-After)", body = ErrorOut),
        (status = 503, description = "The database is unavailable", body = ErrorOut),
    )
)]
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
    // Held while waiting; given back when the poll answers or its client
    // goes away.
    let _slot = state.limits.long_poll(instance.id).ok_or_else(|| {
        ApiError::rate_limited(
            format!(
                "this instance already has {} long polls waiting; answer them first",
                state.limits.config().long_polls_per_instance
            ),
            1,
        )
    })?;
    let next = state.gateway.next_notification(instance.id, Duration::from_secs(wait)).await?;
    Ok(match next {
        Some(n) => Json(NotificationOut { receipt_id: n.receipt_id, event: event_out(&n.event) })
            .into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

/// Acknowledges a pulled notification.
#[utoipa::path(
    delete,
    path = "/api/v1/instances/{id}/notifications/{receiptId}",
    operation_id = "acknowledgeNotification",
    tag = "events",
    security(("instanceToken" = []), ("partnerToken" = [])),
    params(("id" = u64, Path, description = "The instance id (10 digits)"), ("receiptId" = u64, Path, description = "The notification's receipt id")),
    responses(
        (status = 204, description = "Acknowledged"),
        (status = 400, description = "The id or the receipt id is not a number", body = ErrorOut),
        (status = 401, description = "No token, or not this instance's", body = ErrorOut),
        (status = 404, description = "No instance has this id, or no pending notification has this receipt id", body = ErrorOut),
        (status = 503, description = "The database is unavailable", body = ErrorOut),
    )
)]
async fn ack(
    State(state): State<AppState>,
    InstanceCaller(instance): InstanceCaller,
    ReceiptPath(receipt): ReceiptPath,
) -> ApiResult<StatusCode> {
    state.gateway.ack_notification(instance.id, receipt).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Counts the notifications not yet acknowledged or delivered.
#[utoipa::path(
    get,
    path = "/api/v1/instances/{id}/notifications/count",
    operation_id = "countNotifications",
    tag = "events",
    security(("instanceToken" = []), ("partnerToken" = [])),
    params(("id" = u64, Path, description = "The instance id (10 digits)")),
    responses(
        (status = 200, description = "How many are pending", body = PendingOut),
        (status = 400, description = "The id is not a 10-digit number", body = ErrorOut),
        (status = 401, description = "No token, or not this instance's", body = ErrorOut),
        (status = 404, description = "No instance has this id", body = ErrorOut),
        (status = 503, description = "The database is unavailable", body = ErrorOut),
    )
)]
async fn count(
    State(state): State<AppState>,
    InstanceCaller(instance): InstanceCaller,
) -> ApiResult<Json<PendingOut>> {
    Ok(Json(PendingOut { pending: state.gateway.pending_notifications(instance.id).await? }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct EventsQuery {
    /// Only events with a greater sequence number (default 0).
    after_seq: Option<u64>,
    /// At most this many (≤ 1000, default 100).
    limit: Option<usize>,
}

/// Reads the journal, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/instances/{id}/events",
    operation_id = "listEvents",
    tag = "events",
    security(("instanceToken" = []), ("partnerToken" = [])),
    params(("id" = u64, Path, description = "The instance id (10 digits)"), EventsQuery),
    responses(
        (status = 200, description = "The events", body = EventsOut),
        (status = 400, description = "The id or a query parameter is wrong", body = ErrorOut),
        (status = 401, description = "No token, or not this instance's", body = ErrorOut),
        (status = 404, description = "No instance has this id", body = ErrorOut),
        (status = 503, description = "The database is unavailable", body = ErrorOut),
    )
)]
async fn events(
    State(state): State<AppState>,
    InstanceCaller(instance): InstanceCaller,
    QueryParams(query): QueryParams<EventsQuery>,
) -> ApiResult<Json<EventsOut>> {
    let events = state
        .gateway
        .events(instance.id, query.after_seq.unwrap_or(0), query.limit.unwrap_or(100))
        .await?;
    Ok(Json(EventsOut { events: events.iter().map(event_out).collect() }))
}

/// Queues an event again, with the same event id (consumers deduplicate).
#[utoipa::path(
    post,
    path = "/api/v1/instances/{id}/events/{eventId}/redeliver",
    operation_id = "redeliverEvent",
    tag = "events",
    security(("instanceToken" = []), ("partnerToken" = [])),
    params(("id" = u64, Path, description = "The instance id (10 digits)"), ("eventId" = String, Path, description = "The event id (a UUID)")),
    responses(
        (status = 202, description = "Queued", body = ReceiptOut),
        (status = 400, description = "The id is not a 10-digit number", body = ErrorOut),
        (status = 401, description = "No token, or not this instance's", body = ErrorOut),
        (status = 404, description = "No instance has this id, or it has no such event", body = ErrorOut),
        (status = 503, description = "The database is unavailable", body = ErrorOut),
    )
)]
async fn redeliver(
    State(state): State<AppState>,
    InstanceCaller(instance): InstanceCaller,
    EventPath(event): EventPath,
) -> ApiResult<(StatusCode, Json<ReceiptOut>)> {
    let receipt = state.gateway.redeliver(instance.id, event).await?;
    Ok((StatusCode::ACCEPTED, Json(ReceiptOut { receipt_id: receipt })))
}

/// Where a replay starts: exactly one of `afterSeq` or `since`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ReplayIn {
    /// Every event with a greater sequence number.
    after_seq: Option<u64>,
    /// Every event at or after this RFC 3339 time.
    since: Option<String>,
}

/// Queues every event from a point in the journal again.
#[utoipa::path(
    post,
    path = "/api/v1/instances/{id}/events/replay",
    operation_id = "replayEvents",
    tag = "events",
    security(("instanceToken" = []), ("partnerToken" = [])),
    params(("id" = u64, Path, description = "The instance id (10 digits)")),
    request_body = ReplayIn,
    responses(
        (status = 202, description = "Queued", body = QueuedOut),
        (status = 400, description = "The id, the body or a field is wrong", body = ErrorOut),
        (status = 401, description = "No token, or not this instance's", body = ErrorOut),
        (status = 404, description = "No instance has this id", body = ErrorOut),
        (status = 413, description = "The body is too large", body = ErrorOut),
        (status = 415, description = "The body is not JSON", body = ErrorOut),
        (status = 503, description = "The database is unavailable", body = ErrorOut),
    )
)]
async fn replay(
    State(state): State<AppState>,
    InstanceCaller(instance): InstanceCaller,
    JsonBody(body): JsonBody<ReplayIn>,
) -> ApiResult<(StatusCode, Json<QueuedOut>)> {
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
    Ok((StatusCode::ACCEPTED, Json(QueuedOut { queued })))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct DeliveriesQuery {
    /// Only those in this state: `pending`, `delivered` or `dead`.
    #[param(pattern = "^(pending|delivered|dead)$")]
    state: Option<String>,
    /// At most this many (default 100).
    limit: Option<usize>,
}

fn delivery_out(d: &Delivery) -> DeliveryOut {
    DeliveryOut {
        receipt_id: d.receipt_id,
        event_id: d.event.id.to_string(),
        kind: d.event.payload.type_name(),
        seq: d.event.seq,
        state: d.state.as_str(),
        created_at: d.created_at.to_rfc3339(),
        next_attempt_at: d.next_attempt_at.map(|t| t.to_rfc3339()),
        attempts: d
            .attempts
            .iter()
            .map(|a| AttemptOut {
                attempt: a.attempt,
                at: a.at.to_rfc3339(),
                url: a.url.clone(),
                status_code: a.status_code,
                latency_ms: a.latency_ms,
                error: a.error.clone(),
            })
            .collect(),
    }
}

/// Lists notifications, newest first, with every push attempt.
#[utoipa::path(
    get,
    path = "/api/v1/instances/{id}/deliveries",
    operation_id = "listDeliveries",
    tag = "deliveries",
    security(("instanceToken" = []), ("partnerToken" = [])),
    params(("id" = u64, Path, description = "The instance id (10 digits)"), DeliveriesQuery),
    responses(
        (status = 200, description = "The notifications", body = DeliveriesOut),
        (status = 400, description = "The id or a query parameter is wrong", body = ErrorOut),
        (status = 401, description = "No token, or not this instance's", body = ErrorOut),
        (status = 404, description = "No instance has this id", body = ErrorOut),
        (status = 503, description = "The database is unavailable", body = ErrorOut),
    )
)]
async fn deliveries(
    State(state): State<AppState>,
    InstanceCaller(instance): InstanceCaller,
    QueryParams(query): QueryParams<DeliveriesQuery>,
) -> ApiResult<Json<DeliveriesOut>> {
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
    Ok(Json(DeliveriesOut { deliveries: deliveries.iter().map(delivery_out).collect() }))
}

/// The event routes, with their documentation.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(next))
        .routes(routes!(count))
        .routes(routes!(ack))
        .routes(routes!(events))
        .routes(routes!(replay))
        .routes(routes!(redeliver))
        .routes(routes!(deliveries))
}
