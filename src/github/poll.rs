//! `--poll`: follow open pull requests and issues without webhooks, for
//! users who cannot expose an endpoint. Each round lists them with a
//! conditional request (an unchanged list costs a 304 and no rate limit),
//! and queues a job for each pull request or issue whose title, body or
//! base branch changed since it was last predicted. The delivery id is
//! derived from that content, so the queue's deduplication does the rest:
//! swe-sleep's own comment (which bumps `updated_at`) triggers nothing.

use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::sync::{Notify, watch};

use super::client::GitHubClient;
use super::events::{Job, Target, TargetKind, TriggerRules};
use super::queue::Recorded;
use super::types::{Conditional, IssueSummary, PullSummary, RepoRef};

pub struct Poller {
    pub client: GitHubClient,
    pub repo: RepoRef,
    pub queue: Arc<dyn crate::github::job_queue::JobQueue>,
    pub wake: Arc<Notify>,
    pub rules: TriggerRules,
    pub interval: Duration,
    /// Also fetch from the remote each round (`github.fetch`).
    pub fetch: bool,
}

/// The delivery id of a polled item: kind, number and a hash of what the
/// prediction reads.
pub fn poll_delivery_id(kind: &str, number: u64, title: &str, body: &str, base: &str) -> String {
    let mut h = Sha256::new();
    for part in [title, body, base] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    let digest = h.finalize();
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("poll-{kind}-{number}-{hex}")
}

/// The job for an open pull request (`None` for a draft).
pub fn pull_job(repo: &RepoRef, pr: &PullSummary) -> Option<(String, Job)> {
    if pr.draft {
        return None;
    }
    let body = pr.body.clone().unwrap_or_default();
    let id = poll_delivery_id("pr", pr.number, &pr.title, &body, &pr.base_ref);
    Some((
        id,
        Job::Predict {
            target: Target {
                repo: repo.to_string(),
                number: pr.number,
                kind: TargetKind::PullRequest,
                title: pr.title.clone(),
                body,
                base_ref: Some(pr.base_ref.clone()),
                html_url: pr.html_url.clone(),
                installation_id: None,
            },
            why: "poll: open pull request".into(),
        },
    ))
}

/// The job for an open issue, when the trigger label (if any) is on it.
pub fn issue_job(
    repo: &RepoRef,
    issue: &IssueSummary,
    rules: &TriggerRules,
) -> Option<(String, Job)> {
    if !rules.issue_label.is_empty() && !issue.labels.contains(&rules.issue_label) {
        return None;
    }
    let body = issue.body.clone().unwrap_or_default();
    let id = poll_delivery_id("issue", issue.number, &issue.title, &body, "");
    Some((
        id,
        Job::Predict {
            target: Target {
                repo: repo.to_string(),
                number: issue.number,
                kind: TargetKind::Issue,
                title: issue.title.clone(),
                body,
                base_ref: None,
                html_url: issue.html_url.clone(),
                installation_id: None,
            },
            why: "poll: open issue".into(),
        },
    ))
}

impl Poller {
    /// Polls until `stop` turns true.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let (mut pulls_etag, mut issues_etag) = (None::<String>, None::<String>);
        loop {
            let mut jobs = Vec::new();
            match self
                .client
                .open_pulls(&self.repo, pulls_etag.as_deref())
                .await
            {
                Ok(Conditional::Fresh { value, etag }) => {
                    pulls_etag = etag;
                    jobs.extend(value.iter().filter_map(|p| pull_job(&self.repo, p)));
                }
                Ok(Conditional::NotModified) => {}
                Err(e) => tracing::warn!("poll: {e}"),
            }
            match self
                .client
                .open_issues(&self.repo, issues_etag.as_deref())
                .await
            {
                Ok(Conditional::Fresh { value, etag }) => {
                    issues_etag = etag;
                    jobs.extend(
                        value
                            .iter()
                            .filter_map(|i| issue_job(&self.repo, i, &self.rules)),
                    );
                }
                Ok(Conditional::NotModified) => {}
                Err(e) => tracing::warn!("poll: {e}"),
            }
            if self.fetch {
                // Superseded by the next round's if the worker is behind.
                jobs.push((
                    format!("poll-fetch-{}", super::queue::now_ms()),
                    Job::Fetch {
                        repo: self.repo.to_string(),
                        branch: "(default)".into(),
                    },
                ));
            }
            if !jobs.is_empty() {
                let q = self.queue.clone();
                let queued = tokio::task::spawn_blocking(move || {
                    let mut n = 0;
                    for (id, job) in &jobs {
                        match q.record(id, "poll", Some(job), "") {
                            Ok(Recorded::New) => n += 1,
                            Ok(Recorded::Duplicate) => {}
                            Err(e) => tracing::error!("poll: {e}"),
                        }
                    }
                    n
                })
                .await
                .unwrap_or(0);
                if queued > 0 {
                    tracing::info!("poll: {queued} pull request(s) or issue(s) to predict");
                    self.wake.notify_one();
                }
            }
            tokio::select! {
                () = tokio::time::sleep(self.interval) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_content_not_time() {
        let a = poll_delivery_id("pr", 7, "Add x", "body", "main");
        assert_eq!(a, poll_delivery_id("pr", 7, "Add x", "body", "main"));
        assert_ne!(a, poll_delivery_id("pr", 7, "Add x", "body!", "main"));
        assert_ne!(a, poll_delivery_id("pr", 7, "Add x", "body", "dev"));
        assert_ne!(a, poll_delivery_id("issue", 7, "Add x", "body", "main"));
        // Parts cannot run into each other.
        assert_ne!(
            poll_delivery_id("pr", 1, "ab", "c", ""),
            poll_delivery_id("pr", 1, "a", "bc", "")
        );
    }
}
