//! idem's database schema: its own SQL migrations (append-only, in `migrations/sql`) and the queue tables of
//! apalis, applied together by [`migrate`].
//!
//! apalis 1.0 records its migrations in `apalis._sqlx_migrations` and idem in `public._sqlx_migrations`, so
//! the two migrators never see each other's versions (the clash of apalis issues #81/#439 cannot happen).

use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection};

/// idem's own migrations (not apalis's). Use [`migrate`] to apply everything.
pub static MIGRATOR: Migrator = sqlx::migrate!("./sql");

/// Errors from setting up the database.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A database URL that cannot be parsed.
    #[error("invalid database URL: {0}")]
    Url(#[source] sqlx::Error),
    /// Creating the database failed.
    #[error("cannot create database {database}: {source}")]
    CreateDatabase {
        /// The database name.
        database: String,
        /// The cause.
        #[source]
        source: sqlx::Error,
    },
    /// apalis's migrations failed.
    #[error("apalis migrations failed: {0}")]
    Apalis(#[source] sqlx::migrate::MigrateError),
    /// idem's migrations failed.
    #[error("idem migrations failed: {0}")]
    Idem(#[source] sqlx::migrate::MigrateError),
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Applies apalis's queue migrations, then idem's, to the database behind `pool`.
///
/// Safe to run repeatedly and from several processes at once (sqlx takes an advisory lock per migrator).
pub async fn migrate(pool: &PgPool) -> Result<()> {
    apalis_postgres::PostgresStorage::<()>::migrations()
        .run(pool)
        .await
        .map_err(Error::Apalis)?;
    MIGRATOR.run(pool).await.map_err(Error::Idem)?;
    Ok(())
}

/// Creates the database named in `url` if it does not exist, connecting to the server's `postgres`
/// database to do so. Returns whether it was created.
pub async fn create_database_if_missing(url: &str) -> Result<bool> {
    let opts: PgConnectOptions = url.parse().map_err(Error::Url)?;
    let database = opts.get_database().unwrap_or("postgres").to_owned();
    let admin = opts.clone().database("postgres");
    let mut conn = admin
        .connect()
        .await
        .map_err(|source| Error::CreateDatabase {
            database: database.clone(),
            source,
        })?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&database)
            .fetch_one(&mut conn)
            .await
            .map_err(|source| Error::CreateDatabase {
                database: database.clone(),
                source,
            })?;
    if exists {
        let _ = conn.close().await;
        return Ok(false);
    }
    let quoted = format!("\"{}\"", database.replace('"', "\"\""));
    // The name is quoted as an identifier above; CREATE DATABASE takes no bind parameters.
    let created = sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {quoted}")))
        .execute(&mut conn)
        .await;
    let _ = conn.close().await;
    match created {
        Ok(_) => {
            tracing::info!(database, "Created database.");
            Ok(true)
        }
        // Another process created it between the check and the CREATE.
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P04") => Ok(false),
        Err(source) => Err(Error::CreateDatabase { database, source }),
    }
}

/// Connects a pool of at most `max_connections` to `url`.
///
/// Bulk statements of import runs (loading a million records, regrouping) legitimately take
/// seconds; a statement is logged as slow only after a minute.
///
/// JIT compilation is off for these connections: idem's statements are either short (the API's) or
/// bulk writes over every row, which PostgreSQL plans as costly enough to compile (with inlining and
/// optimisation, a tenth of a second or more each) and which then ran slower, not faster (measured:
/// the match step of the first import of a million records took 33.3 s instead of 37.0 s without it).
pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    let options = url
        .parse::<sqlx::postgres::PgConnectOptions>()?
        .options([("jit", "off")])
        .log_slow_statements(log::LevelFilter::Warn, std::time::Duration::from_secs(60));
    PgPoolOptions::new()
        .max_connections(max_connections)
        .connect_with(options)
        .await
}
