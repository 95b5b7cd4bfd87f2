//! `swe-sleep mcp`: the notebook's tools for a coding agent, as an MCP
//! server on stdio. Beside a running daemon the calls are forwarded to it;
//! otherwise the notebook is opened here (slept first when missing). Its
//! stdout carries protocol messages only; logs go to stderr or the log file.

use std::sync::Arc;

use anyhow::Context;
use clap::Args;

use swe_sleep::daemon::client;
use swe_sleep::daemon::mcp_forward::Forward;
use swe_sleep::mcp::transport::serve_stdio;
use swe_sleep::mcp::{Backend, Defaults, Server, Standalone};

use super::RepoArgs;

#[derive(Debug, Args)]
pub struct McpArgs {
    #[command(flatten)]
    pub repo: RepoArgs,
    /// Answer from the notebook opened here even when a daemon serves this
    /// repository.
    #[arg(long)]
    pub standalone: bool,
}

pub fn run(args: McpArgs) -> anyhow::Result<()> {
    let (repo, config, state_dir) = args.repo.open()?;
    drop(repo);
    let standalone: Arc<dyn Backend> = Arc::new(Standalone::new(
        args.repo.repo.clone(),
        state_dir.clone(),
        config.clone(),
    ));
    let daemon = if args.standalone {
        None
    } else {
        client::find(&state_dir)
    };
    let backend: Arc<dyn Backend> = match daemon {
        Some(d) => {
            tracing::info!(
                "forwarding MCP calls to the daemon (pid {}) at {}",
                d.pid,
                d.addr
            );
            Arc::new(Forward::new(d, standalone))
        }
        None => standalone,
    };
    let server = Server::new(backend, Defaults::from_config(&config));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the MCP server's runtime")?;
    runtime.block_on(serve_stdio(server))?;
    Ok(())
}
