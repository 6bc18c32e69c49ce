//! The scenarios: each starts a fresh chatgate (and, for HTTP scenarios, the
//! baseline under the same load), measures, stops everything, and returns
//! rows for the report.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use serde_json::{Value, json};

use crate::load::{self, Maker, Mode, Outcome, Shot};
use crate::process::{Proc, chatgate_binary, free_addr};
use crate::receiver;

/// The partner token of every run.
const PARTNER: &str = "bench-partner-token-0123456789";
/// The Meta app secret of every run.
const APP_SECRET: &str = "bench-app-secret";

/// Which store a run uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file (the default).
    Sqlite,
    /// A fresh PostgreSQL database at this URL.
    Postgres(String),
}

impl Backend {
    /// Its name in the report.
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres(_) => "PostgreSQL",
        }
    }
}

/// How big a run is.
#[derive(Debug, Clone)]
pub struct Sizes {
    /// Seconds of load per measurement.
    pub seconds: f64,
    /// Connections of the load generator.
    pub connections: usize,
    /// Instances of the end-to-end scenario.
    pub e2e_instances: usize,
    /// Notifications of the push drain.
    pub push_backlog: usize,
    /// Instances the push backlog is spread over (each pushes in order,
    /// one at a time, so this bounds the deliveries in flight together
    /// with `hooks.concurrency`).
    pub push_instances: usize,
    /// Instances of the scale scenario.
    pub scale_instances: usize,
}

impl Sizes {
    /// The full suite.
    pub fn full(seconds: f64) -> Self {
        Self {
            seconds,
            connections: 64,
            e2e_instances: 10_000,
            push_backlog: 200_000,
            push_instances: 1_000,
            scale_instances: 100_000,
        }
    }

    /// Tiny sizes, for CI to check that every scenario still runs.
    pub fn smoke() -> Self {
        Self {
            seconds: 0.5,
            connections: 4,
            e2e_instances: 20,
            push_backlog: 400,
            push_instances: 20,
            scale_instances: 200,
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone, Default)]
pub struct Row {
    /// The scenario.
    pub scenario: String,
    /// SQLite or PostgreSQL (empty for the baseline).
    pub backend: String,
    /// Operations per second.
    pub rate: f64,
    /// What an operation is.
    pub unit: &'static str,
    /// Median latency, ms (HTTP scenarios).
    pub p50_ms: Option<f64>,
    /// 99th percentile latency, ms, at the full rate.
    pub p99_ms: Option<f64>,
    /// 99th percentile latency, ms, at half the rate.
    pub p99_half_ms: Option<f64>,
    /// chatgate's CPU seconds per 1000 operations.
    pub cpu_per_1000: Option<f64>,
    /// chatgate's peak resident memory, MB.
    pub peak_rss_mb: Option<f64>,
    /// The baseline's rate for the same requests.
    pub baseline_rate: Option<f64>,
    /// The target and whether it is met.
    pub target: Option<(String, bool)>,
    /// What else a reader should know.
    pub note: String,
}

/// A running chatgate under test.
pub struct Gateway {
    proc: Proc,
    data_dir: PathBuf,
    env: Vec<(String, String)>,
}

impl Gateway {
    /// Starts chatgate on `backend` with a fresh data directory.
    pub async fn start(backend: &Backend, tag: &str) -> anyhow::Result<Gateway> {
        let addr = free_addr()?;
        let data_dir = std::env::temp_dir().join(format!(
            "chatgate-bench-{}-{tag}-{}",
            std::process::id(),
            addr.port()
        ));
        let _ = std::fs::remove_dir_all(&data_dir);
        let mut env = vec![
            ("CHATGATE_LISTEN".into(), addr.to_string()),
            ("CHATGATE_DATA_DIR".into(), data_dir.display().to_string()),
            ("CHATGATE_PARTNER_TOKEN".into(), PARTNER.into()),
            ("CHATGATE_META_APP_SECRET".into(), APP_SECRET.into()),
            ("CHATGATE_ALLOWED_PRIVATE_NETWORKS".into(), "127.0.0.0/8".into()),
            // Capacity, not a tenant's allowance: the per-instance limits
            // (GREEN-API's table, `limits.*`) would cap each instance.
            ("CHATGATE_GREENAPI_RATE_LIMITS".into(), "false".into()),
            ("CHATGATE_LIMITS_SENDS_PER_SECOND".into(), "0".into()),
            ("CHATGATE_LIMITS_REQUESTS_PER_SECOND".into(), "0".into()),
            ("RUST_LOG".into(), "warn".into()),
            // Durable acknowledgements: a commit is on disk before the 2xx.
            ("CHATGATE_STORE_DURABILITY".into(), "full".into()),
        ];
        if let Backend::Postgres(url) = backend {
            env.push(("CHATGATE_DATABASE_URL".into(), url.clone()));
            env.push((
                "CHATGATE_SECRET_KEY".into(),
                "bW9ja2tleW1vY2trZXltb2Nra2V5bW9ja2tleTAxMjM=".into(),
            ));
        }
        let proc = Proc::start(&chatgate_binary()?, &["serve"], &env, addr, "/readyz").await?;
        Ok(Gateway { proc, data_dir, env })
    }

    /// Where it listens.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.proc.addr
    }

    /// Stops it and removes its data directory.
    pub async fn stop(self) {
        self.proc.stop().await;
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }

    /// Stops it and starts it again on the same data; returns the new
    /// gateway and how long it took to answer `/readyz`.
    pub async fn restart(self) -> anyhow::Result<(Gateway, Duration)> {
        let Gateway { proc, data_dir, env } = self;
        let addr = proc.addr;
        proc.stop().await;
        let started = Instant::now();
        let proc = Proc::start(&chatgate_binary()?, &["serve"], &env, addr, "/readyz").await?;
        let took = started.elapsed();
        Ok((Gateway { proc, data_dir, env }, took))
    }
}

/// An instance made for a run.
#[derive(Debug, Clone)]
pub struct Inst {
    /// Its id.
    pub id: u64,
    /// Its API token.
    pub token: String,
    /// Its platform account (the sandbox's own).
    pub account: String,
}

/// Creates `count` sandbox instances (`concurrency` at a time).
pub async fn create_instances(
    addr: std::net::SocketAddr,
    count: usize,
    settings: Value,
    concurrency: usize,
) -> anyhow::Result<Vec<Inst>> {
    let body = Bytes::from(json!({"kind": "sandbox", "settings": settings}).to_string());
    let mut out = Vec::with_capacity(count);
    let mut pending = tokio::task::JoinSet::new();
    let mut started = 0;
    while out.len() < count {
        while started < count && pending.len() < concurrency.max(1) {
            let shot = Shot {
                method: "POST",
                path: "/api/v1/instances".into(),
                headers: vec![("authorization", format!("Bearer {PARTNER}"))],
                body: body.clone(),
            };
            pending.spawn(load::once(addr, shot));
            started += 1;
        }
        let Some(result) = pending.join_next().await else { break };
        let (status, created) = result??;
        if status != 201 {
            bail!("creating an instance answered {status}: {created}");
        }
        out.push(Inst {
            id: created["id"].as_u64().context("an instance id")?,
            token: created["apiToken"].as_str().context("an API token")?.to_owned(),
            account: created["account"]["id"].as_str().context("an account")?.to_owned(),
        });
    }
    Ok(out)
}

/// Loads `addr` closed-loop for the run's time, then open-loop at half the
/// rate reached; returns both outcomes.
async fn measure(
    addr: std::net::SocketAddr,
    sizes: &Sizes,
    make: Maker,
) -> anyhow::Result<(Outcome, Outcome)> {
    let duration = Duration::from_secs_f64(sizes.seconds);
    let full =
        load::run(addr, sizes.connections, duration, u64::MAX, Mode::Closed, make.clone()).await?;
    let half_rate = (full.rate() / 2.0).max(1.0);
    let half =
        load::run(addr, sizes.connections, duration, u64::MAX, Mode::Rate(half_rate), make).await?;
    Ok((full, half))
}

/// The baseline's rate for the same requests.
async fn baseline_rate(sizes: &Sizes, make: Maker) -> anyhow::Result<f64> {
    let addr = free_addr()?;
    let me = std::env::current_exe()?;
    let proc =
        Proc::start(&me, &["baseline", "--listen", &addr.to_string()], &[], addr, "/healthz")
            .await?;
    let duration = Duration::from_secs_f64(sizes.seconds);
    let outcome = load::run(addr, sizes.connections, duration, u64::MAX, Mode::Closed, make).await;
    proc.stop().await;
    Ok(outcome?.rate())
}

/// An HTTP scenario: chatgate and the baseline under the same requests.
async fn http_row(
    scenario: &str,
    backend: &Backend,
    gateway: &Gateway,
    sizes: &Sizes,
    make: Maker,
    per_request: f64,
    unit: &'static str,
) -> anyhow::Result<Row> {
    let cpu_before = gateway.proc.cpu_seconds();
    let (full, half) = measure(gateway.addr(), sizes, make.clone()).await?;
    let cpu = gateway.proc.cpu_seconds() - cpu_before;
    if full.ok == 0 {
        bail!("{scenario}: no request succeeded: {:?}", full.first_failure);
    }
    let baseline = baseline_rate(sizes, make).await?;
    let ops = (full.ok + half.ok) as f64 * per_request;
    let mut note = String::new();
    if let Some(failure) = full.first_failure.as_ref().or(half.first_failure.as_ref()) {
        note = format!("{} failed requests, first: {failure}", full.failed + half.failed);
    }
    Ok(Row {
        scenario: scenario.into(),
        backend: backend.name().into(),
        rate: full.rate() * per_request,
        unit,
        p50_ms: Some(full.percentile_ms(50.0)),
        p99_ms: Some(full.percentile_ms(99.0)),
        p99_half_ms: Some(half.percentile_ms(99.0)),
        cpu_per_1000: Some(cpu / ops.max(1.0) * 1000.0),
        peak_rss_mb: Some(gateway.proc.peak_rss_mb()),
        baseline_rate: Some(baseline * per_request),
        target: None,
        note,
    })
}

/// A Meta webhook delivery of `entries` messages, one per entry, to the
/// accounts in turn, with unique mids.
fn meta_delivery(accounts: &[String], run: &str, n: u64, entries: usize) -> Shot {
    let entry: Vec<Value> = (0..entries)
        .map(|k| {
            let i = (n as usize * entries + k) % accounts.len();
            json!({
                "id": accounts[i],
                "time": 1_767_225_600_000_u64,
                "messaging": [{
                    "sender": {"id": format!("{}", 1_000_000 + (n % 5000))},
                    "recipient": {"id": accounts[i]},
                    "timestamp": 1_767_225_600_000_u64,
                    "message": {"mid": format!("mid.{run}.{n}.{k}"), "text": "Is the blue jacket still available?"},
                }],
            })
        })
        .collect();
    let body = json!({"object": "instagram", "entry": entry}).to_string();
    let signature = chatgate_connectors::meta::webhook::sign(APP_SECRET, body.as_bytes());
    Shot {
        method: "POST",
        path: "/webhooks/meta".into(),
        headers: vec![("x-hub-signature-256", signature)],
        body: Bytes::from(body),
    }
}

/// (1) Meta webhook ingest, one message per request and 100 per request.
pub async fn ingest(backend: &Backend, sizes: &Sizes) -> anyhow::Result<Vec<Row>> {
    let gateway = Gateway::start(backend, "ingest").await?;
    let instances = create_instances(gateway.addr(), 100, json!({}), 16).await?;
    let accounts: Arc<Vec<String>> =
        Arc::new(instances.iter().map(|i| i.account.clone()).collect());
    let mut rows = Vec::new();
    for (entries, scenario) in
        [(1usize, "Meta ingest, 1 message/request"), (100, "Meta ingest, 100 entries/request")]
    {
        let run = format!("{entries}x");
        let accounts = accounts.clone();
        let make: Maker = Arc::new(move |n| meta_delivery(&accounts, &run, n, entries));
        let mut row =
            http_row(scenario, backend, &gateway, sizes, make, entries as f64, "events/s").await?;
        if backend == &Backend::Sqlite {
            row.target = Some(target_half_baseline(&row));
        }
        rows.push(row);
    }
    gateway.stop().await;
    Ok(rows)
}

fn target_half_baseline(row: &Row) -> (String, bool) {
    let ratio = row.rate / row.baseline_rate.unwrap_or(f64::MAX);
    let p99 = row.p99_half_ms.unwrap_or(f64::MAX);
    ("≥ 50 % of baseline; p99 ≤ 10 ms at half rate".into(), ratio >= 0.5 && p99 <= 10.0)
}

/// (2) Send accept: native `POST …/messages` and GREEN-API `sendMessage`.
pub async fn send_accept(backend: &Backend, sizes: &Sizes) -> anyhow::Result<Vec<Row>> {
    let gateway = Gateway::start(backend, "send").await?;
    // A long gap: the queue is what is measured, not the sandbox's pace.
    let instances = Arc::new(
        create_instances(
            gateway.addr(),
            100,
            json!({"delaySendMessagesMilliseconds": 600_000}),
            16,
        )
        .await?,
    );
    let mut rows = Vec::new();
    let native = instances.clone();
    let native: Maker = Arc::new(move |n| {
        let inst = &native[n as usize % native.len()];
        Shot {
            method: "POST",
            path: format!("/api/v1/instances/{}/messages", inst.id),
            headers: vec![("authorization", format!("Bearer {}", inst.token))],
            body: Bytes::from(format!(
                r#"{{"to":{{"id":"1784140000{n}"}},"text":"Your order {n} is on its way"}}"#
            )),
        }
    });
    let green = instances.clone();
    let green: Maker = Arc::new(move |n| {
        let inst = &green[n as usize % green.len()];
        Shot {
            method: "POST",
            path: format!("/waInstance{}/sendMessage/{}", inst.id, inst.token),
            headers: vec![],
            body: Bytes::from(format!(
                r#"{{"chatId":"7900{:07}@c.us","message":"Your order {n} is on its way"}}"#,
                n % 10_000_000
            )),
        }
    });
    for (scenario, make) in
        [("send accept, native API", native), ("send accept, GREEN-API sendMessage", green)]
    {
        let mut row = http_row(scenario, backend, &gateway, sizes, make, 1.0, "messages/s").await?;
        row.target = match backend {
            Backend::Sqlite => Some(target_half_baseline(&row)),
            Backend::Postgres(_) => Some(("≥ 10 000 messages/s".into(), row.rate >= 10_000.0)),
        };
        rows.push(row);
    }
    gateway.stop().await;
    Ok(rows)
}

/// Waits until `done()` or `limit`; true when done.
async fn until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    done()
}

/// (3) End to end: sandbox instances with the 500 ms gap, messages from
/// accept to the `read` status webhook at a local receiver.
pub async fn end_to_end(backend: &Backend, sizes: &Sizes) -> anyhow::Result<Vec<Row>> {
    let (hook, seen) = receiver::receiver(true).await?;
    let gateway = Gateway::start(backend, "e2e").await?;
    let settings =
        json!({"delaySendMessagesMilliseconds": 500, "webhookUrl": format!("http://{hook}/hook")});
    crate::progress(&format!("creating {} instances", sizes.e2e_instances));
    let instances =
        Arc::new(create_instances(gateway.addr(), sizes.e2e_instances, settings, 64).await?);
    let cpu_before = gateway.proc.cpu_seconds();
    let started = Instant::now();
    let list = instances.clone();
    let make: Maker = Arc::new(move |n| {
        let inst = &list[n as usize % list.len()];
        Shot {
            method: "POST",
            path: format!("/api/v1/instances/{}/messages", inst.id),
            headers: vec![("authorization", format!("Bearer {}", inst.token))],
            body: Bytes::from(format!(r#"{{"to":{{"id":"u{n}"}},"text":"hello {n}"}}"#)),
        }
    });
    let accepted = load::run(
        gateway.addr(),
        sizes.connections,
        Duration::from_secs_f64(sizes.seconds),
        u64::MAX,
        Mode::Closed,
        make,
    )
    .await?;
    let wanted = accepted.ok;
    let all_read = until(Duration::from_secs(180), || {
        seen.reads.load(std::sync::atomic::Ordering::Relaxed) >= wanted
    })
    .await;
    let reads = seen.reads.load(std::sync::atomic::Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = gateway.proc.cpu_seconds() - cpu_before;
    let rate = reads as f64 / elapsed;
    let violations = seen.gap_violations(500);
    let note = format!(
        "{wanted} accepted in {:.1} s ({:.0}/s), {reads} read after {elapsed:.1} s{}; {violations} gap violations; {} webhooks received",
        accepted.elapsed.as_secs_f64(),
        accepted.rate(),
        if all_read { "" } else { " (not all read within 180 s)" },
        seen.count()
    );
    let row = Row {
        scenario: format!("end to end, {} sandbox instances, 500 ms gap", sizes.e2e_instances),
        backend: backend.name().into(),
        rate,
        unit: "messages/s read",
        cpu_per_1000: Some(cpu / (reads.max(1) as f64) * 1000.0),
        peak_rss_mb: Some(gateway.proc.peak_rss_mb()),
        target: Some((
            "≥ 10 000 messages/s, 0 gap violations".into(),
            rate >= 10_000.0 && violations == 0,
        )),
        note,
        ..Row::default()
    };
    gateway.stop().await;
    Ok(vec![row])
}

/// (4) Webhook push drain: a backlog of notifications to a local receiver.
pub async fn push_drain(backend: &Backend, sizes: &Sizes) -> anyhow::Result<Vec<Row>> {
    let (hook, seen) = receiver::receiver(false).await?;
    let gateway = Gateway::start(backend, "push").await?;
    let instances = create_instances(gateway.addr(), sizes.push_instances, json!({}), 16).await?;
    let accounts: Vec<String> = instances.iter().map(|i| i.account.clone()).collect();
    // The backlog: Meta deliveries of 100 messages each, journaled and
    // queued while no instance pushes.
    let requests = sizes.push_backlog.div_ceil(100) as u64;
    crate::progress(&format!("queueing {} notifications", requests * 100));
    let accounts = Arc::new(accounts);
    let make: Maker = Arc::new(move |n| meta_delivery(&accounts, "push", n, 100));
    let queued =
        load::run(gateway.addr(), 8, Duration::from_secs(600), requests, Mode::Closed, make)
            .await?;
    if queued.ok != requests {
        bail!("queueing the backlog failed: {:?}", queued.first_failure);
    }
    let backlog = queued.ok * 100;
    // Every instance starts pushing at once.
    let cpu_before = gateway.proc.cpu_seconds();
    let started = Instant::now();
    for inst in &instances {
        let shot = Shot {
            method: "PATCH",
            path: format!("/api/v1/instances/{}/settings", inst.id),
            headers: vec![("authorization", format!("Bearer {}", inst.token))],
            body: Bytes::from(json!({"webhookUrl": format!("http://{hook}/hook")}).to_string()),
        };
        let (status, body) = load::once(gateway.addr(), shot).await?;
        if status != 200 {
            bail!("setting the webhook answered {status}: {body}");
        }
    }
    let drained = until(Duration::from_secs(600), || seen.count() >= backlog).await;
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = gateway.proc.cpu_seconds() - cpu_before;
    let delivered = seen.count();
    let rate = delivered as f64 / elapsed;
    let target = match backend {
        Backend::Sqlite => ("≥ 20 000 deliveries/s", 20_000.0),
        Backend::Postgres(_) => ("≥ 10 000 deliveries/s", 10_000.0),
    };
    let row = Row {
        scenario: format!(
            "webhook push drain, {backlog} notifications, {} instances",
            sizes.push_instances
        ),
        backend: backend.name().into(),
        rate,
        unit: "deliveries/s",
        cpu_per_1000: Some(cpu / (delivered.max(1) as f64) * 1000.0),
        peak_rss_mb: Some(gateway.proc.peak_rss_mb()),
        target: Some((target.0.into(), rate >= target.1)),
        note: format!(
            "{delivered} delivered in {elapsed:.1} s{}",
            if drained { "" } else { " (not drained within 600 s)" }
        ),
        ..Row::default()
    };
    gateway.stop().await;
    Ok(vec![row])
}

/// (5) Scale: many instances, then memory and start-up time.
pub async fn scale(backend: &Backend, sizes: &Sizes) -> anyhow::Result<Vec<Row>> {
    let gateway = Gateway::start(backend, "scale").await?;
    crate::progress(&format!("creating {} instances", sizes.scale_instances));
    let started = Instant::now();
    let created = create_instances(gateway.addr(), sizes.scale_instances, json!({}), 64).await?;
    let creating = started.elapsed().as_secs_f64();
    let (gateway, startup) = gateway.restart().await?;
    // One request per instance class of work after the start: reads stay
    // cheap with many instances.
    let shot = Shot {
        method: "GET",
        path: format!("/api/v1/instances/{}/settings", created[created.len() / 2].id),
        headers: vec![("authorization", format!("Bearer {}", created[created.len() / 2].token))],
        body: Bytes::new(),
    };
    let (status, _) = load::once(gateway.addr(), shot).await?;
    if status != 200 {
        bail!("reading an instance after the restart answered {status}");
    }
    let rss = gateway.proc.rss_mb();
    let peak = gateway.proc.peak_rss_mb();
    let ok = rss < 200.0 && startup.as_secs_f64() < 2.0;
    let row = Row {
        scenario: format!("scale, {} instances: start-up and memory", sizes.scale_instances),
        backend: backend.name().into(),
        rate: sizes.scale_instances as f64 / creating,
        unit: "instances/s created",
        peak_rss_mb: Some(peak),
        target: Some(("RSS < 200 MB, start-up < 2 s".into(), ok)),
        note: format!(
            "start-up {:.2} s to /readyz; RSS {rss:.0} MB after start (peak {peak:.0} MB)",
            startup.as_secs_f64()
        ),
        ..Row::default()
    };
    gateway.stop().await;
    Ok(vec![row])
}

/// A fresh PostgreSQL database for a run, dropped by [`drop_database`].
pub async fn create_database(base: &str) -> anyhow::Result<(String, String)> {
    use sqlx::Connection;
    let name = format!("chatgate_bench_{}", std::process::id());
    let mut conn = sqlx::PgConnection::connect(base)
        .await
        .with_context(|| format!("connecting to PostgreSQL at {base}"))?;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
        .execute(&mut conn)
        .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await?;
    let url = match base.rfind('/') {
        Some(slash) => format!("{}/{name}", &base[..slash]),
        None => bail!("the PostgreSQL URL {base} names no database"),
    };
    Ok((url, name))
}

/// Drops a run's database.
pub async fn drop_database(base: &str, name: &str) {
    use sqlx::Connection;
    if let Ok(mut conn) = sqlx::PgConnection::connect(base).await {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut conn)
        .await;
    }
}
