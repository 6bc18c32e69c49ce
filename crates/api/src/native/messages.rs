//! Sending and the outbound queue: `POST …/messages`, `GET
//! …/messages/{messageId}`, `GET` / `DELETE …/queue`, `GET …/queue/count`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chatgate_core::gateway::SendRequest;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::wire::{AcceptedOut, ClearedOut, CountOut, MessageIn, MessageOut, QueueOut};
use crate::AppState;
use crate::auth::InstanceCaller;
use crate::error::{ApiError, ApiResult, ErrorOut};
use crate::extract::{JsonBody, MessagePath};

/// The header that makes a retried send return the first answer.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// Queues a message.
///
/// `to` and exactly one of `text`, `media`, `template`, `sticker`,
/// `location`, `contact`, `reaction`; `quickReplies` may go with any of
/// them. The message is stored before the answer.
#[utoipa::path(
    post,
    path = "/api/v1/instances/{id}/messages",
    operation_id = "sendMessage",
    tag = "messages",
    security(("instanceToken" = []), ("partnerToken" = [])),
    params(
        ("id" = u64, Path, description = "The instance id (10 digits)"),
        ("Idempotency-Key" = Option<String>, Header, nullable = false, description = "Makes a retried request return the first answer instead of queueing twice (at most 255 characters)"),
    ),
    request_body = MessageIn,
    responses(
        (status = 202, description = "Queued (or, with a known Idempotency-Key, the first answer)", body = AcceptedOut,
            headers(("Idempotent-Replayed" = String, description = "`true` when this is the answer to an earlier request with the same Idempotency-Key"))),
        (status = 400, description = "The id, the body or a field is wrong", body = ErrorOut),
        (status = 401, description = "No token, or not this instance's", body = ErrorOut),
        (status = 404, description = "No instance has this id", body = ErrorOut),
        (status = 409, description = "The Idempotency-Key was used for another message, or the instance is unavailable", body = ErrorOut),
        (status = 413, description = "The body is too large", body = ErrorOut),
        (status = 415, description = "The body is not JSON", body = ErrorOut),
        (status = 429, description = "`rate_limited`: the instance sends faster than `limits.sends_per_second` (see Retry-After)", body = ErrorOut,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "The database is unavailable", body = ErrorOut),
    )
)]
async fn send(
    State(state): State<AppState>,
    InstanceCaller(instance): InstanceCaller,
    headers: HeaderMap,
    JsonBody(body): JsonBody<MessageIn>,
) -> ApiResult<Response> {
    let idempotency_key = match headers.get(IDEMPOTENCY_KEY) {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .map_err(|_| ApiError::invalid("Idempotency-Key", "must be printable ASCII"))?
                .to_owned(),
        ),
    };
    let (recipient, content) = body.into_core().map_err(ApiError::from_violation)?;
    let accepted = state
        .gateway
        .send(
            &instance,
            SendRequest {
                recipient,
                content,
                idempotency_key,
                recipient_username: None,
                callback: None,
            },
        )
        .await?;
    let body = AcceptedOut {
        id: accepted.message.id.to_string(),
        status: accepted.message.status.as_str(),
    };
    let mut response = (StatusCode::ACCEPTED, Json(body)).into_response();
    if accepted.replayed {
        response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// Shows a message, its status and every status it went through.
#[utoipa::path(
    get,
    path = "/api/v1/instances/{id}/messages/{messageId}",
    operation_id = "showMessage",
    tag = "messages",
    security(("instanceToken" = []), ("partnerToken" = [])),
    params(
        ("id" = u64, Path, description = "The instance id (10 digits)"),
        ("messageId" = String, Path, description = "The message id (a UUID)"),
    ),
    responses(
        (status = 200, description = "The message with its `transitions`", body = MessageOut),
        (status = 400, description = "The id is not a 10-digit number", body = ErrorOut),
        (status = 401, description = "No token, or not this instance's", body = ErrorOut),
        (status = 404, description = "No instance has this id, or it has no such message", body = ErrorOut),
        (status = 503, description = "The database is unavailable", body = ErrorOut),
    )
)]
async fn show(
    State(state): State<AppState>,
    InstanceCaller(instance): InstanceCaller,
    MessagePath(id): MessagePath,
) -> ApiResult<Json<MessageOut>> {
    let message = state.gateway.message(instance.id, id).await?;
    Ok(Json(MessageOut::with_history(&message)))
}

/// Lists the pending (`queued` / `sending`) messages in send order, at most
/// 1000.
#[utoipa::path(
    get,
    path = "/api/v1/instances/{id}/queue",
    operation_id = "showQueue",
    tag = "messages",
    security(("instanceToken" = []), ("partnerToken" = [])),
    params(("id" = u64, Path, description = "The instance id (10 digits)")),
    responses(
        (status = 200, description = "The pending messages", body = QueueOut),
        (status = 400, description = "The id is not a 10-digit number", body = ErrorOut),
        (status = 401, description = "No token, or not this instance's", body = ErrorOut),
        (status = 404, description = "No instance has this id", body = ErrorOut),
        (status = 503, description = "The database is unavailable", body = ErrorOut),
    )
)]
async fn queue(
    State(state): State<AppState>,
    InstanceCaller(instance): InstanceCaller,
) -> ApiResult<Json<QueueOut>> {
    let messages = state.gateway.queue(instance.id).await?;
    Ok(Json(QueueOut { messages: messages.iter().map(MessageOut::summary).collect() }))
}

/// Counts the pending messages.
#[utoipa::path(
    get,
    path = "/api/v1/instances/{id}/queue/count",
    operation_id = "countQueue",
    tag = "messages",
    security(("instanceToken" = []), ("partnerToken" = [])),
    params(("id" = u64, Path, description = "The instance id (10 digits)")),
    responses(
        (status = 200, description = "How many messages are pending", body = CountOut),
        (status = 400, description = "The id is not a 10-digit number", body = ErrorOut),
        (status = 401, description = "No token, or not this instance's", body = ErrorOut),
        (status = 404, description = "No instance has this id", body = ErrorOut),
        (status = 503, description = "The database is unavailable", body = ErrorOut),
    )
)]
async fn queue_count(
    State(state): State<AppState>,
    InstanceCaller(instance): InstanceCaller,
) -> ApiResult<Json<CountOut>> {
    Ok(Json(CountOut { count: state.gateway.queue_count(instance.id).await? }))
}

/// Clears the queue: queued messages become `failed` ("removed from the
/// queue").
#[utoipa::path(
    delete,
    path = "/api/v1/instances/{id}/queue",
    operation_id = "clearQueue",
    tag = "messages",
    security(("instanceToken" = []), ("partnerToken" = [])),
    params(("id" = u64, Path, description = "The instance id (10 digits)")),
    responses(
        (status = 200, description = "How many messages were removed", body = ClearedOut),
        (status = 400, description = "The id is not a 10-digit number", body = ErrorOut),
        (status = 401, description = "No token, or not this instance's", body = ErrorOut),
        (status = 404, description = "No instance has this id", body = ErrorOut),
        (status = 503, description = "The database is unavailable", body = ErrorOut),
    )
)]
async fn clear_queue(
    State(state): State<AppState>,
    InstanceCaller(instance): InstanceCaller,
) -> ApiResult<Json<ClearedOut>> {
    let removed = state.gateway.clear_queue(instance.id).await?;
    Ok(Json(ClearedOut { removed }))
}

/// The message and queue routes, with their documentation.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(send))
        .routes(routes!(show))
        .routes(routes!(queue, clear_queue))
        .routes(routes!(queue_count))
}
