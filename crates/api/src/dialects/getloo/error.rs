//! Getloo's error envelope: `{"result": {"success": false}, "error": "…"}`
//! with 400 (bad request), 401 (unknown token) or 402 (no active channel).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chatgate_core::{Error, Missing};
use serde_json::{Value, json};

use super::convert::getloo_field;

/// An error answer of the Getloo dialect.
#[derive(Debug, Clone, PartialEq)]
pub struct GetlooError {
    /// 400, 401, 402 (or 503/500 when chatgate itself fails).
    pub status: StatusCode,
    /// The description in `error`.
    pub message: String,
    /// A `channel` block to show anyway (402 of the read methods).
    pub channel: Option<Value>,
}

impl GetlooError {
    /// 400 with a description.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, message: message.into(), channel: None }
    }

    /// 413: the body is over the server's limit.
    pub fn payload_too_large() -> Self {
        Self {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            message: "the request body is larger than this server accepts".into(),
            channel: None,
        }
    }

    /// 401: the token names no channel.
    pub fn invalid_token() -> Self {
        Self { status: StatusCode::UNAUTHORIZED, message: "invalid token".into(), channel: None }
    }

    /// 402: the channel is not paid (active) or not authorized.
    pub fn inactive(channel: Option<Value>) -> Self {
        Self {
            status: StatusCode::PAYMENT_REQUIRED,
            message: "no active channel: the channel is not active or not authorized".into(),
            channel,
        }
    }
}

impl From<Error> for GetlooError {
    #[track_caller]
    fn from(error: Error) -> Self {
        match error {
            Error::Invalid(v) => {
                let field = getloo_field(&v.field);
                if field.is_empty() {
                    GetlooError::bad_request(v.message)
                } else {
                    GetlooError::bad_request(format!("{field}: {}", v.message))
                }
            }
            Error::Unauthorized | Error::NotFound(Missing::Instance) => {
                GetlooError::invalid_token()
            }
            Error::NotFound(_) => GetlooError::bad_request("not found"),
            Error::Conflict(detail) => GetlooError::bad_request(detail),
            Error::InstanceUnavailable(_) => GetlooError::inactive(None),
            Error::PlatformUnavailable(detail) => {
                GetlooError { status: StatusCode::BAD_GATEWAY, message: detail, channel: None }
            }
            Error::Unavailable(detail) => {
                tracing::warn!(%detail, location = %std::panic::Location::caller(), "storage unavailable");
                GetlooError {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    message: "temporarily unavailable; retry later".into(),
                    channel: None,
                }
            }
            Error::Internal(detail) => {
                tracing::error!(%detail, location = %std::panic::Location::caller(), "internal error");
                GetlooError {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    message: "internal error".into(),
                    channel: None,
                }
            }
        }
    }
}

impl IntoResponse for GetlooError {
    fn into_response(self) -> Response {
        let mut body = json!({"result": {"success": false}, "error": self.message});
        if let Some(channel) = self.channel {
            body["channel"] = channel;
        }
        (self.status, Json(body)).into_response()
    }
}
