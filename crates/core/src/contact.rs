//! Contacts: people on the messenger side.

use crate::clock::Timestamp;
use crate::ids::InstanceId;

/// A person on the messenger side of one instance, known by the platform's
/// id for them (Instagram-scoped id, WhatsApp id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    /// The instance that talks to them.
    pub instance_id: InstanceId,
    /// The platform's id for them.
    pub id: String,
    /// Their public handle, when known; it can change, so never key on it.
    pub username: Option<String>,
    /// The name on their profile, when known.
    pub name: Option<String>,
    /// When they last wrote to the instance (opens the 24 h window).
    pub last_inbound_at: Option<Timestamp>,
    /// When the platform last answered a question for their profile (even
    /// with nothing); it is not asked again.
    pub profile_checked_at: Option<Timestamp>,
}
