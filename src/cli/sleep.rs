//! `swe-sleep sleep`: build or update the notebook.

use clap::Args;

use swe_sleep::notebook::{SleepReport, Target};
use swe_sleep::sleep::anticipate::AnticipateReport;
use swe_sleep::sleep::cards::CardReport;
use swe_sleep::sleep::{self, EmbedReport, LearnOptions, LearnReport};

use super::render::count;
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
    /// Past pull requests to replay and learn from (default:
    /// learn.replay_prs from the config, 200 unless set there; 0: no
    /// learning).
    #[arg(long, value_name = "N")]
    pub replay: Option<usize>,
}

pub fn run(args: SleepArgs) -> anyhow::Result<()> {
    let (repo, config, state_dir) = args.repo.open()?;
    let target = match (&args.rev, repo.work_dir()) {
        (Some(rev), _) => Target::Rev(rev.clone()),
        (None, Some(_)) => Target::WorkTree,
        (None, None) => Target::Rev("HEAD".into()),
    };
    let bars = Bars::new(!args.quiet && !args.json);
    let mut learn = LearnOptions::from_config(&config);
    if let Some(n) = args.replay {
        learn.max_prs = n;
    }
    // The offline notebook is complete after the index pass; learning and
    // the model's cards and anticipated requests never fail it.
    let outcome = sleep::run(&repo, &state_dir, &target, &config, &learn, &bars)?;
    let (report, after) = (outcome.index, outcome.after);
    let model = after.model;
    for e in &after.errors {
        eprintln!("warning: {e}");
    }
    if args.json {
        let mut v = serde_json::to_value(&report)?;
        if let Some(e) = &after.embed {
            v["embed"] = serde_json::to_value(e)?;
        }
        if let Some(l) = &after.learn {
            v["learn"] = serde_json::to_value(l)?;
        }
        if let Some(c) = &model.cards {
            v["llm_cards"] = serde_json::to_value(c)?;
        }
        if let Some(a) = &model.anticipated {
            v["llm_anticipated"] = serde_json::to_value(a)?;
        }
        print_json(&v)
    } else {
        println!("{}", summary(&report));
        if let Some(e) = &after.embed {
            println!("{}", embed_summary(e));
        }
        if let Some(l) = &after.learn {
            println!("{}", learn_summary(l));
        }
        if let Some(c) = &model.cards {
            println!("{}", cards_summary(c));
        }
        if let Some(a) = &model.anticipated {
            println!("{}", anticipated_summary(a));
        }
        Ok(())
    }
}

/// One line on what the embedding pass did.
pub fn embed_summary(e: &EmbedReport) -> String {
    let mut s = format!(
        "Embeddings ({}): {} files and {} past pull requests; embedded {} files and {} PRs now ({} model tokens, {:.1}s)",
        e.model, e.files, e.prs, e.files_embedded, e.prs_embedded, e.tokens, e.seconds
    );
    if e.pending > 0 {
        s.push_str(&format!(
            ", {} left for the next sleep (`[embeddings] sleep_seconds`)",
            e.pending
        ));
    }
    s.push('.');
    s
}

/// One line on what sleep-time learning did.
pub fn learn_summary(l: &LearnReport) -> String {
    let mut s = format!(
        "Learning: {} past pull requests in the sleep budget; replayed {} now ({:.1}s), {} before",
        l.prs, l.replayed, l.replay_seconds, l.reused
    );
    if l.failed > 0 {
        s.push_str(&format!(", {} failed", l.failed));
    }
    if l.pending > 0 {
        s.push_str(&format!(", {} left for the next sleep", l.pending));
    }
    s.push('.');
    if let Some(f) = &l.fit {
        s.push(' ');
        s.push_str(&f.reason);
        s.push('.');
    }
    s
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
            " Skipped {} and {}; {} indexed by path only (binary, too large or unreadable).",
            count(
                r.skipped_vendored,
                "vendored/generated path",
                "vendored/generated paths"
            ),
            count(r.skipped_submodules, "submodule", "submodules"),
            count(r.skipped_content, "file is", "files are"),
        ));
    }
    if r.generated_files > 0 {
        s.push_str(&format!(
            " {} indexed by path and history only (index.generated_globs).",
            count(
                r.generated_files,
                "generated or lock file is",
                "generated or lock files are"
            )
        ));
    }
    if let Some(aside) = &r.healed {
        s.push_str(&format!(
            " The notebook was damaged: it was set aside as {aside} and rebuilt."
        ));
    }
    if r.blobs_missing > 0 {
        s.push_str(&format!(
            " {} no content in this clone (partial clone or missing objects) and {} indexed by path only.",
            count(r.blobs_missing, "file has", "files have"),
            if r.blobs_missing == 1 { "is" } else { "are" }
        ));
    }
    if r.skipped_unsafe_names > 0 {
        s.push_str(&format!(
            " Left out {} whose names could escape the repository or fake a path (`..`, `.git`, control characters).",
            count(r.skipped_unsafe_names, "entry", "entries")
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
