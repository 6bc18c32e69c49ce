//! chatgate's persistence: the [`Store`](chatgate_core::store::Store) port
//! implemented on SQLite (the embedded default) and on PostgreSQL (several
//! nodes on one database). Both run the same SQL code (`sql/`), compiled
//! once per backend with its types.
//!
//! Writes on the hot paths are batched by one writer per database (group
//! commit, multi-row inserts); every call that changes something returns
//! only after its commit.

#![forbid(unsafe_code)]

/// The shared SQL code (`sql/`), compiled in the invoking backend module
/// with that backend's types (its `backend` module).
macro_rules! shared_sql_modules {
    () => {
        #[allow(clippy::duplicate_mod)]
        #[path = "../sql/janitor.rs"]
        mod janitor;
        #[allow(clippy::duplicate_mod)]
        #[path = "../sql/journal.rs"]
        mod journal;
        #[allow(clippy::duplicate_mod)]
        #[path = "../sql/ops.rs"]
        mod ops;
        #[allow(clippy::duplicate_mod)]
        #[path = "../sql/push.rs"]
        mod push;
        #[allow(clippy::duplicate_mod)]
        #[path = "../sql/rows.rs"]
        mod rows;
        #[allow(clippy::duplicate_mod)]
        #[path = "../sql/store.rs"]
        mod store;
        #[allow(clippy::duplicate_mod)]
        #[path = "../sql/writer.rs"]
        mod writer;
    };
}

// The shared SQL files once more, never compiled, so that rustfmt (which
// does not expand macros) formats them too.
#[cfg(any())]
mod sql {
    mod janitor;
    mod journal;
    mod ops;
    mod push;
    mod rows;
    mod store;
    mod writer;
}

mod at_rest;
mod cache;
pub mod postgres;
pub mod sqlite;
pub mod testing;

pub use postgres::{PostgresOptions, PostgresStore};
pub use sqlite::{Durability, SqliteOptions, SqliteStore};
