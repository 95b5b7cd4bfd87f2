//! `swe-sleep predict`: which existing files will a request modify?

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;

use swe_sleep::agent::predict::{Query, QueryError, predict_raw, predict_sleep};
use swe_sleep::agent::raw_tools::RawTools;
use swe_sleep::agent::{PolicyFactory, PolicyKind};

use swe_sleep::notebook::{Notebook, Target};
use swe_sleep::sleep::{self, LearnOptions};

/// Replay time an automatic sleep before a prediction may spend.
const AUTO_REPLAY: std::time::Duration = std::time::Duration::from_secs(30);

use super::render::{describe, describe_answer};
use super::{RepoArgs, print_json, progress::Bars};

#[derive(Debug, Args)]
pub struct PredictArgs {
    /// The request: a pull-request title, a blank line, and its description.
    pub request: Option<String>,
    /// Read the request from a file ("-" for stdin).
    #[arg(long)]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub repo: RepoArgs,
    /// Revision the request applies to (default: the notebook's, or HEAD).
    #[arg(long)]
    pub rev: Option<String>,
    /// Test-time token budget (default: agent.budget from the config, 4000
    /// unless set there).
    #[arg(long)]
    pub budget: Option<u64>,
    /// Step cap: tool calls at most (default: agent.steps from the config,
    /// 12 unless set there).
    #[arg(long)]
    pub steps: Option<u32>,
    /// Use nothing precomputed: the tools read the raw repository.
    #[arg(long)]
    pub no_sleep: bool,
    /// offline (deterministic, no model), llm (a model calls the tools;
    /// needs [llm.test]) or llm-rerank (one model call reranks the offline
    /// candidates).
    #[arg(long, default_value = "offline")]
    pub policy: String,
    /// Print one JSON object (schema in docs/predict-json.md), with the full trace.
    #[arg(long)]
    pub json: bool,
    /// Work standalone even when a daemon serves this repository.
    #[arg(long)]
    pub standalone: bool,
}

pub fn run(args: PredictArgs) -> anyhow::Result<()> {
    let request = match (&args.request, &args.file) {
        (Some(r), None) => r.clone(),
        (None, Some(f)) if f.as_os_str() == "-" => {
            std::io::read_to_string(std::io::stdin()).context("reading the request from stdin")?
        }
        (None, Some(f)) => std::fs::read_to_string(f)
            .with_context(|| format!("reading the request from {}", f.display()))?,
        (Some(_), Some(_)) => {
            bail!("give the request either as an argument or with --file, not both")
        }
        (None, None) => bail!("no request: give it as an argument or with --file"),
    };
    let (repo, config, state_dir) = args.repo.open()?;
    let budget = args.budget.unwrap_or(config.agent.budget);
    let steps = args.steps.unwrap_or(config.agent.steps);
    let query = Query::new(request.clone(), budget, steps).map_err(|e| match e {
        QueryError::ZeroBudget => anyhow::anyhow!("--budget: {e}"),
        other => anyhow::anyhow!("{other}"),
    })?;
    let kind = PolicyKind::parse(&args.policy).with_context(|| {
        format!(
            "--policy: unknown policy `{}` (expected offline, llm or llm-rerank)",
            args.policy
        )
    })?;
    // A running daemon answers offline predictions from its open notebook.
    if kind == PolicyKind::Offline
        && !args.no_sleep
        && !args.standalone
        && args.rev.is_none()
        && let Some(answer) = ask_daemon(&state_dir, &request, budget, steps)
    {
        if args.json {
            return print_json(&answer);
        }
        print!("{}", describe_answer(&answer));
        return Ok(());
    }
    let factory = PolicyFactory::new(kind, &config.llm, Some(&state_dir))?;
    let mut policy = factory.make(Some(&state_dir))?;
    let policy = policy.as_mut();
    let prediction = if args.no_sleep {
        let rev = args.rev.clone().unwrap_or_else(|| "HEAD".into());
        let commit = repo.resolve(&rev)?;
        let mut tools = RawTools::new(&repo, commit, &config);
        predict_raw(&query, policy, &mut tools)
    } else {
        // Another revision gets a notebook of its own: the work tree's stays.
        let nb_dir = swe_sleep::notebook::kept::state_dir_for(
            &repo,
            &state_dir,
            args.rev.as_deref(),
            config.index.keep_revisions,
        )?;
        let (nb, notes) = ensure_notebook(&repo, &nb_dir, &config, args.rev.as_deref(), args.json)?;
        let mut p = predict_sleep(&query, policy, &nb, Some(&repo), None, &config).map_err(|e| {
            if e.is_damage() {
                anyhow::anyhow!(
                    "{e}: the notebook is damaged; `swe-sleep sleep` sets it aside and rebuilds it"
                )
            } else {
                anyhow::anyhow!("a notebook query failed: {e}")
            }
        })?;
        p.notes.extend(notes);
        p
    };
    if args.json {
        print_json(&prediction)
    } else {
        print!("{}", describe(&prediction));
        Ok(())
    }
}

/// Opens the notebook, sleeping first when it is missing, damaged, not at
/// `rev`, or behind the work tree. When that sleep fails but an older
/// snapshot still reads, the answer comes from it, with a note saying so.
fn ensure_notebook(
    repo: &swe_sleep::git::Repo,
    state_dir: &std::path::Path,
    config: &swe_sleep::config::Config,
    rev: Option<&str>,
    quiet: bool,
) -> anyhow::Result<(Notebook, Vec<String>)> {
    // The commit the prediction is for: --rev, else HEAD. A notebook built
    // for another commit is stale and is brought up to date first; without
    // --rev a work-tree notebook at the same HEAD is current unless the
    // work tree changed since.
    let wanted = match rev {
        Some(r) => repo.resolve(r)?,
        None => repo.resolve("HEAD")?,
    }
    .to_string();
    let existing = match Notebook::open(state_dir) {
        Ok(nb) => nb,
        Err(e) if e.is_damage() => {
            eprintln!("{e}: rebuilding it");
            None
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(nb) = &existing {
        let same_commit = nb.info.commit.as_deref() == Some(wanted.as_str());
        if same_commit && rev.is_none() && nb.info.worktree && repo.work_dir().is_some() {
            // Uncommitted edits since the build: an incremental sleep reads
            // only what changed.
            let drift = nb.worktree_drift(repo, state_dir, config)?;
            match drift.sentence() {
                None => return Ok((existing.expect("checked above"), Vec::new())),
                Some(sentence) => eprintln!("{sentence}: sleeping first"),
            }
        } else if same_commit && (rev.is_none() || !nb.info.worktree) {
            return Ok((existing.expect("checked above"), Vec::new()));
        } else {
            eprintln!(
                "the notebook is for {}, not {}: sleeping first",
                nb.info
                    .commit
                    .as_deref()
                    .map_or("no commit", |c| &c[..12.min(c.len())]),
                &wanted[..12]
            );
        }
    } else {
        eprintln!("no notebook for this revision yet: sleeping first");
    }
    let target = match (rev, repo.work_dir()) {
        (Some(r), _) => Target::Rev(r.to_string()),
        (None, Some(_)) => Target::WorkTree,
        (None, None) => Target::Rev("HEAD".into()),
    };
    let bars = Bars::new(!quiet);
    // Learning takes a bounded slice here; `swe-sleep sleep` or the daemon
    // replays the rest.
    let learn = LearnOptions::from_config(config).with_time_limit(AUTO_REPLAY);
    match sleep::run_offline(repo, state_dir, &target, config, &learn, &bars) {
        Ok(outcome) => {
            eprintln!("{}", super::render::sleep_line(&outcome.index));
            if let Some(aside) = &outcome.index.healed {
                eprintln!("the damaged notebook was set aside as {aside} and rebuilt");
            }
            if let Some(l) = &outcome.after.learn {
                eprintln!("{}", super::sleep::learn_summary(l));
            }
            for e in &outcome.after.errors {
                eprintln!("warning: {e}");
            }
        }
        Err(e) => {
            let Some(nb) = existing else {
                return Err(e).context("sleeping before the prediction");
            };
            let e = super::error_text(&anyhow::Error::new(e));
            eprintln!(
                "warning: the notebook could not be updated ({e}); answering from the last good snapshot"
            );
            let note = format!(
                "the notebook could not be updated ({e}); this answer comes from the last good snapshot ({})",
                nb.info
                    .commit
                    .as_deref()
                    .map_or("the work tree", |c| &c[..12.min(c.len())])
            );
            return Ok((nb, vec![note]));
        }
    }
    drop(existing);
    let nb = Notebook::open(state_dir)?.context("the notebook is missing right after sleeping")?;
    Ok((nb, Vec::new()))
}

/// The answer of a daemon serving `state_dir`, if one runs and answers;
/// a daemon that cannot answer is reported on stderr and skipped.
fn ask_daemon(
    state_dir: &std::path::Path,
    request: &str,
    budget: u64,
    steps: u32,
) -> Option<serde_json::Value> {
    let daemon = swe_sleep::daemon::client::find(state_dir)?;
    let body = serde_json::json!({ "request": request, "budget": budget, "steps": steps });
    match daemon.post("/predict", &body, std::time::Duration::from_secs(60)) {
        Ok(v) => Some(v),
        Err(e) => {
            eprintln!(
                "the daemon (pid {}) did not answer, working standalone: {e}",
                daemon.pid
            );
            None
        }
    }
}
