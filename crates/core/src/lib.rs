//! chatgate's core: the domain (instances, settings, contacts, outbound
//! messages and their status machine), the rules of the seeds, the ports
//! ([`store::Store`], [`connector::Connector`], [`clock::Clock`]) and the
//! services every dialect calls ([`gateway::Gateway`],
//! [`outbound::OutboundWorker`]).
//!
//! No HTTP, no SQL: the adapters live in the other crates and depend on this
//! one, never the other way round.

#![forbid(unsafe_code)]

pub mod clock;
pub mod connector;
pub mod contact;
pub mod error;
pub mod event;
pub mod gateway;
pub mod hooks;
pub mod ids;
pub mod instance;
pub mod janitor;
pub mod media;
pub mod message;
pub mod metrics;
pub mod network;
pub mod outbound;
pub mod profiles;
pub mod rules;
pub mod settings;
pub mod signal;
pub mod store;
pub mod vault;
pub mod webhook;

pub use clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use error::{Error, FieldPath, Missing, PathSegment, Result, Violation};
pub use event::{Event, EventId, EventPayload};
pub use gateway::Gateway;
pub use ids::{ApiToken, InstanceId, MessageId, TokenHash};
pub use instance::{ConnectorKind, Instance, InstanceState, WebhookFormat};
pub use message::{Body, Content, MessageStatus, OutboundMessage, Recipient};
pub use settings::{DelayPolicy, Settings, SettingsPatch};
