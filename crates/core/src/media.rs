//! Looking at a file a business wants to send, before accepting it: the
//! port the dialects use to check size and type against their vendor's
//! limits (Getloo's table of seed 000).

use async_trait::async_trait;

/// What a file's server says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteFile {
    /// Its size in bytes, when the server tells.
    pub size: Option<u64>,
    /// Its MIME type (without parameters, lowercase), when the server tells.
    pub content_type: Option<String>,
}

/// Why a file could not be looked at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    /// The URL points into a network chatgate may not reach.
    #[error("the file's address is not allowed: {0}")]
    Blocked(String),
    /// The server could not be reached or did not answer in time.
    #[error("the file's server could not be reached: {0}")]
    Unreachable(String),
    /// The server answered with an error status.
    #[error("the file's server answered HTTP {0}")]
    Status(u16),
}

/// Asks a file's server for its size and type (HEAD, or a one-byte ranged
/// GET when HEAD tells nothing), through the SSRF guard.
#[async_trait]
pub trait MediaProbe: Send + Sync + 'static {
    /// Looks at the file at `url`.
    async fn probe(&self, url: &str) -> Result<RemoteFile, ProbeError>;
}
