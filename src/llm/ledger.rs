//! The cost ledger: one row per model call in the notebook database (table
//! `llm_ledger`): when, which provider and model, for what purpose, with
//! which template (name and hash), the tokens by the provider's `usage`,
//! latency, attempts, and the price when one is configured. Sleep-time
//! budgets are sums over it; `swe-sleep status` and eval reports read it.

use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::config::Price;
use crate::notebook::Store;
use crate::notebook::llm_store::LedgerRow;

use super::error::LlmError;
use super::ledger_copy::LedgerCopy;
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

/// The ledger of one notebook, and the copy registered for its directory
/// ([`super::ledger_copy`]).
pub struct Ledger {
    store: Store,
    copy: Option<Arc<dyn LedgerCopy>>,
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
    /// The ledger in `state_dir`'s notebook database (created if needed),
    /// with the copy registered for `state_dir`, if any.
    pub fn open(state_dir: &Path) -> Result<Ledger, LlmError> {
        Ok(Ledger {
            store: Store::open(state_dir)?,
            copy: super::ledger_copy::registered(state_dir),
        })
    }

    /// Appends one row to the notebook and to the registered copy; both
    /// are tried, the first failure is returned.
    pub fn record(&self, e: &LedgerEntry, price: Option<&Price>) -> Result<(), LlmError> {
        let u = &e.usage;
        let row = LedgerRow {
            at: now(),
            provider: e.provider.clone(),
            model: e.model.clone(),
            purpose: e.purpose.clone(),
            template: e.template.clone(),
            template_hash: e.template_hash.clone(),
            input: u.input,
            output: u.output,
            cache_read: u.cache_read,
            cache_write: u.cache_write,
            latency_ms: e.latency_ms,
            attempts: e.attempts,
            ok: e.ok,
            cost: price.map(|p| cost(u, p)),
        };
        let local = self.store.append_ledger(&row);
        let copied = match &self.copy {
            Some(copy) => copy.append(&row).map_err(LlmError::LedgerCopy),
            None => Ok(()),
        };
        local?;
        copied
    }

    /// Tokens (prompt + output) spent on `purposes` since `since` (unix s):
    /// the notebook's count, or the registered copy's when that is larger
    /// (it also holds what other processes spent, or an earlier notebook).
    pub fn tokens_since(&self, purposes: &[&str], since: i64) -> Result<u64, LlmError> {
        let local = self.store.ledger_tokens_since(purposes, since)?;
        let shared = match &self.copy {
            Some(copy) => copy
                .tokens_since(purposes, since)
                .map_err(LlmError::LedgerCopy)?,
            None => 0,
        };
        Ok(local.max(shared))
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
    Ok(store
        .ledger_sums()?
        .into_iter()
        .map(|s| LedgerTotal {
            purpose: s.purpose,
            provider: s.provider,
            model: s.model,
            calls: s.calls,
            failed: s.failed,
            usage: Usage {
                input: s.input,
                output: s.output,
                cache_read: s.cache_read,
                cache_write: s.cache_write,
            },
            cost: s.cost,
        })
        .collect())
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

    /// Rows copied, in the order written.
    #[derive(Default)]
    struct Copied(std::sync::Mutex<Vec<LedgerRow>>);

    impl crate::llm::ledger_copy::LedgerCopy for Copied {
        fn append(&self, row: &LedgerRow) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
            if row.purpose == "refused" {
                return Err("the copy refuses".into());
            }
            self.0.lock().expect("lock").push(row.clone());
            Ok(())
        }

        /// As if another process had spent 1,000 tokens on cards.
        fn tokens_since(
            &self,
            purposes: &[&str],
            _since: i64,
        ) -> Result<u64, Box<dyn std::error::Error + Send + Sync>> {
            Ok(if purposes.contains(&"card") { 1000 } else { 0 })
        }
    }

    #[test]
    fn a_registered_copy_gets_every_row_while_registered() {
        let dir = tempfile::tempdir().expect("tempdir");
        let copied = Arc::new(Copied::default());
        let entry = |purpose: &str| LedgerEntry {
            provider: "openai".into(),
            model: "m".into(),
            purpose: purpose.into(),
            template: "file_card".into(),
            template_hash: "0123456789abcdef".into(),
            usage: Usage {
                input: 12,
                output: 3,
                cache_read: 0,
                cache_write: 0,
            },
            latency_ms: 1,
            attempts: 1,
            ok: true,
        };
        let registration = crate::llm::ledger_copy::register(dir.path(), copied.clone());
        let ledger = Ledger::open(dir.path()).expect("opens");
        ledger.record(&entry("card"), None).expect("record");
        let err = ledger
            .record(&entry("refused"), None)
            .expect_err("the copy's failure is the caller's");
        assert!(matches!(err, LlmError::LedgerCopy(_)), "{err:?}");
        assert_eq!(
            ledger.tokens_since(SLEEP_PURPOSES, 0).expect("sum"),
            1000,
            "the larger of the notebook's count and the copy's"
        );
        drop(registration);
        assert_eq!(
            Ledger::open(dir.path())
                .expect("opens")
                .tokens_since(SLEEP_PURPOSES, 0)
                .expect("sum"),
            15,
            "without a copy, the notebook's own count"
        );
        Ledger::open(dir.path())
            .expect("opens")
            .record(&entry("anticipate"), None)
            .expect("record");
        let rows = copied.0.lock().expect("lock").clone();
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!((rows[0].purpose.as_str(), rows[0].input), ("card", 12));
        let local: u64 = totals_in(dir.path())
            .expect("totals")
            .iter()
            .map(|t| t.calls)
            .sum();
        assert_eq!(local, 3, "the notebook keeps every row, copied or not");
    }
}
