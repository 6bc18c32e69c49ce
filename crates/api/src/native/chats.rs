//! Chats with one contact: `POST …/chats/{contactId}/read` (mark the chat
//! read on the platform), `POST …/chats/{contactId}/typing` (show
//! "typing…"), and `GET …/contacts/{contactId}` (what is known of them: the
//! profile and when they last wrote, which opens the 24-hour window).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::wire::ContactOut;
use crate::AppState;
use crate::auth::InstanceCaller;
use crate::error::{ApiError, ApiResult, ErrorOut};
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
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ReadIn {
    /// The platform id of the last message read.
    #[serde(default)]
    message_id: Option<String>,
}

/// Marks the chat read on the platform (Instagram: `mark_seen`).
///
/// The body is optional.
#[utoipa::path(
    post,
    path = "/api/v1/instances/{id}/chats/{contactId}/read",
    operation_id = "markChatRead",
    tag = "chats",
    security(("instanceToken" = []), ("partnerToken" = [])),
    params(
        ("id" = u64, Path, description = "The instance id (10 digits)"),
        ("contactId" = String, Path, description = "The platform's id of the contact"),
    ),
    request_body = Option<ReadIn>,
    responses(
        (status = 204, description = "Marked read"),
        (status = 400, description = "The id, the contact id or the body is wrong", body = ErrorOut),
        (status = 401, description = "No token, or not this instance's", body = ErrorOut),
        (status = 404, description = "No instance has this id", body = ErrorOut),
        (status = 409, description = "The instance is unavailable", body = ErrorOut),
        (status = 502, description = "The platform could not be reached; nothing changed", body = ErrorOut),
        (status = 503, description = "The database is unavailable", body = ErrorOut),
    )
)]
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

/// Shows "typing…" to the contact (Instagram: `typing_on`).
#[utoipa::path(
    post,
    path = "/api/v1/instances/{id}/chats/{contactId}/typing",
    operation_id = "showTyping",
    tag = "chats",
    security(("instanceToken" = []), ("partnerToken" = [])),
    params(
        ("id" = u64, Path, description = "The instance id (10 digits)"),
        ("contactId" = String, Path, description = "The platform's id of the contact"),
    ),
    responses(
        (status = 204, description = "Shown"),
        (status = 400, description = "The id or the contact id is wrong", body = ErrorOut),
        (status = 401, description = "No token, or not this instance's", body = ErrorOut),
        (status = 404, description = "No instance has this id", body = ErrorOut),
        (status = 409, description = "The instance is unavailable", body = ErrorOut),
        (status = 502, description = "The platform could not be reached; nothing changed", body = ErrorOut),
        (status = 503, description = "The database is unavailable", body = ErrorOut),
    )
)]
async fn typing(
    State(state): State<AppState>,
    InstanceCaller(instance): InstanceCaller,
    Path(path): Path<ChatPath>,
) -> ApiResult<StatusCode> {
    let contact = contact_of(path)?;
    state.gateway.typing(&instance, &contact).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Shows what is known of a contact: the profile and when they last wrote,
/// which opens the 24-hour window.
#[utoipa::path(
    get,
    path = "/api/v1/instances/{id}/contacts/{contactId}",
    operation_id = "showContact",
    tag = "chats",
    security(("instanceToken" = []), ("partnerToken" = [])),
    params(
        ("id" = u64, Path, description = "The instance id (10 digits)"),
        ("contactId" = String, Path, description = "The platform's id of the contact"),
    ),
    responses(
        (status = 200, description = "The contact", body = ContactOut),
        (status = 400, description = "The id or the contact id is wrong", body = ErrorOut),
        (status = 401, description = "No token, or not this instance's", body = ErrorOut),
        (status = 404, description = "No instance has this id, or the contact never wrote to it", body = ErrorOut),
        (status = 503, description = "The database is unavailable", body = ErrorOut),
    )
)]
async fn contact(
    State(state): State<AppState>,
    InstanceCaller(instance): InstanceCaller,
    Path(path): Path<ChatPath>,
) -> ApiResult<Json<ContactOut>> {
    let id = contact_of(path)?;
    let known = state
        .gateway
        .contact(instance.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("this contact never wrote to the instance"))?;
    Ok(Json(ContactOut {
        id: known.id,
        username: known.username,
        name: known.name,
        last_inbound_at: known.last_inbound_at.map(|t| t.to_rfc3339()),
    }))
}

/// The chat routes, with their documentation.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(read)).routes(routes!(typing)).routes(routes!(contact))
}
