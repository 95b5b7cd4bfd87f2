//! The cost ledger: one row per model call in the notebook database (table
//! `llm_ledger`): when, which provider and model, for what purpose, with
//! which template (name and hash), the tokens by the provider's `usage`,
//! latency, attempts, and the price when one is configured. Sleep-time
//! budgets are sums over it; `swe-sleep status` and eval reports read it.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::params;
use serde::Serialize;

use crate::config::Price;
use crate::notebook::Store;

use super::error::LlmError;
use super::message::Usage;

/// Purposes whose tokens count against the sleep-time budgets.
pub const SLEEP_PURPOSES: &[&str] = &["card", "digest", "anticipate"];

/// One call, as recorded.
#[derive(Debug, Clone, Serialize)]
pub struct LedgerEntry {
    pub provider: String,
    pub model: String,
    pub purpose: String,
    pub template: String,
    pub template_hash: String,
    pub usage: Usage,
    pub latency_ms: u64,
    pub attempts: u32,
    pub ok: bool,
}

/// Totals per purpose, provider and model.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LedgerTotal {
    pub purpose: String,
    pub provider: String,
    pub model: String,
    pub calls: u64,
    pub failed: u64,
    pub usage: Usage,
    /// Dollars, over the calls that had a price.
    pub cost: f64,
}

/// The ledger of one notebook.
pub struct Ledger {
    store: Store,
}

/// Dollars for `u` at `price` (per million tokens).
pub fn cost(u: &Usage, price: &Price) -> f64 {
    (u.input as f64 * price.input
        + u.output as f64 * price.output
        + u.cache_read as f64 * price.cache_read
        + u.cache_write as f64 * price.cache_write)
        / 1e6
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Ledger {
    /// The ledger in `state_dir`'s notebook database (created if needed).
    pub fn open(state_dir: &Path) -> Result<Ledger, LlmError> {
        Ok(Ledger {
            store: Store::open(state_dir)?,
        })
    }

    /// Appends one row.
    pub fn record(&self, e: &LedgerEntry, price: Option<&Price>) -> Result<(), LlmError> {
        let u = &e.usage;
        self.store
            .conn
            .execute(
                "INSERT INTO llm_ledger (at, provider, model, purpose, template, template_hash,
                 input, output, cache_read, cache_write, latency_ms, attempts, ok, cost)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                params![
                    now(),
                    e.provider,
                    e.model,
                    e.purpose,
                    e.template,
                    e.template_hash,
                    u.input as i64,
                    u.output as i64,
                    u.cache_read as i64,
                    u.cache_write as i64,
                    e.latency_ms as i64,
                    e.attempts,
                    e.ok,
                    price.map(|p| cost(u, p)),
                ],
            )
            .map_err(|err| LlmError::Ledger(self.store.err(err)))?;
        Ok(())
    }

    /// Tokens (prompt + output) spent on `purposes` since `since` (unix s).
    pub fn tokens_since(&self, purposes: &[&str], since: i64) -> Result<u64, LlmError> {
        let mut total = 0u64;
        for p in purposes {
            let n: i64 = self
                .store
                .conn
                .query_row(
                    "SELECT coalesce(sum(input + output + cache_read + cache_write), 0)
                     FROM llm_ledger WHERE purpose = ?1 AND at >= ?2",
                    params![p, since],
                    |r| r.get(0),
                )
                .map_err(|err| LlmError::Ledger(self.store.err(err)))?;
            total += n.max(0) as u64;
        }
        Ok(total)
    }

    /// Totals per purpose, provider and model, in that order.
    pub fn totals(&self) -> Result<Vec<LedgerTotal>, LlmError> {
        totals(&self.store)
    }
}

/// [`Ledger::totals`] of the notebook in `state_dir`, without creating one;
/// empty when there is none.
pub fn totals_in(state_dir: &Path) -> Result<Vec<LedgerTotal>, LlmError> {
    match Store::open_existing(state_dir)? {
        Some(store) => totals(&store),
        None => Ok(Vec::new()),
    }
}

fn totals(store: &Store) -> Result<Vec<LedgerTotal>, LlmError> {
    let mut stmt = store
        .conn
        .prepare(
            "SELECT purpose, provider, model, count(*), sum(1 - ok), sum(input), sum(output),
                    sum(cache_read), sum(cache_write), coalesce(sum(cost), 0)
             FROM llm_ledger GROUP BY purpose, provider, model ORDER BY purpose, provider, model",
        )
        .map_err(|e| LlmError::Ledger(store.err(e)))?;
    let rows = stmt
        .query_map([], |r| {
            let n = |i: usize| r.get::<_, i64>(i).map(|v| v.max(0) as u64);
            Ok(LedgerTotal {
                purpose: r.get(0)?,
                provider: r.get(1)?,
                model: r.get(2)?,
                calls: n(3)?,
                failed: n(4)?,
                usage: Usage {
                    input: n(5)?,
                    output: n(6)?,
                    cache_read: n(7)?,
                    cache_write: n(8)?,
                },
                cost: r.get(9)?,
            })
        })
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(|e| LlmError::Ledger(store.err(e)))?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_sum_per_purpose_and_window() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(totals_in(dir.path()).expect("no notebook").is_empty());
        let ledger = Ledger::open(dir.path()).expect("opens");
        let entry = |purpose: &str, input: u64| LedgerEntry {
            provider: "openai".into(),
            model: "m".into(),
            purpose: purpose.into(),
            template: "agent".into(),
            template_hash: "0123456789abcdef".into(),
            usage: Usage {
                input,
                output: 10,
                cache_read: 5,
                cache_write: 0,
            },
            latency_ms: 3,
            attempts: 1,
            ok: true,
        };
        let price = Price {
            input: 1.0,
            output: 2.0,
            ..Price::default()
        };
        ledger
            .record(&entry("card", 100), Some(&price))
            .expect("record");
        ledger.record(&entry("card", 50), None).expect("record");
        ledger.record(&entry("predict", 7), None).expect("record");
        assert_eq!(
            ledger.tokens_since(SLEEP_PURPOSES, 0).expect("sum"),
            100 + 50 + 2 * 15
        );
        assert_eq!(
            ledger
                .tokens_since(SLEEP_PURPOSES, now() + 10)
                .expect("sum"),
            0
        );
        let t = totals_in(dir.path()).expect("totals");
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].purpose, "card");
        assert_eq!(t[0].calls, 2);
        assert_eq!(t[0].usage.input, 150);
        assert!((t[0].cost - (100.0 + 20.0) / 1e6).abs() < 1e-12);
    }
}
