//! The endpoint's answer envelope: `{"resultMsg": "<status>"}`, with a
//! `resultDesc` sentence on failures.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// A failed push, answered in the seed's form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HuaweiError {
    /// 400, 401, 404 or 500.
    pub status: StatusCode,
    /// What is wrong, for a person.
    pub description: String,
}

impl HuaweiError {
    /// 400: "Incorrect request. Check the request path and parameters."
    pub fn bad_request(description: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, description: description.into() }
    }

    /// 401: "Unauthorized operation."
    pub fn unauthorized(description: impl Into<String>) -> Self {
        Self { status: StatusCode::UNAUTHORIZED, description: description.into() }
    }

    /// 404: "The requested content is not found."
    pub fn not_found(description: impl Into<String>) -> Self {
        Self { status: StatusCode::NOT_FOUND, description: description.into() }
    }

    /// 500: "Business failure."
    pub fn business(description: impl Into<String>) -> Self {
        Self { status: StatusCode::INTERNAL_SERVER_ERROR, description: description.into() }
    }
}

impl From<chatgate_core::Error> for HuaweiError {
    fn from(error: chatgate_core::Error) -> Self {
        use chatgate_core::Error;
        match error {
            Error::Invalid(violation) => Self::bad_request(violation.to_string()),
            Error::NotFound(_) => Self::not_found("no such channel"),
            Error::Unauthorized => Self::unauthorized("the token is not this channel's token"),
            Error::Unavailable(_) => {
                Self::business("the gateway cannot store the message right now; push it again")
            }
            Error::Conflict(detail)
            | Error::InstanceUnavailable(detail)
            | Error::PlatformUnavailable(detail) => Self::business(detail),
            Error::Internal(detail) => {
                tracing::error!(%detail, "internal error on the Huawei push endpoint");
                Self::business("internal error")
            }
        }
    }
}

impl IntoResponse for HuaweiError {
    fn into_response(self) -> Response {
        let body = json!({
            "resultMsg": self.status.as_u16().to_string(),
            "resultDesc": self.description,
        });
        (self.status, Json(body)).into_response()
    }
}
