//! `swe-sleep serve`: one process for every repository of a GitHub App's
//! installations (see `swe_sleep::fleet`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use swe_sleep::config::Config;
use swe_sleep::fleet::{self, FleetConfig};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Configuration file: [github] (the App, its key, the webhook secret)
    /// and [service].
    #[arg(long)]
    pub config: PathBuf,
    /// Where mirrors, notebooks and the queue live (default: service.state_dir).
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    /// Address of the HTTP API and webhook (default: service.listen).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Lower the sleeps' CPU priority by this much (0-19; 0 leaves it).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(i32).range(0..=19))]
    pub nice: i32,
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let config = Config::load(Some(&args.config), None)?;
    let state_dir = match (&args.state_dir, config.service.state_dir.trim()) {
        (Some(dir), _) => dir.clone(),
        (None, "") => anyhow::bail!(
            "where should the service keep its mirrors and notebooks? set service.state_dir in {} or pass --state-dir",
            args.config.display()
        ),
        (None, dir) => PathBuf::from(dir),
    };
    let mut cfg = FleetConfig::new(state_dir, config)?;
    if let Some(listen) = args.listen {
        cfg.listen = listen;
    }
    cfg.sleep_nice = args.nice;
    let (tx, rx) = tokio::sync::oneshot::channel();
    cfg.bound = Some(tx);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let result = runtime.block_on(async move {
        let announce = tokio::spawn(async move {
            if let Ok(addr) = rx.await {
                println!("swe-sleep serve listening on http://{addr}");
            }
        });
        let r = fleet::run(cfg, super::daemon::shutdown_signal()).await;
        announce.abort();
        r
    });
    runtime.shutdown_timeout(Duration::from_millis(500));
    result?;
    Ok(())
}
