//! Who is calling: the partner (the operator, by the partner token from the
//! configuration) or an instance's owner (by the instance's API token).
//! Tokens are compared in constant time and never logged.

use std::fmt;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chatgate_core::Instance;
use chatgate_core::ids::TokenHash;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{InstancePath, bearer_token};

/// The partner token from the configuration, kept only as its hash and as
/// the key that signs admin sessions derived from it.
#[derive(Clone)]
pub struct PartnerToken {
    hash: TokenHash,
    session_key: [u8; 32],
}

impl PartnerToken {
    /// Wraps the configured token.
    pub fn new(token: &str) -> Self {
        use sha2::Digest;
        // A key of its own for sessions, so a session cookie says nothing
        // about the token; changing the token ends every admin session.
        let mut hasher = sha2::Sha256::new();
        hasher.update(b"chatgate admin session key v1\0");
        hasher.update(token.as_bytes());
        Self { hash: TokenHash::of(token), session_key: hasher.finalize().into() }
    }

    /// Whether a presented token is the partner token. Both sides are hashed
    /// first, so neither the content nor the length leaks through timing.
    pub fn matches(&self, presented: &str) -> bool {
        self.hash.matches(&TokenHash::of(presented))
    }

    /// The key that signs the admin UI's session cookies and CSRF tokens.
    pub(crate) fn session_key(&self) -> &[u8; 32] {
        &self.session_key
    }
}

impl fmt::Debug for PartnerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PartnerToken(…)")
    }
}

/// A request made with the partner token.
#[derive(Debug, Clone, Copy)]
pub struct Partner;

impl FromRequestParts<AppState> for Partner {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer_token(parts)?;
        if state.partner.matches(token) {
            Ok(Partner)
        } else {
            Err(ApiError::unauthorized("the partner token is not valid"))
        }
    }
}

/// A request about the instance in the path, made with that instance's API
/// token or with the partner token.
#[derive(Debug, Clone)]
pub struct InstanceCaller(pub Instance);

impl FromRequestParts<AppState> for InstanceCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let InstancePath(id) = InstancePath::from_request_parts(parts, state).await?;
        let token = bearer_token(parts)?;
        if state.partner.matches(token) {
            return Ok(InstanceCaller(state.gateway.instance(id).await?));
        }
        Ok(InstanceCaller(state.gateway.authenticate(id, token).await?))
    }
}
