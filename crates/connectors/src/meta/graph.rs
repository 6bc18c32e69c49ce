//! Calls to Meta's Graph API and what its answers mean.
//!
//! Every Graph call is authenticated with the instance's access token in an
//! `Authorization: Bearer` header — never in the URL, so the token cannot
//! reach a log line through a request URL or a `reqwest` error.
//!
//! Failures are classified once, here, from Meta's error envelope
//! (`{"error":{"message","type","code","error_subcode","fbtrace_id"}}`), in
//! the classes the outbound worker acts on; the table is the one in
//! `meta-platform.md` §1.

use std::time::Duration;

use chatgate_core::connector::SendError;
use reqwest::header::{AUTHORIZATION, RETRY_AFTER};
use serde::Deserialize;
use serde_json::Value;

/// Meta's error codes that mean "slow down": application, user, page and
/// account rate limits, and the business use case limits of Instagram
/// (80002) and Messenger (80006).
const THROTTLE_CODES: [i64; 7] = [4, 17, 32, 341, 613, 80_002, 80_006];
/// Code 10 with these subcodes: the message is outside the allowed window.
const WINDOW_SUBCODES: [i64; 2] = [2_534_022, 2_018_278];
/// Code 10 with this subcode: the account may not send for a while.
const RESTRICTED_SUBCODE: i64 = 1_893_063;
/// Code 1 with this subcode: Meta could not read its own reply; the send may
/// have happened, so it is not repeated blindly.
const MAYBE_SENT_SUBCODE: i64 = 1_357_046;
/// How long to stay away after "temporarily restricted" (the worker caps it
/// at its own throttle maximum).
const RESTRICTED_BACKOFF: Duration = Duration::from_secs(3600);

/// Where the Graph API is and how long a call may take.
#[derive(Debug, Clone)]
pub struct GraphApi {
    http: reqwest::Client,
    /// For files: no limit on the whole transfer, only on each read.
    downloads: reqwest::Client,
    base_url: String,
    version: String,
}

impl GraphApi {
    /// A client for `base_url` (e.g. `https://graph.instagram.com`) and
    /// `version` (e.g. `v25.0`).
    pub fn new(base_url: &str, version: &str, timeout: Duration) -> Self {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("chatgate/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("a reqwest client with static settings builds");
        let downloads = reqwest::Client::builder()
            .read_timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::limited(3))
            .user_agent(concat!("chatgate/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("a reqwest client with static settings builds");
        Self {
            http,
            downloads,
            base_url: base_url.trim_end_matches('/').to_owned(),
            version: version.to_owned(),
        }
    }

    /// The full URL of a Graph path such as `me` or `{id}/messages`.
    pub fn url(&self, path: &str) -> String {
        format!("{}/{}/{}", self.base_url, self.version, path.trim_start_matches('/'))
    }

    /// `POST {path}` with a JSON body.
    pub async fn post(&self, path: &str, token: &str, body: &Value) -> Result<Value, GraphFailure> {
        let request =
            self.http.post(self.url(path)).header(AUTHORIZATION, bearer(token)).json(body);
        answer(request.send().await).await
    }

    /// `GET` of a URL Meta gave (a WhatsApp media URL, which wants the
    /// access token too): the response as it comes, for streaming, or
    /// Meta's error.
    pub async fn download(
        &self,
        url: &str,
        token: &str,
    ) -> Result<reqwest::Response, GraphFailure> {
        let response = self
            .downloads
            .get(url)
            .header(AUTHORIZATION, bearer(token))
            .send()
            .await
            .map_err(|e| GraphFailure::Network(network_detail(&e)))?;
        if response.status().is_success() {
            return Ok(response);
        }
        Err(answer(Ok(response)).await.err().unwrap_or_else(|| {
            GraphFailure::Malformed("Meta answered a download with an error status".into())
        }))
    }

    /// `GET {path}?fields=…`.
    pub async fn get(&self, path: &str, token: &str, fields: &str) -> Result<Value, GraphFailure> {
        let request = self
            .http
            .get(self.url(path))
            .header(AUTHORIZATION, bearer(token))
            .query(&[("fields", fields)]);
        answer(request.send().await).await
    }
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// Reads an answer: a 2xx JSON body, or Meta's error envelope.
async fn answer(sent: Result<reqwest::Response, reqwest::Error>) -> Result<Value, GraphFailure> {
    let response = sent.map_err(|e| {
        if e.is_connect() {
            GraphFailure::Network(network_detail(&e))
        } else {
            GraphFailure::NoAnswer(network_detail(&e))
        }
    })?;
    let status = response.status();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after)
        .or_else(|| {
            let usage = response.headers().get(BUSINESS_USE_CASE_USAGE)?.to_str().ok()?;
            regain_access_after(usage)
        });
    let bytes = response.bytes().await.map_err(|e| GraphFailure::NoAnswer(network_detail(&e)))?;
    if status.is_success() {
        return serde_json::from_slice(&bytes).map_err(|_| {
            GraphFailure::Malformed(format!("Meta answered {status} with a body that is not JSON"))
        });
    }
    let envelope: Option<Envelope> = serde_json::from_slice(&bytes).ok();
    let error = match envelope {
        Some(Envelope { error }) => GraphError {
            http_status: status.as_u16(),
            code: error.code,
            subcode: error.error_subcode,
            message: error.message.unwrap_or_else(|| format!("Meta answered {status}")),
            user_message: error
                .error_user_msg
                .or_else(|| error.error_data.and_then(|data| data.details)),
            is_transient: error.is_transient.unwrap_or(false),
            fbtrace_id: error.fbtrace_id,
            retry_after,
        },
        None => GraphError {
            http_status: status.as_u16(),
            code: None,
            subcode: None,
            message: format!("Meta answered {status}"),
            user_message: None,
            is_transient: false,
            fbtrace_id: None,
            retry_after,
        },
    };
    Err(GraphFailure::Graph(error))
}

/// What went wrong on the network, without the URL (it names the account).
fn network_detail(error: &reqwest::Error) -> String {
    let what = if error.is_timeout() {
        "Meta did not answer in time"
    } else if error.is_connect() {
        "could not connect to Meta"
    } else {
        "the connection to Meta failed"
    };
    match std::error::Error::source(error) {
        Some(source) => format!("{what}: {source}"),
        None => what.to_owned(),
    }
}

/// The header in which Meta reports an account's business use case
/// usage, with the minutes until a throttled account may call again.
const BUSINESS_USE_CASE_USAGE: &str = "x-business-use-case-usage";

/// The longest `estimated_time_to_regain_access` (minutes) of an
/// `X-Business-Use-Case-Usage` header, when above zero.
fn regain_access_after(usage: &str) -> Option<Duration> {
    let usage: Value = serde_json::from_str(usage).ok()?;
    let minutes = usage
        .as_object()?
        .values()
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(|entry| entry.get("estimated_time_to_regain_access")?.as_u64())
        .max()?;
    (minutes > 0).then(|| Duration::from_secs(minutes * 60))
}

/// `Retry-After` as seconds or an HTTP date.
fn parse_retry_after(value: &str) -> Option<Duration> {
    if let Ok(seconds) = value.trim().parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value.trim()).ok()?;
    Some(at.duration_since(std::time::SystemTime::now()).unwrap_or(Duration::ZERO))
}

#[derive(Deserialize)]
struct Envelope {
    error: EnvelopeError,
}

#[derive(Deserialize)]
struct EnvelopeError {
    message: Option<String>,
    code: Option<i64>,
    error_subcode: Option<i64>,
    error_user_msg: Option<String>,
    is_transient: Option<bool>,
    fbtrace_id: Option<String>,
    /// The Cloud API's `{"details": "…"}`.
    error_data: Option<ErrorData>,
}

#[derive(Deserialize)]
struct ErrorData {
    details: Option<String>,
}

/// Meta's error envelope, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphError {
    /// The HTTP status.
    pub http_status: u16,
    /// `error.code`.
    pub code: Option<i64>,
    /// `error.error_subcode`.
    pub subcode: Option<i64>,
    /// `error.message`.
    pub message: String,
    /// `error.error_user_msg`, Meta's words for a person.
    pub user_message: Option<String>,
    /// `error.is_transient`.
    pub is_transient: bool,
    /// `error.fbtrace_id`, for Meta's support.
    pub fbtrace_id: Option<String>,
    /// The `Retry-After` header.
    pub retry_after: Option<Duration>,
}

impl GraphError {
    /// `code` or `code/subcode`, the form shown in status events.
    pub fn code_label(&self) -> Option<String> {
        match (self.code, self.subcode) {
            (Some(code), Some(subcode)) => Some(format!("{code}/{subcode}")),
            (Some(code), None) => Some(code.to_string()),
            (None, _) => None,
        }
    }

    /// Meta's message, with its words for a person when it gave them.
    fn detail(&self) -> String {
        match &self.user_message {
            Some(user) if !user.is_empty() && user != &self.message => {
                format!("{} — {user}", self.message)
            }
            _ => self.message.clone(),
        }
    }
}

/// Why a Graph call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GraphFailure {
    /// Meta answered with an error.
    Graph(GraphError),
    /// Meta could not be reached: the call never left.
    Network(String),
    /// The call went out but its answer was lost (a timeout, a connection
    /// broken before the answer): Meta may have acted on it.
    NoAnswer(String),
    /// Meta answered 2xx with something that is not what the call returns.
    Malformed(String),
}

impl GraphFailure {
    /// The class the outbound worker acts on (`meta-platform.md` §1).
    pub fn classify(&self) -> SendError {
        let error = match self {
            GraphFailure::Network(detail) => {
                return SendError::Transient { detail: detail.clone() };
            }
            GraphFailure::NoAnswer(detail) => {
                return SendError::Uncertain { detail: detail.clone() };
            }
            GraphFailure::Malformed(detail) => {
                // A 2xx means Meta may well have sent it: never repeat blindly.
                return SendError::Permanent {
                    code: None,
                    detail: format!("{detail}; the message may have been delivered"),
                };
            }
            GraphFailure::Graph(error) => error,
        };
        let code = error.code.unwrap_or(0);
        let subcode = error.subcode;
        if error.http_status == 429 || THROTTLE_CODES.contains(&code) {
            return SendError::Throttled { retry_after: error.retry_after };
        }
        if code == 10 && subcode == Some(RESTRICTED_SUBCODE) {
            return SendError::Throttled {
                retry_after: Some(error.retry_after.unwrap_or(RESTRICTED_BACKOFF)),
            };
        }
        if code == 1 && subcode == Some(MAYBE_SENT_SUBCODE) {
            return SendError::Permanent {
                code: error.code_label(),
                detail: format!(
                    "{}; the message may have been delivered, so it is not sent again",
                    error.detail()
                ),
            };
        }
        if code == 190 || (error.code.is_none() && error.http_status == 401) {
            return SendError::Unauthorized {
                detail: format!("Meta refused the access token: {}", error.detail()),
            };
        }
        if code == 10 && subcode.is_some_and(|s| WINDOW_SUBCODES.contains(&s)) {
            let label = error.code_label().unwrap_or_default();
            return SendError::WindowClosed {
                detail: format!("{} (platform code {label})", error.detail()),
            };
        }
        if code == 1
            || code == 2
            || error.is_transient
            || (error.code.is_none() && error.http_status >= 500)
        {
            return SendError::Transient {
                detail: format!("{} ({})", error.detail(), error.http_status),
            };
        }
        SendError::Permanent { code: error.code_label(), detail: error.detail() }
    }

    /// Words for a person (operator logs, connection errors).
    pub fn describe(&self) -> String {
        match self {
            GraphFailure::Graph(error) => match error.code_label() {
                Some(code) => format!("{} (Meta code {code})", error.detail()),
                None => error.detail(),
            },
            GraphFailure::Network(detail)
            | GraphFailure::NoAnswer(detail)
            | GraphFailure::Malformed(detail) => detail.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta_error(http_status: u16, code: i64, subcode: Option<i64>) -> GraphFailure {
        GraphFailure::Graph(GraphError {
            http_status,
            code: Some(code),
            subcode,
            message: "(#x) something".into(),
            user_message: None,
            is_transient: false,
            fbtrace_id: None,
            retry_after: None,
        })
    }

    #[test]
    fn throttling_codes_and_http_429_back_off() {
        for code in [4, 17, 32, 341, 613, 80_002, 80_006] {
            assert!(
                matches!(meta_error(400, code, None).classify(), SendError::Throttled { .. }),
                "{code}"
            );
        }
        let mut too_many = meta_error(429, 999, None);
        if let GraphFailure::Graph(e) = &mut too_many {
            e.retry_after = Some(Duration::from_secs(7));
        }
        assert_eq!(
            too_many.classify(),
            SendError::Throttled { retry_after: Some(Duration::from_secs(7)) }
        );
    }

    #[test]
    fn a_temporarily_restricted_account_backs_off_for_long() {
        assert_eq!(
            meta_error(400, 10, Some(1_893_063)).classify(),
            SendError::Throttled { retry_after: Some(RESTRICTED_BACKOFF) }
        );
    }

    #[test]
    fn codes_1_and_2_are_retried_but_an_unreadable_reply_is_not() {
        assert!(matches!(meta_error(500, 1, None).classify(), SendError::Transient { .. }));
        assert!(matches!(meta_error(500, 2, None).classify(), SendError::Transient { .. }));
        match meta_error(500, 1, Some(1_357_046)).classify() {
            SendError::Permanent { code, detail } => {
                assert_eq!(code.as_deref(), Some("1/1357046"));
                assert!(detail.contains("may have been delivered"), "{detail}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_expired_token_is_unauthorized() {
        assert!(matches!(
            meta_error(400, 190, Some(463)).classify(),
            SendError::Unauthorized { .. }
        ));
    }

    #[test]
    fn window_subcodes_close_the_window_and_other_codes_are_permanent_with_the_code() {
        assert!(matches!(
            meta_error(400, 10, Some(2_534_022)).classify(),
            SendError::WindowClosed { .. }
        ));
        assert!(matches!(
            meta_error(400, 10, Some(2_018_278)).classify(),
            SendError::WindowClosed { .. }
        ));
        for (code, subcode, label) in [
            (100, Some(2_534_014), "100/2534014"),
            (200, Some(2_534_041), "200/2534041"),
            (551, None, "551"),
            (36000, None, "36000"),
        ] {
            match meta_error(400, code, subcode).classify() {
                SendError::Permanent { code, .. } => assert_eq!(code.as_deref(), Some(label)),
                other => panic!("{label}: {other:?}"),
            }
        }
    }

    #[test]
    fn network_failures_are_transient_and_a_malformed_success_is_not_repeated() {
        assert!(matches!(
            GraphFailure::Network("refused".into()).classify(),
            SendError::Transient { .. }
        ));
        assert!(matches!(
            GraphFailure::NoAnswer("reset".into()).classify(),
            SendError::Uncertain { .. }
        ));
        assert!(matches!(
            GraphFailure::Malformed("no id".into()).classify(),
            SendError::Permanent { .. }
        ));
    }

    #[test]
    fn retry_after_is_read_as_seconds_or_an_http_date() {
        assert_eq!(parse_retry_after("12"), Some(Duration::from_secs(12)));
        assert_eq!(parse_retry_after("soon"), None);
        let later = std::time::SystemTime::now() + Duration::from_secs(120);
        let wait = parse_retry_after(&httpdate::fmt_http_date(later)).unwrap();
        assert!(wait > Duration::from_secs(100) && wait <= Duration::from_secs(120), "{wait:?}");
    }

    #[test]
    fn the_business_use_case_header_tells_when_access_returns() {
        let usage = r#"{"17841400000000000":[{"type":"instagram","call_count":100,
            "estimated_time_to_regain_access":7},{"type":"pages","estimated_time_to_regain_access":0}]}"#;
        assert_eq!(regain_access_after(usage), Some(Duration::from_secs(7 * 60)));
        assert_eq!(regain_access_after(r#"{"1":[{"estimated_time_to_regain_access":0}]}"#), None);
        assert_eq!(regain_access_after("nonsense"), None);
    }

    #[test]
    fn the_window_error_keeps_meta_s_code() {
        match meta_error(400, 10, Some(2_534_022)).classify() {
            SendError::WindowClosed { detail } => {
                assert!(detail.contains("10/2534022"), "{detail}")
            }
            other => panic!("{other:?}"),
        }
    }
}
