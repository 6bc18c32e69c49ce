//! Test support: a fresh PostgreSQL schema per test, so tests on one
//! database never see each other's rows.
//!
//! The database is `CHATGATE_TEST_POSTGRES_URL`, else
//! `postgres://postgres@127.0.0.1:5432/test`. When it cannot be reached,
//! a test that needs it fails under CI (`CI` set) and is skipped, loudly,
//! elsewhere.

use sqlx::Connection;

/// The database tests use when none is given.
pub const DEFAULT_TEST_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The test database's URL.
pub fn test_postgres_url() -> String {
    std::env::var("CHATGATE_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| DEFAULT_TEST_POSTGRES_URL.to_owned())
}

/// Creates a new empty schema and returns a URL whose connections use it;
/// `None` (after a loud message) when PostgreSQL cannot be reached outside
/// CI.
///
/// # Panics
///
/// Under CI, when PostgreSQL cannot be reached.
pub async fn fresh_postgres_schema() -> Option<String> {
    let base = test_postgres_url();
    let mut conn = match sqlx::PgConnection::connect(&base).await {
        Ok(conn) => conn,
        Err(e) => {
            if std::env::var_os("CI").is_some() {
                panic!("PostgreSQL at {base} is needed by this test and cannot be reached: {e}");
            }
            eprintln!(
                "\n!!! SKIPPED: PostgreSQL at {base} cannot be reached ({e}); \
                 set CHATGATE_TEST_POSTGRES_URL or start PostgreSQL to run this test\n"
            );
            return None;
        }
    };
    let schema = format!("cg_{}", uuid::Uuid::now_v7().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut conn)
        .await
        .expect("create a test schema");
    let _ = conn.close().await;
    let separator = if base.contains('?') { '&' } else { '?' };
    Some(format!("{base}{separator}options=-c%20search_path%3D{schema}"))
}
