//! The consumers' side: a webhook receiver on loopback that answers 200 at
//! once and counts what it gets (for the end-to-end and push scenarios),
//! and the bare axum baseline server.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{any, post};

/// What the receiver saw.
#[derive(Default)]
pub struct Seen {
    /// Every request.
    pub requests: AtomicU64,
    /// `messageStatus` webhooks with status `read`.
    pub reads: AtomicU64,
    /// When each instance's messages were `sent` (event time, ms).
    pub sent: Mutex<HashMap<u64, Vec<i64>>>,
    /// When the first and the latest request arrived.
    pub window: Mutex<Option<(Instant, Instant)>>,
}

impl Seen {
    /// Requests received.
    pub fn count(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Pairs of consecutive `sent` statuses of one instance closer than
    /// `gap_ms`.
    pub fn gap_violations(&self, gap_ms: i64) -> u64 {
        let sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        let mut violations = 0;
        for times in sent.values() {
            let mut times = times.clone();
            times.sort_unstable();
            violations += times.windows(2).filter(|w| w[1] - w[0] < gap_ms).count() as u64;
        }
        violations
    }
}

/// Starts a receiver on a free port; `track` parses bodies for statuses.
pub async fn receiver(track: bool) -> anyhow::Result<(SocketAddr, Arc<Seen>)> {
    let seen = Arc::new(Seen::default());
    let app = Router::new().route("/hook", post(hook)).with_state((seen.clone(), track));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((addr, seen))
}

async fn hook(State((seen, track)): State<(Arc<Seen>, bool)>, body: Bytes) -> StatusCode {
    seen.requests.fetch_add(1, Ordering::Relaxed);
    let now = Instant::now();
    {
        let mut window = seen.window.lock().unwrap_or_else(|p| p.into_inner());
        *window = Some(window.map_or((now, now), |(first, _)| (first, now)));
    }
    if track
        && let Ok(event) = serde_json::from_slice::<serde_json::Value>(&body)
        && event["type"] == "messageStatus"
    {
        match event["data"]["status"].as_str() {
            Some("read") => {
                seen.reads.fetch_add(1, Ordering::Relaxed);
            }
            Some("sent") => {
                let instance = event["instanceId"].as_u64().unwrap_or(0);
                let at = event["timestamp"].as_str().and_then(parse_ms).unwrap_or(0);
                seen.sent
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .entry(instance)
                    .or_default()
                    .push(at);
            }
            _ => {}
        }
    }
    StatusCode::OK
}

/// `2026-11-21T10:00:00.123Z` as ms since the epoch (UTC, the gateway's
/// own format).
fn parse_ms(text: &str) -> Option<i64> {
    let (date, time) = text.trim_end_matches('Z').split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>());
    let (y, m, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.split(':').map(|p| p.parse::<i64>());
    let (h, min, s) = (t.next()?.ok()?, t.next()?.ok()?, t.next()?.ok()?);
    let ms: i64 = format!("{frac:0<3}")[..3].parse().ok()?;
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 24 + h) * 60 + min) * 60_000 + s * 1000 + ms)
}

/// The baseline: a bare axum server answering 200 with a small JSON body
/// to every request, as cheap as an HTTP service gets on this machine.
pub async fn baseline(addr: SocketAddr) -> anyhow::Result<()> {
    let app = Router::new()
        .route("/healthz", any(|| async { "ok" }))
        .fallback(any(|_body: Bytes| async { (StatusCode::OK, r#"{"ok":true}"#) }));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    axum::serve(listener, app).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_ms;

    #[test]
    fn rfc3339_times_parse_to_epoch_milliseconds() {
        assert_eq!(parse_ms("1970-01-01T00:00:00.000Z"), Some(0));
        assert_eq!(parse_ms("2026-01-01T00:00:00.250Z"), Some(1_767_225_600_250));
    }
}
