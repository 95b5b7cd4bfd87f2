//! `swe-sleep eval`: run a benchmark and write predictions, report and charts.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::{Context, bail};
use clap::Args;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use swe_sleep::agent::PolicyKind;
use swe_sleep::config::Config;
use swe_sleep::eval::runner::Setting;
use swe_sleep::eval::runner::{self, EvalProgress};
use swe_sleep::eval::{Arm, EvalOptions, instance, report};

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Benchmark files (JSON lines).
    #[arg(long, required = true, num_args = 1..)]
    pub bench: Vec<PathBuf>,
    /// Repositories: owner/name=PATH (a clone with history; bare is fine).
    #[arg(long = "repo", num_args = 1..)]
    pub repos: Vec<String>,
    /// Test-time budgets in tokens.
    #[arg(long, value_delimiter = ',', default_value = "500,1000,2000,4000,8000")]
    pub budgets: Vec<u64>,
    /// Arms: sleep, no-sleep.
    #[arg(long, value_delimiter = ',', default_value = "sleep,no-sleep")]
    pub arms: Vec<String>,
    /// daemon: the repository at base_commit and all history before it;
    /// paper: the repository at base_commit and the instance's context_prs.
    #[arg(long, default_value = "daemon")]
    pub setting: String,
    /// offline, llm (needs [llm.test] in --config) or llm-rerank.
    #[arg(long, default_value = "offline")]
    pub policy: String,
    /// Step cap per run.
    #[arg(long, default_value_t = 12)]
    pub steps: u32,
    /// Repositories evaluated in parallel.
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// At most this many instances per repository (the earliest).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Price of a test-time token in sleep-time tokens (amortized cost).
    #[arg(long, default_value_t = 10.0)]
    pub t: f64,
    /// Keep going past invalid benchmark lines (reported on stderr).
    #[arg(long)]
    pub skip_invalid: bool,
    /// Configuration file.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Sleep budgets of the sleep arm, in past pull requests replayed and
    /// learned from before each instance (0: no learning); each is a
    /// variant of the sleep arm, and the report traces F1 against them
    /// (default: learn.replay_prs from the config; 0 in the paper setting).
    #[arg(long, value_delimiter = ',')]
    pub sleep_budgets: Vec<usize>,
    /// Also write every run's candidates and evidence to candidates.jsonl.
    #[arg(long, hide = true)]
    pub dump_candidates: bool,
    /// Output directory; re-running with the same one resumes.
    #[arg(long)]
    pub out: PathBuf,
}

struct Bars {
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl EvalProgress for Bars {
    fn repo_started(&self, repo: &str, instances: usize) {
        let bar = self.multi.add(ProgressBar::new(instances as u64));
        bar.set_style(
            ProgressStyle::with_template("{msg:>24} [{bar:30}] {pos}/{len} eta {eta}")
                .expect("static template")
                .progress_chars("=> "),
        );
        bar.set_message(repo.to_string());
        self.bars
            .lock()
            .expect("bars")
            .insert(repo.to_string(), bar);
    }

    fn instance_done(&self, repo: &str) {
        if let Some(b) = self.bars.lock().expect("bars").get(repo) {
            b.inc(1);
        }
    }

    fn repo_finished(&self, repo: &str) {
        if let Some(b) = self.bars.lock().expect("bars").get(repo) {
            b.finish();
        }
    }
}

pub fn run(args: EvalArgs) -> anyhow::Result<()> {
    let mut instances = Vec::new();
    for path in &args.bench {
        let (mut list, skipped) = instance::load(path, args.skip_invalid)?;
        for s in skipped {
            eprintln!("warning: skipped {s}");
        }
        instances.append(&mut list);
    }
    let mut repos = HashMap::new();
    for spec in &args.repos {
        let (name, path) = spec
            .split_once('=')
            .with_context(|| format!("--repo {spec}: expected owner/name=PATH"))?;
        repos.insert(name.to_string(), PathBuf::from(path));
    }
    let mut arms = Vec::new();
    for a in &args.arms {
        arms.push(
            Arm::parse(a).with_context(|| {
                format!("--arms: unknown arm `{a}` (expected sleep or no-sleep)")
            })?,
        );
    }
    if args.budgets.is_empty() || args.budgets.contains(&0) {
        bail!("--budgets must be positive token counts");
    }
    let setting = Setting::parse(&args.setting).with_context(|| {
        format!(
            "--setting: unknown setting `{}` (expected daemon or paper)",
            args.setting
        )
    })?;
    let policy = PolicyKind::parse(&args.policy).with_context(|| {
        format!(
            "--policy: unknown policy `{}` (expected offline, llm or llm-rerank)",
            args.policy
        )
    })?;
    let mut config = Config::load(args.config.as_deref(), None)?;
    if setting == Setting::Paper {
        // History is the instance's related PRs only: the notebook and the
        // raw tools see the base commit and nothing before it.
        config.history.max_commits = 1;
    }
    let sleep_budgets = match (args.sleep_budgets.is_empty(), setting) {
        (false, Setting::Paper) if args.sleep_budgets.iter().any(|b| *b > 0) => {
            bail!(
                "--sleep-budgets: the paper setting has no history to learn from; use the daemon setting"
            )
        }
        (false, _) => {
            let mut b = args.sleep_budgets.clone();
            b.sort();
            b.dedup();
            b
        }
        (true, Setting::Paper) => vec![0],
        (true, Setting::Daemon) => vec![config.learn.replay_prs],
    };
    let opts = EvalOptions {
        setting,
        budgets: args.budgets.clone(),
        arms,
        steps: args.steps,
        out: args.out.clone(),
        jobs: args.jobs,
        limit: args.limit,
        config,
        dump_candidates: args.dump_candidates,
        policy,
        sleep_budgets,
    };
    let bars = Bars {
        multi: MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::stderr()),
        bars: Mutex::new(HashMap::new()),
    };
    let (records, sleeps) = runner::run(&instances, &repos, &opts, &bars)?;
    let wanted: std::collections::HashSet<&str> =
        instances.iter().map(|i| i.instance_id.as_str()).collect();
    let records: Vec<_> = records
        .into_iter()
        .filter(|r| {
            wanted.contains(r.instance_id.as_str())
                && opts.budgets.contains(&r.budget)
                && opts.arms.contains(&r.arm)
                && r.sleep_budget
                    .is_none_or(|b| opts.sleep_budgets.contains(&b))
        })
        .collect();
    let rep = report::build(&records, &sleeps, args.t);
    report::write_all(&rep, &args.out)
        .with_context(|| format!("writing the report into {}", args.out.display()))?;
    print!("{}", report::markdown(&rep));
    Ok(())
}
