//! Sleep time, as ordered passes over one repository, each after the one
//! before and none failing the ones before it:
//!
//! 1. **index** ([`crate::notebook::sleep()`]): the offline notebook at a
//!    revision or the work tree, switched atomically; a damaged notebook is
//!    set aside and rebuilt;
//! 2. **embed** ([`embed`](mod@embed)): with `[embeddings] model_dir`, a vector for
//!    every file and past pull request the snapshot lacks one for, within
//!    the pass's time budget (not in the automatic sleep before a
//!    prediction: embedding is what idle time is for);
//! 3. **learn** ([`learn`]): past pull requests replayed at their bases as
//!    training queries, and this repository's ranker fitted for the new
//!    snapshot;
//! 4. **model** ([`model`]): with a sleep-time model, cards for the most
//!    important files ([`cards`]) and anticipated requests ([`anticipate`]);
//!    in `eval`'s paper setting, digests of related pull requests
//!    ([`digest`]). Each stays inside the hourly and daily sleep-time token
//!    budgets summed from the cost ledger.
//!
//! `swe-sleep sleep`, `predict`'s automatic sleep, the daemon and `eval`
//! all go through here. Depends on `notebook`, `agent` (the offline policy
//! that replay runs), `learn` and `llm`; only `cli`, `daemon` and `eval`
//! depend on it.

pub mod anticipate;
pub mod cards;
pub mod digest;
pub mod embed;
pub mod learn;
pub mod model;

use std::path::Path;

use serde::Serialize;

use crate::config::Config;
use crate::git::Repo;
use crate::notebook::{self, NotebookError, Progress, SleepReport, Target};

pub use embed::EmbedReport;
pub use learn::{LearnOptions, LearnReport};
pub use model::ModelSleepReport;

/// What the passes after indexing did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AfterReport {
    /// The embedding pass (`None`: embeddings are off).
    pub embed: Option<EmbedReport>,
    pub learn: Option<LearnReport>,
    pub model: ModelSleepReport,
    /// Passes that failed (the notebook before them stands).
    pub errors: Vec<String>,
}

/// Every pass of one sleep.
#[derive(Debug, Clone, Serialize)]
pub struct SleepOutcome {
    pub index: SleepReport,
    pub after: AfterReport,
}

/// Indexes `target`, then learns and runs the model's passes.
pub fn run(
    repo: &Repo,
    state_dir: &Path,
    target: &Target,
    cfg: &Config,
    learn: &LearnOptions,
    progress: &dyn Progress,
) -> Result<SleepOutcome, NotebookError> {
    let index = notebook::sleep(repo, state_dir, target, cfg, progress)?;
    let after = after_index(repo, state_dir, cfg, learn, progress);
    Ok(SleepOutcome { index, after })
}

/// Indexes `target` and learns, without the sleep-time model's passes (an
/// automatic sleep before a prediction spends no model tokens).
pub fn run_offline(
    repo: &Repo,
    state_dir: &Path,
    target: &Target,
    cfg: &Config,
    learn: &LearnOptions,
    progress: &dyn Progress,
) -> Result<SleepOutcome, NotebookError> {
    let index = notebook::sleep(repo, state_dir, target, cfg, progress)?;
    let mut after = AfterReport::default();
    learn_pass(repo, state_dir, cfg, learn, progress, &mut after);
    Ok(SleepOutcome { index, after })
}

fn learn_pass(
    repo: &Repo,
    state_dir: &Path,
    cfg: &Config,
    learn: &LearnOptions,
    progress: &dyn Progress,
    report: &mut AfterReport,
) {
    match learn::learn(repo, state_dir, cfg, learn, progress) {
        Ok(l) => report.learn = Some(l),
        Err(e) => {
            tracing::warn!("learning skipped: {e}");
            report.errors.push(format!("learning skipped: {e}"));
        }
    }
}

/// Embeds what the snapshot lacks; an error is this pass's alone.
pub fn embed_pass(
    state_dir: &Path,
    cfg: &Config,
    progress: &dyn Progress,
    report: &mut AfterReport,
) {
    match embed::embed(state_dir, cfg, None, progress) {
        Ok(e) => report.embed = e,
        Err(e) => {
            tracing::warn!("embedding skipped: {e}");
            report.errors.push(format!("embedding skipped: {e}"));
        }
    }
}

/// The passes after the snapshot switch: they never fail the notebook the
/// index pass wrote; their errors are logged and reported.
pub fn after_index(
    repo: &Repo,
    state_dir: &Path,
    cfg: &Config,
    learn: &LearnOptions,
    progress: &dyn Progress,
) -> AfterReport {
    let mut report = AfterReport::default();
    embed_pass(state_dir, cfg, progress, &mut report);
    learn_pass(repo, state_dir, cfg, learn, progress, &mut report);
    report.model = model::after_sleep(repo, state_dir, cfg);
    report.errors.extend(report.model.errors.clone());
    report
}
