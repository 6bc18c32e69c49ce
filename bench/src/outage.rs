//! The database outage for the crash test's `--outage` mode: chatgate
//! reaches PostgreSQL through a TCP proxy on loopback, and the proxy is cut
//! (every open connection closed, new ones dropped at once, as a stopped
//! server does) for the outage and restored afterwards — PostgreSQL itself
//! keeps running for whatever else uses it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use sqlx::Connection;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

/// The database the outage test uses when `CHATGATE_TEST_POSTGRES_URL`
/// names none (the machine's test database).
const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A database for one run, reached through a proxy that can be cut.
pub struct FlakyDatabase {
    /// The URL chatgate is given: the proxy, a fresh schema.
    pub url: String,
    cut: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<AbortHandle>>>,
}

impl FlakyDatabase {
    /// A fresh schema in the test database, and the proxy in front of it.
    pub async fn start() -> anyhow::Result<FlakyDatabase> {
        let base = std::env::var("CHATGATE_TEST_POSTGRES_URL")
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| DEFAULT_URL.to_owned());
        let upstream = postgres_addr(&base)?;
        let mut conn = sqlx::PgConnection::connect(&base)
            .await
            .with_context(|| format!("the outage test needs PostgreSQL at {base}"))?;
        let schema = format!("chaos_{}", std::process::id());
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {schema} CASCADE")))
            .execute(&mut conn)
            .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&mut conn)
            .await?;
        let _ = conn.close().await;

        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let proxy = listener.local_addr()?;
        let (cut, links) = (Arc::new(AtomicBool::new(false)), Arc::new(Mutex::new(Vec::new())));
        let (accept_cut, accept_links) = (cut.clone(), links.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if accept_cut.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let link = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                accept_links.lock().unwrap_or_else(|p| p.into_inner()).push(link.abort_handle());
            }
        });
        let url = with_host_and_schema(&base, proxy, &schema);
        Ok(FlakyDatabase { url, cut, links })
    }

    /// The database goes away: open connections close, new ones fail.
    pub fn go_away(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for link in self.links.lock().unwrap_or_else(|p| p.into_inner()).drain(..) {
            link.abort();
        }
    }

    /// The database is back.
    pub fn come_back(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

/// The host and port of a `postgres://user@host:port/db` URL.
fn postgres_addr(url: &str) -> anyhow::Result<SocketAddr> {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map(|(_, h)| h).unwrap_or(authority);
    let host_port =
        if host_port.contains(':') { host_port.to_owned() } else { format!("{host_port}:5432") };
    let host_port = host_port.replace("localhost", "127.0.0.1");
    host_port.parse().with_context(|| format!("the outage test needs an IP address in {url}"))
}

/// `url` with its host and port replaced by `proxy` and its connections
/// kept to `schema`.
fn with_host_and_schema(url: &str, proxy: SocketAddr, schema: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let (authority, path) = match rest.find(['/', '?']) {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    let user = authority.rsplit_once('@').map(|(u, _)| format!("{u}@")).unwrap_or_default();
    let separator = if path.contains('?') { '&' } else { '?' };
    format!("{scheme}://{user}{proxy}{path}{separator}options=-c%20search_path%3D{schema}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_is_pointed_at_the_proxy_and_the_schema() {
        let base = "postgres://postgres@127.0.0.1:5432/test";
        assert_eq!(postgres_addr(base).unwrap(), "127.0.0.1:5432".parse().unwrap());
        let proxy: SocketAddr = "127.0.0.1:41000".parse().unwrap();
        assert_eq!(
            with_host_and_schema(base, proxy, "chaos_1"),
            "postgres://postgres@127.0.0.1:41000/test?options=-c%20search_path%3Dchaos_1"
        );
        assert_eq!(
            with_host_and_schema("postgres://localhost/db?sslmode=disable", proxy, "s"),
            "postgres://127.0.0.1:41000/db?sslmode=disable&options=-c%20search_path%3Ds"
        );
    }
}
