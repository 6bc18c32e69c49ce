//! Secrets that must be shown again later (an instance's API token, which
//! GREEN-API's partner `getInstances` returns) are kept sealed with
//! AES-256-GCM under a server key; everything that can be checked without
//! being shown (token authentication) uses the hash instead.

use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, Nonce, RandomizedNonceKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::ids::random_bytes;

/// Length of a server key in bytes.
pub const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;

/// Seals and opens secrets with the server key.
pub struct Vault {
    key: RandomizedNonceKey,
}

impl Vault {
    /// A vault on a 32-byte key.
    ///
    /// # Panics
    /// Never: AES-256-GCM takes any 32-byte key.
    pub fn new(key: &[u8; KEY_LEN]) -> Self {
        #[allow(clippy::expect_used)]
        let key = RandomizedNonceKey::new(&AES_256_GCM, key).expect("a 32-byte AES-256 key");
        Self { key }
    }

    /// A fresh random key, base64 encoded (what the key file holds).
    pub fn generate_key() -> String {
        STANDARD.encode(random_bytes::<KEY_LEN>())
    }

    /// Parses a base64 key.
    pub fn parse_key(text: &str) -> Option<[u8; KEY_LEN]> {
        STANDARD.decode(text.trim()).ok()?.try_into().ok()
    }

    /// Seals `secret`, bound to `context` (e.g. the instance id), as base64
    /// of nonce ‖ ciphertext ‖ tag.
    pub fn seal(&self, secret: &str, context: &str) -> String {
        let mut in_out = secret.as_bytes().to_vec();
        match self.key.seal_in_place_append_tag(Aad::from(context.as_bytes()), &mut in_out) {
            Ok(nonce) => {
                let mut sealed = nonce.as_ref().to_vec();
                sealed.extend_from_slice(&in_out);
                STANDARD.encode(sealed)
            }
            Err(_) => String::new(),
        }
    }

    /// Opens what [`Vault::seal`] sealed with the same context; `None` when
    /// the key or the context differ or the text was altered.
    pub fn open(&self, sealed: &str, context: &str) -> Option<String> {
        let bytes = STANDARD.decode(sealed).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let (nonce, rest) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut in_out = rest.to_vec();
        let plain =
            self.key.open_in_place(nonce, Aad::from(context.as_bytes()), &mut in_out).ok()?;
        String::from_utf8(plain.to_vec()).ok()
    }
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Vault(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault() -> Vault {
        Vault::new(&Vault::parse_key(&Vault::generate_key()).unwrap())
    }

    #[test]
    fn a_sealed_secret_opens_with_its_context_only() {
        let vault = vault();
        let sealed = vault.seal("c1b0474542144e0ead529eb4861ca5f583c346eb00564f64a7", "3100000000");
        assert!(!sealed.contains("c1b04745"));
        assert_eq!(
            vault.open(&sealed, "3100000000").as_deref(),
            Some("c1b0474542144e0ead529eb4861ca5f583c346eb00564f64a7")
        );
        assert_eq!(vault.open(&sealed, "3100000001"), None, "bound to its instance");
        assert_eq!(super::tests::vault().open(&sealed, "3100000000"), None, "another key");
    }

    #[test]
    fn sealing_twice_gives_different_texts() {
        let vault = vault();
        assert_ne!(vault.seal("x", "c"), vault.seal("x", "c"));
    }
}
