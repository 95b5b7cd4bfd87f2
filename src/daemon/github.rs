//! The daemon's GitHub side: which parts run (the webhook route when a
//! webhook secret is configured, the worker whenever there is a queue), and
//! the daemon's [`Predictor`] for the worker.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::Notify;

use crate::config::Config;
use crate::github::events::TriggerRules;
use crate::github::queue::{Queue, QueueCounts};
use crate::github::webhook::{WebhookState, WebhookStats};
use crate::github::worker::{GitHubApi, PredictFailure, Predicted, Predictor, WorkerStats};

use super::DaemonError;
use super::service::PredictError;
use super::state::Shared;
use crate::agent::PolicyKind;
use crate::agent::predict::Query;

/// The GitHub parts of a running daemon.
pub struct GithubParts {
    pub queue: Arc<dyn crate::github::job_queue::JobQueue>,
    pub wake: Arc<Notify>,
    /// `None` when no webhook secret is configured.
    pub webhook: Option<Arc<WebhookState>>,
    pub worker_stats: Arc<WorkerStats>,
    /// The API client, when credentials are configured.
    pub api: Option<Arc<dyn GitHubApi>>,
}

impl std::fmt::Debug for GithubParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubParts")
            .field("webhook", &self.webhook.is_some())
            .field("api", &self.api.is_some())
            .finish()
    }
}

/// The rules of [`crate::github::events::classify`] from the configuration.
pub fn rules(config: &Config) -> TriggerRules {
    let g = &config.github;
    TriggerRules {
        repo: (!g.repo.trim().is_empty()).then(|| g.repo.trim().to_string()),
        issue_label: g.issue_label.clone(),
        command: g.command.clone(),
    }
}

/// Sets up the queue and the webhook when configured; `None` when neither
/// a webhook secret nor polling asks for them.
pub fn setup(
    config: &Config,
    state_dir: &Path,
    poll: bool,
    api: Option<Arc<dyn GitHubApi>>,
) -> Result<Option<GithubParts>, DaemonError> {
    let secret = config
        .github
        .webhook_secret
        .load("github.webhook_secret")
        .map_err(|e| DaemonError::Config(e.to_string()))?;
    if secret.is_none() && !poll {
        return Ok(None);
    }
    let queue = Arc::new(Queue::open(state_dir).map_err(|e| DaemonError::Config(e.to_string()))?);
    match queue.prune(30 * 24 * 3600 * 1000) {
        Ok(p) if p.deliveries + p.results > 0 => tracing::info!(
            "forgot {} deliveries and {} results older than 30 days",
            p.deliveries,
            p.results
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!("{e}"),
    }
    let wake = Arc::new(Notify::new());
    let webhook = secret.map(|secret| {
        Arc::new(WebhookState {
            secret,
            queue: queue.clone(),
            rules: rules(config),
            wake: wake.clone(),
            stats: WebhookStats::default(),
            scope: None,
        })
    });
    Ok(Some(GithubParts {
        queue,
        wake,
        webhook,
        worker_stats: Arc::new(WorkerStats::default()),
        api,
    }))
}

impl GithubParts {
    /// The queue's counts by state (read on a blocking thread); `None` when
    /// the queue cannot be read.
    pub async fn queue_counts(&self) -> Option<QueueCounts> {
        let q = self.queue.clone();
        tokio::task::spawn_blocking(move || q.counts().ok())
            .await
            .ok()
            .flatten()
    }

    /// Prometheus lines for the webhook, the queue and the worker.
    pub fn metrics_text(&self, counts: Option<&QueueCounts>) -> String {
        let mut out = String::new();
        let line = |out: &mut String, name: &str, kind: &str, help: &str, value: u64| {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
            ));
        };
        if let Some(w) = &self.webhook {
            let s = &w.stats;
            line(
                &mut out,
                "swe_sleep_webhook_accepted_total",
                "counter",
                "Deliveries queued for work.",
                s.accepted.load(Ordering::Relaxed),
            );
            line(
                &mut out,
                "swe_sleep_webhook_duplicates_total",
                "counter",
                "Deliveries seen before.",
                s.duplicates.load(Ordering::Relaxed),
            );
            line(
                &mut out,
                "swe_sleep_webhook_ignored_total",
                "counter",
                "Deliveries that asked for nothing (pings included).",
                s.ignored.load(Ordering::Relaxed),
            );
            line(
                &mut out,
                "swe_sleep_webhook_rejected_total",
                "counter",
                "Deliveries refused (signature, size, shape).",
                s.rejected.load(Ordering::Relaxed),
            );
            out.push_str(&format!(
                "# HELP swe_sleep_webhook_latency_seconds Receipt to answer.\n# TYPE swe_sleep_webhook_latency_seconds summary\nswe_sleep_webhook_latency_seconds_sum {}\nswe_sleep_webhook_latency_seconds_count {}\n",
                s.latency_us_sum.load(Ordering::Relaxed) as f64 / 1e6,
                s.latency_count.load(Ordering::Relaxed)
            ));
        }
        let w = &self.worker_stats;
        line(
            &mut out,
            "swe_sleep_github_jobs_done_total",
            "counter",
            "Jobs finished by the worker.",
            w.jobs_done.load(Ordering::Relaxed),
        );
        line(
            &mut out,
            "swe_sleep_github_jobs_failed_total",
            "counter",
            "Jobs that failed (attempts included).",
            w.jobs_failed.load(Ordering::Relaxed),
        );
        line(
            &mut out,
            "swe_sleep_github_comments_written_total",
            "counter",
            "Comments created or updated.",
            w.comments_written.load(Ordering::Relaxed),
        );
        if let Some(c) = counts {
            line(
                &mut out,
                "swe_sleep_github_queue_queued",
                "gauge",
                "Jobs waiting in the queue.",
                c.queued,
            );
            line(
                &mut out,
                "swe_sleep_github_queue_failed",
                "gauge",
                "Jobs that gave up.",
                c.failed,
            );
        }
        out
    }
}

impl Predictor for Shared {
    fn refresh(&self, _repo: &str) -> Result<String, String> {
        if !self.config.github.fetch {
            return Ok("the default branch moved; fetching is off (github.fetch)".into());
        }
        super::fetch::fetch_origin(&self.repo_path, std::time::Duration::from_secs(300))
    }

    fn predict(
        &self,
        _repo: &str,
        request: &str,
        base_ref: Option<&str>,
    ) -> Result<Predicted, PredictFailure> {
        let query = Query::new(request, self.config.agent.budget, self.config.agent.steps)
            .map_err(|e| PredictFailure::Failed(e.to_string()))?;
        let answer =
            Shared::predict(self, &query, PolicyKind::Offline, base_ref).map_err(|e| match e {
                PredictError::NoNotebook => PredictFailure::NotReady,
                other => PredictFailure::Failed(other.to_string()),
            })?;
        let json =
            serde_json::to_value(&answer).map_err(|e| PredictFailure::Failed(e.to_string()))?;
        let stale_against = if answer.stale {
            answer.target_commit.clone()
        } else {
            None
        };
        Ok(Predicted {
            json,
            files: answer.prediction.files,
            tokens_used: answer.prediction.tokens_used,
            budget: answer.prediction.budget,
            steps: answer.prediction.steps,
            notebook_commit: answer.notebook_commit,
            stale_against,
        })
    }
}
