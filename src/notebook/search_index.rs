//! The code and commit postings of one snapshot, held in memory, for
//! [`Notebook::search_code_in`] and [`Notebook::search_history_in`].
//!
//! Without them each query term is a SQLite join (the term's postings with
//! the snapshot's files, or with its commits), whose cost grows with the
//! repository: on ruff, code and history search were two thirds of a
//! daemon prediction. A daemon answers many requests from one snapshot, so
//! it reads every posting of the snapshot once (at sleep priority, when a
//! sleep finishes) and answers from memory; the rows are the ones the
//! joins return, so the scores are the same (`tests/predict.rs` compares
//! them). One-off readers (the CLI, eval) keep asking SQLite.

use std::collections::HashMap;

use super::read::Notebook;
use super::store::StoreError;

/// Term id → (file index in `Notebook::files`, tf, document length in
/// terms), one per snapshot file holding the term.
#[derive(Debug)]
pub struct CodeIndex {
    pub(super) snapshot: (u64, u64),
    pub(super) postings: HashMap<i64, Vec<(u32, u32, u32)>>,
}

impl CodeIndex {
    /// Reads the code postings of `nb`'s snapshot.
    pub fn build(nb: &Notebook) -> Result<CodeIndex, StoreError> {
        let store = nb.store();
        let mut stmt = store
            .conn
            .prepare(
                "SELECT bt.term, f.path, bt.tf, b.terms FROM blob_terms bt
                 JOIN snap_files f ON f.blob = bt.blob JOIN blobs b ON b.id = bt.blob",
            )
            .map_err(|e| store.err(e))?;
        let mut rows = stmt.query([]).map_err(|e| store.err(e))?;
        let mut postings: HashMap<i64, Vec<(u32, u32, u32)>> = HashMap::new();
        while let Some(r) = rows.next().map_err(|e| store.err(e))? {
            let path = r.get_ref(1).map_err(|e| store.err(e))?;
            let Ok(path) = path.as_str() else { continue };
            let Some(file) = nb.file_index(path) else {
                continue;
            };
            let term: i64 = r.get(0).map_err(|e| store.err(e))?;
            let tf: u32 = r.get(2).map_err(|e| store.err(e))?;
            let len: u32 = r.get(3).map_err(|e| store.err(e))?;
            postings
                .entry(term)
                .or_default()
                .push((file as u32, tf, len));
        }
        Ok(CodeIndex {
            snapshot: nb.info.snapshot_id(),
            postings,
        })
    }

    /// Whether this index answers for `nb`.
    pub fn fits(&self, nb: &Notebook) -> bool {
        self.snapshot == nb.info.snapshot_id()
    }

    /// Number of (term, file) postings, for logs.
    pub fn len(&self) -> usize {
        self.postings.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.postings.is_empty()
    }
}

/// The snapshot's commits for BM25 over their messages: term id →
/// (commit id, chain position, tf, message length), and the corpus size
/// and mean length.
#[derive(Debug)]
pub struct CommitIndex {
    pub(super) snapshot: (u64, u64),
    pub(super) n: f64,
    pub(super) avg: f64,
    pub(super) postings: HashMap<i64, Vec<(i64, i64, u32, u32)>>,
}

impl CommitIndex {
    /// Reads the commit postings of `nb`'s snapshot.
    pub fn build(nb: &Notebook) -> Result<CommitIndex, StoreError> {
        let (n, avg) = nb.history_corpus()?;
        let store = nb.store();
        let mut stmt = store
            .conn
            .prepare(
                "SELECT ct.term, ct.commit_id, s.ord, ct.tf, c.terms FROM commit_terms ct
                 JOIN snap_commits s ON s.commit_id = ct.commit_id JOIN commits c ON c.id = ct.commit_id",
            )
            .map_err(|e| store.err(e))?;
        let mut rows = stmt.query([]).map_err(|e| store.err(e))?;
        let mut postings: HashMap<i64, Vec<(i64, i64, u32, u32)>> = HashMap::new();
        while let Some(r) = rows.next().map_err(|e| store.err(e))? {
            let get = |i| r.get::<_, i64>(i).map_err(|e| store.err(e));
            postings.entry(get(0)?).or_default().push((
                get(1)?,
                get(2)?,
                get(3)? as u32,
                get(4)? as u32,
            ));
        }
        Ok(CommitIndex {
            snapshot: nb.info.snapshot_id(),
            n,
            avg,
            postings,
        })
    }

    /// Whether this index answers for `nb`.
    pub fn fits(&self, nb: &Notebook) -> bool {
        self.snapshot == nb.info.snapshot_id()
    }
}
