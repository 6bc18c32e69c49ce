//! `POST /v1/instagram/messages` and `GET /v1/instagram/messages/{messageId}`.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use chatgate_core::gateway::SendRequest;
use chatgate_core::{MessageId, MessageStatus};
use serde_json::json;

use super::auth::caller;
use super::convert::outgoing;
use super::error::ImiError;
use super::wire::MessageIn;
use crate::AppState;
use crate::error::ApiError;
use crate::extract::parse_json;

/// The seed's upper-case name of a status.
pub fn status_name(status: MessageStatus) -> &'static str {
    match status {
        MessageStatus::Queued => "QUEUED",
        MessageStatus::Sending => "SENDING",
        MessageStatus::Sent => "SENT",
        MessageStatus::Delivered => "DELIVERED",
        MessageStatus::Read => "READ",
        MessageStatus::Failed => "FAILED",
        MessageStatus::Expired => "EXPIRED",
    }
}

fn body_error(rejection: BytesRejection) -> ImiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the request body is larger than this server accepts",
        )
        .into()
    } else {
        ApiError::new(rejection.status(), "invalid_request", rejection.body_text()).into()
    }
}

/// `POST /v1/instagram/messages` → 202 `{messageId, acceptedTime,
/// correlationId, status}`.
async fn send(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ImiError> {
    let body = body.map_err(body_error)?;
    let instance = caller(&state, &headers).await?;
    if instance.kind == chatgate_core::ConnectorKind::Whatsapp {
        return Err(ImiError {
            status: StatusCode::BAD_REQUEST,
            code: "WRONG_CHANNEL",
            description: "this is a WhatsApp instance; the Instagram API sends through instagram \
                          (or sandbox) instances"
                .into(),
            field: None,
        });
    }
    let message: MessageIn = parse_json(&body).map_err(ImiError::from)?;
    let outgoing = outgoing(message)?;
    let correlation_id = outgoing.callback.correlation_id.clone();
    let accepted = state
        .gateway
        .send(
            &instance,
            SendRequest {
                recipient: outgoing.recipient,
                content: outgoing.content,
                idempotency_key: None,
                recipient_username: None,
                callback: (!outgoing.callback.is_empty()).then_some(outgoing.callback),
            },
        )
        .await?;
    tracing::debug!(message = %accepted.message.id, instance = %instance.id, "imiconnect message accepted");
    let mut answer = json!({
        "messageId": accepted.message.id.to_string(),
        "acceptedTime": accepted.message.created_at.to_rfc3339(),
        "status": status_name(accepted.message.status),
    });
    if let Some(correlation_id) = correlation_id {
        answer["correlationId"] = json!(correlation_id);
    }
    Ok((StatusCode::ACCEPTED, Json(answer)).into_response())
}

/// `GET /v1/instagram/messages/{messageId}`: the message's current status.
async fn status(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ImiError> {
    let instance = caller(&state, &headers).await?;
    let id: MessageId = id.parse().map_err(|_| ImiError::not_found("no message with this id"))?;
    let message = state.gateway.message(instance.id, id).await?;
    let status_time =
        message.transitions.last().map(|t| t.at).unwrap_or(message.created_at).to_rfc3339();
    let callback = message.callback.unwrap_or_default();
    let mut body = json!({
        "messageId": message.id.to_string(),
        "to": message.recipient.id(),
        "status": status_name(message.status),
        "statusTime": status_time,
        "acceptedTime": message.created_at.to_rfc3339(),
    });
    if let Some(correlation_id) = &callback.correlation_id {
        body["correlationId"] = json!(correlation_id);
    }
    if let Some(data) = &callback.data {
        body["callbackData"] = json!(data);
    }
    if let Some(provider) = &message.provider_message_id {
        body["providerMessageId"] = json!(provider);
    }
    if let Some(reason) = &message.failure {
        body["reason"] = json!(reason);
    }
    Ok(Json(body))
}

async fn wrong_method() -> ImiError {
    ImiError {
        status: StatusCode::METHOD_NOT_ALLOWED,
        code: "METHOD_NOT_ALLOWED",
        description: "this path does not take this method".into(),
        field: None,
    }
}

async fn no_such_path() -> ImiError {
    ImiError::not_found("no such path: messages go to POST /v1/instagram/messages")
}

/// The dialect's routes; other paths under `/v1/instagram` answer in its
/// envelope.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/instagram/messages", post(send).fallback(wrong_method))
        .route("/v1/instagram/messages/{messageId}", get(status).fallback(wrong_method))
        .route("/v1/instagram/{*rest}", any(no_such_path))
}
