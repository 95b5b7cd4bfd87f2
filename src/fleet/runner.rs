//! The scheduler: fetches and sleeps the held repositories in the order
//! [`super::schedule`] gives, at most `concurrency` at once across all of
//! them; a failed fetch or sleep is recorded in the repository's health
//! and backs off.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, watch};

use crate::github::GitHubClient;
use crate::github::queue::now_ms;
use crate::notebook::Target;

use super::held::Held;
use super::registry::Registry;
use super::schedule::Pacing;

/// What the scheduler needs.
#[derive(Debug, Clone)]
pub struct Runner {
    /// With PostgreSQL: only repositories whose lease this process holds
    /// are slept.
    pub leases: Option<Arc<super::pg::leases::Leases>>,
    pub registry: Arc<Registry>,
    pub client: GitHubClient,
    pub pacing: Pacing,
    pub concurrency: usize,
    pub fetch_timeout: Duration,
}

impl Runner {
    /// Runs until `stop`; waits for the sleeps it started.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let permits = Arc::new(Semaphore::new(self.concurrency.max(1)));
        let mut running = tokio::task::JoinSet::new();
        loop {
            if *stop.borrow() {
                break;
            }
            while permits.available_permits() > 0 {
                let Some(next) = self.next_due() else { break };
                let permit = permits
                    .clone()
                    .try_acquire_owned()
                    .expect("a permit is available");
                next.set_sleeping(true);
                let me = self.clone();
                running.spawn(async move {
                    me.refresh(&next).await;
                    next.set_sleeping(false);
                    drop(permit);
                    me.registry.wake.notify_one();
                });
            }
            while running.try_join_next().is_some() {}
            tokio::select! {
                () = self.registry.wake.notified() => {}
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = stop.wait_for(|s| *s) => break,
            }
        }
        while running.join_next().await.is_some() {}
    }

    /// The due repository with the highest priority that is not sleeping.
    fn next_due(&self) -> Option<Arc<Held>> {
        let now = now_ms();
        self.registry
            .list()
            .into_iter()
            .filter(|h| !h.sleeping() && !h.removed())
            .filter(|h| self.leases.as_ref().is_none_or(|l| l.holds(&h.name)))
            .filter_map(|h| Some((h.health().priority(&self.pacing, now)?, h)))
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, h)| h)
    }

    /// Fetch, then sleep at the default branch; the outcome goes to the
    /// repository's health.
    async fn refresh(&self, held: &Arc<Held>) {
        let _busy = held.busy.lock().await;
        if held.removed() {
            return;
        }
        let started = now_ms();
        if let Err(why) = self.fetch(held).await {
            tracing::warn!("{}: {why}", held.name);
            held.with_health(|h| h.failed(true, why, now_ms()));
            return;
        }
        match crate::daemon::watch::run_sleep(&held.shared, &Target::Rev("HEAD".into())).await {
            Ok(commit) => {
                held.set_commit(commit);
                held.with_health(|h| h.succeeded(started, now_ms()));
            }
            Err(why) => {
                tracing::warn!("{}: sleep failed: {why}", held.name);
                held.with_health(|h| h.failed(false, format!("sleep failed: {why}"), now_ms()));
            }
        }
    }

    async fn fetch(&self, held: &Arc<Held>) -> Result<String, String> {
        let source = held.source();
        let token = self
            .client
            .installation_token(source.installation)
            .await
            .map_err(|e| format!("no installation token: {e}"))?;
        let (mirror, timeout) = (held.mirror.clone(), self.fetch_timeout);
        tokio::task::spawn_blocking(move || {
            mirror.prepare(&source.clone_url, &source.default_branch)?;
            mirror.fetch(Some(&token), timeout)
        })
        .await
        .map_err(|e| format!("the fetch task failed: {e}"))?
        .map_err(|e| super::chain(&e))
    }
}
