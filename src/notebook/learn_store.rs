//! What sleep-time learning keeps in the notebook: the replayed examples
//! (one per past pull request and budget, keyed by the PR's commit and a
//! signature of how it was replayed, kept across snapshots) and the ranker
//! fitted for a snapshot (keyed by [`Notebook::snapshot_key`], so a notebook
//! at another snapshot never reads it). Both tables were added after
//! schema 2 and are created on first write; a notebook without them simply
//! has learned nothing yet.

use std::collections::HashSet;

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::learn::{Example, FitReport, Ranker};

use super::read::Notebook;
use super::store::{Store, StoreError};

const DDL: &str = "
CREATE TABLE IF NOT EXISTS learn_examples (
    commit_oid TEXT NOT NULL,      -- the PR's merge or squash commit
    signature TEXT NOT NULL,       -- feature version, replay budgets, calibration
    budget INTEGER NOT NULL,
    pr INTEGER,
    time INTEGER NOT NULL,
    data TEXT NOT NULL,            -- JSON learn::Example
    PRIMARY KEY (commit_oid, signature, budget)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS learn_models (
    snapshot TEXT PRIMARY KEY,     -- Notebook::snapshot_key
    data TEXT NOT NULL,            -- JSON Learned
    at INTEGER NOT NULL
);";

/// Rankers kept; older snapshots' are dropped.
const MODELS_KEPT: i64 = 16;

/// A past pull request of the snapshot's history, as replay needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct PastPr {
    /// Its merge or squash commit, and that commit's first parent (the
    /// base the request was made against).
    pub commit: String,
    pub parent: String,
    pub pr: Option<u64>,
    pub title: String,
    pub body: String,
    pub time: i64,
    /// Files it modified (status M).
    pub modified: Vec<String>,
    /// Files it changed in all, and source files among them (any status).
    pub file_count: usize,
    pub source_changed: usize,
}

/// What the learning pass decided for one snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Learned {
    /// The ranker to use, when it beat the default on held-out PRs.
    pub ranker: Option<Ranker>,
    /// The search ranking to use, when it beat the default fusion there.
    #[serde(default)]
    pub search: Option<crate::learn::search::SearchRanker>,
    pub report: FitReport,
    /// The replay signature the examples came from.
    pub signature: String,
    /// How many replayed PRs the fit was allowed (the sleep budget).
    pub budget_prs: usize,
}

impl Store {
    fn ensure_learn_tables(&self) -> Result<(), StoreError> {
        self.conn.execute_batch(DDL).map_err(|e| self.err(e))
    }

    pub(super) fn has_table(&self, name: &str) -> Result<bool, StoreError> {
        self.conn
            .query_row(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                params![name],
                |_| Ok(()),
            )
            .optional()
            .map(|r| r.is_some())
            .map_err(|e| self.err(e))
    }

    /// Stores one replayed example (replacing an older copy).
    pub fn put_example(&self, signature: &str, budget: u64, e: &Example) -> Result<(), StoreError> {
        self.ensure_learn_tables()?;
        let data = serde_json::to_string(e).expect("examples serialize");
        self.conn
            .execute(
                "INSERT OR REPLACE INTO learn_examples (commit_oid, signature, budget, pr, time, data)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![e.commit, signature, budget as i64, e.pr.map(|n| n as i64), e.time, data],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// The PR commits replayed with `signature` (at every budget asked).
    pub fn replayed(&self, signature: &str, budgets: usize) -> Result<HashSet<String>, StoreError> {
        if !self.has_table("learn_examples")? {
            return Ok(HashSet::new());
        }
        self.conn
            .prepare(
                "SELECT commit_oid FROM learn_examples WHERE signature = ?1
                 GROUP BY commit_oid HAVING count(*) >= ?2",
            )
            .and_then(|mut s| {
                s.query_map(params![signature, budgets as i64], |r| r.get(0))?
                    .collect()
            })
            .map_err(|e| self.err(e))
    }

    /// Stores what was learned for `snapshot`, keeping the newest few.
    pub fn put_learned(&self, snapshot: &str, learned: &Learned) -> Result<(), StoreError> {
        self.ensure_learn_tables()?;
        let data = serde_json::to_string(learned).expect("rankers serialize");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        self.conn
            .execute(
                "INSERT OR REPLACE INTO learn_models (snapshot, data, at) VALUES (?1, ?2, ?3)",
                params![snapshot, data, now],
            )
            .and_then(|_| {
                self.conn.execute(
                    "DELETE FROM learn_models WHERE snapshot NOT IN
                     (SELECT snapshot FROM learn_models ORDER BY at DESC, snapshot LIMIT ?1)",
                    params![MODELS_KEPT],
                )
            })
            .map_err(|e| self.err(e))?;
        Ok(())
    }
}

impl Notebook {
    /// The past pull requests of this snapshot's history, newest first:
    /// merge and squash commits with a number, at most `max_files` files,
    /// at least one modified.
    pub fn past_prs(&self, max_files: usize) -> Result<Vec<PastPr>, StoreError> {
        let conn = &self.store.conn;
        // (commit row id, the PR without its files) for PRs with a parent.
        let rows: Vec<(i64, Option<PastPr>)> = conn
            .prepare(
                "SELECT c.id, c.oid, c.parent, c.pr, c.title, c.body, c.time, c.file_count
                 FROM snap_commits s JOIN commits c ON c.id = s.commit_id
                 WHERE c.pr IS NOT NULL AND c.kind IN ('merge', 'squash')
                   AND c.file_count BETWEEN 1 AND ?1 AND c.truncated = 0
                 ORDER BY s.ord",
            )
            .and_then(|mut s| {
                s.query_map(params![max_files as i64], |r| {
                    let parent: Option<String> = r.get(2)?;
                    let pr: Option<i64> = r.get(3)?;
                    let file_count: i64 = r.get(7)?;
                    let past = match parent {
                        None => None,
                        Some(parent) => Some(PastPr {
                            commit: r.get(1)?,
                            parent,
                            pr: pr.map(|n| n.max(0) as u64),
                            title: r.get(4)?,
                            body: r.get(5)?,
                            time: r.get(6)?,
                            modified: Vec::new(),
                            file_count: file_count.max(0) as usize,
                            source_changed: 0,
                        }),
                    };
                    Ok((r.get(0)?, past))
                })?
                .collect()
            })
            .map_err(|e| self.store.err(e))?;
        let mut files = conn
            .prepare("SELECT path, status FROM commit_files WHERE commit_id = ?1 ORDER BY path")
            .map_err(|e| self.store.err(e))?;
        let mut out = Vec::new();
        for (id, pr) in rows {
            let Some(mut pr) = pr else { continue };
            let changed: Vec<(String, String)> = files
                .query_map(params![id], |r| Ok((r.get(0)?, r.get(1)?)))
                .and_then(|rows| rows.collect())
                .map_err(|e| self.store.err(e))?;
            pr.source_changed = changed
                .iter()
                .filter(|(p, _)| crate::learn::features::is_source(p))
                .count();
            pr.modified = changed
                .into_iter()
                .filter(|(_, s)| s == "M")
                .map(|(p, _)| p)
                .collect();
            if !pr.modified.is_empty() {
                out.push(pr);
            }
        }
        Ok(out)
    }

    /// Examples replayed with `signature` for pull requests of this
    /// snapshot's history that `keep` accepts: the `max_prs` most recent
    /// such PRs (newest first), every budget of each.
    pub fn examples(
        &self,
        signature: &str,
        max_prs: usize,
        keep: &dyn Fn(&Example) -> bool,
    ) -> Result<Vec<Example>, StoreError> {
        if !self.store.has_table("learn_examples")? {
            return Ok(Vec::new());
        }
        let rows: Vec<(String, String)> = self
            .store
            .conn
            .prepare(
                "SELECT e.commit_oid, e.data FROM learn_examples e
                 JOIN commits c ON c.oid = e.commit_oid
                 JOIN snap_commits s ON s.commit_id = c.id
                 WHERE e.signature = ?1
                 ORDER BY s.ord, e.budget",
            )
            .and_then(|mut s| {
                s.query_map(params![signature], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect()
            })
            .map_err(|e| self.store.err(e))?;
        let mut seen: Vec<String> = Vec::new();
        let mut out = Vec::new();
        for (commit, data) in rows {
            let e: Example = serde_json::from_str(&data).map_err(|e| StoreError::Corrupt {
                path: self.store.path().to_path_buf(),
                message: format!("learn_examples row for {commit}: {e}"),
            })?;
            if !keep(&e) {
                continue;
            }
            if seen.last() != Some(&commit) {
                if seen.len() == max_prs {
                    break;
                }
                seen.push(commit.clone());
            }
            out.push(e);
        }
        Ok(out)
    }

    /// What was learned for this snapshot, if the learning pass ran on it.
    pub fn learned(&self) -> Result<Option<Learned>, StoreError> {
        if !self.store.has_table("learn_models")? {
            return Ok(None);
        }
        let key = self.snapshot_key();
        let data: Option<String> = self
            .store
            .conn
            .query_row(
                "SELECT data FROM learn_models WHERE snapshot = ?1",
                params![key],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.store.err(e))?;
        match data {
            None => Ok(None),
            Some(d) => match serde_json::from_str::<Learned>(&d) {
                Ok(l) => Ok(Some(l)),
                // A ranker of an older format: as if nothing was learned.
                Err(e) => {
                    tracing::debug!("ignoring a learned ranker of another format: {e}");
                    Ok(None)
                }
            },
        }
    }
}
