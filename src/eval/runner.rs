//! Runs a benchmark: for each repository, instances in time order; for each
//! instance, bring the notebook to `base_commit` (incrementally), run the
//! agent at every budget in every arm, score, and append one line per run to
//! `predictions.jsonl`. Re-running with the same output directory resumes.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::agent::predict::{Query, predict_raw, predict_sleep};
use crate::agent::raw_tools::RawTools;
use crate::agent::{ModelUse, PolicyFactory, PolicyKind};
use crate::config::Config;
use crate::git::Repo;
use crate::notebook::{self, NoProgress, Notebook, Target};
use crate::sleep::LearnOptions;

/// What replay cost before one instance.
#[derive(Debug, Default)]
struct LearnRecord {
    replayed: usize,
    tokens: u64,
    seconds: f64,
}

use super::context::{digest_context_with, pr_inputs, raw_context_of};
use super::instance::Instance;
use super::score::{Prf, score};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Arm {
    Sleep,
    NoSleep,
}

impl Arm {
    pub fn as_str(self) -> &'static str {
        match self {
            Arm::Sleep => "sleep",
            Arm::NoSleep => "no-sleep",
        }
    }

    pub fn parse(s: &str) -> Option<Arm> {
        match s {
            "sleep" => Some(Arm::Sleep),
            "no-sleep" | "nosleep" => Some(Arm::NoSleep),
            _ => None,
        }
    }
}

/// What the predictor is given besides the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Setting {
    /// The repository at `base_commit` and all history before it.
    Daemon,
    /// The repository at `base_commit` and the instance's `context_prs`
    /// (no other history), as in the paper.
    Paper,
}

impl Setting {
    pub fn parse(s: &str) -> Option<Setting> {
        match s {
            "daemon" => Some(Setting::Daemon),
            "paper" => Some(Setting::Paper),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct EvalOptions {
    pub setting: Setting,
    pub budgets: Vec<u64>,
    pub arms: Vec<Arm>,
    pub steps: u32,
    pub out: PathBuf,
    pub jobs: usize,
    pub limit: Option<usize>,
    pub config: Config,
    /// Also write each run's candidates with their evidence to
    /// `candidates.jsonl` (for calibration).
    pub dump_candidates: bool,
    /// The policy of every run; model-driven ones use `config.llm.test`.
    pub policy: PolicyKind,
    /// Sleep budgets of the sleep arm: past pull requests replayed and
    /// learned from before each instance (0: no learning, the default
    /// calibration). Each is a sleep-arm variant of its own.
    pub sleep_budgets: Vec<usize>,
}

/// One line of `predictions.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRecord {
    pub instance_id: String,
    pub repo: String,
    pub arm: Arm,
    pub budget: u64,
    pub predicted: Vec<String>,
    pub gold: Vec<String>,
    #[serde(flatten)]
    pub prf: Prf,
    pub tokens: u64,
    pub steps: u32,
    pub wall_ms: f64,
    /// A model-driven policy's calls and billed usage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelUse>,
    /// The sleep arm's sleep budget (past PRs replayed and learned from);
    /// `None` for the no-sleep arm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sleep_budget: Option<usize>,
    /// Whether the learned ranker chose the set (sleep arm).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub learned: bool,
}

#[cfg(test)]
impl RunRecord {
    /// A record of `o/r` with precision, recall and F1 all `f1` (the sleep
    /// arm at sleep budget 0), for the report's unit tests.
    pub(crate) fn scored(id: &str, arm: Arm, budget: u64, f1: f64) -> RunRecord {
        RunRecord {
            instance_id: id.into(),
            repo: "o/r".into(),
            arm,
            budget,
            predicted: vec![],
            gold: vec![],
            prf: super::score::Prf {
                precision: f1,
                recall: f1,
                f1,
            },
            tokens: 0,
            steps: 0,
            wall_ms: 0.0,
            model: None,
            sleep_budget: (arm == Arm::Sleep).then_some(0),
            learned: false,
        }
    }
}

/// One line of `sleep.jsonl`: the sleep before an instance.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SleepRecord {
    pub instance_id: String,
    pub repo: String,
    pub base_commit: String,
    pub sleep_tokens: u64,
    pub sleep_seconds: f64,
    pub blobs_new: usize,
    pub commits_mined: usize,
    /// The sleep-time model's usage for this instance (paper setting: the
    /// digests of its related PRs), when one is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_usage: Option<crate::llm::Usage>,
    /// Past pull requests replayed before this instance (the others were
    /// replayed before earlier instances), and what that cost: tokens read
    /// by the replay sleeps plus tokens the replayed runs read.
    #[serde(default)]
    pub replayed: usize,
    #[serde(default)]
    pub replay_tokens: u64,
    #[serde(default)]
    pub replay_seconds: f64,
}

/// Progress per repository (the CLI draws bars).
pub trait EvalProgress: Sync {
    fn repo_started(&self, repo: &str, instances: usize);
    fn instance_done(&self, repo: &str);
    fn repo_finished(&self, repo: &str);
}

/// Appends JSON lines, one writer shared by the workers.
struct Sink {
    file: Mutex<std::fs::File>,
}

impl Sink {
    fn open(path: &Path) -> std::io::Result<Sink> {
        // A run killed mid-write leaves a partial last line; cut it off so
        // the next record does not glue onto it (its run is redone).
        if let Ok(bytes) = std::fs::read(path) {
            if bytes.last().is_some_and(|b| *b != b'\n') {
                let keep = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(path)?
                    .set_len(keep as u64)?;
            }
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(Sink {
            file: Mutex::new(file),
        })
    }

    fn write<T: Serialize>(&self, value: &T) -> std::io::Result<()> {
        let mut line = serde_json::to_string(value).map_err(std::io::Error::other)?;
        line.push('\n');
        let mut f = self.file.lock().expect("sink lock");
        f.write_all(line.as_bytes())?;
        f.flush()
    }
}

/// Reads the JSON lines of `path` that parse (a line cut by a kill is ignored).
pub fn read_lines<T: for<'de> Deserialize<'de>>(path: &Path) -> Vec<T> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("no repository given for {0}: pass --repo {0}=PATH")]
    MissingRepo(String),
    #[error("cannot write to {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{repo}: {message}")]
    Repo { repo: String, message: String },
}

/// Runs every instance; returns all records (old ones included when resuming).
pub fn run(
    instances: &[Instance],
    repos: &HashMap<String, PathBuf>,
    opts: &EvalOptions,
    progress: &dyn EvalProgress,
) -> Result<(Vec<RunRecord>, Vec<SleepRecord>), EvalError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| EvalError::Io { path, source }
    };
    std::fs::create_dir_all(&opts.out).map_err(io(&opts.out))?;
    // Records of one output directory must come from one setting.
    let marker = opts.out.join("setting");
    let wanted = format!("{:?}", opts.setting).to_lowercase();
    match std::fs::read_to_string(&marker) {
        Ok(found) if found.trim() != wanted => {
            return Err(EvalError::Repo {
                repo: opts.out.display().to_string(),
                message: format!(
                    "this output directory holds a {} run; use another --out for the {wanted} setting",
                    found.trim()
                ),
            });
        }
        Ok(_) => {}
        Err(_) => std::fs::write(&marker, &wanted).map_err(io(&marker))?,
    }
    // Likewise one policy (directories from before policies were recorded
    // hold offline runs).
    let marker = opts.out.join("policy");
    let wanted = opts.policy.as_str();
    let found = std::fs::read_to_string(&marker).ok();
    let has_runs = opts.out.join("predictions.jsonl").is_file();
    match found.as_deref().map(str::trim) {
        Some(f) if f != wanted => {
            return Err(EvalError::Repo {
                repo: opts.out.display().to_string(),
                message: format!(
                    "this output directory holds runs of the {f} policy; use another --out for {wanted}"
                ),
            });
        }
        None if has_runs && opts.policy != PolicyKind::Offline => {
            return Err(EvalError::Repo {
                repo: opts.out.display().to_string(),
                message: format!(
                    "this output directory holds runs of the offline policy; use another --out for {wanted}"
                ),
            });
        }
        Some(_) => {}
        None => std::fs::write(&marker, wanted).map_err(io(&marker))?,
    }
    let factory =
        PolicyFactory::new(opts.policy, &opts.config.llm, None).map_err(|e| EvalError::Repo {
            repo: opts.out.display().to_string(),
            message: e.to_string(),
        })?;
    let pred_path = opts.out.join("predictions.jsonl");
    let sleep_path = opts.out.join("sleep.jsonl");
    let done: HashSet<RunKey> = read_lines::<RunRecord>(&pred_path)
        .into_iter()
        .map(|r| (r.instance_id, r.arm, r.budget, r.sleep_budget))
        .collect();
    let preds = Sink::open(&pred_path).map_err(io(&pred_path))?;
    let cand_path = opts.out.join("candidates.jsonl");
    let cands = if opts.dump_candidates {
        Some(Sink::open(&cand_path).map_err(io(&cand_path))?)
    } else {
        None
    };
    let sleeps = Sink::open(&sleep_path).map_err(io(&sleep_path))?;

    let mut by_repo: HashMap<&str, Vec<&Instance>> = HashMap::new();
    for i in instances {
        by_repo.entry(i.repo.as_str()).or_default().push(i);
    }
    let mut groups: Vec<(&str, Vec<&Instance>)> = by_repo.into_iter().collect();
    groups.sort_by_key(|(r, list)| (std::cmp::Reverse(list.len()), r.to_string()));
    for (name, list) in &mut groups {
        if !repos.contains_key(*name) {
            return Err(EvalError::MissingRepo(name.to_string()));
        }
        list.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then(a.instance_id.cmp(&b.instance_id))
        });
        if let Some(n) = opts.limit {
            list.truncate(n);
        }
    }
    let queue = Mutex::new(groups.into_iter());
    let failure: Mutex<Option<EvalError>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..opts.jobs.max(1) {
            s.spawn(|| {
                loop {
                    let next = queue.lock().expect("queue lock").next();
                    let Some((name, list)) = next else { break };
                    let sinks = Sinks {
                        preds: &preds,
                        sleeps: &sleeps,
                        cands: cands.as_ref(),
                        policies: &factory,
                    };
                    let r = run_repo(name, &repos[name], &list, opts, &done, &sinks, progress);
                    if let Err(e) = r {
                        failure.lock().expect("failure lock").get_or_insert(e);
                        break;
                    }
                }
            });
        }
    });
    if let Some(e) = failure.into_inner().expect("failure lock") {
        return Err(e);
    }
    Ok((read_lines(&pred_path), read_lines(&sleep_path)))
}

/// What identifies a run: instance, arm, budget, sleep budget.
type RunKey = (String, Arm, u64, Option<usize>);

struct Sinks<'a> {
    preds: &'a Sink,
    sleeps: &'a Sink,
    cands: Option<&'a Sink>,
    /// Builds each run's policy (one provider connection for all).
    policies: &'a PolicyFactory,
}

fn run_repo(
    name: &str,
    path: &Path,
    list: &[&Instance],
    opts: &EvalOptions,
    done: &HashSet<RunKey>,
    sinks: &Sinks<'_>,
    progress: &dyn EvalProgress,
) -> Result<(), EvalError> {
    let factory = sinks.policies;
    let (preds, sleeps) = (sinks.preds, sinks.sleeps);
    let repo_err = |message: String| EvalError::Repo {
        repo: name.to_string(),
        message,
    };
    let repo = Repo::open(path).map_err(|e| repo_err(e.to_string()))?;
    let state = opts.out.join("state").join(name.replace('/', "+"));
    progress.repo_started(name, list.len());
    for inst in list {
        let sleep_budgets: Vec<Option<usize>> =
            opts.sleep_budgets.iter().map(|b| Some(*b)).collect();
        let todo: Vec<(Arm, u64, Option<usize>)> = opts
            .arms
            .iter()
            .flat_map(|a| {
                let sbs = match a {
                    Arm::Sleep => sleep_budgets.clone(),
                    Arm::NoSleep => vec![None],
                };
                opts.budgets
                    .iter()
                    .flat_map(move |b| sbs.clone().into_iter().map(move |sb| (*a, *b, sb)))
            })
            .filter(|(a, b, sb)| !done.contains(&(inst.instance_id.clone(), *a, *b, *sb)))
            .collect();
        if todo.is_empty() {
            progress.instance_done(name);
            continue;
        }
        let base = match repo.resolve(&inst.base_commit) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(instance = %inst.instance_id, "skipping: {e}");
                progress.instance_done(name);
                continue;
            }
        };
        let query = inst.query();
        let gold = inst.gold();
        let paper = opts.setting == Setting::Paper;
        // Paper setting: the related PRs as text. The no-sleep arm reads it
        // raw at test time; at sleep time it is read once to write the digest.
        let prs = if paper {
            pr_inputs(&repo, inst)
        } else {
            Vec::new()
        };
        let raw_ctx = raw_context_of(&prs);
        let mut nb = None;
        let mut digest = String::new();
        let mut learn = LearnRecord::default();
        if todo.iter().any(|(a, _, _)| *a == Arm::Sleep) {
            let sleep_started = Instant::now();
            let mut report = notebook::sleep(
                &repo,
                &state,
                &Target::Rev(inst.base_commit.clone()),
                &opts.config,
                &NoProgress,
            )
            .map_err(|e| repo_err(format!("sleeping at {}: {e}", inst.base_commit)))?;
            // Embeddings of what is new at this base (nothing without
            // `[embeddings] model_dir`); their cost is sleep time.
            if let Some(e) = crate::sleep::embed::embed(&state, &opts.config, None, &NoProgress)
                .map_err(|e| repo_err(format!("embedding at {}: {e}", inst.base_commit)))?
            {
                tracing::debug!(
                    instance = %inst.instance_id,
                    files = e.files_embedded,
                    prs = e.prs_embedded,
                    tokens = e.tokens,
                    seconds = e.seconds,
                    pending = e.pending,
                    "embedded"
                );
            }
            let opened = Notebook::open(&state)
                .map_err(|e| repo_err(e.to_string()))?
                .ok_or_else(|| repo_err("notebook missing after sleep".into()))?;
            let mut model_usage = None;
            if paper {
                // The sleep-time model's digests, where it writes them; the
                // offline digest for the rest. Never fails the run.
                let model = match crate::sleep::digest::digest_prs(&state, &opts.config, &prs) {
                    Ok(Some(crate::sleep::digest::Digests { texts, report: r })) => {
                        if let Some(why) = &r.stopped {
                            tracing::warn!(instance = %inst.instance_id, "model digests stopped: {why}");
                        }
                        model_usage = Some(r.usage);
                        texts
                    }
                    Ok(None) => Vec::new(),
                    Err(e) => {
                        tracing::warn!(instance = %inst.instance_id, "model digests skipped: {e}");
                        Vec::new()
                    }
                };
                digest = digest_context_with(&opened, inst, &model);
            }
            // Anticipated requests of this snapshot (computed from it
            // alone, keyed by it), when a sleep-time model is configured.
            match crate::sleep::anticipate::anticipate(&repo, &state, &opts.config) {
                Ok(Some(r)) => {
                    let u = model_usage.get_or_insert_with(crate::llm::Usage::default);
                    u.add(&r.usage);
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(instance = %inst.instance_id, "anticipated requests skipped: {e}")
                }
            }
            // Replay the past PRs the largest sleep budget asks for (each
            // once for the whole run; later instances reuse them).
            let most = opts.sleep_budgets.iter().copied().max().unwrap_or(0);
            if most > 0 {
                let l = crate::sleep::learn::learn(
                    &repo,
                    &state,
                    &opts.config,
                    &LearnOptions {
                        max_prs: most,
                        time_limit: None,
                    },
                    &NoProgress,
                )
                .map_err(|e| repo_err(format!("learning at {}: {e}", inst.base_commit)))?;
                learn = LearnRecord {
                    replayed: l.replayed,
                    tokens: l.replay_tokens,
                    seconds: l.replay_seconds,
                };
            }
            report.seconds = sleep_started.elapsed().as_secs_f64() - learn.seconds;
            sleeps
                .write(&SleepRecord {
                    instance_id: inst.instance_id.clone(),
                    repo: name.to_string(),
                    base_commit: inst.base_commit.clone(),
                    sleep_tokens: report.sleep_tokens + crate::tokens::count(&raw_ctx),
                    sleep_seconds: report.seconds,
                    blobs_new: report.blobs_new,
                    commits_mined: report.commits_mined,
                    model_usage,
                    replayed: learn.replayed,
                    replay_tokens: learn.tokens,
                    replay_seconds: learn.seconds,
                })
                .map_err(|e| repo_err(e.to_string()))?;
            nb = Some(opened);
        }
        let mut raw: Option<RawTools> = None;
        let mut fitted_for: Option<usize> = None;
        let mut todo = todo;
        // Runs of one sleep budget together: one fit each.
        todo.sort_by_key(|(a, b, sb)| (*sb, *a == Arm::NoSleep, *b));
        for (arm, budget, sleep_budget) in todo {
            if let Some(sb) = sleep_budget
                && fitted_for != Some(sb)
            {
                // The ranker for this sleep budget: the sb most recent
                // replayed PRs before the base (replayed above).
                crate::sleep::learn::learn(
                    &repo,
                    &state,
                    &opts.config,
                    &LearnOptions {
                        max_prs: sb,
                        time_limit: Some(std::time::Duration::ZERO),
                    },
                    &NoProgress,
                )
                .map_err(|e| repo_err(format!("fitting at {}: {e}", inst.base_commit)))?;
                fitted_for = Some(sb);
            }
            let mut policy = factory
                .make(Some(&state))
                .map_err(|e| repo_err(e.to_string()))?;
            let policy = policy.as_mut();
            let t = Instant::now();
            let asked = Query::new(query.clone(), budget, opts.steps)
                .map_err(|e| repo_err(format!("{}: {e}", inst.instance_id)))?;
            let prediction = match arm {
                Arm::Sleep => {
                    let nb = nb.as_ref().expect("slept above");
                    predict_sleep(
                        &asked.with_context(digest.clone()),
                        policy,
                        nb,
                        Some(&repo),
                        None,
                        &opts.config,
                    )
                    .map_err(|e| {
                        repo_err(format!(
                            "{}: a notebook query failed: {e}",
                            inst.instance_id
                        ))
                    })?
                }
                Arm::NoSleep => {
                    let tools = raw.get_or_insert_with(|| RawTools::new(&repo, base, &opts.config));
                    tools.reset_run_clock();
                    predict_raw(&asked.with_context(raw_ctx.clone()), policy, tools)
                }
            };
            let mut wall = t.elapsed().as_secs_f64();
            if arm == Arm::NoSleep {
                // Later budgets reuse the scans of the first; charge them the
                // scan time measured when it was paid.
                wall += raw.as_ref().map_or(0.0, |r| r.reused_seconds());
            }
            let predicted: Vec<String> = prediction.files.iter().map(|f| f.path.clone()).collect();
            let learned = arm == Arm::Sleep
                && prediction
                    .notes
                    .iter()
                    .any(|n| n.starts_with("ranked by this repository's learned model"));
            let record = RunRecord {
                instance_id: inst.instance_id.clone(),
                repo: name.to_string(),
                arm,
                budget,
                prf: score(&predicted, &gold),
                predicted,
                gold: gold.clone(),
                tokens: prediction.tokens_used,
                steps: prediction.steps,
                wall_ms: wall * 1000.0,
                model: prediction.model.clone(),
                sleep_budget,
                learned,
            };
            preds.write(&record).map_err(|e| repo_err(e.to_string()))?;
            if let Some(c) = sinks.cands {
                let line = serde_json::json!({
                    "instance_id": record.instance_id, "repo": name, "arm": arm, "budget": budget, "sleep_budget": sleep_budget,
                    "gold": record.gold, "explain": prediction.explain,
                });
                c.write(&line).map_err(|e| repo_err(e.to_string()))?;
            }
        }
        progress.instance_done(name);
    }
    progress.repo_finished(name);
    Ok(())
}
