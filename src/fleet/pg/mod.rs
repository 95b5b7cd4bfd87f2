//! The fleet's shared state in PostgreSQL (`[service] database`): the
//! delivery queue and results ([`queue::PgQueue`], the same
//! [`crate::github::job_queue::JobQueue`] as SQLite's), the repository
//! leases ([`leases::Leases`]) and the cost ledger of every model call
//! ([`ledger::PgLedger`]), through `tokio-postgres` with a
//! `deadpool-postgres` pool, over TLS as the connection string's `sslmode`
//! asks ([`tls`]). The schema is created at connection, once,
//! under an advisory lock, so processes starting together do not race.

pub mod leases;
pub mod ledger;
pub mod queue;
pub mod tls;

use std::str::FromStr;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};

/// What went wrong with the database; never holds the URL (it may hold a
/// password).
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error(
        "service.database is not a postgresql connection string (postgres://... or key=value pairs)"
    )]
    Url(#[source] tokio_postgres::Error),
    #[error("cannot build the postgresql pool")]
    Pool(#[source] deadpool_postgres::BuildError),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("cannot reach postgresql")]
    Connect(#[source] deadpool_postgres::PoolError),
    #[error("postgresql: {what}")]
    Statement {
        what: &'static str,
        #[source]
        source: tokio_postgres::Error,
    },
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS deliveries (
    id TEXT PRIMARY KEY,
    seq BIGSERIAL,
    event TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed', 'ignored')),
    job TEXT,
    repo TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at BIGINT NOT NULL DEFAULT 0,
    note TEXT,
    target TEXT,
    claimed_by TEXT,
    -- Claims (a job waiting for its notebook is claimed again), times
    -- it finished (exactly once), times a dead or stopping holder's
    -- running job was queued again.
    runs INTEGER NOT NULL DEFAULT 0,
    finished INTEGER NOT NULL DEFAULT 0,
    requeued INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, next_at);
CREATE INDEX IF NOT EXISTS deliveries_target ON deliveries (target, state);
CREATE INDEX IF NOT EXISTS deliveries_repo ON deliveries (repo, state);
CREATE TABLE IF NOT EXISTS results (
    repo TEXT NOT NULL,
    number BIGINT NOT NULL,
    kind TEXT NOT NULL,
    comment_id BIGINT,
    prediction TEXT NOT NULL,
    notebook_commit TEXT,
    delivery TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (repo, number)
);
CREATE TABLE IF NOT EXISTS leases (
    repo TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    until_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS workers (
    id TEXT PRIMARY KEY,
    seen_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS llm_ledger (
    id BIGSERIAL PRIMARY KEY,
    repo TEXT NOT NULL,
    worker TEXT NOT NULL,
    -- Unix seconds, as the notebook's ledger.
    at BIGINT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    purpose TEXT NOT NULL,
    template TEXT NOT NULL,
    template_hash TEXT NOT NULL,
    input_tokens BIGINT NOT NULL,
    output_tokens BIGINT NOT NULL,
    cache_read_tokens BIGINT NOT NULL,
    cache_write_tokens BIGINT NOT NULL,
    latency_ms BIGINT NOT NULL,
    attempts INTEGER NOT NULL,
    ok BOOLEAN NOT NULL,
    -- Dollars, when the model has a price.
    cost DOUBLE PRECISION
);
CREATE INDEX IF NOT EXISTS llm_ledger_repo ON llm_ledger (repo, at);
";

/// Any constant: the key of the advisory lock the schema is created under.
const SCHEMA_LOCK: i64 = 0x5357_4553_4c45_4550;

/// A pool on `url`, with the schema in place; `ca` adds a certificate
/// authority for TLS to the system's roots.
pub async fn connect(
    url: &str,
    max_size: usize,
    ca: Option<&std::path::Path>,
) -> Result<Pool, PgError> {
    let config = tokio_postgres::Config::from_str(url).map_err(PgError::Url)?;
    let manager = Manager::from_config(
        config,
        tls::connector(ca)?,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let pool = Pool::builder(manager)
        .max_size(max_size.max(2))
        .build()
        .map_err(PgError::Pool)?;
    let mut client = pool.get().await.map_err(PgError::Connect)?;
    let tx = client
        .transaction()
        .await
        .map_err(|source| PgError::Statement {
            what: "begin",
            source,
        })?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
        .await
        .map_err(|source| PgError::Statement {
            what: "schema lock",
            source,
        })?;
    tx.batch_execute(SCHEMA)
        .await
        .map_err(|source| PgError::Statement {
            what: "schema",
            source,
        })?;
    tx.commit().await.map_err(|source| PgError::Statement {
        what: "schema commit",
        source,
    })?;
    Ok(pool)
}
