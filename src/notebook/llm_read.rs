//! Test-time reads of what a sleep-time model left for the current
//! snapshot, and the snapshot facts it was shown: the snapshot's key, its
//! most recent pull requests, and the anticipated requests stored for it.
//! Queries only; the rows are written by `crate::llm`.

use rusqlite::params;
use sha2::{Digest, Sha256};

use super::read::Notebook;
use super::store::StoreError;

/// An anticipated request stored for a snapshot, with its precomputed
/// files (best first).
#[derive(Debug, Clone, PartialEq)]
pub struct Anticipated {
    pub request: String,
    pub files: Vec<String>,
    pub model: String,
}

impl Notebook {
    /// What identifies this snapshot's content: `commit:<id>` for a
    /// revision, `worktree:<generation>:<hash of its paths and blob rows>`
    /// for a work tree (blob row ids can be reused after collection, so the
    /// snapshot's generation is part of the key). Rows keyed by it can
    /// never show another snapshot's facts.
    pub fn snapshot_key(&self) -> String {
        match (&self.info.commit, self.info.worktree) {
            (Some(c), false) => format!("commit:{c}"),
            _ => {
                let mut h = Sha256::new();
                for f in self.files() {
                    h.update(f.path.as_bytes());
                    h.update(f.blob.unwrap_or(-1).to_le_bytes());
                }
                format!("worktree:{}:{:x}", self.info.generation, h.finalize())
            }
        }
    }

    /// The `n` most recent pull requests of the snapshot's history, newest
    /// first: (number, title).
    pub fn recent_prs(&self, n: usize) -> Result<Vec<(u64, String)>, StoreError> {
        self.store
            .conn
            .prepare_cached(
                "SELECT c.pr, c.title FROM snap_commits s JOIN commits c ON c.id = s.commit_id
                 WHERE c.pr IS NOT NULL ORDER BY s.ord LIMIT ?1",
            )
            .and_then(|mut s| {
                s.query_map(params![n as i64], |r| {
                    Ok((r.get::<_, i64>(0)?.max(0) as u64, r.get(1)?))
                })?
                .collect()
            })
            .map_err(|e| self.store.err(e))
    }

    /// The anticipated requests stored for this snapshot (none for any
    /// other), in the order they were written.
    pub fn anticipated(&self) -> Result<Vec<Anticipated>, StoreError> {
        let rows: Vec<(String, String, String)> = self
            .store
            .conn
            .prepare_cached(
                "SELECT request, files, model FROM llm_anticipated WHERE commit_oid = ?1
                 ORDER BY at, request",
            )
            .and_then(|mut s| {
                s.query_map(params![self.snapshot_key()], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?
                .collect()
            })
            .map_err(|e| self.store.err(e))?;
        Ok(rows
            .into_iter()
            .map(|(request, files, model)| Anticipated {
                request,
                files: serde_json::from_str(&files).unwrap_or_default(),
                model,
            })
            .collect())
    }
}
