//! One repository the service holds: where its mirror and notebook live,
//! the daemon state that sleeps and predicts over them, and its
//! [`Health`] for the scheduler and `status`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;

use crate::config::Config;
use crate::daemon::Shared;
use crate::github::installations::InstalledRepo;
use crate::github::queue::now_ms;
use crate::llm::ledger_copy::{self, CopyRegistration};

use super::mirror::Mirror;
use super::pg::ledger::PgLedger;
use super::schedule::{Health, Pacing};
use super::spend::Spend;

/// Where a held repository is fetched from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub installation: u64,
    pub clone_url: String,
    pub default_branch: String,
}

/// A held repository.
#[derive(Debug)]
pub struct Held {
    /// `owner/name`.
    pub name: String,
    /// `repos/<owner>/<name>/` under the service's state directory.
    pub dir: PathBuf,
    pub mirror: Mirror,
    /// Sleeps and predictions over the mirror and `dir/notebook`.
    pub shared: Arc<Shared>,
    source: Mutex<Source>,
    health: Mutex<Health>,
    /// Held through a fetch and sleep, and by the removal of `dir`.
    pub busy: tokio::sync::Mutex<()>,
    sleeping: AtomicBool,
    removed: AtomicBool,
    commit: Mutex<Option<String>>,
    /// With PostgreSQL: the notebook's ledger rows also go to the
    /// service's ledger while the repository is held.
    _ledger_copy: Option<CopyRegistration>,
}

/// A held repository as `/status` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct HeldStatus {
    pub repo: String,
    pub installation: u64,
    pub default_branch: String,
    /// `new`, `sleeping`, `ready`, `due` or `backing_off`.
    pub state: &'static str,
    pub notebook_commit: Option<String>,
    pub last_sleep_at_ms: Option<i64>,
    pub sleeps: u64,
    pub sleep_failures: u64,
    pub fetch_failures: u64,
    pub failures_in_a_row: u32,
    pub retry_in_secs: Option<u64>,
    pub last_error: Option<String>,
    pub deliveries_last_hour: usize,
    pub predictions: u64,
    /// With PostgreSQL: whether this process holds the lease.
    pub leased: Option<bool>,
    /// Model calls for this repository and what they cost (with
    /// PostgreSQL, by every process).
    pub model: Option<Spend>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Held {
    /// A repository to hold under `repos_root`, sleeping with `config`
    /// (nice and threads as the service's); its model calls are also
    /// recorded in `ledger` when given.
    pub fn new(
        repos_root: &std::path::Path,
        r: &InstalledRepo,
        config: &Config,
        (nice, threads): (i32, usize),
        ledger: Option<&Arc<PgLedger>>,
    ) -> Held {
        let dir = repos_root.join(&r.repo.owner).join(&r.repo.name);
        let mirror = Mirror::new(dir.join("mirror.git"));
        let mut config = config.clone();
        config.github.repo = r.repo.to_string();
        let notebook = dir.join("notebook");
        let ledger_copy =
            ledger.map(|l| ledger_copy::register(&notebook, l.for_repo(&r.repo.to_string())));
        let shared = Shared::new(mirror.path().to_path_buf(), notebook, config)
            .with_sleep_limits(nice, threads);
        Held {
            name: r.repo.to_string(),
            dir,
            mirror,
            shared: Arc::new(shared),
            source: Mutex::new(source_of(r)),
            health: Mutex::new(Health::default()),
            busy: tokio::sync::Mutex::new(()),
            sleeping: AtomicBool::new(false),
            removed: AtomicBool::new(false),
            commit: Mutex::new(None),
            _ledger_copy: ledger_copy,
        }
    }

    /// The notebook's directory (`dir/notebook`).
    pub fn notebook_dir(&self) -> PathBuf {
        self.dir.join("notebook")
    }

    pub fn source(&self) -> Source {
        lock(&self.source).clone()
    }

    /// A new listing's view of the repository; a changed URL or default
    /// branch makes it due.
    pub fn update_source(&self, r: &InstalledRepo) {
        let new = source_of(r);
        let mut s = lock(&self.source);
        if *s != new {
            *s = new;
            lock(&self.health).fetch_asked = Some(now_ms());
        }
    }

    pub fn health(&self) -> Health {
        lock(&self.health).clone()
    }

    pub fn with_health<T>(&self, f: impl FnOnce(&mut Health) -> T) -> T {
        f(&mut lock(&self.health))
    }

    pub fn sleeping(&self) -> bool {
        self.sleeping.load(Ordering::SeqCst)
    }

    pub fn set_sleeping(&self, on: bool) {
        self.sleeping.store(on, Ordering::SeqCst);
    }

    pub fn removed(&self) -> bool {
        self.removed.load(Ordering::SeqCst)
    }

    pub fn mark_removed(&self) {
        self.removed.store(true, Ordering::SeqCst);
    }

    pub fn set_commit(&self, commit: Option<String>) {
        *lock(&self.commit) = commit;
    }

    pub fn status(&self, pacing: &Pacing, now: i64) -> HeldStatus {
        let h = self.health();
        let source = self.source();
        let retry = h.retry_at(pacing).filter(|&at| at > now);
        let state = if self.sleeping() {
            "sleeping"
        } else if retry.is_some() {
            "backing_off"
        } else if h.last_sleep_ok.is_none() {
            "new"
        } else if h.due_since(pacing, now).is_some() {
            "due"
        } else {
            "ready"
        };
        HeldStatus {
            repo: self.name.clone(),
            installation: source.installation,
            default_branch: source.default_branch,
            state,
            notebook_commit: lock(&self.commit).clone(),
            last_sleep_at_ms: h.last_sleep_ok,
            sleeps: h.sleeps_ok,
            sleep_failures: h.sleep_failures,
            fetch_failures: h.fetch_failures,
            failures_in_a_row: h.failures,
            retry_in_secs: retry.map(|at| u64::try_from((at - now) / 1000).unwrap_or(0)),
            last_error: h.last_error.clone(),
            deliveries_last_hour: h.busyness(now),
            predictions: self.shared.metrics().predictions_total,
            leased: None,
            model: None,
        }
    }
}

fn source_of(r: &InstalledRepo) -> Source {
    Source {
        installation: r.installation,
        clone_url: r.clone_url.clone(),
        default_branch: r.default_branch.clone(),
    }
}
