//! What the sleep-time and test-time model passes keep in the notebook,
//! behind typed writers and readers (the notebook owns every SQL
//! statement): cards keyed by blob and model, digests of related pull
//! requests keyed by a content hash and model, anticipated requests keyed
//! by snapshot, and the cost ledger (one row per model call).

use rusqlite::{OptionalExtension, params};

use super::store::{Store, StoreError};

/// One model call, as the cost ledger records it.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerRow {
    /// Unix seconds.
    pub at: i64,
    pub provider: String,
    pub model: String,
    pub purpose: String,
    pub template: String,
    pub template_hash: String,
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
    pub latency_ms: u64,
    pub attempts: u32,
    pub ok: bool,
    /// Dollars, when a price is configured.
    pub cost: Option<f64>,
}

/// Ledger sums per purpose, provider and model.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerSum {
    pub purpose: String,
    pub provider: String,
    pub model: String,
    pub calls: u64,
    pub failed: u64,
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
    pub cost: f64,
}

impl Store {
    /// Whether `model` wrote a card for the blob `oid`.
    pub fn has_llm_card(&self, oid: &str, model: &str) -> Result<bool, StoreError> {
        self.conn
            .query_row(
                "SELECT 1 FROM llm_cards WHERE blob_oid = ?1 AND model = ?2",
                params![oid, model],
                |_| Ok(()),
            )
            .optional()
            .map(|r| r.is_some())
            .map_err(|e| self.err(e))
    }

    /// Stores the card `model` wrote for the blob `oid`.
    pub fn put_llm_card(
        &self,
        oid: &str,
        model: &str,
        template_hash: &str,
        text: &str,
        at: i64,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO llm_cards (blob_oid, model, template_hash, text, at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![oid, model, template_hash, text, at],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// The digest `model` wrote for the prompt with content hash `key`.
    pub fn llm_digest(&self, key: &str, model: &str) -> Result<Option<String>, StoreError> {
        self.ensure_llm_digests()?;
        self.conn
            .query_row(
                "SELECT text FROM llm_digests WHERE key = ?1 AND model = ?2",
                params![key, model],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Stores a digest (see [`Store::llm_digest`]).
    pub fn put_llm_digest(
        &self,
        key: &str,
        model: &str,
        template_hash: &str,
        text: &str,
        at: i64,
    ) -> Result<(), StoreError> {
        self.ensure_llm_digests()?;
        self.conn
            .execute(
                "INSERT OR REPLACE INTO llm_digests (key, model, template_hash, text, at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![key, model, template_hash, text, at],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Stores an anticipated request and its predicted files (best first)
    /// for the snapshot `key`.
    pub fn put_anticipated(
        &self,
        key: &str,
        request: &str,
        files: &[String],
        model: &str,
        at: i64,
    ) -> Result<(), StoreError> {
        let files = serde_json::to_string(files).expect("a list of strings serializes");
        self.conn
            .execute(
                "INSERT OR REPLACE INTO llm_anticipated (commit_oid, request, files, model, at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![key, request, files, model, at],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Appends one row to the cost ledger.
    pub fn append_ledger(&self, r: &LedgerRow) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO llm_ledger (at, provider, model, purpose, template, template_hash,
                 input, output, cache_read, cache_write, latency_ms, attempts, ok, cost)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                params![
                    r.at,
                    r.provider,
                    r.model,
                    r.purpose,
                    r.template,
                    r.template_hash,
                    r.input as i64,
                    r.output as i64,
                    r.cache_read as i64,
                    r.cache_write as i64,
                    r.latency_ms as i64,
                    r.attempts,
                    r.ok,
                    r.cost,
                ],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Tokens (prompt + output) the ledger holds for `purposes` since
    /// `since` (unix seconds).
    pub fn ledger_tokens_since(&self, purposes: &[&str], since: i64) -> Result<u64, StoreError> {
        let mut total = 0u64;
        for p in purposes {
            let n: i64 = self
                .conn
                .query_row(
                    "SELECT coalesce(sum(input + output + cache_read + cache_write), 0)
                     FROM llm_ledger WHERE purpose = ?1 AND at >= ?2",
                    params![p, since],
                    |r| r.get(0),
                )
                .map_err(|e| self.err(e))?;
            total += n.max(0) as u64;
        }
        Ok(total)
    }

    /// Ledger sums per purpose, provider and model, in that order.
    pub fn ledger_sums(&self) -> Result<Vec<LedgerSum>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT purpose, provider, model, count(*), sum(1 - ok), sum(input), sum(output),
                        sum(cache_read), sum(cache_write), coalesce(sum(cost), 0)
                 FROM llm_ledger GROUP BY purpose, provider, model ORDER BY purpose, provider, model",
            )
            .map_err(|e| self.err(e))?;
        stmt.query_map([], |r| {
            let n = |i: usize| r.get::<_, i64>(i).map(|v| v.max(0) as u64);
            Ok(LedgerSum {
                purpose: r.get(0)?,
                provider: r.get(1)?,
                model: r.get(2)?,
                calls: n(3)?,
                failed: n(4)?,
                input: n(5)?,
                output: n(6)?,
                cache_read: n(7)?,
                cache_write: n(8)?,
                cost: r.get(9)?,
            })
        })
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(|e| self.err(e))
    }
}
