//! The learning pass: replay the snapshot's past pull requests as training
//! queries, then fit this repository's ranker.
//!
//! Each past PR (merge or squash commit with a number, newest first) is
//! replayed at its base: a separate replay notebook (`replay/` in the
//! state directory) is brought to the PR's first parent with an ordinary
//! incremental sleep, so its code, cards and history are exactly what
//! test time would have seen then, and nothing from the PR itself or
//! after it. The offline policy with the default calibration runs on the
//! PR's title and body at each replay budget; what it read about every
//! candidate, with the files the PR modified, is one example, stored in
//! the main notebook under the PR's commit. Replay is incremental and
//! resumable: a stored example is never replayed again, so a new merged
//! PR costs one more replay. The fit (milliseconds) reads the examples of
//! the snapshot's own history and is stored for the snapshot.

use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use crate::agent::OfflinePolicy;
use crate::agent::dense::{DenseError, DenseIndex};
use crate::agent::offline::Calibration;
use crate::agent::request::request_text;
use crate::agent::run;
use crate::agent::sleep_tools::NotebookTools;
use crate::config::Config;
use crate::git::{GitError, Repo, request_body};
use crate::learn::{self, Example, FEATURE_VERSION, FitReport, TrainOptions};
use crate::notebook::learn_store::{Learned, PastPr};
use crate::notebook::{
    self, Integrity, NoProgress, Notebook, NotebookError, Progress, Store, Target,
};

/// Why one past PR could not be replayed.
#[derive(Debug, thiserror::Error)]
enum ReplayError {
    #[error(transparent)]
    Notebook(#[from] NotebookError),
    #[error(transparent)]
    Embed(#[from] super::embed::EmbedPassError),
    #[error(transparent)]
    Dense(#[from] DenseError),
    #[error(transparent)]
    Git(#[from] GitError),
}

impl From<crate::notebook::StoreError> for ReplayError {
    fn from(e: crate::notebook::StoreError) -> Self {
        ReplayError::Notebook(NotebookError::Store(e))
    }
}

/// Where the replay notebook lives inside a state directory.
pub const REPLAY_DIR: &str = "replay";

/// What the learning pass did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LearnReport {
    /// Past PRs the budget allowed and the snapshot's history holds.
    pub prs: usize,
    /// Replayed now, already replayed before, failed (and skipped), and
    /// left for a later sleep (the time limit).
    pub replayed: usize,
    pub reused: usize,
    pub failed: usize,
    pub pending: usize,
    pub replay_seconds: f64,
    /// Sleep-time tokens the replay read: content the replay sleeps read
    /// plus what the replayed runs read through their tools.
    pub replay_tokens: u64,
    pub fit: Option<FitReport>,
    /// Whether predictions on this snapshot use the learned ranker.
    pub used: bool,
}

/// How much to learn.
#[derive(Debug, Clone)]
pub struct LearnOptions {
    /// The sleep budget: the most recent past PRs to replay and train on.
    pub max_prs: usize,
    /// Stop replaying new PRs after this long (the rest wait for the next
    /// sleep, which resumes); `None` for no limit. The fit always runs.
    pub time_limit: Option<std::time::Duration>,
}

impl LearnOptions {
    /// The configured sleep budget, without a time limit.
    pub fn from_config(cfg: &Config) -> LearnOptions {
        LearnOptions {
            max_prs: cfg.learn.replay_prs,
            time_limit: None,
        }
    }

    pub fn with_time_limit(mut self, limit: std::time::Duration) -> LearnOptions {
        self.time_limit = Some(limit);
        self
    }
}

/// Whether a past PR is like the requests answered (and so replayed and
/// trained on): enough modified and source files.
fn qualifies(cfg: &Config, modified: usize, source_changed: usize) -> bool {
    modified >= cfg.learn.min_modified && source_changed >= cfg.learn.min_source
}

/// Identifies how examples were made: stored examples with another
/// signature are replayed again.
pub fn signature(cfg: &Config) -> String {
    let cal = format!("{:?}", Calibration::default());
    let mut h: u64 = 0xcbf29ce484222325;
    for b in cal.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x100000001b3);
    }
    // With embeddings the examples hold the dense lists: another model
    // (directory or cap) makes other examples.
    let embeddings = match cfg.embeddings.model_dir() {
        Some(dir) => {
            let mut e: u64 = 0xcbf29ce484222325;
            for b in dir.to_string_lossy().bytes() {
                e = (e ^ b as u64).wrapping_mul(0x100000001b3);
            }
            format!("-e{e:016x}t{}", cfg.embeddings.max_tokens)
        }
        None => String::new(),
    };
    format!(
        "v{FEATURE_VERSION}-b{}-s{}-f{}-c{h:016x}{embeddings}",
        cfg.learn
            .replay_budgets
            .iter()
            .map(|b| b.to_string())
            .collect::<Vec<_>>()
            .join(","),
        cfg.agent.steps,
        cfg.history.max_commit_files,
    )
}

/// Replays what `opts` allows, then fits and stores the ranker for the
/// snapshot now in `state_dir`. Nothing to do without a notebook.
pub fn learn(
    repo: &Repo,
    state_dir: &Path,
    cfg: &Config,
    opts: &LearnOptions,
    progress: &dyn Progress,
) -> Result<LearnReport, NotebookError> {
    let mut report = LearnReport::default();
    let Some(nb) = Notebook::open(state_dir)? else {
        return Ok(report);
    };
    let sig = signature(cfg);
    let store = Store::open(state_dir)?;
    if opts.max_prs > 0 && !cfg.learn.replay_budgets.is_empty() {
        // Only PRs like the requests answered are trained on, so only they
        // are replayed (the rest would cost a sleep each and teach nothing).
        let past: Vec<PastPr> = nb
            .past_prs(cfg.history.max_commit_files)?
            .into_iter()
            .filter(|p| qualifies(cfg, p.modified.len(), p.source_changed))
            .take(opts.max_prs)
            .collect();
        report.prs = past.len();
        let done = store.replayed(&sig, cfg.learn.replay_budgets.len())?;
        let todo: Vec<&PastPr> = past.iter().filter(|p| !done.contains(&p.commit)).collect();
        report.reused = past.len() - todo.len();
        let started = Instant::now();
        if !todo.is_empty() {
            progress.start("replaying past pull requests", todo.len() as u64);
            let replay_dir = state_dir.join(REPLAY_DIR);
            for (i, pr) in todo.iter().enumerate() {
                if opts.time_limit.is_some_and(|l| started.elapsed() >= l) {
                    report.pending = todo.len() - i;
                    break;
                }
                // The replay notebook is checked by the first replay of this
                // run; the rest trust it (only this loop writes it).
                let integrity = if i == 0 {
                    Integrity::Check
                } else {
                    Integrity::Checked
                };
                match replay_one(repo, state_dir, &replay_dir, cfg, pr, integrity) {
                    Ok((examples, tokens)) => {
                        report.replay_tokens += tokens;
                        for (budget, e) in &examples {
                            store.put_example(&sig, *budget, e)?;
                        }
                        report.replayed += 1;
                    }
                    Err(e) => {
                        tracing::warn!(
                            "replaying {} failed, skipped: {e}",
                            pr.pr.map_or(pr.commit.clone(), |n| format!("#{n}"))
                        );
                        report.failed += 1;
                    }
                }
                progress.inc(1);
            }
            progress.finish();
        }
        report.replay_seconds = started.elapsed().as_secs_f64();
    }
    // Nothing new to learn from and a fit for this snapshot already stored
    // with the same examples and budget: keep it (a sleep with nothing new
    // writes nothing).
    if report.replayed == 0
        && let Some(existing) = nb.learned()?
        && existing.signature == sig
        && existing.budget_prs == opts.max_prs
        && existing.report.model_version == learn::MODEL_VERSION
    {
        report.used = existing.ranker.is_some() || existing.search.is_some();
        report.fit = Some(existing.report);
        return Ok(report);
    }
    let examples = nb.examples(&sig, opts.max_prs, &|e: &Example| {
        qualifies(cfg, e.gold.len(), e.source_changed)
    })?;
    let train = TrainOptions {
        min_prs: cfg.learn.min_prs,
        max_files: cfg.learn.max_files,
        min_modified: cfg.learn.min_modified,
        min_source: cfg.learn.min_source,
        search: cfg.learn.search,
        choose: cfg.learn.choose,
        ..TrainOptions::default()
    };
    let trained = learn::train(&examples, &train);
    let fit = trained.report;
    report.used = trained.ranker.is_some() || trained.search.is_some();
    store.put_learned(
        &nb.snapshot_key(),
        &Learned {
            ranker: trained.ranker,
            search: trained.search,
            report: fit.clone(),
            signature: sig,
            budget_prs: opts.max_prs,
        },
    )?;
    report.fit = Some(fit);
    Ok(report)
}

/// What a replayed PR asks: its title and its body as a request written
/// before the work would read ([`crate::git::request_body`], as `bench mine`
/// writes the benchmark's requests). A body that only lists the branch's
/// commits describes the implementation after the fact, naming the very
/// files the PR changed: a training query must not see that.
pub fn replay_request(repo: &Repo, pr: &PastPr) -> Result<String, GitError> {
    let body = request_body(repo, repo.resolve(&pr.commit)?, &pr.title, &pr.body)?;
    Ok(request_text(&pr.title, &body))
}

/// Replays one past PR at its base, once per replay budget. With
/// embeddings, the replay notebook's files and PRs are embedded first
/// (copied from the main notebook in `state_dir` where it holds them), so
/// the dense lists are computed as test time computes them, at the base.
fn replay_one(
    repo: &Repo,
    state_dir: &Path,
    replay_dir: &Path,
    cfg: &Config,
    pr: &PastPr,
    integrity: Integrity,
) -> Result<(Vec<(u64, Example)>, u64), ReplayError> {
    let started = Instant::now();
    let slept = notebook::sleep_with(
        repo,
        replay_dir,
        &Target::Rev(pr.parent.clone()),
        cfg,
        &NoProgress,
        integrity,
    )?;
    let slept_s = started.elapsed().as_secs_f64();
    let nb = Notebook::open(replay_dir)?.ok_or_else(|| {
        NotebookError::Config(format!(
            "the replay notebook in {} is missing",
            replay_dir.display()
        ))
    })?;
    if nb.info.commit.as_deref() != Some(pr.parent.as_str()) {
        return Err(NotebookError::Config(format!(
            "the replay notebook is at {:?}, not at the base {}",
            nb.info.commit, pr.parent
        ))
        .into());
    }
    super::embed::embed(
        replay_dir,
        cfg,
        Some(super::embed::Seed { state_dir }),
        &NoProgress,
    )?;
    let dense = DenseIndex::load(&nb, &cfg.embeddings, cfg.history.max_commit_files)?
        .map(std::sync::Arc::new);
    let request = replay_request(repo, pr)?;
    let mut out = Vec::new();
    let mut tokens = slept.sleep_tokens;
    let search = {
        let mut tools = NotebookTools::new(&nb, Some(repo));
        if let Some(d) = &dense {
            tools.set_dense(d.clone());
        }
        let s = tools.search_example(&request);
        if let Some(e) = tools.take_query_error() {
            return Err(e.into());
        }
        s?
    };
    let searched_s = started.elapsed().as_secs_f64();
    for &budget in &cfg.learn.replay_budgets {
        let mut policy = OfflinePolicy::default();
        let mut tools = NotebookTools::new(&nb, Some(repo));
        if let Some(d) = &dense {
            tools.set_dense(d.clone());
        }
        let p = run::run(&mut policy, &mut tools, &request, budget, cfg.agent.steps);
        if let Some(e) = tools.take_query_error() {
            return Err(e.into());
        }
        tokens += p.tokens_used;
        let (candidates, query) = policy.candidates();
        out.push((
            budget,
            Example {
                pr: pr.pr,
                commit: pr.commit.clone(),
                base: nb.info.commit.clone().unwrap_or_default(),
                time: pr.time,
                query,
                candidates,
                gold: pr.modified.clone(),
                default_choice: p.files.into_iter().map(|f| f.path).collect(),
                source_changed: pr.source_changed,
                search: Some(search.clone()),
            },
        ));
    }
    let t = &slept.timings;
    tracing::debug!(
        pr = pr.pr,
        sleep_s = slept_s,
        list_s = t.list_s,
        blobs_s = t.blobs_s,
        history_s = t.history_s,
        snapshot_s = t.snapshot_s,
        search_s = searched_s - slept_s,
        runs_s = started.elapsed().as_secs_f64() - searched_s,
        "replayed one pull request"
    );
    Ok((out, tokens))
}
