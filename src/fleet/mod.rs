//! `swe-sleep serve`: one process for every repository a GitHub App's
//! installations grant.
//!
//! - [`sync`]: the listing at start and the installation events decide
//!   which repositories are held ([`registry`], each a [`held::Held`]);
//! - [`mirror`]: each held repository's bare mirror, fetched by git with
//!   the installation token through a credential helper, never on disk;
//! - [`schedule`] (pure) and [`runner`]: fetches and sleeps by staleness
//!   and busyness under one concurrency budget, backing off on failure;
//! - [`routes`] and [`report`]: `/healthz`, `/status`, `/metrics` and the
//!   webhook, which refuses deliveries for repositories not held.
//!
//! Deliveries, jobs and results share one queue (`github.sqlite` in the
//! state directory); each repository keeps its own mirror and notebook
//! under `repos/<owner>/<name>/`. One worker predicts through each job's
//! repository and comments as the installation.
//!
//! Depends on `config`, `daemon` (sleeps, predictions, the HTTP layers),
//! `github`, `llm` (a copy of each notebook's cost ledger, `pg::ledger`),
//! `notebook` (the sleep target, the ledger's rows) and `secret`; only the
//! CLI depends on it.

pub mod held;
pub mod mirror;
pub mod pg;
pub mod registry;
pub mod report;
pub mod routes;
pub mod runner;
pub mod schedule;
pub mod spend;
pub mod sync;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, mpsc, oneshot, watch};

use crate::config::Config;
use crate::daemon::access::Access;
use crate::daemon::github::GithubParts;
use crate::daemon::hosts::AllowedHosts;
use crate::daemon::refusal::Refusals;
use crate::daemon::{DaemonLock, Limits, listen, serve, shutdown};
use crate::github::job_queue::JobQueue;
use crate::github::queue::Queue;
use crate::github::webhook::{DeliveryScope, WebhookState, WebhookStats};
use crate::github::worker::{Worker, WorkerSettings, WorkerStats};

use registry::Registry;
use schedule::Pacing;

/// What the service needs to run.
pub struct FleetConfig {
    pub state_dir: PathBuf,
    pub config: Config,
    pub listen: SocketAddr,
    pub limits: Limits,
    pub shutdown_deadline: Duration,
    /// Told the bound address once the server listens.
    pub bound: Option<oneshot::Sender<SocketAddr>>,
    pub sleep_nice: i32,
    pub sleep_threads: usize,
}

impl std::fmt::Debug for FleetConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FleetConfig")
            .field("state_dir", &self.state_dir)
            .field("listen", &self.listen)
            .finish_non_exhaustive()
    }
}

impl FleetConfig {
    /// Defaults around a configuration: its `[service]` listen address.
    pub fn new(state_dir: PathBuf, config: Config) -> Result<FleetConfig, FleetError> {
        let listen = config.service.listen.parse().map_err(|_| {
            FleetError::Config(format!(
                "service.listen: {:?} is not an address such as 127.0.0.1:7979",
                config.service.listen
            ))
        })?;
        Ok(FleetConfig {
            state_dir,
            config,
            listen,
            limits: Limits::default(),
            shutdown_deadline: Duration::from_secs(5),
            bound: None,
            sleep_nice: 10,
            sleep_threads: std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1)),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Daemon(#[from] crate::daemon::DaemonError),
    #[error("the delivery queue")]
    Queue(#[from] crate::github::queue::QueueError),
    #[error("service.database")]
    Database(#[from] pg::PgError),
    #[error("cannot list the App's installations")]
    Listing(#[source] crate::github::GitHubError),
    #[error("cannot create the state directory {}", path.display())]
    StateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn pacing(config: &Config) -> Pacing {
    let s = &config.service;
    Pacing {
        refresh: Duration::from_secs(s.refresh_secs.max(1)),
        backoff_base: Duration::from_secs(s.backoff_base_secs),
        backoff_max: Duration::from_secs(s.backoff_max_secs),
    }
}

/// Runs the service until `shutdown` resolves.
pub async fn run(
    mut cfg: FleetConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), FleetError> {
    let g = &cfg.config.github;
    if g.app_id == 0 {
        return Err(FleetError::Config(
            "swe-sleep serve acts as a GitHub App: set github.app_id and github.app_key (and github.webhook_secret) in the configuration".into(),
        ));
    }
    let secret = g
        .webhook_secret
        .load("github.webhook_secret")
        .map_err(|e| FleetError::Config(e.to_string()))?
        .ok_or_else(|| {
            FleetError::Config(
                "swe-sleep serve needs github.webhook_secret = { env = \"VAR\" } or { file = \"PATH\" }".into(),
            )
        })?;
    let client = crate::github::api::client_from_config(g)
        .map_err(FleetError::Config)?
        .ok_or_else(|| FleetError::Config("github.app_key is missing".into()))?;
    std::fs::create_dir_all(&cfg.state_dir).map_err(|source| FleetError::StateDir {
        path: cfg.state_dir.clone(),
        source,
    })?;
    let token = cfg
        .config
        .daemon
        .token
        .load("daemon.token")
        .map_err(crate::daemon::DaemonError::from)?;
    listen::check_exposure(cfg.listen, token.is_some())?;
    let lock = DaemonLock::acquire(&cfg.state_dir, &cfg.listen.to_string())?;
    // For `swe-sleep status --state-dir`, as the daemon's.
    let token_file = crate::daemon::token_file::TokenFile::publish(&cfg.state_dir, token.as_ref())?;
    let Stores {
        queue,
        leases,
        ledger,
    } = open_stores(&cfg).await?;

    let (changes_tx, mut changes_rx) = mpsc::unbounded_channel();
    let registry = Arc::new(Registry::new(
        cfg.state_dir.join("repos"),
        cfg.config.clone(),
        (cfg.sleep_nice, cfg.sleep_threads),
        ledger.clone(),
        changes_tx,
    ));
    let grants = sync::Grants {
        client: client.clone(),
        registry: registry.clone(),
    };
    let held = grants.list_all().await.map_err(FleetError::Listing)?;
    tracing::info!("holding {held} repositories");

    let listener = listen::bind(cfg.listen).await?;
    let addr = listener
        .local_addr()
        .map_err(crate::daemon::DaemonError::Server)?;
    lock.set_addr(&addr.to_string())?;
    if let Some(tx) = cfg.bound.take() {
        let _ = tx.send(addr);
    }
    tracing::info!("serving the App's repositories on http://{addr}");

    let wake = Arc::new(Notify::new());
    let scope: Arc<dyn DeliveryScope> = registry.clone();
    let webhook = Arc::new(WebhookState {
        secret,
        queue: queue.clone(),
        rules: crate::daemon::github::rules(&Config {
            github: crate::config::GithubConfig {
                repo: String::new(),
                ..cfg.config.github.clone()
            },
            ..cfg.config.clone()
        }),
        wake: wake.clone(),
        stats: WebhookStats::default(),
        scope: Some(scope),
    });
    let api = crate::github::api::as_api(client.clone());
    let parts = Arc::new(GithubParts {
        queue: queue.clone(),
        wake: wake.clone(),
        webhook: Some(webhook.clone()),
        worker_stats: Arc::new(WorkerStats::default()),
        api: Some(api.clone()),
    });
    let pacing = pacing(&cfg.config);
    let concurrency = cfg.config.service.concurrency.max(1);
    let refusals = Arc::new(Refusals::default());
    let view = Arc::new(routes::View {
        leases: leases.clone(),
        ledger,
        registry: registry.clone(),
        parts: parts.clone(),
        pacing,
        concurrency,
        refusals: refusals.clone(),
    });
    let access = Access::new(
        token,
        AllowedHosts::new(addr, &cfg.config.daemon.allowed_hosts),
        crate::daemon::api::MAX_BODY,
        cfg.limits.body_timeout,
    );
    let router = routes::app(view, webhook, access, &cfg.limits);

    let (stop_tx, stop_rx) = watch::channel(false);
    let worker = Worker {
        queue: queue.clone(),
        predictor: registry.clone(),
        api: Some(api),
        settings: WorkerSettings {
            comments: cfg.config.github.comments,
            max_attempts: cfg.config.github.max_attempts.max(1),
            ..WorkerSettings::default()
        },
        stats: parts.worker_stats.clone(),
    };
    let mut worker = tokio::spawn(worker.run(wake, stop_rx.clone()));
    let mut lease_loop = leases
        .clone()
        .map(|l| tokio::spawn(hold_leases(l, registry.clone(), stop_rx.clone())));
    let runner = runner::Runner {
        leases: leases.clone(),
        registry: registry.clone(),
        client: client.clone(),
        pacing,
        concurrency,
        fetch_timeout: Duration::from_secs(cfg.config.service.fetch_timeout_secs.max(1)),
    };
    let mut scheduler = tokio::spawn(runner.run(stop_rx.clone()));
    let pruner = tokio::spawn(prune(
        queue.clone(),
        cfg.config.service.retention_days,
        stop_rx.clone(),
    ));
    let changes = tokio::spawn(async move {
        while let Some(change) = changes_rx.recv().await {
            grants.apply(change).await;
        }
    });
    let mut server = tokio::spawn(serve::serve(
        listener,
        router,
        cfg.limits.clone(),
        refusals,
        stop_rx,
    ));

    let failure = shutdown::until_shutdown(shutdown, &mut server).await;
    let _ = stop_tx.send(true);
    let deadline = tokio::time::Instant::now() + cfg.shutdown_deadline;
    shutdown::Draining {
        server: failure.is_none().then_some(&mut server),
        scheduler: &mut scheduler,
        worker: Some(&mut worker),
    }
    .finish(deadline)
    .await;
    changes.abort();
    pruner.abort();
    if let Some(task) = lease_loop.take() {
        let _ = tokio::time::timeout_at(deadline, task).await;
    }
    if let Some(l) = &leases {
        match l.release_all().await {
            Ok(()) => tracing::info!("leases given back"),
            Err(e) => tracing::warn!("cannot give the leases back (they expire): {}", chain(&e)),
        }
    }
    drop(token_file);
    drop(lock);
    failure.map_or(Ok(()), |e| {
        Err(FleetError::Daemon(crate::daemon::DaemonError::Server(e)))
    })
}

/// Where the service keeps what outlives a process: the queue (SQLite in
/// the state directory, or PostgreSQL), and with PostgreSQL this
/// process's leases and the shared cost ledger.
struct Stores {
    queue: Arc<dyn JobQueue>,
    leases: Option<Arc<pg::leases::Leases>>,
    ledger: Option<Arc<pg::ledger::PgLedger>>,
}

async fn open_stores(cfg: &FleetConfig) -> Result<Stores, FleetError> {
    let url = cfg
        .config
        .service
        .database
        .load("service.database")
        .map_err(crate::daemon::DaemonError::from)?;
    let Some(url) = url else {
        return Ok(Stores {
            queue: Arc::new(Queue::open(&cfg.state_dir)?),
            leases: None,
            ledger: None,
        });
    };
    let ca = &cfg.config.service.database_ca;
    let ca = (!ca.is_empty()).then(|| std::path::Path::new(ca.as_str()));
    let pool = pg::connect(url.expose(), 16, ca).await?;
    let worker = worker_name();
    tracing::info!("queue, leases and cost ledger in postgresql, as worker {worker}");
    let leases = Arc::new(pg::leases::Leases::new(
        pool.clone(),
        worker.clone(),
        Duration::from_secs(cfg.config.service.lease_secs.max(1)),
    ));
    let runtime = tokio::runtime::Handle::current();
    let ledger = Arc::new(pg::ledger::PgLedger::new(
        pool.clone(),
        runtime.clone(),
        worker.clone(),
    ));
    let queue = pg::queue::PgQueue::new(pool, runtime, worker);
    Ok(Stores {
        queue: Arc::new(queue),
        leases: Some(leases),
        ledger: Some(ledger),
    })
}

/// Forgets finished deliveries and results older than `days` at start and
/// every hour until `stop` (any process may: the statements are
/// idempotent); `days = 0` keeps them.
async fn prune(queue: Arc<dyn JobQueue>, days: u64, mut stop: watch::Receiver<bool>) {
    if days == 0 {
        return;
    }
    let max_age_ms = i64::try_from(days.saturating_mul(24 * 3600 * 1000)).unwrap_or(i64::MAX);
    loop {
        let q = queue.clone();
        match tokio::task::spawn_blocking(move || q.prune(max_age_ms)).await {
            Ok(Ok(p)) if p.deliveries + p.results > 0 => tracing::info!(
                "forgot {} deliveries and {} results older than {days} days",
                p.deliveries,
                p.results
            ),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!("cannot prune old deliveries and results: {}", chain(&e)),
            Err(e) => tracing::warn!("the prune task failed: {e}"),
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(3600)) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// `host-pid-start`: unique among the processes sharing a database.
fn worker_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "host".into());
    format!(
        "{host}-{}-{}",
        std::process::id(),
        crate::github::queue::now_ms()
    )
}

/// Beats until `stop`, waking the scheduler when leases were taken.
async fn hold_leases(
    leases: Arc<pg::leases::Leases>,
    registry: Arc<Registry>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let wanted: Vec<String> = registry.list().iter().map(|h| h.name.clone()).collect();
        match leases.beat(&wanted).await {
            Ok(beat) => {
                if !beat.taken.is_empty() || !beat.released.is_empty() {
                    tracing::info!(
                        "leases: took {:?}, gave back {:?}; {} held, {} live workers",
                        beat.taken,
                        beat.released,
                        beat.held,
                        beat.live_workers
                    );
                    registry.wake.notify_one();
                }
            }
            Err(e) => tracing::warn!("lease beat failed: {}", chain(&e)),
        }
        tokio::select! {
            () = tokio::time::sleep(leases.interval()) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// An error and its sources on one line.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
