//! The sleep arm's tools: everything answered from the notebook written at
//! sleep time (indexes, cards, history digests), plus file reads from the
//! object database.

use std::collections::HashMap;
use std::sync::Arc;

use crate::git::{Oid, Repo};
use crate::notebook::history_index::FileHistoryIndex;
use crate::notebook::search_index::{CodeIndex, CommitIndex};
use crate::notebook::{Notebook, StoreError};
use crate::text;

use super::dense::DenseIndex;
use super::fused_search::{self, Lists};
use super::rank::{Bm25, PathIndex};
use super::request::Request;
use super::tools::{FileItem, Found, PrItem, ToolCall, Toolbox, dir_refusal, path_refusal};
use crate::git::path::display;
use crate::learn::search::{SearchExample, SearchRanker};
use crate::notebook::read::FileStat;

/// Commits larger than this say little about any one file.
const HISTORY_MAX_FILES: usize = 30;
/// Depth of each list before fusion.
const LIST_DEPTH: usize = 60;

/// Symbol name key -> (defining file, kind).
type SymbolMap = HashMap<String, Vec<(String, String)>>;

/// The in-memory indexes the sleep arm's search builds from a notebook.
/// They depend only on the notebook's snapshot, so a long-lived process
/// (the daemon) builds them once per snapshot and shares them between
/// requests ([`NotebookTools::with_indexes`]).
pub struct SearchIndexes {
    /// The snapshot they were built from ([`crate::notebook::read::NotebookInfo::snapshot_id`]).
    pub snapshot: (u64, u64),
    cards: Arc<Bm25>,
    symbols: Arc<SymbolMap>,
    paths: Arc<PathIndex>,
    /// `None` when it could not be read (searches then ask SQLite).
    file_history: Option<Arc<FileHistoryIndex>>,
    /// Code postings; `None` when they could not be read.
    code: Option<Arc<CodeIndex>>,
    /// Commit-message postings; `None` when they could not be read.
    commits: Option<Arc<CommitIndex>>,
}

impl std::fmt::Debug for SearchIndexes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndexes")
            .field("snapshot", &self.snapshot)
            .field("symbols", &self.symbols.len())
            .finish_non_exhaustive()
    }
}

fn path_index(nb: &Notebook) -> PathIndex {
    PathIndex::new(nb.files().iter().map(|f| f.path.clone()).collect())
}

impl SearchIndexes {
    pub fn build(nb: &Notebook) -> SearchIndexes {
        SearchIndexes {
            snapshot: nb.info.snapshot_id(),
            cards: Arc::new(Bm25::new(card_docs(nb))),
            symbols: Arc::new(build_symbol_map(nb)),
            paths: Arc::new(path_index(nb)),
            file_history: match FileHistoryIndex::build(nb, HISTORY_MAX_FILES) {
                Ok(ix) => Some(Arc::new(ix)),
                Err(e) => {
                    tracing::warn!("file history stays in SQLite: {e}");
                    None
                }
            },
            code: match CodeIndex::build(nb) {
                Ok(ix) => Some(Arc::new(ix)),
                Err(e) => {
                    tracing::warn!("code search stays in SQLite: {e}");
                    None
                }
            },
            commits: match CommitIndex::build(nb) {
                Ok(ix) => Some(Arc::new(ix)),
                Err(e) => {
                    tracing::warn!("history search stays in SQLite: {e}");
                    None
                }
            },
        }
    }
}

pub struct NotebookTools<'a> {
    nb: &'a Notebook,
    repo: Option<&'a Repo>,
    paths: Arc<PathIndex>,
    cards: Option<Arc<Bm25>>,
    /// The card index being built on another thread (started in `new`).
    cards_building: Option<std::thread::JoinHandle<Bm25>>,
    symbols: Option<Arc<SymbolMap>>,
    file_history: Option<Arc<FileHistoryIndex>>,
    /// The snapshot's per-file history (the learned search reads it).
    stats: Option<Arc<HashMap<String, FileStat>>>,
    /// The search ranking learned at sleep time, when the caller gave it.
    search_ranker: Option<Arc<SearchRanker>>,
    code: Option<Arc<CodeIndex>>,
    commits: Option<Arc<CommitIndex>>,
    /// The snapshot's embeddings, when sleep time made them and the caller
    /// gave them ([`NotebookTools::set_dense`]).
    dense: Option<Arc<DenseIndex>>,
    /// The first notebook query that failed during a run, kept for the
    /// caller ([`NotebookTools::take_query_error`]): the policy only sees an
    /// error result, but a damaged notebook must not pass for an empty one.
    query_error: Option<StoreError>,
}

impl<'a> NotebookTools<'a> {
    /// The refusal of a failed notebook query; the first one is kept.
    fn query_failed(&mut self, e: StoreError) -> Found {
        let found = Found::Error(format!("the notebook query failed: {e}"));
        if self.query_error.is_none() {
            self.query_error = Some(e);
        }
        found
    }

    /// The first notebook query that failed since the last call, if any.
    pub fn take_query_error(&mut self) -> Option<StoreError> {
        self.query_error.take()
    }

    /// `repo` is needed only for `read` (file content comes from the object
    /// database or the work tree).
    pub fn new(nb: &'a Notebook, repo: Option<&'a Repo>) -> NotebookTools<'a> {
        NotebookTools {
            nb,
            repo,
            paths: Arc::new(path_index(nb)),
            cards: None,
            cards_building: Some(spawn_card_index(nb)),
            symbols: None,
            file_history: None,
            stats: None,
            search_ranker: None,
            code: None,
            commits: None,
            dense: None,
            query_error: None,
        }
    }

    /// Tools that reuse indexes built earlier from the same snapshot.
    pub fn with_indexes(
        nb: &'a Notebook,
        repo: Option<&'a Repo>,
        indexes: &SearchIndexes,
    ) -> NotebookTools<'a> {
        NotebookTools {
            nb,
            repo,
            paths: indexes.paths.clone(),
            cards: Some(indexes.cards.clone()),
            cards_building: None,
            symbols: Some(indexes.symbols.clone()),
            file_history: indexes.file_history.clone(),
            stats: None,
            search_ranker: None,
            code: indexes.code.clone(),
            commits: indexes.commits.clone(),
            dense: None,
            query_error: None,
        }
    }

    /// Adds the dense lists (sleep-time embeddings of this snapshot) to
    /// the fused search.
    pub fn set_dense(&mut self, dense: Arc<DenseIndex>) {
        if dense.snapshot == self.nb.info.snapshot_id() {
            self.dense = Some(dense);
        }
    }

    fn card_index(&mut self) -> &Bm25 {
        if self.cards.is_none() {
            let built = self.cards_building.take().and_then(|h| h.join().ok());
            let index = match built {
                Some(b) => b,
                None => Bm25::new(card_docs(self.nb)),
            };
            self.cards = Some(Arc::new(index));
        }
        self.cards.as_deref().expect("just built")
    }

    fn symbol_map(&mut self) -> &SymbolMap {
        if self.symbols.is_none() {
            self.symbols = Some(Arc::new(build_symbol_map(self.nb)));
        }
        self.symbols.as_deref().expect("just built")
    }

    /// The five lists of the fused search for `req`.
    fn lists(&mut self, req: &Request) -> Result<Lists, StoreError> {
        let t = std::time::Instant::now();
        let code = self
            .nb
            .search_code_in(self.code.as_deref(), &req.terms, LIST_DEPTH)?;
        let t_code = t.elapsed();
        let history = self.nb.search_file_history_in(
            self.file_history.as_deref(),
            &req.terms,
            HISTORY_MAX_FILES,
            LIST_DEPTH,
        )?;
        let t_hist = t.elapsed();
        let mut path = self.paths.matches(&req.terms, &req.paths);
        path.truncate(LIST_DEPTH);
        let t_paths = t.elapsed();
        let card = self.card_index().search(&req.terms, LIST_DEPTH);
        let t_cards = t.elapsed();
        let mut symbol = self.symbol_hits(req);
        symbol.truncate(LIST_DEPTH);
        let t_symbols = t.elapsed();
        let (dense, dense_prs) = match &self.dense {
            Some(d) => match d.query_vector(&req.text) {
                Ok(q) => d.lists(&q, LIST_DEPTH),
                Err(e) => {
                    // The model ran at sleep time; failing now is a
                    // fault of this process, not of the notebook.
                    tracing::warn!("the request could not be embedded: {e}");
                    (Vec::new(), Vec::new())
                }
            },
            None => (Vec::new(), Vec::new()),
        };
        tracing::debug!(
            code = ?t_code,
            history = ?(t_hist - t_code),
            paths = ?(t_paths - t_hist),
            cards = ?(t_cards - t_paths),
            symbols = ?(t_symbols - t_cards),
            dense = ?(t.elapsed() - t_symbols),
            "fused search timings"
        );
        let hits = |hs: Vec<crate::notebook::read::Hit>| -> fused_search::List {
            hs.into_iter()
                .map(|h| (h.path, h.score, h.matched))
                .collect()
        };
        Ok(Lists {
            code: hits(code),
            path,
            symbol,
            card,
            history: hits(history),
            dense,
            dense_prs,
        })
    }

    /// The snapshot's per-file history, read once.
    fn stats(&mut self) -> Result<Arc<HashMap<String, FileStat>>, StoreError> {
        if let Some(s) = &self.stats {
            return Ok(s.clone());
        }
        let s = Arc::new(self.nb.file_stats()?);
        self.stats = Some(s.clone());
        Ok(s)
    }

    /// The fused search behind the `search` tool: ordered by the search
    /// ranking learned at sleep time when there is one, else by weighted
    /// reciprocal rank.
    pub fn fused_search(&mut self, query: &str, k: usize) -> Result<Vec<FileItem>, StoreError> {
        let req = Request::new(query);
        let lists = self.lists(&req)?;
        let ranked = match self.search_ranker.clone() {
            Some(ranker) => {
                let stats = self.stats()?;
                let cands = lists.candidates(&req, &stats, self.nb.info.commit_time);
                fused_search::learned_ranking(&ranker, &cands, fused_search::distinct_terms(&req))
            }
            None => lists
                .rrf()
                .into_iter()
                .map(|(p, s)| (p, s * 100.0))
                .collect(),
        };
        Ok(fused_search::items(ranked, lists.evidence(), k))
    }

    /// What the fused search knows about every file it finds for `query`
    /// (for replay: the learned search is fitted on these).
    pub fn search_example(&mut self, query: &str) -> Result<SearchExample, StoreError> {
        let req = Request::new(query);
        let lists = self.lists(&req)?;
        let stats = self.stats()?;
        Ok(SearchExample {
            terms: fused_search::distinct_terms(&req),
            candidates: lists.candidates(&req, &stats, self.nb.info.commit_time),
        })
    }

    /// Files defining symbols the request names (identifiers, or words equal
    /// to a symbol name), scored by how specific the symbol is.
    fn symbol_hits(&mut self, req: &Request) -> Vec<(String, f64, Vec<String>)> {
        let mut keys: Vec<String> = req.identifiers.iter().map(|i| symbol_key(i)).collect();
        for t in &req.terms {
            if t.len() >= 4 {
                keys.push(t.clone());
            }
        }
        keys.sort();
        keys.dedup();
        let map = self.symbol_map();
        let mut scores: HashMap<String, (f64, Vec<String>)> = HashMap::new();
        for key in &keys {
            let Some(defs) = map.get(key) else { continue };
            if defs.len() > 40 {
                continue;
            }
            let w = 1.0 / (1.0 + defs.len() as f64).ln().max(0.5);
            for (path, kind) in defs {
                let kw = match kind.as_str() {
                    "field" | "variant" | "impl" => 0.5,
                    _ => 1.0,
                };
                let e = scores.entry(path.clone()).or_default();
                e.0 += w * kw;
                e.1.push(key.clone());
            }
        }
        let mut out: Vec<(String, f64, Vec<String>)> =
            scores.into_iter().map(|(p, (s, n))| (p, s, n)).collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        out
    }

    /// Lines of a file of the snapshot. The path must be a regular file
    /// the snapshot lists: its content comes from the blob the snapshot
    /// recorded, or, for a work-tree notebook, from the work tree opened
    /// without following links (regular files up to the indexer's size cap).
    fn read(&self, path: &str, start: u32, end: u32) -> Found {
        if let Some(refusal) = path_refusal(path) {
            return Found::Error(refusal);
        }
        let shown = display(path);
        let Some(file) = self.nb.file(path) else {
            return Found::Error(format!("`{shown}` is not a file of this snapshot"));
        };
        match file.status.as_str() {
            "parsed" => {}
            "symlink" => {
                return Found::Error(format!(
                    "`{shown}` is a symbolic link; links are never followed"
                ));
            }
            other => {
                return Found::Error(format!(
                    "`{shown}` has no readable text ({})",
                    other.replace('_', " ")
                ));
            }
        }
        let Some(repo) = self.repo else {
            return Found::Error("file content is not available here".into());
        };
        let content = match (self.nb.info.worktree, repo.work_dir()) {
            (true, Some(root)) => {
                crate::git::read_confined(root, path, self.nb.info.max_file_bytes)
                    .map_err(|e| e.to_string())
            }
            _ => match self.nb.blob_oid(path) {
                Ok(Some(o)) => Oid::from_str(&o)
                    .map_err(|e| e.to_string())
                    .and_then(|o| repo.read_blob(o).map_err(|e| e.to_string())),
                Ok(None) => Err("no content recorded".to_string()),
                Err(e) => Err(e.to_string()),
            },
        };
        match content {
            Ok(bytes) => Found::Text(numbered_lines(&String::from_utf8_lossy(&bytes), start, end)),
            Err(e) => Found::Error(format!("cannot read `{shown}`: {e}")),
        }
    }

    /// A path the snapshot lists, or the refusal saying why not.
    fn member(&self, path: &str) -> Result<(), Found> {
        if let Some(refusal) = path_refusal(path) {
            return Err(Found::Error(refusal));
        }
        if self.nb.file(path).is_none() {
            return Err(Found::Error(format!(
                "`{}` is not a file of this snapshot",
                display(path)
            )));
        }
        Ok(())
    }
}

/// Symbols by match key, each with its defining files.
fn build_symbol_map(nb: &Notebook) -> SymbolMap {
    let mut map: SymbolMap = HashMap::new();
    for (name, path, kind) in nb.all_symbols().unwrap_or_default() {
        let e = map.entry(symbol_key(&name)).or_default();
        if !e.iter().any(|(p, _)| *p == path) {
            e.push((path, kind));
        }
    }
    map
}

/// What the card index searches: each card's purpose and symbols. Paths,
/// PR titles and co-change partners have lists of their own in the fused
/// search; indexing them here again would count them twice.
fn card_docs(nb: &Notebook) -> Vec<(String, String)> {
    nb.all_cards()
        .unwrap_or_default()
        .into_iter()
        .map(|(path, text)| {
            let body: Vec<&str> = text
                .lines()
                .filter(|l| l.starts_with("purpose: ") || l.starts_with("symbols: "))
                .collect();
            (path, body.join("\n"))
        })
        .collect()
}

/// Builds the card index on another thread: it overlaps with the
/// tokenizer's start-up and the first notebook queries.
fn spawn_card_index(nb: &Notebook) -> std::thread::JoinHandle<Bm25> {
    let docs = card_docs(nb);
    std::thread::spawn(move || Bm25::new(docs))
}

/// Whole days from `then` to `now` (0 when `then` is later).
pub fn age_days(now: i64, then: i64) -> u32 {
    ((now - then).max(0) / 86_400) as u32
}

/// Symbol names are matched lower-cased and stemmed when single words, so
/// `Flags` meets the request word "flag".
fn symbol_key(name: &str) -> String {
    let lower = name.to_lowercase();
    if lower.contains('_') || text::split_identifier(name).len() > 1 {
        lower
    } else {
        text::stem(&lower)
    }
}

/// Lines `start..=end` (1-based), each prefixed with its number.
pub fn numbered_lines(text: &str, start: u32, end: u32) -> String {
    let start = start.max(1);
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        let n = i as u32 + 1;
        if n < start {
            continue;
        }
        if n > end {
            break;
        }
        out.push_str(&format!("{n:>5} {line}\n"));
    }
    out
}

/// Directory listing from a path list: immediate children of `dir`.
pub fn list_dir(paths: &[String], dir: &str) -> String {
    let prefix = if dir.is_empty() || dir == "." {
        String::new()
    } else {
        format!("{}/", dir.trim_end_matches('/'))
    };
    let mut children: Vec<String> = paths
        .iter()
        .filter_map(|p| p.strip_prefix(&prefix))
        .map(|rest| match rest.split_once('/') {
            Some((d, _)) => format!("{d}/"),
            None => rest.to_string(),
        })
        .collect();
    children.dedup();
    children.sort();
    children.dedup();
    if children.is_empty() {
        return format!("no such directory: {}\n", display(dir));
    }
    children.join("\n") + "\n"
}

impl Toolbox for NotebookTools<'_> {
    fn arm(&self) -> &'static str {
        "sleep"
    }

    /// Orders the fused search by `ranker` (the one fitted for this
    /// notebook's snapshot at sleep time).
    fn set_search_ranker(&mut self, ranker: Arc<SearchRanker>) {
        self.search_ranker = Some(ranker);
    }

    /// Symbolic links are listed by path only: a change edits what they
    /// point to, never the link, so they are not predictable files.
    fn exists(&self, path: &str) -> bool {
        crate::git::path::check(path).is_ok()
            && self.nb.file(path).is_some_and(|f| f.status != "symlink")
    }

    fn find(&mut self, call: &ToolCall) -> Found {
        match call {
            ToolCall::Search { query, k, .. } => match self.fused_search(query, *k) {
                Ok(items) => Found::Files {
                    header: "search results (path (score): evidence):\n".into(),
                    items,
                },
                Err(e) => self.query_failed(e),
            },
            ToolCall::Card { path } => {
                if let Err(refused) = self.member(path) {
                    return refused;
                }
                match self.nb.card(path) {
                    Ok(Some(text)) => Found::Card {
                        path: path.clone(),
                        text,
                    },
                    Ok(None) => Found::Error(format!("no card for `{}`", display(path))),
                    Err(e) => self.query_failed(e),
                }
            }
            ToolCall::Read { path, start, end } => self.read(path, *start, *end),
            ToolCall::List { dir } => match dir_refusal(dir) {
                Some(refusal) => Found::Error(refusal),
                None => Found::Text(list_dir(self.paths.paths(), dir)),
            },
            ToolCall::Symbol { name } => {
                let shown = display(name);
                let defs = match self.nb.symbol_defs(name) {
                    Ok(d) => d,
                    Err(e) => {
                        return self.query_failed(e);
                    }
                };
                let users =
                    match self
                        .nb
                        .search_code_in(self.code.as_deref(), &text::terms(name), 15)
                    {
                        Ok(u) => u,
                        Err(e) => {
                            return self.query_failed(e);
                        }
                    };
                let mut items: Vec<FileItem> = defs
                    .iter()
                    .map(|(p, kind, line)| FileItem {
                        path: p.clone(),
                        score: 1.0,
                        evidence: format!("defines {kind} {shown} at line {line}"),
                    })
                    .collect();
                for u in users {
                    if !items.iter().any(|i| i.path == u.path) {
                        items.push(FileItem {
                            path: u.path,
                            score: 0.5,
                            evidence: format!("mentions {shown}"),
                        });
                    }
                }
                Found::Files {
                    header: format!("symbol {shown}:\n"),
                    items,
                }
            }
            ToolCall::Cochange { path } => {
                if let Err(refused) = self.member(path) {
                    return refused;
                }
                let items = match self.nb.cochange(path) {
                    Ok(rows) => rows
                        .into_iter()
                        .map(|(p, w, n)| FileItem {
                            path: p,
                            score: w,
                            evidence: format!("{n} commits together"),
                        })
                        .collect(),
                    Err(e) => {
                        return self.query_failed(e);
                    }
                };
                Found::Files {
                    header: format!("files that change with {path}:\n"),
                    items,
                }
            }
            ToolCall::SimilarPrs { text: q, k, .. } => {
                let req = Request::new(q);
                let now = self.nb.info.commit_time;
                let items = match self
                    .nb
                    .search_history_in(self.commits.as_deref(), &req.terms, *k)
                {
                    Ok(found) => found
                        .into_iter()
                        .map(|c| PrItem {
                            pr: c.pr,
                            title: c.title,
                            score: c.score,
                            files: c.files.into_iter().take(12).collect(),
                            age_days: age_days(now, c.time),
                        })
                        .collect(),
                    Err(e) => {
                        return self.query_failed(e);
                    }
                };
                Found::Prs {
                    header: "similar past changes (#PR title (score): files it modified):\n".into(),
                    items,
                }
            }
            ToolCall::Submit { .. } => Found::Text("submitted\n".into()),
        }
    }
}
