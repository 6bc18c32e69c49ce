//! Metrics in the Prometheus text format at `GET /metrics`, and the layer
//! counting and timing every HTTP request.
//!
//! The recorder is process-global ([`install`] sets it up once, however
//! many servers a process runs); the crates record through the `metrics`
//! facade under the names in [`chatgate_core::metrics`]. The backlog gauges
//! are not recorded: each scrape asks this server's store (a few counts
//! over partial indexes) and appends them, so they are always current.
//!
//! Requests are labelled by the matched route pattern, never the raw path:
//! some dialects carry tokens in their paths.

use std::fmt::Write as _;
use std::sync::{LazyLock, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chatgate_core::ids::TokenHash;
use chatgate_core::metrics::{
    HISTOGRAMS, HTTP_DURATION, HTTP_REQUESTS, NOTIFICATIONS_PENDING, OLDEST_NOTIFICATION_AGE,
    OUTBOUND_QUEUE_DEPTH,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::bearer_token;

/// How often the recorder folds recorded histogram samples in, when no
/// scrape does it.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// The Prometheus content type of the text format.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What `GET /metrics` serves, and who may see it.
pub struct MetricsEndpoint {
    handle: PrometheusHandle,
    token: Option<TokenHash>,
}

impl std::fmt::Debug for MetricsEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsEndpoint").field("has_token", &self.token.is_some()).finish()
    }
}

impl MetricsEndpoint {
    /// Renders `handle`; with a non-empty `token`, only to requests with
    /// `Authorization: Bearer <token>`.
    pub fn new(handle: PrometheusHandle, token: &str) -> Self {
        Self { handle, token: (!token.is_empty()).then(|| TokenHash::of(token)) }
    }

    /// Whether the caller may see the metrics. Both tokens are hashed
    /// first and compared in constant time.
    fn allows(&self, parts: &Parts) -> Result<(), ApiError> {
        let Some(expected) = &self.token else { return Ok(()) };
        let presented = bearer_token(parts)?;
        if expected.matches(&TokenHash::of(presented)) {
            Ok(())
        } else {
            Err(ApiError::unauthorized("the metrics token is not valid"))
        }
    }
}

/// Installs the process-wide Prometheus recorder (once; later calls return
/// the same handle) with the histogram buckets of
/// [`chatgate_core::metrics::HISTOGRAMS`], and starts its upkeep thread.
pub fn install() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = builder().build_recorder();
            let handle = recorder.handle();
            if let Err(e) = metrics::set_global_recorder(recorder) {
                // Another recorder was installed first (an embedding
                // program's): this endpoint then shows nothing recorded.
                tracing::warn!(error = %e, "a metrics recorder was installed already");
            }
            chatgate_core::metrics::describe();
            let upkeep = handle.clone();
            let started =
                std::thread::Builder::new().name("chatgate-metrics".into()).spawn(move || {
                    loop {
                        std::thread::sleep(UPKEEP_INTERVAL);
                        upkeep.run_upkeep();
                    }
                });
            if let Err(e) = started {
                tracing::warn!(error = %e, "cannot start the metrics upkeep thread");
            }
            handle
        })
        .clone()
}

/// The recorder's configuration: every histogram with its buckets.
pub fn builder() -> PrometheusBuilder {
    HISTOGRAMS.iter().fold(PrometheusBuilder::new(), |builder, (name, buckets)| {
        // Only an empty bucket list is refused; none is empty.
        builder
            .set_buckets_for_metric(Matcher::Full((*name).to_owned()), buckets)
            .unwrap_or_else(|_| unreachable!("the bucket list of {name} is empty"))
    })
}

/// `GET /metrics`.
pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(render))
}

async fn render(State(state): State<AppState>, request: Request) -> Response {
    let Some(endpoint) = state.metrics.clone() else {
        return ApiError::not_found("metrics are switched off").into_response();
    };
    let (parts, _) = request.into_parts();
    if let Err(e) = endpoint.allows(&parts) {
        return e.into_response();
    }
    let mut text = endpoint.handle.render();
    append_gauges(&state, &mut text).await;
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response()
}

/// Appends the backlog gauges, asked of the store now.
async fn append_gauges(state: &AppState, text: &mut String) {
    let totals = match state.gateway.store().work_totals().await {
        Ok(totals) => totals,
        Err(e) => {
            tracing::warn!(error = %e, "the metrics scrape could not count the backlog");
            return;
        }
    };
    let now = state.gateway.clock().now();
    let age = totals.oldest_pending_notification.map_or(0.0, |at| now.since(at).as_secs_f64());
    let gauges = [
        (
            OUTBOUND_QUEUE_DEPTH,
            "Outbound messages queued or being sent.",
            totals.queued_messages as f64,
        ),
        (
            NOTIFICATIONS_PENDING,
            "Notifications not yet delivered or acknowledged.",
            totals.pending_notifications as f64,
        ),
        (OLDEST_NOTIFICATION_AGE, "Age of the oldest pending notification.", age),
    ];
    for (name, help, value) in gauges {
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        let _ = write!(text, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n");
    }
}

/// Status codes as label values, made once.
static STATUS_LABELS: LazyLock<Vec<String>> =
    LazyLock::new(|| (0..1000u16).map(|code| code.to_string()).collect());

/// The label of a method: the standard ones by name, any other as `other`
/// (a client may invent methods; labels must stay few).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Middleware: counts each request by method, route pattern and status,
/// and times it by method and route. Requests no route matched are
/// `unmatched`.
pub async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| String::from("unmatched"), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    let status =
        STATUS_LABELS.get(usize::from(response.status().as_u16())).map_or("other", String::as_str);
    metrics::histogram!(HTTP_DURATION, "method" => method, "route" => route.clone())
        .record(started.elapsed().as_secs_f64());
    metrics::counter!(HTTP_REQUESTS, "method" => method, "route" => route, "status" => status)
        .increment(1);
    response
}
