//! `swe-sleep daemon`: keeps a checkout's notebook current while it is idle
//! and answers predictions over HTTP on loopback.
//!
//! - [`lock`]: one daemon per repository (a lock file in the state directory),
//!   [`process`]: whether the process a lock names still runs;
//! - [`watch`](mod@watch): change detection (notify, HEAD polling, rescans) and
//!   the scheduler that sleeps once changes have settled;
//! - [`api`]: the HTTP routes (`/healthz`, `/status`, `/predict`, `/metrics`);
//!   [`page`]: `GET /`, the page for a person ([`page_text`]), fed by the
//!   [`journal`] of recent sleeps and predictions;
//! - [`app`]: the routes with their layers: [`access`] (`Host`, token,
//!   content type; [`hosts`], [`body`]), [`webhook_gate`], [`refusal`]
//!   (JSON errors, counted); [`serve`]: the server loop and its limits;
//!   [`listen`]: the `--listen` address; [`token_file`]: the token for the CLI;
//!   [`shutdown`](mod@shutdown): the end of a run, shared with `serve`;
//! - [`state`]: what the handlers and the scheduler share, and the metrics;
//! - [`mcp`](mod@mcp): `/mcp`, MCP over streamable HTTP answered by the
//!   prediction service; [`mcp_forward`]: how `swe-sleep mcp` forwards its
//!   calls to a running daemon.
//!
//! [`run`] is the whole daemon: it returns when `shutdown` resolves, after
//! the server has stopped taking requests and a running sleep has finished
//! (or the shutdown deadline has passed), with the lock removed.
//!
//! Depends on `agent`, `notebook`, `git`, `config`, `github`, `secret`,
//! `mcp`; only the CLI depends on it.

pub mod access;
pub mod api;
pub mod app;
pub mod body;
pub mod client;
pub mod fetch;
pub mod github;
pub mod hosts;
pub mod journal;
pub mod listen;
pub mod lock;
pub mod mcp;
pub mod mcp_forward;
pub mod page;
pub mod page_text;
pub mod priority;
pub mod process;
pub mod refusal;
pub mod serve;
pub mod service;
pub mod shutdown;
pub mod state;
pub mod token_file;
pub mod watch;
pub mod webhook_gate;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{oneshot, watch as signal};

use crate::config::Config;
use crate::github::worker::{Worker, WorkerSettings};

pub use lock::{DaemonLock, LOCK_FILE};
pub use serve::Limits;
pub use state::Shared;
pub use token_file::TOKEN_FILE;

/// What a daemon serves, where, and how it paces itself.
pub struct DaemonConfig {
    /// The repository (work tree, or a git directory for a bare clone).
    pub repo: PathBuf,
    pub state_dir: PathBuf,
    pub config: Config,
    /// Where to listen; port 0 picks a free port (see `bound`). Loopback
    /// unless `[daemon] token` is configured.
    pub listen: SocketAddr,
    /// Connections, header and body deadlines, webhook concurrency.
    pub limits: Limits,
    /// No file event for this long means the changes have settled.
    pub quiet_period: Duration,
    /// How often HEAD is read.
    pub head_poll: Duration,
    /// How often the tree is rescanned when files cannot be watched.
    pub rescan_interval: Duration,
    /// How long shutdown waits for a running sleep.
    pub shutdown_deadline: Duration,
    /// Told the bound address once the server listens.
    pub bound: Option<oneshot::Sender<SocketAddr>>,
    /// Follow open pull requests and issues by polling the API (`--poll`),
    /// for users who cannot expose a webhook endpoint.
    pub poll: bool,
    /// How much sleeps are niced (default 10; 0 leaves them alone).
    pub sleep_nice: i32,
    /// Parser threads per sleep when `index.threads` is 0 (default: half
    /// the cores, at least one), leaving the rest to the user.
    pub sleep_threads: usize,
    /// Work through the GitHub queue (true). False only receives and
    /// stores deliveries, for maintenance and tests of a restart between
    /// receipt and processing.
    pub process_queue: bool,
}

impl std::fmt::Debug for DaemonConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DaemonConfig")
            .field("repo", &self.repo)
            .field("state_dir", &self.state_dir)
            .field("listen", &self.listen)
            .field("poll", &self.poll)
            .finish_non_exhaustive()
    }
}

impl DaemonConfig {
    /// Defaults: loopback port 7878, 2 s quiet period, HEAD read every 2 s,
    /// rescans every 30 s, 5 s shutdown deadline.
    pub fn new(repo: PathBuf, state_dir: PathBuf, config: Config) -> DaemonConfig {
        DaemonConfig {
            repo,
            state_dir,
            config,
            listen: SocketAddr::from(([127, 0, 0, 1], 7878)),
            limits: Limits::default(),
            quiet_period: Duration::from_secs(2),
            head_poll: Duration::from_secs(2),
            rescan_interval: Duration::from_secs(30),
            shutdown_deadline: Duration::from_secs(5),
            bound: None,
            poll: false,
            sleep_nice: 10,
            sleep_threads: std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1)),
            process_queue: true,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(
        "a daemon (pid {pid}, listening on {addr}) already serves this repository; its lock is {}",
        path.display()
    )]
    Locked {
        path: PathBuf,
        pid: u32,
        addr: String,
    },
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot listen on {addr} (--listen){holder}")]
    Bind {
        addr: SocketAddr,
        /// Who holds the address and what to do, when it is taken.
        holder: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "refusing to listen on {addr} (--listen): it is not a loopback address, and without an access token anyone who reaches it could use the API; set [daemon] token = {{ file = \"PATH\" }} (or {{ env = \"VAR\" }}) in swe-sleep.toml, or listen on 127.0.0.1"
    )]
    Exposed { addr: SocketAddr },
    #[error(transparent)]
    Secret(#[from] crate::secret::SecretError),
    #[error("{0}")]
    Config(String),
    #[error("the HTTP server failed: {0}")]
    Server(std::io::Error),
    #[error(transparent)]
    Git(#[from] crate::git::GitError),
}

impl DaemonError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> DaemonError {
        DaemonError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Runs the daemon until `shutdown` resolves.
pub async fn run(
    mut config: DaemonConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), DaemonError> {
    // Fail early on something that is not a repository.
    {
        let path = config.repo.clone();
        tokio::task::spawn_blocking(move || crate::git::Repo::open(&path).map(|_| ()))
            .await
            .map_err(|e| DaemonError::Server(std::io::Error::other(e)))??;
    }
    // The API client is built only when the GitHub side runs at all: a
    // daemon beside a checkout needs none of it.
    let serves_github = config.poll || config.config.github.webhook_secret.is_set();
    let client = if serves_github {
        crate::github::api::client_from_config(&config.config.github)
            .map_err(DaemonError::Config)?
    } else {
        None
    };
    let poll_repo = if config.poll {
        let repo = config.config.github.repo.trim();
        if repo.is_empty() || client.is_none() {
            return Err(DaemonError::Config(
                "--poll needs github.repo (owner/name) and credentials (github.token, or github.app_id with github.app_key) in swe-sleep.toml".into(),
            ));
        }
        Some(
            repo.parse::<crate::github::RepoRef>()
                .map_err(|e| DaemonError::Config(format!("github.repo: {e}")))?,
        )
    } else {
        None
    };
    let github = github::setup(
        &config.config,
        &config.state_dir,
        config.poll,
        client.clone().map(crate::github::api::as_api),
    )?
    .map(Arc::new);
    let token = config.config.daemon.token.load("daemon.token")?;
    listen::check_exposure(config.listen, token.is_some())?;
    let lock = DaemonLock::acquire(&config.state_dir, &config.listen.to_string())?;
    let listener = listen::bind(config.listen).await?;
    let addr = listener.local_addr().map_err(DaemonError::Server)?;
    lock.set_addr(&addr.to_string())?;
    let token_file = token_file::TokenFile::publish(&config.state_dir, token.as_ref())?;
    tracing::info!(
        "serving {} on http://{addr} (notebook in {})",
        config.repo.display(),
        config.state_dir.display()
    );
    if let Some(tx) = config.bound.take() {
        let _ = tx.send(addr);
    }

    let shared = Arc::new(
        Shared::new(
            config.repo.clone(),
            config.state_dir.clone(),
            config.config.clone(),
        )
        .with_github(github.clone())
        .with_sleep_limits(config.sleep_nice, config.sleep_threads),
    );
    let (stop_tx, stop_rx) = signal::channel(false);
    let timings = watch::WatchTimings {
        quiet_period: config.quiet_period,
        head_poll: config.head_poll,
        rescan_interval: config.rescan_interval,
    };
    let mut scheduler = tokio::spawn(watch::scheduler(shared.clone(), timings, stop_rx.clone()));
    let access = access::Access::new(
        token,
        hosts::AllowedHosts::new(addr, &config.config.daemon.allowed_hosts),
        api::MAX_BODY,
        config.limits.body_timeout,
    );
    let webhook = github.as_ref().and_then(|parts| parts.webhook.clone());
    if webhook.is_some() {
        tracing::info!("receiving GitHub webhooks on http://{addr}/github/webhook");
    }
    let router = app::app(shared.clone(), webhook, access, &config.limits);
    let mut worker = None;
    if let Some(parts) = &github {
        if config.process_queue {
            let w = Worker {
                queue: parts.queue.clone(),
                predictor: shared.clone(),
                api: parts.api.clone(),
                settings: WorkerSettings {
                    comments: config.config.github.comments,
                    max_attempts: config.config.github.max_attempts.max(1),
                    ..WorkerSettings::default()
                },
                stats: parts.worker_stats.clone(),
            };
            worker = Some(tokio::spawn(w.run(parts.wake.clone(), stop_rx.clone())));
        }
        if let (Some(repo), Some(client)) = (poll_repo, client) {
            tracing::info!(
                "polling {repo} every {} s for open pull requests and issues",
                config.config.github.poll_interval_secs
            );
            let poller = crate::github::poll::Poller {
                client,
                repo,
                queue: parts.queue.clone(),
                wake: parts.wake.clone(),
                rules: github::rules(&config.config),
                interval: Duration::from_secs(config.config.github.poll_interval_secs.max(1)),
                fetch: config.config.github.fetch,
            };
            tokio::spawn(poller.run(stop_rx.clone()));
        }
    }
    let mut server = tokio::spawn(serve::serve(
        listener,
        router,
        config.limits.clone(),
        shared.refusals.clone(),
        stop_rx.clone(),
    ));

    let failure = shutdown::until_shutdown(shutdown, &mut server).await;
    let _ = stop_tx.send(true);
    shutdown::Draining {
        server: failure.is_none().then_some(&mut server),
        scheduler: &mut scheduler,
        worker: worker.as_mut(),
    }
    .finish(tokio::time::Instant::now() + config.shutdown_deadline)
    .await;
    drop(token_file);
    drop(lock);
    failure.map_or(Ok(()), |e| Err(DaemonError::Server(e)))
}
