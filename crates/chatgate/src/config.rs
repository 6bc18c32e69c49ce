//! Configuration, layered: built-in defaults (`config.default.toml`, which
//! documents every key) < TOML file < `CHATGATE_*` environment < flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use chatgate_api::dialects::getloo::GetlooHooks;
use chatgate_api::dialects::greenapi::GreenApiConfig;
use chatgate_connectors::meta::instagram::InstagramConfig;
use chatgate_connectors::sandbox::SandboxConfig;
use chatgate_core::ConnectorKind;
use chatgate_core::hooks::HookPolicy;
use chatgate_core::janitor::Retention;
use chatgate_core::network::NetworkPolicy;
use chatgate_core::outbound::OutboundPolicy;
use chatgate_store::{Durability, PostgresOptions, SqliteOptions};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// The built-in defaults, with a comment on every key.
pub const DEFAULTS: &str = include_str!("../config.default.toml");

/// The sections whose keys environment variables address as
/// `CHATGATE_<SECTION>_<KEY>`.
const SECTIONS: [&str; 12] = [
    "log",
    "http",
    "store",
    "outbound",
    "hooks",
    "retention",
    "sandbox",
    "getloo",
    "greenapi",
    "meta",
    "imiconnect",
    "metrics",
];

/// A configured secret (a token, a key). `Debug` never shows it, so a
/// logged configuration leaks nothing; [`Secret::expose`] is the one way in.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether none is configured.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() { "Secret(none)" } else { "Secret(…)" })
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

/// Secrets whose environment variables are read as text, never as numbers:
/// figment would turn `0123456789` into the number 123456789, losing the
/// zero (and refusing it as a string).
const SECRET_VARIABLES: [(&str, &str); 6] = [
    ("CHATGATE_DATABASE_URL", "database_url"),
    ("CHATGATE_PARTNER_TOKEN", "partner_token"),
    ("CHATGATE_SECRET_KEY", "secret_key"),
    ("CHATGATE_META_APP_SECRET", "meta.app_secret"),
    ("CHATGATE_META_VERIFY_TOKEN", "meta.verify_token"),
    ("CHATGATE_METRICS_TOKEN", "metrics.token"),
];

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// Where the database and the first-start files live.
    pub data_dir: PathBuf,
    /// `postgres://…` to keep everything in PostgreSQL (several nodes may
    /// share it); empty means SQLite in `data_dir`.
    pub database_url: Secret,
    /// The operator's token; empty means "generate one at first start".
    pub partner_token: Secret,
    /// Private networks user-supplied URLs may reach anyway.
    pub allowed_private_networks: String,
    /// The server key (base64, 32 bytes) sealing secrets shown again later;
    /// empty means `<data_dir>/secret-key`.
    pub secret_key: Secret,
    /// Logging.
    pub log: LogConfig,
    /// HTTP.
    pub http: HttpSection,
    /// The database.
    pub store: StoreSection,
    /// The outbound worker.
    pub outbound: OutboundSection,
    /// The hook worker.
    pub hooks: HooksSection,
    /// How long things are kept.
    pub retention: RetentionSection,
    /// The sandbox connector.
    pub sandbox: SandboxConfig,
    /// The Getloo dialect.
    pub getloo: GetlooSection,
    /// The GREEN-API dialect.
    pub greenapi: GreenApiSection,
    /// Meta's platforms: webhook ingest and the instagram connector.
    pub meta: MetaSection,
    /// The imiconnect dialect.
    pub imiconnect: ImiconnectSection,
    /// `GET /metrics`.
    pub metrics: MetricsSection,
    /// The base URL the platforms reach this gateway at (for uploaded
    /// files); empty means `http://{listen}`.
    pub public_url: String,
}

/// `[metrics]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSection {
    /// Whether `GET /metrics` exists and requests are measured.
    pub enabled: bool,
    /// When set, `/metrics` needs `Authorization: Bearer <token>`.
    pub token: Secret,
}

/// `[imiconnect]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImiconnectSection {
    /// How far a JWT's `iat` may be from the gateway's clock, in seconds.
    pub jwt_skew_secs: u64,
}

/// `[meta]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetaSection {
    /// The Meta app's secret, checking webhook signatures.
    pub app_secret: Secret,
    /// The webhook verification handshake's token.
    pub verify_token: Secret,
    /// Largest webhook delivery in bytes.
    pub max_body_bytes: usize,
    /// The Graph API host.
    pub graph_base_url: String,
    /// The Graph API version.
    pub graph_version: String,
    /// Graph answer timeout in ms.
    pub timeout_ms: u64,
    /// Sends per second per account.
    pub sends_per_second: u32,
    /// Audio and video sends per second per account.
    pub media_sends_per_second: u32,
    /// Private replies per hour per account.
    pub comment_replies_per_hour: u32,
    /// The private-reply window in hours.
    pub comment_reply_window_hours: u64,
}

/// `[greenapi]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GreenApiSection {
    /// Enforce GREEN-API's per-method rate limits.
    pub rate_limits: bool,
    /// Messages per instance per calendar month; 0 = no quota.
    pub monthly_message_quota: u64,
    /// The connector of instances created without `typeInstance`.
    pub default_type_instance: String,
    /// Largest upload in bytes.
    pub max_upload_bytes: usize,
}

/// `[getloo]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetlooSection {
    /// The offset of `createdAt` in Getloo webhooks, e.g. `+03:00`.
    pub utc_offset: String,
}

/// `[log]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// Filter in `RUST_LOG` syntax.
    pub level: String,
    /// `text` or `json`.
    pub format: LogFormat,
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// For people.
    Text,
    /// One JSON object per line.
    Json,
}

/// `[http]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSection {
    /// Largest request body in bytes.
    pub max_body_bytes: usize,
}

/// `[store]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    /// `full` or `normal`.
    pub durability: String,
    /// Reader connections.
    pub readers: u32,
    /// Most requests per group commit.
    pub batch_max: usize,
    /// Whether the writer thread keeps to one core.
    pub pin_writer: bool,
}

/// `[outbound]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboundSection {
    /// Sends in flight at once, across instances.
    pub concurrency: usize,
    /// Lease length in ms.
    pub lease_ms: u64,
    /// Platform answer timeout in ms.
    pub send_timeout_ms: u64,
    /// Queue lifetime of a message in ms.
    pub message_ttl_ms: u64,
    /// Longest idle sleep in ms.
    pub poll_interval_ms: u64,
}

/// `[hooks]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HooksSection {
    /// Pushes in flight at once, across instances.
    pub concurrency: usize,
    /// Receiver answer timeout in ms.
    pub timeout_ms: u64,
    /// Retry wait spread in percent.
    pub jitter_percent: u8,
    /// Lease length in ms.
    pub lease_ms: u64,
    /// Grace of a rotated-out secret in ms.
    pub secret_grace_ms: u64,
}

/// `[retention]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionSection {
    /// Journal events and finished messages, in ms.
    pub journal_ms: u64,
    /// Notifications, in ms.
    pub notifications_ms: u64,
}

/// Values given as command-line flags; `None` leaves the lower layers.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Overrides {
    /// `--listen`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// `--data-dir`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// `--database-url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
}

impl Config {
    /// Loads the layers: defaults, then `file` if given, then the process
    /// environment, then `overrides`.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> anyhow::Result<Config> {
        Self::load_with_env(file, overrides, env_provider())
    }

    /// The defaults alone (tests start from these).
    pub fn defaults() -> anyhow::Result<Config> {
        Figment::from(Toml::string(DEFAULTS)).extract().context("the built-in defaults are invalid")
    }

    fn load_with_env(
        file: Option<&Path>,
        overrides: &Overrides,
        env: Env,
    ) -> anyhow::Result<Config> {
        let mut figment = Figment::from(Toml::string(DEFAULTS));
        if let Some(file) = file {
            if !file.exists() {
                anyhow::bail!("the configuration file {} does not exist", file.display());
            }
            figment = figment.merge(Toml::file(file));
        }
        figment = figment.merge(env);
        for (variable, key) in SECRET_VARIABLES {
            if let Ok(value) = std::env::var(variable) {
                figment = figment.merge(Serialized::default(key, value));
            }
        }
        let config: Config = figment
            .merge(Serialized::defaults(overrides))
            .extract()
            .context("invalid configuration")?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> anyhow::Result<()> {
        self.store.durability.parse::<Durability>().map_err(anyhow::Error::msg)?;
        anyhow::ensure!(self.outbound.concurrency > 0, "outbound.concurrency must be at least 1");
        anyhow::ensure!(
            self.outbound.send_timeout_ms < self.outbound.lease_ms,
            "outbound.send_timeout_ms must be below outbound.lease_ms, or a slow send could be repeated"
        );
        anyhow::ensure!(self.http.max_body_bytes > 0, "http.max_body_bytes must be positive");
        if self.uses_postgres() {
            let url = self.database_url.expose();
            anyhow::ensure!(
                url.starts_with("postgres://") || url.starts_with("postgresql://"),
                "database_url must be a postgres:// URL"
            );
            anyhow::ensure!(
                !self.secret_key.is_empty(),
                "with PostgreSQL, set secret_key (CHATGATE_SECRET_KEY): every node sharing the \
                 database must seal and open secrets with the same key"
            );
        }
        let graph = &self.meta.graph_base_url;
        anyhow::ensure!(
            graph.starts_with("https://") || graph.starts_with("http://"),
            "meta.graph_base_url must be an http(s) URL, got {graph:?}"
        );
        anyhow::ensure!(
            self.meta.timeout_ms < self.outbound.send_timeout_ms,
            "meta.timeout_ms must be below outbound.send_timeout_ms"
        );
        Ok(())
    }

    /// Whether the store is PostgreSQL (`database_url` set).
    pub fn uses_postgres(&self) -> bool {
        !self.database_url.is_empty()
    }

    /// Where the store is, for messages (never the URL: it may carry a
    /// password).
    pub fn database_description(&self) -> String {
        if self.uses_postgres() {
            "the PostgreSQL database (database_url)".to_owned()
        } else {
            self.database_path().display().to_string()
        }
    }

    /// How to open the PostgreSQL store.
    pub fn postgres_options(&self) -> PostgresOptions {
        PostgresOptions {
            url: self.database_url.expose().to_owned(),
            readers: self.store.readers,
            batch_max: self.store.batch_max,
            pin_writer: self.store.pin_writer,
        }
    }

    /// The SQLite database file.
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("chatgate.db")
    }

    /// How to open the store.
    pub fn sqlite_options(&self) -> SqliteOptions {
        SqliteOptions {
            path: self.database_path(),
            durability: self.store.durability.parse().unwrap_or_default(),
            readers: self.store.readers,
            batch_max: self.store.batch_max,
            pin_writer: self.store.pin_writer,
        }
    }

    /// The networks user-supplied URLs may reach.
    pub fn network_policy(&self) -> anyhow::Result<NetworkPolicy> {
        NetworkPolicy::parse_allowed(&self.allowed_private_networks)
            .map_err(|e| anyhow::anyhow!("allowed_private_networks: {e}"))
    }

    /// The offset of Getloo's `createdAt`.
    pub fn getloo_offset(&self) -> anyhow::Result<time::UtcOffset> {
        GetlooHooks::parse_offset(&self.getloo.utc_offset).ok_or_else(|| {
            anyhow::anyhow!(
                "getloo.utc_offset must look like +03:00, got {:?}",
                self.getloo.utc_offset
            )
        })
    }

    /// The GREEN-API dialect's configuration.
    pub fn greenapi_config(&self) -> anyhow::Result<GreenApiConfig> {
        let default_type_instance = self
            .greenapi
            .default_type_instance
            .parse::<ConnectorKind>()
            .map_err(|e| anyhow::anyhow!("greenapi.default_type_instance: {e}"))?;
        Ok(GreenApiConfig {
            rate_limits: self.greenapi.rate_limits,
            monthly_message_quota: self.greenapi.monthly_message_quota,
            default_type_instance,
            public_url: self.public_base_url(),
            max_upload_bytes: self.greenapi.max_upload_bytes,
            max_json_bytes: self.http.max_body_bytes,
        })
    }

    /// The instagram connector's configuration.
    pub fn instagram_config(&self) -> InstagramConfig {
        InstagramConfig {
            graph_base_url: self.meta.graph_base_url.clone(),
            graph_version: self.meta.graph_version.clone(),
            timeout: Duration::from_millis(self.meta.timeout_ms),
            sends_per_second: self.meta.sends_per_second,
            media_sends_per_second: self.meta.media_sends_per_second,
            comment_replies_per_hour: self.meta.comment_replies_per_hour,
            comment_window: Duration::from_secs(self.meta.comment_reply_window_hours * 3600),
            ..InstagramConfig::default()
        }
    }

    /// The base URL platforms reach this gateway at.
    pub fn public_base_url(&self) -> String {
        if self.public_url.is_empty() {
            format!("http://{}", self.listen)
        } else {
            self.public_url.trim_end_matches('/').to_owned()
        }
    }

    /// The hook worker's policy.
    pub fn hook_policy(&self) -> HookPolicy {
        HookPolicy {
            jitter: f64::from(self.hooks.jitter_percent) / 100.0,
            lease: Duration::from_millis(self.hooks.lease_ms),
            ..HookPolicy::default()
        }
    }

    /// How long things are kept.
    pub fn retention(&self) -> Retention {
        Retention {
            journal: Duration::from_millis(self.retention.journal_ms),
            notifications: Duration::from_millis(self.retention.notifications_ms),
        }
    }

    /// The outbound worker's policy.
    pub fn outbound_policy(&self) -> OutboundPolicy {
        OutboundPolicy {
            lease: Duration::from_millis(self.outbound.lease_ms),
            send_timeout: Duration::from_millis(self.outbound.send_timeout_ms),
            message_ttl: Duration::from_millis(self.outbound.message_ttl_ms),
            ..OutboundPolicy::default()
        }
    }
}

/// `CHATGATE_*` variables: `CHATGATE_LISTEN` → `listen`,
/// `CHATGATE_SANDBOX_DELIVER_AFTER_MS` → `sandbox.deliver_after_ms`.
fn env_provider() -> Env {
    // CHATGATE_TEST_* belong to the test suite, not to the configuration.
    Env::prefixed("CHATGATE_")
        .ignore(&["config"])
        .filter(|key| !key.as_str().to_ascii_lowercase().starts_with("test_"))
        .map(|key| {
            let key = key.as_str().to_ascii_lowercase();
            for section in SECTIONS {
                if let Some(rest) = key.strip_prefix(section).and_then(|r| r.strip_prefix('_')) {
                    return format!("{section}.{rest}").into();
                }
            }
            key.into()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_defaults_load_and_match_the_documentation() {
        let config = Config::defaults().unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:7780");
        assert_eq!(config.data_dir, PathBuf::from("./chatgate-data"));
        assert_eq!(config.sandbox.deliver_after, Duration::from_millis(200));
        assert_eq!(config.sandbox.read_after, Duration::from_millis(1000));
        assert_eq!(config.http.max_body_bytes, 1024 * 1024);
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment::Jail's signature
    fn layers_apply_in_order_file_then_environment_then_flags() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("chatgate.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9000\"\ndata_dir = \"/from/file\"\n[sandbox]\ndeliver_after_ms = 5\nread_after_ms = 7\n",
        )
        .unwrap();
        figment::Jail::expect_with(|jail| {
            jail.set_env("CHATGATE_DATA_DIR", "/from/env");
            jail.set_env("CHATGATE_SANDBOX_READ_AFTER_MS", "70");
            let overrides = Overrides {
                listen: Some("127.0.0.1:9100".parse().unwrap()),
                data_dir: None,
                database_url: None,
            };
            let config = Config::load(Some(&file), &overrides).unwrap();
            assert_eq!(config.listen.to_string(), "127.0.0.1:9100", "flag beats file");
            assert_eq!(config.data_dir, PathBuf::from("/from/env"), "env beats file");
            assert_eq!(
                config.sandbox.deliver_after,
                Duration::from_millis(5),
                "file beats default"
            );
            assert_eq!(config.sandbox.read_after, Duration::from_millis(70), "env beats file");
            Ok(())
        });
    }

    #[test]
    fn an_unknown_key_or_a_bad_value_is_refused_with_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, "[sandbox]\ndelivr_after_ms = 5\n").unwrap();
        let err = format!("{:#}", Config::load(Some(&file), &Overrides::default()).unwrap_err());
        assert!(err.contains("delivr_after_ms"), "{err}");
        std::fs::write(&file, "[store]\ndurability = \"sometimes\"\n").unwrap();
        let err = format!("{:#}", Config::load(Some(&file), &Overrides::default()).unwrap_err());
        assert!(err.contains("sometimes"), "{err}");
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment::Jail's signature
    fn secrets_in_the_environment_stay_text_and_never_show_in_debug_output() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("CHATGATE_META_APP_SECRET", "0123456789");
            jail.set_env("CHATGATE_META_VERIFY_TOKEN", "000042");
            jail.set_env("CHATGATE_PARTNER_TOKEN", "partner-secret-value");
            jail.set_env("CHATGATE_META_GRAPH_VERSION", "v26.0");
            let config = Config::load(None, &Overrides::default()).unwrap();
            assert_eq!(config.meta.app_secret.expose(), "0123456789");
            assert_eq!(config.meta.verify_token.expose(), "000042");
            assert_eq!(config.meta.graph_version, "v26.0");
            let shown = format!("{config:?}");
            for secret in ["0123456789", "000042", "partner-secret-value"] {
                assert!(!shown.contains(secret), "{secret} in {shown}");
            }
            Ok(())
        });
    }

    #[test]
    fn a_missing_config_file_is_an_error() {
        let err =
            Config::load(Some(Path::new("/nonexistent/chatgate.toml")), &Overrides::default());
        assert!(err.is_err());
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment::Jail's signature
    fn metrics_are_on_without_a_token_unless_the_environment_says_otherwise() {
        let defaults = Config::defaults().unwrap();
        assert!(defaults.metrics.enabled);
        assert!(defaults.metrics.token.is_empty());
        figment::Jail::expect_with(|jail| {
            jail.set_env("CHATGATE_METRICS_ENABLED", "false");
            jail.set_env("CHATGATE_METRICS_TOKEN", "0042");
            let config = Config::load(None, &Overrides::default()).unwrap();
            assert!(!config.metrics.enabled);
            assert_eq!(config.metrics.token.expose(), "0042", "kept as text");
            assert!(!format!("{config:?}").contains("0042"));
            Ok(())
        });
    }
}
