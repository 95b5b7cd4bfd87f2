//! `swe-sleep eval`: run a benchmark and write predictions, report and charts.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, bail};
use clap::Args;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use swe_sleep::agent::{PolicyFactory, PolicyKind};
use swe_sleep::config::Config;
use swe_sleep::eval::coverage;
use swe_sleep::eval::runner::Setting;
use swe_sleep::eval::runner::{self, EvalProgress};
use swe_sleep::eval::{Arm, EvalOptions, RunRecord, SleepRecord, instance, report};
use swe_sleep::git::Repo;

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
    /// Only the N earliest instances (by created_at) of each repository;
    /// `bench mine --limit` keeps the most recent ones it mines.
    #[arg(long, value_name = "N")]
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
    /// Output directory; re-running with the same one resumes (or extends
    /// it: more instances, budgets, arms); a run that asks for less than it
    /// holds is refused, so the report always covers all of it.
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

impl Bars {
    /// Ends the bars' lines: what is printed next starts on a line of its
    /// own, whether the run finished or failed.
    fn end(&self) {
        for b in self.bars.lock().expect("bars").values() {
            if !b.is_finished() {
                b.abandon();
            }
        }
        let _ = self.multi.clear();
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
        let arm = Arm::parse(a)
            .with_context(|| format!("--arms: unknown arm `{a}` (expected sleep or no-sleep)"))?;
        if !arms.contains(&arm) {
            arms.push(arm);
        }
    }
    if args.budgets.is_empty() || args.budgets.contains(&0) {
        bail!("--budgets must be positive token counts");
    }
    // A budget named twice (`--budgets 1000,1000`, or the flag given twice)
    // is run once.
    let mut budgets = args.budgets.clone();
    budgets.sort_unstable();
    budgets.dedup();
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
    // Everything that can be checked is checked before the output
    // directory is touched: a refused run leaves nothing behind.
    let chosen = coverage::select(&instances, args.limit);
    let mut names: Vec<&str> = chosen.iter().map(|i| i.repo.as_str()).collect();
    names.sort();
    names.dedup();
    for name in names {
        let path = repos
            .get(name)
            .with_context(|| format!("no repository given for {name}: pass --repo {name}=PATH"))?;
        Repo::open(path).with_context(|| format!("--repo {name}={}", path.display()))?;
    }
    PolicyFactory::new(policy, &config.llm, None)?;
    let selection = coverage::Selection {
        instances: chosen.iter().map(|i| i.instance_id.clone()).collect(),
        arms: arms.clone(),
        budgets: budgets.clone(),
        sleep_budgets: sleep_budgets.clone(),
    };
    let fresh = !args.out.exists();
    check_existing(&args.out, &selection, (setting, policy, args.steps))?;
    let opts = EvalOptions {
        setting,
        budgets,
        arms,
        steps: args.steps,
        out: args.out.clone(),
        jobs: args.jobs,
        limit: None,
        config,
        dump_candidates: args.dump_candidates,
        policy,
        sleep_budgets,
    };
    let bars = Bars {
        multi: MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::stderr()),
        bars: Mutex::new(HashMap::new()),
    };
    let result = runner::run(&chosen, &repos, &opts, &bars);
    bars.end();
    let (records, sleeps) = match result {
        Ok(r) => r,
        Err(e) => return Err(after_failure(&args, fresh, e)),
    };
    std::fs::write(args.out.join("steps"), args.steps.to_string())
        .with_context(|| format!("writing into {}", args.out.display()))?;
    let rep = report::build(&records, &sleeps, args.t);
    report::write_all(&rep, &args.out)
        .with_context(|| format!("writing the report into {}", args.out.display()))?;
    print!("{}", report::markdown(&rep));
    Ok(())
}

/// Refuses an output directory that holds runs this eval does not ask for
/// (the report covers everything the directory holds), or runs made with
/// another step cap.
fn check_existing(
    out: &Path,
    selection: &coverage::Selection,
    opts: (Setting, PolicyKind, u32),
) -> anyhow::Result<()> {
    let (setting, policy, steps) = opts;
    let held: Vec<RunRecord> = runner::read_lines(&out.join("predictions.jsonl"));
    if held.is_empty() {
        return Ok(());
    }
    let marker = |name: &str| {
        std::fs::read_to_string(out.join(name))
            .ok()
            .map(|s| s.trim().to_string())
    };
    let wanted = format!("{setting:?}").to_lowercase();
    if let Some(found) = marker("setting")
        && found != wanted
    {
        bail!(
            "{} holds a {found} run; give another --out for the {wanted} setting",
            out.display()
        );
    }
    let found = marker("policy").unwrap_or_else(|| PolicyKind::Offline.as_str().to_string());
    if found != policy.as_str() {
        bail!(
            "{} holds runs of the {found} policy; give another --out for {}",
            out.display(),
            policy.as_str()
        );
    }
    if let Some(beyond) = selection.beyond(&held) {
        bail!(
            "{} holds runs this eval does not ask for ({beyond}); its report covers every run it holds, so re-run with the options that made it (to resume, or to extend it) or give another --out",
            out.display()
        );
    }
    if let Ok(found) = std::fs::read_to_string(out.join("steps"))
        && found.trim() != steps.to_string()
    {
        bail!(
            "{} holds runs with --steps {}; re-run with --steps {} or give another --out",
            out.display(),
            found.trim(),
            found.trim()
        );
    }
    Ok(())
}

/// After a failed run: a directory this run created and filled with no
/// finished run is removed; one that holds runs gets a report of exactly
/// those, and the error says how to resume.
fn after_failure(args: &EvalArgs, fresh: bool, e: runner::EvalError) -> anyhow::Error {
    let held: Vec<RunRecord> = runner::read_lines(&args.out.join("predictions.jsonl"));
    if held.is_empty() {
        if fresh && let Err(rm) = std::fs::remove_dir_all(&args.out) {
            eprintln!("warning: cannot remove {}: {rm}", args.out.display());
        }
        return anyhow::Error::new(e).context("eval failed before any run finished");
    }
    let _ = std::fs::write(args.out.join("steps"), args.steps.to_string());
    let sleeps: Vec<SleepRecord> = runner::read_lines(&args.out.join("sleep.jsonl"));
    let rep = report::build(&held, &sleeps, args.t);
    let written = report::write_all(&rep, &args.out).is_ok();
    anyhow::Error::new(e).context(format!(
        "eval stopped after {} runs; they are kept in {}{}, and the same command resumes",
        held.len(),
        args.out.display(),
        if written {
            " with a report of exactly those"
        } else {
            ""
        }
    ))
}
