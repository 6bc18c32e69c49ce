//! The `whatsapp` connector: WhatsApp through Meta's Cloud API
//! (`graph.facebook.com`, one phone number id and a system user access
//! token per instance).
//!
//! Docs: <https://developers.facebook.com/docs/whatsapp/cloud-api>.
//! `POST /{v}/{phone-number-id}/messages`:
//!
//! ```json
//! {"messaging_product":"whatsapp","recipient_type":"individual","to":"79001234567",
//!  "type":"text","text":{"body":"hi","preview_url":false}}
//! → {"messaging_product":"whatsapp","contacts":[{"input":"79001234567","wa_id":"79001234567"}],
//!    "messages":[{"id":"wamid.HBgL…"}]}
//! ```
//!
//! Rules kept here, before Meta is called:
//! - **The 24-hour customer-service window.** Outside 24 hours of the
//!   person's last message only a message template may be sent; anything
//!   else fails as "window closed" without a call. A person the gateway has
//!   never heard from is left to Meta to judge (131047 says the same).
//! - **Throughput per phone number**: 80 messages per second by default
//!   (`meta.whatsapp_sends_per_second`).
//!
//! Failures are classified from the Cloud API's codes first ([`classify`]),
//! then as any Graph API error.
//!
//! The access token is sealed in the store; it is opened for each call and
//! travels only in the `Authorization` header.

pub mod inbound;
pub mod wire;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chatgate_core::clock::Clock;
use chatgate_core::connector::{
    AccountProfile, ActionError, ConnectError, Connection, Connector, SendContext, SendError,
    SendReceipt,
};
use chatgate_core::message::Body;
use chatgate_core::vault::Vault;
use chatgate_core::{ConnectorKind, Instance, OutboundMessage};
use serde_json::Value;

use super::graph::{GraphApi, GraphFailure};
use super::pace::{Budget, Pacer};

/// Meta's Graph API host for the Cloud API.
pub const DEFAULT_CLOUD_API_BASE_URL: &str = "https://graph.facebook.com";

/// The Cloud API's codes that mean "slow down": 4 (application rate
/// limit), 80007 (WABA rate limit), 130429 (throughput), 131048 (spam rate
/// limit), 131056 (pair rate limit: too many to one person), 133016
/// (registration rate limit).
pub const THROTTLE_CODES: [i64; 6] = [4, 80_007, 130_429, 131_048, 131_056, 133_016];
/// The person wrote more than 24 hours ago: only a template may go.
pub const WINDOW_CODE: i64 = 131_047;
/// Meta could not fetch the media from its link: worth another try.
pub const MEDIA_FETCH_CODE: i64 = 131_053;
/// The access token is invalid or expired.
pub const TOKEN_CODE: i64 = 190;

/// How the connector reaches Meta and which rules it keeps.
#[derive(Debug, Clone)]
pub struct WhatsappConfig {
    /// The Graph API host, e.g. `https://graph.facebook.com` (tests point it
    /// at a local fake).
    pub graph_base_url: String,
    /// The Graph API version, e.g. `v25.0`.
    pub graph_version: String,
    /// The longest a Graph call may take.
    pub timeout: Duration,
    /// Messages per second per phone number (0: no limit).
    pub sends_per_second: u32,
    /// How long after a person's last message anything but a template may
    /// be sent.
    pub window: Duration,
}

impl Default for WhatsappConfig {
    fn default() -> Self {
        Self {
            graph_base_url: DEFAULT_CLOUD_API_BASE_URL.to_owned(),
            graph_version: super::instagram::DEFAULT_GRAPH_VERSION.to_owned(),
            timeout: Duration::from_secs(20),
            sends_per_second: 80,
            window: Duration::from_secs(24 * 3600),
        }
    }
}

/// A file a customer sent, streaming from Meta.
pub struct MediaDownload {
    /// Its MIME type, when Meta gave one.
    pub mime_type: Option<String>,
    /// Its size in bytes, when Meta said.
    pub content_length: Option<u64>,
    /// The bytes, as they come.
    pub body: futures::stream::BoxStream<'static, Result<Vec<u8>, std::io::Error>>,
}

impl std::fmt::Debug for MediaDownload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaDownload")
            .field("mime_type", &self.mime_type)
            .field("content_length", &self.content_length)
            .finish_non_exhaustive()
    }
}

/// The body of a response as a stream of chunks, ending at the first error.
fn chunks(
    response: reqwest::Response,
) -> futures::stream::BoxStream<'static, Result<Vec<u8>, std::io::Error>> {
    use futures::StreamExt;
    futures::stream::unfold(Some(response), |response| async move {
        let mut response = response?;
        match response.chunk().await {
            Ok(Some(chunk)) => Some((Ok(chunk.to_vec()), Some(response))),
            Ok(None) => None,
            Err(_) => Some((Err(std::io::Error::other("the download from Meta broke off")), None)),
        }
    })
    .boxed()
}

/// WhatsApp through Meta's Cloud API.
pub struct WhatsappConnector {
    graph: GraphApi,
    config: WhatsappConfig,
    vault: Arc<Vault>,
    clock: Arc<dyn Clock>,
    pacer: Pacer,
}

impl WhatsappConnector {
    /// A connector opening access tokens with `vault`.
    pub fn new(config: WhatsappConfig, vault: Arc<Vault>, clock: Arc<dyn Clock>) -> Self {
        let graph = GraphApi::new(&config.graph_base_url, &config.graph_version, config.timeout);
        Self { graph, config, vault, clock, pacer: Pacer::new() }
    }

    /// The phone number id and opened access token of a connected instance.
    fn credentials(&self, instance: &Instance) -> Result<(String, String), SendError> {
        let (Some(account), Some(sealed)) = (&instance.account, &instance.access_token) else {
            return Err(SendError::Unauthorized {
                detail: "the instance is not connected to a WhatsApp phone number; \
                         set its phone number id, WABA id and access token first"
                    .into(),
            });
        };
        let token = self.vault.open(&sealed.0, &instance.id.to_string()).ok_or_else(|| {
            SendError::Unauthorized {
                detail: "the stored access token cannot be opened with this server's key; \
                         connect the instance again"
                    .into(),
            }
        })?;
        let Some(phone) = graph_id(&account.id) else {
            return Err(SendError::Unauthorized {
                detail:
                    "the connected phone number id is not a Graph id; connect the instance again"
                        .into(),
            });
        };
        Ok((phone.to_owned(), token))
    }

    /// Takes `calls` from the phone number's budget, or says how long to wait.
    fn pace(&self, phone: &str, calls: usize) -> Result<(), SendError> {
        let budget = Budget::per_second(self.config.sends_per_second);
        let calls = u32::try_from(calls).unwrap_or(u32::MAX);
        self.pacer
            .take(phone, "send", budget, calls, self.clock.now())
            .map_err(|wait| SendError::Throttled { retry_after: Some(wait) })
    }

    /// Where a customer's file can be fetched: `GET /{media-id}` → `url`,
    /// then the file itself with the access token (Meta's media URLs want
    /// it, and last five minutes).
    ///
    /// # Errors
    ///
    /// The instance is not connected, or Meta refused or failed.
    pub async fn download_media(
        &self,
        instance: &Instance,
        media_id: &str,
    ) -> Result<MediaDownload, SendError> {
        let (_, token) = self.credentials(instance)?;
        let Some(media_id) = graph_id(media_id) else {
            return Err(SendError::Permanent {
                code: None,
                detail: "not a WhatsApp media id".into(),
            });
        };
        let answer =
            self.graph.get(media_id, &token, "url,mime_type").await.map_err(|f| classify(&f))?;
        let Some(url) = answer.get("url").and_then(Value::as_str).filter(|u| !u.is_empty()) else {
            return Err(classify(&GraphFailure::Malformed(
                "Meta's media answer carried no url".into(),
            )));
        };
        let response = self.graph.download(url, &token).await.map_err(|f| classify(&f))?;
        let mime_type =
            answer.get("mime_type").and_then(Value::as_str).map(str::to_owned).or_else(|| {
                let header = response.headers().get(reqwest::header::CONTENT_TYPE)?;
                header.to_str().ok().map(str::to_owned)
            });
        let content_length = response.content_length();
        Ok(MediaDownload { mime_type, content_length, body: chunks(response) })
    }
}

/// An id that may stand as one segment of a Graph API path.
fn graph_id(id: &str) -> Option<&str> {
    let fits = !id.is_empty()
        && id.len() <= 64
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
    (fits && !id.starts_with('.')).then_some(id)
}

/// The class the outbound worker acts on, from the Cloud API's codes
/// (`meta-platform.md` §6), then as any Graph API failure.
pub fn classify(failure: &GraphFailure) -> SendError {
    if let GraphFailure::Graph(error) = failure
        && let Some(code) = error.code
    {
        let words = || match error.code_label() {
            Some(label) => format!("{} (WhatsApp code {label})", error_detail(error)),
            None => error_detail(error),
        };
        if THROTTLE_CODES.contains(&code) {
            return SendError::Throttled { retry_after: error.retry_after };
        }
        if code == MEDIA_FETCH_CODE {
            return SendError::Transient { detail: words() };
        }
        if code == WINDOW_CODE {
            return SendError::WindowClosed { detail: words() };
        }
        if code == TOKEN_CODE {
            return SendError::Unauthorized {
                detail: format!("Meta refused the access token: {}", error_detail(error)),
            };
        }
        // The Cloud API's own codes (6 digits) are all permanent but these.
        if code >= 100_000 {
            return SendError::Permanent { code: error.code_label(), detail: error_detail(error) };
        }
    }
    failure.classify()
}

fn error_detail(error: &super::graph::GraphError) -> String {
    match &error.user_message {
        Some(user) if !user.is_empty() && user != &error.message => {
            format!("{} — {user}", error.message)
        }
        _ => error.message.clone(),
    }
}

/// The `messages[0].id` (the wamid) of a Cloud API answer.
fn wamid(answer: &Value) -> Result<String, SendError> {
    answer
        .get("messages")
        .and_then(|m| m.get(0))
        .and_then(|m| m.get("id"))
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| {
            classify(&GraphFailure::Malformed("Meta's answer carried no message id".into()))
        })
}

#[async_trait]
impl Connector for WhatsappConnector {
    fn kind(&self) -> ConnectorKind {
        ConnectorKind::Whatsapp
    }

    async fn send(
        &self,
        instance: &Instance,
        message: &OutboundMessage,
        context: &SendContext,
    ) -> Result<SendReceipt, SendError> {
        let (phone, token) = self.credentials(instance)?;
        if !matches!(message.content.body, Body::MessageTemplate(_))
            && let Some(last) = context.last_inbound_at
            && context.now.since(last) > self.config.window
        {
            return Err(SendError::WindowClosed {
                detail: format!(
                    "the person last wrote more than {} hours ago; outside WhatsApp's \
                     customer-service window only a message template may be sent",
                    self.config.window.as_secs() / 3600
                ),
            });
        }
        let bodies = wire::send_bodies(&message.recipient, &message.content)
            .map_err(|e| SendError::Permanent { code: None, detail: e.0 })?;
        let skip = usize::try_from(context.parts_sent).unwrap_or(usize::MAX);
        let Some(remaining) = bodies.get(skip..).filter(|rest| !rest.is_empty()) else {
            return Err(SendError::Permanent {
                code: None,
                detail: format!("all {} parts of the message were already delivered", bodies.len()),
            });
        };
        self.pace(&phone, remaining.len())?;
        let path = format!("{phone}/messages");
        let mut sent: Vec<String> = Vec::with_capacity(remaining.len());
        let partial = |sent: Vec<String>, error: SendError| {
            if sent.is_empty() {
                error
            } else {
                SendError::Partial { sent, error: Box::new(error) }
            }
        };
        for body in remaining {
            if !sent.is_empty()
                && let Some(deadline) = context.deadline
                && deadline.saturating_duration_since(tokio::time::Instant::now())
                    < self.config.timeout
            {
                let error = SendError::Transient {
                    detail: "the remaining parts are sent in the next attempt".into(),
                };
                return Err(partial(sent, error));
            }
            let answer = match self.graph.post(&path, &token, body).await {
                Ok(answer) => answer,
                Err(failure) => return Err(partial(sent, classify(&failure))),
            };
            match wamid(&answer) {
                Ok(id) => sent.push(id),
                Err(error) => return Err(partial(sent, error)),
            }
        }
        let provider_message_id = sent.pop().unwrap_or_default();
        Ok(SendReceipt { provider_message_id, earlier_parts: sent, simulated_receipts: Vec::new() })
    }

    async fn validate(&self, connection: &Connection<'_>) -> Result<AccountProfile, ConnectError> {
        let unreachable_or_refused = |failure: GraphFailure| match classify(&failure) {
            SendError::Transient { .. }
            | SendError::Uncertain { .. }
            | SendError::Throttled { .. } => ConnectError::Unreachable(failure.describe()),
            _ => ConnectError::Rejected(failure.describe()),
        };
        let Some(phone) = graph_id(connection.account_id) else {
            return Err(ConnectError::Rejected("the phone number id is not a Graph id".into()));
        };
        let Some(waba) = connection.business_id.and_then(graph_id) else {
            return Err(ConnectError::Rejected("the WABA id is not a Graph id".into()));
        };
        let token = connection.access_token;
        let number = self
            .graph
            .get(phone, token, "id,display_phone_number,verified_name")
            .await
            .map_err(unreachable_or_refused)?;
        // The number must belong to the business account given: the WABA's
        // numbers list it (a WABA has at most a few dozen numbers; one page
        // of 200 holds them).
        let numbers = self
            .graph
            .get(&format!("{waba}/phone_numbers?limit=200"), token, "id")
            .await
            .map_err(unreachable_or_refused)?;
        let listed = numbers.get("data").and_then(Value::as_array).is_some_and(|data| {
            data.iter().any(|n| id_text(n.get("id")).as_deref() == Some(phone))
        });
        if !listed {
            return Err(ConnectError::Rejected(format!(
                "phone number {phone} does not belong to WhatsApp Business Account {waba}"
            )));
        }
        let display = number
            .get("display_phone_number")
            .and_then(Value::as_str)
            .map(|d| d.chars().filter(char::is_ascii_digit).collect::<String>())
            .filter(|d| !d.is_empty());
        Ok(AccountProfile {
            id: id_text(number.get("id")).unwrap_or_else(|| phone.to_owned()),
            username: display,
            name: number.get("verified_name").and_then(Value::as_str).map(str::to_owned),
            business_id: Some(waba.to_owned()),
        })
    }

    async fn mark_read(
        &self,
        instance: &Instance,
        _contact: &str,
        message_id: Option<&str>,
    ) -> Result<(), ActionError> {
        let Some(message_id) = message_id else {
            return Err(ActionError::Failed(SendError::Permanent {
                code: None,
                detail: "WhatsApp marks a chat read by a message: name the message (idMessage), \
                         or wait until the customer has written"
                    .into(),
            }));
        };
        let (phone, token) = self.credentials(instance).map_err(ActionError::Failed)?;
        self.pace(&phone, 1).map_err(ActionError::Failed)?;
        self.graph
            .post(&format!("{phone}/messages"), &token, &wire::mark_read(message_id))
            .await
            .map(drop)
            .map_err(|failure| ActionError::Failed(classify(&failure)))
    }
}

fn id_text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::graph::GraphError;
    use super::*;

    fn cloud_error(http_status: u16, code: i64) -> GraphFailure {
        GraphFailure::Graph(GraphError {
            http_status,
            code: Some(code),
            subcode: None,
            message: "(#x) something".into(),
            user_message: Some("the details".into()),
            is_transient: false,
            fbtrace_id: None,
            retry_after: None,
        })
    }

    #[test]
    fn the_cloud_api_throttling_codes_back_off() {
        for code in [4, 80_007, 130_429, 131_048, 131_056, 133_016] {
            assert!(
                matches!(classify(&cloud_error(400, code)), SendError::Throttled { .. }),
                "{code}"
            );
        }
    }

    #[test]
    fn a_media_fetch_failure_is_retried() {
        assert!(matches!(classify(&cloud_error(400, 131_053)), SendError::Transient { .. }));
    }

    #[test]
    fn error_131047_closes_the_window() {
        match classify(&cloud_error(400, 131_047)) {
            SendError::WindowClosed { detail } => assert!(detail.contains("131047"), "{detail}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_invalid_token_is_unauthorized() {
        assert!(matches!(classify(&cloud_error(401, 190)), SendError::Unauthorized { .. }));
    }

    #[test]
    fn other_codes_are_permanent_with_the_code_and_meta_s_words() {
        for code in [131_026, 131_051, 132_001, 100, 131_000] {
            match classify(&cloud_error(400, code)) {
                SendError::Permanent { code: label, detail } => {
                    assert_eq!(label, Some(code.to_string()));
                    assert!(detail.contains("something") && detail.contains("the details"));
                }
                other => panic!("{code}: {other:?}"),
            }
        }
    }

    #[test]
    fn graph_ids_refuse_anything_that_could_change_the_path() {
        assert_eq!(graph_id("106540352242922"), Some("106540352242922"));
        assert_eq!(graph_id("../me"), None);
        assert_eq!(graph_id("1?fields=x"), None);
        assert_eq!(graph_id(""), None);
    }
}
