//! Change detection and the sleep scheduler.
//!
//! Three sources say "something may have changed": file events from notify
//! (debounced, filtered by the notebook's ignore rules), a HEAD poll through
//! git2, and, when the OS refuses a watcher, a periodic rescan timer. Only
//! events that can change what the notebook reads count
//! ([`changes_content`]): creations, writes, removals and renames. Opening,
//! reading and closing a file (the daemon's own sleeps, `grep -r`, editors,
//! `cargo build`) and metadata changes do not, so a daemon beside an idle
//! checkout stays idle; each event is counted in `/metrics` by what it was
//! taken for. The
//! scheduler waits until changes have settled for the quiet period, then
//! runs one sleep on a blocking thread; sleeps never overlap, because the
//! scheduler awaits each one before it looks at the next change. With a
//! sleep-time model (`[llm.sleep]`), a sleep ends with the model's cards
//! and anticipated requests ([`crate::sleep`]), written after
//! the new snapshot already answers predictions and never failing it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use notify::event::{AccessKind, AccessMode, ModifyKind};
use notify::{EventKind, RecursiveMode};
use tokio::sync::{mpsc, watch};

use crate::git::IGNORE_FILE;
use crate::git::Repo;
use crate::notebook::{self, NoProgress, Target};
use crate::sleep::{self as passes, AfterReport, LearnOptions, ModelSleepReport};

use super::journal::SleepEntry;
use super::state::{Shared, WatchOutcome};

/// Why the scheduler woke up (for logs).
#[derive(Debug, Clone)]
pub enum Change {
    Files(usize),
    Head(Option<String>),
    Rescan,
}

/// Timings of change detection.
#[derive(Debug, Clone)]
pub struct WatchTimings {
    pub quiet_period: Duration,
    pub head_poll: Duration,
    pub rescan_interval: Duration,
}

/// Decides which changed paths matter: not `.git/`, not the state
/// directory, not `target/`, not what `.gitignore`, `.git/info/exclude`
/// or `.swe-sleepignore` at the root leave out.
pub struct PathFilter {
    root: PathBuf,
    state_dir: PathBuf,
    ignore: Gitignore,
}

impl PathFilter {
    pub fn new(root: &Path, state_dir: &Path) -> PathFilter {
        let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
        let state_dir = state_dir
            .canonicalize()
            .unwrap_or_else(|_| state_dir.to_path_buf());
        let mut b = GitignoreBuilder::new(&root);
        for file in [
            root.join(".gitignore"),
            root.join(".git/info/exclude"),
            root.join(IGNORE_FILE),
        ] {
            if file.is_file()
                && let Some(e) = b.add(&file)
            {
                tracing::debug!("ignore rules in {}: {e}", file.display());
            }
        }
        let ignore = b.build().unwrap_or_else(|_| Gitignore::empty());
        PathFilter {
            root,
            state_dir,
            ignore,
        }
    }

    /// Whether a change at `path` (absolute) can change the notebook.
    pub fn relevant(&self, path: &Path) -> bool {
        if path.starts_with(&self.state_dir) {
            return false;
        }
        let Ok(rel) = path.strip_prefix(&self.root) else {
            return false;
        };
        let first = rel.components().next().map(|c| c.as_os_str());
        if first.is_none_or(|c| c == ".git" || c == "target" || c == ".swe-sleep") {
            return false;
        }
        !self
            .ignore
            .matched_path_or_any_parents(rel, path.is_dir())
            .is_ignore()
    }
}

/// Whether an event of this kind can change what a file holds or which
/// files exist: a creation, a write (data modified, or closed after being
/// opened for writing), a removal, a rename. Opens, reads, closes without
/// writing and metadata changes cannot. Kinds a platform leaves unspecified
/// count as changes.
pub fn changes_content(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        EventKind::Modify(ModifyKind::Metadata(_)) => false,
        EventKind::Create(_)
        | EventKind::Modify(_)
        | EventKind::Remove(_)
        | EventKind::Any
        | EventKind::Other => true,
    }
}

/// Runs until `stop` turns true: the first sleep at once, then one sleep
/// per settled burst of changes. Returns after the running sleep (if any).
pub async fn scheduler(
    shared: Arc<Shared>,
    timings: WatchTimings,
    mut stop: watch::Receiver<bool>,
) {
    let (tx, mut rx) = mpsc::unbounded_channel::<Change>();
    let work_dir = {
        let path = shared.repo_path.clone();
        tokio::task::spawn_blocking(move || {
            Repo::open(&path)
                .ok()
                .and_then(|r| r.work_dir().map(Path::to_path_buf))
        })
        .await
        .ok()
        .flatten()
    };
    // Kept alive for as long as the scheduler runs.
    let _watcher = match &work_dir {
        Some(root) => start_watcher(root, &shared, tx.clone()),
        None => None,
    };
    if work_dir.is_some() && _watcher.is_none() {
        tokio::spawn(rescan_timer(
            timings.rescan_interval,
            tx.clone(),
            stop.clone(),
        ));
    }
    tokio::spawn(head_poll(
        shared.clone(),
        timings.head_poll,
        tx.clone(),
        stop.clone(),
    ));
    drop(tx);
    let target = if work_dir.is_some() {
        Target::WorkTree
    } else {
        Target::Rev("HEAD".into())
    };

    // The first sleep is due at once.
    let mut due: Option<Instant> = Some(Instant::now());
    shared.set_sleep_pending(true);
    let mut first_change: Option<Instant> = Some(Instant::now());
    // However busy the tree, a burst of changes waits at most this long.
    let max_wait = (timings.quiet_period * 15).max(Duration::from_secs(30));
    loop {
        let sleep_at = due.map(tokio::time::Instant::from_std);
        tokio::select! {
            () = stopped(&mut stop) => break,
            change = rx.recv() => {
                let Some(change) = change else { break };
                tracing::debug!("change: {change:?}");
                let now = Instant::now();
                let first = *first_change.get_or_insert(now);
                due = Some((now + timings.quiet_period).min(first + max_wait));
                shared.set_sleep_pending(true);
            }
            () = shared.wake.notified() => {
                // A damaged notebook: sleep now, whatever else is pending.
                due = Some(Instant::now());
                shared.set_sleep_pending(true);
            }
            _ = async { tokio::time::sleep_until(sleep_at.expect("guarded")).await }, if sleep_at.is_some() => {
                due = None;
                first_change = None;
                shared.set_sleep_pending(false);
                let _ = run_sleep(&shared, &target).await;
            }
        }
    }
}

/// Resolves once `stop` is true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// One sleep on a thread of its own, with a fresh `Repo`: the index, then
/// a slice of learning and the model's passes; recorded in `shared`'s
/// metrics and journal. `Ok` with the commit slept at, `Err` with why it
/// failed (`serve` backs off on it).
pub async fn run_sleep(shared: &Arc<Shared>, target: &Target) -> Result<Option<String>, String> {
    shared.set_sleeping(true);
    let started = Instant::now();
    let (path, state, config, target) = (
        shared.repo_path.clone(),
        shared.state_dir.clone(),
        shared.config.clone(),
        target.clone(),
    );
    let (nice, threads) = (shared.sleep_nice, shared.sleep_threads);
    let mut config = config;
    if config.index.threads == 0 {
        config.index.threads = threads;
    }
    // A thread of its own: its lowered priority is not handed back to the
    // runtime's blocking pool, and the threads it spawns inherit it.
    let (tx, rx) = tokio::sync::oneshot::channel();
    let warm = shared.clone();
    let spawned = std::thread::Builder::new()
        .name("swe-sleep-sleep".into())
        .spawn(move || {
            super::priority::lower_this_thread(nice);
            let result = Repo::open(&path)
                .map_err(anyhow::Error::from)
                .and_then(|repo| {
                    let report = notebook::sleep(&repo, &state, &target, &config, &NoProgress)
                        .map_err(anyhow::Error::from)?;
                    let offline = started.elapsed();
                    // Build the new snapshot's search indexes here, at low
                    // priority, rather than in the first request after it.
                    if let Ok(Some(nb)) = crate::notebook::Notebook::open(&state) {
                        warm.service.indexes_for(&nb);
                    }
                    // The new snapshot already answers predictions; learning
                    // and the model's passes follow, never failing it. Replay
                    // takes a bounded slice of time per sleep; the next sleep
                    // resumes it.
                    let learn = LearnOptions::from_config(&config).with_time_limit(REPLAY_SLICE);
                    let after = passes::after_index(&repo, &state, &config, &learn, &NoProgress);
                    Ok((report, offline, after))
                });
            let _ = tx.send(result);
        });
    let result = match spawned {
        Ok(_) => rx
            .await
            .map_err(|_| "the sleep thread ended without an answer".to_string()),
        Err(e) => Err(format!("cannot start a sleep thread: {e}")),
    };
    let mut took = started.elapsed();
    let outcome = match result {
        Ok(Ok((report, offline, after))) => {
            took = offline;
            log_after(&after);
            if after.learn.as_ref().is_some_and(|l| l.pending > 0)
                || after.embed.as_ref().is_some_and(|e| e.pending > 0)
            {
                // More past pull requests to replay (or texts to embed):
                // another slice soon.
                shared.wake.notify_one();
            }
            tracing::info!(
                "slept in {:.2}s: {} files, {} new blobs, {} commits mined (at {})",
                took.as_secs_f64(),
                report.counts.files,
                report.blobs_new,
                report.commits_mined,
                report.commit.as_deref().unwrap_or("no commit")
            );
            shared.record_sleep(took, true);
            shared.journal.sleep(SleepEntry {
                at: super::journal::now(),
                seconds: took.as_secs_f64(),
                ok: true,
                commit: report.commit.clone(),
                files: report.counts.files,
                blobs_new: report.blobs_new,
                commits_mined: report.commits_mined,
                tokens_read: report.sleep_tokens,
                replayed: after.learn.as_ref().map_or(0, |l| l.replayed),
                error: None,
            });
            shared.recover();
            Ok(report.commit)
        }
        Ok(Err(e)) => {
            tracing::warn!("sleep failed: {e:#}");
            // The last good snapshot still answers, unless it cannot be read.
            let state = shared.state_dir.clone();
            let readable = tokio::task::spawn_blocking(move || {
                matches!(crate::notebook::Notebook::open(&state), Ok(Some(_)))
            })
            .await
            .unwrap_or(false);
            if !readable {
                shared.degrade(format!(
                    "the last sleep failed and no notebook can be read: {e:#}"
                ));
            }
            shared.record_sleep(took, false);
            shared
                .journal
                .sleep(SleepEntry::failed(took, format!("{e:#}")));
            Err(format!("{e:#}"))
        }
        Err(e) => {
            tracing::warn!("sleep task failed: {e}");
            shared.record_sleep(took, false);
            shared.journal.sleep(SleepEntry::failed(took, e.clone()));
            Err(e)
        }
    };
    shared.set_sleeping(false);
    outcome
}

/// Replay time per daemon sleep; an unfinished replay continues in the
/// next sleep, woken at once, so changes never wait long behind it.
const REPLAY_SLICE: Duration = Duration::from_secs(15);

/// What the passes after indexing did, in the log.
fn log_after(after: &AfterReport) {
    if let Some(e) = &after.embed {
        tracing::info!(
            "embeddings: {} files and {} past pull requests embedded ({} model tokens, {:.1}s, {} left)",
            e.files_embedded,
            e.prs_embedded,
            e.tokens,
            e.seconds,
            e.pending
        );
    }
    if let Some(l) = &after.learn {
        tracing::info!(
            "learning: replayed {} past pull requests ({} before, {} left); {}",
            l.replayed,
            l.reused,
            l.pending,
            l.fit.as_ref().map_or("no fit", |f| f.reason.as_str())
        );
    }
    log_model_sleep(&after.model);
}

/// What the sleep-time model did after a sleep, in the log.
fn log_model_sleep(m: &ModelSleepReport) {
    if let Some(c) = &m.cards {
        tracing::info!(
            "model {} wrote {} cards ({} current, {} failed){}",
            c.model,
            c.written,
            c.cached,
            c.failed,
            c.stopped
                .as_deref()
                .map_or(String::new(), |w| format!("; stopped: {w}"))
        );
    }
    if let Some(a) = &m.anticipated {
        tracing::info!(
            "model {}: {} anticipated requests{}",
            a.model,
            a.requests,
            a.stopped
                .as_deref()
                .map_or(String::new(), |w| format!("; stopped: {w}"))
        );
    }
}

/// A debounced recursive watcher on `root`, or `None` (with a warning)
/// when the OS refuses one.
fn start_watcher(
    root: &Path,
    shared: &Arc<Shared>,
    tx: mpsc::UnboundedSender<Change>,
) -> Option<
    notify_debouncer_full::Debouncer<
        notify::RecommendedWatcher,
        notify_debouncer_full::RecommendedCache,
    >,
> {
    let filter = PathFilter::new(root, &shared.state_dir);
    let shared = shared.clone();
    let handler = move |res: notify_debouncer_full::DebounceEventResult| match res {
        Ok(events) => {
            let mut n = 0;
            // In order: a test (or a user) reading the counters sees an
            // event only after every earlier one.
            for e in &events {
                let outcome = if !e.paths.iter().any(|p| filter.relevant(p)) {
                    WatchOutcome::IgnoredPath
                } else if !changes_content(&e.kind) {
                    WatchOutcome::NotAChange
                } else {
                    n += 1;
                    WatchOutcome::Change
                };
                shared.record_watch_event(outcome);
            }
            if n > 0 {
                let _ = tx.send(Change::Files(n));
            }
        }
        Err(errors) => {
            for e in errors {
                tracing::warn!("file watcher: {e}");
            }
            let _ = tx.send(Change::Rescan);
        }
    };
    let mut debouncer =
        match notify_debouncer_full::new_debouncer(Duration::from_millis(200), None, handler) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!("cannot watch files ({e}); rescanning periodically instead");
                return None;
            }
        };
    if let Err(e) = debouncer.watch(root, RecursiveMode::Recursive) {
        tracing::warn!(
            "cannot watch {} ({e}); rescanning periodically instead",
            root.display()
        );
        return None;
    }
    Some(debouncer)
}

/// Reports a change every `every` (the fallback when files cannot be watched).
async fn rescan_timer(
    every: Duration,
    tx: mpsc::UnboundedSender<Change>,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tokio::select! {
            () = stopped(&mut stop) => return,
            _ = tick.tick() => if tx.send(Change::Rescan).is_err() { return },
        }
    }
}

/// Reports a change whenever HEAD points at another commit.
async fn head_poll(
    shared: Arc<Shared>,
    every: Duration,
    tx: mpsc::UnboundedSender<Change>,
    mut stop: watch::Receiver<bool>,
) {
    let read_head = |path: PathBuf| async move {
        tokio::task::spawn_blocking(move || {
            Repo::open(&path)
                .and_then(|r| r.head())
                .map(|h| h.map(|c| c.to_string()))
        })
        .await
        .ok()
        .and_then(Result::ok)
    };
    let mut last = read_head(shared.repo_path.clone()).await;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            () = stopped(&mut stop) => return,
            _ = tick.tick() => {
                let Some(head) = read_head(shared.repo_path.clone()).await else { continue };
                if Some(&head) != last.as_ref() {
                    tracing::info!("HEAD moved to {}", head.as_deref().unwrap_or("nothing"));
                    last = Some(head.clone());
                    if tx.send(Change::Head(head)).is_err() {
                        return;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_metadata_are_not_changes() {
        use notify::event::{CreateKind, DataChange, MetadataKind, RemoveKind, RenameMode};
        for kind in [
            EventKind::Access(AccessKind::Open(AccessMode::Any)),
            EventKind::Access(AccessKind::Read),
            EventKind::Access(AccessKind::Close(AccessMode::Read)),
            EventKind::Modify(ModifyKind::Metadata(MetadataKind::Any)),
        ] {
            assert!(!changes_content(&kind), "{kind:?}");
        }
        for kind in [
            EventKind::Create(CreateKind::File),
            EventKind::Modify(ModifyKind::Data(DataChange::Any)),
            EventKind::Access(AccessKind::Close(AccessMode::Write)),
            EventKind::Modify(ModifyKind::Name(RenameMode::Both)),
            EventKind::Remove(RemoveKind::File),
            EventKind::Any,
        ] {
            assert!(changes_content(&kind), "{kind:?}");
        }
    }

    #[test]
    fn filter_skips_git_state_target_and_ignored_paths() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::write(root.join(".gitignore"), "*.log\nbuild/\n").unwrap();
        std::fs::create_dir_all(root.join("state")).unwrap();
        let f = PathFilter::new(&root, &root.join("state"));
        assert!(f.relevant(&root.join("src/lib.rs")));
        assert!(!f.relevant(&root.join(".git/index")));
        assert!(!f.relevant(&root.join("state/notebook.sqlite")));
        assert!(!f.relevant(&root.join("target/debug/x")));
        assert!(!f.relevant(&root.join("run.log")));
        assert!(!f.relevant(&root.join("build/out.txt")));
        assert!(!f.relevant(Path::new("/elsewhere/a.rs")));
    }
}
