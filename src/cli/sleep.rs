//! `swe-sleep sleep`: build or update the notebook.

use clap::Args;

use swe_sleep::agent::model_sleep;
use swe_sleep::llm::anticipate::AnticipateReport;
use swe_sleep::llm::cards::CardReport;
use swe_sleep::notebook::{self, SleepReport, Target};

use super::{RepoArgs, print_json, progress::Bars};

#[derive(Debug, Args)]
pub struct SleepArgs {
    #[command(flatten)]
    pub repo: RepoArgs,
    /// Revision to read (default: the work tree if there is one, else HEAD).
    #[arg(long)]
    pub rev: Option<String>,
    /// Print the report as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// No progress bars.
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn run(args: SleepArgs) -> anyhow::Result<()> {
    let (repo, config, state_dir) = args.repo.open()?;
    let target = match (&args.rev, repo.work_dir()) {
        (Some(rev), _) => Target::Rev(rev.clone()),
        (None, Some(_)) => Target::WorkTree,
        (None, None) => Target::Rev("HEAD".into()),
    };
    let bars = Bars::new(!args.quiet && !args.json);
    let report = notebook::sleep(&repo, &state_dir, &target, &config, &bars)?;
    // The offline notebook is complete; the model's cards and anticipated
    // requests are extra and never fail the sleep.
    let model = model_sleep::after_sleep(&repo, &state_dir, &config);
    for e in &model.errors {
        eprintln!("warning: {e}");
    }
    if args.json {
        let mut v = serde_json::to_value(&report)?;
        if let Some(c) = &model.cards {
            v["llm_cards"] = serde_json::to_value(c)?;
        }
        if let Some(a) = &model.anticipated {
            v["llm_anticipated"] = serde_json::to_value(a)?;
        }
        print_json(&v)
    } else {
        println!("{}", summary(&report));
        if let Some(c) = &model.cards {
            println!("{}", cards_summary(c));
        }
        if let Some(a) = &model.anticipated {
            println!("{}", anticipated_summary(a));
        }
        Ok(())
    }
}

/// One line on what the sleep-time model did.
fn cards_summary(c: &CardReport) -> String {
    let mut s = format!(
        "Model {} wrote {} cards ({} already current, {} failed) with {} input and {} output tokens.",
        c.model,
        c.written,
        c.cached,
        c.failed,
        c.usage.prompt(),
        c.usage.output
    );
    if let Some(why) = &c.stopped {
        s.push_str(&format!(" Stopped: {why}."));
    }
    s
}

/// One line on the anticipated requests.
fn anticipated_summary(a: &AnticipateReport) -> String {
    let mut s = if a.cached {
        format!(
            "Model {}: {} anticipated requests for this snapshot were already stored.",
            a.model, a.requests
        )
    } else {
        format!(
            "Model {} anticipated {} likely requests (files precomputed) with {} input and {} output tokens.",
            a.model,
            a.requests,
            a.usage.prompt(),
            a.usage.output
        )
    };
    if let Some(why) = &a.stopped {
        s.push_str(&format!(" Stopped: {why}."));
    }
    s
}

/// The one-paragraph summary printed at the end of a sleep.
pub fn summary(r: &SleepReport) -> String {
    let c = &r.counts;
    let at = match &r.commit {
        Some(commit) if r.worktree => {
            format!("the work tree (HEAD {})", &commit[..12.min(commit.len())])
        }
        Some(commit) => format!("{} ({})", r.rev, &commit[..12.min(commit.len())]),
        None => "the work tree (no commits yet)".to_string(),
    };
    let mut s = format!(
        "Notebook for {at} in {:.2}s: {} files ({} parsed), {} symbols, {} import edges; \
         history of {} commits with {} pull requests, {} co-change links. \
         Read {} new blobs ({:.1} MB, {} tokens) and reused {}; mined {} new commits and reused {}.",
        r.seconds,
        c.files,
        c.parsed,
        c.symbols,
        c.import_edges,
        c.commits,
        c.prs,
        c.cochange_edges,
        r.blobs_new,
        r.bytes_read as f64 / 1e6,
        r.sleep_tokens,
        r.blobs_reused,
        r.commits_mined,
        r.commits_reused,
    );
    let skipped = r.skipped_vendored + r.skipped_submodules + r.skipped_content;
    if skipped > 0 {
        s.push_str(&format!(
            " Skipped {} vendored/generated paths and {} submodules; {} files are indexed by path only (binary, too large or unreadable).",
            r.skipped_vendored, r.skipped_submodules, r.skipped_content
        ));
    }
    if let Some(aside) = &r.healed {
        s.push_str(&format!(
            " The notebook was damaged: it was set aside as {aside} and rebuilt."
        ));
    }
    if r.blobs_missing > 0 {
        s.push_str(&format!(
            " {} files have no content in this clone (partial clone or missing objects) and are indexed by path only.",
            r.blobs_missing
        ));
    }
    if r.skipped_unsafe_names > 0 {
        s.push_str(&format!(
            " Left out {} entries whose names could escape the repository or fake a path (`..`, `.git`, control characters).",
            r.skipped_unsafe_names
        ));
    }
    if let Some(b) = &r.shallow_boundary {
        s.push_str(&format!(
            " Shallow clone: history stops at {}, so only {} commits were available.",
            &b[..12.min(b.len())],
            c.commits
        ));
    }
    s.push_str(&format!(" Stored in {}.", r.state_dir));
    s
}
