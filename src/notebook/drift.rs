//! What a work tree changed since its notebook was built: files edited,
//! added or removed, found by `stat` (size, modification time) and
//! confirmed by hashing only the files that may have changed.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::params;
use serde::Serialize;

use crate::config::Config;
use crate::git::{self, EntryKind, Repo};

use super::store::{Store, StoreError};
use super::{NotebookError, sleep};

/// Paths named in a drift, at most this many per kind (counts stay exact).
const SHOWN: usize = 20;

/// Files of the work tree that differ from the notebook's snapshot.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Drift {
    /// How many files changed, were added, were removed.
    pub changed: usize,
    pub added: usize,
    pub removed: usize,
    /// Some of their paths (sorted; at most 20 of each kind).
    pub changed_paths: Vec<String>,
    pub added_paths: Vec<String>,
    pub removed_paths: Vec<String>,
}

impl Drift {
    pub fn total(&self) -> usize {
        self.changed + self.added + self.removed
    }

    /// One sentence for people: "2 files changed and 1 added since the
    /// notebook was built (src/a.rs, ...)", or `None` when nothing did.
    pub fn sentence(&self) -> Option<String> {
        if self.total() == 0 {
            return None;
        }
        let mut parts = Vec::new();
        let files = |n: usize| if n == 1 { "file" } else { "files" };
        if self.changed > 0 {
            parts.push(format!("{} {} changed", self.changed, files(self.changed)));
        }
        if self.added > 0 {
            parts.push(format!("{} {} added", self.added, files(self.added)));
        }
        if self.removed > 0 {
            parts.push(format!("{} {} removed", self.removed, files(self.removed)));
        }
        let some: Vec<&str> = self
            .changed_paths
            .iter()
            .chain(&self.added_paths)
            .chain(&self.removed_paths)
            .map(String::as_str)
            .take(3)
            .collect();
        let more = if self.total() > some.len() {
            ", ..."
        } else {
            ""
        };
        Some(format!(
            "{} in the work tree since the notebook was built ({}{more})",
            parts.join(", "),
            some.join(", ")
        ))
    }
}

/// One file as the snapshot recorded it.
struct Recorded {
    status: String,
    size: u64,
    oid: Option<String>,
}

/// Compares the work tree with the work-tree snapshot in `store`.
pub fn worktree_drift(
    repo: &Repo,
    store: &Store,
    state_dir: &Path,
    cfg: &Config,
) -> Result<Drift, NotebookError> {
    let built_at: i64 = store
        .meta("built_at")?
        .and_then(|b| b.parse().ok())
        .unwrap_or(0);
    let mut recorded = recorded_files(store)?;
    let skip = sleep::skip_set(&cfg.index.skip_globs)?;
    let dirs = sleep::worktree_skip_dirs(state_dir);
    let dirs: Vec<&Path> = dirs.iter().map(|p| p.as_path()).collect();
    let mut drift = Drift::default();
    for entry in git::stat_worktree(repo, &dirs)? {
        if skip.is_match(&entry.path) {
            continue;
        }
        let Some(rec) = recorded.remove(&entry.path) else {
            drift.added += 1;
            push(&mut drift.added_paths, entry.path);
            continue;
        };
        let changed = match entry.kind {
            EntryKind::Symlink => rec.status != "symlink",
            _ if rec.status == "symlink" => true,
            // Generated files are recorded without content: size and time.
            _ if rec.status == "generated" => entry.size != rec.size || entry.mtime >= built_at - 1,
            // Unchanged size and an mtime older than the build: the content
            // is what the sleep read (the second of slack covers a write in
            // the same second as the build).
            _ if entry.size == rec.size && entry.mtime < built_at - 1 => false,
            _ => {
                let now = git::hash_worktree_file(repo, &entry.path).ok();
                now.map(|o| o.to_string()) != rec.oid
            }
        };
        if changed {
            drift.changed += 1;
            push(&mut drift.changed_paths, entry.path);
        }
    }
    drift.removed = recorded.len();
    let mut gone: Vec<String> = recorded.into_keys().collect();
    gone.sort();
    gone.truncate(SHOWN);
    drift.removed_paths = gone;
    Ok(drift)
}

impl super::Notebook {
    /// What the work tree changed since this work-tree notebook was built
    /// (see [`worktree_drift`]).
    pub fn worktree_drift(
        &self,
        repo: &Repo,
        state_dir: &Path,
        cfg: &Config,
    ) -> Result<Drift, NotebookError> {
        worktree_drift(repo, &self.store, state_dir, cfg)
    }
}

fn push(list: &mut Vec<String>, path: String) {
    if list.len() < SHOWN {
        list.push(path);
    }
}

fn recorded_files(store: &Store) -> Result<HashMap<String, Recorded>, StoreError> {
    let mut stmt = store
        .conn
        .prepare(
            "SELECT f.path, f.status, f.size, b.oid FROM snap_files f
             LEFT JOIN blobs b ON b.id = f.blob",
        )
        .map_err(|e| store.err(e))?;
    let rows = stmt
        .query_map(params![], |r| {
            Ok((
                r.get::<_, String>(0)?,
                Recorded {
                    status: r.get(1)?,
                    size: r.get::<_, i64>(2)? as u64,
                    oid: r.get(3)?,
                },
            ))
        })
        .and_then(|rows| rows.collect::<rusqlite::Result<HashMap<_, _>>>())
        .map_err(|e| store.err(e))?;
    Ok(rows)
}
