//! Chats with one contact: `POST …/chats/{contactId}/read` (mark the chat
//! read on the platform), `POST …/chats/{contactId}/typing` (show
//! "typing…"), and `GET …/contacts/{contactId}` (what is known of them: the
//! profile and when they last wrote, which opens the 24-hour window).

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::InstanceCaller;
use crate::error::{ApiError, ApiResult};
use crate::extract::parse_json;

/// Longest contact id accepted in a path.
const CONTACT_MAX_CHARS: usize = 256;

#[derive(Debug, Deserialize)]
struct ChatPath {
    #[serde(rename = "contactId")]
    contact: String,
}

fn contact_of(path: ChatPath) -> ApiResult<String> {
    if path.contact.is_empty() || path.contact.chars().count() > CONTACT_MAX_CHARS {
        return Err(ApiError::invalid("contactId", "must be the platform's id of the contact"));
    }
    Ok(path.contact)
}

/// `POST …/chats/{contactId}/read`, body optional: `{"messageId"}`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ReadIn {
    #[serde(default)]
    message_id: Option<String>,
}

async fn read(
    State(state): State<AppState>,
    InstanceCaller(instance): InstanceCaller,
    Path(path): Path<ChatPath>,
    body: Bytes,
) -> ApiResult<StatusCode> {
    let contact = contact_of(path)?;
    let read: ReadIn = if body.iter().all(u8::is_ascii_whitespace) {
        ReadIn::default()
    } else {
        parse_json(&body)?
    };
    let message = read.message_id;
    state.gateway.mark_read(&instance, &contact, message.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn typing(
    State(state): State<AppState>,
    InstanceCaller(instance): InstanceCaller,
    Path(path): Path<ChatPath>,
) -> ApiResult<StatusCode> {
    let contact = contact_of(path)?;
    state.gateway.typing(&instance, &contact).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn contact(
    State(state): State<AppState>,
    InstanceCaller(instance): InstanceCaller,
    Path(path): Path<ChatPath>,
) -> ApiResult<Json<Value>> {
    let id = contact_of(path)?;
    let known = state
        .gateway
        .contact(instance.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("this contact never wrote to the instance"))?;
    Ok(Json(json!({
        "id": known.id,
        "username": known.username,
        "name": known.name,
        "lastInboundAt": known.last_inbound_at.map(|t| t.to_rfc3339()),
    })))
}

/// The chat routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/instances/{id}/chats/{contactId}/read", post(read))
        .route("/api/v1/instances/{id}/chats/{contactId}/typing", post(typing))
        .route("/api/v1/instances/{id}/contacts/{contactId}", get(contact))
}
