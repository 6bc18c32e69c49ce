//! The writer's SQLite connection, driven on the writer's own thread, and
//! the query type the shared SQL code runs on SQLite.
//!
//! sqlx runs every SQLite connection on a driver thread of its own, so
//! each statement is a round trip between two threads: a channel message
//! and a wake-up each way. Measured on this project's 2-core machine, that
//! costs 4–12 µs a statement, where SQLite itself needs well under one for
//! the writer's single-row statements; and the writer runs dozens of
//! statements per message, one after the other, each waiting for the last.
//! So the writer's connection is a rusqlite connection that the writer
//! thread drives itself ([`WriterConn`]). The readers keep sqlx's pool:
//! they run on the HTTP runtime, where a blocking read would stall other
//! requests, and beside the writer, which WAL allows.
//!
//! [`Query`] has sqlx's shape (`query(sql).bind(v).fetch_all(target)`), so
//! the shared SQL code (`sql/`) reads the same on both backends. A query
//! runs synchronously on the writer's connection or through sqlx on the
//! readers' pool ([`Target`]); both give the same [`Row`]s, and both report
//! failures as `sqlx::Error`, which `rows::db_error` classifies.

use std::borrow::Cow;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::types::{Value, ValueRef};
use sqlx::error::{DatabaseError, ErrorKind};
use sqlx::sqlite::{SqlitePool, SqliteRow};
use sqlx::{AssertSqlSafe, Column as _, Row as _, TypeInfo as _, ValueRef as _};

/// How many prepared statements the writer keeps. Every fixed statement of
/// the shared SQL fits, besides the most recent shapes of the small
/// statements built at run time (multi-row inserts, `IN` lists).
const STATEMENT_CACHE: usize = 512;

/// The most parameters of a statement whose prepared form is kept. A
/// multi-row insert of a hundred rows, or an `IN` list of hundreds, keeps
/// over 100 KB prepared and is rare in its exact shape; preparing it again
/// costs little beside its rows. Under this bound the cache stays within
/// about 10 MB. Bigger statements built in a few fixed sizes
/// (`journal::shaped`, marked `persistent(SHAPED)`, true on SQLite) are
/// kept too: a dozen
/// statements in up to nine sizes each, measured at +6 to +9 MB of peak
/// RSS in the ingest and push benchmarks.
const CACHED_PARAMETERS_MAX: usize = 64;

/// The WAL size, in pages, at which a commit of the writer's checkpoints by
/// itself, as a backstop to the [`Checkpointer`] (16 MiB of 4 KiB pages).
/// SQLite starts the WAL file over only when a write begins after a
/// checkpoint copied every frame; the checkpointer runs beside the writer
/// and, while commits follow each other without a pause, never catches up
/// with the last one. This bounds the WAL under sustained load.
const WAL_BACKSTOP_PAGES: u32 = 4000;

/// What the WAL file is cut back to after it started over (64 MiB): a burst
/// that grew it does not keep the disk space.
const WAL_SIZE_LIMIT: u64 = 64 * 1024 * 1024;

/// How long a statement waits for a lock held by another connection (the
/// checkpointer, or another process such as the CLI on the same file)
/// before it fails.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The writer's connection: one SQLite handle, used only by the thread that
/// owns it, with its prepared statements cached across batches.
pub struct WriterConn {
    conn: rusqlite::Connection,
    /// Told after each commit, when a [`Checkpointer`] copies the WAL back
    /// into the database file for this connection.
    checkpointer: Option<std::sync::mpsc::SyncSender<()>>,
}

impl fmt::Debug for WriterConn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriterConn").field("path", &self.conn.path()).finish()
    }
}

impl WriterConn {
    /// Opens the database file at `path` with the settings every chatgate
    /// connection has (WAL, foreign keys on, `busy_timeout`, temporary
    /// tables in memory) and `synchronous` set to `synchronous` (`FULL` or
    /// `NORMAL`). The file must exist and be migrated.
    pub fn open(path: &Path, synchronous: &'static str) -> Result<Self, sqlx::Error> {
        let conn = rusqlite::Connection::open(path).map_err(error)?;
        Self::configure(conn, synchronous)
    }

    /// A connection to a new, empty database in memory (for tests).
    #[cfg(test)]
    pub fn open_in_memory() -> Result<Self, sqlx::Error> {
        Self::configure(rusqlite::Connection::open_in_memory().map_err(error)?, "FULL")
    }

    fn configure(
        conn: rusqlite::Connection,
        synchronous: &'static str,
    ) -> Result<Self, sqlx::Error> {
        conn.busy_timeout(BUSY_TIMEOUT).map_err(error)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let mut this = Self { conn, checkpointer: None };
        let size_limit = format!("PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}");
        for pragma in [
            "PRAGMA journal_mode = WAL",
            size_limit.as_str(),
            "PRAGMA foreign_keys = ON",
            "PRAGMA temp_store = memory",
            match synchronous {
                "NORMAL" => "PRAGMA synchronous = NORMAL",
                _ => "PRAGMA synchronous = FULL",
            },
        ] {
            this.run(pragma, Vec::new(), Rows::None, Cache::Never)?;
        }
        Ok(this)
    }

    /// Runs SQL that takes no parameters, statement by statement (the
    /// writer's transaction control; the migrations, in tests). A single
    /// statement's prepared form is kept for its next run.
    pub fn run_script(&mut self, script: &str) -> Result<(), sqlx::Error> {
        if script.contains(';') {
            self.conn.execute_batch(script).map_err(error)
        } else {
            self.run(script, Vec::new(), Rows::None, Cache::Small).map(drop)
        }
    }

    /// Leaves WAL checkpoints to `checkpointer` (see [`Checkpointer`]):
    /// this connection's commits run one only when the WAL reaches
    /// [`WAL_BACKSTOP_PAGES`] (SQLite's default is every 1 000 pages).
    pub fn checkpoint_with(mut self, checkpointer: &Checkpointer) -> Result<Self, sqlx::Error> {
        let backstop = format!("PRAGMA wal_autocheckpoint = {WAL_BACKSTOP_PAGES}");
        self.run(&backstop, Vec::new(), Rows::None, Cache::Never)?;
        self.checkpointer = checkpointer.wake.clone();
        Ok(self)
    }

    /// Tells the checkpointer, if any, that a transaction committed.
    pub fn committed(&self) {
        if let Some(wake) = &self.checkpointer {
            // A full channel means a wake-up is pending already.
            let _ = wake.try_send(());
        }
    }

    /// Whether the connection still answers.
    pub fn ping(&mut self) -> Result<(), sqlx::Error> {
        self.run("SELECT 1", Vec::new(), Rows::None, Cache::Small).map(drop)
    }

    /// Runs one statement with `args` bound to its parameters in order,
    /// keeping as many of its rows as `keep` says. Every row is stepped
    /// through, kept or not, so the statement always runs to its end.
    fn run(
        &mut self,
        sql: &str,
        args: Vec<Value>,
        keep: Rows,
        cache: Cache,
    ) -> Result<Done, sqlx::Error> {
        #[cfg(feature = "statement-profile")]
        let _timer = profile::Timer::start(sql);
        let kept = match cache {
            Cache::Never => false,
            Cache::Small => args.len() <= CACHED_PARAMETERS_MAX,
            Cache::Always => true,
        };
        let (rows, writes) = if kept {
            let mut statement = self.conn.prepare_cached(sql).map_err(error)?;
            step(&mut statement, sql, args, keep)?
        } else {
            let mut statement = self.conn.prepare(sql).map_err(error)?;
            step(&mut statement, sql, args, keep)?
        };
        // SQLite's count of changed rows is the last write's: a statement
        // that only reads changed none.
        let rows_affected = if writes { self.conn.changes() } else { 0 };
        Ok(Done { rows, rows_affected })
    }
}

/// The writer's time by statement, for profiling builds only (the
/// `statement-profile` feature): every statement's SQL (its first 100
/// characters, so the shapes of one multi-row insert count together), how
/// often it ran and for how long, written every two seconds to the file
/// that `STATEMENT_PROFILE` names with the thread's name added
/// (`….chatgate-writer`), slowest in total first.
#[cfg(feature = "statement-profile")]
mod profile {
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::fmt::Write as _;
    use std::time::{Duration, Instant};

    /// Per statement: how many runs, and their time together.
    struct Profile {
        statements: HashMap<String, (u64, Duration)>,
        written: Instant,
    }

    thread_local! {
        static PROFILE: RefCell<Profile> = RefCell::new(Profile {
            statements: HashMap::new(),
            written: Instant::now(),
        });
    }

    /// Times one statement from its start until it is dropped.
    pub(super) struct Timer<'s> {
        sql: &'s str,
        started: Instant,
    }

    impl<'s> Timer<'s> {
        pub(super) fn start(sql: &'s str) -> Self {
            Self { sql, started: Instant::now() }
        }
    }

    impl Drop for Timer<'_> {
        fn drop(&mut self) {
            let took = self.started.elapsed();
            let key: String = self.sql.split_whitespace().collect::<Vec<_>>().join(" ");
            let key = key.chars().take(100).collect::<String>();
            PROFILE.with_borrow_mut(|profile| {
                let entry = profile.statements.entry(key).or_default();
                entry.0 += 1;
                entry.1 += took;
                if profile.written.elapsed() >= Duration::from_secs(2) {
                    profile.written = Instant::now();
                    write(&profile.statements);
                }
            });
        }
    }

    fn write(statements: &HashMap<String, (u64, Duration)>) {
        let Some(mut path) = std::env::var_os("STATEMENT_PROFILE") else { return };
        // One file per thread: the writer's, the checkpointer's.
        path.push(format!(".{}", std::thread::current().name().unwrap_or("unnamed")));
        let mut rows: Vec<_> = statements.iter().collect();
        rows.sort_by_key(|(_, (_, total))| std::cmp::Reverse(*total));
        let mut out = String::from("total ms\truns\tµs a run\tstatement\n");
        for (sql, (runs, total)) in rows {
            let each = total.as_secs_f64() * 1e6 / *runs as f64;
            let _ = writeln!(out, "{}\t{runs}\t{each:.1}\t{sql}", total.as_millis());
        }
        let _ = std::fs::write(path, out);
    }
}

/// Which statements the writer keeps prepared for their next run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cache {
    /// Run once (a pragma at start-up).
    Never,
    /// Kept when of at most [`CACHED_PARAMETERS_MAX`] parameters.
    Small,
    /// Kept whatever its size: SQL built in a few fixed sizes.
    Always,
}

/// Binds `args` to `statement`'s parameters in order and steps through all
/// its rows, keeping as many as `keep` says; with whether it may write.
fn step(
    statement: &mut rusqlite::Statement<'_>,
    sql: &str,
    args: Vec<Value>,
    keep: Rows,
) -> Result<(Vec<Row>, bool), sqlx::Error> {
    if statement.parameter_count() != args.len() {
        return Err(sqlx::Error::Protocol(format!(
            "{} values bound to a statement with {} parameters: {sql}",
            args.len(),
            statement.parameter_count()
        )));
    }
    for (index, value) in args.into_iter().enumerate() {
        statement.raw_bind_parameter(index + 1, value).map_err(error)?;
    }
    let writes = !statement.readonly();
    let columns: Arc<[String]> = match keep {
        Rows::None => Arc::from([]),
        _ => statement.column_names().into_iter().map(str::to_owned).collect(),
    };
    let mut kept = Vec::new();
    let mut rows = statement.raw_query();
    while let Some(row) = rows.next().map_err(error)? {
        if keep == Rows::All || (keep == Rows::First && kept.is_empty()) {
            let values = (0..columns.len())
                .map(|i| row.get_ref(i).map(owned))
                .collect::<Result<Vec<_>, _>>()
                .map_err(error)?;
            kept.push(Row { columns: columns.clone(), values });
        }
    }
    Ok((kept, writes))
}

/// A value read from a row, owned.
fn owned(value: ValueRef<'_>) -> Value {
    match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

/// Copies the WAL back into the database file on a thread of its own, with
/// a connection of its own, after the writer's commits.
///
/// SQLite runs this checkpoint inside a commit by default, every 1 000 WAL
/// pages: measured during the end-to-end benchmark, it took a tenth of the
/// writer's time, on the writer's thread, while every caller of that group
/// commit waited. A passive checkpoint needs no writer lock, so here it
/// runs beside the writer's next batch, on another core; the writer's own
/// commits checkpoint only as a backstop ([`WAL_BACKSTOP_PAGES`]). The
/// thread ends when every connection that wakes it is gone.
#[derive(Debug)]
pub struct Checkpointer {
    /// Wakes the thread; `None` once dropped.
    wake: Option<std::sync::mpsc::SyncSender<()>>,
    /// The thread, joined when the checkpointer is dropped.
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Checkpointer {
    /// Waits for the thread's last checkpoint once every connection that
    /// wakes it is gone too, so a store that closed leaves no checkpoint
    /// running on its file.
    fn drop(&mut self) {
        // The thread ends when the last sender goes; this one goes here,
        // the connections' copies with the connections.
        drop(self.wake.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Checkpointer {
    /// Starts the checkpoint thread for the database file at `path`, with
    /// the writer's durability (`synchronous`).
    pub fn start(path: &Path, synchronous: &'static str) -> Result<Self, sqlx::Error> {
        let conn = WriterConn::open(path, synchronous)?;
        let (wake, woken) = std::sync::mpsc::sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("chatgate-checkpoint".into())
            .spawn(move || checkpoint_when_woken(conn, woken))
            .map_err(sqlx::Error::Io)?;
        Ok(Self { wake: Some(wake), thread: Some(thread) })
    }
}

/// The checkpoint thread: a passive checkpoint after each wake-up (wake-ups
/// that arrive during one are folded into the next), until every sender is
/// gone.
fn checkpoint_when_woken(mut conn: WriterConn, woken: std::sync::mpsc::Receiver<()>) {
    while woken.recv().is_ok() {
        if let Err(e) =
            conn.run("PRAGMA wal_checkpoint(PASSIVE)", Vec::new(), Rows::None, Cache::Small)
        {
            tracing::warn!(error = %e, "a WAL checkpoint failed; the next commit tries again");
        }
    }
}

/// Which rows of a statement's result to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rows {
    None,
    First,
    All,
}

/// What a statement did: the rows kept and the rows it changed.
#[derive(Debug)]
struct Done {
    rows: Vec<Row>,
    rows_affected: u64,
}

/// What `execute` tells of a statement that ran.
#[derive(Debug, Clone, Copy)]
pub struct Executed {
    rows_affected: u64,
}

impl Executed {
    /// The rows the statement inserted, changed or deleted.
    pub fn rows_affected(&self) -> u64 {
        self.rows_affected
    }
}

/// Where a [`Query`] runs: the writer's connection (synchronously, on the
/// calling thread) or the readers' pool (through sqlx).
#[derive(Debug)]
pub enum Target<'c> {
    /// The writer's connection.
    Writer(&'c mut WriterConn),
    /// A connection of the readers' pool.
    Readers(&'c SqlitePool),
}

impl<'c> From<&'c mut WriterConn> for Target<'c> {
    fn from(conn: &'c mut WriterConn) -> Self {
        Target::Writer(conn)
    }
}

impl<'c> From<&'c SqlitePool> for Target<'c> {
    fn from(pool: &'c SqlitePool) -> Self {
        Target::Readers(pool)
    }
}

/// One statement and the values bound to its parameters, in order.
#[derive(Debug)]
#[must_use = "a query does nothing until it is executed or fetched"]
pub struct Query {
    sql: Cow<'static, str>,
    args: Vec<Value>,
    /// Statements without parameters, separated by `;` (`raw_sql`).
    script: bool,
    /// Whether the prepared statement may be kept for the next run of the
    /// same SQL: `None` unless `persistent` was called.
    ///
    /// The readers' pool keeps it unless told `false`. The writer keeps
    /// every statement of at most [`CACHED_PARAMETERS_MAX`] parameters,
    /// whatever this says (its cache is bounded in size and in what one
    /// entry may cost, and the small shapes of multi-row inserts and `IN`
    /// lists run on it hundreds of times a second, each preparation costing
    /// as much as a small statement's run), and a bigger one only when told
    /// `true` outright: SQL built in a few fixed sizes
    /// (`journal::shaped`), whose preparation would otherwise cost more
    /// than its run.
    persistent: Option<bool>,
}

/// A query of SQL written in the source.
pub fn query(sql: &'static str) -> Query {
    Query { sql: Cow::Borrowed(sql), args: Vec::new(), script: false, persistent: None }
}

/// A query of SQL built at run time (a multi-row insert, an `IN` list).
pub fn query_owned(sql: String) -> Query {
    Query { sql: Cow::Owned(sql), args: Vec::new(), script: false, persistent: None }
}

/// Statements without parameters, separated by `;`: the writer's `BEGIN`,
/// `SAVEPOINT` and `COMMIT`.
pub fn raw_sql(sql: &'static str) -> Query {
    Query { sql: Cow::Borrowed(sql), args: Vec::new(), script: true, persistent: None }
}

impl Query {
    /// Whether the prepared statement is kept for the next run of the same
    /// SQL (the default); as `sqlx::query::Query::persistent`, on the
    /// readers' pool (the writer's rule is its own, see the field).
    pub fn persistent(mut self, keep: bool) -> Self {
        self.persistent = Some(keep);
        self
    }

    /// Binds the next parameter.
    pub fn bind(mut self, value: impl Bind) -> Self {
        self.args.push(value.into_value());
        self
    }

    /// Runs the statement; its rows, if any, are stepped through and
    /// dropped.
    pub async fn execute<'c>(self, target: impl Into<Target<'c>>) -> Result<Executed, sqlx::Error> {
        let done = self.run(target.into(), Rows::None).await?;
        Ok(Executed { rows_affected: done.rows_affected })
    }

    /// Runs the statement and returns all its rows.
    pub async fn fetch_all<'c>(
        self,
        target: impl Into<Target<'c>>,
    ) -> Result<Vec<Row>, sqlx::Error> {
        Ok(self.run(target.into(), Rows::All).await?.rows)
    }

    /// Runs the statement and returns its first row, if any.
    pub async fn fetch_optional<'c>(
        self,
        target: impl Into<Target<'c>>,
    ) -> Result<Option<Row>, sqlx::Error> {
        Ok(self.run(target.into(), Rows::First).await?.rows.into_iter().next())
    }

    /// Runs the statement and returns its first row; no row is an error.
    pub async fn fetch_one<'c>(self, target: impl Into<Target<'c>>) -> Result<Row, sqlx::Error> {
        self.fetch_optional(target).await?.ok_or(sqlx::Error::RowNotFound)
    }

    async fn run(self, target: Target<'_>, keep: Rows) -> Result<Done, sqlx::Error> {
        match target {
            Target::Writer(conn) if self.script => {
                conn.run_script(&self.sql)?;
                Ok(Done { rows: Vec::new(), rows_affected: 0 })
            }
            Target::Writer(conn) => {
                let cache = match self.persistent {
                    Some(true) => Cache::Always,
                    _ => Cache::Small,
                };
                conn.run(&self.sql, self.args, keep, cache)
            }
            Target::Readers(pool) => self.run_on_pool(pool, keep).await,
        }
    }

    async fn run_on_pool(self, pool: &SqlitePool, keep: Rows) -> Result<Done, sqlx::Error> {
        if self.script {
            let result = sqlx::raw_sql(AssertSqlSafe(self.sql.into_owned())).execute(pool).await?;
            return Ok(Done { rows: Vec::new(), rows_affected: result.rows_affected() });
        }
        let mut query = match self.sql {
            Cow::Borrowed(sql) => sqlx::query(sql),
            Cow::Owned(sql) => sqlx::query(AssertSqlSafe(sql)),
        }
        .persistent(self.persistent.unwrap_or(true));
        for value in self.args {
            query = match value {
                Value::Null => query.bind(None::<i64>),
                Value::Integer(i) => query.bind(i),
                Value::Real(f) => query.bind(f),
                Value::Text(s) => query.bind(s),
                Value::Blob(b) => query.bind(b),
            };
        }
        match keep {
            Rows::None => {
                let result = query.execute(pool).await?;
                Ok(Done { rows: Vec::new(), rows_affected: result.rows_affected() })
            }
            Rows::First => {
                let row = query.fetch_optional(pool).await?;
                Ok(Done { rows: Row::from_sqlx(row.into_iter().collect())?, rows_affected: 0 })
            }
            Rows::All => {
                let rows = query.fetch_all(pool).await?;
                Ok(Done { rows: Row::from_sqlx(rows)?, rows_affected: 0 })
            }
        }
    }
}

/// A value that can be bound to a parameter.
pub trait Bind {
    /// The value as SQLite stores it.
    fn into_value(self) -> Value;
}

macro_rules! bind_as_integer {
    ($($t:ty),*) => {$(
        impl Bind for $t {
            fn into_value(self) -> Value {
                Value::Integer(i64::from(self))
            }
        }
    )*};
}
bind_as_integer!(i64, i32, u32, u16, u8, bool);

impl Bind for f64 {
    fn into_value(self) -> Value {
        Value::Real(self)
    }
}

impl Bind for String {
    fn into_value(self) -> Value {
        Value::Text(self)
    }
}

impl Bind for &str {
    fn into_value(self) -> Value {
        Value::Text(self.to_owned())
    }
}

impl<T: Bind + Clone> Bind for &T {
    fn into_value(self) -> Value {
        self.clone().into_value()
    }
}

impl Bind for Vec<u8> {
    fn into_value(self) -> Value {
        Value::Blob(self)
    }
}

impl Bind for &[u8] {
    fn into_value(self) -> Value {
        Value::Blob(self.to_vec())
    }
}

impl<T: Bind> Bind for Option<T> {
    fn into_value(self) -> Value {
        self.map_or(Value::Null, Bind::into_value)
    }
}

/// One row of a result: its columns' names (shared by the result's rows)
/// and values.
#[derive(Debug, Clone)]
pub struct Row {
    columns: Arc<[String]>,
    values: Vec<Value>,
}

impl Row {
    /// The rows sqlx read from a reader connection, in this type.
    fn from_sqlx(rows: Vec<SqliteRow>) -> Result<Vec<Row>, sqlx::Error> {
        let Some(first) = rows.first() else { return Ok(Vec::new()) };
        let columns: Arc<[String]> = first.columns().iter().map(|c| c.name().to_owned()).collect();
        rows.iter()
            .map(|row| {
                let values = (0..columns.len())
                    .map(|i| {
                        let raw = row.try_get_raw(i)?;
                        if raw.is_null() {
                            return Ok(Value::Null);
                        }
                        // A value's type here is its storage class, not the
                        // column's declared type.
                        Ok(match raw.type_info().name() {
                            "INTEGER" => Value::Integer(row.try_get_unchecked(i)?),
                            "REAL" => Value::Real(row.try_get_unchecked(i)?),
                            "BLOB" => Value::Blob(row.try_get_unchecked(i)?),
                            _ => Value::Text(row.try_get_unchecked(i)?),
                        })
                    })
                    .collect::<Result<Vec<_>, sqlx::Error>>()?;
                Ok(Row { columns: columns.clone(), values })
            })
            .collect()
    }
}

/// Reading a row's columns by name; the same call as `sqlx::Row::try_get`,
/// which the shared SQL code uses on PostgreSQL.
pub trait RowExt {
    /// The value of `column`, as a `T`.
    fn try_get<'r, T: Decode<'r>, I: ColumnIndex>(&'r self, column: I) -> Result<T, sqlx::Error>;
}

/// How a column is named in [`RowExt::try_get`]: by name or by position.
pub trait ColumnIndex: fmt::Debug {
    /// The column's position in `columns`, if it is there.
    fn position(&self, columns: &[String]) -> Option<usize>;
}

impl ColumnIndex for &str {
    fn position(&self, columns: &[String]) -> Option<usize> {
        columns.iter().position(|c| c == self)
    }
}

impl ColumnIndex for usize {
    fn position(&self, columns: &[String]) -> Option<usize> {
        (*self < columns.len()).then_some(*self)
    }
}

impl RowExt for Row {
    fn try_get<'r, T: Decode<'r>, I: ColumnIndex>(&'r self, column: I) -> Result<T, sqlx::Error> {
        let index = column
            .position(&self.columns)
            .ok_or_else(|| sqlx::Error::ColumnNotFound(format!("{column:?}")))?;
        let value = &self.values[index];
        T::decode(value).ok_or_else(|| sqlx::Error::ColumnDecode {
            index: format!("{column:?}"),
            source: format!(
                "a {} cannot be read as {}",
                match value {
                    Value::Null => "NULL",
                    Value::Integer(_) => "INTEGER",
                    Value::Real(_) => "REAL",
                    Value::Text(_) => "TEXT",
                    Value::Blob(_) => "BLOB",
                },
                std::any::type_name::<T>()
            )
            .into(),
        })
    }
}

/// A type a column's value can be read as, by the value's storage class:
/// an integer is not text, text is not a blob, and `NULL` is only an
/// `Option`'s `None` (sqlx's SQLite driver read it as 0, `""` or `false`);
/// a real also reads an integer.
pub trait Decode<'r>: Sized {
    /// The value as this type, or `None` when it is not one.
    fn decode(value: &'r Value) -> Option<Self>;
}

impl Decode<'_> for i64 {
    fn decode(value: &Value) -> Option<Self> {
        match value {
            Value::Integer(i) => Some(*i),
            _ => None,
        }
    }
}

impl Decode<'_> for bool {
    fn decode(value: &Value) -> Option<Self> {
        match value {
            Value::Integer(i) => Some(*i != 0),
            _ => None,
        }
    }
}

impl Decode<'_> for f64 {
    fn decode(value: &Value) -> Option<Self> {
        match value {
            Value::Real(f) => Some(*f),
            Value::Integer(i) => Some(*i as f64),
            _ => None,
        }
    }
}

impl Decode<'_> for String {
    fn decode(value: &Value) -> Option<Self> {
        match value {
            Value::Text(s) => Some(s.clone()),
            _ => None,
        }
    }
}

impl Decode<'_> for Vec<u8> {
    fn decode(value: &Value) -> Option<Self> {
        match value {
            Value::Blob(b) => Some(b.clone()),
            _ => None,
        }
    }
}

impl<'r, T: Decode<'r>> Decode<'r> for Option<T> {
    fn decode(value: &'r Value) -> Option<Self> {
        match value {
            Value::Null => Some(None),
            other => T::decode(other).map(Some),
        }
    }
}

/// A failure SQLite reported, in the shape `sqlx::Error::Database` carries
/// (so `rows::db_error` tells a unique violation from an outage the same
/// way for both connections).
#[derive(Debug)]
struct SqliteFailure {
    /// SQLite's extended result code.
    code: i32,
    message: String,
}

impl fmt::Display for SqliteFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (SQLite code {})", self.message, self.code)
    }
}

impl std::error::Error for SqliteFailure {}

impl DatabaseError for SqliteFailure {
    fn message(&self) -> &str {
        &self.message
    }

    fn code(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Owned(self.code.to_string()))
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> ErrorKind {
        use rusqlite::ffi;
        match self.code {
            ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                ErrorKind::UniqueViolation
            }
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => ErrorKind::ForeignKeyViolation,
            ffi::SQLITE_CONSTRAINT_NOTNULL => ErrorKind::NotNullViolation,
            ffi::SQLITE_CONSTRAINT_CHECK => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}

/// A rusqlite failure as a `sqlx::Error`: SQLite's own failures as database
/// errors, the rest (a bad parameter index, a closed handle) as protocol
/// errors.
fn error(e: rusqlite::Error) -> sqlx::Error {
    match e {
        rusqlite::Error::SqliteFailure(failure, message) => {
            sqlx::Error::Database(Box::new(SqliteFailure {
                code: failure.extended_code,
                message: message.unwrap_or_else(|| failure.to_string()),
            }))
        }
        other => sqlx::Error::Protocol(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> WriterConn {
        let mut conn = WriterConn::open_in_memory().unwrap();
        conn.run_script("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE, n INTEGER)")
            .unwrap();
        conn
    }

    #[tokio::test]
    async fn a_query_binds_in_order_and_reads_columns_by_name() {
        let mut conn = table();
        let done = query("INSERT INTO t (name, n) VALUES (?, ?), (?, ?)")
            .bind("a")
            .bind(Some(1_i64))
            .bind(String::from("b"))
            .bind(None::<i64>)
            .execute(&mut conn)
            .await
            .unwrap();
        assert_eq!(done.rows_affected(), 2);

        let rows = query("SELECT name, n FROM t ORDER BY id").fetch_all(&mut conn).await.unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].try_get::<String, _>("name").unwrap(), "a");
        assert_eq!(rows[0].try_get::<Option<i64>, _>("n").unwrap(), Some(1));
        assert_eq!(rows[1].try_get::<Option<i64>, _>("n").unwrap(), None);
    }

    #[tokio::test]
    async fn a_value_of_the_wrong_type_or_a_missing_column_is_a_decode_error() {
        let mut conn = table();
        query("INSERT INTO t (name, n) VALUES ('a', NULL)").execute(&mut conn).await.unwrap();
        let row = query("SELECT name, n FROM t").fetch_one(&mut conn).await.unwrap();
        assert!(matches!(row.try_get::<i64, _>("name"), Err(sqlx::Error::ColumnDecode { .. })));
        assert!(matches!(row.try_get::<i64, _>("n"), Err(sqlx::Error::ColumnDecode { .. })));
        assert!(matches!(row.try_get::<i64, _>("id"), Err(sqlx::Error::ColumnNotFound(_))));
    }

    #[tokio::test]
    async fn a_unique_violation_is_reported_as_one() {
        let mut conn = table();
        let insert = || query("INSERT INTO t (name) VALUES (?)").bind("same");
        insert().execute(&mut conn).await.unwrap();
        let Err(sqlx::Error::Database(e)) = insert().execute(&mut conn).await else {
            panic!("a second insert of the same name succeeded");
        };
        assert!(e.is_unique_violation(), "{e}");
    }

    #[tokio::test]
    async fn a_wrong_number_of_values_is_refused_before_anything_runs() {
        let mut conn = table();
        let result =
            query("INSERT INTO t (name, n) VALUES (?, ?)").bind("a").execute(&mut conn).await;
        assert!(matches!(result, Err(sqlx::Error::Protocol(_))), "{result:?}");
        let rows = query("SELECT id FROM t").fetch_all(&mut conn).await.unwrap();
        assert!(rows.is_empty());
    }

    #[tokio::test]
    async fn a_returning_statement_runs_whole_even_when_only_its_first_row_is_read() {
        let mut conn = table();
        query("INSERT INTO t (name, n) VALUES ('a', 1), ('b', 1)")
            .execute(&mut conn)
            .await
            .unwrap();
        let first =
            query("UPDATE t SET n = 2 RETURNING id").fetch_optional(&mut conn).await.unwrap();
        assert!(first.is_some());
        let twos = query("SELECT id FROM t WHERE n = 2").fetch_all(&mut conn).await.unwrap();
        assert_eq!(twos.len(), 2);
    }

    /// A writer on a new file `t.db` in `dir`, with a table `t`, whose
    /// checkpointer's wake-ups arrive at the receiver returned (no thread
    /// serves them).
    fn writer_with_checkpointer(
        dir: &Path,
    ) -> (WriterConn, Checkpointer, std::sync::mpsc::Receiver<()>) {
        let (wake, woken) = std::sync::mpsc::sync_channel(1);
        let checkpointer = Checkpointer { wake: Some(wake), thread: None };
        let mut writer = WriterConn::open(&dir.join("t.db"), "FULL")
            .unwrap()
            .checkpoint_with(&checkpointer)
            .unwrap();
        writer.run_script("CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB)").unwrap();
        (writer, checkpointer, woken)
    }

    /// Commits `commits` transactions of 500 rows of a page each, telling
    /// the checkpointer after each.
    async fn commit_pages(writer: &mut WriterConn, commits: usize) {
        for _ in 0..commits {
            writer.run_script("BEGIN").unwrap();
            for _ in 0..500 {
                query("INSERT INTO t (b) VALUES (?)")
                    .bind(vec![7_u8; 4000])
                    .execute(&mut *writer)
                    .await
                    .unwrap();
            }
            writer.run_script("COMMIT").unwrap();
            writer.committed();
        }
    }

    #[tokio::test]
    async fn the_writers_commits_reach_the_database_file_by_the_checkpointer_not_by_themselves() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let file_size = || std::fs::metadata(&path).unwrap().len();
        let (mut writer, checkpointer, woken) = writer_with_checkpointer(dir.path());
        let empty = file_size();
        // More than SQLite's default of 1 000 pages, after which a commit
        // would checkpoint by itself; less than the writer's backstop.
        commit_pages(&mut writer, 3).await;
        let reader = WriterConn::open(&path, "FULL").unwrap();
        drop((writer, checkpointer));
        assert_eq!(file_size(), empty, "the writer checkpointed by itself");

        checkpoint_when_woken(reader, woken);
        assert!(file_size() > 1500 * 4000, "the checkpointer left the file at {}", file_size());
    }

    #[tokio::test]
    async fn the_wal_starts_over_under_commits_that_never_pause_for_the_checkpointer() {
        let dir = tempfile::tempdir().unwrap();
        // A checkpointer that never gets to run.
        let (mut writer, _checkpointer, _woken) = writer_with_checkpointer(dir.path());
        // Three times the backstop, a page a row.
        commit_pages(&mut writer, 24).await;
        let wal = std::fs::metadata(dir.path().join("t.db-wal")).unwrap().len();
        let bound = u64::from(WAL_BACKSTOP_PAGES + 600) * 4096;
        assert!(wal <= bound, "the WAL grew to {wal} bytes, over {bound}");
    }

    #[tokio::test]
    async fn the_readers_pool_gives_the_same_rows_as_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        std::fs::File::create(&path).unwrap();
        let mut conn = WriterConn::open(&path, "FULL").unwrap();
        conn.run_script("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, r REAL, b BLOB)")
            .unwrap();
        query("INSERT INTO t (name, r, b) VALUES (?, ?, ?)")
            .bind("a")
            .bind(0.5)
            .bind(vec![1_u8, 2])
            .execute(&mut conn)
            .await
            .unwrap();
        let pool = SqlitePool::connect(&format!("sqlite://{}", path.display())).await.unwrap();
        let sql = "SELECT id, name, r, b, NULL AS absent FROM t WHERE name = ?";
        let from_writer = query(sql).bind("a").fetch_one(&mut conn).await.unwrap();
        let from_pool = query(sql).bind("a").fetch_one(&pool).await.unwrap();
        assert_eq!(from_writer.values, from_pool.values);
        assert_eq!(from_writer.columns, from_pool.columns);
        assert!(query(sql).bind("b").fetch_optional(&pool).await.unwrap().is_none());
    }
}
