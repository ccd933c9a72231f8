//! The PostgreSQL pool and the embedded migrations.

pub mod schema;

use std::time::Duration;

use diesel::migration::MigrationSource;
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::deadpool::{Object, Pool, PoolError};
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

/// The migrations in `migrations/`, compiled into the binary.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations");

/// A pool of async PostgreSQL connections.
pub type DbPool = Pool<AsyncPgConnection>;
/// A connection checked out of the pool.
pub type DbConn = Object<AsyncPgConnection>;

/// Database failures of the process (not of a request).
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("could not build the connection pool: {0}")]
    Pool(String),
    #[error("could not get a database connection: {0}")]
    Checkout(#[from] PoolError),
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("migration failed: {0}")]
    Migration(String),
}

/// Builds the pool; connections are opened lazily.
pub fn build_pool(database_url: &str, max_size: usize) -> Result<DbPool, DbError> {
    build_pool_with_timeout(database_url, max_size, Duration::ZERO)
}

/// Builds the pool; every connection gets `statement_timeout` (zero: none), so a runaway query is
/// cancelled by PostgreSQL instead of holding its connection.
pub fn build_pool_with_timeout(
    database_url: &str,
    max_size: usize,
    statement_timeout: Duration,
) -> Result<DbPool, DbError> {
    let timeout_ms = statement_timeout.as_millis();
    let mut config = ManagerConfig::<AsyncPgConnection>::default();
    config.custom_setup = Box::new(move |url: &str| {
        let url = url.to_owned();
        Box::pin(async move {
            let mut conn = <AsyncPgConnection as diesel_async::AsyncConnection>::establish(&url).await?;
            if timeout_ms > 0 {
                diesel::sql_query(format!("SET statement_timeout = {timeout_ms}"))
                    .execute(&mut conn)
                    .await
                    .map_err(ConnectionError::CouldntSetupConfiguration)?;
            }
            Ok(conn)
        })
    });
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(database_url, config);
    Pool::builder(manager)
        .max_size(max_size)
        .wait_timeout(Some(Duration::from_secs(10)))
        .create_timeout(Some(Duration::from_secs(10)))
        .runtime(deadpool_runtime())
        .build()
        .map_err(|e| DbError::Pool(e.to_string()))
}

fn deadpool_runtime() -> deadpool::Runtime {
    deadpool::Runtime::Tokio1
}

/// The versions of every embedded migration, oldest first.
pub fn embedded_versions() -> Vec<String> {
    MigrationSource::<diesel::pg::Pg>::migrations(&MIGRATIONS)
        .map(|ms| ms.iter().map(|m| m.name().version().to_string()).collect())
        .unwrap_or_default()
}

#[derive(QueryableByName)]
struct Version {
    #[diesel(sql_type = Text)]
    version: String,
}

/// Embedded migrations not yet applied to the database (empty when current).
pub async fn pending_versions(conn: &mut AsyncPgConnection) -> Result<Vec<String>, DbError> {
    let exists: bool = diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(
        "to_regclass('__diesel_schema_migrations') IS NOT NULL",
    ))
    .get_result(conn)
    .await?;
    let applied: Vec<String> = if exists {
        diesel::sql_query("SELECT version FROM __diesel_schema_migrations")
            .load::<Version>(conn)
            .await?
            .into_iter()
            .map(|v| v.version)
            .collect()
    } else {
        Vec::new()
    };
    Ok(embedded_versions().into_iter().filter(|v| !applied.contains(v)).collect())
}

/// Applies pending migrations; returns the versions applied.
pub async fn run_migrations(database_url: &str) -> Result<Vec<String>, DbError> {
    with_sync_connection(database_url, |conn| {
        conn.run_pending_migrations(MIGRATIONS)
            .map(|vs| vs.iter().map(|v| v.to_string()).collect())
            .map_err(|e| DbError::Migration(e.to_string()))
    })
    .await
}

/// Reverts every migration (down.sql, newest first); returns the versions reverted.
pub async fn revert_all_migrations(database_url: &str) -> Result<Vec<String>, DbError> {
    with_sync_connection(database_url, |conn| {
        conn.revert_all_migrations(MIGRATIONS)
            .map(|vs| vs.iter().map(|v| v.to_string()).collect())
            .map_err(|e| DbError::Migration(e.to_string()))
    })
    .await
}

async fn with_sync_connection<T: Send + 'static>(
    database_url: &str,
    f: impl FnOnce(&mut AsyncConnectionWrapper<AsyncPgConnection>) -> Result<T, DbError> + Send + 'static,
) -> Result<T, DbError> {
    let url = database_url.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::establish(&url)
            .map_err(|e| DbError::Migration(format!("cannot connect: {e}")))?;
        f(&mut conn)
    })
    .await
    .map_err(|e| DbError::Migration(e.to_string()))?
}
