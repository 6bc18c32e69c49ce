//! GREEN-API's error answers.
//!
//! The instance API answers an HTTP status with a JSON body
//! `{"statusCode", "timestamp", "path", "message"}` (400 "Validation failed.
//! Details: …", 401 bad token, 403 unknown instance, 429 too many requests);
//! 466 carries GREEN-API's quota body `{"invokeStatus": {…}}`. GREEN-API
//! echoes the whole request path, token included; chatgate leaves the token
//! out — a token never appears in an answer.
//!
//! The partner API answers errors with HTTP 200 and `{"code", "description"}`
//! (seed 003).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chatgate_core::{Error, Missing, Timestamp};
use serde_json::{Value, json};

/// An error of the instance API.
#[derive(Debug, Clone, PartialEq)]
pub struct GreenError {
    /// The HTTP status (400, 401, 403, 429, 466, 500, 503).
    pub status: StatusCode,
    /// What went wrong.
    pub message: String,
    /// The request path without the token.
    pub path: String,
    /// A body other than the standard one (466).
    pub body: Option<Value>,
}

impl GreenError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), path: String::new(), body: None }
    }

    /// 400 "Validation failed. Details: …".
    pub fn validation(details: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::BAD_REQUEST, format!("Validation failed. Details: {details}"))
    }

    /// 400 with a plain reason (a state or business error).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 401: the token is not this instance's.
    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Unauthorized")
    }

    /// 403: no such instance.
    pub fn forbidden() -> Self {
        Self::new(StatusCode::FORBIDDEN, "Forbidden")
    }

    /// 404: no such method.
    pub fn unknown_method(method: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("method {method} is not found"))
    }

    /// 429: the instance's limit for this method is reached.
    pub fn too_many_requests() -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests")
    }

    /// 429 with a reason (too many long polls waiting).
    pub fn too_many_requests_because(reason: impl Into<String>) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, format!("Too Many Requests: {}", reason.into()))
    }

    /// 413: the body (or file) is over the server's limit of `limit` bytes.
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("Payload Too Large: this server accepts at most {limit} bytes"),
        )
    }

    /// 466: the monthly quota is used up.
    pub fn quota_exceeded(method: &str, used: u64, total: u64) -> Self {
        let mut error = Self::new(
            StatusCode::from_u16(466).unwrap_or(StatusCode::TOO_MANY_REQUESTS),
            "Monthly quota has been exceeded",
        );
        error.body = Some(json!({"invokeStatus": {
            "method": method.to_ascii_lowercase(),
            "used": used,
            "total": total,
            "status": "QUOTE_EXCEEDED",
            "description": "Monthly quota has been exceeded. Ask the gateway's operator to raise greenapi.monthly_message_quota",
        }}));
        error
    }

    /// The same error, reported for `path`.
    pub fn at(mut self, path: &str) -> Self {
        self.path = path.to_owned();
        self
    }
}

impl From<Error> for GreenError {
    #[track_caller]
    fn from(error: Error) -> Self {
        match error {
            Error::Invalid(v) => {
                let field = v.field.to_string();
                if field.is_empty() {
                    GreenError::validation(v.message)
                } else {
                    GreenError::validation(format!("'{field}' {}", v.message))
                }
            }
            Error::Unauthorized => GreenError::unauthorized(),
            Error::NotFound(Missing::Instance) => GreenError::forbidden(),
            Error::NotFound(_) => GreenError::bad_request("not found"),
            Error::Conflict(detail) => GreenError::bad_request(detail),
            Error::InstanceUnavailable(detail) => GreenError::bad_request(detail),
            Error::PlatformUnavailable(detail) => GreenError::new(StatusCode::BAD_GATEWAY, detail),
            Error::Unavailable(detail) => {
                tracing::warn!(%detail, location = %std::panic::Location::caller(), "storage unavailable");
                GreenError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily unavailable, retry later",
                )
            }
            Error::Internal(detail) => {
                tracing::error!(%detail, location = %std::panic::Location::caller(), "internal error");
                GreenError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
            }
        }
    }
}

impl IntoResponse for GreenError {
    fn into_response(self) -> Response {
        let body = self.body.unwrap_or_else(|| {
            json!({
                "statusCode": self.status.as_u16(),
                "timestamp": Timestamp::from_millis(
                    i64::try_from(
                        std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .map(|d| d.as_millis())
                            .unwrap_or(0),
                    )
                    .unwrap_or(0),
                )
                .to_rfc3339(),
                "path": self.path,
                "message": self.message,
            })
        });
        (self.status, Json(body)).into_response()
    }
}

/// An error of the partner API: HTTP 200 with `{"code", "description"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerError {
    /// GREEN-API's code (400, 401, 404, 500).
    pub code: u16,
    /// What went wrong.
    pub description: String,
}

impl PartnerError {
    /// A partner error.
    pub fn new(code: u16, description: impl Into<String>) -> Self {
        Self { code, description: description.into() }
    }
}

impl From<Error> for PartnerError {
    fn from(error: Error) -> Self {
        match error {
            Error::Invalid(v) => {
                let field = v.field.to_string();
                PartnerError::new(
                    400,
                    format!("Validation failed. Details: '{field}' {}", v.message),
                )
            }
            Error::NotFound(_) => PartnerError::new(404, "Not found"),
            Error::Unauthorized => PartnerError::new(401, "Unauthorized"),
            other => {
                tracing::warn!(error = %other, "partner API failure");
                PartnerError::new(500, "Internal error")
            }
        }
    }
}

impl IntoResponse for PartnerError {
    fn into_response(self) -> Response {
        (StatusCode::OK, Json(json!({"code": self.code, "description": self.description})))
            .into_response()
    }
}
