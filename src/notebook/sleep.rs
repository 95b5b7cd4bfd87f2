//! `sleep`: bring the notebook to a revision (or to the work tree), reading
//! only what it has not seen: new blobs, new commits. The snapshot switch at
//! the end is one transaction; everything before it is resumable cache.

use std::collections::HashSet;
use std::path::Path;
use std::time::Instant;

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::Serialize;

use crate::config::Config;
use crate::git::{self, EntryKind, Repo};

use super::blobs::{self, ContentSource};
use super::fingerprint;
use super::history;
use super::snapshot::{self, SnapCounts, SnapFile};
use super::store::Store;
use super::{NotebookError, Progress};

/// What to sleep on.
#[derive(Debug, Clone)]
pub enum Target {
    /// A revision's tree, read from the object database.
    Rev(String),
    /// The work tree as it is now (history from HEAD).
    WorkTree,
}

/// What a sleep did; printed as the summary and as `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct SleepReport {
    pub repo: String,
    pub state_dir: String,
    pub rev: String,
    pub commit: Option<String>,
    pub worktree: bool,
    pub counts: SnapCounts,
    pub skipped_vendored: usize,
    /// Gitlinks of a commit, nested repositories of a work tree.
    pub skipped_submodules: usize,
    /// Tree entries whose names could escape or fake a path (`..`, `.git`,
    /// control characters): never files of a snapshot.
    pub skipped_unsafe_names: usize,
    pub skipped_content: usize,
    /// Files matching `index.generated_globs`: listed, their content unread.
    pub generated_files: usize,
    /// Files whose blobs the object database lacks (a partial clone): they
    /// are indexed by path only.
    pub blobs_missing: usize,
    pub blobs_new: usize,
    pub blobs_reused: usize,
    pub commits_mined: usize,
    pub commits_reused: usize,
    pub shallow_boundary: Option<String>,
    /// cl100k tokens of the content read in this sleep (new blobs only).
    pub sleep_tokens: u64,
    pub bytes_read: u64,
    /// Where a damaged notebook was set aside before this sleep rebuilt it.
    pub healed: Option<String>,
    /// True when nothing changed since the last sleep (same commit or work
    /// tree content, same configuration): nothing was read or written.
    pub unchanged: bool,
    /// Blob versions no snapshot uses, dropped to stay within
    /// `index.keep_unused_blobs`.
    pub blobs_collected: usize,
    pub seconds: f64,
    pub timings: Timings,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Timings {
    pub list_s: f64,
    pub blobs_s: f64,
    pub history_s: f64,
    pub snapshot_s: f64,
}

/// The directories a work-tree sleep leaves out: our default state
/// directory's name anywhere, and the actual state directory.
pub(crate) fn worktree_skip_dirs(state_dir: &Path) -> Vec<std::path::PathBuf> {
    vec![std::path::PathBuf::from(".swe-sleep"), absolute(state_dir)]
}

/// `index.skip_globs` compiled; a bad glob is an error naming it.
pub(crate) fn skip_set(globs: &[String]) -> Result<GlobSet, NotebookError> {
    glob_set("index.skip_globs", globs)
}

/// `index.generated_globs` compiled; a bad glob is an error naming it.
pub(crate) fn generated_set(globs: &[String]) -> Result<GlobSet, NotebookError> {
    glob_set("index.generated_globs", globs)
}

fn glob_set(key: &str, globs: &[String]) -> Result<GlobSet, NotebookError> {
    let mut b = GlobSetBuilder::new();
    for g in globs {
        b.add(
            Glob::new(g)
                .map_err(|e| NotebookError::Config(format!("{key}: bad glob `{g}`: {e}")))?,
        );
    }
    b.build()
        .map_err(|e| NotebookError::Config(format!("{key}: {e}")))
}

/// Brings the notebook in `state_dir` to `target`. The notebook is a cache
/// of the repository: a damaged database (found when it is opened, by
/// SQLite's `quick_check`, or by any read during the sleep) is set aside
/// and rebuilt, and the report's `healed` names where it went.
pub fn sleep(
    repo: &Repo,
    state_dir: &Path,
    target: &Target,
    cfg: &Config,
    progress: &dyn Progress,
) -> Result<SleepReport, NotebookError> {
    sleep_with(repo, state_dir, target, cfg, progress, Integrity::Check)
}

/// Whether a sleep runs SQLite's `quick_check` when it opens the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Integrity {
    /// Check first: every sleep of a notebook a user or the daemon keeps.
    Check,
    /// This process checked it and has been the only one writing it since:
    /// a replay brings one replay notebook through hundreds of revisions in
    /// a row, and checking it each time cost 0.3 s a pull request on helix
    /// (an 88 MB replay notebook), half of each replayed sleep. Damage that
    /// a read finds still heals.
    Checked,
}

/// [`sleep`], saying whether the database must be checked first.
pub fn sleep_with(
    repo: &Repo,
    state_dir: &Path,
    target: &Target,
    cfg: &Config,
    progress: &dyn Progress,
    integrity: Integrity,
) -> Result<SleepReport, NotebookError> {
    match sleep_once(repo, state_dir, target, cfg, progress, integrity) {
        Err(NotebookError::Store(e)) if e.is_damage() => {
            tracing::warn!("{e}");
            let aside = super::store::set_aside(state_dir)?;
            let mut report = sleep_once(repo, state_dir, target, cfg, progress, integrity)?;
            report.healed = Some(aside.display().to_string());
            Ok(report)
        }
        other => other,
    }
}

fn sleep_once(
    repo: &Repo,
    state_dir: &Path,
    target: &Target,
    cfg: &Config,
    progress: &dyn Progress,
    integrity: Integrity,
) -> Result<SleepReport, NotebookError> {
    let started = Instant::now();
    let mut timings = Timings::default();
    let (listing, tip, rev_label) = match target {
        Target::Rev(rev) => {
            let commit = repo.resolve(rev)?;
            (git::list_commit(repo, commit)?, Some(commit), rev.clone())
        }
        Target::WorkTree => {
            let head = repo.head()?;
            let dirs = worktree_skip_dirs(state_dir);
            let dirs: Vec<&Path> = dirs.iter().map(|p| p.as_path()).collect();
            (
                git::list_worktree(repo, &dirs)?,
                head,
                "work tree".to_string(),
            )
        }
    };
    let mut store = match integrity {
        Integrity::Check => Store::open_healing(state_dir)?,
        Integrity::Checked => Store::open(state_dir)?,
    };
    let skip = skip_set(&cfg.index.skip_globs)?;
    let generated = generated_set(&cfg.index.generated_globs)?;
    let mut report = SleepReport {
        repo: repo.display_path().display().to_string(),
        state_dir: state_dir.display().to_string(),
        rev: rev_label,
        commit: tip.map(|c| c.to_string()),
        worktree: matches!(target, Target::WorkTree),
        counts: SnapCounts::default(),
        skipped_vendored: 0,
        skipped_submodules: listing.nested_repos,
        skipped_unsafe_names: listing.unsafe_names,
        skipped_content: 0,
        generated_files: 0,
        blobs_missing: 0,
        blobs_new: 0,
        blobs_reused: 0,
        commits_mined: 0,
        commits_reused: 0,
        shallow_boundary: None,
        sleep_tokens: 0,
        bytes_read: 0,
        healed: store.healed().map(|p| p.display().to_string()),
        unchanged: false,
        blobs_collected: 0,
        seconds: 0.0,
        timings: Timings::default(),
    };
    let mut entries = Vec::new();
    for e in &listing.entries {
        match e.kind {
            EntryKind::Submodule => {
                tracing::info!(path = %e.path, "skipping submodule");
                report.skipped_submodules += 1;
            }
            _ if skip.is_match(&e.path) => {
                tracing::debug!(path = %e.path, "skipping vendored or generated path");
                report.skipped_vendored += 1;
            }
            _ => {
                if e.missing {
                    report.blobs_missing += 1;
                }
                entries.push(e)
            }
        }
    }
    if report.blobs_missing > 0 {
        tracing::warn!(
            missing = report.blobs_missing,
            "the object database lacks {} blobs of this snapshot (a partial clone or a mirror without its largest files); those files are indexed by path only",
            report.blobs_missing
        );
    }
    timings.list_s = started.elapsed().as_secs_f64();

    let fingerprint = fingerprint::of(repo, &listing, report.commit.as_deref(), cfg);
    if store.meta(fingerprint::META_KEY)?.as_deref() == Some(fingerprint.as_str())
        && let Some(counts) = store.meta("counts")?
    {
        return unchanged(&store, report, &entries, &counts, started);
    }
    // The tokenizer takes ~0.1 s to build; build it while history is mined.
    std::thread::spawn(|| crate::tokens::count("warm up"));

    let threads = match cfg.index.threads {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        n => n,
    };

    // History.
    let t = Instant::now();
    let chain = match tip {
        Some(tip) => {
            progress.start("reading history", 0);
            let h = history::update(
                &mut store,
                repo,
                tip,
                cfg.history.max_commits,
                threads,
                &|n| progress.inc(n),
            )
            .map_err(|e| match e {
                history::HistoryError::Store(s) => NotebookError::Store(s),
                history::HistoryError::Git(g) => NotebookError::Git(g),
            })?;
            progress.finish();
            report.commits_mined = h.mined;
            report.commits_reused = h.reused;
            if let Some(b) = &h.shallow_boundary {
                tracing::warn!(
                    boundary = %b,
                    commits = h.chain.len(),
                    "shallow clone: history stops at {b}; older commits are not in this clone, so co-change and PR history cover only the {} commits available",
                    h.chain.len()
                );
            }
            report.shallow_boundary = h.shallow_boundary;
            h.chain
        }
        None => Vec::new(),
    };
    timings.history_s = t.elapsed().as_secs_f64();

    // Blobs.
    let t = Instant::now();
    let mut known = blobs::known_blobs(&store)?;
    tracing::debug!(
        known = known.len(),
        secs = t.elapsed().as_secs_f64(),
        "loaded known blob ids"
    );
    let mut seen = HashSet::new();
    let readable =
        |e: &git::Entry| e.kind == EntryKind::File && !e.missing && !generated.is_match(&e.path);
    let todo: Vec<&git::Entry> = entries
        .iter()
        .copied()
        .filter(|e| readable(e) && !known.contains_key(&e.oid) && seen.insert(e.oid))
        .collect();
    report.blobs_reused = entries.iter().filter(|e| readable(e)).count() - todo.len();
    let source = match (&listing.commit, repo.work_dir()) {
        (None, Some(root)) => ContentSource::WorkTree(root),
        _ => ContentSource::Odb,
    };
    progress.start("reading files", todo.len() as u64);
    let (stats, new_ids) = blobs::ingest(
        &mut store,
        repo,
        source,
        &todo,
        cfg.index.max_file_bytes,
        threads,
        &|n| progress.inc(n),
    )?;
    progress.finish();
    known.extend(new_ids);
    report.blobs_new = stats.analysed;
    report.sleep_tokens = stats.tokens;
    report.bytes_read = stats.bytes;
    timings.blobs_s = t.elapsed().as_secs_f64();

    // Snapshot.
    let t = Instant::now();
    let ids: HashSet<i64> = entries
        .iter()
        .filter_map(|e| known.get(&e.oid).copied())
        .collect();
    let facts = snapshot::load_blob_facts(&store, &ids)?;
    tracing::debug!(
        secs = t.elapsed().as_secs_f64(),
        blobs = ids.len(),
        "loaded facts of the snapshot's blobs"
    );
    let mut files = Vec::with_capacity(entries.len());
    let mut manifests = crate::parse::Manifests::default();
    for e in &entries {
        let (blob, status, lang, f) = match e.kind {
            _ if e.missing && !known.contains_key(&e.oid) => (
                None,
                "missing".to_string(),
                crate::parse::detect_lang(&e.path).as_str().to_string(),
                None,
            ),
            EntryKind::Symlink => (
                None,
                "symlink".to_string(),
                crate::parse::detect_lang(&e.path).as_str().to_string(),
                None,
            ),
            _ if generated.is_match(&e.path) => {
                report.generated_files += 1;
                (
                    None,
                    "generated".to_string(),
                    crate::parse::detect_lang(&e.path).as_str().to_string(),
                    None,
                )
            }
            _ => {
                let id = known.get(&e.oid).copied();
                let (status, lang, f) = id
                    .and_then(|id| facts.get(&id).cloned())
                    .unwrap_or_else(|| ("unreadable".into(), String::new(), None));
                (id, status, lang, f)
            }
        };
        let f = if cfg.index.structure {
            f
        } else {
            f.map(text_only)
        };
        if !matches!(
            status.as_str(),
            "parsed" | "symlink" | "missing" | "generated"
        ) {
            report.skipped_content += 1;
        }
        if crate::parse::Manifests::is_manifest(&e.path)
            && let Some(text) = read_text(repo, &listing, e)
        {
            manifests.add(&e.path, &text);
        }
        files.push(SnapFile {
            path: e.path.clone(),
            blob,
            status,
            lang,
            size: e.size,
            facts: f,
        });
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let tip_time = match tip {
        Some(c) => repo.commit_time(c)?,
        None => 0,
    };
    let meta = vec![
        ("rev", report.rev.clone()),
        ("commit", report.commit.clone().unwrap_or_default()),
        ("commit_time", tip_time.to_string()),
        ("worktree", report.worktree.to_string()),
        ("built_at", now.to_string()),
        ("repo", report.repo.clone()),
        (
            "shallow_boundary",
            report.shallow_boundary.clone().unwrap_or_default(),
        ),
        ("max_file_bytes", cfg.index.max_file_bytes.to_string()),
        ("blobs_missing", report.blobs_missing.to_string()),
        (fingerprint::META_KEY, fingerprint),
    ];
    progress.start("writing notebook", 0);
    report.counts = snapshot::write(&mut store, &files, &manifests, &chain, &cfg.history, &meta)?;
    progress.finish();
    report.blobs_collected = super::gc::collect(&mut store, cfg.index.keep_unused_blobs)?;
    timings.snapshot_s = t.elapsed().as_secs_f64();
    report.seconds = started.elapsed().as_secs_f64();
    report.timings = timings;
    Ok(report)
}

/// The report of a sleep that found the snapshot as it was: its counts
/// from `meta`, nothing read, nothing written.
fn unchanged(
    store: &Store,
    mut report: SleepReport,
    entries: &[&git::Entry],
    counts: &str,
    started: Instant,
) -> Result<SleepReport, NotebookError> {
    report.unchanged = true;
    report.counts = serde_json::from_str(counts).map_err(|e| {
        NotebookError::Store(super::store::StoreError::Corrupt {
            path: store.path().to_path_buf(),
            message: format!("snapshot counts in meta: {e}"),
        })
    })?;
    report.blobs_reused = entries
        .iter()
        .filter(|e| e.kind == EntryKind::File && !e.missing)
        .count();
    report.commits_reused = report.counts.commits;
    report.shallow_boundary = store.meta("shallow_boundary")?.filter(|b| !b.is_empty());
    report.skipped_content = store
        .conn
        .query_row(
            "SELECT count(*) FROM snap_files WHERE status NOT IN ('parsed', 'symlink', 'missing')",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map_err(|e| store.err(e))? as usize;
    report.seconds = started.elapsed().as_secs_f64();
    report.timings.list_s = report.seconds;
    Ok(report)
}

/// `path` made absolute against the current directory, without touching
/// the file system (the directory may not exist yet).
fn absolute(path: &Path) -> std::path::PathBuf {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = std::path::PathBuf::new();
    for c in abs.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// A file's facts without its structure (`index.structure = false`): the
/// doc stays, definitions, references and imports go.
fn text_only(mut facts: crate::parse::FileFacts) -> crate::parse::FileFacts {
    facts.defs.clear();
    facts.refs.clear();
    facts.imports.clear();
    facts
}

fn read_text(repo: &Repo, listing: &git::Listing, e: &git::Entry) -> Option<String> {
    const MANIFEST_MAX: u64 = 1024 * 1024;
    let bytes = match (listing.commit, repo.work_dir()) {
        (None, Some(root)) => git::read_confined(root, &e.path, MANIFEST_MAX).ok()?,
        _ if e.missing => return None,
        _ => repo.read_blob(e.oid).ok()?,
    };
    String::from_utf8(bytes).ok()
}
