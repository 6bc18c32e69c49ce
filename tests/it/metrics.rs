//! `GET /metrics`: the Prometheus text format, the counters a message, a
//! push and an ingest move, the backlog gauges, the token, switching off.
//!
//! The recorder is process-wide and other servers of the process may count
//! too: tests compare a scrape before with one after, or read series only
//! their own server could have moved (the gauges, asked of its own store).

use std::collections::BTreeMap;
use std::time::Duration;

use chatgate_e2e::{FakeGraph, TestApp, TestReceiver};
use reqwest::{Method, StatusCode};
use serde_json::json;

/// One sample line: `name{labels} value`.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A scrape, parsed strictly.
#[derive(Debug)]
struct Scrape {
    text: String,
    samples: Vec<Sample>,
    types: BTreeMap<String, String>,
}

impl Scrape {
    /// The sum of the samples named `name` carrying every label of `labels`
    /// (0 when there is none yet).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|s| s.name == name)
            .filter(|s| labels.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(v)))
            .map(|s| s.value)
            .sum()
    }

    /// The one sample named `name` (a gauge).
    fn gauge(&self, name: &str) -> f64 {
        let found: Vec<_> = self.samples.iter().filter(|s| s.name == name).collect();
        assert_eq!(found.len(), 1, "{name} once: {}", self.text);
        assert_eq!(self.types.get(name).map(String::as_str), Some("gauge"), "{}", self.text);
        found[0].value
    }
}

fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn parse_value(text: &str) -> Option<f64> {
    match text {
        "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        other => other.parse().ok(),
    }
}

/// Parses `{a="x",b="y"}` (with `\\`, `\"` and `\n` escapes); returns the
/// labels and the rest of the line.
fn parse_labels(line: &str) -> Result<(BTreeMap<String, String>, &str), String> {
    let mut labels = BTreeMap::new();
    let mut rest = line.strip_prefix('{').ok_or("no {")?;
    loop {
        if let Some(after) = rest.strip_prefix('}') {
            return Ok((labels, after));
        }
        let (name, after) = rest.split_once("=\"").ok_or_else(|| format!("no =\" in {rest}"))?;
        if !is_name(name) || name.contains(':') {
            return Err(format!("bad label name {name:?}"));
        }
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    other => return Err(format!("bad escape {other:?}")),
                },
                Some((i, '"')) => break i,
                Some((_, c)) => value.push(c),
                None => return Err("unterminated label value".into()),
            }
        };
        if labels.insert(name.to_owned(), value).is_some() {
            return Err(format!("label {name} twice"));
        }
        rest = &after[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
}

/// Every line is a `# HELP`, a `# TYPE` (before its samples, once per
/// name), another comment, or `name{labels} value [timestamp]`; every
/// sample belongs to a declared type (histograms by their `_bucket`,
/// `_sum`, `_count`).
fn parse(text: &str) -> Result<Scrape, String> {
    let mut samples = Vec::new();
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    for line in text.lines() {
        let fail = |why: &str| format!("{why}: {line:?}");
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let words: Vec<&str> = comment.trim_start().splitn(3, ' ').collect();
            match words.as_slice() {
                ["HELP", name, _] | ["HELP", name] if is_name(name) => {}
                ["TYPE", name, kind] if is_name(name) => {
                    let known = ["counter", "gauge", "histogram", "summary", "untyped"];
                    if !known.contains(kind) {
                        return Err(fail("unknown type"));
                    }
                    if types.insert((*name).to_owned(), (*kind).to_owned()).is_some() {
                        return Err(fail("a second TYPE"));
                    }
                }
                ["HELP" | "TYPE", ..] => return Err(fail("malformed")),
                _ => {}
            }
            continue;
        }
        let end = line.find(['{', ' ']).ok_or_else(|| fail("no value"))?;
        let name = &line[..end];
        if !is_name(name) {
            return Err(fail("bad metric name"));
        }
        let (labels, rest) = if line[end..].starts_with('{') {
            parse_labels(&line[end..]).map_err(|e| fail(&e))?
        } else {
            (BTreeMap::new(), &line[end..])
        };
        let mut fields = rest.strip_prefix(' ').ok_or_else(|| fail("no space"))?.split(' ');
        let value = fields.next().and_then(parse_value).ok_or_else(|| fail("bad value"))?;
        if let Some(timestamp) = fields.next() {
            timestamp.parse::<i64>().map_err(|_| fail("bad timestamp"))?;
        }
        if fields.next().is_some() {
            return Err(fail("trailing text"));
        }
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .filter_map(|suffix| name.strip_suffix(suffix))
            .find(|base| types.get(*base).is_some_and(|t| t == "histogram" || t == "summary"))
            .unwrap_or(name);
        if !types.contains_key(family) {
            return Err(fail("a sample before its TYPE"));
        }
        if name.ends_with("_bucket") && family != name && !labels.contains_key("le") {
            return Err(fail("a bucket without le"));
        }
        samples.push(Sample { name: name.to_owned(), labels, value });
    }
    Ok(Scrape { text: text.to_owned(), samples, types })
}

async fn get_metrics(app: &TestApp, token: Option<&str>) -> (StatusCode, String) {
    let mut request = app.raw(Method::GET, "/metrics");
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

async fn scraped(app: &TestApp) -> Scrape {
    let (status, text) = get_metrics(app, None).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    parse(&text).unwrap_or_else(|e| panic!("not the Prometheus text format: {e}\n{text}"))
}

#[test]
fn the_test_parser_refuses_what_is_not_the_text_format() {
    assert!(parse("# TYPE a counter\na 1\n").is_ok());
    assert!(parse("# TYPE a counter\na{x=\"1\",y=\"a\\\"b\"} 2 1700000000\n").is_ok());
    assert!(parse("a 1\n").is_err(), "no TYPE");
    assert!(parse("# TYPE a counter\na{x=1} 1\n").is_err(), "unquoted label");
    assert!(parse("# TYPE a counter\na one\n").is_err(), "not a number");
    assert!(parse("# TYPE a counter\n# TYPE a counter\n").is_err(), "TYPE twice");
    assert!(parse("# TYPE h histogram\nh_bucket 1\n").is_err(), "bucket without le");
}

#[tokio::test]
async fn metrics_are_served_as_prometheus_text_with_the_backlog_of_this_server() {
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    app.send_ok(&instance, json!({"to": {"id": "u1"}, "text": "one"})).await;
    app.send_ok(&instance, json!({"to": {"id": "u1"}, "text": "two"})).await;

    let (status, text) = get_metrics(&app, None).await;
    assert_eq!(status, StatusCode::OK);
    let scrape = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(scrape.gauge("chatgate_outbound_queue_depth"), 2.0);
    assert!(scrape.gauge("chatgate_notifications_pending") >= 0.0);
    // Everything so far happened at the clock's start.
    assert_eq!(scrape.gauge("chatgate_notification_oldest_pending_age_seconds"), 0.0);
    for histogram in
        ["chatgate_http_request_duration_seconds", "chatgate_store_commit_duration_seconds"]
    {
        assert_eq!(
            scrape.types.get(histogram).map(String::as_str),
            Some("histogram"),
            "{histogram} has buckets: {text}"
        );
        assert!(scrape.value(&format!("{histogram}_bucket"), &[("le", "+Inf")]) >= 1.0);
    }

    // A customer's message waits for its consumer (nobody pulls): the
    // backlog and its age grow with the clock (the sends queued events at
    // the start too).
    app.customer_writes(&instance, "hello?").await;
    app.clock.advance(Duration::from_secs(90));
    let later = scraped(&app).await;
    assert!(later.gauge("chatgate_notifications_pending") >= 1.0, "{}", later.text);
    assert_eq!(later.gauge("chatgate_notification_oldest_pending_age_seconds"), 90.0);
}

#[tokio::test]
async fn a_message_sent_and_pushed_moves_the_counters_of_its_route_statuses_and_delivery() {
    let app = TestApp::spawn().await;
    let receiver = TestReceiver::start().await;
    let instance = app.pushing_to(&receiver.url).await;
    let before = scraped(&app).await;

    app.send_ok(&instance, json!({"to": {"id": "17841400000000001"}, "text": "hi!"})).await;
    app.advance(Duration::from_secs(2)).await;
    assert!(!receiver.bodies().is_empty(), "the receiver got the statuses");
    let after = scraped(&app).await;

    let moved = |name: &str, labels: &[(&str, &str)]| {
        after.value(name, labels) - before.value(name, labels)
    };
    let route =
        [("method", "POST"), ("route", "/api/v1/instances/{id}/messages"), ("status", "202")];
    assert!(moved("chatgate_http_requests_total", &route) >= 1.0, "{}", after.text);
    let timed = [("method", "POST"), ("route", "/api/v1/instances/{id}/messages")];
    assert!(moved("chatgate_http_request_duration_seconds_count", &timed) >= 1.0);
    for status in ["queued", "sent", "delivered", "read"] {
        let labels = [("status", status), ("connector", "sandbox")];
        assert!(moved("chatgate_messages_total", &labels) >= 1.0, "{status}: {}", after.text);
    }
    let attempt = [("connector", "sandbox"), ("outcome", "sent")];
    assert!(moved("chatgate_send_attempts_total", &attempt) >= 1.0);
    let pushed = [("format", "native"), ("outcome", "delivered")];
    assert!(moved("chatgate_webhook_deliveries_total", &pushed) >= 1.0, "{}", after.text);
    let timed = [("format", "native")];
    assert!(moved("chatgate_webhook_delivery_duration_seconds_count", &timed) >= 1.0);
    assert!(moved("chatgate_store_batch_size_count", &[]) >= 1.0);
    assert!(moved("chatgate_store_commit_duration_seconds_count", &[]) >= 1.0);
    // The writer's time is told apart by the kind of change.
    for op in ["enqueue", "claim", "finish", "claim_hooks", "finish_hook"] {
        assert!(moved("chatgate_store_ops_total", &[("op", op)]) >= 1.0, "{op}: {}", after.text);
        let timed = [("op", op)];
        assert!(moved("chatgate_store_op_duration_seconds_count", &timed) >= 1.0, "{op}");
    }

    // The queue is empty and every push delivered.
    assert_eq!(after.gauge("chatgate_outbound_queue_depth"), 0.0);
    assert_eq!(after.gauge("chatgate_notifications_pending"), 0.0);
    // Labels name routes and connectors, never an instance.
    assert!(!after.text.contains(&instance.id.to_string()), "{}", after.text);
}

#[tokio::test]
async fn a_path_carrying_a_token_is_counted_under_its_route_pattern_only() {
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    let path = format!("/waInstance{}/getStateInstance/{}", instance.id, instance.token);
    let answer = app.raw(Method::GET, &path).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    app.raw(Method::GET, "/no/such/route/at/all/here").send().await.unwrap();

    let scrape = scraped(&app).await;
    let pattern = [("route", "/{instance}/{method}/{token}"), ("status", "200")];
    assert!(scrape.value("chatgate_http_requests_total", &pattern) >= 1.0, "{}", scrape.text);
    let unmatched = [("route", "unmatched"), ("status", "404")];
    assert!(scrape.value("chatgate_http_requests_total", &unmatched) >= 1.0);
    assert!(!scrape.text.contains(&instance.token), "the token leaked: {}", scrape.text);
    assert!(!scrape.text.contains("getStateInstance"));
    assert!(!scrape.text.contains("/no/such/route/at/all/here"));
}

#[tokio::test]
async fn meta_ingest_counts_events_by_kind_and_redeliveries_as_duplicates() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn_meta(&graph).await;
    app.instagram(&graph).await;
    let before = scraped(&app).await;

    // The same mid twice (same text at the same time): Meta redelivering.
    let first = app.customer_writes_on_instagram(chatgate_e2e::CUSTOMER, "hello").await;
    let again = app.customer_writes_on_instagram(chatgate_e2e::CUSTOMER, "hello").await;
    assert_eq!(first, again);
    let after = scraped(&app).await;

    let kind = [("kind", "incomingMessage")];
    let moved = |name: &str| after.value(name, &kind) - before.value(name, &kind);
    assert!(moved("chatgate_ingested_events_total") >= 1.0, "{}", after.text);
    assert!(moved("chatgate_ingest_duplicates_total") >= 1.0, "{}", after.text);
    let webhook = [("route", "/webhooks/meta"), ("method", "POST"), ("status", "200")];
    let delivered = after.value("chatgate_http_requests_total", &webhook)
        - before.value("chatgate_http_requests_total", &webhook);
    assert!(delivered >= 2.0);
}

#[tokio::test]
async fn a_configured_metrics_token_is_required_and_never_shown() {
    const TOKEN: &str = "metrics-token-0123456789abcdef";
    let app = TestApp::spawn_with(|config| config.metrics.token = TOKEN.into()).await;

    let (status, body) = get_metrics(&app, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, _) = get_metrics(&app, Some("not-the-token")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = get_metrics(&app, Some(&app.partner_token)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the partner token is not the metrics token");

    let (status, text) = get_metrics(&app, Some(TOKEN)).await;
    assert_eq!(status, StatusCode::OK);
    parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert!(text.contains("chatgate_outbound_queue_depth"));
    assert!(!text.contains(TOKEN), "the token leaked: {text}");
}

#[tokio::test]
async fn switched_off_metrics_are_not_found() {
    let app = TestApp::spawn_with(|config| config.metrics.enabled = false).await;
    let (status, _) = get_metrics(&app, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.sandbox().await;
}
