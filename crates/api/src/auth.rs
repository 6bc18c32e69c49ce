//! Who is calling: the partner (the operator, by the partner token from the
//! configuration) or an instance's owner (by the instance's API token).
//! Tokens are compared in constant time and never logged.

use std::fmt;

use axum::extract::{FromRequestParts, MatchedPath};
use axum::http::Method;
use axum::http::request::Parts;
use chatgate_core::Instance;
use chatgate_core::ids::TokenHash;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{InstancePath, bearer_token};
use crate::limits::{RequestKind, retry_after_secs};

/// The partner token from the configuration, kept only as its hash and as
/// the key that signs admin sessions derived from it.
#[derive(Clone)]
pub struct PartnerToken {
    hash: TokenHash,
    session_key: [u8; 32],
    sign_ins: std::sync::Arc<governor::DefaultDirectRateLimiter>,
}

/// Sign-in attempts to the admin UI per minute (per node): enough for
/// people, too few for guessing.
const SIGN_INS_PER_MINUTE: u32 = 10;

impl PartnerToken {
    /// Wraps the configured token; admin sessions are signed with a key of
    /// this process only (they end when it stops). Servers use
    /// [`PartnerToken::with_server_key`].
    pub fn new(token: &str) -> Self {
        Self::with_server_key(token, &chatgate_core::ids::random_bytes::<32>())
    }

    /// Wraps the configured token; admin sessions are signed with a key
    /// derived from the server key and the token. The server key keeps the
    /// session key secret even when the token is weak (a login form's signed
    /// CSRF value must not let anyone test guesses of the token offline);
    /// the token in it makes a changed token end every session. Nodes share
    /// both, so a session works on all of them.
    pub fn with_server_key(token: &str, server_key: &[u8]) -> Self {
        use hmac::{KeyInit, Mac};
        let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(server_key)
            .expect("HMAC takes any key");
        mac.update(b"chatgate admin session key v1\0");
        mac.update(token.as_bytes());
        let quota = governor::Quota::per_minute(
            std::num::NonZeroU32::new(SIGN_INS_PER_MINUTE).expect("not zero"),
        );
        Self {
            hash: TokenHash::of(token),
            session_key: mac.finalize().into_bytes().into(),
            sign_ins: std::sync::Arc::new(governor::RateLimiter::direct(quota)),
        }
    }

    /// Whether a presented token is the partner token. Both sides are hashed
    /// first, so neither the content nor the length leaks through timing.
    pub fn matches(&self, presented: &str) -> bool {
        self.hash.matches(&TokenHash::of(presented))
    }

    /// Takes one admin sign-in attempt from the budget; false when it is
    /// used up (the attempt is refused without looking at the token).
    pub(crate) fn may_sign_in(&self) -> bool {
        self.sign_ins.check().is_ok()
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
        let instance = state.gateway.authenticate(id, token).await?;
        // After authentication: nobody without the token can use up an
        // instance's budget. The operator (partner token) is not limited.
        let kind = if parts.method == Method::POST
            && parts
                .extensions
                .get::<MatchedPath>()
                .is_some_and(|p| p.as_str().ends_with("/messages"))
        {
            RequestKind::Send
        } else {
            RequestKind::Other
        };
        if let Err(wait) = state.limits.check(instance.id, kind) {
            let what = match kind {
                RequestKind::Send => "sends",
                RequestKind::Other => "requests",
            };
            return Err(ApiError::rate_limited(
                format!("this instance makes {what} faster than this server allows; retry later"),
                retry_after_secs(wait),
            ));
        }
        Ok(InstanceCaller(instance))
    }
}
