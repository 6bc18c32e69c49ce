//! The end-to-end harness: [`TestApp::spawn`] starts the real server on
//! port 0 with a fresh data directory and a manual clock. Its worker loops
//! are off; tests move time with [`TestApp::advance`] and let the workers
//! catch up with [`TestApp::settle`], so nothing depends on timing.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

pub mod cloud;
mod files;
mod fixtures;
mod gate;
pub mod graph;
mod log_buffer;
mod proxy;
mod receiver;

pub use cloud::{FakeCloud, cloud_error};
pub use files::{FileServer, MB};
pub use fixtures::{assert_matches_fixture, fixture};
pub use gate::Gate;
pub use graph::{FakeGraph, meta_error};
pub use log_buffer::LogBuffer;
pub use proxy::TcpProxy;
pub use receiver::{Received, TestReceiver};

use std::sync::Arc;
use std::time::Duration;

use chatgate::{App, Config, Server, Workers};
use chatgate_core::clock::Clock;
use chatgate_core::hooks::HookStep;
use chatgate_core::outbound::Step;
use chatgate_core::{ManualClock, Timestamp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::net::TcpListener;

/// A stable, distinct id part for a text at a time.
fn uuid_like(text: &str, at: i64) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (text, at).hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

/// Whether this run keeps its stores in PostgreSQL
/// (`CHATGATE_TEST_BACKEND=postgres`) rather than SQLite files.
pub fn on_postgres() -> bool {
    std::env::var("CHATGATE_TEST_BACKEND").is_ok_and(|b| b.eq_ignore_ascii_case("postgres"))
}

/// Where every test's clock starts: 2026-01-01T00:00:00Z.
pub const START: Timestamp = Timestamp::from_millis(1_767_225_600_000);

/// The Meta app secret of [`TestApp::spawn_meta`].
pub const APP_SECRET: &str = "test-app-secret-0123456789abcdef";
/// The webhook verify token of [`TestApp::spawn_meta`].
pub const VERIFY_TOKEN: &str = "test-verify-token";
/// The Instagram professional account of [`TestApp::instagram`] (the
/// account of the connector fixtures).
pub const IG_ACCOUNT: &str = "17841400000000000";
/// Its access token.
pub const IG_TOKEN: &str = "IGAAtest0access0token0that0must0never0leak0123456789";
/// The customer of the connector fixtures.
pub const CUSTOMER: &str = "1234567890123456";
/// The WhatsApp phone number id of [`TestApp::whatsapp`] (the number of the
/// WhatsApp fixtures).
pub const WA_PHONE_ID: &str = "106540352242922";
/// The WhatsApp Business Account it belongs to.
pub const WA_WABA: &str = "102290129340398";
/// Its display number, digits only.
pub const WA_DISPLAY: &str = "15550783881";
/// Its system user access token.
pub const WA_TOKEN: &str = "EAAGwhatsapp0system0user0token0that0must0never0leak0987654321";
/// The WhatsApp customer of the fixtures (a wa_id).
pub const WA_CUSTOMER: &str = "16315551181";

/// A running chatgate under test.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub clock: ManualClock,
    pub partner_token: String,
    pub config: Config,
    server: Option<Server>,
    data_dir: Arc<TempDir>,
}

/// An instance created through the API, with its token.
#[derive(Debug, Clone)]
pub struct TestInstance {
    pub id: u64,
    pub token: String,
    pub body: Value,
}

/// An HTTP answer: status and JSON body (`Value::Null` when empty).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl TestApp {
    /// A server with the default configuration.
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// A server whose configuration `configure` adjusts.
    pub async fn spawn_with(configure: impl FnOnce(&mut Config)) -> TestApp {
        Self::spawn_at(START, configure).await
    }

    /// A server whose clock starts at `start` (e.g. the real time, for
    /// checks that compare with the wall clock).
    pub async fn spawn_at(start: Timestamp, configure: impl FnOnce(&mut Config)) -> TestApp {
        let data_dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        let mut config = Self::test_config(&data_dir).await;
        configure(&mut config);
        let clock = ManualClock::new(start);
        Self::start(config, clock, data_dir).await
    }

    /// A server on the wall clock with its worker loops running, as in
    /// production: for clients outside the test's control (another
    /// process) that wait the way real consumers do, by long polling.
    pub async fn spawn_live(
        configure: impl FnOnce(&mut Config),
    ) -> (TestApp, std::net::SocketAddr) {
        let data_dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut config = Self::test_config(&data_dir).await;
        config.listen = addr;
        configure(&mut config);
        let clock = Arc::new(chatgate_core::SystemClock);
        let app = App::open(config.clone(), clock).await.expect("open app");
        let server = Server::start(app, listener, config.partner_token.expose(), Workers::Run)
            .await
            .unwrap();
        let test = TestApp {
            base: format!("http://{}", server.addr),
            client: reqwest::Client::new(),
            clock: ManualClock::new(START),
            partner_token: config.partner_token.expose().to_owned(),
            config,
            server: Some(server),
            data_dir,
        };
        (test, addr)
    }

    /// A server whose instagram connector talks to `graph`, with an app
    /// secret and a verify token for Meta's webhook.
    pub async fn spawn_meta(graph: &FakeGraph) -> TestApp {
        Self::spawn_meta_with(graph, |_| {}).await
    }

    /// [`TestApp::spawn_meta`] with more configuration.
    pub async fn spawn_meta_with(
        graph: &FakeGraph,
        configure: impl FnOnce(&mut Config),
    ) -> TestApp {
        let url = graph.url.clone();
        Self::spawn_with(move |config| {
            config.meta.graph_base_url = url;
            config.meta.graph_version = graph::VERSION.into();
            config.meta.app_secret = APP_SECRET.into();
            config.meta.verify_token = VERIFY_TOKEN.into();
            configure(config);
        })
        .await
    }

    /// A server whose whatsapp connector talks to `cloud`, with an app
    /// secret and verify token.
    pub async fn spawn_whatsapp(cloud: &FakeCloud) -> TestApp {
        Self::spawn_whatsapp_with(cloud, |_| {}).await
    }

    /// [`TestApp::spawn_whatsapp`] with more configuration.
    pub async fn spawn_whatsapp_with(
        cloud: &FakeCloud,
        configure: impl FnOnce(&mut Config),
    ) -> TestApp {
        let url = cloud.url.clone();
        Self::spawn_with(move |config| {
            config.meta.whatsapp_graph_base_url = url;
            config.meta.graph_version = graph::VERSION.into();
            config.meta.app_secret = APP_SECRET.into();
            config.meta.verify_token = VERIFY_TOKEN.into();
            configure(config);
        })
        .await
    }

    /// A whatsapp instance connected to [`WA_PHONE_ID`] (which `cloud`
    /// learns), with no pacing gap; asserts it is authorized.
    pub async fn whatsapp(&self, cloud: &FakeCloud) -> TestInstance {
        self.whatsapp_with(cloud, json!({})).await
    }

    /// [`TestApp::whatsapp`] with settings.
    pub async fn whatsapp_with(&self, cloud: &FakeCloud, settings: Value) -> TestInstance {
        cloud.number(WA_TOKEN, WA_PHONE_ID, WA_WABA, WA_DISPLAY);
        let mut all = json!({"delaySendMessagesMilliseconds": 0});
        for (key, value) in settings.as_object().unwrap() {
            all[key] = value.clone();
        }
        let instance = self
            .create_instance(json!({
                "kind": "whatsapp",
                "name": "shop",
                "settings": all,
                "connection": {"phoneNumberId": WA_PHONE_ID, "wabaId": WA_WABA, "accessToken": WA_TOKEN},
            }))
            .await;
        assert_eq!(instance.body["state"], "authorized", "{}", instance.body);
        instance
    }

    /// The customer writes `text` to the WhatsApp number through Meta's
    /// webhook; returns the message's wamid.
    pub async fn customer_writes_on_whatsapp(&self, from: &str, text: &str) -> String {
        let wamid = format!("wamid.{}", uuid_like(text, self.clock.now().as_millis()));
        self.meta_delivers(&json!({
            "object": "whatsapp_business_account",
            "entry": [{
                "id": WA_WABA,
                "changes": [{
                    "field": "messages",
                    "value": {
                        "messaging_product": "whatsapp",
                        "metadata": {"display_phone_number": WA_DISPLAY, "phone_number_id": WA_PHONE_ID},
                        "contacts": [{"profile": {"name": "Kerry Fisher"}, "wa_id": from}],
                        "messages": [{
                            "from": from,
                            "id": wamid,
                            "timestamp": (self.clock.now().as_millis() / 1000).to_string(),
                            "type": "text",
                            "text": {"body": text},
                        }],
                    },
                }],
            }],
        }))
        .await;
        wamid
    }

    /// Meta reports the status of a message sent from the WhatsApp number.
    pub async fn whatsapp_status(&self, wamid: &str, status: &str, errors: Value) {
        let mut report = json!({
            "id": wamid,
            "status": status,
            "timestamp": (self.clock.now().as_millis() / 1000).to_string(),
            "recipient_id": WA_CUSTOMER,
        });
        if !errors.is_null() {
            report["errors"] = errors;
        }
        self.meta_delivers(&json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": WA_WABA, "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": WA_DISPLAY, "phone_number_id": WA_PHONE_ID},
                "statuses": [report],
            }}]}],
        }))
        .await;
    }

    /// An instagram instance connected to [`IG_ACCOUNT`] (which `graph`
    /// learns), with no pacing gap; asserts it is authorized.
    pub async fn instagram(&self, graph: &FakeGraph) -> TestInstance {
        self.instagram_with(graph, json!({})).await
    }

    /// [`TestApp::instagram`] with settings.
    pub async fn instagram_with(&self, graph: &FakeGraph, settings: Value) -> TestInstance {
        graph.account(IG_TOKEN, IG_ACCOUNT, "blue.jackets");
        let mut all = json!({"delaySendMessagesMilliseconds": 0});
        for (key, value) in settings.as_object().unwrap() {
            all[key] = value.clone();
        }
        let instance = self
            .create_instance(json!({
                "kind": "instagram",
                "name": "shop",
                "settings": all,
                "connection": {"accountId": IG_ACCOUNT, "accessToken": IG_TOKEN},
            }))
            .await;
        assert_eq!(instance.body["state"], "authorized", "{}", instance.body);
        instance
    }

    /// Posts a body signed with [`APP_SECRET`] to `path`.
    pub async fn post_signed(&self, path: &str, body: &[u8]) -> Answer {
        let signature = chatgate_connectors::meta::webhook::sign(APP_SECRET, body);
        let response = self
            .raw(Method::POST, path)
            .header("content-type", "application/json")
            .header("x-hub-signature-256", signature)
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        Self::answer(response).await
    }

    /// Meta delivers `body` to `/webhooks/meta`, signed; asserts 200.
    pub async fn meta_delivers(&self, body: &Value) {
        let answer = self.post_signed("/webhooks/meta", body.to_string().as_bytes()).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    }

    /// The customer writes `text` to the instagram account through Meta's
    /// webhook; returns the message's mid.
    pub async fn customer_writes_on_instagram(&self, from: &str, text: &str) -> String {
        let mid = format!("mid.{}", uuid_like(text, self.clock.now().as_millis()));
        self.meta_delivers(&json!({
            "object": "instagram",
            "entry": [{
                "id": IG_ACCOUNT,
                "time": self.clock.now().as_millis(),
                "messaging": [{
                    "sender": {"id": from},
                    "recipient": {"id": IG_ACCOUNT},
                    "timestamp": self.clock.now().as_millis(),
                    "message": {"mid": mid, "text": text},
                }],
            }],
        }))
        .await;
        mid
    }

    /// The instance's journal, oldest first.
    pub async fn journal(&self, instance: &TestInstance) -> Vec<Value> {
        let answer = self.get(instance, "/events?limit=1000").await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer.body["events"].as_array().cloned().unwrap_or_default()
    }

    /// The configuration every test starts from: SQLite's NORMAL keeps the
    /// suite fast (FULL is tested in the store); test receivers listen on
    /// loopback; retries are exact; GREEN-API's 1-per-second limits and the
    /// native per-instance rates would trip tests that call quickly (the
    /// abuse tests turn them back on).
    ///
    /// With `CHATGATE_TEST_BACKEND=postgres` (what `.ci/run`'s second pass
    /// sets) the store is a fresh schema of the test PostgreSQL instead of a
    /// SQLite file.
    async fn test_config(data_dir: &TempDir) -> Config {
        let mut config = Config::defaults().unwrap();
        config.data_dir = data_dir.path().to_path_buf();
        config.partner_token = format!("partner-{}", std::process::id()).into();
        config.store.durability = "normal".into();
        config.allowed_private_networks = "127.0.0.0/8".into();
        config.hooks.jitter_percent = 0;
        config.greenapi.rate_limits = false;
        config.limits.sends_per_second = 0;
        config.limits.requests_per_second = 0;
        if on_postgres() {
            let url = chatgate_store::testing::fresh_postgres_schema()
                .await
                .expect("CHATGATE_TEST_BACKEND=postgres needs a reachable PostgreSQL");
            config.database_url = url.into();
            config.secret_key = chatgate_core::vault::Vault::generate_key().into();
        }
        config
    }

    async fn start(config: Config, clock: ManualClock, data_dir: Arc<TempDir>) -> TestApp {
        Self::start_with(config, clock, data_dir, Workers::Manual).await
    }

    /// A server on the manual clock with its worker loops running, as in
    /// production (for tests of stopping with work in flight); a restart
    /// of it runs the workers manually again.
    pub async fn spawn_running(configure: impl FnOnce(&mut Config)) -> TestApp {
        let data_dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        let mut config = Self::test_config(&data_dir).await;
        configure(&mut config);
        Self::start_with(config, ManualClock::new(START), data_dir, Workers::Run).await
    }

    async fn start_with(
        config: Config,
        clock: ManualClock,
        data_dir: Arc<TempDir>,
        workers: Workers,
    ) -> TestApp {
        let app = App::open(config.clone(), Arc::new(clock.clone())).await.expect("open app");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server =
            Server::start(app, listener, config.partner_token.expose(), workers).await.unwrap();
        TestApp {
            base: format!("http://{}", server.addr),
            client: reqwest::Client::new(),
            clock,
            partner_token: config.partner_token.expose().to_owned(),
            config,
            server: Some(server),
            data_dir,
        }
    }

    /// A server on a fresh PostgreSQL schema whatever the run's backend
    /// (for several nodes on one database); `None`, after a loud message,
    /// when PostgreSQL cannot be reached outside CI.
    pub async fn spawn_on_postgres() -> Option<TestApp> {
        let url = chatgate_store::testing::fresh_postgres_schema().await?;
        let key = chatgate_core::vault::Vault::generate_key();
        Some(
            Self::spawn_with(move |config| {
                config.database_url = url.into();
                config.secret_key = key.into();
            })
            .await,
        )
    }

    /// Another node on this one's database, with the same keys and the
    /// same clock: what a second chatgate process behind a load balancer
    /// would be.
    pub async fn another_node(&self) -> TestApp {
        assert!(!self.config.database_url.is_empty(), "nodes share a PostgreSQL database");
        let data_dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        let mut config = self.config.clone();
        config.data_dir = data_dir.path().to_path_buf();
        Self::start(config, self.clock.clone(), data_dir).await
    }

    /// Stops the server without letting it finish anything, as a crash
    /// would leave it: its leases stay in the database until they run out.
    pub fn kill(mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }

    /// Crashes the server (see [`TestApp::kill`]) and starts a new one on
    /// the same data directory and clock: the crashed one's leases are
    /// still there.
    pub async fn crash_and_restart(mut self) -> TestApp {
        self.server.take().unwrap().abort();
        Self::start(self.config.clone(), self.clock.clone(), self.data_dir.clone()).await
    }

    /// Takes the server out of the test, to stop it by hand.
    pub fn take_server(&mut self) -> Server {
        self.server.take().unwrap()
    }

    /// Starts a new server (workers driven by hand) on this one's data
    /// directory and clock, once [`TestApp::take_server`]'s has stopped.
    pub async fn start_again(&self) -> TestApp {
        Self::start(self.config.clone(), self.clock.clone(), self.data_dir.clone()).await
    }

    /// Stops the server and starts a new one on the same data directory
    /// and clock, as an operator's restart would.
    pub async fn restart(mut self) -> TestApp {
        self.server.take().unwrap().stop().await;
        Self::start(self.config.clone(), self.clock.clone(), self.data_dir.clone()).await
    }

    /// The services behind the server.
    pub fn app(&self) -> &App {
        &self.server.as_ref().unwrap().app
    }

    /// Sends a request with an optional bearer token and JSON body.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        Self::answer(request.send().await.expect("request")).await
    }

    /// Turns a response into an [`Answer`].
    pub async fn answer(response: reqwest::Response) -> Answer {
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                panic!("not JSON ({status}): {}", String::from_utf8_lossy(&bytes))
            })
        };
        Answer { status, headers, body }
    }

    /// A raw request builder for tests that shape the request themselves.
    pub fn raw(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base))
    }

    /// Creates an instance through the admin API.
    pub async fn create_instance(&self, body: Value) -> TestInstance {
        let answer = self
            .request(Method::POST, "/api/v1/instances", Some(&self.partner_token), Some(body))
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        TestInstance {
            id: answer.body["id"].as_u64().unwrap(),
            token: answer.body["apiToken"].as_str().unwrap().to_owned(),
            body: answer.body,
        }
    }

    /// A sandbox instance with no pacing gap.
    pub async fn sandbox(&self) -> TestInstance {
        self.create_instance(json!({
            "kind": "sandbox",
            "name": "test",
            "settings": {"delaySendMessagesMilliseconds": 0}
        }))
        .await
    }

    /// A sandbox instance with a pacing gap of `delay_ms`.
    pub async fn paced(&self, delay_ms: u64) -> TestInstance {
        self.create_instance(json!({
            "kind": "sandbox",
            "settings": {"delaySendMessagesMilliseconds": delay_ms}
        }))
        .await
    }

    /// A sandbox instance with no gap that pushes to `url`.
    pub async fn pushing_to(&self, url: &str) -> TestInstance {
        self.create_instance(json!({
            "kind": "sandbox",
            "settings": {"delaySendMessagesMilliseconds": 0, "webhookUrl": url}
        }))
        .await
    }

    /// Plays the customer of a sandbox instance.
    pub async fn incoming(&self, instance: &TestInstance, body: Value) -> Answer {
        let path = format!("/api/v1/instances/{}/sandbox/incoming", instance.id);
        self.request(Method::POST, &path, Some(&instance.token), Some(body)).await
    }

    /// The customer writes `text`; returns the event id.
    pub async fn customer_writes(&self, instance: &TestInstance, text: &str) -> String {
        let answer = self
            .incoming(
                instance,
                json!({"from": {"id": "17841400000000001"}, "type": "text", "text": text}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer.body["eventId"].as_str().unwrap().to_owned()
    }

    /// Waits (yielding, never sleeping) until a long poll of the instance is
    /// parked in the server, so that moving the clock reaches it.
    pub async fn until_long_poll_waits(&self, instance: &TestInstance) {
        let id = instance.id.to_string().parse().unwrap();
        let signal = self.app().store.notifications_signal();
        let parked = async {
            while !signal.is_waited_on(id) {
                tokio::task::yield_now().await;
            }
        };
        tokio::time::timeout(Duration::from_secs(10), parked)
            .await
            .expect("the long poll never parked");
    }

    /// GET on an instance path with its token.
    pub async fn get(&self, instance: &TestInstance, path: &str) -> Answer {
        let path = format!("/api/v1/instances/{}{path}", instance.id);
        self.request(Method::GET, &path, Some(&instance.token), None).await
    }

    /// Sends a message; returns the answer.
    pub async fn send(&self, instance: &TestInstance, body: Value) -> Answer {
        let path = format!("/api/v1/instances/{}/messages", instance.id);
        self.request(Method::POST, &path, Some(&instance.token), Some(body)).await
    }

    /// Sends a message that must be accepted; returns its id.
    pub async fn send_ok(&self, instance: &TestInstance, body: Value) -> String {
        let answer = self.send(instance, body).await;
        assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
        assert_eq!(answer.body["status"], "queued");
        answer.body["id"].as_str().unwrap().to_owned()
    }

    /// A message as the API shows it.
    pub async fn message(&self, instance: &TestInstance, id: &str) -> Value {
        let path = format!("/api/v1/instances/{}/messages/{id}", instance.id);
        let answer = self.request(Method::GET, &path, Some(&instance.token), None).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer.body
    }

    /// How many messages of the instance are pending.
    pub async fn queue_count(&self, instance: &TestInstance) -> u64 {
        let path = format!("/api/v1/instances/{}/queue/count", instance.id);
        let answer = self.request(Method::GET, &path, Some(&instance.token), None).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer.body["count"].as_u64().unwrap()
    }

    /// Runs the workers' steps until nothing more can happen at the current
    /// time: sends, emulated receipts, webhook pushes. Returns the outbound
    /// steps taken.
    pub async fn settle(&self) -> Vec<Step> {
        let mut steps = Vec::new();
        loop {
            let step = self.app().outbound.try_send_next().await.unwrap();
            let receipts = self.app().outbound.apply_due_receipts().await.unwrap();
            let profiles = self.app().gateway.fetch_requested_profiles(64).await.unwrap();
            let hook = self.app().hooks.try_deliver_next().await.unwrap();
            let idle = matches!(step, Step::Idle { .. });
            if !idle {
                steps.push(step);
            }
            if idle && receipts == 0 && profiles == 0 && matches!(hook, HookStep::Idle { .. }) {
                return steps;
            }
        }
    }

    /// Runs only the hook worker until no push is due now; returns its steps.
    pub async fn push_all(&self) -> Vec<HookStep> {
        let mut steps = Vec::new();
        loop {
            match self.app().hooks.try_deliver_next().await.unwrap() {
                HookStep::Idle { .. } => return steps,
                step => steps.push(step),
            }
        }
    }

    /// Moves the clock forward by `by`, stopping at every moment the
    /// workers have something to do and letting them do it.
    pub async fn advance(&self, by: Duration) -> Vec<Step> {
        let deadline = self.clock.now_plus(by);
        let mut steps = self.settle().await;
        loop {
            let next_send = self.app().outbound.next_at().await.unwrap();
            let next_receipt = self.app().outbound.next_receipt_at().await.unwrap();
            let next_push = self.app().hooks.next_at().await.unwrap();
            let next = [next_send, next_receipt, next_push].into_iter().flatten().min();
            match next {
                Some(at) if at <= deadline => {
                    self.clock.advance_to(at);
                    steps.extend(self.settle().await);
                }
                _ => break,
            }
        }
        self.clock.advance_to(deadline);
        steps.extend(self.settle().await);
        steps
    }

    /// Stops the server and closes its database.
    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
    }
}

/// Clock helpers.
pub trait ClockExt {
    /// Now plus a duration.
    fn now_plus(&self, by: Duration) -> Timestamp;
}

impl ClockExt for ManualClock {
    fn now_plus(&self, by: Duration) -> Timestamp {
        chatgate_core::Clock::now(self).plus(by)
    }
}

/// The statuses of a message's transitions, in order.
pub fn statuses(message: &Value) -> Vec<String> {
    message["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["status"].as_str().unwrap().to_owned())
        .collect()
}

/// The time of the first transition into `status`, in ms since the epoch.
pub fn transition_at(message: &Value, status: &str) -> i64 {
    let at = message["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["status"] == status)
        .unwrap_or_else(|| panic!("no {status} transition in {message}"))["at"]
        .as_str()
        .unwrap()
        .to_owned();
    parse_rfc3339_millis(&at)
}

/// Parses the API's RFC 3339 timestamps to ms since the epoch.
pub fn parse_rfc3339_millis(s: &str) -> i64 {
    let at = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("{s:?} is not RFC 3339: {e}"));
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap()
}
