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

/// The partner token from the configuration, kept only as its hash.
#[derive(Clone)]
pub struct PartnerToken(TokenHash);

impl PartnerToken {
    /// Wraps the configured token.
    pub fn new(token: &str) -> Self {
        Self(TokenHash::of(token))
    }

    /// Whether a presented token is the partner token. Both sides are hashed
    /// first, so neither the content nor the length leaks through timing.
    pub fn matches(&self, presented: &str) -> bool {
        self.0.matches(&TokenHash::of(presented))
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
