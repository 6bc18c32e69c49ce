//! Wiring: the store, the connectors, the core services, the HTTP app and
//! the worker loops, started and stopped as one.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chatgate_api::auth::PartnerToken;
use chatgate_api::dialects::getloo::GetlooHooks;
use chatgate_api::dialects::greenapi::{GreenApiHooks, GreenApiState};
use chatgate_api::dialects::imiconnect::{ImiconnectCallbacks, ImiconnectConfig};
use chatgate_api::inbound::meta::MetaInbound;
use chatgate_api::inbound::whatsapp_media::WhatsappMedia;
use chatgate_api::limits::ApiLimits;
use chatgate_api::metrics::MetricsEndpoint;
use chatgate_api::native::hooks::NativeHooks;
use chatgate_api::{AppState, HttpConfig};
use chatgate_connectors::http::HttpWebhookTransport;
use chatgate_connectors::meta::instagram::InstagramConnector;
use chatgate_connectors::meta::whatsapp::WhatsappConnector;
use chatgate_connectors::sandbox::SandboxConnector;
use chatgate_core::connector::Connectors;
use chatgate_core::gateway::{GatewayPolicy, OutboundSignal};
use chatgate_core::hooks::{HookFormats, HookWorker};
use chatgate_core::janitor::Janitor;
use chatgate_core::media::MediaProbe;
use chatgate_core::outbound::OutboundWorker;
use chatgate_core::store::{Store, WorkerId};
use chatgate_core::vault::Vault;
use chatgate_core::webhook::WebhookTransport;
use chatgate_core::{Clock, Gateway, WebhookFormat};
use chatgate_store::{PostgresStore, SqliteStore};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::Config;
use crate::workers;

/// The services of one chatgate process, without HTTP or loops: what the
/// CLI commands use directly and what [`Server`] runs.
#[derive(Clone)]
pub struct App {
    /// The core services.
    pub gateway: Gateway,
    /// The outbound worker (its step is public for tests).
    pub outbound: OutboundWorker,
    /// The hook worker (its step is public for tests).
    pub hooks: HookWorker,
    /// The janitor.
    pub janitor: Janitor,
    /// Looks at files before they are accepted.
    pub media: Arc<dyn MediaProbe>,
    /// The GREEN-API dialect's configuration and limiters.
    pub greenapi: Arc<GreenApiState>,
    /// Meta's webhook settings and counters.
    pub meta: Arc<MetaInbound>,
    /// Per-instance request rates and long polls of the API.
    pub limits: Arc<ApiLimits>,
    /// The store.
    pub store: Arc<dyn Store>,
    /// Wakes the outbound loop.
    pub outbound_signal: OutboundSignal,
    /// Wakes the receipts loop.
    pub receipts_signal: OutboundSignal,
    /// The configuration it was built from.
    pub config: Arc<Config>,
    /// The name this process's workers hold leases under.
    pub owner: WorkerId,
    /// The server key, which signs admin sessions with the partner token.
    server_key: Arc<[u8; 32]>,
}

impl App {
    /// Opens the store (creating and migrating it when needed) and builds
    /// the services on the given clock.
    pub async fn open(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<App> {
        let network = config.network_policy()?;
        let user_agent = concat!("chatgate/", env!("CARGO_PKG_VERSION"));
        let transport = HttpWebhookTransport::new(
            network.clone(),
            std::time::Duration::from_millis(config.hooks.timeout_ms),
            user_agent,
        )
        .map_err(anyhow::Error::msg)?;
        let transport = Arc::new(transport);
        Self::open_with(config, clock, transport.clone(), transport).await
    }

    /// Like [`App::open`] with a given webhook transport and media probe.
    pub async fn open_with(
        config: Config,
        clock: Arc<dyn Clock>,
        transport: Arc<dyn WebhookTransport>,
        media: Arc<dyn MediaProbe>,
    ) -> anyhow::Result<App> {
        let network = config.network_policy()?;
        // The key first: the store seals instance secrets with it.
        let key = crate::bootstrap::server_key(&config)?;
        let vault = Arc::new(Vault::new(&key));
        let store: Arc<dyn Store> = if config.uses_postgres() {
            PostgresStore::open_postgres(config.postgres_options(vault.clone()))
                .await
                .with_context(|| format!("cannot open {}", config.database_description()))?
        } else {
            SqliteStore::open(config.sqlite_options(vault.clone()))
                .await
                .with_context(|| format!("cannot open {}", config.database_description()))?
        };
        let whatsapp = Arc::new(WhatsappConnector::new(
            config.whatsapp_config(),
            vault.clone(),
            clock.clone(),
        ));
        let connectors = Connectors::new()
            .with(Arc::new(SandboxConnector::new(clock.clone(), config.sandbox_config())))
            .with(Arc::new(InstagramConnector::new(
                config.instagram_config(),
                vault.clone(),
                clock.clone(),
            )))
            .with(whatsapp.clone());
        let outbound_signal = OutboundSignal::default();
        let policy = GatewayPolicy {
            vault,
            network,
            secret_grace: std::time::Duration::from_millis(config.hooks.secret_grace_ms),
        };
        let gateway = Gateway::new(store.clone(), clock.clone(), outbound_signal.clone(), policy)
            .with_connectors(connectors.clone());
        let owner = WorkerId(format!("{}:{}", std::process::id(), uuid::Uuid::now_v7().simple()));
        let outbound = OutboundWorker::new(
            store.clone(),
            connectors,
            clock.clone(),
            config.outbound_policy(),
            owner.clone(),
        );
        let formats = HookFormats::new()
            .with(WebhookFormat::Native, Arc::new(NativeHooks))
            .with(WebhookFormat::Getloo, Arc::new(GetlooHooks::new(config.getloo_offset()?)))
            .with(WebhookFormat::Greenapi, Arc::new(GreenApiHooks))
            .with_callbacks(Arc::new(ImiconnectCallbacks));
        let hook_policy = config.hook_policy();
        let hooks = HookWorker::new(
            store.clone(),
            transport,
            formats,
            clock.clone(),
            hook_policy,
            owner.clone(),
        )
        .with_vault(gateway.policy().vault.clone());
        let janitor = Janitor::new(store.clone(), clock, config.retention());
        let greenapi = Arc::new(GreenApiState::new(config.greenapi_config()?));
        let whatsapp_media = WhatsappMedia::new(whatsapp, &config.public_base_url(), &key[..]);
        let meta = Arc::new(
            MetaInbound::new(
                config.meta.app_secret.expose(),
                config.meta.verify_token.expose(),
                config.meta.max_body_bytes,
            )
            .with_whatsapp_media(whatsapp_media),
        );
        let limits = Arc::new(ApiLimits::new(config.limits_config()));
        Ok(App {
            limits,
            greenapi,
            meta,
            media,
            gateway,
            outbound,
            hooks,
            janitor,
            store,
            outbound_signal,
            receipts_signal: OutboundSignal::default(),
            config: Arc::new(config),
            owner,
            server_key: Arc::new(key),
        })
    }

    /// The HTTP application on these services.
    pub fn router(&self, partner_token: &str) -> axum::Router {
        let state = AppState {
            gateway: self.gateway.clone(),
            partner: Arc::new(PartnerToken::with_server_key(partner_token, &*self.server_key)),
            media: self.media.clone(),
            greenapi: self.greenapi.clone(),
            meta: self.meta.clone(),
            imiconnect: Arc::new(ImiconnectConfig {
                jwt_skew: std::time::Duration::from_secs(self.config.imiconnect.jwt_skew_secs),
            }),
            metrics: self.config.metrics.enabled.then(|| {
                let handle = chatgate_api::metrics::install();
                Arc::new(MetricsEndpoint::new(handle, self.config.metrics.token.expose()))
            }),
            limits: self.limits.clone(),
        };
        let http = HttpConfig {
            max_body_bytes: self.config.http.max_body_bytes,
            body_timeout: Duration::from_millis(self.config.http.body_timeout_ms),
        };
        chatgate_api::app(state, &http)
    }

    /// Finishes pending writes and closes the database.
    pub async fn close(&self) {
        self.store.close().await;
    }
}

/// How a [`Server::stop`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// Everything in flight finished.
    Finished,
    /// The grace ran out and what was left was abandoned (its leases
    /// released).
    GraceRanOut,
}

/// Whether a started server runs its own worker loops. Tests turn them off
/// and call the workers' single steps instead, so nothing depends on timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workers {
    /// Run the outbound, receipt, hook and janitor loops.
    Run,
    /// Leave the work to whoever calls the steps.
    Manual,
}

/// A running chatgate: HTTP on a listener plus the worker loops.
pub struct Server {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// Its services.
    pub app: App,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl Server {
    /// Serves `app` on `listener` and, with [`Workers::Run`], starts the
    /// worker loops.
    pub async fn start(
        app: App,
        listener: TcpListener,
        partner_token: &str,
        workers: Workers,
    ) -> anyhow::Result<Server> {
        let addr = listener.local_addr()?;
        let (shutdown, stopped) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let router = app.router(partner_token);
        let header_timeout = Duration::from_millis(app.config.http.header_timeout_ms);
        tasks.spawn(crate::serve::serve(listener, router, header_timeout, stopped.clone()));
        if workers == Workers::Run {
            workers::spawn_all(&app, &mut tasks, stopped);
        }
        Ok(Server { addr, app, shutdown, tasks })
    }

    /// A receiver that turns true when [`Server::stop`] begins.
    pub fn stopping(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Stops within the configured grace (`shutdown.grace_secs`); see
    /// [`Server::stop_within`].
    pub async fn stop(self) -> Stopped {
        let grace = self.app.config.shutdown_grace();
        self.stop_within(grace).await
    }

    /// Stops gracefully: takes no new connections and starts no new work,
    /// ends long polls at once (answered "nothing yet"),
    /// lets the requests, sends and webhook pushes in flight finish and
    /// record their outcome, for at most `grace`; then aborts what is left,
    /// gives up every lease this process still holds (so another node, or
    /// the next start, takes that work at once rather than when the lease
    /// runs out), writes the pending batches and closes the database.
    ///
    /// A send cut short by the grace stays `sending` and is sent again as
    /// "interrupted" by whoever claims it next, as after a crash.
    pub async fn stop_within(mut self, grace: Duration) -> Stopped {
        let _ = self.shutdown.send(true);
        self.app.gateway.begin_stop();
        let finished =
            tokio::time::timeout(grace, async { while self.tasks.join_next().await.is_some() {} })
                .await
                .is_ok();
        if !finished {
            tracing::warn!(
                grace_secs = grace.as_secs_f64(),
                "the grace ran out: abandoning the requests and sends still in flight"
            );
            self.tasks.abort_all();
            while self.tasks.join_next().await.is_some() {}
        }
        match self.app.store.release_leases(&self.app.owner).await {
            Ok(0) => {}
            Ok(lanes) => tracing::info!(lanes, "released the leases still held"),
            Err(e) => tracing::warn!(error = %e, "releasing leases failed; they run out instead"),
        }
        self.app.close().await;
        if finished { Stopped::Finished } else { Stopped::GraceRanOut }
    }

    /// Stops everything at once, finishing nothing: the server's tasks are
    /// aborted and its leases stay behind, as after a crash (for tests of
    /// another node taking over).
    pub fn abort(mut self) {
        self.tasks.abort_all();
    }
}
