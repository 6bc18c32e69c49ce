//! chatgate's HTTP surface on axum: the native REST API (with its OpenAPI
//! document and Swagger UI, see [`openapi`]), health, and the
//! layers every route shares (body limit, request ids, tracing without
//! secrets, panics turned into a JSON 500).
//!
//! The vendor dialects sit in [`dialects`], one folder each (`getloo`,
//! `greenapi`, `huawei`; `imiconnect` follows), all calling the same
//! [`chatgate_core::Gateway`] as [`native`] does. The platforms' own
//! webhooks (Meta's) are in [`inbound`].

#![forbid(unsafe_code)]

pub mod admin;
pub mod auth;
pub mod dialects;
pub mod error;
pub mod extract;
pub mod files;
pub mod health;
pub mod inbound;
pub mod limits;
pub mod metrics;
pub mod native;
pub mod openapi;

mod deadline;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chatgate_core::Gateway;
use chatgate_core::media::MediaProbe;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::TraceLayer;

use crate::auth::PartnerToken;
use crate::error::ApiError;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The core services.
    pub gateway: Gateway,
    /// The operator's token.
    pub partner: Arc<PartnerToken>,
    /// Looks at files before they are accepted (size, type), through the
    /// SSRF guard.
    pub media: Arc<dyn MediaProbe>,
    /// The GREEN-API dialect's configuration and limiters.
    pub greenapi: Arc<dialects::greenapi::GreenApiState>,
    /// Meta's webhook settings (app secret, verify token) and counters.
    pub meta: Arc<inbound::meta::MetaInbound>,
    /// The imiconnect dialect's configuration.
    pub imiconnect: Arc<dialects::imiconnect::ImiconnectConfig>,
    /// `GET /metrics`; `None` when metrics are switched off.
    pub metrics: Option<Arc<metrics::MetricsEndpoint>>,
    /// Per-instance request rates and long polls.
    pub limits: Arc<limits::ApiLimits>,
}

/// HTTP settings (configuration section `http`).
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Largest request body accepted, in bytes; larger ones get 413.
    pub max_body_bytes: usize,
    /// Longest time a client may take to send a request body, from the
    /// moment its headers are in; a slower body is cut off (408, in the
    /// error format of the route's dialect) and the connection closed.
    pub body_timeout: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self { max_body_bytes: 1024 * 1024, body_timeout: Duration::from_secs(30) }
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole HTTP application.
pub fn app(state: AppState, config: &HttpConfig) -> Router {
    let (native, document) = native::router().split_for_parts();
    let measured = state.metrics.is_some();
    let metrics = if measured { metrics::router() } else { Router::new() };
    let app = Router::new()
        .merge(health::router())
        .merge(metrics)
        .merge(native)
        .merge(openapi::router(document))
        .merge(admin::router())
        .merge(files::router())
        .merge(dialects::router(state.greenapi.config.max_upload_bytes, state.meta.max_body_bytes))
        .merge(inbound::router(state.meta.max_body_bytes))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(config.body_timeout, deadline::body_deadline))
        .layer(CatchPanicLayer::custom(|_| panicked()))
        // Spans name the route pattern, never the raw URI: some dialects
        // carry tokens in the path.
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let route = req
                .extensions()
                .get::<MatchedPath>()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_else(|| String::from("unmatched"));
            let id = req
                .headers()
                .get(&REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            tracing::info_span!("http", method = %req.method(), route, request_id = id)
        }))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(SetSensitiveRequestHeadersLayer::new([header::AUTHORIZATION, header::COOKIE]));
    // Outermost, so it sees every answer (a panic's 500 too) and the time
    // of every layer.
    if measured { app.layer(axum::middleware::from_fn(metrics::track)) } else { app }
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take this method",
    )
}

fn panicked() -> Response {
    tracing::error!("a request handler panicked");
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error").into_response()
}
