//! Sending and the outbound queue: `POST …/messages`, `GET
//! …/messages/{messageId}`, `GET` / `DELETE …/queue`, `GET …/queue/count`.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chatgate_core::gateway::SendRequest;

use super::wire::{AcceptedOut, ClearedOut, CountOut, MessageIn, MessageOut, QueueOut};
use crate::AppState;
use crate::auth::InstanceCaller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, MessagePath};

/// The header that makes a retried send return the first answer.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

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

async fn show(
    State(state): State<AppState>,
    InstanceCaller(instance): InstanceCaller,
    MessagePath(id): MessagePath,
) -> ApiResult<Json<MessageOut>> {
    let message = state.gateway.message(instance.id, id).await?;
    Ok(Json(MessageOut::with_history(&message)))
}

async fn queue(
    State(state): State<AppState>,
    InstanceCaller(instance): InstanceCaller,
) -> ApiResult<Json<QueueOut>> {
    let messages = state.gateway.queue(instance.id).await?;
    Ok(Json(QueueOut { messages: messages.iter().map(MessageOut::summary).collect() }))
}

async fn queue_count(
    State(state): State<AppState>,
    InstanceCaller(instance): InstanceCaller,
) -> ApiResult<Json<CountOut>> {
    Ok(Json(CountOut { count: state.gateway.queue_count(instance.id).await? }))
}

async fn clear_queue(
    State(state): State<AppState>,
    InstanceCaller(instance): InstanceCaller,
) -> ApiResult<Json<ClearedOut>> {
    let removed = state.gateway.clear_queue(instance.id).await?;
    Ok(Json(ClearedOut { removed }))
}

/// The message and queue routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/instances/{id}/messages", axum::routing::post(send))
        .route("/api/v1/instances/{id}/messages/{messageId}", get(show))
        .route("/api/v1/instances/{id}/queue", get(queue).delete(clear_queue))
        .route("/api/v1/instances/{id}/queue/count", get(queue_count))
}
