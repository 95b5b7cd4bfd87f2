//! The repositories the service holds, by `owner/name`: what the webhook
//! admits ([`DeliveryScope`]) and what the worker predicts with
//! ([`Predictor`], each job through its repository's notebook).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use tokio::sync::{Notify, mpsc};

use crate::config::Config;
use crate::github::installation_events::InstallationChange;
use crate::github::installations::InstalledRepo;
use crate::github::queue::now_ms;
use crate::github::webhook::DeliveryScope;
use crate::github::worker::{PredictFailure, Predicted, Predictor};

use super::held::Held;
use super::pg::ledger::PgLedger;

/// Every held repository, and where installation changes go.
#[derive(Debug)]
pub struct Registry {
    /// `repos/` under the state directory.
    root: PathBuf,
    config: Config,
    sleep_nice: i32,
    sleep_threads: usize,
    /// With PostgreSQL: the service's cost ledger.
    ledger: Option<Arc<PgLedger>>,
    held: RwLock<BTreeMap<String, Arc<Held>>>,
    /// Repositories dropped because their installation was suspended, by
    /// name, with the installation: their deliveries are refused saying so.
    suspended: Mutex<BTreeMap<String, u64>>,
    changes: mpsc::UnboundedSender<InstallationChange>,
    /// Wakes the scheduler (a repository added, a push, a sleep done).
    pub wake: Notify,
}

impl Registry {
    /// A registry with nothing held; installation changes are sent to
    /// `changes`; model calls also go to `ledger` when given.
    pub fn new(
        root: PathBuf,
        config: Config,
        (sleep_nice, sleep_threads): (i32, usize),
        ledger: Option<Arc<PgLedger>>,
        changes: mpsc::UnboundedSender<InstallationChange>,
    ) -> Registry {
        Registry {
            root,
            config,
            sleep_nice,
            sleep_threads,
            ledger,
            held: RwLock::new(BTreeMap::new()),
            suspended: Mutex::new(BTreeMap::new()),
            changes,
            wake: Notify::new(),
        }
    }

    pub fn get(&self, repo: &str) -> Option<Arc<Held>> {
        self.read().get(repo).cloned()
    }

    /// Every held repository, by name.
    pub fn list(&self) -> Vec<Arc<Held>> {
        self.read().values().cloned().collect()
    }

    /// Holds `r` (or updates where it is fetched from); true when new.
    pub fn hold(&self, r: &InstalledRepo) -> bool {
        let name = r.repo.to_string();
        self.suspended_lock().remove(&name);
        let mut held = self.held.write().unwrap_or_else(|e| e.into_inner());
        if let Some(h) = held.get(&name) {
            h.update_source(r);
            return false;
        }
        let h = Held::new(
            &self.root,
            r,
            &self.config,
            (self.sleep_nice, self.sleep_threads),
            self.ledger.as_ref(),
        );
        tracing::info!("holding {name} (installation {})", r.installation);
        held.insert(name, Arc::new(h));
        self.wake.notify_one();
        true
    }

    /// Stops holding `repo`; its mirror and notebook are removed once a
    /// running sleep has finished.
    pub fn release(&self, repo: &str) -> Option<Arc<Held>> {
        let h = self
            .held
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(repo)?;
        h.mark_removed();
        tracing::info!("no longer holding {repo}");
        let gone = h.clone();
        tokio::spawn(async move {
            let _idle = gone.busy.lock().await;
            let dir = gone.dir.clone();
            let _ = tokio::task::spawn_blocking(move || match std::fs::remove_dir_all(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => tracing::warn!("cannot remove {}: {e}", dir.display()),
            })
            .await;
        });
        Some(h)
    }

    /// Remembers that `repo` is dropped because `installation` is
    /// suspended.
    pub fn suspend(&self, installation: u64, repo: &str) {
        self.suspended_lock().insert(repo.to_string(), installation);
    }

    /// `installation` is back (the listing that follows holds its
    /// repositories again) or gone: its repositories are no longer refused
    /// as suspended.
    pub fn unsuspend(&self, installation: u64) {
        self.suspended_lock().retain(|_, i| *i != installation);
    }

    fn suspended_lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, u64>> {
        self.suspended.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<Held>>> {
        self.held.read().unwrap_or_else(|e| e.into_inner())
    }
}

impl DeliveryScope for Registry {
    fn admit(&self, repo: &str) -> Result<(), String> {
        match self.get(repo) {
            Some(h) => {
                h.with_health(|health| health.delivered(now_ms()));
                Ok(())
            }
            None => Err(match self.suspended_lock().get(repo) {
                Some(installation) => format!(
                    "this service does not serve {repo} while installation {installation} is suspended; it is served again once the installation is unsuspended"
                ),
                None => format!(
                    "this service does not hold {repo}: the App is not installed on it, or it was removed from the installation"
                ),
            }),
        }
    }

    fn installation_changed(&self, change: InstallationChange) {
        if self.changes.send(change).is_err() {
            tracing::warn!("an installation change arrived while the service is stopping");
        }
    }
}

impl Predictor for Registry {
    fn predict(
        &self,
        repo: &str,
        request: &str,
        base_ref: Option<&str>,
    ) -> Result<Predicted, PredictFailure> {
        let held = self.get(repo).ok_or_else(|| {
            PredictFailure::Failed(format!("{repo} is no longer held by this service"))
        })?;
        if held.health().last_sleep_ok.is_none() {
            // Not mirrored and slept here yet (new, or its lease just
            // moved to this process): the job waits, no attempt counted.
            return Err(PredictFailure::NotReady);
        }
        let started = Instant::now();
        let answer = Predictor::predict(held.shared.as_ref(), repo, request, base_ref)?;
        held.shared.record_prediction(started.elapsed());
        Ok(answer)
    }

    fn refresh(&self, repo: &str) -> Result<String, String> {
        let held = self
            .get(repo)
            .ok_or_else(|| format!("{repo} is no longer held by this service"))?;
        held.with_health(|h| h.fetch_asked = Some(now_ms()));
        self.wake.notify_one();
        Ok(format!("a fetch and a sleep of {repo} are due"))
    }
}
