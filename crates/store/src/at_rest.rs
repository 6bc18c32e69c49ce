//! Secrets at rest: what the store keeps of an instance's secrets that must
//! be used again in clear (the webhook signing secrets, GREEN-API's
//! `webhookUrlToken`) is sealed with the server key before it reaches the
//! database and opened as rows are read. A copy of the database (a backup,
//! a dump, a replica) without the key file holds none of them.
//!
//! Each sealed value is bound to its instance and its column (the vault's
//! context), so a value moved to another row or column no longer opens.
//! Secrets that never need to be shown again (the instance API token) are
//! stored hashed instead, and the platform access tokens are sealed by the
//! gateway before they reach the store.

use std::sync::Arc;

use chatgate_core::InstanceId;
use chatgate_core::settings::Settings;
use chatgate_core::store::{StoreError, StoreResult};
use chatgate_core::vault::Vault;
use chatgate_core::webhook::WebhookSecret;

/// Which secret a sealed value is, part of its vault context.
#[derive(Debug, Clone, Copy)]
enum Slot {
    WebhookSecret,
    WebhookUrlToken,
}

impl Slot {
    fn context(self, id: InstanceId) -> String {
        match self {
            Slot::WebhookSecret => format!("{id}:webhook-secret"),
            Slot::WebhookUrlToken => format!("{id}:webhook-url-token"),
        }
    }
}

/// Seals and opens the secrets the instance rows hold.
#[derive(Clone)]
pub(crate) struct SecretsAtRest {
    vault: Arc<Vault>,
}

impl std::fmt::Debug for SecretsAtRest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretsAtRest(…)")
    }
}

impl SecretsAtRest {
    /// Secrets sealed with `vault`.
    pub(crate) fn new(vault: Arc<Vault>) -> Self {
        Self { vault }
    }

    /// The stored form of an instance's webhook signing secret.
    pub(crate) fn seal_webhook_secret(&self, id: InstanceId, secret: &WebhookSecret) -> String {
        self.vault.seal(secret.reveal(), &Slot::WebhookSecret.context(id))
    }

    /// Opens a stored webhook signing secret.
    pub(crate) fn open_webhook_secret(
        &self,
        id: InstanceId,
        stored: &str,
    ) -> StoreResult<WebhookSecret> {
        self.vault
            .open(stored, &Slot::WebhookSecret.context(id))
            .as_deref()
            .and_then(WebhookSecret::parse)
            .ok_or_else(|| unopenable(id, "webhook secret"))
    }

    /// The stored form of an instance's settings: their JSON, with the
    /// `webhookUrlToken` sealed and kept under its own key
    /// (`webhookUrlTokenSealed`), so a token still in clear is told apart
    /// by the key alone.
    pub(crate) fn settings_json(&self, id: InstanceId, settings: &Settings) -> String {
        let mut json = serde_json::to_value(settings).unwrap_or_default();
        if let (Some(token), Some(object)) = (&settings.webhook_url_token, json.as_object_mut()) {
            object.insert("webhookUrlToken".into(), serde_json::Value::Null);
            object.insert(
                SEALED_TOKEN_KEY.into(),
                self.vault.seal(token, &Slot::WebhookUrlToken.context(id)).into(),
            );
        }
        json.to_string()
    }

    /// Decodes stored settings, opening the `webhookUrlToken`.
    pub(crate) fn open_settings(&self, id: InstanceId, stored: &str) -> StoreResult<Settings> {
        let corrupt = |e: serde_json::Error| {
            StoreError::Corrupt(format!("bad settings of instance {id}: {e}"))
        };
        let mut json = serde_json::from_str::<serde_json::Value>(stored).map_err(corrupt)?;
        let sealed = json.as_object_mut().and_then(|o| o.remove(SEALED_TOKEN_KEY));
        let mut settings = serde_json::from_value::<Settings>(json).map_err(corrupt)?;
        if let Some(sealed) = sealed {
            settings.webhook_url_token = Some(
                sealed
                    .as_str()
                    .and_then(|sealed| self.vault.open(sealed, &Slot::WebhookUrlToken.context(id)))
                    .ok_or_else(|| unopenable(id, "webhookUrlToken"))?,
            );
        }
        Ok(settings)
    }

    /// For rows written before secrets were sealed: the sealed form of a
    /// stored webhook secret that is still in clear, `None` when it is
    /// sealed already.
    pub(crate) fn reseal_webhook_secret(&self, id: InstanceId, stored: &str) -> Option<String> {
        WebhookSecret::parse(stored).map(|clear| self.seal_webhook_secret(id, &clear))
    }

    /// For rows written before secrets were sealed: the stored settings
    /// with a `webhookUrlToken` still in clear sealed, `None` when there is
    /// nothing to do.
    pub(crate) fn reseal_settings(&self, id: InstanceId, stored: &str) -> Option<String> {
        let json = serde_json::from_str::<serde_json::Value>(stored).ok()?;
        json.get("webhookUrlToken")?.as_str()?;
        let settings = serde_json::from_value::<Settings>(json).ok()?;
        Some(self.settings_json(id, &settings))
    }
}

/// The settings key that holds the sealed `webhookUrlToken`.
const SEALED_TOKEN_KEY: &str = "webhookUrlTokenSealed";

/// A sealed value that does not open: the key file is not the one the
/// database was written with, or the row was altered. Never shows the value.
fn unopenable(id: InstanceId, what: &str) -> StoreError {
    StoreError::Corrupt(format!(
        "the {what} of instance {id} cannot be opened: the server key (server.secret_key or its \
         key file) is not the one this database was written with, or the row was altered"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets() -> SecretsAtRest {
        SecretsAtRest::new(Arc::new(Vault::new(&[7; chatgate_core::vault::KEY_LEN])))
    }

    fn id(n: u64) -> InstanceId {
        InstanceId::new(n).unwrap()
    }

    #[test]
    fn a_webhook_secret_is_stored_sealed_and_opens_for_its_instance_only() {
        let secrets = secrets();
        let secret = WebhookSecret::generate();
        let stored = secrets.seal_webhook_secret(id(3100000001), &secret);
        assert!(!stored.contains(secret.reveal()));
        assert!(WebhookSecret::parse(&stored).is_none());
        assert_eq!(secrets.open_webhook_secret(id(3100000001), &stored).unwrap(), secret);
        assert!(secrets.open_webhook_secret(id(3100000002), &stored).is_err());
    }

    #[test]
    fn the_webhook_url_token_is_sealed_inside_the_settings() {
        let secrets = secrets();
        let settings = Settings {
            webhook_url_token: Some("Bearer s3cr3t-url-token".into()),
            ..Settings::default()
        };
        let stored = secrets.settings_json(id(3100000001), &settings);
        assert!(!stored.contains("s3cr3t-url-token"), "{stored}");
        assert_eq!(secrets.open_settings(id(3100000001), &stored).unwrap(), settings);
        let error = secrets.open_settings(id(3100000002), &stored).unwrap_err().to_string();
        assert!(error.contains("webhookUrlToken") && !error.contains("s3cr3t"), "{error}");
    }

    #[test]
    fn clear_values_from_before_sealing_are_resealed_once() {
        let secrets = secrets();
        let clear = WebhookSecret::generate();
        let resealed = secrets.reseal_webhook_secret(id(3100000001), clear.reveal()).unwrap();
        assert_eq!(secrets.open_webhook_secret(id(3100000001), &resealed).unwrap(), clear);
        assert_eq!(secrets.reseal_webhook_secret(id(3100000001), &resealed), None);

        let settings =
            Settings { webhook_url_token: Some("plain-token".into()), ..Settings::default() };
        let old = serde_json::to_string(&settings).unwrap();
        let resealed = secrets.reseal_settings(id(3100000001), &old).unwrap();
        assert!(!resealed.contains("plain-token"));
        assert_eq!(secrets.open_settings(id(3100000001), &resealed).unwrap(), settings);
        assert_eq!(secrets.reseal_settings(id(3100000001), &resealed), None);
        let no_token = serde_json::to_string(&Settings::default()).unwrap();
        assert_eq!(secrets.reseal_settings(id(3100000001), &no_token), None);
    }
}
