//! The Store on SQLite: one file in the data directory, WAL, migrations
//! embedded. One writer task applies every change in group commits (see
//! `sql/writer.rs`); reads go to a small pool of reader connections, which
//! WAL lets run beside the writer. The SQL and the logic are shared with
//! PostgreSQL (`sql/`); [`backend`] gives them SQLite's types.

// The shared SQL code, compiled here with SQLite's types (see `backend`).
shared_sql_modules!();

/// What the shared SQL code needs of SQLite: its types, and the SQL as
/// written (the shared code is written in SQLite's placeholder style). The
/// writer's connection is driven on the writer's thread, the readers'
/// through sqlx; see `direct`.
pub(crate) mod backend {
    pub use super::direct::{Decode, RowExt, WriterConn as Conn, query, query_owned, raw_sql};

    /// One row.
    pub type DbRow = super::direct::Row;
    /// The readers' pool.
    pub type DbPool = sqlx::SqlitePool;
    /// What the store keeps besides: the database file.
    pub type Extra = std::path::PathBuf;

    /// How the writer opens a batch: at once as the writer, so a reader's
    /// lock never upgrades midway.
    pub const BEGIN: &str = "BEGIN IMMEDIATE";

    /// The largest of several values.
    pub const GREATEST: &str = "MAX";

    /// What claims add to lock the rows they take against other nodes:
    /// nothing, one process owns the file.
    pub const LOCK: &str = "";

    /// Statements built at run time come in power-of-two sizes, kept
    /// prepared by the writer (see `journal::shaped`): statements run on
    /// the writer's own thread, so preparing one anew costs more than
    /// running a few.
    pub const SHAPES_STATEMENTS: bool = true;

    /// Run after each commit of the writer's (tells the WAL checkpointer).
    pub async fn after_commit(conn: &mut Conn) {
        conn.committed();
    }

    /// Whether the writer's connection still answers.
    pub async fn ping(conn: &mut Conn) -> Result<(), sqlx::Error> {
        conn.ping()
    }

    /// Closes the writer's connection.
    pub async fn close(conn: Conn) {
        drop(conn);
    }

    /// Run in the batch's transaction before its commit, after the
    /// instances in `notified` got notifications (nothing to do: one
    /// process owns the file).
    pub async fn before_commit(
        _conn: &mut Conn,
        _notified: &std::collections::BTreeSet<chatgate_core::InstanceId>,
        _changed: &std::collections::BTreeSet<chatgate_core::InstanceId>,
    ) -> Result<(), sqlx::Error> {
        Ok(())
    }
}

mod direct;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chatgate_core::store::{StoreError, StoreResult};
use chatgate_core::vault::Vault;
use sqlx::ConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::at_rest::SecretsAtRest;
use rows::db_error;

/// The SQLite implementation of [`Store`](chatgate_core::store::Store).
pub type SqliteStore = store::SqlStore;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// How hard a commit tries to reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous=FULL`: a commit survives power loss. The default: an
    /// answer of "accepted" means it is on disk.
    #[default]
    Full,
    /// `synchronous=NORMAL`: a commit survives a crash of the process but
    /// the last commits may be lost on power loss; faster.
    Normal,
}

impl FromStr for Durability {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "full" => Ok(Durability::Full),
            "normal" => Ok(Durability::Normal),
            other => Err(format!("unknown durability {other:?}; expected full or normal")),
        }
    }
}

/// How to open the SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// The database file (created when missing).
    pub path: PathBuf,
    /// Commit durability.
    pub durability: Durability,
    /// Reader connections.
    pub readers: u32,
    /// Most requests in one group commit.
    pub batch_max: usize,
    /// Whether the writer thread keeps to one core; see `writer::spawn`.
    pub pin_writer: bool,
    /// The server key's vault: instance secrets are stored sealed with it
    /// (see `at_rest`), so the same key must open the database again.
    pub vault: Arc<Vault>,
}

impl SqliteOptions {
    /// The defaults for a database file whose secrets `vault` seals.
    pub fn new(path: impl Into<PathBuf>, vault: Arc<Vault>) -> Self {
        Self {
            vault,
            path: path.into(),
            durability: Durability::Full,
            readers: 4,
            batch_max: 512,
            pin_writer: true,
        }
    }
}

impl store::SqlStore {
    /// Opens (creating when missing) the database, applies pending
    /// migrations and starts the writer.
    pub async fn open(options: SqliteOptions) -> StoreResult<Arc<Self>> {
        if let Some(dir) = options.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Unavailable(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let connect = SqliteConnectOptions::new()
            .filename(&options.path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match options.durability {
                Durability::Full => SqliteSynchronous::Full,
                Durability::Normal => SqliteSynchronous::Normal,
            })
            .busy_timeout(Duration::from_secs(10))
            .pragma("temp_store", "memory");
        let mut migrating = connect.connect().await.map_err(db_error)?;
        MIGRATOR
            .run(&mut migrating)
            .await
            .map_err(|e| StoreError::Unavailable(format!("migrations failed: {e}")))?;
        let _ = sqlx::Connection::close(migrating).await;
        let synchronous = match options.durability {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        };
        let secrets = SecretsAtRest::new(options.vault.clone());
        let mut sealing = direct::WriterConn::open(&options.path, synchronous).map_err(db_error)?;
        store::seal_every_instance_secret(&mut sealing, &secrets).await?;
        drop(sealing);
        let reader = SqlitePoolOptions::new()
            .max_connections(options.readers.max(1))
            .min_connections(1)
            .connect_with(connect)
            .await
            .map_err(db_error)?;
        // The writer opens its own connection on its own thread and drives
        // it there (see `direct`).
        let path = options.path.clone();
        let checkpointer = direct::Checkpointer::start(&path, synchronous).map_err(db_error)?;
        let writer::Writer { writes, signal, cache } = writer::spawn(
            std::sync::Arc::new(move || {
                let opened = direct::WriterConn::open(&path, synchronous)
                    .and_then(|conn| conn.checkpoint_with(&checkpointer))
                    .map_err(db_error);
                Box::pin(async move { opened })
            }),
            options.batch_max,
            options.pin_writer,
            secrets.clone(),
        )
        .await?;
        Ok(Arc::new(Self { reader, cache, writes, signal, secrets, backend: options.path }))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.backend
    }
}

#[cfg(test)]
mod tests {
    use chatgate_core::Timestamp;
    use metrics_exporter_prometheus::PrometheusBuilder;
    use tokio::sync::{mpsc, oneshot};

    use super::*;

    #[tokio::test]
    async fn every_group_commit_records_its_size_and_duration() {
        let recorder = PrometheusBuilder::new()
            .set_buckets(chatgate_core::metrics::BATCH_BUCKETS)
            .unwrap()
            .build_recorder();
        let handle = recorder.handle();
        // The writer runs on this thread here, so a local recorder sees it.
        let _local = metrics::set_default_local_recorder(&recorder);
        let mut conn = direct::WriterConn::open_in_memory().unwrap();
        for migration in MIGRATOR.iter() {
            conn.run_script(migration.sql.as_str()).unwrap();
        }
        let (writes, rx) = mpsc::channel(8);
        let mut answers = Vec::new();
        for _ in 0..3 {
            let (reply, answer) = oneshot::channel();
            answers.push(answer);
            let before = Timestamp::EPOCH;
            let purge = writer::Op::Purge {
                journal_before: before,
                notifications_before: before,
                limit: 10,
                reply,
            };
            writes.send(purge).await.unwrap();
        }
        let (done, _stopped) = oneshot::channel();
        writes.send(writer::Op::Shutdown(done)).await.unwrap();
        let secrets = SecretsAtRest::new(Arc::new(Vault::new(&[1; chatgate_core::vault::KEY_LEN])));
        writer::run(conn, rx, 16, Default::default(), Default::default(), secrets, None).await;
        for answer in answers {
            answer.await.unwrap().unwrap();
        }

        let text = handle.render();
        let line = |name: &str| {
            text.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("{name}: {text}"))
        };
        assert_eq!(line("chatgate_store_batch_size_count "), "chatgate_store_batch_size_count 1");
        assert_eq!(line("chatgate_store_batch_size_sum "), "chatgate_store_batch_size_sum 3");
        assert_eq!(
            line("chatgate_store_batch_size_bucket{le=\"4\"}"),
            "chatgate_store_batch_size_bucket{le=\"4\"} 1"
        );
        assert!(text.contains("chatgate_store_commit_duration_seconds"), "{text}");
        assert!(!text.contains("chatgate_store_commit_failures_total"), "{text}");
    }
}
