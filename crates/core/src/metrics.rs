//! The names of chatgate's metrics, their histogram buckets and their help
//! texts, in one place: the crates record through the `metrics` facade
//! with these names; the binary installs the Prometheus recorder and serves
//! it at `GET /metrics`.
//!
//! Labels stay few and bounded: a route pattern, a status, a connector, a
//! webhook format, an event kind; never an instance, contact or message id
//! (a gateway has thousands of instances).

/// HTTP requests answered, by `method`, `route` (the matched pattern, never
/// the raw path) and `status`.
pub const HTTP_REQUESTS: &str = "chatgate_http_requests_total";
/// Time to answer an HTTP request, by `method` and `route`.
pub const HTTP_DURATION: &str = "chatgate_http_request_duration_seconds";
/// Outbound messages entering a status, by `status` and `connector`.
pub const MESSAGES: &str = "chatgate_messages_total";
/// Send attempts of the outbound worker, by `connector` and `outcome`
/// (`sent`, `retrying`, `failed`, `held`, `lease_lost`).
pub const SEND_ATTEMPTS: &str = "chatgate_send_attempts_total";
/// Webhook and status-callback pushes, by `format` and `outcome`
/// (`delivered`, `retrying`, `dead`, `disabled`, `skipped`, `lease_lost`).
pub const WEBHOOK_DELIVERIES: &str = "chatgate_webhook_deliveries_total";
/// Time a webhook receiver took to answer (or to fail), by `format`.
pub const WEBHOOK_DURATION: &str = "chatgate_webhook_delivery_duration_seconds";
/// Inbound events journaled, by `kind` (`incomingMessage`, …).
pub const INGESTED: &str = "chatgate_ingested_events_total";
/// Inbound events the platform delivered again, dropped as duplicates, by
/// `kind`.
pub const INGEST_DUPLICATES: &str = "chatgate_ingest_duplicates_total";
/// Meta webhook entries for accounts no instance is connected to.
pub const META_UNKNOWN_ENTRIES: &str = "chatgate_meta_unknown_entries_total";
/// Requests applied per group commit of the store's writer.
pub const STORE_BATCH_SIZE: &str = "chatgate_store_batch_size";
/// The writer's time on one kind of change, by `op`: one observation per
/// op, or per run of consecutive ops of one kind applied together (with
/// [`STORE_OPS`], the mean time an op of that kind costs the writer).
pub const STORE_OP_DURATION: &str = "chatgate_store_op_duration_seconds";
/// Changes the store's writer ran, by `op` (committed or not: a failed
/// change or batch is counted too; [`STORE_COMMIT_FAILURES`] counts the
/// batches that failed).
pub const STORE_OPS: &str = "chatgate_store_ops_total";
/// Time from a group commit's `BEGIN` to its `COMMIT` answered.
pub const STORE_COMMIT_DURATION: &str = "chatgate_store_commit_duration_seconds";
/// Group commits that failed (every request in them was refused).
pub const STORE_COMMIT_FAILURES: &str = "chatgate_store_commit_failures_total";
/// Outbound messages queued or being sent, across instances (at scrape).
pub const OUTBOUND_QUEUE_DEPTH: &str = "chatgate_outbound_queue_depth";
/// Notifications pending (pushes, pulls, callbacks), across instances (at
/// scrape).
pub const NOTIFICATIONS_PENDING: &str = "chatgate_notifications_pending";
/// Age of the oldest pending notification, 0 when none (at scrape).
pub const OLDEST_NOTIFICATION_AGE: &str = "chatgate_notification_oldest_pending_age_seconds";

/// Buckets of request, push and commit latencies, in seconds.
pub const LATENCY_BUCKETS: &[f64] =
    &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
/// Buckets of group-commit sizes (the writer's `batch_max` is 512 by
/// default).
pub const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];

/// Every histogram with its buckets (without buckets a Prometheus recorder
/// would render a summary).
pub const HISTOGRAMS: [(&str, &[f64]); 5] = [
    (HTTP_DURATION, LATENCY_BUCKETS),
    (WEBHOOK_DURATION, LATENCY_BUCKETS),
    (STORE_COMMIT_DURATION, LATENCY_BUCKETS),
    (STORE_OP_DURATION, LATENCY_BUCKETS),
    (STORE_BATCH_SIZE, BATCH_BUCKETS),
];

/// Registers the help text and unit of every recorded metric with the
/// installed recorder (call once, after installing it). The gauges are not
/// recorded: the metrics endpoint asks the store for them at each scrape.
pub fn describe() {
    use metrics::{Unit, describe_counter, describe_histogram};
    describe_counter!(HTTP_REQUESTS, "HTTP requests answered, by method, route and status.");
    describe_histogram!(HTTP_DURATION, Unit::Seconds, "Time to answer an HTTP request.");
    describe_counter!(MESSAGES, "Outbound messages entering a status, by status and connector.");
    describe_counter!(SEND_ATTEMPTS, "Send attempts, by connector and outcome.");
    describe_counter!(WEBHOOK_DELIVERIES, "Webhook pushes, by format and outcome.");
    describe_histogram!(WEBHOOK_DURATION, Unit::Seconds, "Time a webhook receiver took.");
    describe_counter!(INGESTED, "Inbound events journaled, by kind.");
    describe_counter!(INGEST_DUPLICATES, "Inbound events dropped as redeliveries, by kind.");
    describe_counter!(META_UNKNOWN_ENTRIES, "Meta webhook entries for unknown accounts.");
    describe_histogram!(STORE_BATCH_SIZE, Unit::Count, "Requests per store group commit.");
    describe_histogram!(STORE_COMMIT_DURATION, Unit::Seconds, "Time of a store group commit.");
    describe_counter!(STORE_COMMIT_FAILURES, "Store group commits that failed.");
    describe_histogram!(
        STORE_OP_DURATION,
        Unit::Seconds,
        "Writer time of one change, or of a run of changes of one kind, by op."
    );
    describe_counter!(STORE_OPS, "Changes the store's writer ran (committed or not), by op.");
}
