//! Meta's platforms (Instagram, with Messenger's envelope): what Meta posts
//! to the gateway's webhook, parsed into chatgate events, and the signature
//! that proves Meta sent it.

pub mod graph;
pub mod instagram;
pub mod pace;
pub mod webhook;
