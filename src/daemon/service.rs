//! The daemon's prediction service, shared by `POST /predict`, the GitHub
//! worker and MCP: one [`PredictionService`] owns the pool of open readers,
//! the policies built so far and the newest snapshot's search indexes, and
//! runs every prediction through [`crate::agent::predict`]. Blocking: call
//! it from a blocking thread.
//!
//! Opening a repository and a notebook costs more than a prediction's
//! queries, so each blocking worker borrows an open pair from a small pool
//! and gives it back. A pooled notebook is checked against the store's
//! newest snapshot before use and reopened once a sleep has finished.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

pub use crate::agent::predict::Answer;
use crate::agent::predict::{Query, predict_sleep};
use crate::agent::sleep_tools::SearchIndexes;
use crate::agent::{PolicyFactory, PolicyKind};
use crate::config::Config;
use crate::git::Repo;
use crate::llm::LlmError;
use crate::notebook::{Notebook, StoreError};

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

#[derive(Debug, thiserror::Error)]
pub enum PredictError {
    #[error("no notebook yet: the first sleep has not finished")]
    NoNotebook,
    #[error("{0}")]
    BadRequest(String),
    /// The notebook cannot be read; a sleep rebuilds it.
    #[error("the notebook cannot be read: {0}")]
    Damaged(String),
    #[error("{0}")]
    Internal(String),
}

impl PredictError {
    fn from_store(e: StoreError) -> PredictError {
        if e.is_damage() {
            PredictError::Damaged(e.to_string())
        } else {
            PredictError::Internal(format!("a notebook query failed: {e}"))
        }
    }
}

/// Everything a prediction in the daemon needs, owned in one place: where
/// the repository and notebook are, the pool of open readers, the policies
/// built so far, and the search indexes of the newest snapshot.
#[derive(Debug)]
pub struct PredictionService {
    repo_path: PathBuf,
    state_dir: PathBuf,
    config: Config,
    readers: ReaderPool,
    policies: PolicyCache,
    /// Search indexes of the newest notebook, shared by predictions until
    /// a sleep writes a new snapshot.
    indexes: Mutex<Option<Arc<SearchIndexes>>>,
}

impl PredictionService {
    pub fn new(repo_path: PathBuf, state_dir: PathBuf, config: Config) -> PredictionService {
        PredictionService {
            repo_path,
            state_dir,
            config,
            readers: ReaderPool::default(),
            policies: PolicyCache::default(),
            indexes: Mutex::new(None),
        }
    }

    /// Predicts `query` with `policy` from the newest notebook, whatever
    /// commit it is at (`stale` says so). `base_ref` names the branch the
    /// change goes into (a pull request's base); `None` means HEAD. The
    /// model-driven policies use the config's `[llm.test]` and record their
    /// calls in the notebook's cost ledger.
    pub fn predict(
        &self,
        query: &Query,
        policy: PolicyKind,
        base_ref: Option<&str>,
    ) -> Result<Answer, PredictError> {
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
        // A failed notebook query drops the reader (never pooled again).
        let prediction = predict_sleep(
            query,
            policy.as_mut(),
            &reader.nb,
            Some(&reader.repo),
            Some(&indexes),
            &self.config,
        )
        .map_err(PredictError::from_store)?;
        let answer = Answer::new(prediction, reader.nb.info.commit.clone(), target);
        self.return_reader(reader);
        Ok(answer)
    }

    /// Runs `f` on a pooled reader of the newest notebook, with that
    /// snapshot's search indexes (the MCP tools read through it). The
    /// reader goes back to the pool only when `f` succeeded.
    pub fn with_reader<T, E>(
        &self,
        f: impl FnOnce(&Repo, &Notebook, &SearchIndexes) -> Result<T, E>,
    ) -> Result<Result<T, E>, PredictError> {
        let reader = self.borrow_reader()?;
        let indexes = self.indexes_for(&reader.nb);
        let out = f(&reader.repo, &reader.nb, &indexes);
        if out.is_ok() {
            self.return_reader(reader);
        }
        Ok(out)
    }

    /// The search indexes for `nb`: the cached ones when they were built
    /// from the same snapshot, else built now (outside the lock) and cached.
    pub fn indexes_for(&self, nb: &Notebook) -> Arc<SearchIndexes> {
        if let Some(cached) = self.indexes.lock().expect("indexes lock").as_ref()
            && cached.snapshot == nb.info.snapshot_id()
        {
            return cached.clone();
        }
        let built = Arc::new(SearchIndexes::build(nb));
        *self.indexes.lock().expect("indexes lock") = Some(built.clone());
        built
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
            let nb = self.open_notebook()?;
            return Ok(Reader { repo: r.repo, nb });
        }
        let repo =
            Repo::open(&self.repo_path).map_err(|e| PredictError::Internal(e.to_string()))?;
        let nb = self.open_notebook()?;
        Ok(Reader { repo, nb })
    }

    fn return_reader(&self, r: Reader) {
        let mut idle = self.readers.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < POOL_SIZE {
            idle.push(r);
        }
    }

    /// Opens the newest notebook; a damaged one is [`PredictError::Damaged`].
    fn open_notebook(&self) -> Result<Notebook, PredictError> {
        Notebook::open(&self.state_dir)
            .map_err(PredictError::from_store)?
            .ok_or(PredictError::NoNotebook)
    }
}

impl Shared {
    /// Predicts with the daemon's service; a damaged notebook degrades the
    /// daemon and asks the scheduler for the sleep that rebuilds it.
    pub fn predict(
        &self,
        query: &Query,
        policy: PolicyKind,
        base_ref: Option<&str>,
    ) -> Result<Answer, PredictError> {
        let answer = self.service.predict(query, policy, base_ref);
        if let Err(PredictError::Damaged(reason)) = &answer {
            self.notebook_damaged(reason);
        }
        answer
    }
}
