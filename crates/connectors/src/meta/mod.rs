//! Meta's platforms: Instagram (with Messenger's envelope) and WhatsApp
//! (Cloud API). What Meta posts to the gateway's webhook, parsed into
//! chatgate events, the signature that proves Meta sent it, and the two
//! connectors.

pub mod graph;
pub mod instagram;
pub mod pace;
pub mod webhook;
pub mod whatsapp;
