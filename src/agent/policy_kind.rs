//! Which policy a run uses (`--policy offline|llm|llm-rerank`), and the
//! factory that builds one per run, sharing one provider connection.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::config::LlmConfig;
use crate::llm::{self, Ledger, LlmError, Provider};

use super::llm_policy::LlmPolicy;
use super::offline::OfflinePolicy;
use super::rerank::RerankPolicy;
use super::run::Policy;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyKind {
    /// Deterministic, no model.
    #[default]
    Offline,
    /// A model calls the tools (`[llm.test]`).
    Llm,
    /// The offline policy, then one model call that reranks its candidates.
    LlmRerank,
}

impl PolicyKind {
    pub fn parse(s: &str) -> Option<PolicyKind> {
        match s {
            "offline" => Some(PolicyKind::Offline),
            "llm" => Some(PolicyKind::Llm),
            "llm-rerank" => Some(PolicyKind::LlmRerank),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PolicyKind::Offline => "offline",
            PolicyKind::Llm => "llm",
            PolicyKind::LlmRerank => "llm-rerank",
        }
    }
}

/// Builds the policy of each run.
pub struct PolicyFactory {
    kind: PolicyKind,
    provider: Option<Arc<dyn Provider>>,
    prompts: Option<PathBuf>,
}

impl PolicyFactory {
    /// Connects to `[llm.test]` when `kind` needs a model. `prompts` is the
    /// state directory whose `prompts/` may override the templates.
    pub fn new(
        kind: PolicyKind,
        cfg: &LlmConfig,
        prompts: Option<&Path>,
    ) -> Result<PolicyFactory, LlmError> {
        let provider = match (kind, &cfg.test) {
            (PolicyKind::Offline, _) => None,
            (_, Some(model)) => Some(llm::connect(model, "llm.test")?),
            (_, None) => {
                return Err(LlmError::Config(format!(
                    "--policy {} needs a model: add an [llm.test] table (provider, model, base_url, api_key) to swe-sleep.toml; see the README",
                    kind.as_str()
                )));
            }
        };
        Ok(PolicyFactory {
            kind,
            provider,
            prompts: prompts.map(Path::to_path_buf),
        })
    }

    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    /// A fresh policy whose calls go to the ledger in `ledger_dir`.
    pub fn make(&self, ledger_dir: Option<&Path>) -> Result<Box<dyn Policy>, LlmError> {
        let ledger = match (self.kind, ledger_dir) {
            (PolicyKind::Offline, _) | (_, None) => None,
            (_, Some(dir)) => match Ledger::open(dir) {
                Ok(l) => Some(l),
                Err(e) => {
                    tracing::warn!("no cost ledger for this run: {e}");
                    None
                }
            },
        };
        let prompts = self.prompts.as_deref();
        let provider = || self.provider.clone().expect("connected in new");
        Ok(match self.kind {
            PolicyKind::Offline => Box::new(OfflinePolicy::default()),
            PolicyKind::Llm => Box::new(LlmPolicy::new(provider(), ledger, prompts)?),
            PolicyKind::LlmRerank => Box::new(RerankPolicy::new(provider(), ledger, prompts)?),
        })
    }
}
