//! The per-file history documents of one snapshot, held in memory.
//!
//! `Notebook::search_file_history` asks SQLite, per query term, for every
//! (file, tf) pair of the snapshot's commits: a join over commits and their
//! files that dominated a daemon prediction. A daemon answers many requests
//! from one snapshot, so it builds this index once (one scan, a fraction of
//! a second on helix) and shares it; the scores are the same, the postings
//! are read from memory. One-off readers (the CLI, eval) keep using SQLite.

use std::collections::HashMap;

use rusqlite::params;

use super::read::{HistoryLengths, Notebook};
use super::store::StoreError;

/// Term id → (file index in `Notebook::files`, summed tf), by file index.
#[derive(Debug)]
pub struct FileHistoryIndex {
    pub(super) max_files: usize,
    pub(super) snapshot: (u64, u64),
    pub(super) lens: HistoryLengths,
    pub(super) postings: HashMap<i64, Vec<(u32, f64)>>,
}

impl FileHistoryIndex {
    /// Reads the history documents of `nb`'s snapshot for commits of at
    /// most `max_files` files.
    pub fn build(nb: &Notebook, max_files: usize) -> Result<FileHistoryIndex, StoreError> {
        let lens = nb.history_lengths(max_files)?;
        let by_path: HashMap<&str, u32> = nb
            .files()
            .iter()
            .enumerate()
            .filter(|(_, f)| lens.contains_key(&f.path))
            .map(|(i, f)| (f.path.as_str(), u32::try_from(i).unwrap_or(u32::MAX)))
            .collect();
        let mut sums: HashMap<i64, HashMap<u32, f64>> = HashMap::new();
        let store = nb.store();
        let mut stmt = store
            .conn
            .prepare(
                "SELECT ct.term, cf.path, ct.tf FROM commit_terms ct
                 JOIN snap_commits s ON s.commit_id = ct.commit_id JOIN commits c ON c.id = ct.commit_id
                 JOIN commit_files cf ON cf.commit_id = ct.commit_id
                 WHERE c.file_count <= ?1 AND cf.status != 'D'",
            )
            .map_err(|e| store.err(e))?;
        let mut rows = stmt
            .query(params![max_files as i64])
            .map_err(|e| store.err(e))?;
        while let Some(r) = rows.next().map_err(|e| store.err(e))? {
            let term: i64 = r.get(0).map_err(|e| store.err(e))?;
            let path = r.get_ref(1).map_err(|e| store.err(e))?;
            let Ok(path) = path.as_str() else {
                continue;
            };
            let Some(&file) = by_path.get(path) else {
                continue;
            };
            let tf: f64 = r.get(2).map_err(|e| store.err(e))?;
            *sums.entry(term).or_default().entry(file).or_default() += tf;
        }
        let postings = sums
            .into_iter()
            .map(|(term, files)| {
                let mut v: Vec<(u32, f64)> = files.into_iter().collect();
                v.sort_by_key(|(file, _)| *file);
                (term, v)
            })
            .collect();
        Ok(FileHistoryIndex {
            max_files,
            snapshot: nb.info.snapshot_id(),
            lens,
            postings,
        })
    }

    /// Whether this index answers for `nb` with `max_files`.
    pub fn fits(&self, nb: &Notebook, max_files: usize) -> bool {
        self.snapshot == nb.info.snapshot_id() && self.max_files == max_files
    }

    /// Number of (term, file) postings, for logs.
    pub fn len(&self) -> usize {
        self.postings.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.postings.is_empty()
    }
}
