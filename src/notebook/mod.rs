//! The notebook `c'`: everything sleep time writes for test time to read.
//!
//! - [`store`]: the SQLite database and its schema;
//! - [`blobs`], [`history`]: caches keyed by blob id and commit id;
//! - [`derive`](mod@derive), [`card`]: pure derivations (co-change, file history, cards);
//! - [`snapshot`]: the atomic switch to a new revision;
//! - [`learn_store`]: replayed examples and the ranker fitted per snapshot;
//! - [`embed_store`]: embeddings of files and past pull requests, keyed by
//!   blob id and commit id, and the texts embedded;
//! - [`llm_read`]: the snapshot's key, its recent PRs and the anticipated
//!   requests a model left for it;
//! - [`sleep`](mod@sleep): the orchestration of one sleep;
//! - [`drift`]: what a work tree changed since its notebook was built;
//! - [`kept`]: notebooks kept per revision for `predict --rev`;
//! - [`status`](mod@status): what a notebook holds and how stale it is.
//!
//! Depends on `git`, `parse`, `text`, `tokens`, `config` and the pure
//! `learn` types; never on the agent.

pub mod blobs;
pub mod card;
pub mod derive;
pub mod drift;
pub mod embed_store;
pub mod fingerprint;
mod gc;
pub mod history;
pub mod history_index;
pub mod kept;
pub mod learn_store;
pub mod llm_read;
pub mod llm_store;
pub mod read;
pub mod search_index;
pub mod sleep;
pub mod snapshot;
pub mod status;
pub mod store;

use std::path::{Path, PathBuf};

pub use read::Notebook;
pub use sleep::{Integrity, SleepReport, Target, sleep, sleep_with};
pub use status::{Status, status};
pub use store::{Store, StoreError};

use crate::git::{GitError, Repo};

#[derive(Debug, thiserror::Error)]
pub enum NotebookError {
    #[error(transparent)]
    Git(#[from] GitError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Config(String),
}

/// Where a repository's notebook lives unless `--state-dir` says otherwise:
/// `.swe-sleep/` in the work tree, or `swe-sleep/` inside a bare git dir.
pub fn default_state_dir(repo: &Repo) -> PathBuf {
    match repo.work_dir() {
        Some(w) => w.join(".swe-sleep"),
        None => repo.git_dir().join("swe-sleep"),
    }
}

/// Resolves the state directory, and keeps a default one inside a work tree
/// out of `git status` by listing it in `.git/info/exclude`.
pub fn prepare_state_dir(repo: &Repo, explicit: Option<&Path>) -> Result<PathBuf, GitError> {
    if let Some(dir) = explicit {
        return Ok(dir.to_path_buf());
    }
    let dir = default_state_dir(repo);
    if repo.work_dir().is_some() {
        repo.ensure_excluded("/.swe-sleep/")?;
    }
    Ok(dir)
}

/// Progress reporting for long work; the CLI draws bars, tests pass [`NoProgress`].
pub trait Progress: Sync {
    /// Starts a phase; `total` 0 means unknown.
    fn start(&self, phase: &str, total: u64);
    fn inc(&self, n: u64);
    fn finish(&self);
}

/// Reports nothing.
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _: &str, _: u64) {}
    fn inc(&self, _: u64) {}
    fn finish(&self) {}
}
