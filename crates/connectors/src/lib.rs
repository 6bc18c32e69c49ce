//! The connectors: the code that talks to each messenger platform, one
//! folder each, all implementing [`chatgate_core::connector::Connector`].
//!
//! - [`sandbox`]: the built-in emulator of a messenger, so everything runs
//!   and is tested with no Meta account.
//! - [`http`]: outbound HTTP for user-supplied URLs (webhooks), with the
//!   SSRF guard.
//! - [`meta`]: Meta's platforms (Instagram, WhatsApp Cloud API): the
//!   connectors, webhook parsing and signatures.

#![forbid(unsafe_code)]

pub mod http;
pub mod meta;
pub mod sandbox;
