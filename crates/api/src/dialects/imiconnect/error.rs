//! The dialect's error envelope: `{"code": "INVALID_REQUEST", "description":
//! "…", "field": "quickReplies[1].title"}` (`field` when one field is at
//! fault), with the matching HTTP status.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chatgate_core::{Error, Missing};
use serde_json::json;

use crate::error::ApiError;

/// An error answer of the imiconnect dialect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable code, e.g. `INVALID_REQUEST`.
    pub code: &'static str,
    /// What is wrong, for people.
    pub description: String,
    /// The request field at fault, in the seed's naming.
    pub field: Option<String>,
}

impl ImiError {
    /// 400 `INVALID_REQUEST` about one field.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "INVALID_REQUEST",
            description: description.into(),
            field: Some(field.into()),
        }
    }

    /// 401 `UNAUTHORIZED`.
    pub fn unauthorized(description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            code: "UNAUTHORIZED",
            description: description.into(),
            field: None,
        }
    }

    /// 404 `NOT_FOUND`.
    pub fn not_found(description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code: "NOT_FOUND",
            description: description.into(),
            field: None,
        }
    }
}

impl From<ApiError> for ImiError {
    fn from(error: ApiError) -> Self {
        let code = match error.code {
            "malformed_json" => "MALFORMED_JSON",
            "invalid_request" => "INVALID_REQUEST",
            "unauthorized" => "UNAUTHORIZED",
            "not_found" => "NOT_FOUND",
            "conflict" => "CONFLICT",
            "instance_unavailable" => "INSTANCE_UNAVAILABLE",
            "payload_too_large" => "PAYLOAD_TOO_LARGE",
            "unsupported_media_type" => "UNSUPPORTED_MEDIA_TYPE",
            "platform_unavailable" => "PLATFORM_UNAVAILABLE",
            "unavailable" => "SERVICE_UNAVAILABLE",
            "method_not_allowed" => "METHOD_NOT_ALLOWED",
            _ => "INTERNAL_ERROR",
        };
        Self { status: error.status, code, description: error.detail, field: error.field }
    }
}

impl From<Error> for ImiError {
    #[track_caller]
    fn from(error: Error) -> Self {
        match error {
            Error::NotFound(Missing::Message) => Self::not_found("no message with this id"),
            Error::Invalid(violation) => {
                let field = super::convert::imiconnect_field(&violation.field);
                let description = violation.message;
                if field.is_empty() {
                    Self { field: None, ..Self::invalid("", description) }
                } else {
                    Self::invalid(field, description)
                }
            }
            other => ApiError::from(other).into(),
        }
    }
}

impl IntoResponse for ImiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "code": self.code, "description": self.description });
        if let Some(field) = self.field {
            body["field"] = json!(field);
        }
        (self.status, Json(body)).into_response()
    }
}
