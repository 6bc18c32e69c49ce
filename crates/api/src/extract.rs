//! Extractors that turn every malformed request into the native error
//! envelope: JSON bodies (with the path of the wrong field), path ids,
//! bearer tokens.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use chatgate_core::{EventId, InstanceId, MessageId};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON request body. Refuses a body that is not JSON, is over the size
/// limit (413), or does not fit `T` (400 naming the field that is wrong).
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| {
                let v = v.trim().to_ascii_lowercase();
                v == "application/json" || v.ends_with("+json")
            })
            .unwrap_or(false);
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    "the request body is larger than this server accepts",
                )
            } else if crate::deadline::is_body_timeout(&rejection) {
                ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "request_timeout",
                    "the request body came in too slowly",
                )
            } else {
                ApiError::new(rejection.status(), "bad_body", rejection.body_text())
            }
        })?;
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the body must be JSON, sent with Content-Type: application/json",
            ));
        }
        parse_json(&bytes).map(JsonBody)
    }
}

/// Parses JSON into `T`, naming the field that does not fit.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize::<_, T>(&mut de).map_err(|error| {
        let path = error.path().to_string();
        json_error(Some(path), error.into_inner())
    })?;
    // Trailing characters after the JSON value.
    de.end().map_err(|e| json_error(None, e))?;
    Ok(value)
}

fn json_error(path: Option<String>, inner: serde_json::Error) -> ApiError {
    let detail = strip_position(&inner.to_string());
    match path.filter(|p| p != "." && !p.is_empty()) {
        _ if inner.is_syntax() || inner.is_eof() => ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("the body is not valid JSON: {detail}"),
        ),
        Some(path) => ApiError::invalid(path.clone(), format!("{path}: {detail}")),
        None => ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", detail),
    }
}

/// serde_json appends " at line 1 column 42"; people need the field, not
/// the column.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// The `{id}` of `/api/v1/instances/{id}/…`, checked to be 10 digits.
#[derive(Debug, Clone, Copy)]
pub struct InstancePath(pub InstanceId);

impl<S: Send + Sync> FromRequestParts<S> for InstancePath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let raw = path_param(parts, "id").await?;
        raw.parse::<InstanceId>().map(InstancePath).map_err(|_| {
            ApiError::invalid("id", format!("instance id must be a 10-digit number, got {raw:?}"))
        })
    }
}

/// The `{messageId}` of a message path, checked to be a UUID.
#[derive(Debug, Clone, Copy)]
pub struct MessagePath(pub MessageId);

impl<S: Send + Sync> FromRequestParts<S> for MessagePath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let raw = path_param(parts, "messageId").await?;
        raw.parse::<MessageId>()
            .map(MessagePath)
            .map_err(|_| ApiError::not_found("this instance has no message with this id"))
    }
}

/// The `{receiptId}` of a notification path, checked to be a number.
#[derive(Debug, Clone, Copy)]
pub struct ReceiptPath(pub u64);

impl<S: Send + Sync> FromRequestParts<S> for ReceiptPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let raw = path_param(parts, "receiptId").await?;
        raw.parse::<u64>().map(ReceiptPath).map_err(|_| {
            ApiError::invalid("receiptId", format!("receiptId must be a number, got {raw:?}"))
        })
    }
}

/// The `{eventId}` of an event path, checked to be a UUID.
#[derive(Debug, Clone, Copy)]
pub struct EventPath(pub EventId);

impl<S: Send + Sync> FromRequestParts<S> for EventPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let raw = path_param(parts, "eventId").await?;
        raw.parse::<EventId>()
            .map(EventPath)
            .map_err(|_| ApiError::not_found("this instance has no event with this id"))
    }
}

/// Query-string parameters, refused with the parameter's name when they do
/// not fit `T`.
#[derive(Debug, Clone)]
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize::<_, T>(de).map(QueryParams).map_err(|error| {
            let path = error.path().to_string();
            let detail = error.into_inner().to_string();
            if path == "." || path.is_empty() {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    format!("query: {detail}"),
                )
            } else {
                ApiError::invalid(path.clone(), format!("{path}: {detail}"))
            }
        })
    }
}

async fn path_param(parts: &mut Parts, name: &str) -> Result<String, ApiError> {
    let params = axum::extract::RawPathParams::from_request_parts(parts, &())
        .await
        .map_err(|_| ApiError::not_found("no such route"))?;
    params
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
        .ok_or_else(|| ApiError::not_found("no such route"))
}

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer_token(parts: &Parts) -> Result<&str, ApiError> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer <token> header"))?;
    let value = value
        .to_str()
        .map_err(|_| ApiError::unauthorized("the Authorization header is not valid text"))?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or_else(|| ApiError::unauthorized("the Authorization header must be Bearer <token>"))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::unauthorized("the Authorization header must be Bearer <token>"));
    }
    Ok(token.trim())
}
