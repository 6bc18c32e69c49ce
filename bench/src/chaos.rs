//! The crash test (`chatgate-bench chaos`): chatgate on SQLite (durability
//! full) sends through a fake Graph API and pushes to a local receiver while
//! a driver sends messages and signed Meta webhooks and the server is killed
//! with SIGKILL at random moments and started again on the same data.
//! Afterwards every acknowledged message and webhook is accounted for.
//!
//! What counts as acknowledged is what a client may rely on: a send answered
//! 202 with an id (the driver retries with the same `Idempotency-Key` until
//! it is), a Meta webhook answered 200 (retried with the same body, as Meta
//! does). The checks:
//! - every acknowledged send reached the platform at least once, ended
//!   `sent` or `failed` exactly once (one transition, one status event), and
//!   if the platform got it more than once it is flagged `possibleDuplicate`
//!   in its `sent` status event;
//! - every acknowledged inbound message was notified, never under two event
//!   ids (the same event id twice is at-least-once delivery and allowed).
//!
//! With `--outage` the fault is a database outage instead of kills:
//! chatgate runs on PostgreSQL behind a proxy that is cut for the outage's
//! length while the load goes on (see `outage`). Then also: every request
//! during the outage is answered (503, with its reason), none slower than
//! [`FAST_REFUSAL`], the process never exits, and the same checks hold
//! afterwards.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::load::{self, Shot};
use crate::outage::FlakyDatabase;
use crate::process::{Proc, chatgate_binary, free_addr};
use crate::progress;

const PARTNER: &str = "chaos-partner-token-0123456789";
const APP_SECRET: &str = "chaos-app-secret";
/// The server key on PostgreSQL: base64 of "chaos-test-server-key-32-bytes!!".
const SERVER_KEY: &str = "Y2hhb3MtdGVzdC1zZXJ2ZXIta2V5LTMyLWJ5dGVzISE=";

/// How big a crash test is.
#[derive(Debug, Clone)]
pub struct ChaosSizes {
    /// Native sends.
    pub sends: u64,
    /// Signed Meta webhooks (one message each).
    pub webhooks: u64,
    /// SIGKILLs during the load.
    pub kills: u32,
    /// Instagram instances the load is spread over.
    pub instances: usize,
    /// Longest wait for the gateway to drain after the load.
    pub drain: Duration,
    /// The seed of the kill moments.
    pub seed: u64,
    /// Instead of kills: database outages of this length (PostgreSQL).
    pub outage: Option<Duration>,
}

/// The slowest a refusal during a database outage may be: PostgreSQL
/// reads give up after 3 s, writes at once.
pub const FAST_REFUSAL: Duration = Duration::from_secs(5);

impl ChaosSizes {
    /// The full test: 10 000 sends, 10 000 webhooks, 10 kills.
    pub fn full(seed: u64) -> Self {
        Self {
            sends: 10_000,
            webhooks: 10_000,
            kills: 10,
            instances: 10,
            drain: Duration::from_secs(300),
            seed,
            outage: None,
        }
    }

    /// The CI size: 300 + 300 with 3 kills.
    pub fn small(seed: u64) -> Self {
        Self {
            sends: 300,
            webhooks: 300,
            kills: 3,
            instances: 4,
            drain: Duration::from_secs(90),
            seed,
            outage: None,
        }
    }

    /// These sizes with database outages of `length` (one per former kill)
    /// instead of kills.
    pub fn with_outages(mut self, length: Duration) -> Self {
        self.outage = Some(length);
        self
    }
}

/// A small deterministic generator (splitmix64): the kill moments follow
/// from the printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A seed from the clock, for runs that name none.
pub fn clock_seed() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1)
}

// ---------------------------------------------------------------- fake Graph

/// What the fake Graph API was asked.
#[derive(Default)]
struct Platform {
    /// Send API calls per message text.
    texts: HashMap<String, u32>,
    /// Send API calls in all.
    calls: u64,
}

type PlatformState = Arc<Mutex<Platform>>;

async fn graph_node(
    Path((_version, node)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let token = bearer(&headers);
    let Some(account) = token.strip_prefix("chaos-token-") else {
        return (StatusCode::BAD_REQUEST, axum::Json(json!({"error": {"message": "Invalid OAuth access token", "type": "OAuthException", "code": 190}}))).into_response();
    };
    if node == "me" {
        return axum::Json(json!({
            "id": format!("app-scoped-{account}"),
            "user_id": account,
            "username": format!("chaos_{account}"),
            "name": "Chaos shop",
        }))
        .into_response();
    }
    axum::Json(json!({"id": node, "username": format!("user_{node}"), "name": "A customer"}))
        .into_response()
}

async fn graph_send(
    State(platform): State<PlatformState>,
    Path((_version, _node)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let recipient = body["recipient"]["id"].as_str().unwrap_or_default().to_owned();
    if body.get("sender_action").is_some() {
        return axum::Json(json!({"recipient_id": recipient})).into_response();
    }
    let mut platform = platform.lock().unwrap_or_else(|p| p.into_inner());
    platform.calls += 1;
    let mid = format!("aWdfZAG1faWQ.chaos.{}", platform.calls);
    if let Some(text) = body["message"]["text"].as_str() {
        *platform.texts.entry(text.to_owned()).or_default() += 1;
    }
    axum::Json(json!({"recipient_id": recipient, "message_id": mid})).into_response()
}

fn bearer(headers: &HeaderMap) -> String {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned()
}

async fn start_graph() -> anyhow::Result<(SocketAddr, PlatformState)> {
    let platform = PlatformState::default();
    let app = Router::new()
        .route("/{version}/{node}", get(graph_node))
        .route("/{version}/{node}/messages", post(graph_send))
        .with_state(platform.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((addr, platform))
}

// ---------------------------------------------------------------- receiver

/// What the webhook receiver got.
#[derive(Default)]
struct Notified {
    /// Deliveries per event id.
    by_event: HashMap<String, u32>,
    /// Event ids of `incomingMessage` per platform message id.
    incoming: HashMap<String, HashSet<String>>,
    /// Event ids of final statuses (`sent`, `failed`, `expired`) per
    /// chatgate message id.
    finals: HashMap<String, HashSet<String>>,
    /// Messages whose status events said `possibleDuplicate`.
    flagged: HashSet<String>,
    /// Every delivery.
    total: u64,
}

type NotifiedState = Arc<Mutex<Notified>>;

async fn hook(State(seen): State<NotifiedState>, body: Bytes) -> StatusCode {
    let Ok(event) = serde_json::from_slice::<Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let id = event["id"].as_str().unwrap_or_default().to_owned();
    let data = &event["data"];
    let mut seen = seen.lock().unwrap_or_else(|p| p.into_inner());
    seen.total += 1;
    *seen.by_event.entry(id.clone()).or_default() += 1;
    match event["type"].as_str() {
        Some("incomingMessage") => {
            let mid = data["messageId"].as_str().unwrap_or_default().to_owned();
            seen.incoming.entry(mid).or_default().insert(id);
        }
        Some("messageStatus") => {
            let message = data["messageId"].as_str().unwrap_or_default().to_owned();
            if data["possibleDuplicate"] == json!(true) {
                seen.flagged.insert(message.clone());
            }
            if matches!(data["status"].as_str(), Some("sent" | "failed" | "expired")) {
                seen.finals.entry(message).or_default().insert(id);
            }
        }
        _ => {}
    }
    StatusCode::OK
}

async fn start_receiver() -> anyhow::Result<(SocketAddr, NotifiedState)> {
    let seen = NotifiedState::default();
    let app = Router::new().route("/hook", post(hook)).with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((addr, seen))
}

// ---------------------------------------------------------------- the gateway

/// chatgate on a fixed port and data directory, killed and started again.
struct Server {
    proc: Option<Proc>,
    addr: SocketAddr,
    env: Vec<(String, String)>,
    data_dir: PathBuf,
    binary: PathBuf,
}

impl Server {
    async fn start(graph: SocketAddr, database_url: Option<&str>) -> anyhow::Result<Server> {
        let addr = free_addr()?;
        let data_dir = std::env::temp_dir().join(format!(
            "chatgate-chaos-{}-{}",
            std::process::id(),
            addr.port()
        ));
        let _ = std::fs::remove_dir_all(&data_dir);
        let mut env: Vec<(String, String)> = [
            ("CHATGATE_LISTEN", addr.to_string()),
            ("CHATGATE_DATA_DIR", data_dir.display().to_string()),
            ("CHATGATE_PARTNER_TOKEN", PARTNER.into()),
            ("CHATGATE_META_APP_SECRET", APP_SECRET.into()),
            ("CHATGATE_META_GRAPH_BASE_URL", format!("http://{graph}")),
            ("CHATGATE_ALLOWED_PRIVATE_NETWORKS", "127.0.0.0/8".into()),
            ("CHATGATE_GREENAPI_RATE_LIMITS", "false".into()),
            // Errors only, without a line per refused request (503s).
            ("RUST_LOG", "error,tower_http=off".into()),
            ("CHATGATE_STORE_DURABILITY", "full".into()),
            // A killed process keeps its leases until they run out: short
            // leases make the test take seconds per kill, not minutes. The
            // timeouts stay below them, as the configuration demands.
            ("CHATGATE_OUTBOUND_LEASE_MS", "4000".into()),
            ("CHATGATE_OUTBOUND_SEND_TIMEOUT_MS", "3000".into()),
            ("CHATGATE_META_TIMEOUT_MS", "2500".into()),
            ("CHATGATE_HOOKS_LEASE_MS", "4000".into()),
            ("CHATGATE_HOOKS_TIMEOUT_MS", "3000".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        if let Some(url) = database_url {
            env.push(("CHATGATE_DATABASE_URL".into(), url.to_owned()));
            // PostgreSQL wants the key given (nodes share it): 32 bytes.
            env.push(("CHATGATE_SECRET_KEY".into(), SERVER_KEY.into()));
        }
        let binary = chatgate_binary()?;
        let mut server = Server { proc: None, addr, env, data_dir, binary };
        server.boot().await?;
        Ok(server)
    }

    async fn boot(&mut self) -> anyhow::Result<()> {
        let proc = Proc::start(&self.binary, &["serve"], &self.env, self.addr, "/readyz").await?;
        self.proc = Some(proc);
        Ok(())
    }

    /// Whether the process is still running.
    fn running(&mut self) -> bool {
        self.proc.as_mut().is_some_and(|p| matches!(p.child.try_wait(), Ok(None)))
    }

    /// SIGKILL, then the reaping of the process.
    fn kill(&mut self) {
        if let Some(mut proc) = self.proc.take() {
            let _ = proc.child.kill();
            let _ = proc.child.wait();
        }
    }

    async fn stop(mut self) {
        if let Some(proc) = self.proc.take() {
            proc.stop().await;
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

// ---------------------------------------------------------------- the driver

/// One request, with a bound on how long it may take.
async fn call(addr: SocketAddr, shot: Shot) -> Option<(u16, Value)> {
    match tokio::time::timeout(Duration::from_secs(15), load::once(addr, shot)).await {
        Ok(Ok(answer)) => Some(answer),
        _ => None,
    }
}

/// Retries `shot` until it is answered with `want`; returns the body and
/// how many tries it took. Other answers than "the server is down" (no
/// connection, 503) are errors.
async fn until_acknowledged(
    addr: SocketAddr,
    shot: &Shot,
    want: u16,
    deadline: Instant,
    acks: &Acks,
) -> anyhow::Result<(Value, u32)> {
    let mut tries = 0;
    loop {
        tries += 1;
        let asked = Instant::now();
        let answer = call(addr, shot.clone()).await;
        let took = asked.elapsed().as_millis() as u64;
        match answer {
            Some((status, body)) if status == want => return Ok((body, tries)),
            Some((503, body)) => {
                acks.refused.fetch_add(1, Ordering::Relaxed);
                acks.slowest_refusal_ms.fetch_max(took, Ordering::Relaxed);
                if body["detail"].as_str().is_none_or(str::is_empty) {
                    bail!("{} {} answered 503 without a reason: {body}", shot.method, shot.path);
                }
            }
            None => {
                acks.unanswered.fetch_add(1, Ordering::Relaxed);
            }
            Some((status, body)) => {
                bail!("{} {} answered {status}: {body}", shot.method, shot.path)
            }
        }
        if Instant::now() > deadline {
            bail!("{} {} was never acknowledged", shot.method, shot.path);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

struct Inst {
    id: u64,
    account: String,
}

async fn create_instances(
    addr: SocketAddr,
    count: usize,
    hook: SocketAddr,
) -> anyhow::Result<Vec<Inst>> {
    let mut out = Vec::new();
    for i in 0..count {
        let account = format!("1784140{:09}", i + 1);
        let body = json!({
            "kind": "instagram",
            "name": format!("chaos {i}"),
            "settings": {
                "webhookUrl": format!("http://{hook}/hook"),
                "delaySendMessagesMilliseconds": 0,
                "markIncomingMessagesReaded": false,
            },
            "connection": {"accountId": account, "accessToken": format!("chaos-token-{account}")},
        });
        let shot = Shot {
            method: "POST",
            path: "/api/v1/instances".into(),
            headers: vec![("authorization", format!("Bearer {PARTNER}"))],
            body: Bytes::from(body.to_string()),
        };
        let (status, created) = load::once(addr, shot).await?;
        if status != 201 || created["state"] != "authorized" {
            bail!("creating an instagram instance answered {status}: {created}");
        }
        out.push(Inst { id: created["id"].as_u64().context("an instance id")?, account });
    }
    Ok(out)
}

fn send_text(n: u64) -> String {
    format!("chaos message {n}")
}

fn send_shot(inst: &Inst, n: u64) -> Shot {
    let body = json!({"to": {"id": format!("{}", 17_000_000 + n % 97)}, "text": send_text(n)});
    Shot {
        method: "POST",
        path: format!("/api/v1/instances/{}/messages", inst.id),
        headers: vec![
            ("authorization", format!("Bearer {PARTNER}")),
            ("idempotency-key", format!("chaos-send-{n}")),
        ],
        body: Bytes::from(body.to_string()),
    }
}

fn mid(n: u64) -> String {
    format!("mid.chaos.{n}")
}

fn webhook_shot(inst: &Inst, n: u64) -> Shot {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    let body = json!({"object": "instagram", "entry": [{
        "id": inst.account,
        "time": now,
        "messaging": [{
            "sender": {"id": format!("{}", 5_000_000 + n % 1000)},
            "recipient": {"id": inst.account},
            "timestamp": now,
            "message": {"mid": mid(n), "text": format!("inbound {n}")},
        }],
    }]})
    .to_string();
    let signature = chatgate_connectors::meta::webhook::sign(APP_SECRET, body.as_bytes());
    Shot {
        method: "POST",
        path: "/webhooks/meta".into(),
        headers: vec![("x-hub-signature-256", signature)],
        body: Bytes::from(body),
    }
}

/// What the driver got acknowledged.
#[derive(Default)]
struct Acks {
    /// Send number → (instance, chatgate message id).
    sends: Mutex<HashMap<u64, (u64, String)>>,
    /// Acknowledged webhook numbers.
    webhooks: Mutex<HashSet<u64>>,
    /// Acknowledgements so far (sends and webhooks).
    count: AtomicU64,
    /// Requests that had to be retried.
    retried: AtomicU64,
    /// Requests answered 503 (the server up, the database away).
    refused: AtomicU64,
    /// The slowest of those answers.
    slowest_refusal_ms: AtomicU64,
    /// Requests with no answer (the server down, or no answer in 15 s).
    unanswered: AtomicU64,
}

/// The figures of a run.
#[derive(Debug, Default)]
pub struct Figures {
    seed: u64,
    sends_acked: u64,
    webhooks_acked: u64,
    retried_requests: u64,
    kills: u32,
    restarts: u32,
    outages: u32,
    outage_length: Duration,
    refused: u64,
    slowest_refusal: Duration,
    unanswered: u64,
    exited_during_outage: bool,
    platform_calls: u64,
    lost_at_platform: u64,
    platform_duplicates: u64,
    flagged_duplicates: u64,
    not_final: u64,
    final_twice: u64,
    failed: u64,
    status_not_notified: u64,
    inbound_not_notified: u64,
    inbound_under_two_ids: u64,
    notifications: u64,
    redelivered_event_ids: u64,
    wall: Duration,
    drain: Duration,
}

impl Figures {
    /// Whether nothing was lost or duplicated without a flag.
    pub fn passed(&self) -> bool {
        self.lost_at_platform == 0
            && self.platform_duplicates == self.flagged_duplicates
            && self.not_final == 0
            && self.final_twice == 0
            && self.status_not_notified == 0
            && self.inbound_not_notified == 0
            && self.inbound_under_two_ids == 0
            && (self.outages == 0
                || (self.unanswered == 0
                    && self.slowest_refusal <= FAST_REFUSAL
                    && !self.exited_during_outage))
    }

    /// The figures as a Markdown table.
    pub fn render(&self) -> String {
        let mut rows: Vec<(&str, String)> = vec![("seed", self.seed.to_string())];
        if self.outages == 0 {
            rows.push((
                "kills (SIGKILL) / restarts",
                format!("{} / {}", self.kills, self.restarts),
            ));
        } else {
            rows.extend([
                (
                    "database outages (PostgreSQL cut off)",
                    format!("{} × {:.0} s", self.outages, self.outage_length.as_secs_f64()),
                ),
                ("requests answered 503 during an outage", self.refused.to_string()),
                (
                    "slowest 503",
                    format!(
                        "{} ms (limit {} ms)",
                        self.slowest_refusal.as_millis(),
                        FAST_REFUSAL.as_millis()
                    ),
                ),
                ("requests with no answer", self.unanswered.to_string()),
                (
                    "chatgate exited during an outage",
                    if self.exited_during_outage { "yes" } else { "no" }.into(),
                ),
            ]);
        }
        rows.extend(vec![
            ("sends acknowledged (202)", self.sends_acked.to_string()),
            ("Meta webhooks acknowledged (200)", self.webhooks_acked.to_string()),
            ("requests retried because the server was down", self.retried_requests.to_string()),
            ("Send API calls at the fake Graph API", self.platform_calls.to_string()),
            ("sends lost (never reached the platform)", self.lost_at_platform.to_string()),
            (
                "sends at the platform twice or more / flagged possibleDuplicate",
                format!("{} / {}", self.platform_duplicates, self.flagged_duplicates),
            ),
            ("sends without a final status", self.not_final.to_string()),
            ("sends with a final status twice", self.final_twice.to_string()),
            ("sends failed", self.failed.to_string()),
            ("final statuses not notified", self.status_not_notified.to_string()),
            ("inbound messages not notified", self.inbound_not_notified.to_string()),
            (
                "inbound messages notified under two event ids",
                self.inbound_under_two_ids.to_string(),
            ),
            ("notifications received", self.notifications.to_string()),
            (
                "event ids delivered more than once (allowed)",
                self.redelivered_event_ids.to_string(),
            ),
            ("drain after the load", format!("{:.1} s", self.drain.as_secs_f64())),
            ("wall time", format!("{:.1} s", self.wall.as_secs_f64())),
        ]);
        let mut out = String::from("| figure | value |\n|---|---|\n");
        for (name, value) in rows {
            out.push_str(&format!("| {name} | {value} |\n"));
        }
        out
    }
}

/// Runs the crash test.
pub async fn run(sizes: &ChaosSizes) -> anyhow::Result<Figures> {
    let started = Instant::now();
    let fault = match sizes.outage {
        Some(length) => format!("{} database outages of {} s", sizes.kills, length.as_secs()),
        None => format!("{} kills", sizes.kills),
    };
    progress(&format!(
        "chaos: seed {} — {} sends, {} webhooks, {fault}",
        sizes.seed, sizes.sends, sizes.webhooks
    ));
    let (graph, platform) = start_graph().await?;
    let (receiver, notified) = start_receiver().await?;
    let database = match sizes.outage {
        Some(_) => Some(FlakyDatabase::start().await?),
        None => None,
    };
    let mut server = Server::start(graph, database.as_ref().map(|d| d.url.as_str())).await?;
    let addr = server.addr;
    let instances = Arc::new(create_instances(addr, sizes.instances, receiver).await?);

    let acks = Arc::new(Acks::default());
    let deadline = Instant::now() + Duration::from_secs(1800);
    let next_send = Arc::new(AtomicU64::new(0));
    let next_hook = Arc::new(AtomicU64::new(0));
    let mut drivers = tokio::task::JoinSet::new();
    for lane in 0..32 {
        let (instances, acks, next_send, next_hook) =
            (instances.clone(), acks.clone(), next_send.clone(), next_hook.clone());
        let (sends, webhooks) = (sizes.sends, sizes.webhooks);
        drivers.spawn(async move {
            loop {
                // Half the lanes send, half deliver webhooks; each takes the
                // other's work when its own is done.
                let pick_send = lane % 2 == 0;
                let (is_send, n) = {
                    let first = if pick_send { &next_send } else { &next_hook };
                    let n = first.fetch_add(1, Ordering::Relaxed);
                    let limit = if pick_send { sends } else { webhooks };
                    if n < limit {
                        (pick_send, n)
                    } else {
                        let other = if pick_send { &next_hook } else { &next_send };
                        let n = other.fetch_add(1, Ordering::Relaxed);
                        if n >= if pick_send { webhooks } else { sends } {
                            return anyhow::Ok(());
                        }
                        (!pick_send, n)
                    }
                };
                let inst = &instances[(n % instances.len() as u64) as usize];
                if is_send {
                    let (body, tries) =
                        until_acknowledged(addr, &send_shot(inst, n), 202, deadline, &acks).await?;
                    let id = body["id"].as_str().context("a message id")?.to_owned();
                    acks.sends.lock().unwrap_or_else(|p| p.into_inner()).insert(n, (inst.id, id));
                    if tries > 1 {
                        acks.retried.fetch_add(1, Ordering::Relaxed);
                    }
                } else {
                    let (_, tries) =
                        until_acknowledged(addr, &webhook_shot(inst, n), 200, deadline, &acks)
                            .await?;
                    acks.webhooks.lock().unwrap_or_else(|p| p.into_inner()).insert(n);
                    if tries > 1 {
                        acks.retried.fetch_add(1, Ordering::Relaxed);
                    }
                }
                acks.count.fetch_add(1, Ordering::Relaxed);
            }
        });
    }

    // The killer: K moments at random points of the load (by the count of
    // acknowledgements), each a little random delay later.
    let total = sizes.sends + sizes.webhooks;
    let mut rng = Rng(sizes.seed);
    let mut marks: Vec<u64> =
        (0..sizes.kills).map(|_| (total as f64 * (0.05 + 0.9 * rng.unit())) as u64).collect();
    marks.sort_unstable();
    let mut figures = Figures { seed: sizes.seed, ..Figures::default() };
    let mut last_report = Instant::now();
    for (k, mark) in marks.iter().enumerate() {
        while acks.count.load(Ordering::Relaxed) < *mark && !drivers.is_empty() {
            if let Some(result) =
                tokio::time::timeout(Duration::from_millis(10), drivers.join_next())
                    .await
                    .ok()
                    .flatten()
            {
                result.context("a driver panicked")??;
            }
            if last_report.elapsed() > Duration::from_secs(5) {
                progress(&format!(
                    "chaos: {} of {total} acknowledged",
                    acks.count.load(Ordering::Relaxed)
                ));
                last_report = Instant::now();
            }
        }
        tokio::time::sleep(Duration::from_millis(rng.next() % 200)).await;
        if let (Some(database), Some(length)) = (&database, sizes.outage) {
            database.go_away();
            figures.outages += 1;
            figures.outage_length = length;
            progress(&format!(
                "chaos: database outage {} at {} of {total} acknowledged",
                k + 1,
                acks.count.load(Ordering::Relaxed)
            ));
            // The load goes on meanwhile; the process must stay up.
            let back = Instant::now() + length;
            while Instant::now() < back {
                tokio::time::sleep(Duration::from_millis(100)).await;
                figures.exited_during_outage |= !server.running();
            }
            database.come_back();
            progress(&format!(
                "chaos: database back; {} requests refused meanwhile",
                acks.refused.load(Ordering::Relaxed)
            ));
            if figures.exited_during_outage {
                bail!("chatgate exited during the database outage");
            }
            continue;
        }
        server.kill();
        figures.kills += 1;
        progress(&format!(
            "chaos: kill {} at {} of {total} acknowledged",
            k + 1,
            acks.count.load(Ordering::Relaxed)
        ));
        // Down for a moment, as a supervisor would restart it.
        tokio::time::sleep(Duration::from_millis(rng.next() % 300)).await;
        server.boot().await.context("restarting chatgate")?;
        figures.restarts += 1;
    }
    while let Some(result) = drivers.join_next().await {
        result.context("a driver panicked")??;
        if last_report.elapsed() > Duration::from_secs(5) {
            progress(&format!(
                "chaos: {} of {total} acknowledged",
                acks.count.load(Ordering::Relaxed)
            ));
            last_report = Instant::now();
        }
    }
    let load_done = Instant::now();
    progress(&format!("chaos: load done in {:.1} s; draining", started.elapsed().as_secs_f64()));

    let sends = acks.sends.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let webhooks = acks.webhooks.lock().unwrap_or_else(|p| p.into_inner()).clone();
    figures.sends_acked = sends.len() as u64;
    figures.webhooks_acked = webhooks.len() as u64;
    figures.retried_requests = acks.retried.load(Ordering::Relaxed);
    figures.refused = acks.refused.load(Ordering::Relaxed);
    figures.slowest_refusal =
        Duration::from_millis(acks.slowest_refusal_ms.load(Ordering::Relaxed));
    figures.unanswered = acks.unanswered.load(Ordering::Relaxed);

    // Drain: until every acknowledged send has a final status notified and
    // every inbound message was notified, then a quiet moment for late
    // duplicates; bounded.
    let drain_deadline = Instant::now() + sizes.drain;
    loop {
        let complete = {
            let seen = notified.lock().unwrap_or_else(|p| p.into_inner());
            sends.values().all(|(_, id)| seen.finals.contains_key(id))
                && webhooks.iter().all(|n| seen.incoming.contains_key(&mid(*n)))
        };
        if complete {
            break;
        }
        if Instant::now() > drain_deadline {
            progress("chaos: the drain ran out of time");
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    figures.drain = load_done.elapsed();

    // chatgate's own account of every acknowledged send.
    let mut final_in_store: HashMap<String, (String, u32)> = HashMap::new();
    for (instance, id) in sends.values() {
        let shot = Shot {
            method: "GET",
            path: format!("/api/v1/instances/{instance}/messages/{id}"),
            headers: vec![("authorization", format!("Bearer {PARTNER}"))],
            body: Bytes::new(),
        };
        let (status, message) = call(addr, shot).await.context("reading a message back")?;
        if status != 200 {
            bail!("GET message {id} answered {status}: {message}");
        }
        let finals = message["transitions"]
            .as_array()
            .map(|t| {
                t.iter()
                    .filter(|t| matches!(t["status"].as_str(), Some("sent" | "failed" | "expired")))
                    .count() as u32
            })
            .unwrap_or(0);
        let status = message["status"].as_str().unwrap_or_default().to_owned();
        final_in_store.insert(id.clone(), (status, finals));
    }
    server.stop().await;

    let platform = platform.lock().unwrap_or_else(|p| p.into_inner());
    let seen = notified.lock().unwrap_or_else(|p| p.into_inner());
    figures.platform_calls = platform.calls;
    for (n, (_, id)) in &sends {
        let calls = platform.texts.get(&send_text(*n)).copied().unwrap_or(0);
        let (status, finals) = final_in_store.get(id).cloned().unwrap_or_default();
        let is_final =
            matches!(status.as_str(), "sent" | "delivered" | "read" | "failed" | "expired");
        if status == "failed" {
            figures.failed += 1;
        }
        if calls == 0 && status != "failed" {
            figures.lost_at_platform += 1;
            progress(&format!("chaos: LOST send {n} ({id}): status {status}"));
        }
        if calls > 1 {
            figures.platform_duplicates += 1;
            if seen.flagged.contains(id) {
                figures.flagged_duplicates += 1;
            } else {
                progress(&format!("chaos: UNFLAGGED duplicate send {n} ({id}), {calls} calls"));
            }
        }
        if !is_final {
            figures.not_final += 1;
            progress(&format!("chaos: send {n} ({id}) is still {status}"));
        }
        if finals > 1 || seen.finals.get(id).is_some_and(|ids| ids.len() > 1) {
            figures.final_twice += 1;
            progress(&format!("chaos: send {n} ({id}) reached a final status twice"));
        }
        if !seen.finals.contains_key(id) {
            figures.status_not_notified += 1;
        }
    }
    for n in &webhooks {
        match seen.incoming.get(&mid(*n)) {
            None => {
                figures.inbound_not_notified += 1;
                progress(&format!("chaos: LOST inbound {}", mid(*n)));
            }
            Some(ids) if ids.len() > 1 => {
                figures.inbound_under_two_ids += 1;
                progress(&format!(
                    "chaos: inbound {} notified under {} event ids",
                    mid(*n),
                    ids.len()
                ));
            }
            Some(_) => {}
        }
    }
    figures.notifications = seen.total;
    figures.redelivered_event_ids = seen.by_event.values().filter(|c| **c > 1).count() as u64;
    figures.wall = started.elapsed();
    Ok(figures)
}
