//! One prediction inside the daemon, shared by `POST /predict` and the
//! GitHub worker. Blocking: call it from a blocking thread.
//!
//! Opening a repository and a notebook costs more than a prediction's
//! queries, so each blocking worker borrows an open pair from a small pool
//! and gives it back. A pooled notebook is checked against the store's
//! newest snapshot before use and reopened once a sleep has finished.

use std::sync::Mutex;

use serde::Serialize;

use crate::agent::sleep_tools::NotebookTools;
use crate::agent::{self, OfflinePolicy, Prediction};
use crate::git::Repo;
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
    /// Predicts for `request`. `base_ref` names the branch the change goes
    /// into (a pull request's base); `None` means HEAD. The answer comes
    /// from the newest notebook, whatever commit it is at; `stale` says so.
    pub fn predict(
        &self,
        request: &str,
        budget: u64,
        steps: u32,
        base_ref: Option<&str>,
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
            agent::run(
                &mut OfflinePolicy::default(),
                &mut tools,
                request,
                budget,
                steps,
            )
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

fn open_notebook(shared: &Shared) -> Result<Notebook, PredictError> {
    Notebook::open(&shared.state_dir)
        .map_err(|e| PredictError::Internal(e.to_string()))?
        .ok_or(PredictError::NoNotebook)
}
