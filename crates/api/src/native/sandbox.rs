//! `POST /api/v1/instances/{id}/sandbox/incoming`: play the customer of a
//! sandbox instance — write, send a file, comment, react, post a story —
//! and get exactly the events a real platform would produce.

use axum::Json;
use axum::extract::State;
use chatgate_connectors::sandbox::inbound::{self, IncomingType, SandboxIncoming};
use chatgate_core::event::Sender;
use chatgate_core::store::Ingested;
use chatgate_core::{ConnectorKind, Error};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::wire::IngestedOut;
use crate::AppState;
use crate::auth::InstanceCaller;
use crate::error::{ApiError, ApiResult, ErrorOut};
use crate::extract::JsonBody;

/// The customer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct FromIn {
    pub id: String,
    pub username: Option<String>,
    pub name: Option<String>,
}

/// What the customer does.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct IncomingIn {
    pub from: FromIn,
    /// text, image, video, audio, file, comment, reaction, status, location
    /// or contact.
    #[serde(rename = "type")]
    pub kind: String,
    pub text: Option<String>,
    pub url: Option<String>,
    pub mime_type: Option<String>,
    pub file_name: Option<String>,
    pub comment_id: Option<String>,
    pub media_id: Option<String>,
    /// The platform id of this message or status; the same id twice is a
    /// redelivery and is deduplicated.
    pub id: Option<String>,
    /// For a reaction: the providerMessageId of the message reacted to.
    pub react_to: Option<String>,
    /// For a reaction: `react` (default) or `unreact`.
    pub action: Option<String>,
    /// For a location.
    pub latitude: Option<f64>,
    /// For a location.
    pub longitude: Option<f64>,
    /// For a location.
    pub address: Option<String>,
    /// For a contact: the phone number, digits only.
    pub phone: Option<String>,
}

/// Plays the customer of a sandbox instance.
///
/// Produces exactly the event a real platform would, and records the
/// customer as a contact. The same `id` twice is a platform redelivery:
/// stored once, answered `duplicate: true`.
#[utoipa::path(
    post,
    path = "/api/v1/instances/{id}/sandbox/incoming",
    operation_id = "playSandboxCustomer",
    tag = "sandbox",
    security(("instanceToken" = []), ("partnerToken" = [])),
    params(("id" = u64, Path, description = "The instance id (10 digits)")),
    request_body = IncomingIn,
    responses(
        (status = 200, description = "The event it produced", body = IngestedOut),
        (status = 400, description = "The id, the body or a field is wrong", body = ErrorOut),
        (status = 401, description = "No token, or not this instance's", body = ErrorOut),
        (status = 404, description = "No instance has this id", body = ErrorOut),
        (status = 409, description = "`instance_unavailable`: not a sandbox instance", body = ErrorOut),
        (status = 413, description = "The body is too large", body = ErrorOut),
        (status = 415, description = "The body is not JSON", body = ErrorOut),
        (status = 503, description = "The database is unavailable", body = ErrorOut),
    )
)]
async fn incoming(
    State(state): State<AppState>,
    InstanceCaller(instance): InstanceCaller,
    JsonBody(body): JsonBody<IncomingIn>,
) -> ApiResult<Json<IngestedOut>> {
    if instance.kind != ConnectorKind::Sandbox {
        return Err(Error::InstanceUnavailable(
            "only a sandbox instance has a customer to play; real platforms report through their webhooks".into(),
        )
        .into());
    }
    let IncomingIn {
        from,
        kind,
        text,
        url,
        mime_type,
        file_name,
        comment_id,
        media_id,
        id,
        react_to,
        action,
        latitude,
        longitude,
        address,
        phone,
    } = body;
    let kind = IncomingType::parse(&kind).ok_or_else(|| {
        ApiError::invalid(
            "type",
            "type must be one of text, image, video, audio, file, comment, reaction, status, location, contact",
        )
    })?;
    let unreact = match action.as_deref() {
        None | Some("react") => false,
        Some("unreact") => true,
        Some(_) => return Err(ApiError::invalid("action", "action must be react or unreact")),
    };
    let request = SandboxIncoming {
        from: Sender { id: from.id, username: from.username, name: from.name },
        kind,
        text,
        url,
        mime_type,
        file_name,
        comment_id,
        media_id,
        id,
        react_to,
        unreact,
        latitude,
        longitude,
        address,
        phone,
    };
    let event = inbound::event(request).map_err(ApiError::from_violation)?;
    let outcome = state.gateway.ingest(instance.id, vec![event]).await?;
    Ok(Json(match outcome.first() {
        Some(Ingested::Stored(id)) => {
            IngestedOut { event_id: Some(id.to_string()), duplicate: false }
        }
        _ => IngestedOut { event_id: None, duplicate: true },
    }))
}

/// The sandbox routes, with their documentation.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(incoming))
}
