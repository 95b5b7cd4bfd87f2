//! State shared by the HTTP handlers and the sleep scheduler: where the
//! repository and notebook live, whether a sleep is running or waiting,
//! and the counters behind `/metrics` (sleeps, predictions, file events,
//! refused requests).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::config::Config;
use crate::notebook::Store;

use super::github::GithubParts;
use super::journal::{FileEntry, Journal};
use super::refusal::Refusals;
use super::service::{Answer, PredictionService};

/// Everything a handler or the scheduler needs; shared behind an `Arc`.
#[derive(Debug)]
pub struct Shared {
    /// The repository path (work tree or git directory), opened afresh on
    /// each blocking task: a `Repo` is not shared across awaits.
    pub repo_path: PathBuf,
    pub state_dir: PathBuf,
    pub config: Config,
    sleeping: AtomicBool,
    metrics: Mutex<Metrics>,
    /// Every prediction goes through it.
    pub service: PredictionService,
    /// The webhook, queue and worker, when configured.
    pub github: Option<Arc<GithubParts>>,
    /// How much a sleep's thread is niced (0: not at all).
    pub sleep_nice: i32,
    /// Parser threads a sleep may use when `index.threads` is 0.
    pub sleep_threads: usize,
    /// Requests refused, by reason and status.
    pub refusals: Arc<Refusals>,
    /// Why the daemon cannot answer predictions now (a damaged notebook, a
    /// failed sleep); `None` when healthy. `/healthz` reports it.
    degraded: Mutex<Option<String>>,
    /// Wakes the scheduler for a sleep now (to heal a damaged notebook).
    pub(super) wake: tokio::sync::Notify,
    /// The last sleeps and predictions, for the page.
    pub journal: Journal,
}

/// What the watcher took a file event for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchOutcome {
    /// A change to a file the notebook reads: a sleep follows.
    Change,
    /// An open, a read, a close without writing, a metadata change.
    NotAChange,
    /// A path the notebook does not read (`.git/`, ignored, the state dir).
    IgnoredPath,
}

/// Counters since the daemon started.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    pub sleeps_total: u64,
    pub sleep_failures_total: u64,
    pub sleep_seconds_total: f64,
    pub last_sleep_seconds: f64,
    pub predictions_total: u64,
    pub predict_latency_seconds_sum: f64,
    pub predict_latency_seconds_count: u64,
    /// File events by what they were taken for.
    pub watch_changes_total: u64,
    pub watch_not_changes_total: u64,
    pub watch_ignored_total: u64,
    /// A sleep is due, waiting for changes to settle.
    pub sleep_pending: bool,
}

impl Shared {
    pub fn new(repo_path: PathBuf, state_dir: PathBuf, config: Config) -> Shared {
        Shared {
            service: PredictionService::new(repo_path.clone(), state_dir.clone(), config.clone()),
            repo_path,
            state_dir,
            config,
            sleeping: AtomicBool::new(false),
            metrics: Mutex::new(Metrics::default()),
            github: None,
            sleep_nice: 0,
            sleep_threads: 0,
            refusals: Arc::new(Refusals::default()),
            degraded: Mutex::new(None),
            wake: tokio::sync::Notify::new(),
            journal: Journal::default(),
        }
    }

    /// Marks the daemon degraded for `reason` (shown by `/healthz`).
    pub fn degrade(&self, reason: impl Into<String>) {
        let reason = reason.into();
        tracing::warn!("degraded: {reason}");
        *self.degraded.lock().unwrap_or_else(|e| e.into_inner()) = Some(reason);
    }

    /// Clears a degraded state (a sleep succeeded).
    pub fn recover(&self) {
        let mut d = self.degraded.lock().unwrap_or_else(|e| e.into_inner());
        if d.take().is_some() {
            tracing::info!("healthy again");
        }
    }

    /// Why the daemon is degraded, if it is.
    pub fn degraded(&self) -> Option<String> {
        self.degraded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The notebook cannot be read: degraded until a sleep rebuilds it,
    /// and that sleep is asked for now.
    pub fn notebook_damaged(&self, reason: &str) {
        self.degrade(format!(
            "the notebook cannot be read ({reason}); a sleep is rebuilding it"
        ));
        self.wake.notify_one();
    }

    /// Sets how sleeps yield to the user (see [`super::priority`]).
    pub fn with_sleep_limits(mut self, nice: i32, threads: usize) -> Shared {
        self.sleep_nice = nice;
        self.sleep_threads = threads;
        self
    }

    pub fn with_github(mut self, github: Option<Arc<GithubParts>>) -> Shared {
        self.github = github;
        self
    }

    pub fn sleeping(&self) -> bool {
        self.sleeping.load(Ordering::SeqCst)
    }

    pub fn set_sleeping(&self, on: bool) {
        self.sleeping.store(on, Ordering::SeqCst);
    }

    pub fn metrics(&self) -> Metrics {
        self.metrics
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn update(&self, f: impl FnOnce(&mut Metrics)) {
        f(&mut self.metrics.lock().unwrap_or_else(|e| e.into_inner()));
    }

    pub fn record_sleep(&self, took: Duration, ok: bool) {
        self.update(|m| {
            let s = took.as_secs_f64();
            if ok {
                m.sleeps_total += 1;
            } else {
                m.sleep_failures_total += 1;
            }
            m.sleep_seconds_total += s;
            m.last_sleep_seconds = s;
        });
    }

    pub fn record_watch_event(&self, outcome: WatchOutcome) {
        self.update(|m| match outcome {
            WatchOutcome::Change => m.watch_changes_total += 1,
            WatchOutcome::NotAChange => m.watch_not_changes_total += 1,
            WatchOutcome::IgnoredPath => m.watch_ignored_total += 1,
        });
    }

    pub fn set_sleep_pending(&self, on: bool) {
        self.update(|m| m.sleep_pending = on);
    }

    pub fn record_prediction(&self, took: Duration) {
        self.update(|m| {
            m.predictions_total += 1;
            m.predict_latency_seconds_sum += took.as_secs_f64();
            m.predict_latency_seconds_count += 1;
        });
    }

    /// Counts a prediction answered to a client (`/predict`, `/mcp`) and
    /// keeps it for the page.
    pub fn answered(&self, request: &str, answer: &Answer, took: Duration) {
        self.record_prediction(took);
        let p = &answer.prediction;
        self.journal.prediction(
            request,
            &p.policy,
            p.files.iter().map(|f| FileEntry {
                path: f.path.clone(),
                score: f.score,
                reason: f.reason.clone(),
            }),
            p.tokens_used,
            p.budget,
        );
    }

    /// Seconds since the newest finished sleep; `None` without a notebook.
    /// Blocking (a small SQLite read).
    pub fn notebook_age_seconds(&self) -> Option<u64> {
        let store = Store::open_existing(&self.state_dir).ok()??;
        let built: u64 = store.meta("built_at").ok()??.parse().ok()?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Some(now.saturating_sub(built))
    }
}

/// The Prometheus text exposition of `m` (and the notebook's age).
pub fn render_metrics(m: &Metrics, notebook_age: Option<u64>, sleeping: bool) -> String {
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, value: String| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        let _ = writeln!(out, "{name} {value}");
    };
    metric(
        "swe_sleep_notebook_age_seconds",
        "gauge",
        "Seconds since the newest notebook was built (NaN when there is none).",
        notebook_age.map_or_else(|| "NaN".into(), |a| a.to_string()),
    );
    metric(
        "swe_sleep_sleeping",
        "gauge",
        "1 while a sleep is running.",
        u8::from(sleeping).to_string(),
    );
    metric(
        "swe_sleep_sleep_pending",
        "gauge",
        "1 while file changes wait for the quiet period before a sleep.",
        u8::from(m.sleep_pending).to_string(),
    );
    metric(
        "swe_sleep_sleeps_total",
        "counter",
        "Sleeps finished since the daemon started.",
        m.sleeps_total.to_string(),
    );
    metric(
        "swe_sleep_sleep_failures_total",
        "counter",
        "Sleeps that failed since the daemon started.",
        m.sleep_failures_total.to_string(),
    );
    metric(
        "swe_sleep_sleep_seconds_total",
        "counter",
        "Wall time spent sleeping.",
        m.sleep_seconds_total.to_string(),
    );
    metric(
        "swe_sleep_predictions_total",
        "counter",
        "Predictions served.",
        m.predictions_total.to_string(),
    );
    let _ = writeln!(
        out,
        "# HELP swe_sleep_watch_events_total File events seen by the watcher, by what they were taken for.\n\
         # TYPE swe_sleep_watch_events_total counter\n\
         swe_sleep_watch_events_total{{outcome=\"change\"}} {}\n\
         swe_sleep_watch_events_total{{outcome=\"not_a_change\"}} {}\n\
         swe_sleep_watch_events_total{{outcome=\"ignored_path\"}} {}",
        m.watch_changes_total, m.watch_not_changes_total, m.watch_ignored_total
    );
    let _ = writeln!(
        out,
        "# HELP swe_sleep_predict_latency_seconds Time to answer POST /predict.\n\
         # TYPE swe_sleep_predict_latency_seconds summary\n\
         swe_sleep_predict_latency_seconds_sum {}\n\
         swe_sleep_predict_latency_seconds_count {}",
        m.predict_latency_seconds_sum, m.predict_latency_seconds_count
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_text_has_every_series() {
        let m = Metrics {
            predictions_total: 3,
            ..Metrics::default()
        };
        let text = render_metrics(&m, Some(5), false);
        for line in [
            "swe_sleep_notebook_age_seconds 5",
            "swe_sleep_sleeps_total 0",
            "swe_sleep_sleep_seconds_total 0",
            "swe_sleep_predictions_total 3",
            "swe_sleep_predict_latency_seconds_sum 0",
            "swe_sleep_predict_latency_seconds_count 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
    }
}
