//! `POST /apiaccess/api/instagram/message[/{chanId}]`.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, header};
use axum::routing::{any, post};
use chatgate_connectors::meta::webhook;
use chatgate_core::InstanceId;
use serde_json::{Value, json};

use super::error::HuaweiError;
use crate::AppState;
use crate::inbound::meta::{Routing, SIGNATURE_HEADER, ingest};

/// How the push proved who sent it.
enum Caller {
    /// Meta's signature with the app secret: Meta's own entries, for the
    /// instances connected to their accounts.
    Signed,
    /// An instance's API token: may deliver for that instance only.
    Instance(InstanceId),
}

/// Checks the signature or the bearer token, before anything about the
/// channel is told: an anonymous caller learns nothing of which channels
/// exist. The signature wins when both are present.
async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    channel: Option<InstanceId>,
) -> Result<Caller, HuaweiError> {
    if headers.contains_key(SIGNATURE_HEADER) {
        state.meta.verify(body, headers).map_err(HuaweiError::unauthorized)?;
        return Ok(Caller::Signed);
    }
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            HuaweiError::unauthorized(
                "sign the body with X-Hub-Signature-256 or send the channel's API token as Authorization: Bearer",
            )
        })?;
    let instance = state.gateway.authenticate_token(token).await.map_err(|e| match e {
        chatgate_core::Error::Unauthorized => {
            HuaweiError::unauthorized("the token is not a channel's token")
        }
        other => other.into(),
    })?;
    if let Some(channel) = channel
        && channel != instance.id
    {
        // A caller with a valid token may learn that a channel is unknown.
        state.gateway.instance(channel).await?;
        return Err(HuaweiError::unauthorized("the token is not this channel's token"));
    }
    Ok(Caller::Instance(instance.id))
}

async fn push(
    state: AppState,
    channel: Option<&str>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, HuaweiError> {
    // The seed knows 400, 401, 404 and 500: an oversized body is an
    // incorrect request.
    let body = body.map_err(|rejection| {
        if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            HuaweiError::bad_request(format!(
                "the body is larger than {} bytes",
                state.meta.max_body_bytes
            ))
        } else {
            HuaweiError::bad_request(rejection.body_text())
        }
    })?;
    let channel = match channel {
        Some(text) => Some(text.parse::<InstanceId>().map_err(|_| {
            HuaweiError::not_found(format!(
                "no channel {text:?}: a channel id is a chatgate instance id (10 digits)"
            ))
        })?),
        None => None,
    };
    let caller = authenticate(&state, &headers, &body, channel).await?;
    let target = match channel {
        Some(id) => Some(state.gateway.instance(id).await?),
        None => None,
    };
    let delivery = webhook::parse(&body).map_err(|e| HuaweiError::bad_request(e.to_string()))?;
    let routing = match (&target, &caller) {
        // The channel's own token: its data, whatever the entries say.
        (Some(instance), Caller::Instance(_)) => Routing::To(instance),
        // Meta's signature proves the entries are Meta's, not whose: a
        // channel takes only those of its own account.
        (Some(instance), Caller::Signed) => Routing::ByAccount { only: Some(instance.id) },
        (None, Caller::Instance(id)) => Routing::ByAccount { only: Some(*id) },
        (None, Caller::Signed) => Routing::ByAccount { only: None },
    };
    let summary = ingest(&state, delivery, routing).await?;
    tracing::debug!(?summary, "Huawei push stored");
    Ok(Json(json!({ "resultMsg": "200" })))
}

async fn push_to_channel(
    State(state): State<AppState>,
    Path(channel): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, HuaweiError> {
    push(state, Some(&channel), headers, body).await
}

async fn push_by_account(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, HuaweiError> {
    push(state, None, headers, body).await
}

async fn wrong_method() -> HuaweiError {
    HuaweiError {
        status: axum::http::StatusCode::METHOD_NOT_ALLOWED,
        description: "this endpoint takes POST only".into(),
    }
}

async fn no_such_path() -> HuaweiError {
    HuaweiError::not_found("no such path: push to /apiaccess/api/instagram/message/{chanId}")
}

/// The endpoint's routes (with and without the optional channel id); other
/// methods and paths under `/apiaccess` answer in the seed's envelope too.
pub fn router(max_body_bytes: usize) -> Router<AppState> {
    Router::new()
        .route("/apiaccess/api/instagram/message", post(push_by_account).fallback(wrong_method))
        .route("/apiaccess/api/instagram/message/", post(push_by_account).fallback(wrong_method))
        .route(
            "/apiaccess/api/instagram/message/{chanId}",
            post(push_to_channel).fallback(wrong_method),
        )
        .route("/apiaccess/{*rest}", any(no_such_path))
        .layer(DefaultBodyLimit::max(max_body_bytes))
}
