//! The no-sleep arm's tools: nothing precomputed. Every call works from the
//! raw repository at test time, and pays for what it reads: a search scans
//! every file and returns matching lines, a "card" is the head of the file,
//! history is walked and diffed on demand. This is the baseline the
//! notebook must beat.

use std::collections::HashMap;

use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::config::Config;
use crate::git::{self, EntryKind, MinedCommit, Oid, Repo};
use crate::text;

use super::rank::{self, Bm25};
use super::request::Request;
use super::sleep_tools::{age_days, list_dir, numbered_lines};
use super::tools::{FileItem, Found, PrItem, ToolCall, Toolbox, dir_refusal, path_refusal};
use crate::git::path::display;

/// Lines of a file shown in place of a card.
const HEAD_LINES: u32 = 40;
/// Matching lines shown per file in search results.
const LINES_PER_HIT: usize = 2;

pub struct RawTools<'a> {
    repo: &'a Repo,
    commit: Oid,
    max_bytes: u64,
    max_commit_files: usize,
    history_limit: usize,
    skip: GlobSet,
    /// `index.generated_globs`: files whose content the scans leave out,
    /// as the notebook does.
    generated: GlobSet,
    paths: Option<Vec<String>>,
    texts: Option<Vec<(String, String)>>,
    history: Option<Vec<MinedCommit>>,
    /// Seconds the scans took when they were paid: (texts, history).
    scan_seconds: (f64, f64),
    /// Scans done before the current run started: (texts, history).
    loaded_before: (bool, bool),
    /// Scans the current run used: (texts, history).
    used: (bool, bool),
}

impl<'a> RawTools<'a> {
    pub fn new(repo: &'a Repo, commit: Oid, config: &Config) -> RawTools<'a> {
        let mut b = GlobSetBuilder::new();
        for g in &config.index.skip_globs {
            if let Ok(g) = Glob::new(g) {
                b.add(g);
            }
        }
        let mut generated = GlobSetBuilder::new();
        for g in &config.index.generated_globs {
            if let Ok(g) = Glob::new(g) {
                generated.add(g);
            }
        }
        RawTools {
            repo,
            commit,
            max_bytes: config.index.max_file_bytes,
            max_commit_files: config.history.max_commit_files,
            history_limit: match config.history.max_commits {
                0 => 2000,
                n => n.min(2000),
            },
            skip: b.build().unwrap_or_else(|_| GlobSet::empty()),
            generated: generated.build().unwrap_or_else(|_| GlobSet::empty()),
            paths: None,
            texts: None,
            history: None,
            scan_seconds: (0.0, 0.0),
            loaded_before: (false, false),
            used: (false, false),
        }
    }

    /// Starts a new run on the same tools: scans already paid are reused,
    /// and [`RawTools::reused_seconds`] says what they had cost.
    pub fn reset_run_clock(&mut self) {
        self.loaded_before = (self.texts.is_some(), self.history.is_some());
        self.used = (false, false);
    }

    /// Scan time this run reused from an earlier run instead of paying it.
    pub fn reused_seconds(&self) -> f64 {
        let texts = self.loaded_before.0 && self.used.0;
        let history = self.loaded_before.1 && self.used.1;
        (if texts { self.scan_seconds.0 } else { 0.0 })
            + (if history { self.scan_seconds.1 } else { 0.0 })
    }

    fn paths(&mut self) -> &[String] {
        if self.paths.is_none() {
            let listing = git::list_commit(self.repo, self.commit)
                .map(|l| l.entries)
                .unwrap_or_default();
            let paths = listing
                .into_iter()
                .filter(|e| e.kind != EntryKind::Submodule && !self.skip.is_match(&e.path))
                .map(|e| e.path)
                .collect();
            self.paths = Some(paths);
        }
        self.paths.as_deref().expect("just listed")
    }

    /// Reads every text file of the commit (the cost the notebook saves).
    fn texts(&mut self) -> &[(String, String)] {
        self.used.0 = true;
        if self.texts.is_none() {
            let t = std::time::Instant::now();
            let entries = git::list_commit(self.repo, self.commit)
                .map(|l| l.entries)
                .unwrap_or_default();
            let mut texts = Vec::new();
            for e in entries {
                if e.kind != EntryKind::File
                    || e.size > self.max_bytes
                    || self.skip.is_match(&e.path)
                    || self.generated.is_match(&e.path)
                {
                    continue;
                }
                let Ok(bytes) = self.repo.read_blob(e.oid) else {
                    continue;
                };
                if git::looks_binary(&bytes) {
                    continue;
                }
                texts.push((e.path, String::from_utf8_lossy(&bytes).into_owned()));
            }
            self.texts = Some(texts);
            self.scan_seconds.0 = t.elapsed().as_secs_f64();
        }
        self.texts.as_deref().expect("just read")
    }

    /// Walks and diffs recent first-parent history (the other cost).
    fn history(&mut self) -> &[MinedCommit] {
        self.used.1 = true;
        if self.history.is_none() {
            let t = std::time::Instant::now();
            let mut out = Vec::new();
            let mut cur = Some(self.commit);
            while let Some(oid) = cur {
                if out.len() >= self.history_limit {
                    break;
                }
                let Ok(c) = git::mine_commit(self.repo, oid) else {
                    break;
                };
                cur = c.parent;
                out.push(c);
            }
            self.history = Some(out);
            self.scan_seconds.1 = t.elapsed().as_secs_f64();
        }
        self.history.as_deref().expect("just walked")
    }

    fn file_text(&mut self, path: &str) -> Option<String> {
        self.texts()
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, t)| t.clone())
    }

    fn search(&mut self, query: &str, k: usize) -> Vec<FileItem> {
        let req = Request::new(query);
        let paths = self.paths().to_vec();
        let path_hits = rank::path_matches(&req.terms, &req.paths, &paths);
        let texts = self.texts();
        let index = Bm25::new(texts.iter().map(|(p, t)| (p.clone(), t.clone())));
        let code = index.search(&req.terms, 60);
        let code_list: Vec<String> = code.iter().map(|c| c.0.clone()).collect();
        let path_list: Vec<String> = path_hits.iter().take(60).map(|p| p.0.clone()).collect();
        let fused = rank::rrf(&[(&code_list, 1.0), (&path_list, 1.0)]);
        let matched: HashMap<&str, &Vec<String>> =
            code.iter().map(|(p, _, m)| (p.as_str(), m)).collect();
        fused
            .into_iter()
            .take(k)
            .map(|(path, score)| {
                let lines = matched
                    .get(path.as_str())
                    .map(|m| matching_lines(texts, &path, m))
                    .unwrap_or_default();
                FileItem {
                    path,
                    score: score * 100.0,
                    evidence: lines,
                }
            })
            .collect()
    }
}

/// Up to [`LINES_PER_HIT`] lines of `path` that contain a matched term, as
/// `grep -n` would show them.
fn matching_lines(texts: &[(String, String)], path: &str, terms: &[String]) -> String {
    let Some((_, text)) = texts.iter().find(|(p, _)| p == path) else {
        return String::new();
    };
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let lt = text::terms(line);
        if lt.iter().any(|t| terms.contains(t)) {
            let shown: String = line.trim().chars().take(100).collect();
            out.push(format!("{}: {shown}", i + 1));
            if out.len() >= LINES_PER_HIT {
                break;
            }
        }
    }
    out.join(" | ")
}

impl Toolbox for RawTools<'_> {
    fn arm(&self) -> &'static str {
        "no-sleep"
    }

    /// A regular file of the commit, outside the skipped (vendored) trees;
    /// symbolic links and submodules are not predictable files.
    fn exists(&self, path: &str) -> bool {
        crate::git::path::check(path).is_ok()
            && !self.skip.is_match(path)
            && self
                .repo
                .raw()
                .find_commit(self.commit)
                .and_then(|c| c.tree())
                .and_then(|t| t.get_path(std::path::Path::new(path)))
                .is_ok_and(|e| e.kind() == Some(git2::ObjectType::Blob) && e.filemode() != 0o120000)
    }

    fn find(&mut self, call: &ToolCall) -> Found {
        match call {
            ToolCall::Search { query, k, .. } => Found::Files {
                header: "grep results (path (score): matching lines):\n".into(),
                items: self.search(query, *k),
            },
            ToolCall::Card { path } | ToolCall::Read { path, .. } => {
                if let Some(refusal) = path_refusal(path) {
                    return Found::Error(refusal);
                }
                let (start, end) = match call {
                    ToolCall::Read { start, end, .. } => (*start, *end),
                    _ => (1, HEAD_LINES),
                };
                match self.file_text(path) {
                    Some(t) => Found::Text(format!("{path}:\n{}", numbered_lines(&t, start, end))),
                    None => Found::Error(format!(
                        "`{}` is not a readable text file of this snapshot",
                        display(path)
                    )),
                }
            }
            ToolCall::List { dir } => match dir_refusal(dir) {
                Some(refusal) => Found::Error(refusal),
                None => Found::Text(list_dir(self.paths(), dir)),
            },
            ToolCall::Symbol { name } => {
                let patterns = [
                    format!("fn {name}"),
                    format!("struct {name}"),
                    format!("enum {name}"),
                    format!("trait {name}"),
                    format!("def {name}"),
                    format!("class {name}"),
                ];
                let items: Vec<FileItem> = self
                    .texts()
                    .iter()
                    .filter_map(|(p, t)| {
                        let line = t
                            .lines()
                            .position(|l| patterns.iter().any(|pat| l.contains(pat.as_str())))?;
                        Some(FileItem {
                            path: p.clone(),
                            score: 1.0,
                            evidence: format!("defines {} at line {}", display(name), line + 1),
                        })
                    })
                    .collect();
                Found::Files {
                    header: format!("symbol {}:\n", display(name)),
                    items,
                }
            }
            ToolCall::Cochange { path } => {
                if let Some(refusal) = path_refusal(path) {
                    return Found::Error(refusal);
                }
                let max_files = self.max_commit_files;
                let mut counts: HashMap<String, u32> = HashMap::new();
                for c in self.history() {
                    if c.file_count > max_files || !c.files.iter().any(|(p, _)| p == path) {
                        continue;
                    }
                    for (p, s) in &c.files {
                        if p != path && *s != 'D' {
                            *counts.entry(p.clone()).or_default() += 1;
                        }
                    }
                }
                let mut items: Vec<FileItem> = counts
                    .into_iter()
                    .map(|(p, n)| FileItem {
                        path: p,
                        score: n as f64,
                        evidence: format!("{n} commits together"),
                    })
                    .collect();
                items.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.path.cmp(&b.path)));
                items.truncate(24);
                Found::Files {
                    header: format!("files that change with {path} (from git log):\n"),
                    items,
                }
            }
            ToolCall::SimilarPrs { text: q, k, .. } => {
                let req = Request::new(q);
                let history = self.history();
                let index = Bm25::new(
                    history
                        .iter()
                        .enumerate()
                        .map(|(i, c)| (i.to_string(), format!("{}\n{}", c.title, c.body))),
                );
                let now = history.first().map_or(0, |c| c.time);
                let items: Vec<PrItem> = index
                    .search(&req.terms, *k)
                    .into_iter()
                    .filter_map(|(i, score, _)| {
                        let c = &history[i.parse::<usize>().ok()?];
                        let files = c
                            .files
                            .iter()
                            .filter(|(_, s)| *s != 'D')
                            .map(|(p, _)| p.clone())
                            .take(12)
                            .collect();
                        Some(PrItem {
                            pr: c.pr,
                            title: c.title.clone(),
                            score,
                            files,
                            age_days: age_days(now, c.time),
                        })
                    })
                    .collect();
                Found::Prs {
                    header: "similar past changes from git log (#PR title (score): files):\n"
                        .into(),
                    items,
                }
            }
            ToolCall::Submit { .. } => Found::Text("submitted\n".into()),
        }
    }
}
