//! What the model calls of the held repositories cost: per repository and
//! for the service, from the shared ledger in PostgreSQL
//! ([`super::pg::ledger`], every process's calls) or, without one, from
//! each held notebook's own ledger (this process's calls).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::notebook::Store;

use super::registry::Registry;

/// Model calls and their tokens and dollars.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Spend {
    pub calls: u64,
    pub failed: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
    /// Dollars, over the calls whose model has a price.
    pub cost: f64,
}

impl Spend {
    pub fn add(&mut self, o: &Spend) {
        self.calls += o.calls;
        self.failed += o.failed;
        self.input_tokens += o.input_tokens;
        self.output_tokens += o.output_tokens;
        self.cache_read_tokens += o.cache_read_tokens;
        self.cache_write_tokens += o.cache_write_tokens;
        self.cost += o.cost;
    }
}

/// Spend by repository (`owner/name`).
pub type Spends = BTreeMap<String, Spend>;

/// Each held repository's spend from its notebook's ledger (blocking: one
/// small read per notebook); a notebook not made yet has spent nothing.
pub fn from_notebooks(registry: &Registry) -> Result<Spends, crate::notebook::StoreError> {
    let mut out = Spends::new();
    for h in registry.list() {
        let Some(store) = Store::open_existing(&h.notebook_dir())? else {
            continue;
        };
        let mut spend = Spend::default();
        for s in store.ledger_sums()? {
            spend.add(&Spend {
                calls: s.calls,
                failed: s.failed,
                input_tokens: s.input,
                output_tokens: s.output,
                cache_read_tokens: s.cache_read,
                cache_write_tokens: s.cache_write,
                cost: s.cost,
            });
        }
        out.insert(h.name.clone(), spend);
    }
    Ok(out)
}

/// Prometheus text for the spend: the service's total, then each
/// repository's, labelled `repo="owner/name"`.
pub fn metrics(total: &Spend, per: &[(&str, &Spend)]) -> String {
    let mut out = String::new();
    let mut family = |name: &str, help: &str, value: &dyn Fn(&Spend) -> String| {
        for (scope, what) in [("service", "all repositories"), ("repo", "a repository")] {
            out.push_str(&format!(
                "# HELP swe_sleep_{scope}_{name} {help}, {what}.\n# TYPE swe_sleep_{scope}_{name} counter\n"
            ));
            if scope == "service" {
                out.push_str(&format!("swe_sleep_{scope}_{name} {}\n", value(total)));
            } else {
                for (repo, s) in per {
                    out.push_str(&format!(
                        "swe_sleep_{scope}_{name}{{repo=\"{repo}\"}} {}\n",
                        value(s)
                    ));
                }
            }
        }
    };
    family("model_calls_total", "Model calls", &|s| s.calls.to_string());
    family(
        "model_failed_calls_total",
        "Model calls that failed",
        &|s| s.failed.to_string(),
    );
    family(
        "model_input_tokens_total",
        "Prompt tokens by the provider's count",
        &|s| s.input_tokens.to_string(),
    );
    family(
        "model_output_tokens_total",
        "Output tokens by the provider's count",
        &|s| s.output_tokens.to_string(),
    );
    family(
        "model_cost_dollars_total",
        "Dollars spent on models with a configured price",
        &|s| s.cost.to_string(),
    );
    out
}
