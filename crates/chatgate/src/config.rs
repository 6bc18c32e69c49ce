//! Configuration, layered: built-in defaults (`config.default.toml`, which
//! documents every key) < TOML file < `CHATGATE_*` environment < flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chatgate_api::dialects::getloo::GetlooHooks;
use chatgate_api::dialects::greenapi::GreenApiConfig;
use chatgate_connectors::meta::instagram::InstagramConfig;
use chatgate_connectors::meta::whatsapp::WhatsappConfig;
use chatgate_connectors::sandbox::SandboxConfig;
use chatgate_core::ConnectorKind;
use chatgate_core::hooks::HookPolicy;
use chatgate_core::janitor::Retention;
use chatgate_core::network::NetworkPolicy;
use chatgate_core::outbound::OutboundPolicy;
use chatgate_core::vault::Vault;
use chatgate_store::{Durability, PostgresOptions, SqliteOptions};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// One key of a configuration section and its doc comment, line by line.
#[derive(Debug, Clone, Copy)]
pub struct KeyDoc {
    /// The key as written in TOML.
    pub name: &'static str,
    /// The lines of its doc comment.
    pub doc: &'static [&'static str],
}

/// A configuration type whose keys' doc comments are kept for the
/// generated reference (`chatgate config reference`).
pub trait Documented {
    /// Its keys, in declaration order.
    const KEYS: &'static [KeyDoc];
}

/// Declares a configuration struct and implements [`Documented`] from its
/// doc comments, so the reference cannot say something else than the code.
macro_rules! documented {
    (
        $(#[$outer:meta])*
        pub struct $name:ident {
            $( $(#[doc = $doc:literal])* pub $field:ident : $ty:ty, )*
        }
    ) => {
        $(#[$outer])*
        pub struct $name {
            $( $(#[doc = $doc])* pub $field: $ty, )*
        }

        impl Documented for $name {
            const KEYS: &'static [KeyDoc] =
                &[$(KeyDoc { name: stringify!($field), doc: &[$($doc),*] }),*];
        }
    };
}

/// The built-in defaults, with a comment on every key.
pub const DEFAULTS: &str = include_str!("../config.default.toml");

/// The sections whose keys environment variables address as
/// `CHATGATE_<SECTION>_<KEY>`.
const SECTIONS: [&str; 14] = [
    "log",
    "shutdown",
    "http",
    "limits",
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

documented! {
    /// The whole configuration.
    #[derive(Debug, Clone, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Config {
        /// Address the HTTP server listens on (CHATGATE_LISTEN, --listen).
        pub listen: SocketAddr,
        /// Where the SQLite database and the first-start files live
        /// (CHATGATE_DATA_DIR, --data-dir).
        pub data_dir: PathBuf,
        /// A postgres:// URL keeps everything in PostgreSQL instead of SQLite,
        /// and lets several chatgate nodes share it (CHATGATE_DATABASE_URL,
        /// --database-url), e.g.
        /// "postgres://chatgate:secret@db.internal/chatgate". Empty: SQLite in
        /// data_dir. With PostgreSQL, secret_key must be set (the same on every
        /// node).
        pub database_url: Secret,
        /// The operator's token for the admin API (CHATGATE_PARTNER_TOKEN).
        /// When empty, the first start generates one and writes it to
        /// <data_dir>/partner-token.
        pub partner_token: Secret,
        /// Networks that webhook URLs (and every other user-supplied URL) may
        /// point into although they are loopback, private, link-local or
        /// metadata addresses: CIDRs or addresses, separated by commas or
        /// spaces, e.g. "127.0.0.0/8, 10.0.0.0/8"
        /// (CHATGATE_ALLOWED_PRIVATE_NETWORKS). Empty: none. Checked on the
        /// resolved address when connecting, not only on the URL.
        pub allowed_private_networks: String,
        /// The server key (32 bytes, base64) that seals secrets chatgate must
        /// show again later, such as instance API tokens for GREEN-API's
        /// partner getInstances (CHATGATE_SECRET_KEY). Empty:
        /// <data_dir>/secret-key, created on first start. Nodes sharing one
        /// database must share this key.
        pub secret_key: Secret,
        /// Logging.
        pub log: LogConfig,
        /// Stopping on SIGTERM or Ctrl-C.
        pub shutdown: ShutdownSection,
        /// HTTP.
        pub http: HttpSection,
        /// Per-instance limits of the API: 429 with Retry-After beyond them
        /// (GREEN-API keeps its own table, greenapi.rate_limits).
        pub limits: LimitsSection,
        /// The database.
        pub store: StoreSection,
        /// The outbound worker.
        pub outbound: OutboundSection,
        /// The hook worker.
        pub hooks: HooksSection,
        /// How long things are kept.
        pub retention: RetentionSection,
        /// The sandbox connector.
        pub sandbox: SandboxSection,
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
        /// The base URL the messenger platforms reach this gateway at, for
        /// files uploaded to be sent (GREEN-API uploadFile / sendFileByUpload),
        /// e.g. "https://gateway.example.com" (CHATGATE_PUBLIC_URL). Empty:
        /// http://{listen}.
        pub public_url: String,
    }
}

documented! {
    /// `[sandbox]`: the built-in emulator's timing.
    #[derive(Debug, Clone, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct SandboxSection {
        /// Milliseconds from a sandbox send to its "delivered" report.
        pub deliver_after_ms: u64,
        /// Milliseconds from a sandbox send to its "read" report.
        pub read_after_ms: u64,
        /// Milliseconds a "slow-" recipient asks the gateway to wait when
        /// throttling.
        pub throttle_retry_after_ms: u64,
    }
}

documented! {
    /// `[metrics]`: `GET /metrics` in the Prometheus text format.
    #[derive(Debug, Clone, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct MetricsSection {
        /// Serve GET /metrics (Prometheus text format) and measure every
        /// request.
        pub enabled: bool,
        /// When set, /metrics answers only requests with "Authorization:
        /// Bearer <token>" (CHATGATE_METRICS_TOKEN). Empty: open to whoever
        /// reaches it, so keep the port private or set one.
        pub token: Secret,
    }
}

documented! {
    /// `[imiconnect]`.
    #[derive(Debug, Clone, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct ImiconnectSection {
        /// How far the iat (issued-at) of an imiconnect JWT may be from the
        /// gateway's clock, in seconds, either way
        /// (CHATGATE_IMICONNECT_JWT_SKEW_SECS).
        pub jwt_skew_secs: u64,
    }
}

documented! {
    /// `[meta]`.
    #[derive(Debug, Clone, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct MetaSection {
        /// The Meta app's secret (App Dashboard → App settings → Basic). It
        /// checks the X-Hub-Signature-256 of every webhook delivery; while
        /// empty, /webhooks/meta refuses deliveries (401) and the Huawei
        /// endpoint accepts only an instance token as a bearer token
        /// (CHATGATE_META_APP_SECRET).
        pub app_secret: Secret,
        /// The token Meta sends in the webhook verification handshake
        /// (hub.verify_token); while empty, the handshake is refused
        /// (CHATGATE_META_VERIFY_TOKEN).
        pub verify_token: Secret,
        /// Largest webhook delivery accepted on /webhooks/meta and the Huawei
        /// push endpoint, in bytes (Meta batches up to 1000 updates in one
        /// delivery).
        pub max_body_bytes: usize,
        /// The Graph API host of the instagram connector
        /// (CHATGATE_META_GRAPH_BASE_URL).
        pub graph_base_url: String,
        /// The Graph API version (CHATGATE_META_GRAPH_VERSION).
        pub graph_version: String,
        /// Longest wait for a Graph API answer, in ms (below
        /// outbound.send_timeout_ms).
        pub timeout_ms: u64,
        /// Send API calls per second per Instagram account (text, images,
        /// templates, reactions); 0: no limit.
        pub sends_per_second: u32,
        /// Audio and video sends per second per account; 0: no limit.
        pub media_sends_per_second: u32,
        /// Private replies to comments per hour per account; 0: no limit.
        pub comment_replies_per_hour: u32,
        /// How long after a comment a private reply may go out, in hours (Meta:
        /// 7 days).
        pub comment_reply_window_hours: u64,
        /// The Graph API host of the whatsapp connector (WhatsApp Cloud API;
        /// Meta serves it on graph.facebook.com, not on the Instagram host)
        /// (CHATGATE_META_WHATSAPP_GRAPH_BASE_URL).
        pub whatsapp_graph_base_url: String,
        /// Messages per second per WhatsApp phone number (Meta's default
        /// throughput is 80; numbers upgraded by Meta take up to 1000); 0: no
        /// limit.
        pub whatsapp_sends_per_second: u32,
    }
}

documented! {
    /// `[greenapi]`.
    #[derive(Debug, Clone, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct GreenApiSection {
        /// Answer 429 when an instance calls a method faster than GREEN-API
        /// allows (sending 50/s, receive/delete notification 100/s, settings,
        /// state and journals 1/s, …).
        pub rate_limits: bool,
        /// Messages an instance may send per calendar month (UTC); beyond it
        /// sending answers 466 like GREEN-API's quota. 0: no quota.
        pub monthly_message_quota: u64,
        /// The connector of instances createInstance makes without
        /// typeInstance: sandbox, instagram or whatsapp.
        pub default_type_instance: String,
        /// Largest file uploadFile / sendFileByUpload accept and chatgate
        /// hosts, in bytes (100 MB); a larger one is answered 413 and not
        /// kept.
        pub max_upload_bytes: usize,
    }
}

documented! {
    /// `[getloo]`.
    #[derive(Debug, Clone, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct GetlooSection {
        /// The UTC offset of `createdAt` in Getloo-format webhooks (seed 000
        /// shows +03:00, Moscow time).
        pub utc_offset: String,
    }
}

documented! {
    /// `[log]`.
    #[derive(Debug, Clone, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct LogConfig {
        /// Log filter in RUST_LOG syntax; RUST_LOG itself wins when set.
        pub level: String,
        /// "text" for people, "json" for log collectors (one object per
        /// line). A line written while a request is handled carries the
        /// request's span with its request_id (the answer's x-request-id).
        /// The --log-format flag overrides it.
        pub format: LogFormat,
    }
}

/// How logs are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// For people.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

documented! {
    /// `[shutdown]`.
    #[derive(Debug, Clone, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct ShutdownSection {
        /// On SIGTERM or Ctrl-C chatgate stops taking connections and waits
        /// this many seconds at most for the requests, sends and webhook pushes
        /// in flight, then gives up the leases of whatever is left (another
        /// node or the next start takes it over at once) and exits. A second
        /// signal exits at once.
        pub grace_secs: u64,
    }
}

documented! {
    /// `[http]`.
    #[derive(Debug, Clone, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct HttpSection {
        /// Largest request body accepted, in bytes; a larger one is answered
        /// 413.
        pub max_body_bytes: usize,
        /// Longest time a client may take to send a request's headers, in ms;
        /// a slower one (slowloris) has its connection closed.
        pub header_timeout_ms: u64,
        /// Longest time a client may take to send a request's body once its
        /// headers are in, in ms; a slower one is answered 408 and its
        /// connection closed. Long polls and the admin stream send no body and
        /// are not cut.
        pub body_timeout_ms: u64,
    }
}

documented! {
    /// `[limits]`: what one instance may ask of one node, answered 429 with
    /// Retry-After beyond it (GREEN-API keeps its own table,
    /// greenapi.rate_limits).
    #[derive(Debug, Clone, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct LimitsSection {
        /// Native sends (POST /api/v1/instances/{id}/messages) per second per
        /// instance, with the instance's token; 0: no limit.
        pub sends_per_second: u32,
        /// Other native requests per second per instance, with the instance's
        /// token (the partner token is not limited); 0: no limit.
        pub requests_per_second: u32,
        /// Long polls (native notifications/next and GREEN-API
        /// receiveNotification together) waiting at once per instance; one
        /// more is answered 429 at once. 0: no limit.
        pub long_polls_per_instance: u32,
    }
}

documented! {
    /// `[store]`.
    #[derive(Debug, Clone, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct StoreSection {
        /// Commit durability of SQLite: "full" (a commit survives power loss)
        /// or "normal" (survives a process crash; the last commits may be lost
        /// on power loss; faster).
        pub durability: String,
        /// Reader connections beside the one writer.
        pub readers: u32,
        /// Most requests committed together in one group commit.
        pub batch_max: usize,
        /// Keep the writer thread on one core (the last). It tripled the
        /// workers' throughput when SQLite's connection ran on a driver
        /// thread of its own; the writer now drives it itself, and pinning
        /// measures the same as not.
        pub pin_writer: bool,
    }
}

documented! {
    /// `[outbound]`.
    #[derive(Debug, Clone, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct OutboundSection {
        /// Messages sent at the same time, across all instances (each instance
        /// still sends one at a time, in order).
        pub concurrency: usize,
        /// How long a claimed instance is leased to this process; if the
        /// process dies, another takes the message over after this.
        pub lease_ms: u64,
        /// Longest wait for a platform's answer before the attempt counts as a
        /// transient failure (keep it well below lease_ms).
        pub send_timeout_ms: u64,
        /// Queued messages older than this expire (GREEN-API: 24 hours).
        pub message_ttl_ms: u64,
        /// Longest idle sleep of the worker between looks at the queue (new
        /// messages wake it at once; this bounds how late it notices work
        /// queued by another process, e.g. `chatgate send`).
        pub poll_interval_ms: u64,
    }
}

documented! {
    /// `[hooks]`.
    #[derive(Debug, Clone, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct HooksSection {
        /// Webhook pushes in flight at once, across instances (each instance
        /// still pushes one at a time, in order).
        pub concurrency: usize,
        /// How long a receiver may take to answer before the attempt counts as
        /// failed.
        pub timeout_ms: u64,
        /// Random spread of each retry wait, in percent (the schedule is 5 s, 5
        /// min, 30 min, 2 h, 5 h, 10 h, 10 h).
        pub jitter_percent: u8,
        /// How long a claimed instance's push lane is leased to this process.
        pub lease_ms: u64,
        /// After a webhook secret rotation, how long the previous secret keeps
        /// signing (both signatures are sent).
        pub secret_grace_ms: u64,
    }
}

documented! {
    /// `[retention]`.
    #[derive(Debug, Clone, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct RetentionSection {
        /// How long journal events and finished messages are kept.
        pub journal_ms: u64,
        /// How long notifications are kept (a pending push is kept until it is
        /// delivered or dead).
        pub notifications_ms: u64,
    }
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
    /// `--log-format`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<LogOverrides>,
}

/// Flags of the `[log]` section.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LogOverrides {
    /// `--log-format`.
    pub format: LogFormat,
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
        anyhow::ensure!(self.http.header_timeout_ms > 0, "http.header_timeout_ms must be positive");
        anyhow::ensure!(self.http.body_timeout_ms > 0, "http.body_timeout_ms must be positive");
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
        for (key, graph) in [
            ("graph_base_url", &self.meta.graph_base_url),
            ("whatsapp_graph_base_url", &self.meta.whatsapp_graph_base_url),
        ] {
            anyhow::ensure!(
                graph.starts_with("https://") || graph.starts_with("http://"),
                "meta.{key} must be an http(s) URL, got {graph:?}"
            );
        }
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

    /// How to open the PostgreSQL store, whose secrets `vault` seals.
    pub fn postgres_options(&self, vault: Arc<Vault>) -> PostgresOptions {
        PostgresOptions {
            url: self.database_url.expose().to_owned(),
            readers: self.store.readers,
            batch_max: self.store.batch_max,
            pin_writer: self.store.pin_writer,
            vault,
        }
    }

    /// The SQLite database file.
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("chatgate.db")
    }

    /// How to open the SQLite store, whose secrets `vault` seals.
    pub fn sqlite_options(&self, vault: Arc<Vault>) -> SqliteOptions {
        SqliteOptions {
            path: self.database_path(),
            durability: self.store.durability.parse().unwrap_or_default(),
            readers: self.store.readers,
            batch_max: self.store.batch_max,
            pin_writer: self.store.pin_writer,
            vault,
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

    /// The API's per-instance limits.
    pub fn limits_config(&self) -> chatgate_api::limits::LimitsConfig {
        chatgate_api::limits::LimitsConfig {
            sends_per_second: self.limits.sends_per_second,
            requests_per_second: self.limits.requests_per_second,
            long_polls_per_instance: self.limits.long_polls_per_instance,
        }
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

    /// The whatsapp connector's configuration.
    pub fn whatsapp_config(&self) -> WhatsappConfig {
        WhatsappConfig {
            graph_base_url: self.meta.whatsapp_graph_base_url.clone(),
            graph_version: self.meta.graph_version.clone(),
            timeout: Duration::from_millis(self.meta.timeout_ms),
            sends_per_second: self.meta.whatsapp_sends_per_second,
            ..WhatsappConfig::default()
        }
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

    /// How long a stop waits for the work in flight.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown.grace_secs)
    }

    /// The sandbox connector's configuration.
    pub fn sandbox_config(&self) -> SandboxConfig {
        SandboxConfig {
            deliver_after: Duration::from_millis(self.sandbox.deliver_after_ms),
            read_after: Duration::from_millis(self.sandbox.read_after_ms),
            throttle_retry_after: Duration::from_millis(self.sandbox.throttle_retry_after_ms),
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

/// The sections of [`Config`] and their documented keys, in the order of
/// `config.default.toml`.
fn sections() -> Vec<(&'static str, &'static [KeyDoc])> {
    fn of<T: Documented>(name: &'static str) -> (&'static str, &'static [KeyDoc]) {
        (name, T::KEYS)
    }
    vec![
        of::<LogConfig>("log"),
        of::<ShutdownSection>("shutdown"),
        of::<HttpSection>("http"),
        of::<LimitsSection>("limits"),
        of::<StoreSection>("store"),
        of::<OutboundSection>("outbound"),
        of::<HooksSection>("hooks"),
        of::<RetentionSection>("retention"),
        of::<SandboxSection>("sandbox"),
        of::<GetlooSection>("getloo"),
        of::<GreenApiSection>("greenapi"),
        of::<MetaSection>("meta"),
        of::<ImiconnectSection>("imiconnect"),
        of::<MetricsSection>("metrics"),
    ]
}

/// A doc comment's lines as one paragraph.
fn paragraph(doc: &[&str]) -> String {
    doc.iter().map(|line| line.trim()).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

/// A key's built-in default, written as in TOML.
fn default_of(path: &str) -> String {
    use figment::value::Value;
    let defaults = Figment::from(Toml::string(DEFAULTS));
    match defaults.find_value(path) {
        Ok(Value::String(_, s)) => format!("{s:?}"),
        Ok(Value::Bool(_, b)) => b.to_string(),
        Ok(Value::Num(_, n)) => n
            .to_u128()
            .map(|n| n.to_string())
            .or_else(|| n.to_i128().map(|n| n.to_string()))
            .unwrap_or_else(|| n.to_f64().map(|f| f.to_string()).unwrap_or_default()),
        Ok(other) => format!("{other:?}"),
        Err(_) => String::new(),
    }
}

/// The environment variable of a key.
fn variable_of(section: Option<&str>, key: &str) -> String {
    match section {
        Some(section) => format!("CHATGATE_{}_{}", section, key).to_ascii_uppercase(),
        None => format!("CHATGATE_{key}").to_ascii_uppercase(),
    }
}

/// The configuration reference in Markdown, generated from the doc
/// comments of [`Config`] and its sections (`chatgate config reference`,
/// committed as `docs/configuration.md`).
pub fn reference() -> String {
    use std::fmt::Write;
    let mut out = String::from(
        "# chatgate configuration reference\n\n\
         Generated by `chatgate config reference` from the doc comments of the \
         configuration types in `crates/chatgate/src/config.rs`; do not edit it by hand \
         (a test checks that it is current).\n\n\
         Every key can be set in a TOML file given with `--config` (or `CHATGATE_CONFIG`), \
         as an environment variable `CHATGATE_<SECTION>_<KEY>`, and some as a command-line \
         flag. Precedence: built-in defaults < file < environment < flags. \
         `docs/chatgate.example.toml` (`chatgate config example`) is a file with every key.\n",
    );
    let row = |out: &mut String, section: Option<&str>, key: &KeyDoc| {
        let path = section.map_or(key.name.to_owned(), |s| format!("{s}.{}", key.name));
        let _ = writeln!(
            out,
            "| `{}` | `{}` | `{}` | {} |",
            key.name,
            default_of(&path),
            variable_of(section, key.name),
            paragraph(key.doc).replace('|', "\\|")
        );
    };
    let header = "| key | default | environment | meaning |\n|---|---|---|---|\n";
    let sections = sections();
    let _ = write!(out, "\n## Top-level keys\n\n{header}");
    for key in Config::KEYS.iter().filter(|k| !sections.iter().any(|(name, _)| *name == k.name)) {
        row(&mut out, None, key);
    }
    for (name, keys) in &sections {
        let what = Config::KEYS.iter().find(|k| k.name == *name).map(|k| paragraph(k.doc));
        let _ = write!(out, "\n## `[{name}]`\n\n{}\n\n", what.unwrap_or_default());
        out.push_str(header);
        for key in *keys {
            row(&mut out, Some(name), key);
        }
    }
    out
}

/// An example configuration file: every key with its default and its doc
/// comment (`chatgate config example`, committed as
/// `docs/chatgate.example.toml`). It loads into the defaults.
pub fn example() -> String {
    use std::fmt::Write;
    let mut out = String::from(
        "# chatgate: an example configuration with every key at its default.\n\
         # Generated by `chatgate config example`; see docs/configuration.md.\n\
         # Use it with `chatgate --config FILE serve`; keys left out keep their\n\
         # defaults, and CHATGATE_<SECTION>_<KEY> variables override the file.\n",
    );
    let comment = |out: &mut String, doc: &[&str]| {
        for line in doc {
            let line = line.strip_prefix(' ').unwrap_or(line);
            let _ = writeln!(out, "#{}{line}", if line.is_empty() { "" } else { " " });
        }
    };
    let sections = sections();
    for key in Config::KEYS.iter().filter(|k| !sections.iter().any(|(name, _)| *name == k.name)) {
        out.push('\n');
        comment(&mut out, key.doc);
        let _ = writeln!(out, "{} = {}", key.name, default_of(key.name));
    }
    for (name, keys) in &sections {
        let _ = writeln!(out, "\n[{name}]");
        for key in *keys {
            comment(&mut out, key.doc);
            let _ = writeln!(out, "{} = {}", key.name, default_of(&format!("{name}.{}", key.name)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_defaults_load_and_match_the_documentation() {
        let config = Config::defaults().unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:7780");
        assert_eq!(config.data_dir, PathBuf::from("./chatgate-data"));
        assert_eq!(config.sandbox_config().deliver_after, Duration::from_millis(200));
        assert_eq!(config.sandbox_config().read_after, Duration::from_millis(1000));
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
                log: Some(LogOverrides { format: LogFormat::Json }),
            };
            let config = Config::load(Some(&file), &overrides).unwrap();
            assert_eq!(config.listen.to_string(), "127.0.0.1:9100", "flag beats file");
            assert_eq!(config.data_dir, PathBuf::from("/from/env"), "env beats file");
            assert_eq!(config.log.format, LogFormat::Json, "--log-format beats the default");
            assert_eq!(config.shutdown.grace_secs, 30);
            assert_eq!(
                config.sandbox_config().deliver_after,
                Duration::from_millis(5),
                "file beats default"
            );
            assert_eq!(
                config.sandbox_config().read_after,
                Duration::from_millis(70),
                "env beats file"
            );
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

    #[test]
    fn every_key_of_the_defaults_is_documented_and_every_documented_key_has_a_default() {
        use figment::value::Value;
        let defaults = Figment::from(Toml::string(DEFAULTS));
        let top: figment::value::Dict = defaults.extract().unwrap();
        let sections = sections();
        for (name, value) in &top {
            let documented = Config::KEYS.iter().any(|k| k.name == name);
            assert!(documented, "{name} has no doc comment in Config");
            if let Value::Dict(_, keys) = value {
                let (_, docs) = sections
                    .iter()
                    .find(|(s, _)| s == name)
                    .unwrap_or_else(|| panic!("[{name}] is missing from config::sections()"));
                for key in keys.keys() {
                    assert!(docs.iter().any(|d| d.name == key), "{name}.{key} is not documented");
                }
                assert_eq!(docs.len(), keys.len(), "[{name}] documents a key without a default");
            }
        }
        assert_eq!(Config::KEYS.len(), top.len(), "Config documents a key without a default");
        for key in Config::KEYS.iter().chain(sections.iter().flat_map(|(_, k)| k.iter())) {
            assert!(!paragraph(key.doc).is_empty(), "{} has an empty doc comment", key.name);
        }
    }

    #[test]
    fn the_committed_configuration_reference_is_current() {
        let committed = include_str!("../../../docs/configuration.md");
        assert!(
            committed == reference(),
            "docs/configuration.md is out of date; regenerate it with \
             `cargo run -p chatgate -- config reference > docs/configuration.md`"
        );
    }

    #[test]
    fn the_committed_example_is_current_and_loads_into_the_defaults() {
        let committed = include_str!("../../../docs/chatgate.example.toml");
        assert!(
            committed == example(),
            "docs/chatgate.example.toml is out of date; regenerate it with \
             `cargo run -p chatgate -- config example > docs/chatgate.example.toml`"
        );
        let loaded: Config = Figment::from(Toml::string(committed)).extract().unwrap();
        let defaults = Config::defaults().unwrap();
        assert_eq!(format!("{loaded:?}"), format!("{defaults:?}"));
    }

    #[test]
    fn a_doc_comment_is_what_the_reference_says() {
        let reference = reference();
        assert!(
            reference.contains("| `grace_secs` | `30` | `CHATGATE_SHUTDOWN_GRACE_SECS` |"),
            "{reference}"
        );
        let doc = paragraph(ShutdownSection::KEYS[0].doc);
        assert!(reference.contains(&doc), "{doc}");
    }
}
