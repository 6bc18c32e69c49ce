//! The sandbox connector: a built-in emulator of an Instagram-like
//! messenger.
//!
//! It accepts every send and returns a provider message id, then reports
//! the message `delivered` after [`SandboxConfig::deliver_after`] and `read`
//! after [`SandboxConfig::read_after`] (both counted from the send). The
//! reports are handed back with the send's answer and stored durably, so
//! they arrive even across a restart.
//!
//! The customer's side is played through [`inbound`]: a request becomes the
//! event a real platform would report.
//!
//! Recipient ids script the platform's bad days:
//! - `fail-…` fails permanently with "recipient unavailable" (Meta's code
//!   551, "this person isn't available right now");
//! - `slow-…` is throttled on the first two attempts and accepted on the
//!   third (each throttle asks to retry after [`SandboxConfig::throttle_retry_after`]).

pub mod inbound;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chatgate_core::clock::Clock;
use chatgate_core::connector::{ActionError, Connector, SendContext, SendError, SendReceipt};
use chatgate_core::{ConnectorKind, Instance, MessageStatus, OutboundMessage};
use serde::Deserialize;

/// Recipients whose id starts with this fail permanently.
pub const FAIL_PREFIX: &str = "fail-";
/// Recipients whose id starts with this are throttled twice.
pub const SLOW_PREFIX: &str = "slow-";
/// How many attempts a `slow-` recipient throttles before accepting.
pub const SLOW_THROTTLES: u32 = 2;

/// The sandbox's timing (configuration section `sandbox`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxConfig {
    /// Milliseconds from send to the `delivered` report (`sandbox.deliver_after_ms`).
    #[serde(rename = "deliver_after_ms", with = "millis")]
    pub deliver_after: Duration,
    /// Milliseconds from send to the `read` report (`sandbox.read_after_ms`).
    #[serde(rename = "read_after_ms", with = "millis")]
    pub read_after: Duration,
    /// Milliseconds a `slow-` recipient asks to wait (`sandbox.throttle_retry_after_ms`).
    #[serde(rename = "throttle_retry_after_ms", with = "millis")]
    pub throttle_retry_after: Duration,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            deliver_after: Duration::from_millis(200),
            read_after: Duration::from_millis(1000),
            throttle_retry_after: Duration::from_millis(1000),
        }
    }
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

/// The sandbox connector.
pub struct SandboxConnector {
    clock: Arc<dyn Clock>,
    config: SandboxConfig,
}

impl SandboxConnector {
    /// A sandbox on the given clock.
    pub fn new(clock: Arc<dyn Clock>, config: SandboxConfig) -> Self {
        Self { clock, config }
    }
}

#[async_trait]
impl Connector for SandboxConnector {
    fn kind(&self) -> ConnectorKind {
        ConnectorKind::Sandbox
    }

    async fn send(
        &self,
        _instance: &Instance,
        message: &OutboundMessage,
        _context: &SendContext,
    ) -> Result<SendReceipt, SendError> {
        let to = message.recipient.id();
        if to.starts_with(FAIL_PREFIX) {
            return Err(SendError::Permanent {
                code: Some("551".into()),
                detail: "recipient unavailable".into(),
            });
        }
        if to.starts_with(SLOW_PREFIX) && message.attempts <= SLOW_THROTTLES {
            return Err(SendError::Throttled {
                retry_after: Some(self.config.throttle_retry_after),
            });
        }
        let now = self.clock.now();
        Ok(SendReceipt {
            provider_message_id: format!("sandbox.{}", uuid::Uuid::now_v7().simple()),
            earlier_parts: Vec::new(),
            simulated_receipts: vec![
                (MessageStatus::Delivered, now.plus(self.config.deliver_after)),
                (MessageStatus::Read, now.plus(self.config.read_after)),
            ],
        })
    }

    /// The emulated platform marks the chat read.
    async fn mark_read(
        &self,
        _instance: &Instance,
        _contact: &str,
        _message: Option<&str>,
    ) -> Result<(), ActionError> {
        Ok(())
    }

    /// The emulated platform shows "typing…".
    async fn typing(&self, _instance: &Instance, _contact: &str) -> Result<(), ActionError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chatgate_core::clock::{ManualClock, Timestamp};
    use chatgate_core::instance::WebhookSecrets;
    use chatgate_core::message::{Content, Recipient};
    use chatgate_core::webhook::WebhookSecret;
    use chatgate_core::{InstanceId, InstanceState, MessageId, Settings, WebhookFormat};

    use super::*;

    fn context() -> SendContext {
        SendContext {
            now: Timestamp::from_millis(0),
            last_inbound_at: None,
            comment_at: None,
            parts_sent: 0,
            deadline: None,
        }
    }

    fn instance() -> Instance {
        Instance {
            id: InstanceId::generate(),
            kind: ConnectorKind::Sandbox,
            name: String::new(),
            state: InstanceState::Authorized,
            state_reason: None,
            active: true,
            settings: Settings::switches_on(),
            webhook_format: WebhookFormat::Native,
            webhook_secrets: WebhookSecrets { current: WebhookSecret::generate(), previous: None },
            account: None,
            access_token: None,
            created_at: Timestamp::EPOCH,
        }
    }

    fn message(to: &str, attempts: u32) -> OutboundMessage {
        OutboundMessage {
            id: MessageId::generate(),
            instance_id: InstanceId::generate(),
            recipient: Recipient::User(to.into()),
            content: Content::text("hi"),
            status: MessageStatus::Sending,
            failure: None,
            provider_message_id: None,
            attempts,
            parts_sent: 0,
            transient_failures: 0,
            callback: None,
            idempotency_key: None,
            created_at: Timestamp::EPOCH,
            transitions: vec![],
        }
    }

    fn sandbox() -> SandboxConnector {
        let clock = ManualClock::new(Timestamp::from_millis(10_000));
        SandboxConnector::new(Arc::new(clock), SandboxConfig::default())
    }

    #[tokio::test]
    async fn an_ordinary_recipient_is_accepted_with_delivered_and_read_promised() {
        let receipt = sandbox()
            .send(&instance(), &message("17841400000000001", 1), &context())
            .await
            .unwrap();
        assert!(receipt.provider_message_id.starts_with("sandbox."));
        assert_eq!(
            receipt.simulated_receipts,
            vec![
                (MessageStatus::Delivered, Timestamp::from_millis(10_200)),
                (MessageStatus::Read, Timestamp::from_millis(11_000)),
            ]
        );
    }

    #[tokio::test]
    async fn a_fail_recipient_fails_permanently() {
        let err =
            sandbox().send(&instance(), &message("fail-bob", 1), &context()).await.unwrap_err();
        assert!(
            matches!(err, SendError::Permanent { ref detail, .. } if detail == "recipient unavailable")
        );
    }

    #[tokio::test]
    async fn a_slow_recipient_is_throttled_twice_then_accepted() {
        let sandbox = sandbox();
        for attempt in 1..=2 {
            let err = sandbox
                .send(&instance(), &message("slow-ann", attempt), &context())
                .await
                .unwrap_err();
            assert!(matches!(err, SendError::Throttled { retry_after: Some(_) }));
        }
        sandbox.send(&instance(), &message("slow-ann", 3), &context()).await.unwrap();
    }
}
