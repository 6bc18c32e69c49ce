//! The Store on PostgreSQL: the scale-out path. Several chatgate nodes
//! share one database; each runs the same shared SQL code (`sql/`) with one
//! writer task (group commits, multi-row inserts) and a pool of readers.
//!
//! What makes several nodes safe:
//! - **Leases** (outbound sends per instance, webhook and callback lanes)
//!   are taken with `FOR UPDATE SKIP LOCKED`: a node never waits for rows
//!   another is claiming, and once that node commits, the lease (an owner
//!   and an end time in the row) keeps everyone else away until it ends. A
//!   node that dies leaves leases that simply run out; another node takes
//!   the work over then.
//! - **Pacing** lives in the instance's lane row (`last_attempt_at`,
//!   `ready_at`), so an instance's gap holds whichever node sends.
//! - **Wake-ups**: every batch that queued notifications announces the
//!   instances with `pg_notify` in its transaction (delivered at commit);
//!   every node listens and wakes its long polls and its hook worker.
//!
//! The shared SQL is written with `?` placeholders; [`backend::query`]
//! turns them into PostgreSQL's `$n` once per statement.

// The shared SQL code, compiled here with PostgreSQL's types (see `backend`).
shared_sql_modules!();

/// What the shared SQL code needs of PostgreSQL: its types, the SQL in its
/// placeholder style, row locks for claims, and the cross-node wake-up.
pub(crate) mod backend {
    use std::collections::{BTreeSet, HashMap};
    use std::sync::{Mutex, OnceLock};

    use chatgate_core::InstanceId;
    use sqlx::AssertSqlSafe;
    use sqlx::query::Query;

    /// The database.
    pub type Db = sqlx::Postgres;
    /// One connection.
    pub type Conn = sqlx::PgConnection;
    /// One row.
    pub type DbRow = sqlx::postgres::PgRow;
    /// The readers' pool.
    pub type DbPool = sqlx::PgPool;
    /// What the store keeps besides: the task listening for other nodes'
    /// wake-ups.
    pub type Extra = tokio::task::JoinHandle<()>;

    /// How the writer opens a batch.
    pub const BEGIN: &str = "BEGIN";

    /// Claims lock the rows they take; rows another node is claiming are
    /// skipped, not waited for.
    pub const LOCK: &str = " FOR UPDATE SKIP LOCKED";

    /// Statements built at run time keep their natural size (see
    /// `journal::shaped`): each statement is a round trip to the server,
    /// so a multi-row insert split into power-of-two chunks costs more
    /// round trips than its preparation saves (push drain 4.5k → 4.1k
    /// deliveries/s when it was shaped).
    pub const SHAPES_STATEMENTS: bool = false;

    /// The largest of several values.
    pub const GREATEST: &str = "GREATEST";

    /// The channel on which nodes announce instances with new
    /// notifications.
    pub const CHANNEL: &str = "chatgate_notifications";

    /// The prefix of an announcement of changed instances (on [`CHANNEL`]).
    pub const CHANGED: &str = "changed:";

    /// `?` and `?N` placeholders as `$N`; quoted text is left alone.
    pub fn translate(sql: &str) -> String {
        let mut out = String::with_capacity(sql.len() + 16);
        let mut next = 0;
        let mut quoted = false;
        let mut chars = sql.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\'' => {
                    quoted = !quoted;
                    out.push(c);
                }
                '?' if !quoted => {
                    let mut digits = String::new();
                    while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                        digits.push(*d);
                        chars.next();
                    }
                    if digits.is_empty() {
                        next += 1;
                        out.push('$');
                        out.push_str(&next.to_string());
                    } else {
                        out.push('$');
                        out.push_str(&digits);
                    }
                }
                _ => out.push(c),
            }
        }
        out
    }

    /// A query; its SQL is translated once and kept for the process's life
    /// (the statements are a fixed set).
    pub fn query(sql: &'static str) -> Query<'static, Db, <Db as sqlx::Database>::Arguments> {
        static CACHE: OnceLock<Mutex<HashMap<&'static str, &'static str>>> = OnceLock::new();
        let cache = CACHE.get_or_init(Default::default);
        let translated = {
            let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
            *cache.entry(sql).or_insert_with(|| Box::leak(translate(sql).into_boxed_str()))
        };
        sqlx::query(translated)
    }

    /// Reading a row's columns by name.
    pub use sqlx::Row as RowExt;

    /// A type a column's value can be read as.
    pub trait Decode<'r>: sqlx::Decode<'r, Db> + sqlx::Type<Db> {}
    impl<'r, T: sqlx::Decode<'r, Db> + sqlx::Type<Db>> Decode<'r> for T {}

    /// Statements without parameters (the writer's `BEGIN`, `SAVEPOINT`
    /// and `COMMIT`).
    pub fn raw_sql(sql: &'static str) -> sqlx::RawSql {
        sqlx::raw_sql(sql)
    }

    /// Run after each commit of the writer's (nothing to do).
    pub async fn after_commit(_conn: &mut Conn) {}

    /// Whether the writer's connection still answers.
    pub async fn ping(conn: &mut Conn) -> Result<(), sqlx::Error> {
        sqlx::Connection::ping(conn).await
    }

    /// Closes the writer's connection.
    pub async fn close(conn: Conn) {
        let _ = sqlx::Connection::close(conn).await;
    }

    /// A query built at run time (a multi-row insert, an `IN` list).
    pub fn query_owned(sql: String) -> Query<'static, Db, <Db as sqlx::Database>::Arguments> {
        sqlx::query(AssertSqlSafe(translate(&sql)))
    }

    /// Announces, in the batch's transaction (so at its commit), the
    /// instances that got notifications, for every node to wake its long
    /// polls and hook worker.
    ///
    /// Instances whose row changed are announced too, with the prefix
    /// [`CHANGED`], for every node to drop them from its instance cache.
    pub async fn before_commit(
        conn: &mut Conn,
        notified: &BTreeSet<InstanceId>,
        changed: &BTreeSet<InstanceId>,
    ) -> Result<(), sqlx::Error> {
        // A payload is at most 8000 bytes: announce in chunks. Changes go
        // first: a node woken for a notification then already reads the
        // instance afresh (announcements arrive in the order sent).
        for (prefix, ids) in [(CHANGED, changed), ("", notified)] {
            let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
            for chunk in ids.chunks(500) {
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(CHANNEL)
                    .bind(format!("{prefix}{}", chunk.join(",")))
                    .execute(&mut *conn)
                    .await?;
            }
        }
        Ok(())
    }

    #[cfg(test)]
    mod tests {
        use super::translate;

        #[test]
        fn placeholders_become_numbered_and_quoted_text_stays() {
            assert_eq!(translate("a = ? AND b = ?"), "a = $1 AND b = $2");
            assert_eq!(translate("x = ?2 OR y = ?1"), "x = $2 OR y = $1");
            assert_eq!(translate("s = '?' AND t = ?"), "s = '?' AND t = $1");
        }
    }
}

use std::sync::Arc;
use std::time::Duration;

use chatgate_core::InstanceId;
use chatgate_core::signal::NotificationSignal;
use chatgate_core::store::{StoreError, StoreResult};
use chatgate_core::vault::Vault;
use sqlx::ConnectOptions;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};

use crate::at_rest::SecretsAtRest;
use crate::cache::InstanceCache;
use rows::db_error;

/// The PostgreSQL implementation of [`Store`](chatgate_core::store::Store).
pub type PostgresStore = store::SqlStore;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// How to open the PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// `postgres://user:password@host:port/database` (options such as
    /// `?options=-c search_path=…` are honoured).
    pub url: String,
    /// Reader connections (the writer has one more).
    pub readers: u32,
    /// Most requests in one group commit.
    pub batch_max: usize,
    /// Whether the writer thread keeps to one core; see `writer::spawn`.
    pub pin_writer: bool,
    /// The server key's vault: instance secrets are stored sealed with it
    /// (see `at_rest`), so every node needs the same key.
    pub vault: Arc<Vault>,
}

impl PostgresOptions {
    /// The defaults for a database URL whose secrets `vault` seals.
    pub fn new(url: impl Into<String>, vault: Arc<Vault>) -> Self {
        Self { url: url.into(), readers: 8, batch_max: 512, pin_writer: true, vault }
    }
}

impl store::SqlStore {
    /// Connects, applies pending migrations (one node at a time: the
    /// migrator takes an advisory lock), starts the writer and the
    /// listener for other nodes' wake-ups.
    pub async fn open_postgres(options: PostgresOptions) -> StoreResult<Arc<Self>> {
        let connect: PgConnectOptions = options
            .url
            .parse()
            .map_err(|e| StoreError::Unavailable(format!("bad database URL: {e}")))?;
        // Every statement is planned for its actual parameters. sqlx keeps
        // statements prepared, and PostgreSQL would otherwise switch to a
        // generic plan made while the tables were small: with a growing
        // journal the dedupe lookup stayed a sequential scan and took over
        // a second per batch (seen in the push benchmark).
        let connect = connect.options([("plan_cache_mode", "force_custom_plan")]);
        let mut writer_conn = connect.connect().await.map_err(db_error)?;
        MIGRATOR
            .run(&mut writer_conn)
            .await
            .map_err(|e| StoreError::Unavailable(format!("migrations failed: {e}")))?;
        let secrets = SecretsAtRest::new(options.vault.clone());
        store::seal_every_instance_secret(&mut writer_conn, &secrets).await?;
        let reader = PgPoolOptions::new()
            .max_connections(options.readers.max(1))
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(3))
            .connect_with(connect.clone())
            .await
            .map_err(db_error)?;
        // The writer opens its own connection on its own runtime (see
        // `writer::spawn`); this one did the migrations.
        let _ = sqlx::Connection::close(writer_conn).await;
        let writer::Writer { writes, signal, cache } = writer::spawn(
            std::sync::Arc::new(move || {
                let connect = connect.clone();
                Box::pin(async move { connect.connect().await.map_err(db_error) })
            }),
            options.batch_max,
            options.pin_writer,
            secrets.clone(),
        )
        .await?;
        let listener = tokio::spawn(listen(reader.clone(), signal.clone(), cache.clone()));
        Ok(Arc::new(Self { reader, cache, writes, signal, secrets, backend: listener }))
    }
}

/// Wakes this node's long polls and hook worker for the instances other
/// nodes (and this one) announce, and drops the instances they changed from
/// the instance cache; reconnects when the connection drops (and then
/// forgets the whole cache, since announcements may have been missed).
async fn listen(pool: sqlx::PgPool, signal: NotificationSignal, cache: Arc<InstanceCache>) {
    // The store closing closes the pool: then the listener ends quietly.
    while !pool.is_closed() {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(listener) => listener,
            Err(_) if pool.is_closed() => return,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for other nodes' wake-ups; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Err(e) = listener.listen(backend::CHANNEL).await {
            tracing::warn!(error = %e, "cannot listen for other nodes' wake-ups; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        cache.clear();
        loop {
            match listener.recv().await {
                Ok(notification) => {
                    let payload = notification.payload();
                    if let Some(changed) = payload.strip_prefix(backend::CHANGED) {
                        cache.invalidate(changed.split(',').filter_map(|id| id.parse().ok()));
                        continue;
                    }
                    for id in payload.split(',') {
                        if let Ok(id) = id.parse::<InstanceId>() {
                            signal.fire(id);
                        }
                    }
                }
                Err(_) if pool.is_closed() => return,
                Err(e) => {
                    tracing::warn!(error = %e, "the wake-up listener lost its connection");
                    break;
                }
            }
        }
    }
}

impl Drop for store::SqlStore {
    fn drop(&mut self) {
        self.backend.abort();
    }
}
