//! Outbound HTTP for user-supplied URLs: webhook delivery with the SSRF guard.
//!
//! [`HttpWebhookTransport`] implements the core port
//! [`WebhookTransport`]: one POST, never retried, never redirected. Where it
//! may connect is decided by a [`NetworkPolicy`], twice:
//!
//! - before sending, on the URL (an IP literal host, `localhost`), because
//!   the HTTP client does not resolve IP literals;
//! - at connect time, on every address a name resolves to: the client's DNS
//!   resolver keeps only permitted addresses, so a name cannot smuggle a
//!   private address past the first check, and the address checked is the
//!   one connected to (no second lookup an attacker could answer
//!   differently).
//!
//! The client never uses a proxy (a proxy would resolve names itself, out of
//! the guard's reach), ignoring `HTTP_PROXY` and friends.

mod probe;

pub use probe::MAX_REDIRECTS;

use std::error::Error as StdError;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use chatgate_core::network::NetworkPolicy;
use chatgate_core::webhook::{WebhookOutcome, WebhookRequest, WebhookResult, WebhookTransport};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};

/// At most this much of a response body is read (and discarded) so the
/// connection can be reused; past it the connection is dropped instead.
const MAX_DRAINED_BODY: usize = 64 * 1024;

/// The connect timeout never exceeds this, whatever the request timeout.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Sends webhook POSTs over HTTP(S) with one shared, pooled client, refusing
/// destinations the [`NetworkPolicy`] forbids (reported as
/// [`WebhookOutcome::Blocked`]).
#[derive(Debug, Clone)]
pub struct HttpWebhookTransport {
    client: reqwest::Client,
    policy: Arc<NetworkPolicy>,
}

impl HttpWebhookTransport {
    /// A transport whose requests time out after `timeout` (connecting:
    /// after `timeout` or 10 s, whichever is shorter), sending `user_agent`.
    ///
    /// # Errors
    ///
    /// The HTTP client cannot be built, e.g. `user_agent` is not a valid
    /// header value.
    pub fn new(policy: NetworkPolicy, timeout: Duration, user_agent: &str) -> Result<Self, String> {
        let policy = Arc::new(policy);
        let user_agent = HeaderValue::from_str(user_agent)
            .map_err(|_| "the user agent is not a valid header value".to_owned())?;
        let client = reqwest::Client::builder()
            .user_agent(user_agent)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout.min(MAX_CONNECT_TIMEOUT))
            .no_proxy()
            .dns_resolver(GuardedResolver { policy: Arc::clone(&policy) })
            .build()
            .map_err(|e| format!("cannot build the webhook HTTP client: {}", root_cause(&e)))?;
        Ok(Self { client, policy })
    }

    /// The policy deciding where deliveries may go.
    pub fn policy(&self) -> &NetworkPolicy {
        &self.policy
    }

    /// Sends to `url` (already parsed) without the pre-flight URL check:
    /// from here on only the resolver guards.
    async fn send(
        &self,
        url: reqwest::Url,
        request: WebhookRequest,
        started: Instant,
    ) -> WebhookResult {
        let headers = match header_map(&request.headers) {
            Ok(headers) => headers,
            Err(error) => return finished(WebhookOutcome::Failed { error }, started),
        };
        let response = self.client.post(url).headers(headers).body(request.body).send().await;
        let latency = started.elapsed();
        let outcome = match response {
            Ok(response) => {
                let status = response.status().as_u16();
                let retry_after = response
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|value| parse_retry_after(value, SystemTime::now()));
                drain(response).await;
                WebhookOutcome::Responded { status, retry_after }
            }
            Err(error) => outcome_of(error),
        };
        WebhookResult { outcome, latency }
    }
}

#[async_trait]
impl WebhookTransport for HttpWebhookTransport {
    async fn post(&self, request: WebhookRequest) -> WebhookResult {
        let started = Instant::now();
        let url = match reqwest::Url::parse(&request.url) {
            Ok(url) => url,
            Err(e) => {
                let error = format!("the URL is not valid: {e}");
                return finished(WebhookOutcome::Failed { error }, started);
            }
        };
        // reqwest does not call the resolver for IP-literal hosts.
        if let Err(reason) = self.policy.check_url(url.as_str()) {
            return finished(WebhookOutcome::Blocked { reason }, started);
        }
        self.send(url, request, started).await
    }
}

fn finished(outcome: WebhookOutcome, started: Instant) -> WebhookResult {
    WebhookResult { outcome, latency: started.elapsed() }
}

/// The request's headers, then `Content-Type: application/json` (which
/// wins). Errors name the header, never its value (it may be a token).
fn header_map(headers: &[(String, String)]) -> Result<HeaderMap, String> {
    let mut map = HeaderMap::with_capacity(headers.len() + 1);
    for (name, value) in headers {
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("{name:?} is not a valid header name"))?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| format!("the value of header {header} is not valid"))?;
        map.append(header, value);
    }
    map.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(map)
}

/// Reads and discards up to [`MAX_DRAINED_BODY`] bytes of the body, so a
/// short answer leaves the connection reusable.
async fn drain(mut response: reqwest::Response) {
    let mut read = 0;
    while read < MAX_DRAINED_BODY {
        match response.chunk().await {
            Ok(Some(chunk)) => read += chunk.len(),
            Ok(None) | Err(_) => break,
        }
    }
}

/// `Retry-After` as a delay: integer seconds, or an HTTP date relative to
/// `now` (zero when already past).
fn parse_retry_after(value: &HeaderValue, now: SystemTime) -> Option<Duration> {
    let text = value.to_str().ok()?.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(text).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// How a failed request ended. The message never holds the URL nor a header.
fn outcome_of(error: reqwest::Error) -> WebhookOutcome {
    let error = error.without_url();
    if let Some(blocked) = find_in_chain::<BlockedAddress>(&error) {
        return WebhookOutcome::Blocked { reason: blocked.reason.clone() };
    }
    if error.is_timeout() {
        return WebhookOutcome::TimedOut;
    }
    let what = if error.is_dns() {
        "DNS lookup failed"
    } else if error.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    WebhookOutcome::Failed { error: format!("{what}: {}", root_cause(&error)) }
}

/// The first error of type `T` in `error`'s source chain (itself included).
fn find_in_chain<'a, T: StdError + 'static>(error: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(found) = error.downcast_ref::<T>() {
            return Some(found);
        }
        current = error.source();
    }
    None
}

/// The innermost error's message (e.g. "Connection refused (os error 111)").
fn root_cause(error: &(dyn StdError + 'static)) -> String {
    let mut current = error;
    while let Some(source) = current.source() {
        current = source;
    }
    current.to_string()
}

/// The resolver's refusal: every address the name resolved to is forbidden.
#[derive(Debug)]
struct BlockedAddress {
    reason: String,
}

impl fmt::Display for BlockedAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl StdError for BlockedAddress {}

/// Resolves with the system resolver and keeps only the addresses the
/// policy permits.
#[derive(Debug)]
struct GuardedResolver {
    policy: Arc<NetworkPolicy>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = Arc::clone(&self.policy);
        let host = name.as_str().to_owned();
        Box::pin(async move {
            // Port 0: reqwest puts the URL's (or the scheme's) port in.
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refusal = None;
            let permitted: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|addr| match policy.check_ip(addr.ip()) {
                    Ok(()) => true,
                    Err(reason) => {
                        refusal.get_or_insert(reason);
                        false
                    }
                })
                .collect();
            if permitted.is_empty() {
                let reason = match refusal {
                    Some(why) => {
                        format!("{host} resolves to no address chatgate may reach ({why})")
                    }
                    None => format!("{host} resolves to no address"),
                };
                tracing::debug!(%reason, "webhook destination refused at connect time");
                return Err(Box::new(BlockedAddress { reason }) as Box<dyn StdError + Send + Sync>);
            }
            Ok(Box::new(permitted.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::future::pending;
    use std::sync::Mutex;

    use axum::Router;
    use axum::body::Bytes;
    use axum::extract::{ConnectInfo, State};
    use axum::http::{HeaderMap, StatusCode, Uri, header};
    use axum::response::{IntoResponse, Response};
    use tokio::net::TcpListener;

    use super::*;

    /// One request the receiver saw.
    #[derive(Debug, Clone)]
    struct Received {
        path: String,
        method: String,
        headers: HeaderMap,
        body: Vec<u8>,
        peer: SocketAddr,
    }

    #[derive(Clone, Default)]
    struct Seen(Arc<Mutex<Vec<Received>>>);

    impl Seen {
        fn all(&self) -> Vec<Received> {
            self.0.lock().unwrap().clone()
        }
    }

    /// Records every request, then answers by path.
    async fn receive(
        State(seen): State<Seen>,
        ConnectInfo(peer): ConnectInfo<SocketAddr>,
        method: axum::http::Method,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> Response {
        seen.0.lock().unwrap().push(Received {
            path: uri.path().to_owned(),
            method: method.to_string(),
            headers,
            body: body.to_vec(),
            peer,
        });
        match uri.path() {
            "/fail" => (StatusCode::INTERNAL_SERVER_ERROR, [(header::RETRY_AFTER, "7")], "down")
                .into_response(),
            "/busy" => {
                let at = SystemTime::now() + Duration::from_secs(120);
                let date = httpdate::fmt_http_date(at);
                (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, date)], "slow down")
                    .into_response()
            }
            "/redirect" => (StatusCode::FOUND, [(header::LOCATION, "/ok")]).into_response(),
            "/hang" => pending::<Response>().await,
            _ => (StatusCode::OK, "thanks").into_response(),
        }
    }

    /// A receiver on 127.0.0.1 and a random port: its base URL and what it saw.
    async fn receiver() -> (String, u16, Seen) {
        let seen = Seen::default();
        let app = Router::new().fallback(receive).with_state(seen.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
                .await
                .unwrap();
        });
        (format!("http://127.0.0.1:{port}"), port, seen)
    }

    fn local() -> NetworkPolicy {
        NetworkPolicy::parse_allowed("127.0.0.0/8").unwrap()
    }

    fn transport(policy: NetworkPolicy) -> HttpWebhookTransport {
        HttpWebhookTransport::new(policy, Duration::from_secs(5), "chatgate-test/1").unwrap()
    }

    fn request(url: String) -> WebhookRequest {
        WebhookRequest {
            url,
            headers: vec![
                ("webhook-id".to_owned(), "evt_1".to_owned()),
                ("Authorization".to_owned(), "Bearer secret-token".to_owned()),
            ],
            body: br#"{"type":"message.sent"}"#.to_vec(),
        }
    }

    #[tokio::test]
    async fn a_delivery_arrives_with_its_headers_and_body() {
        let (base, _, seen) = receiver().await;
        let result = transport(local()).post(request(format!("{base}/ok"))).await;
        assert_eq!(result.outcome, WebhookOutcome::Responded { status: 200, retry_after: None });
        assert!(result.latency < Duration::from_secs(5));
        let got = seen.all();
        assert_eq!(got.len(), 1);
        let got = &got[0];
        assert_eq!(got.method, "POST");
        assert_eq!(got.path, "/ok");
        assert_eq!(got.headers["content-type"], "application/json");
        assert_eq!(got.headers["webhook-id"], "evt_1");
        assert_eq!(got.headers["authorization"], "Bearer secret-token");
        assert_eq!(got.headers["user-agent"], "chatgate-test/1");
        assert_eq!(got.body, br#"{"type":"message.sent"}"#);
    }

    #[tokio::test]
    async fn a_server_error_carries_its_retry_after_in_seconds() {
        let (base, _, _) = receiver().await;
        let result = transport(local()).post(request(format!("{base}/fail"))).await;
        assert_eq!(
            result.outcome,
            WebhookOutcome::Responded { status: 500, retry_after: Some(Duration::from_secs(7)) }
        );
    }

    #[tokio::test]
    async fn a_retry_after_date_becomes_the_time_left_until_it() {
        let (base, _, _) = receiver().await;
        let result = transport(local()).post(request(format!("{base}/busy"))).await;
        let WebhookOutcome::Responded { status: 429, retry_after: Some(delay) } = result.outcome
        else {
            panic!("unexpected outcome {:?}", result.outcome);
        };
        // HTTP dates have one-second resolution.
        assert!(delay > Duration::from_secs(110) && delay <= Duration::from_secs(120), "{delay:?}");
    }

    #[tokio::test]
    async fn a_redirect_is_not_followed() {
        let (base, _, seen) = receiver().await;
        let result = transport(local()).post(request(format!("{base}/redirect"))).await;
        assert_eq!(result.outcome, WebhookOutcome::Responded { status: 302, retry_after: None });
        let paths: Vec<String> = seen.all().into_iter().map(|r| r.path).collect();
        assert_eq!(paths, ["/redirect"]);
    }

    #[tokio::test]
    async fn an_endpoint_that_never_answers_times_out() {
        let (base, _, seen) = receiver().await;
        let transport =
            HttpWebhookTransport::new(local(), Duration::from_millis(300), "chatgate-test/1")
                .unwrap();
        let result = tokio::time::timeout(
            Duration::from_secs(5),
            transport.post(request(format!("{base}/hang"))),
        )
        .await
        .expect("the transport's own timeout fires first");
        assert_eq!(result.outcome, WebhookOutcome::TimedOut);
        assert!(result.latency >= Duration::from_millis(300), "{:?}", result.latency);
        assert!(result.latency < Duration::from_secs(5), "{:?}", result.latency);
        assert_eq!(seen.all().len(), 1);
    }

    #[tokio::test]
    async fn a_closed_port_fails_without_leaking_the_url_or_headers() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let url = format!("http://127.0.0.1:{port}/hook?token=in-the-query");
        let result = transport(local()).post(request(url)).await;
        let WebhookOutcome::Failed { error } = result.outcome else {
            panic!("unexpected outcome {:?}", result.outcome);
        };
        assert!(error.starts_with("connection failed: "), "{error}");
        assert!(!error.contains("in-the-query"), "{error}");
        assert!(!error.contains(&port.to_string()), "{error}");
        assert!(!error.contains("secret-token"), "{error}");
    }

    #[tokio::test]
    async fn the_strict_policy_blocks_local_and_metadata_urls_before_sending() {
        let (_, port, seen) = receiver().await;
        let strict = transport(NetworkPolicy::strict());
        for (url, words) in [
            (format!("http://127.0.0.1:{port}/ok"), "127.0.0.1 is a loopback address"),
            (format!("http://localhost:{port}/ok"), "localhost is a loopback address"),
            (format!("http://[::1]:{port}/"), "::1 is a loopback address"),
            (format!("http://[::ffff:127.0.0.1]:{port}/"), "of 127.0.0.1, a loopback address"),
            ("http://169.254.169.254/latest/meta-data".to_owned(), "cloud metadata"),
        ] {
            let result = strict.post(request(url.clone())).await;
            let WebhookOutcome::Blocked { reason } = result.outcome else {
                panic!("{url}: unexpected outcome {:?}", result.outcome);
            };
            assert!(reason.contains(words), "{url}: {reason}");
        }
        assert!(seen.all().is_empty());
    }

    #[tokio::test]
    async fn a_name_resolving_to_a_refused_address_is_blocked_at_connect_time() {
        let (_, port, seen) = receiver().await;
        // `send` skips the URL check, so only the resolver stands in the way.
        let url = format!("http://localhost:{port}/ok");
        let outcome = transport(NetworkPolicy::strict())
            .send(url.parse().unwrap(), request(url), Instant::now())
            .await
            .outcome;
        let WebhookOutcome::Blocked { reason } = outcome else {
            panic!("unexpected outcome {outcome:?}");
        };
        assert!(reason.starts_with("localhost resolves to no address chatgate may reach ("));
        assert!(reason.contains("is a loopback address"), "{reason}");
        assert!(seen.all().is_empty());
    }

    #[tokio::test]
    async fn an_allowed_local_network_is_reached_by_address_and_by_name() {
        let (base, port, seen) = receiver().await;
        let transport = transport(local());
        for url in [format!("{base}/ok"), format!("http://localhost:{port}/ok")] {
            let result = transport.post(request(url.clone())).await;
            assert_eq!(
                result.outcome,
                WebhookOutcome::Responded { status: 200, retry_after: None },
                "{url}"
            );
        }
        assert_eq!(seen.all().len(), 2);
    }

    #[tokio::test]
    async fn consecutive_deliveries_reuse_one_connection() {
        let (base, _, seen) = receiver().await;
        let transport = transport(local());
        for _ in 0..3 {
            transport.post(request(format!("{base}/ok"))).await;
        }
        let peers: Vec<SocketAddr> = seen.all().into_iter().map(|r| r.peer).collect();
        assert_eq!(peers.len(), 3);
        assert!(peers.iter().all(|p| *p == peers[0]), "{peers:?}");
    }

    #[tokio::test]
    async fn an_invalid_header_value_fails_without_echoing_it() {
        let (base, _, seen) = receiver().await;
        let mut bad = request(format!("{base}/ok"));
        bad.headers.push(("Authorization".to_owned(), "Bearer leak\nme".to_owned()));
        let result = transport(local()).post(bad).await;
        let WebhookOutcome::Failed { error } = result.outcome else {
            panic!("unexpected outcome {:?}", result.outcome);
        };
        assert_eq!(error, "the value of header authorization is not valid");
        assert!(seen.all().is_empty());
    }

    #[tokio::test]
    async fn an_unparsable_url_fails() {
        let result = transport(local()).post(request("not a url".to_owned())).await;
        assert!(
            matches!(&result.outcome, WebhookOutcome::Failed { error } if error.contains("not valid")),
            "{:?}",
            result.outcome
        );
    }

    #[test]
    fn retry_after_is_read_as_seconds_or_as_a_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let parse = |s: &'static str| parse_retry_after(&HeaderValue::from_static(s), now);
        assert_eq!(parse("7"), Some(Duration::from_secs(7)));
        assert_eq!(parse(" 0 "), Some(Duration::ZERO));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(90));
        assert_eq!(
            parse_retry_after(&HeaderValue::from_str(&later).unwrap(), now),
            Some(Duration::from_secs(90))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(90));
        assert_eq!(
            parse_retry_after(&HeaderValue::from_str(&earlier).unwrap(), now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse("soon"), None);
        assert_eq!(parse("-5"), None);
    }

    #[test]
    fn an_invalid_user_agent_is_refused() {
        let error =
            HttpWebhookTransport::new(NetworkPolicy::strict(), Duration::from_secs(1), "a\nb")
                .unwrap_err();
        assert!(error.contains("user agent"), "{error}");
    }
}
