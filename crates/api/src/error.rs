//! The native API's error envelope, `{"code", "detail", "field"?}`, and the
//! one mapping from core errors to HTTP statuses.
//!
//! Client errors carry a stable `code` and a sentence for people. Internal
//! errors are logged where they happen; the client sees an opaque 500.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chatgate_core::{Error, Missing};
use serde::Serialize;
use utoipa::ToSchema;

/// An error answer of the native API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable machine-readable code, e.g. `invalid_request`.
    pub code: &'static str,
    /// What went wrong, for people.
    pub detail: String,
    /// The request field that is wrong, when one is.
    pub field: Option<String>,
    /// Seconds to wait before trying again (`Retry-After`), when known.
    pub retry_after: Option<u64>,
}

/// The body of every error answer of the native API.
#[derive(Serialize, ToSchema)]
#[schema(as = Error)]
pub struct ErrorOut<'a> {
    /// A stable machine-readable code: `invalid_request`, `malformed_json`,
    /// `unauthorized`, `not_found`, `conflict`, `instance_unavailable`,
    /// `push_mode`, `payload_too_large`, `unsupported_media_type`,
    /// `rate_limited`, `request_timeout`,
    /// `platform_unavailable`, `unavailable`, `internal`, …
    #[schema(example = "invalid_request")]
    pub code: &'a str,
    /// What went wrong, for people.
    pub detail: &'a str,
    /// The request field that is wrong, when one is (a JSON path such as
    /// `to.id`, a query parameter or a header name).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub field: Option<&'a str>,
}

impl ApiError {
    /// An error without a field.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self { status, code, detail: detail.into(), field: None, retry_after: None }
    }

    /// 429 `rate_limited`, with the seconds to wait in `Retry-After`.
    pub fn rate_limited(detail: impl Into<String>, retry_after_secs: u64) -> Self {
        Self {
            retry_after: Some(retry_after_secs),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", detail)
        }
    }

    /// 400 `invalid_request` about one field.
    pub fn invalid(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_request",
            detail: detail.into(),
            field: Some(field.into()),
            retry_after: None,
        }
    }

    /// 401 `unauthorized`.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }

    /// 400 `invalid_request` from a broken rule.
    pub fn from_violation(violation: chatgate_core::Violation) -> Self {
        Error::Invalid(violation).into()
    }

    /// 404 `not_found`.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", detail)
    }
}

impl From<Error> for ApiError {
    #[track_caller]
    fn from(error: Error) -> Self {
        match error {
            Error::Invalid(v) => {
                let field = v.field.to_string();
                ApiError {
                    status: StatusCode::BAD_REQUEST,
                    code: "invalid_request",
                    detail: if field.is_empty() {
                        v.message
                    } else {
                        format!("{field} {}", v.message)
                    },
                    field: (!field.is_empty()).then_some(field),
                    retry_after: None,
                }
            }
            Error::NotFound(Missing::Instance) => ApiError::not_found("no instance has this id"),
            Error::NotFound(Missing::Message) => {
                ApiError::not_found("this instance has no message with this id")
            }
            Error::NotFound(Missing::Notification) => ApiError::not_found(
                "this instance has no pending notification with this receipt id",
            ),
            Error::NotFound(Missing::Event) => {
                ApiError::not_found("this instance has no event with this id")
            }
            Error::Unauthorized => {
                ApiError::unauthorized("the token is not valid for this instance")
            }
            Error::Conflict(detail) => ApiError::new(StatusCode::CONFLICT, "conflict", detail),
            Error::InstanceUnavailable(detail) => {
                ApiError::new(StatusCode::CONFLICT, "instance_unavailable", detail)
            }
            Error::PlatformUnavailable(detail) => {
                ApiError::new(StatusCode::BAD_GATEWAY, "platform_unavailable", detail)
            }
            Error::Unavailable(detail) => {
                tracing::warn!(%detail, location = %std::panic::Location::caller(), "storage unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the database is unavailable; retry later",
                )
            }
            Error::Internal(detail) => {
                tracing::error!(%detail, location = %std::panic::Location::caller(), "internal error");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorOut { code: self.code, detail: &self.detail, field: self.field.as_deref() };
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(secs) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        } else if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

/// Results of native handlers.
pub type ApiResult<T> = Result<T, ApiError>;
