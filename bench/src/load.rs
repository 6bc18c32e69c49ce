//! The load generator: keep-alive HTTP/1.1 connections on loopback, each
//! sending one request after another (closed loop, for the highest rate),
//! or at a fixed total rate (open loop, for latency at a given load, with
//! each latency counted from when the request was due, so a stall is not
//! hidden).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// One request to send: method, path, headers, body.
#[derive(Debug, Clone)]
pub struct Shot {
    /// `GET`, `POST`, …
    pub method: &'static str,
    /// The path and query.
    pub path: String,
    /// Extra headers.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Bytes,
}

/// Makes the `n`-th request of a run.
pub type Maker = Arc<dyn Fn(u64) -> Shot + Send + Sync>;

/// What a run measured.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Requests answered 2xx.
    pub ok: u64,
    /// Requests answered otherwise (or failed).
    pub failed: u64,
    /// The first unexpected answer, for the report.
    pub first_failure: Option<String>,
    /// How long the run took.
    pub elapsed: Duration,
    /// Latencies of the answered requests, in microseconds, sorted.
    pub latencies_us: Vec<u32>,
}

impl Outcome {
    /// Answered requests per second.
    pub fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// A latency percentile, in milliseconds.
    pub fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let rank = ((p / 100.0) * (self.latencies_us.len() - 1) as f64).round() as usize;
        f64::from(self.latencies_us[rank.min(self.latencies_us.len() - 1)]) / 1000.0
    }
}

/// How to load.
#[derive(Debug, Clone, Copy)]
pub enum Mode {
    /// As fast as the connections go.
    Closed,
    /// This many requests per second in total.
    Rate(f64),
}

/// Sends requests to `addr` over `connections` connections for `duration`
/// or until `limit` requests went out, whichever comes first.
pub async fn run(
    addr: std::net::SocketAddr,
    connections: usize,
    duration: Duration,
    limit: u64,
    mode: Mode,
    make: Maker,
) -> anyhow::Result<Outcome> {
    let counter = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for lane in 0..connections {
        let (counter, stop, make) = (counter.clone(), stop.clone(), make.clone());
        tasks.spawn(async move {
            connection(addr, lane, connections, counter, stop, deadline, limit, mode, make, started)
                .await
        });
    }
    let mut outcome = Outcome::default();
    while let Some(result) = tasks.join_next().await {
        let part = result.context("a load connection panicked")??;
        outcome.ok += part.ok;
        outcome.failed += part.failed;
        outcome.first_failure = outcome.first_failure.or(part.first_failure);
        outcome.latencies_us.extend(part.latencies_us);
    }
    outcome.elapsed = started.elapsed();
    outcome.latencies_us.sort_unstable();
    Ok(outcome)
}

#[allow(clippy::too_many_arguments)]
async fn connection(
    addr: std::net::SocketAddr,
    lane: usize,
    lanes: usize,
    counter: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    deadline: Instant,
    limit: u64,
    mode: Mode,
    make: Maker,
    started: Instant,
) -> anyhow::Result<Outcome> {
    let stream = TcpStream::connect(addr).await.context("connecting the load generator")?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let mut outcome = Outcome::default();
    let interval = match mode {
        Mode::Closed => None,
        Mode::Rate(rate) => Some(Duration::from_secs_f64(lanes as f64 / rate.max(1e-6))),
    };
    let mut sent_here: u64 = 0;
    loop {
        if stop.load(Ordering::Relaxed) || Instant::now() >= deadline {
            break;
        }
        let n = counter.fetch_add(1, Ordering::Relaxed);
        if n >= limit {
            stop.store(true, Ordering::Relaxed);
            break;
        }
        // In the open loop, this connection's requests are due at fixed
        // times; a late start counts in the latency.
        let due = match interval {
            None => Instant::now(),
            Some(every) => {
                let offset = every.mul_f64(lane as f64 / lanes as f64);
                let due = started + offset + every * u32::try_from(sent_here).unwrap_or(u32::MAX);
                if due > deadline {
                    break;
                }
                tokio::time::sleep_until(due.into()).await;
                due
            }
        };
        sent_here += 1;
        let shot = make(n);
        let mut request = Request::builder()
            .method(shot.method)
            .uri(&shot.path)
            .header("host", addr.to_string())
            .header("content-type", "application/json");
        for (name, value) in &shot.headers {
            request = request.header(*name, value);
        }
        let request = request.body(Full::new(shot.body))?;
        sender.ready().await?;
        match sender.send_request(request).await {
            Ok(response) => {
                let status = response.status();
                let body = response.into_body().collect().await?.to_bytes();
                let latency = due.elapsed();
                if status.is_success() {
                    outcome.ok += 1;
                    outcome
                        .latencies_us
                        .push(u32::try_from(latency.as_micros()).unwrap_or(u32::MAX));
                } else {
                    outcome.failed += 1;
                    if outcome.first_failure.is_none() {
                        outcome.first_failure = Some(format!(
                            "{status}: {}",
                            String::from_utf8_lossy(&body[..body.len().min(300)])
                        ));
                    }
                }
            }
            Err(e) => {
                outcome.failed += 1;
                outcome.first_failure.get_or_insert_with(|| e.to_string());
                break;
            }
        }
    }
    Ok(outcome)
}

/// One request, answered as (status, body): for setting a run up.
pub async fn once(
    addr: std::net::SocketAddr,
    shot: Shot,
) -> anyhow::Result<(u16, serde_json::Value)> {
    let stream = TcpStream::connect(addr).await?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let mut request = Request::builder()
        .method(shot.method)
        .uri(&shot.path)
        .header("host", addr.to_string())
        .header("content-type", "application/json");
    for (name, value) in &shot.headers {
        request = request.header(*name, value);
    }
    let response = sender.send_request(request.body(Full::new(shot.body))?).await?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await?.to_bytes();
    let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    Ok((status, json))
}
