//! Reading the notebook at test time: the snapshot's files, BM25 over code
//! and over past pull requests, the symbol index, cards, co-change, imports
//! and per-file history. Queries only; never writes.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use rusqlite::{OptionalExtension, params};

use super::history_index::FileHistoryIndex;
use super::search_index::{CodeIndex, CommitIndex};
use super::store::{Store, StoreError};

/// BM25 parameters (Robertson's usual values).
const K1: f64 = 1.2;
const B: f64 = 0.75;

/// Per file: total score and (score, term) contributions.
type Scores<'a> = HashMap<&'a str, (f64, Vec<(f64, String)>)>;

/// One file of the snapshot.
#[derive(Debug, Clone)]
pub struct FileInfo {
    pub path: String,
    pub blob: Option<i64>,
    pub status: String,
    pub lang: String,
    pub size: u64,
}

/// A file matched by a lexical query.
#[derive(Debug, Clone)]
pub struct Hit {
    pub path: String,
    pub score: f64,
    /// Query terms found in the file, best first.
    pub matched: Vec<String>,
}

/// A past commit (usually a pull request) matched by a lexical query.
#[derive(Debug, Clone)]
pub struct PastChange {
    pub commit: String,
    pub pr: Option<u64>,
    pub title: String,
    pub time: i64,
    pub score: f64,
    /// Files it added or modified that exist in the snapshot.
    pub files: Vec<String>,
    /// All files it changed, including ones gone since.
    pub file_count: usize,
}

/// History of one file.
#[derive(Debug, Clone, Default)]
pub struct FileStat {
    pub changes: u32,
    pub decayed: f64,
    pub last_time: i64,
    pub prs: Vec<(u64, String)>,
}

/// Which commit a notebook describes.
#[derive(Debug, Clone)]
pub struct NotebookInfo {
    pub rev: String,
    pub commit: Option<String>,
    pub commit_time: i64,
    pub worktree: bool,
    pub built_at: u64,
    /// Snapshots written to this store so far (0 before it was counted).
    pub generation: u64,
    /// The indexer's size cap when the snapshot was built: the most a tool
    /// reads of one work-tree file.
    pub max_file_bytes: u64,
}

impl NotebookInfo {
    /// Identifies the snapshot, for caches kept per snapshot.
    pub fn snapshot_id(&self) -> (u64, u64) {
        (self.built_at, self.generation)
    }
}

/// Each file's history-document length, shared by the queries of one snapshot.
pub(super) type HistoryLengths = Arc<HashMap<String, f64>>;

/// An open notebook, ready for queries.
pub struct Notebook {
    pub(super) store: Store,
    pub info: NotebookInfo,
    files: Vec<FileInfo>,
    by_path: HashMap<String, usize>,
    parsed: usize,
    avg_len: f64,
    /// [`Notebook::history_lengths`], once computed.
    history_lens: std::cell::RefCell<Option<(usize, HistoryLengths)>>,
}

impl Notebook {
    /// Whether this is still the newest snapshot (no sleep has finished
    /// since it was opened). A failed read counts as not current.
    pub fn is_current(&self) -> bool {
        let read = |key: &str| -> Option<u64> {
            match self.store.meta(key) {
                Ok(Some(v)) => v.parse().ok(),
                Ok(None) => Some(0),
                Err(_) => None,
            }
        };
        read("built_at") == Some(self.info.built_at)
            && read("generation") == Some(self.info.generation)
    }

    /// Opens the notebook in `state_dir`; `None` when no sleep has finished.
    pub fn open(state_dir: &Path) -> Result<Option<Notebook>, StoreError> {
        let Some(store) = Store::open_existing(state_dir)? else {
            return Ok(None);
        };
        let Some(built_at) = store.meta("built_at")? else {
            return Ok(None);
        };
        let info = NotebookInfo {
            rev: store.meta("rev")?.unwrap_or_default(),
            commit: store.meta("commit")?.filter(|c| !c.is_empty()),
            commit_time: store
                .meta("commit_time")?
                .and_then(|t| t.parse().ok())
                .unwrap_or(0),
            worktree: store.meta("worktree")?.as_deref() == Some("true"),
            built_at: built_at.parse().unwrap_or(0),
            generation: store
                .meta("generation")?
                .and_then(|g| g.parse().ok())
                .unwrap_or(0),
            max_file_bytes: store
                .meta("max_file_bytes")?
                .and_then(|g| g.parse().ok())
                .unwrap_or_else(|| crate::config::IndexConfig::default().max_file_bytes),
        };
        let files: Vec<FileInfo> = {
            let mut stmt = store
                .conn
                .prepare("SELECT path, blob, status, lang, size FROM snap_files ORDER BY path")
                .map_err(|e| store.err(e))?;
            stmt.query_map([], |r| {
                Ok(FileInfo {
                    path: r.get(0)?,
                    blob: r.get(1)?,
                    status: r.get(2)?,
                    lang: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
                    size: r.get::<_, i64>(4)? as u64,
                })
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<_>>())
            .map_err(|e| store.err(e))?
        };
        let by_path = files
            .iter()
            .enumerate()
            .map(|(i, f)| (f.path.clone(), i))
            .collect();
        let (parsed, total_len): (i64, f64) = store
            .conn
            .query_row(
                "SELECT count(*), coalesce(sum(b.terms), 0) FROM snap_files f JOIN blobs b ON b.id = f.blob WHERE f.status = 'parsed'",
                [],
                |r| Ok((r.get(0)?, r.get::<_, f64>(1)?)),
            )
            .map_err(|e| store.err(e))?;
        let avg_len = if parsed > 0 {
            total_len / parsed as f64
        } else {
            1.0
        };
        Ok(Some(Notebook {
            store,
            info,
            files,
            by_path,
            parsed: parsed as usize,
            avg_len,
            history_lens: std::cell::RefCell::new(None),
        }))
    }

    pub(super) fn store(&self) -> &Store {
        &self.store
    }

    pub fn files(&self) -> &[FileInfo] {
        &self.files
    }

    pub fn file(&self, path: &str) -> Option<&FileInfo> {
        self.by_path.get(path).map(|i| &self.files[*i])
    }

    /// The index of `path` in [`Notebook::files`].
    pub fn file_index(&self, path: &str) -> Option<usize> {
        self.by_path.get(path).copied()
    }

    fn term_id(&self, term: &str) -> Result<Option<i64>, StoreError> {
        self.store
            .conn
            .prepare_cached("SELECT id FROM terms WHERE term = ?1")
            .and_then(|mut s| s.query_row(params![term], |r| r.get(0)).optional())
            .map_err(|e| self.store.err(e))
    }

    /// BM25 over file content for `terms` (repeats count as query weight).
    pub fn search_code(&self, terms: &[String], k: usize) -> Result<Vec<Hit>, StoreError> {
        self.search_code_in(None, terms, k)
    }

    /// [`Notebook::search_code`], reading the postings from `index` when it
    /// was built from this snapshot (the daemon's case), else from SQLite.
    /// The scores are the same.
    pub fn search_code_in(
        &self,
        index: Option<&CodeIndex>,
        terms: &[String],
        k: usize,
    ) -> Result<Vec<Hit>, StoreError> {
        let index = index.filter(|ix| ix.fits(self));
        let n = self.parsed.max(1) as f64;
        let mut scores: Scores = HashMap::new();
        for (term, qtf) in weighted(terms) {
            let Some(tid) = self.term_id(&term)? else {
                continue;
            };
            let rows: Vec<(Option<usize>, f64, f64)> = match index {
                Some(ix) => ix
                    .postings
                    .get(&tid)
                    .map(|v| {
                        v.iter()
                            .map(|&(f, tf, len)| (Some(f as usize), tf as f64, len as f64))
                            .collect()
                    })
                    .unwrap_or_default(),
                None => self.code_postings(tid)?,
            };
            let df = rows.len() as f64;
            if df == 0.0 {
                continue;
            }
            let idf = ((n - df + 0.5) / (df + 0.5) + 1.0).ln();
            for (i, tf, len) in rows {
                let Some(i) = i else { continue };
                let norm = tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * len / self.avg_len));
                let s = idf * norm * qtf;
                let e = scores.entry(self.files[i].path.as_str()).or_default();
                e.0 += s;
                e.1.push((s, term.clone()));
            }
        }
        Ok(top_hits(scores, k))
    }

    /// (file index, tf, document length) of one term over the snapshot's
    /// files. A row whose path this reader does not list (a snapshot
    /// written since it opened) still counts in the term's document
    /// frequency, as it always did.
    fn code_postings(&self, tid: i64) -> Result<Vec<(Option<usize>, f64, f64)>, StoreError> {
        let mut stmt = self
            .store
            .conn
            .prepare_cached(
                "SELECT f.path, bt.tf, b.terms FROM blob_terms bt
                 JOIN snap_files f ON f.blob = bt.blob JOIN blobs b ON b.id = bt.blob
                 WHERE bt.term = ?1",
            )
            .map_err(|e| self.store.err(e))?;
        let rows: Vec<(String, f64, f64)> = stmt
            .query_map(params![tid], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.store.err(e))?;
        Ok(rows
            .into_iter()
            .map(|(path, tf, len)| (self.by_path.get(&path).copied(), tf, len))
            .collect())
    }

    /// BM25 over the title and body of past commits in the snapshot's
    /// history, each with the files it changed that still exist.
    pub fn search_history(
        &self,
        terms: &[String],
        k: usize,
    ) -> Result<Vec<PastChange>, StoreError> {
        self.search_history_in(None, terms, k)
    }

    /// The number of the snapshot's commits and their mean message length.
    pub(super) fn history_corpus(&self) -> Result<(f64, f64), StoreError> {
        self.store
            .conn
            .prepare_cached("SELECT count(*), coalesce(avg(c.terms), 1) FROM snap_commits s JOIN commits c ON c.id = s.commit_id")
            .and_then(|mut s| s.query_row([], |r| Ok((r.get::<_, i64>(0)? as f64, r.get(1)?))))
            .map_err(|e| self.store.err(e))
    }

    /// [`Notebook::search_history`], reading the postings from `index` when
    /// it was built from this snapshot, else from SQLite. The scores are
    /// the same.
    pub fn search_history_in(
        &self,
        index: Option<&CommitIndex>,
        terms: &[String],
        k: usize,
    ) -> Result<Vec<PastChange>, StoreError> {
        let index = index.filter(|ix| ix.fits(self));
        let conn = &self.store.conn;
        let (n, avg) = match index {
            Some(ix) => (ix.n, ix.avg),
            None => self.history_corpus()?,
        };
        // Commit id -> (chain position, score).
        let mut scores: HashMap<i64, (i64, f64)> = HashMap::new();
        for (term, qtf) in weighted(terms) {
            let Some(tid) = self.term_id(&term)? else {
                continue;
            };
            let rows: Vec<(i64, i64, f64, f64)> = match index {
                Some(ix) => ix
                    .postings
                    .get(&tid)
                    .map(|v| {
                        v.iter()
                            .map(|&(id, ord, tf, len)| (id, ord, tf as f64, len as f64))
                            .collect()
                    })
                    .unwrap_or_default(),
                None => conn
                    .prepare_cached(
                        "SELECT ct.commit_id, s.ord, ct.tf, c.terms FROM commit_terms ct
                     JOIN snap_commits s ON s.commit_id = ct.commit_id JOIN commits c ON c.id = ct.commit_id
                     WHERE ct.term = ?1",
                    )
                    .and_then(|mut s| {
                        s.query_map(params![tid], |r| {
                            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                        })?
                        .collect()
                    })
                    .map_err(|e| self.store.err(e))?,
            };
            let df = rows.len() as f64;
            if df == 0.0 {
                continue;
            }
            let idf = ((n - df + 0.5) / (df + 0.5) + 1.0).ln();
            for (id, ord, tf, len) in rows {
                let norm = tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * len / avg.max(1.0)));
                scores.entry(id).or_insert((ord, 0.0)).1 += idf * norm * qtf;
            }
        }
        // Ties go to the newer commit: its place in the snapshot's chain,
        // never the order in which commits were first stored (which depends
        // on the order the notebook was filled).
        let mut ranked: Vec<(i64, (i64, f64))> = scores.into_iter().collect();
        ranked.sort_by(|a, b| b.1.1.total_cmp(&a.1.1).then(a.1.0.cmp(&b.1.0)));
        ranked.truncate(k);
        let mut out = Vec::with_capacity(ranked.len());
        for (id, (_, score)) in ranked {
            out.push(self.past_change(id, score)?);
        }
        Ok(out)
    }

    fn past_change(&self, id: i64, score: f64) -> Result<PastChange, StoreError> {
        let conn = &self.store.conn;
        let (commit, pr, title, time, file_count): (String, Option<i64>, String, i64, i64) = conn
            .prepare_cached("SELECT oid, pr, title, time, file_count FROM commits WHERE id = ?1")
            .and_then(|mut s| {
                s.query_row(params![id], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })
            })
            .map_err(|e| self.store.err(e))?;
        let files: Vec<String> = conn
            .prepare_cached("SELECT path FROM commit_files WHERE commit_id = ?1 AND status != 'D' ORDER BY path")
            .and_then(|mut s| s.query_map(params![id], |r| r.get(0))?.collect())
            .map_err(|e| self.store.err(e))?;
        let files = files
            .into_iter()
            .filter(|p| self.by_path.contains_key(p))
            .collect();
        Ok(PastChange {
            commit,
            pr: pr.map(|n| n as u64),
            title,
            time,
            score,
            files,
            file_count: file_count as usize,
        })
    }

    /// The length (in terms) of each current file's history document, for
    /// commits of at most `max_files` files. The same for every query on
    /// this snapshot, so it is computed once per open notebook.
    pub(super) fn history_lengths(&self, max_files: usize) -> Result<HistoryLengths, StoreError> {
        if let Some((m, lens)) = self.history_lens.borrow().as_ref()
            && *m == max_files
        {
            return Ok(lens.clone());
        }
        let lens: HashMap<String, f64> = self
            .store
            .conn
            .prepare_cached(
                "SELECT cf.path, sum(c.terms) FROM snap_commits s JOIN commits c ON c.id = s.commit_id
                 JOIN commit_files cf ON cf.commit_id = c.id
                 WHERE c.file_count <= ?1 AND cf.status != 'D' GROUP BY cf.path",
            )
            .and_then(|mut s| s.query_map(params![max_files as i64], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
            .map_err(|e| self.store.err(e))?;
        let lens: HistoryLengths = Arc::new(
            lens.into_iter()
                .filter(|(p, _)| self.by_path.contains_key(p))
                .collect(),
        );
        *self.history_lens.borrow_mut() = Some((max_files, lens.clone()));
        Ok(lens)
    }

    /// BM25 over each file's history document: the titles and bodies of
    /// the past commits (at most `max_files` files each) that changed it.
    /// A file that keeps being changed for requests like this one ranks high
    /// even when its code shares no words with the request.
    pub fn search_file_history(
        &self,
        terms: &[String],
        max_files: usize,
        k: usize,
    ) -> Result<Vec<Hit>, StoreError> {
        self.search_file_history_in(None, terms, max_files, k)
    }

    /// [`Notebook::search_file_history`], reading the postings from `index`
    /// when it was built from this snapshot with the same `max_files`
    /// (the daemon's case), else from SQLite. The scores are the same.
    pub fn search_file_history_in(
        &self,
        index: Option<&FileHistoryIndex>,
        terms: &[String],
        max_files: usize,
        k: usize,
    ) -> Result<Vec<Hit>, StoreError> {
        let index = index.filter(|ix| ix.fits(self, max_files));
        let lens = match index {
            Some(ix) => ix.lens.clone(),
            None => self.history_lengths(max_files)?,
        };
        if lens.is_empty() {
            return Ok(Vec::new());
        }
        let n = lens.len() as f64;
        let avg = lens.values().sum::<f64>() / n;
        let mut scores: Scores = HashMap::new();
        for (term, qtf) in weighted(terms) {
            let Some(tid) = self.term_id(&term)? else {
                continue;
            };
            let rows: Vec<(usize, f64)> = match index {
                Some(ix) => ix
                    .postings
                    .get(&tid)
                    .map(|v| v.iter().map(|&(f, tf)| (f as usize, tf)).collect())
                    .unwrap_or_default(),
                None => self.file_history_postings(tid, max_files, &lens)?,
            };
            let df = rows.len() as f64;
            if df == 0.0 {
                continue;
            }
            let idf = ((n - df + 0.5) / (df + 0.5) + 1.0).ln();
            for (i, tf) in rows {
                let path = self.files[i].path.as_str();
                let len = lens.get(path).copied().unwrap_or(avg);
                let norm = tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * len / avg.max(1.0)));
                let s = idf * norm * qtf;
                let e = scores.entry(path).or_default();
                e.0 += s;
                e.1.push((s, term.clone()));
            }
        }
        Ok(top_hits(scores, k))
    }

    /// (file index, summed tf) of one term over the snapshot's history
    /// documents, by file index. Summed here rather than with GROUP BY:
    /// SQLite would sort the rows by path text first, which cost more than
    /// the query.
    fn file_history_postings(
        &self,
        tid: i64,
        max_files: usize,
        lens: &HistoryLengths,
    ) -> Result<Vec<(usize, f64)>, StoreError> {
        let conn = &self.store.conn;
        let mut summed: HashMap<usize, f64> = HashMap::new();
        let mut stmt = conn
            .prepare_cached(
                "SELECT cf.path, ct.tf FROM commit_terms ct
                 JOIN snap_commits s ON s.commit_id = ct.commit_id JOIN commits c ON c.id = ct.commit_id
                 JOIN commit_files cf ON cf.commit_id = ct.commit_id
                 WHERE ct.term = ?1 AND c.file_count <= ?2 AND cf.status != 'D'",
            )
            .map_err(|e| self.store.err(e))?;
        let mut rows = stmt
            .query(params![tid, max_files as i64])
            .map_err(|e| self.store.err(e))?;
        while let Some(r) = rows.next().map_err(|e| self.store.err(e))? {
            let path = r.get_ref(0).map_err(|e| self.store.err(e))?;
            let Ok(path) = path.as_str() else {
                continue;
            };
            let tf: f64 = r.get(1).map_err(|e| self.store.err(e))?;
            if lens.contains_key(path)
                && let Some(&i) = self.by_path.get(path)
            {
                *summed.entry(i).or_default() += tf;
            }
        }
        let mut v: Vec<(usize, f64)> = summed.into_iter().collect();
        v.sort_by_key(|(i, _)| *i);
        Ok(v)
    }

    /// Files defining a symbol named `name` (case-insensitive), with kind and line.
    pub fn symbol_defs(&self, name: &str) -> Result<Vec<(String, String, u32)>, StoreError> {
        self.store
            .conn
            .prepare_cached("SELECT path, kind, line FROM snap_symbols WHERE name = ?1 COLLATE NOCASE ORDER BY path, line LIMIT 200")
            .and_then(|mut s| s.query_map(params![name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect())
            .map_err(|e| self.store.err(e))
    }

    /// All symbol names with their defining files (for matching request words).
    pub fn all_symbols(&self) -> Result<Vec<(String, String, String)>, StoreError> {
        self.store
            .conn
            .prepare_cached("SELECT name, path, kind FROM snap_symbols")
            .and_then(|mut s| {
                s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect()
            })
            .map_err(|e| self.store.err(e))
    }

    /// The card of `path` (the newest of any source; offline by default),
    /// followed by the notes a model wrote at sleep time for this content
    /// of the file, when there are any.
    pub fn card(&self, path: &str) -> Result<Option<String>, StoreError> {
        let card: Option<String> = self
            .store
            .conn
            .prepare_cached(
                "SELECT text FROM cards WHERE path = ?1 ORDER BY source = 'offline' LIMIT 1",
            )
            .and_then(|mut s| s.query_row(params![path], |r| r.get(0)).optional())
            .map_err(|e| self.store.err(e))?;
        let Some(card) = card else { return Ok(None) };
        Ok(Some(match self.llm_card(path)? {
            Some((model, notes)) => format!("{}\nnotes by {model}: {notes}\n", card.trim_end()),
            None => card,
        }))
    }

    /// The newest model-written card for the current content of `path`:
    /// (model, text). Keyed by blob, so only this snapshot's content shows.
    pub fn llm_card(&self, path: &str) -> Result<Option<(String, String)>, StoreError> {
        let Some(blob) = self.file(path).and_then(|f| f.blob) else {
            return Ok(None);
        };
        self.store
            .conn
            .prepare_cached(
                "SELECT l.model, l.text FROM blobs b JOIN llm_cards l ON l.blob_oid = b.oid
                 WHERE b.id = ?1 ORDER BY l.at DESC, l.model LIMIT 1",
            )
            .and_then(|mut s| {
                s.query_row(params![blob], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .map_err(|e| self.store.err(e))
    }

    /// Every offline card, by path.
    pub fn all_cards(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.store
            .conn
            .prepare_cached("SELECT path, text FROM cards WHERE source = 'offline'")
            .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
            .map_err(|e| self.store.err(e))
    }

    /// Files that change with `path`: (partner, decayed weight, commits in common).
    pub fn cochange(&self, path: &str) -> Result<Vec<(String, f64, u32)>, StoreError> {
        self.store
            .conn
            .prepare_cached(
                "SELECT b, weight, count FROM snap_cochange WHERE a = ?1 ORDER BY weight DESC, b",
            )
            .and_then(|mut s| {
                s.query_map(params![path], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect()
            })
            .map_err(|e| self.store.err(e))
    }

    /// Files `path` imports.
    pub fn imports(&self, path: &str) -> Result<Vec<String>, StoreError> {
        self.store
            .conn
            .prepare_cached("SELECT dst FROM snap_imports WHERE src = ?1 ORDER BY dst")
            .and_then(|mut s| s.query_map(params![path], |r| r.get(0))?.collect())
            .map_err(|e| self.store.err(e))
    }

    /// Files that import `path`.
    pub fn imported_by(&self, path: &str) -> Result<Vec<String>, StoreError> {
        self.store
            .conn
            .prepare_cached("SELECT src FROM snap_imports WHERE dst = ?1 ORDER BY src")
            .and_then(|mut s| s.query_map(params![path], |r| r.get(0))?.collect())
            .map_err(|e| self.store.err(e))
    }

    /// History of every file that has any.
    pub fn file_stats(&self) -> Result<HashMap<String, FileStat>, StoreError> {
        let rows: Vec<(String, u32, f64, i64, String)> = self
            .store
            .conn
            .prepare_cached("SELECT path, changes, decayed, last_time, prs FROM snap_filestats")
            .and_then(|mut s| {
                s.query_map([], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })?
                .collect()
            })
            .map_err(|e| self.store.err(e))?;
        Ok(rows
            .into_iter()
            .map(|(p, changes, decayed, last_time, prs)| {
                let prs = serde_json::from_str(&prs).unwrap_or_default();
                (
                    p,
                    FileStat {
                        changes,
                        decayed,
                        last_time,
                        prs,
                    },
                )
            })
            .collect())
    }

    /// How often each file was changed by the `window` most recent commits
    /// that changed between 2 and `max_files` files: the base rate of a file
    /// going along with a change.
    pub fn recent_rates(
        &self,
        window: usize,
        max_files: usize,
    ) -> Result<(HashMap<String, f64>, usize), StoreError> {
        let rows: Vec<(i64, String)> = self
            .store
            .conn
            .prepare_cached(
                "SELECT s.ord, cf.path FROM snap_commits s JOIN commits c ON c.id = s.commit_id
                 JOIN commit_files cf ON cf.commit_id = c.id
                 WHERE c.file_count BETWEEN 2 AND ?1 AND cf.status != 'D'
                   AND s.ord IN (SELECT s2.ord FROM snap_commits s2 JOIN commits c2 ON c2.id = s2.commit_id
                                 WHERE c2.file_count BETWEEN 2 AND ?1 ORDER BY s2.ord LIMIT ?2)",
            )
            .and_then(|mut s| s.query_map(params![max_files as i64, window as i64], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
            .map_err(|e| self.store.err(e))?;
        let commits: std::collections::HashSet<i64> = rows.iter().map(|r| r.0).collect();
        let n = commits.len().max(1) as f64;
        let mut rates: HashMap<String, f64> = HashMap::new();
        for (_, path) in rows {
            if self.by_path.contains_key(&path) {
                *rates.entry(path).or_default() += 1.0 / n;
            }
        }
        Ok((rates, commits.len()))
    }

    /// The blob id (hex) of `path`, to read its content from the repository.
    pub fn blob_oid(&self, path: &str) -> Result<Option<String>, StoreError> {
        let Some(blob) = self.file(path).and_then(|f| f.blob) else {
            return Ok(None);
        };
        self.store
            .conn
            .prepare_cached("SELECT oid FROM blobs WHERE id = ?1")
            .and_then(|mut s| s.query_row(params![blob], |r| r.get(0)).optional())
            .map_err(|e| self.store.err(e))
    }
}

/// Distinct terms with their repeat count as weight (capped, so a word
/// repeated many times does not drown the rest).
fn weighted(terms: &[String]) -> Vec<(String, f64)> {
    let mut counts: HashMap<&str, f64> = HashMap::new();
    let mut order = Vec::new();
    for t in terms {
        let e = counts.entry(t.as_str()).or_insert_with(|| {
            order.push(t.as_str());
            0.0
        });
        *e += 1.0;
    }
    order
        .into_iter()
        .map(|t| (t.to_string(), (1.0 + counts[t].ln()).min(3.0)))
        .collect()
}

fn top_hits(scores: Scores, k: usize) -> Vec<Hit> {
    let mut hits: Vec<Hit> = scores
        .into_iter()
        .map(|(path, (score, mut m))| {
            m.sort_by(|a, b| b.0.total_cmp(&a.0));
            Hit {
                path: path.to_string(),
                score,
                matched: m.into_iter().map(|(_, t)| t).collect(),
            }
        })
        .collect();
    hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.path.cmp(&b.path)));
    hits.truncate(k);
    hits
}
