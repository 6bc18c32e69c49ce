//! The `instagram` connector: Instagram Direct through Meta's Graph API
//! (the Instagram API with Instagram Login: `graph.instagram.com`, an
//! Instagram user access token per instance).
//!
//! Rules kept here, before Meta is called:
//! - **The 24-hour window.** A business may write to a person only within
//!   24 hours of the person's last message. Outside it the send fails as
//!   "window closed" without a call, unless the instance enables the
//!   HUMAN_AGENT tag and the person wrote within 7 days. A person the
//!   gateway has never heard from is left to Meta to judge (they may have
//!   written before the instance was connected).
//! - **The comment window.** A private reply goes out within 7 days of the
//!   comment (the gateway's stores accept it only once per comment).
//! - **Budgets per account**: 100 calls/s, 10/s for audio and video, 750
//!   private replies per hour (all configurable).
//!
//! The access token is sealed in the store; it is opened for each call and
//! travels only in the `Authorization` header.

pub mod wire;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chatgate_core::clock::Clock;
use chatgate_core::connector::{
    AccountProfile, ActionError, ConnectError, Connection, Connector, ContactProfile, SendContext,
    SendError, SendReceipt,
};
use chatgate_core::message::Recipient;
use chatgate_core::vault::Vault;
use chatgate_core::{ConnectorKind, Instance, OutboundMessage};
use serde_json::Value;

use super::graph::{GraphApi, GraphFailure};
use super::pace::{Budget, Pacer};
use wire::{Lane, MessagingType, SendCall};

/// Meta's Instagram host (Instagram API with Instagram Login).
pub const DEFAULT_GRAPH_BASE_URL: &str = "https://graph.instagram.com";
/// The Graph API version the gateway speaks.
pub const DEFAULT_GRAPH_VERSION: &str = "v25.0";

/// How the connector reaches Meta and which rules it keeps.
#[derive(Debug, Clone)]
pub struct InstagramConfig {
    /// The Graph API host, e.g. `https://graph.instagram.com` (tests point
    /// it at a local fake).
    pub graph_base_url: String,
    /// The Graph API version, e.g. `v25.0`.
    pub graph_version: String,
    /// The longest a Graph call may take.
    pub timeout: Duration,
    /// Sends per second per account (text, images, templates, reactions).
    pub sends_per_second: u32,
    /// Audio and video sends per second per account.
    pub media_sends_per_second: u32,
    /// Private replies per hour per account.
    pub comment_replies_per_hour: u32,
    /// How long after a person's last message the business may write.
    pub window: Duration,
    /// How long a HUMAN_AGENT-tagged reply may come after it.
    pub human_agent_window: Duration,
    /// How long after a comment a private reply may go out.
    pub comment_window: Duration,
}

impl Default for InstagramConfig {
    fn default() -> Self {
        Self {
            graph_base_url: DEFAULT_GRAPH_BASE_URL.to_owned(),
            graph_version: DEFAULT_GRAPH_VERSION.to_owned(),
            timeout: Duration::from_secs(20),
            sends_per_second: 100,
            media_sends_per_second: 10,
            comment_replies_per_hour: 750,
            window: Duration::from_secs(24 * 3600),
            human_agent_window: Duration::from_secs(7 * 24 * 3600),
            comment_window: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// Instagram Direct through Meta's Graph API.
pub struct InstagramConnector {
    graph: GraphApi,
    config: InstagramConfig,
    vault: Arc<Vault>,
    clock: Arc<dyn Clock>,
    pacer: Pacer,
}

impl InstagramConnector {
    /// A connector opening access tokens with `vault`.
    pub fn new(config: InstagramConfig, vault: Arc<Vault>, clock: Arc<dyn Clock>) -> Self {
        let graph = GraphApi::new(&config.graph_base_url, &config.graph_version, config.timeout);
        Self { graph, config, vault, clock, pacer: Pacer::new() }
    }

    /// The account id and opened access token of a connected instance.
    fn credentials(&self, instance: &Instance) -> Result<(String, String), SendError> {
        let (Some(account), Some(sealed)) = (&instance.account, &instance.access_token) else {
            return Err(SendError::Unauthorized {
                detail: "the instance is not connected to an Instagram account; \
                         set its account id and access token first"
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
        let Some(account) = path_segment(&account.id) else {
            return Err(SendError::Unauthorized {
                detail:
                    "the connected account id is not an Instagram id; connect the instance again"
                        .into(),
            });
        };
        Ok((account.to_owned(), token))
    }

    /// Which `messaging_type` a message to a person gets, or why it may not
    /// be sent at all.
    fn messaging_type(
        &self,
        instance: &Instance,
        message: &OutboundMessage,
        context: &SendContext,
    ) -> Result<MessagingType, SendError> {
        match &message.recipient {
            Recipient::Comment(_) => {
                if let Some(at) = context.comment_at
                    && context.now.since(at) > self.config.comment_window
                {
                    return Err(SendError::WindowClosed {
                        detail: format!(
                            "the comment is older than {}; Instagram allows a private reply only within that time",
                            days(self.config.comment_window)
                        ),
                    });
                }
                Ok(MessagingType::Response)
            }
            Recipient::User(_) => {
                let Some(last) = context.last_inbound_at else {
                    return Ok(MessagingType::Response);
                };
                let age = context.now.since(last);
                if age <= self.config.window {
                    Ok(MessagingType::Response)
                } else if instance.settings.human_agent_tag && age <= self.config.human_agent_window
                {
                    Ok(MessagingType::HumanAgent)
                } else {
                    let tag = if instance.settings.human_agent_tag {
                        format!(
                            "; the HUMAN_AGENT tag reaches back only {}",
                            days(self.config.human_agent_window)
                        )
                    } else {
                        "; enable humanAgentTag in the instance settings to answer within 7 days"
                            .to_owned()
                    };
                    Err(SendError::WindowClosed {
                        detail: format!(
                            "the person last wrote more than {} hours ago{tag}",
                            self.config.window.as_secs() / 3600
                        ),
                    })
                }
            }
        }
    }

    /// Takes the calls' share of the account's budgets, or says how long to
    /// wait.
    fn pace(&self, account: &str, calls: &[SendCall]) -> Result<(), SendError> {
        let now = self.clock.now();
        let budgets = [
            (Lane::Send, "send", Budget::per_second(self.config.sends_per_second)),
            (Lane::Media, "media", Budget::per_second(self.config.media_sends_per_second)),
            (Lane::Comment, "comments", Budget::per_hour(self.config.comment_replies_per_hour)),
        ];
        let demands: Vec<(&'static str, Budget, u32)> = budgets
            .into_iter()
            .map(|(lane, name, budget)| {
                let count = calls.iter().filter(|c| c.lane == lane).count();
                (name, budget, u32::try_from(count).unwrap_or(u32::MAX))
            })
            .collect();
        self.pacer
            .take_all(account, &demands, now)
            .map_err(|wait| SendError::Throttled { retry_after: Some(wait) })
    }

    async fn action(
        &self,
        instance: &Instance,
        contact: &str,
        action: &str,
    ) -> Result<(), ActionError> {
        let (account, token) = self.credentials(instance).map_err(ActionError::Failed)?;
        let body = wire::sender_action(contact, action);
        // Sender actions spend the account's send budget too.
        let call = SendCall { lane: Lane::Send, body: Value::Null };
        self.pace(&account, std::slice::from_ref(&call)).map_err(ActionError::Failed)?;
        self.graph
            .post(&format!("{account}/messages"), &token, &body)
            .await
            .map(drop)
            .map_err(|failure| ActionError::Failed(failure.classify()))
    }
}

/// An id that may stand as one segment of a Graph API path: Meta's ids are
/// digits; anything that could change the path or the query is refused.
fn path_segment(id: &str) -> Option<&str> {
    let fits = !id.is_empty()
        && id.len() <= 64
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    fits.then_some(id)
}

fn days(duration: Duration) -> String {
    let days = duration.as_secs() / 86_400;
    if days == 1 { "1 day".to_owned() } else { format!("{days} days") }
}

/// The `message_id` of a Send API answer.
fn message_id(answer: &Value) -> Result<String, SendError> {
    answer
        .get("message_id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| {
            GraphFailure::Malformed("Meta's answer carried no message_id".into()).classify()
        })
}

#[async_trait]
impl Connector for InstagramConnector {
    fn kind(&self) -> ConnectorKind {
        ConnectorKind::Instagram
    }

    async fn send(
        &self,
        instance: &Instance,
        message: &OutboundMessage,
        context: &SendContext,
    ) -> Result<SendReceipt, SendError> {
        let (account, token) = self.credentials(instance)?;
        let messaging = self.messaging_type(instance, message, context)?;
        let calls = wire::send_calls(&message.recipient, &message.content, messaging)
            .map_err(|e| SendError::Permanent { code: None, detail: e.0 })?;
        // Parts earlier attempts delivered are not sent again.
        let skip = usize::try_from(context.parts_sent).unwrap_or(usize::MAX);
        let Some(remaining) = calls.get(skip..).filter(|rest| !rest.is_empty()) else {
            return Err(SendError::Permanent {
                code: None,
                detail: format!("all {} parts of the message were already delivered", calls.len()),
            });
        };
        self.pace(&account, remaining)?;
        let path = format!("{account}/messages");
        let mut sent: Vec<String> = Vec::with_capacity(remaining.len());
        let partial = |sent: Vec<String>, error: SendError| {
            if sent.is_empty() {
                error
            } else {
                SendError::Partial { sent, error: Box::new(error) }
            }
        };
        for call in remaining {
            // Stop between parts rather than be cut off during one: the
            // parts sent are then known and the rest follow in a retry.
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
            let answer = match self.graph.post(&path, &token, &call.body).await {
                Ok(answer) => answer,
                Err(failure) => return Err(partial(sent, failure.classify())),
            };
            // A reaction answers without a message id: it is not a message.
            let id = match call.body.get("sender_action") {
                Some(_) => answer
                    .get("message_id")
                    .and_then(Value::as_str)
                    .map_or_else(|| format!("reaction.{}", message.id), str::to_owned),
                None => match message_id(&answer) {
                    Ok(id) => id,
                    Err(error) => return Err(partial(sent, error)),
                },
            };
            sent.push(id);
        }
        let provider_message_id = sent.pop().unwrap_or_default();
        Ok(SendReceipt { provider_message_id, earlier_parts: sent, simulated_receipts: Vec::new() })
    }

    async fn validate(&self, connection: &Connection<'_>) -> Result<AccountProfile, ConnectError> {
        let access_token = connection.access_token;
        let answer = self.graph.get("me", access_token, "user_id,username,name").await.map_err(
            |failure| match failure.classify() {
                SendError::Transient { .. }
                | SendError::Uncertain { .. }
                | SendError::Throttled { .. } => ConnectError::Unreachable(failure.describe()),
                _ => ConnectError::Rejected(failure.describe()),
            },
        )?;
        let text = |key: &str| match answer.get(key) {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        // `user_id` is the professional account id webhooks name; `id` is
        // app-scoped and only a fallback.
        let Some(id) = text("user_id").or_else(|| text("id")) else {
            return Err(ConnectError::Rejected(
                "Meta's profile answer carried no account id".into(),
            ));
        };
        Ok(AccountProfile { id, username: text("username"), name: text("name"), business_id: None })
    }

    fn has_profiles(&self) -> bool {
        true
    }

    async fn profile(&self, instance: &Instance, contact: &str) -> Option<ContactProfile> {
        let (_, token) = self.credentials(instance).ok()?;
        // An id that is no Instagram id has no profile to ask for.
        let Some(contact) = path_segment(contact) else {
            return Some(ContactProfile::default());
        };
        match self.graph.get(contact, &token, "name,username").await {
            Ok(answer) => Some(ContactProfile {
                username: answer.get("username").and_then(Value::as_str).map(str::to_owned),
                name: answer.get("name").and_then(Value::as_str).map(str::to_owned),
            }),
            Err(failure) => {
                tracing::info!(instance = %instance.id, "no profile for a contact: {}", failure.describe());
                // Meta answered that it shares none (no such person for this
                // account, no permission): settled. Anything else is asked
                // again later.
                match failure.classify() {
                    SendError::Permanent { .. } | SendError::WindowClosed { .. } => {
                        Some(ContactProfile::default())
                    }
                    _ => None,
                }
            }
        }
    }

    async fn mark_read(
        &self,
        instance: &Instance,
        contact: &str,
        _message_id: Option<&str>,
    ) -> Result<(), ActionError> {
        self.action(instance, contact, "mark_seen").await
    }

    async fn typing(&self, instance: &Instance, contact: &str) -> Result<(), ActionError> {
        self.action(instance, contact, "typing_on").await
    }
}
