//! [`JobQueue`]: what the webhook, the worker, the poller and the daemon
//! need of the delivery queue, so that one machine keeps it in SQLite
//! ([`super::queue::Queue`], `github.sqlite`) and a fleet of `serve`
//! processes in PostgreSQL (`fleet::pg`). Every method blocks; callers run
//! them on blocking threads.

use super::events::Job;
use super::events::TargetKind;
use super::queue::{Claimed, Pruned, Queue, QueueCounts, QueueError, Recorded, StoredResult};

/// How a delivery is stored, whichever queue keeps it: with a job it is
/// `queued` (the job as JSON, its [`Job::supersede_key`]); without one it
/// is kept only so that a redelivery is recognised, `done` for a ping and
/// `ignored` otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRow {
    pub state: &'static str,
    pub job: Option<String>,
    pub target: Option<String>,
}

impl DeliveryRow {
    pub fn new(event: &str, job: Option<&Job>) -> DeliveryRow {
        let state = match job {
            Some(_) => "queued",
            None if event == "ping" => "done",
            None => "ignored",
        };
        DeliveryRow {
            state,
            job: job.map(|j| serde_json::to_string(j).expect("jobs serialize")),
            target: job.and_then(Job::supersede_key),
        }
    }
}

/// The delivery queue and the results, wherever they are kept. The
/// semantics are [`Queue`]'s: deliveries deduplicated by id, due jobs
/// claimed oldest first (newer deliveries for the same target superseding
/// queued ones), retries with a later `next_at`, results per pull request
/// or issue with their comment id.
pub trait JobQueue: Send + Sync + std::fmt::Debug + 'static {
    /// Stores a delivery before it is answered; [`Recorded::Duplicate`]
    /// when its id was seen before.
    fn record(
        &self,
        delivery: &str,
        event: &str,
        job: Option<&Job>,
        note: &str,
    ) -> Result<Recorded, QueueError>;
    /// Takes the oldest due job this process may work on.
    fn claim(&self, now: i64) -> Result<Option<Claimed>, QueueError>;
    fn finish(&self, delivery: &str, note: &str) -> Result<(), QueueError>;
    fn fail(&self, delivery: &str, error: &str, retry_at: Option<i64>) -> Result<(), QueueError>;
    fn postpone(&self, delivery: &str, at: i64, note: &str) -> Result<(), QueueError>;
    fn next_due(&self) -> Result<Option<i64>, QueueError>;
    fn counts(&self) -> Result<QueueCounts, QueueError>;
    fn delivery_state(
        &self,
        delivery: &str,
    ) -> Result<Option<(String, Option<String>)>, QueueError>;
    fn result(&self, repo: &str, number: u64) -> Result<Option<StoredResult>, QueueError>;
    fn recent_results(&self, limit: usize) -> Result<Vec<StoredResult>, QueueError>;
    fn store_result(
        &self,
        repo: &str,
        number: u64,
        kind: TargetKind,
        prediction: &serde_json::Value,
        notebook_commit: Option<&str>,
        delivery: &str,
    ) -> Result<(), QueueError>;
    fn set_comment_id(&self, repo: &str, number: u64, id: u64) -> Result<(), QueueError>;
    /// Forgets finished deliveries and results older than `max_age_ms`.
    fn prune(&self, max_age_ms: i64) -> Result<Pruned, QueueError>;
}

impl JobQueue for Queue {
    fn record(
        &self,
        delivery: &str,
        event: &str,
        job: Option<&Job>,
        note: &str,
    ) -> Result<Recorded, QueueError> {
        Queue::record(self, delivery, event, job, note)
    }
    fn claim(&self, now: i64) -> Result<Option<Claimed>, QueueError> {
        Queue::claim(self, now)
    }
    fn finish(&self, delivery: &str, note: &str) -> Result<(), QueueError> {
        Queue::finish(self, delivery, note)
    }
    fn fail(&self, delivery: &str, error: &str, retry_at: Option<i64>) -> Result<(), QueueError> {
        Queue::fail(self, delivery, error, retry_at)
    }
    fn postpone(&self, delivery: &str, at: i64, note: &str) -> Result<(), QueueError> {
        Queue::postpone(self, delivery, at, note)
    }
    fn next_due(&self) -> Result<Option<i64>, QueueError> {
        Queue::next_due(self)
    }
    fn counts(&self) -> Result<QueueCounts, QueueError> {
        Queue::counts(self)
    }
    fn delivery_state(
        &self,
        delivery: &str,
    ) -> Result<Option<(String, Option<String>)>, QueueError> {
        Queue::delivery_state(self, delivery)
    }
    fn result(&self, repo: &str, number: u64) -> Result<Option<StoredResult>, QueueError> {
        Queue::result(self, repo, number)
    }
    fn recent_results(&self, limit: usize) -> Result<Vec<StoredResult>, QueueError> {
        Queue::recent_results(self, limit)
    }
    fn store_result(
        &self,
        repo: &str,
        number: u64,
        kind: TargetKind,
        prediction: &serde_json::Value,
        notebook_commit: Option<&str>,
        delivery: &str,
    ) -> Result<(), QueueError> {
        Queue::store_result(
            self,
            repo,
            number,
            kind,
            prediction,
            notebook_commit,
            delivery,
        )
    }
    fn set_comment_id(&self, repo: &str, number: u64, id: u64) -> Result<(), QueueError> {
        Queue::set_comment_id(self, repo, number, id)
    }
    fn prune(&self, max_age_ms: i64) -> Result<Pruned, QueueError> {
        Queue::prune(self, max_age_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::github::events::Target;

    #[test]
    fn a_delivery_is_queued_with_a_job_and_kept_only_for_deduplication_without() {
        let job = Job::Predict {
            target: Target {
                repo: "o/r".into(),
                number: 4,
                kind: TargetKind::PullRequest,
                title: "t".into(),
                body: String::new(),
                base_ref: None,
                html_url: String::new(),
                installation_id: None,
            },
            why: "test".into(),
        };
        let queued = DeliveryRow::new("pull_request", Some(&job));
        assert_eq!(queued.state, "queued");
        let stored: Job = serde_json::from_str(queued.job.as_deref().expect("the job"))
            .expect("the job reads back");
        assert_eq!(stored, job);
        assert_eq!(queued.target, job.supersede_key());
        assert!(queued.target.is_some());
        let none = |event| DeliveryRow::new(event, None);
        assert_eq!(
            none("ping"),
            DeliveryRow {
                state: "done",
                job: None,
                target: None
            }
        );
        assert_eq!(none("push").state, "ignored");
    }
}
