//! `swe-sleep daemon`: keep the notebook current beside a checkout and
//! answer predictions over HTTP (see `swe_sleep::daemon`).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use swe_sleep::daemon::{self, DaemonConfig};

use super::RepoArgs;

#[derive(Debug, Args)]
pub struct DaemonArgs {
    #[command(flatten)]
    pub repo: RepoArgs,
    /// Address of the HTTP API (loopback by default; port 0 picks one).
    #[arg(long, default_value = "127.0.0.1:7878")]
    pub listen: SocketAddr,
    /// Sleep once no file has changed for this many milliseconds.
    #[arg(long, default_value_t = 2000)]
    pub quiet_period_ms: u64,
    /// Lower the sleeps' CPU priority by this much (0-19; 0 leaves it).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(i32).range(0..=19))]
    pub nice: i32,
    /// Parser threads per sleep (default: half the cores, at least one).
    #[arg(long)]
    pub sleep_threads: Option<usize>,
    /// Follow open pull requests and issues through the GitHub API instead
    /// of (or as well as) webhooks; needs github.repo and credentials.
    #[arg(long)]
    pub poll: bool,
}

pub fn run(args: DaemonArgs) -> anyhow::Result<()> {
    let (repo, config, state_dir) = args.repo.open()?;
    let repo_path = repo
        .work_dir()
        .unwrap_or_else(|| repo.git_dir())
        .to_path_buf();
    drop(repo);
    let mut cfg = DaemonConfig::new(repo_path, state_dir, config);
    cfg.listen = args.listen;
    cfg.quiet_period = Duration::from_millis(args.quiet_period_ms);
    cfg.sleep_nice = args.nice;
    cfg.poll = args.poll;
    if let Some(n) = args.sleep_threads {
        cfg.sleep_threads = n.max(1);
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    cfg.bound = Some(tx);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let result = runtime.block_on(async move {
        let announce = tokio::spawn(async move {
            if let Ok(addr) = rx.await {
                println!("swe-sleep daemon listening on http://{addr}");
            }
        });
        let r = daemon::run(cfg, shutdown_signal()).await;
        announce.abort();
        r
    });
    // A sleep that outlived the deadline is left behind, not waited for.
    runtime.shutdown_timeout(Duration::from_millis(500));
    result?;
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
