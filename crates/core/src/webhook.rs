//! Webhooks out: the transport port (one HTTP POST to a user's URL) and
//! Standard Webhooks signing (<https://www.standardwebhooks.com/>).
//!
//! Every push carries `webhook-id` (the event id, stable across retries, for
//! deduplication), `webhook-timestamp` (seconds) and `webhook-signature`:
//! `v1,` + base64 HMAC-SHA256 over `id.timestamp.body`, keyed with the
//! instance's `whsec_…` secret. During a secret rotation's grace period both
//! signatures are sent, separated by a space.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{KeyInit, Mac};
use sha2::Sha256;

use crate::ids::random_bytes;

/// One POST to a consumer's URL.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookRequest {
    /// Where to (absolute http(s) URL, already checked for shape).
    pub url: String,
    /// Headers besides `Content-Type: application/json`.
    pub headers: Vec<(String, String)>,
    /// The JSON body.
    pub body: Vec<u8>,
}

impl fmt::Debug for WebhookRequest {
    // Headers carry the consumer's bearer token: never print them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookRequest")
            .field("url", &self.url)
            .field("body_bytes", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// How a POST ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookOutcome {
    /// The consumer answered with this status.
    Responded {
        /// The HTTP status code.
        status: u16,
        /// Its `Retry-After`, in seconds or as an HTTP date, as a duration.
        retry_after: Option<Duration>,
    },
    /// No answer within the timeout.
    TimedOut,
    /// The connection could not be made or broke (refused, DNS, TLS, reset).
    Failed {
        /// What happened, without secrets.
        error: String,
    },
    /// The URL points into a network chatgate may not reach (loopback,
    /// private, link-local, metadata) and is not allowed by configuration.
    Blocked {
        /// Why, e.g. "127.0.0.1 is a loopback address".
        reason: String,
    },
}

/// A POST's outcome and how long it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookResult {
    /// How it ended.
    pub outcome: WebhookOutcome,
    /// Time from start to the end of the response headers (or the failure).
    pub latency: Duration,
}

/// Sends webhook POSTs. Implemented over HTTP with the SSRF guard in
/// `chatgate-connectors`; tests may use a real receiver on loopback.
#[async_trait]
pub trait WebhookTransport: Send + Sync + 'static {
    /// POSTs once; never retries, never follows redirects.
    async fn post(&self, request: WebhookRequest) -> WebhookResult;
}

/// An instance's signing secret: `whsec_` + base64 of 24 random bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(String);

/// The prefix of every secret.
pub const SECRET_PREFIX: &str = "whsec_";

impl WebhookSecret {
    /// A fresh random secret.
    pub fn generate() -> Self {
        Self(format!("{SECRET_PREFIX}{}", STANDARD.encode(random_bytes::<24>())))
    }

    /// Wraps a stored secret; `None` when it is not `whsec_` + base64.
    pub fn parse(secret: &str) -> Option<Self> {
        let key = secret.strip_prefix(SECRET_PREFIX)?;
        STANDARD.decode(key).ok().filter(|k| !k.is_empty())?;
        Some(Self(secret.to_owned()))
    }

    /// The secret as shown to the instance owner and stored.
    pub fn reveal(&self) -> &str {
        &self.0
    }

    fn key(&self) -> Vec<u8> {
        let encoded = self.0.strip_prefix(SECRET_PREFIX).unwrap_or(&self.0);
        STANDARD.decode(encoded).unwrap_or_default()
    }

    /// The `v1,<base64>` signature of one message.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        // HMAC takes keys of any length; this cannot fail.
        let mut mac = match <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(&self.key()) {
            Ok(mac) => mac,
            Err(_) => return String::new(),
        };
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(…)")
    }
}

/// The Standard Webhooks headers for one delivery, signed with every
/// secret given (the current one, and the previous one during a rotation's
/// grace period).
pub fn signature_headers(
    secrets: &[&WebhookSecret],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Vec<(String, String)> {
    let signatures: Vec<String> = secrets.iter().map(|s| s.sign(id, timestamp, body)).collect();
    vec![
        ("webhook-id".to_owned(), id.to_owned()),
        ("webhook-timestamp".to_owned(), timestamp.to_string()),
        ("webhook-signature".to_owned(), signatures.join(" ")),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_matches_the_published_standard_webhooks_test_vector() {
        let secret = WebhookSecret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
        let signature = secret.sign(
            "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
            1_649_367_553,
            br#"{"email":"test@example.com","username":"test_user"}"#,
        );
        assert_eq!(signature, "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=");
    }

    #[test]
    fn generated_secrets_parse_back_and_differ() {
        let a = WebhookSecret::generate();
        assert!(a.reveal().starts_with("whsec_"));
        assert_eq!(WebhookSecret::parse(a.reveal()), Some(a.clone()));
        assert_ne!(a, WebhookSecret::generate());
        assert!(WebhookSecret::parse("nope").is_none());
        assert!(!format!("{a:?}").contains(a.reveal()));
    }

    #[test]
    fn during_a_rotation_both_signatures_are_sent() {
        let (old, new) = (WebhookSecret::generate(), WebhookSecret::generate());
        let headers = signature_headers(&[&new, &old], "evt", 1, b"{}");
        let signature = &headers.iter().find(|(k, _)| k == "webhook-signature").unwrap().1;
        let parts: Vec<_> = signature.split(' ').collect();
        assert_eq!(parts, [new.sign("evt", 1, b"{}"), old.sign("evt", 1, b"{}")]);
    }
}
