//! One prediction inside the daemon, shared by `POST /predict` and the
//! GitHub worker. Blocking: call it from a blocking thread.
//!
//! Opening a repository and a notebook costs more than a prediction's
//! queries, so each blocking worker borrows an open pair from a small pool
//! and gives it back. A pooled notebook is checked against the store's
//! newest snapshot before use and reopened once a sleep has finished.

use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::agent::anticipate;
use crate::agent::sleep_tools::NotebookTools;
use crate::agent::{PolicyFactory, PolicyKind, Prediction};
use crate::git::Repo;
use crate::llm::LlmError;
use crate::notebook::Notebook;

use super::state::Shared;

/// Open readers kept for reuse; more concurrent requests open their own.
const POOL_SIZE: usize = 8;

/// A repository and a notebook opened together.
pub struct Reader {
    repo: Repo,
    nb: Notebook,
}

/// The pool of open readers.
#[derive(Default)]
pub struct ReaderPool {
    idle: Mutex<Vec<Reader>>,
}

impl std::fmt::Debug for ReaderPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.idle.lock().map_or(0, |v| v.len());
        write!(f, "ReaderPool({n} idle)")
    }
}

/// The policy factories built so far (one provider connection per policy,
/// shared by every request that names it).
#[derive(Default)]
pub struct PolicyCache {
    built: Mutex<Vec<(PolicyKind, Arc<PolicyFactory>)>>,
}

impl std::fmt::Debug for PolicyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.built.lock().map_or(0, |v| v.len());
        write!(f, "PolicyCache({n} built)")
    }
}

/// What a prediction answers, beyond the prediction itself.
#[derive(Debug, Clone, Serialize)]
pub struct Answer {
    #[serde(flatten)]
    pub prediction: Prediction,
    /// The commit the notebook describes (`None`: a working tree snapshot
    /// without a commit).
    pub notebook_commit: Option<String>,
    /// True when the notebook is not at the commit asked for (HEAD, or the
    /// base branch).
    pub stale: bool,
    /// The commit asked for, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_commit: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PredictError {
    #[error("no notebook yet: the first sleep has not finished")]
    NoNotebook,
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Internal(String),
}

impl Shared {
    /// Predicts for `request` with the offline policy. `base_ref` names
    /// the branch the change goes into (a pull request's base); `None`
    /// means HEAD. The answer comes from the newest notebook, whatever
    /// commit it is at; `stale` says so.
    pub fn predict(
        &self,
        request: &str,
        budget: u64,
        steps: u32,
        base_ref: Option<&str>,
    ) -> Result<Answer, PredictError> {
        self.predict_with(request, budget, steps, base_ref, PolicyKind::Offline)
    }

    /// [`Shared::predict`] with `policy`; the model-driven ones use the
    /// config's `[llm.test]` and record their calls in the notebook's cost
    /// ledger. A request close to one anticipated for the notebook's
    /// snapshot gets its precomputed files as context
    /// ([`crate::agent::anticipate`]).
    pub fn predict_with(
        &self,
        request: &str,
        budget: u64,
        steps: u32,
        base_ref: Option<&str>,
        policy: PolicyKind,
    ) -> Result<Answer, PredictError> {
        if request.trim().is_empty() {
            return Err(PredictError::BadRequest(
                "the request is empty: say what the change should do".into(),
            ));
        }
        if budget == 0 {
            return Err(PredictError::BadRequest(
                "a budget of 0 tokens cannot even read the request; give a budget of at least a few hundred".into(),
            ));
        }
        let factory = self.policy_factory(policy)?;
        let mut policy = factory
            .make(Some(&self.state_dir))
            .map_err(|e| PredictError::Internal(e.to_string()))?;
        let reader = self.borrow_reader()?;
        let target = match base_ref {
            Some(b) => ["refs/heads/", "refs/remotes/origin/", ""]
                .iter()
                .find_map(|prefix| reader.repo.resolve(&format!("{prefix}{b}")).ok()),
            None => reader
                .repo
                .head()
                .map_err(|e| PredictError::Internal(e.to_string()))?,
        }
        .map(|c| c.to_string());
        let indexes = self.indexes_for(&reader.nb);
        let prediction = {
            let mut tools = NotebookTools::with_indexes(&reader.nb, Some(&reader.repo), &indexes);
            let p = anticipate::run_sleep_arm(
                policy.as_mut(),
                &mut tools,
                &reader.nb,
                request,
                "",
                budget,
                steps,
            );
            if let Some(e) = tools.take_query_error() {
                // Never pass an answer from a notebook that failed to read
                // for a real one; the reader is dropped, not pooled.
                if e.is_damage() {
                    self.notebook_damaged(&e.to_string());
                }
                return Err(PredictError::Internal(format!(
                    "a notebook query failed: {e}"
                )));
            }
            p
        };
        let notebook_commit = reader.nb.info.commit.clone();
        let stale = target.is_some() && notebook_commit != target;
        self.return_reader(reader);
        Ok(Answer {
            prediction,
            notebook_commit,
            stale,
            target_commit: target,
        })
    }

    /// The factory of `kind`, connected on first use. A model-driven
    /// policy without `[llm.test]` is the caller's error.
    fn policy_factory(&self, kind: PolicyKind) -> Result<Arc<PolicyFactory>, PredictError> {
        let mut built = self
            .policies
            .built
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some((_, f)) = built.iter().find(|(k, _)| *k == kind) {
            return Ok(f.clone());
        }
        let f = Arc::new(
            PolicyFactory::new(kind, &self.config.llm, Some(&self.state_dir)).map_err(
                |e| match e {
                    LlmError::Config(m) => PredictError::BadRequest(m),
                    other => PredictError::Internal(other.to_string()),
                },
            )?,
        );
        built.push((kind, f.clone()));
        Ok(f)
    }

    fn borrow_reader(&self) -> Result<Reader, PredictError> {
        let pooled = self
            .readers
            .idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop();
        if let Some(r) = pooled {
            if r.nb.is_current() {
                return Ok(r);
            }
            // A sleep finished since: keep the repository, reopen the notebook.
            let nb = open_notebook(self)?;
            return Ok(Reader { repo: r.repo, nb });
        }
        let repo =
            Repo::open(&self.repo_path).map_err(|e| PredictError::Internal(e.to_string()))?;
        let nb = open_notebook(self)?;
        Ok(Reader { repo, nb })
    }

    fn return_reader(&self, r: Reader) {
        let mut idle = self.readers.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < POOL_SIZE {
            idle.push(r);
        }
    }
}

/// Opens the newest notebook; a damaged one degrades the daemon and asks
/// the scheduler for the sleep that rebuilds it.
fn open_notebook(shared: &Shared) -> Result<Notebook, PredictError> {
    Notebook::open(&shared.state_dir)
        .map_err(|e| {
            if e.is_damage() {
                shared.notebook_damaged(&e.to_string());
            }
            PredictError::Internal(e.to_string())
        })?
        .ok_or(PredictError::NoNotebook)
}
