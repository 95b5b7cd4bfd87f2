//! `swe-sleep bench`: benchmark tools. `bench mine` turns a repository's
//! merged pull requests into SWE-Features-style instances (JSON lines), with
//! git alone; the rules are in `docs/benchmark.md`. `bench compare` pairs
//! two eval runs instance by instance and says what the change between
//! them bought, and how sure that is.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};

use swe_sleep::eval::Arm;
use swe_sleep::eval::compare;
use swe_sleep::eval::mine::{self, MineOptions};
use swe_sleep::git::Repo;

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub command: BenchCommand,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Mine benchmark instances from a repository's first-parent history.
    Mine(MineArgs),
    /// Compare two eval runs instance by instance (F1 difference with a 95% interval).
    Compare(CompareArgs),
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The earlier eval's output directory (its `--out`).
    #[arg(long)]
    pub before: PathBuf,
    /// The later eval's output directory.
    #[arg(long)]
    pub after: PathBuf,
    /// The arm to compare: sleep or no-sleep.
    #[arg(long, default_value = "sleep")]
    pub arm: String,
    /// One JSON object instead of Markdown.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct MineArgs {
    /// The repository: a work tree or a git directory (bare clones work).
    #[arg(long, default_value = ".")]
    pub repo: PathBuf,
    /// Walk first-parent history back from this revision.
    #[arg(long, default_value = "HEAD")]
    pub rev: String,
    /// owner/name for `repo` and `instance_id` (default: from the directory
    /// name, `owner+name` read as owner/name, else local/<dir>).
    #[arg(long)]
    pub name: Option<String>,
    /// Keep PRs merged on or after this date (YYYY-MM-DD, the date of
    /// `created_at`).
    #[arg(long)]
    pub since: Option<String>,
    /// Keep only the N most recent instances.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Title words that mean new functionality (anywhere in the title).
    #[arg(long, default_value = mine::DEFAULT_FEATURE_WORDS)]
    pub feature_words: String,
    /// Title words that mean something else (leading word or `type:` prefix).
    #[arg(long, default_value = mine::DEFAULT_EXCLUDE_WORDS)]
    pub exclude_words: String,
    /// At least this many existing files modified.
    #[arg(long, default_value_t = mine::DEFAULT_MIN_MODIFIED)]
    pub min_modified: usize,
    /// At least this many source files changed (any status).
    #[arg(long, default_value_t = mine::DEFAULT_MIN_SOURCE)]
    pub min_source: usize,
    /// At most this many files changed in all.
    #[arg(long, default_value_t = mine::DEFAULT_MAX_FILES)]
    pub max_files: usize,
    /// Extensions of source files.
    #[arg(long, default_value = mine::DEFAULT_SOURCE_EXTS)]
    pub source_exts: String,
    /// Context PRs per instance.
    #[arg(long, default_value_t = mine::DEFAULT_CONTEXT)]
    pub context: usize,
    /// Output file (JSON lines, oldest first); `-` for stdout.
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.command {
        BenchCommand::Mine(a) => run_mine(a),
        BenchCommand::Compare(a) => run_compare(a),
    }
}

fn run_compare(args: CompareArgs) -> anyhow::Result<()> {
    let Some(arm) = Arm::parse(&args.arm) else {
        bail!("--arm {}: expected sleep or no-sleep", args.arm);
    };
    let c = compare::compare(&args.before, &args.after, arm)?;
    let text = if args.json {
        serde_json::to_string_pretty(&c)? + "\n"
    } else {
        compare::markdown(&c)
    };
    std::io::stdout().write_all(text.as_bytes())?;
    Ok(())
}

fn run_mine(args: MineArgs) -> anyhow::Result<()> {
    let repo = Repo::open(&args.repo)?;
    let name = match &args.name {
        Some(n) => {
            let ok = n
                .split_once('/')
                .is_some_and(|(o, r)| !o.is_empty() && !r.is_empty() && !r.contains('/'));
            if !ok {
                bail!("--name {n}: expected owner/name");
            }
            n.clone()
        }
        None => mine::default_name(repo.display_path()),
    };
    let since = match &args.since {
        Some(s) => Some(
            mine::parse_date(s)
                .with_context(|| format!("--since {s}: expected a date YYYY-MM-DD"))?,
        ),
        None => None,
    };
    let opts = MineOptions {
        rev: args.rev.clone(),
        name,
        since,
        limit: args.limit,
        feature_words: mine::word_list(&args.feature_words),
        exclude_words: mine::word_list(&args.exclude_words),
        min_modified: args.min_modified,
        min_source: args.min_source,
        max_files: args.max_files,
        source_exts: mine::word_list(&args.source_exts)
            .into_iter()
            .map(|e| e.trim_start_matches('.').to_string())
            .collect(),
        context: args.context,
    };
    let (instances, report) = mine::mine(&repo, &opts)?;
    let mut text = String::new();
    for i in &instances {
        text.push_str(&serde_json::to_string(i)?);
        text.push('\n');
    }
    if args.out.as_os_str() == "-" {
        std::io::stdout().write_all(text.as_bytes())?;
    } else {
        if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(&args.out, text)
            .with_context(|| format!("writing {}", args.out.display()))?;
    }
    eprintln!("bench mine {}: {}", opts.name, report.summary());
    Ok(())
}
