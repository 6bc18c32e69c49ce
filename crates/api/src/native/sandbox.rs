//! `POST /api/v1/instances/{id}/sandbox/incoming`: play the customer of a
//! sandbox instance — write, send a file, comment, react, post a story —
//! and get exactly the events a real platform would produce.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::post;
use chatgate_connectors::sandbox::inbound::{self, IncomingType, SandboxIncoming};
use chatgate_core::event::Sender;
use chatgate_core::store::Ingested;
use chatgate_core::{ConnectorKind, Error};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::InstanceCaller;
use crate::error::{ApiError, ApiResult};
use crate::extract::JsonBody;

/// The customer.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct FromIn {
    pub id: String,
    pub username: Option<String>,
    pub name: Option<String>,
}

/// What the customer does.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct IncomingIn {
    pub from: FromIn,
    /// text, image, video, audio, file, comment, reaction or status.
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

async fn incoming(
    State(state): State<AppState>,
    InstanceCaller(instance): InstanceCaller,
    JsonBody(body): JsonBody<IncomingIn>,
) -> ApiResult<Json<Value>> {
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
        Some(Ingested::Stored(id)) => json!({"eventId": id.to_string(), "duplicate": false}),
        _ => json!({"eventId": null, "duplicate": true}),
    }))
}

/// The sandbox routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/instances/{id}/sandbox/incoming", post(incoming))
}
