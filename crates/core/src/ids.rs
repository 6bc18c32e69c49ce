//! Typed identifiers and secrets. Nothing in chatgate passes a bare string or
//! integer where one of these is meant.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

/// The id of an instance: a 10-digit unsigned integer, as GREEN-API's
/// `idInstance` (seed 003: "uint64, 10 digits").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct InstanceId(u64);

impl InstanceId {
    /// The smallest valid id (10 digits).
    pub const MIN: u64 = 1_000_000_000;
    /// The largest valid id (10 digits).
    pub const MAX: u64 = 9_999_999_999;

    /// Accepts only 10-digit values.
    pub fn new(value: u64) -> Option<Self> {
        (Self::MIN..=Self::MAX).contains(&value).then_some(Self(value))
    }

    /// A fresh random 10-digit id from the OS random source.
    pub fn generate() -> Self {
        let span = Self::MAX - Self::MIN + 1;
        // Rejection sampling keeps the distribution uniform.
        let zone = u64::MAX - (u64::MAX % span);
        loop {
            let candidate = u64::from_le_bytes(random_bytes::<8>());
            if candidate < zone {
                return Self(Self::MIN + candidate % span);
            }
        }
    }

    /// The numeric value.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for InstanceId {
    type Err = InvalidId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse::<u64>().ok().and_then(Self::new).ok_or(InvalidId)
    }
}

/// A string that is not a valid id of the kind asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a valid id")]
pub struct InvalidId;

/// The id of an outbound message: a UUIDv7, so ids sort by creation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MessageId(Uuid);

impl MessageId {
    /// A fresh time-ordered id.
    pub fn generate() -> Self {
        Self(Uuid::now_v7())
    }

    /// Wraps a stored UUID.
    pub fn from_uuid(uuid: Uuid) -> Self {
        Self(uuid)
    }

    /// The UUID inside.
    pub fn as_uuid(&self) -> &Uuid {
        &self.0
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for MessageId {
    type Err = InvalidId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(Self).map_err(|_| InvalidId)
    }
}

/// An instance's secret API token: 50 lowercase hex characters (25 bytes from
/// the OS random source), the shape of GREEN-API's `apiTokenInstance`.
///
/// It exists in clear only between creation and the one answer that shows it;
/// the store keeps its [`TokenHash`]. `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiToken(String);

impl ApiToken {
    /// Number of hex characters in a token.
    pub const LEN: usize = 50;

    /// A fresh random token.
    pub fn generate() -> Self {
        Self(hex::encode(random_bytes::<{ Self::LEN / 2 }>()))
    }

    /// The token in clear, for the one answer that shows it.
    pub fn reveal(&self) -> &str {
        &self.0
    }

    /// The hash the store keeps.
    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiToken(…)")
    }
}

/// SHA-256 of a token, hex encoded. Tokens carry 200 random bits, so a fast
/// hash is enough: nobody can brute-force the preimage.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TokenHash(String);

impl TokenHash {
    /// Hashes a presented token (any string: a wrong token just hashes to
    /// something no instance has).
    pub fn of(token: &str) -> Self {
        Self(hex::encode(Sha256::digest(token.as_bytes())))
    }

    /// Wraps a hash read from the store.
    pub fn from_stored(hex: String) -> Self {
        Self(hex)
    }

    /// The hex form, for the store.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison, so the time taken tells nothing about how
    /// many leading characters matched.
    pub fn matches(&self, other: &TokenHash) -> bool {
        constant_time_eq(self.0.as_bytes(), other.0.as_bytes())
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenHash(…)")
    }
}

/// Compares two secrets in constant time (for equal lengths; the length of a
/// secret is not itself secret here).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// `N` bytes from the OS random source.
///
/// # Panics
/// When the OS has no random source: nothing secure can be done then.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut bytes).expect("the OS random source is unavailable");
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_instance_ids_have_ten_digits() {
        for _ in 0..1000 {
            let id = InstanceId::generate();
            assert_eq!(id.to_string().len(), 10, "{id}");
        }
    }

    #[test]
    fn instance_ids_outside_ten_digits_are_refused() {
        assert!(InstanceId::new(999_999_999).is_none());
        assert!(InstanceId::new(10_000_000_000).is_none());
        assert!("0000000001".parse::<InstanceId>().is_err());
        assert_eq!("3100000000".parse::<InstanceId>().unwrap().get(), 3_100_000_000);
    }

    #[test]
    fn api_tokens_are_fifty_lowercase_hex_characters_and_differ() {
        let a = ApiToken::generate();
        let b = ApiToken::generate();
        assert_eq!(a.reveal().len(), 50);
        assert!(a.reveal().chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a, b);
    }

    #[test]
    fn a_token_matches_only_its_own_hash() {
        let token = ApiToken::generate();
        assert!(token.hash().matches(&TokenHash::of(token.reveal())));
        assert!(!token.hash().matches(&TokenHash::of("wrong")));
    }

    #[test]
    fn debug_output_never_shows_a_token() {
        let token = ApiToken::generate();
        assert!(!format!("{token:?}").contains(token.reveal()));
    }
}
