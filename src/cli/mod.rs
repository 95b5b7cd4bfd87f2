//! Command-line interface: one file per subcommand. Only this module writes
//! to stdout; logs and progress go to stderr.

mod bench;
mod daemon;
mod eval;
mod mcp;
mod predict;
mod progress;
mod render;
mod serve;
mod sleep;
mod status;
mod status_serve;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use swe_sleep::config::Config;
use swe_sleep::git::Repo;

#[derive(Debug, Parser)]
#[command(
    name = "swe-sleep",
    version,
    about = "Sleep-time compute for git repositories"
)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug); SWE_SLEEP_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Append logs to this file instead of stderr (the daemon's usual setup).
    #[arg(long, global = true, value_name = "PATH")]
    pub log_file: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build or update the notebook for a revision (or the work tree).
    Sleep(sleep::SleepArgs),
    /// Say what is in the notebook, for which commit, and how stale it is.
    Status(status::StatusArgs),
    /// Predict which existing files a request will modify.
    Predict(predict::PredictArgs),
    /// Run a benchmark: both arms, several budgets, report and Pareto charts.
    Eval(eval::EvalArgs),
    /// Benchmark tools: mine instances from a repository's history.
    Bench(bench::BenchArgs),
    /// Keep the notebook current beside a checkout and serve predictions over HTTP.
    Daemon(daemon::DaemonArgs),
    /// Serve every repository of a GitHub App's installations from one process.
    Serve(serve::ServeArgs),
    /// Serve the notebook's tools to a coding agent over MCP on stdio.
    Mcp(mcp::McpArgs),
}

/// Options every subcommand that reads a repository shares.
#[derive(Debug, Args, Clone)]
pub struct RepoArgs {
    /// The repository: a work tree, or a git directory (bare clones work).
    #[arg(long, default_value = ".")]
    pub repo: PathBuf,
    /// Where the notebook lives (default: .swe-sleep/ in the work tree, or
    /// swe-sleep/ inside a bare repository's git directory).
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    /// Configuration file (default: swe-sleep.toml at the repository root).
    #[arg(long)]
    pub config: Option<PathBuf>,
}

impl RepoArgs {
    pub fn open(&self) -> anyhow::Result<(Repo, Config, PathBuf)> {
        let repo = Repo::open(&self.repo)?;
        let root: Option<&Path> = repo.work_dir();
        let config = Config::load(self.config.as_deref(), root)?;
        let state = swe_sleep::notebook::prepare_state_dir(&repo, self.state_dir.as_deref())
            .context("preparing the state directory")?;
        Ok((repo, config, state))
    }
}

/// Logs go to stderr (coloured only when it is a terminal and `NO_COLOR` is
/// unset), or appended to `log_file` without colour; a file that cannot be
/// opened is an error naming it.
pub fn init_tracing(verbose: u8, log_file: Option<&Path>) -> anyhow::Result<()> {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("SWE_SLEEP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    match log_file {
        None => {
            let colour = std::io::stderr().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            builder
                .with_ansi(colour)
                .with_writer(std::io::stderr)
                .init();
        }
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("opening the log file {}", path.display()))?;
            builder
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(file))
                .init();
        }
    }
    Ok(())
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Sleep(a) => sleep::run(a),
        Command::Status(a) => status::run(a),
        Command::Predict(a) => predict::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Daemon(a) => daemon::run(a),
        Command::Serve(a) => serve::run(a),
        Command::Mcp(a) => mcp::run(a),
    }
}

/// An error and its causes on one line, each cause once: a cause whose
/// text the line already holds (a message that quotes its source) is not
/// repeated ("malformed: malformed: ...").
pub fn error_text(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

/// Prints `value` as one line of JSON on stdout.
pub fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string(value)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("notebook database x.sqlite: {source}")]
    struct Outer {
        source: std::io::Error,
    }

    #[test]
    fn causes_are_not_repeated() {
        let e = anyhow::Error::new(Outer {
            source: std::io::Error::other("database disk image is malformed"),
        })
        .context("sleeping");
        assert_eq!(
            error_text(&e),
            "sleeping: notebook database x.sqlite: database disk image is malformed"
        );
    }
}
