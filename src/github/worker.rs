//! The worker: takes due jobs from the queue one at a time, predicts, stores
//! the result and, when comments are on, keeps the one comment up to date.
//!
//! Each step is safe to redo after a stop at any point: the prediction is
//! recomputed, the result row is overwritten, and the comment is found by
//! its stored id or its marker and updated rather than posted again.
//! Failures that may pass (GitHub 5xx, rate limits, no notebook yet) put
//! the job back with a delay; the last attempt marks it failed.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};

use crate::agent::Scored;

use super::comment::{self, CommentInput};
use super::events::Job;
use super::queue::{Claimed, now_ms};

/// A finished prediction, as the worker needs it.
#[derive(Debug, Clone)]
pub struct Predicted {
    /// The full answer, stored as the result.
    pub json: serde_json::Value,
    pub files: Vec<Scored>,
    pub tokens_used: u64,
    pub budget: u64,
    pub steps: u32,
    pub notebook_commit: Option<String>,
    /// The base branch's commit when the notebook is not at it.
    pub stale_against: Option<String>,
}

/// Why a prediction could not be made.
#[derive(Debug, Clone)]
pub enum PredictFailure {
    /// No notebook yet: try again after the first sleep.
    NotReady,
    Failed(String),
}

/// Predicts from the notebook of `repo` (`owner/name`), and brings the
/// repository up to date (the daemon implements it for its one
/// repository, `serve` for each it holds). Blocking.
pub trait Predictor: Send + Sync + 'static {
    fn predict(
        &self,
        repo: &str,
        request: &str,
        base_ref: Option<&str>,
    ) -> Result<Predicted, PredictFailure>;
    /// Fetches from the remote so the notebook can follow; `Ok` says what
    /// happened (including "fetching is off").
    fn refresh(&self, repo: &str) -> Result<String, String>;
}

/// A failed GitHub call, as far as the worker cares.
#[derive(Debug, Clone)]
pub struct ApiFailure {
    pub message: String,
    /// Worth another attempt later (5xx, rate limit, connection).
    pub transient: bool,
}

pub type ApiFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ApiFailure>> + Send + 'a>>;

/// The two GitHub calls the worker makes (the API client implements it).
pub trait GitHubApi: Send + Sync + 'static {
    /// Creates or updates swe-sleep's one comment; returns its id.
    fn upsert_comment<'a>(
        &'a self,
        repo: &'a str,
        number: u64,
        known_id: Option<u64>,
        body: &'a str,
    ) -> ApiFuture<'a, u64>;
    /// Whether `user` has write access to `repo`.
    fn can_write<'a>(&'a self, repo: &'a str, user: &'a str) -> ApiFuture<'a, bool>;
}

/// How the worker behaves.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Post and update the comment (off by default).
    pub comments: bool,
    /// Attempts before a job is marked failed.
    pub max_attempts: u32,
    /// First retry delay; doubled per attempt, capped at 10 minutes.
    pub retry_base: Duration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            comments: false,
            max_attempts: 5,
            retry_base: Duration::from_secs(5),
        }
    }
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct WorkerStats {
    pub jobs_done: std::sync::atomic::AtomicU64,
    pub jobs_failed: std::sync::atomic::AtomicU64,
    pub comments_written: std::sync::atomic::AtomicU64,
}

pub struct Worker {
    pub queue: Arc<dyn crate::github::job_queue::JobQueue>,
    pub predictor: Arc<dyn Predictor>,
    pub api: Option<Arc<dyn GitHubApi>>,
    pub settings: WorkerSettings,
    pub stats: Arc<WorkerStats>,
}

/// How one job ended.
enum Outcome {
    Done(String),
    /// Could not start (no notebook yet): again after the delay, no
    /// attempt counted.
    Wait(String, Duration),
    Retry(String, Option<Duration>),
    Failed(String),
}

impl Worker {
    /// Runs until `stop` turns true. `wake` is notified when a job is queued.
    pub async fn run(self, wake: Arc<Notify>, mut stop: watch::Receiver<bool>) {
        loop {
            if *stop.borrow() {
                return;
            }
            if let Some(Some(job)) = self.queue_call(|q| q.claim(now_ms())).await {
                self.process(job).await;
                continue;
            }
            let due = self.queue_call(|q| q.next_due()).await.flatten();
            let wait = due.map_or(Duration::from_secs(3600), |at| {
                Duration::from_millis(u64::try_from((at - now_ms()).max(0)).unwrap_or(0))
            });
            tokio::select! {
                () = wake.notified() => {}
                () = tokio::time::sleep(wait.max(Duration::from_millis(10))) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    }

    /// A queue call on a blocking thread; `None` (logged) when it failed.
    async fn queue_call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn super::job_queue::JobQueue) -> Result<T, super::queue::QueueError>
        + Send
        + 'static,
    ) -> Option<T> {
        let q = self.queue.clone();
        match tokio::task::spawn_blocking(move || f(q.as_ref())).await {
            Ok(Ok(v)) => Some(v),
            Ok(Err(e)) => {
                tracing::error!("{e}");
                None
            }
            Err(e) => {
                tracing::error!("queue task failed: {e}");
                None
            }
        }
    }

    async fn process(&self, claimed: Claimed) {
        let Claimed {
            delivery,
            job,
            attempts,
        } = claimed;
        tracing::info!(
            "delivery {delivery}: {} ({})",
            job.subject(),
            match &job {
                Job::Predict { why, .. } => why.clone(),
                Job::Command { user, .. } => format!("command from {user}"),
                Job::Fetch { .. } => "the default branch moved".to_string(),
            }
        );
        let outcome = self.work(&delivery, &job).await;
        let last = attempts + 1 >= self.settings.max_attempts;
        let d = delivery.clone();
        let settled = match outcome {
            Outcome::Wait(why, delay) => {
                tracing::debug!("delivery {delivery}: waiting: {why}");
                let at = now_ms() + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2);
                self.queue_call(move |q| q.postpone(&d, at, &why)).await
            }
            Outcome::Done(note) => {
                self.stats
                    .jobs_done
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::info!("delivery {delivery}: done ({note})");
                self.queue_call(move |q| q.finish(&d, &note)).await
            }
            Outcome::Retry(why, _) | Outcome::Failed(why) if last => {
                self.stats
                    .jobs_failed
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::warn!(
                    "delivery {delivery}: failed after {} attempts: {why}",
                    attempts + 1
                );
                self.queue_call(move |q| q.fail(&d, &why, None)).await
            }
            Outcome::Failed(why) => {
                self.stats
                    .jobs_failed
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::warn!("delivery {delivery}: failed: {why}");
                self.queue_call(move |q| q.fail(&d, &why, None)).await
            }
            Outcome::Retry(why, after) => {
                let backoff = self.settings.retry_base * 2u32.saturating_pow(attempts.min(10));
                let delay = after.unwrap_or(backoff).min(Duration::from_secs(600));
                tracing::info!(
                    "delivery {delivery}: will retry in {:.0}s: {why}",
                    delay.as_secs_f64()
                );
                let at = now_ms() + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2);
                self.queue_call(move |q| q.fail(&d, &why, Some(at))).await
            }
        };
        if settled.is_none() {
            tracing::error!(
                "delivery {delivery}: its outcome could not be stored; it runs again after a restart"
            );
        }
    }

    async fn work(&self, delivery: &str, job: &Job) -> Outcome {
        let (target, why) = match job {
            Job::Fetch { repo, .. } => {
                let (predictor, repo) = (self.predictor.clone(), repo.clone());
                return match tokio::task::spawn_blocking(move || predictor.refresh(&repo)).await {
                    Ok(Ok(note)) => Outcome::Done(note),
                    Ok(Err(e)) => Outcome::Retry(e, None),
                    Err(e) => Outcome::Failed(format!("the fetch task failed: {e}")),
                };
            }
            Job::Predict { target, why } => (target.clone(), why.clone()),
            Job::Command { target, user } => {
                let Some(api) = &self.api else {
                    return Outcome::Done(format!(
                        "ignored the command from {user}: no GitHub credentials to check their access"
                    ));
                };
                match api.can_write(&target.repo, user).await {
                    Ok(true) => (target.clone(), format!("/command from {user}")),
                    Ok(false) => {
                        return Outcome::Done(format!(
                            "ignored the command from {user}: they lack write access"
                        ));
                    }
                    Err(e) if e.transient => return Outcome::Retry(e.message, None),
                    Err(e) => return Outcome::Failed(e.message),
                }
            }
        };
        let predictor = self.predictor.clone();
        let (repo, request, base) = (
            target.repo.clone(),
            target.request_text(),
            target.base_ref.clone(),
        );
        let predicted = match tokio::task::spawn_blocking(move || {
            predictor.predict(&repo, &request, base.as_deref())
        })
        .await
        {
            Ok(Ok(p)) => p,
            Ok(Err(PredictFailure::NotReady)) => {
                return Outcome::Wait(
                    "no notebook yet: the first sleep has not finished".into(),
                    Duration::from_secs(1),
                );
            }
            Ok(Err(PredictFailure::Failed(e))) => return Outcome::Failed(e),
            Err(e) => return Outcome::Failed(format!("the prediction task failed: {e}")),
        };
        let (repo, number, kind, d) = (
            target.repo.clone(),
            target.number,
            target.kind,
            delivery.to_string(),
        );
        let (json, commit) = (predicted.json.clone(), predicted.notebook_commit.clone());
        if self
            .queue_call(move |q| q.store_result(&repo, number, kind, &json, commit.as_deref(), &d))
            .await
            .is_none()
        {
            return Outcome::Retry("the result could not be stored".into(), None);
        }
        let n = predicted.files.len();
        if !self.settings.comments {
            return Outcome::Done(format!("{n} files predicted and stored"));
        }
        let Some(api) = &self.api else {
            return Outcome::Done(format!(
                "{n} files predicted and stored; comments are on but no GitHub credentials are configured"
            ));
        };
        let body = comment::render(&CommentInput {
            files: &predicted.files,
            tokens_used: predicted.tokens_used,
            budget: predicted.budget,
            steps: predicted.steps,
            notebook_commit: predicted.notebook_commit.as_deref(),
            base_commit: predicted.stale_against.as_deref(),
            why: &why,
        });
        let (repo, number) = (target.repo.clone(), target.number);
        let known = self
            .queue_call(move |q| q.result(&repo, number))
            .await
            .flatten()
            .and_then(|r| r.comment_id);
        match api
            .upsert_comment(&target.repo, target.number, known, &body)
            .await
        {
            Ok(id) => {
                self.stats
                    .comments_written
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let repo = target.repo.clone();
                self.queue_call(move |q| q.set_comment_id(&repo, number, id))
                    .await;
                Outcome::Done(format!("{n} files predicted; comment {id} is up to date"))
            }
            Err(e) if e.transient => Outcome::Retry(e.message, None),
            Err(e) => Outcome::Failed(e.message),
        }
    }
}
