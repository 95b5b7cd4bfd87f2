//! The service's cost ledger in PostgreSQL (`llm_ledger`): every model
//! call any `serve` process makes for a held repository (the sleep-time
//! cards and anticipations, a model-driven prediction), one row each with
//! the repository and the process, written when the call is made, as the
//! notebook's own ledger is. The notebook is a cache a new holder rebuilds;
//! this table is the spend that survives it and that every process sees,
//! and the sleep-time budgets (`llm.sleep_tokens_per_*`) of a repository
//! are counted from it.

use std::sync::Arc;

use deadpool_postgres::Pool;
use tokio::runtime::Handle;

use crate::llm::ledger_copy::LedgerCopy;
use crate::notebook::llm_store::LedgerRow;

use super::PgError;
use crate::fleet::spend::{Spend, Spends};

/// The shared ledger of one process (`worker` names it in each row).
pub struct PgLedger {
    pool: Pool,
    runtime: Handle,
    worker: String,
}

impl std::fmt::Debug for PgLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgLedger")
            .field("worker", &self.worker)
            .finish_non_exhaustive()
    }
}

fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn uint(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl PgLedger {
    /// The ledger on `pool`; rows are written on `runtime` (callers of
    /// [`LedgerCopy::append`] are on blocking threads).
    pub fn new(pool: Pool, runtime: Handle, worker: String) -> PgLedger {
        PgLedger {
            pool,
            runtime,
            worker,
        }
    }

    /// What the ledger copy of `repo`'s notebook writes through.
    pub fn for_repo(self: &Arc<Self>, repo: &str) -> Arc<dyn LedgerCopy> {
        Arc::new(RepoLedger {
            ledger: self.clone(),
            repo: repo.to_string(),
        })
    }

    /// Appends `row` for `repo`.
    pub async fn append(&self, repo: &str, row: &LedgerRow) -> Result<(), PgError> {
        let c = self.pool.get().await.map_err(PgError::Connect)?;
        c.execute(
            "INSERT INTO llm_ledger (repo, worker, at, provider, model, purpose, template,
                 template_hash, input_tokens, output_tokens, cache_read_tokens,
                 cache_write_tokens, latency_ms, attempts, ok, cost)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
            &[
                &repo,
                &self.worker,
                &row.at,
                &row.provider,
                &row.model,
                &row.purpose,
                &row.template,
                &row.template_hash,
                &int(row.input),
                &int(row.output),
                &int(row.cache_read),
                &int(row.cache_write),
                &int(row.latency_ms),
                &i32::try_from(row.attempts).unwrap_or(i32::MAX),
                &row.ok,
                &row.cost,
            ],
        )
        .await
        .map_err(|source| PgError::Statement {
            what: "record a model call",
            source,
        })?;
        Ok(())
    }

    /// Tokens (prompt, output and cache) spent for `repo` on `purposes`
    /// since `since` (unix seconds), by every process.
    pub async fn tokens_since(
        &self,
        repo: &str,
        purposes: &[&str],
        since: i64,
    ) -> Result<u64, PgError> {
        let c = self.pool.get().await.map_err(PgError::Connect)?;
        let purposes: Vec<String> = purposes.iter().map(|p| p.to_string()).collect();
        let row = c
            .query_one(
                "SELECT COALESCE(SUM(input_tokens + output_tokens + cache_read_tokens
                                     + cache_write_tokens), 0)::BIGINT
                 FROM llm_ledger WHERE repo = $1 AND purpose = ANY($2) AND at >= $3",
                &[&repo, &purposes, &since],
            )
            .await
            .map_err(|source| PgError::Statement {
                what: "the tokens spent",
                source,
            })?;
        Ok(uint(row.get(0)))
    }

    /// Every repository's spend, by every process.
    pub async fn spends(&self) -> Result<Spends, PgError> {
        let c = self.pool.get().await.map_err(PgError::Connect)?;
        let rows = c
            .query(
                "SELECT repo, COUNT(*), COUNT(*) FILTER (WHERE NOT ok),
                        COALESCE(SUM(input_tokens), 0)::BIGINT, COALESCE(SUM(output_tokens), 0)::BIGINT,
                        COALESCE(SUM(cache_read_tokens), 0)::BIGINT,
                        COALESCE(SUM(cache_write_tokens), 0)::BIGINT,
                        COALESCE(SUM(cost), 0)::DOUBLE PRECISION
                 FROM llm_ledger GROUP BY repo",
                &[],
            )
            .await
            .map_err(|source| PgError::Statement {
                what: "the model spend",
                source,
            })?;
        Ok(rows
            .iter()
            .map(|r| {
                (
                    r.get::<_, String>(0),
                    Spend {
                        calls: uint(r.get(1)),
                        failed: uint(r.get(2)),
                        input_tokens: uint(r.get(3)),
                        output_tokens: uint(r.get(4)),
                        cache_read_tokens: uint(r.get(5)),
                        cache_write_tokens: uint(r.get(6)),
                        cost: r.get(7),
                    },
                )
            })
            .collect())
    }
}

/// The ledger copy registered for one held repository's notebook.
struct RepoLedger {
    ledger: Arc<PgLedger>,
    repo: String,
}

impl LedgerCopy for RepoLedger {
    fn append(&self, row: &LedgerRow) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.ledger
            .runtime
            .block_on(self.ledger.append(&self.repo, row))
            .map_err(Into::into)
    }

    fn tokens_since(
        &self,
        purposes: &[&str],
        since: i64,
    ) -> Result<u64, Box<dyn std::error::Error + Send + Sync>> {
        self.ledger
            .runtime
            .block_on(self.ledger.tokens_since(&self.repo, purposes, since))
            .map_err(Into::into)
    }
}
