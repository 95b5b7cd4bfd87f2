//! What a notebook holds, for which commit, and how stale it is.

use std::path::Path;

use serde::Serialize;

use crate::config::Config;
use crate::git::Repo;

use super::NotebookError;
use super::drift::{self, Drift};
use super::snapshot::SnapCounts;
use super::store::Store;

#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub state_dir: String,
    pub exists: bool,
    pub rev: Option<String>,
    pub commit: Option<String>,
    pub worktree: bool,
    pub built_at: Option<u64>,
    pub age_seconds: Option<u64>,
    pub counts: Option<SnapCounts>,
    pub blobs_stored: i64,
    pub commits_stored: i64,
    /// The commit the notebook is compared with (HEAD, or `--rev`).
    pub current: Option<String>,
    /// First-parent commits between the notebook's commit and `current`;
    /// `None` when they are not on one chain (or no notebook).
    pub commits_behind: Option<usize>,
    /// First-parent commits from `current` up to the notebook's commit, when
    /// `current` is an older commit of the same line (`--rev` on an
    /// ancestor): the notebook is that far ahead.
    pub commits_ahead: Option<usize>,
    pub up_to_date: bool,
    pub shallow_boundary: Option<String>,
    /// Files of the snapshot whose blobs the clone lacks (indexed by path only).
    pub blobs_missing: u64,
    /// For a work-tree notebook compared with HEAD: what the work tree
    /// changed since the build.
    pub worktree_changes: Option<Drift>,
    /// What sleep-time learning found for this snapshot, if it ran.
    pub learning: Option<crate::learn::FitReport>,
    /// Whether embeddings are on (`[embeddings] model_dir`) and what the
    /// notebook holds for the configured model.
    pub embeddings: EmbeddingStatus,
}

/// Embeddings in `status`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EmbeddingStatus {
    pub on: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_dir: Option<String>,
    /// The model's key (model files and token cap).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Vectors stored for that model, and those of the snapshot's files
    /// and past PRs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counts: Option<super::embed_store::EmbeddingCounts>,
    /// Files and past PRs of the snapshot that could have one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_files: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_prs: Option<usize>,
    /// Why the model cannot be loaded, with its causes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// An error and its causes on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(&format!(": {s}"));
        cur = s.source();
    }
    out
}

fn embedding_status(
    nb: Option<&super::Notebook>,
    cfg: &Config,
) -> Result<EmbeddingStatus, NotebookError> {
    let Some(dir) = cfg.embeddings.model_dir() else {
        return Ok(EmbeddingStatus::default());
    };
    let mut s = EmbeddingStatus {
        on: true,
        model_dir: Some(dir.display().to_string()),
        ..EmbeddingStatus::default()
    };
    match crate::embed::Embedder::shared(&dir, cfg.embeddings.max_tokens) {
        Ok(e) => {
            s.model = Some(e.key().to_string());
            if let Some(nb) = nb {
                s.counts =
                    Some(nb.embedding_counts(e.key(), e.dim(), cfg.history.max_commit_files)?);
                s.snapshot_files = Some(nb.embedding_file_texts()?.len());
                s.snapshot_prs = Some(nb.embedding_pr_texts(cfg.history.max_commit_files)?.len());
            }
        }
        Err(e) => s.error = Some(chain(&e)),
    }
    Ok(s)
}

/// Reads the notebook in `state_dir` and compares it with `current` (HEAD
/// when `None`; then a work-tree notebook is also compared with the work
/// tree, under `cfg`'s index rules).
pub fn status(
    repo: &Repo,
    state_dir: &Path,
    current: Option<&str>,
    cfg: &Config,
) -> Result<Status, NotebookError> {
    let at_head = current.is_none();
    let current = match current {
        Some(rev) => Some(repo.resolve(rev)?),
        None => repo.head()?,
    };
    let mut s = Status {
        state_dir: state_dir.display().to_string(),
        exists: false,
        rev: None,
        commit: None,
        worktree: false,
        built_at: None,
        age_seconds: None,
        counts: None,
        blobs_stored: 0,
        commits_stored: 0,
        current: current.map(|c| c.to_string()),
        commits_behind: None,
        commits_ahead: None,
        up_to_date: false,
        shallow_boundary: None,
        blobs_missing: 0,
        worktree_changes: None,
        learning: None,
        embeddings: EmbeddingStatus::default(),
    };
    let Some(store) = Store::open_existing(state_dir)? else {
        s.embeddings = embedding_status(None, cfg)?;
        return Ok(s);
    };
    let commit = store.meta("commit")?.filter(|c| !c.is_empty());
    s.exists = commit.is_some() || store.meta("built_at")?.is_some();
    s.rev = store.meta("rev")?;
    s.worktree = store.meta("worktree")?.as_deref() == Some("true");
    s.built_at = store.meta("built_at")?.and_then(|v| v.parse().ok());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    s.age_seconds = s.built_at.map(|b| now.saturating_sub(b));
    s.counts = store
        .meta("counts")?
        .and_then(|c| serde_json::from_str(&c).ok());
    s.blobs_stored = store.count("blobs")?;
    s.commits_stored = store.count("commits")?;
    s.shallow_boundary = store.meta("shallow_boundary")?.filter(|b| !b.is_empty());
    if let (Some(cur), Some(nb)) = (
        current,
        commit
            .as_deref()
            .and_then(|c| crate::git::Oid::from_str(c).ok()),
    ) {
        s.commits_behind = repo.first_parent_distance(cur, nb, 100_000);
        if s.commits_behind.is_none() {
            s.commits_ahead = repo.first_parent_distance(nb, cur, 100_000);
        }
        s.up_to_date = cur == nb;
    }
    s.blobs_missing = store
        .meta("blobs_missing")?
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    if s.worktree && at_head && repo.work_dir().is_some() {
        s.worktree_changes = Some(drift::worktree_drift(repo, &store, state_dir, cfg)?);
    }
    let nb = super::Notebook::open(state_dir)?;
    if let Some(nb) = &nb {
        s.learning = nb.learned()?.map(|l| l.report);
    }
    s.embeddings = embedding_status(nb.as_ref(), cfg)?;
    s.commit = commit;
    Ok(s)
}
