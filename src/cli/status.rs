//! `swe-sleep status`: what the notebook holds and how stale it is (or,
//! given a `serve` state directory, what the running service holds:
//! `status_serve.rs`).

use clap::Args;

use std::time::Duration;

use swe_sleep::daemon;
use swe_sleep::daemon::page_text::ago;
use swe_sleep::llm::ledger::{self, LedgerTotal};
use swe_sleep::notebook::{self, Status};

use super::{RepoArgs, print_json};

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub repo: RepoArgs,
    /// Compare the notebook with this revision instead of HEAD.
    #[arg(long)]
    pub rev: Option<String>,
    /// Print the status as one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: StatusArgs) -> anyhow::Result<()> {
    // A `swe-sleep serve` state directory: the running service's status.
    if let Some(dir) = &args.repo.state_dir
        && args.rev.is_none()
        && super::status_serve::is_service_dir(dir)
    {
        return super::status_serve::run(dir, args.json);
    }
    let (repo, config, state_dir) = args.repo.open()?;
    let s = notebook::status(&repo, &state_dir, args.rev.as_deref(), &config)?;
    let totals = if s.exists {
        ledger::totals_in(&state_dir)?
    } else {
        Vec::new()
    };
    // A running daemon adds what only it knows (sleeping now, queue).
    let daemon = if args.rev.is_none() {
        daemon::client::find(&state_dir).and_then(|d| {
            let v = d.get("/status", Duration::from_secs(10)).ok()?;
            Some((d, v))
        })
    } else {
        None
    };
    if args.json {
        let mut v = serde_json::to_value(&s)?;
        v["llm_ledger"] = serde_json::to_value(&totals)?;
        if let Some((d, live)) = &daemon {
            v["daemon"] = serde_json::json!({
                "pid": d.pid,
                "addr": d.addr.to_string(),
                "sleeping": live["sleeping"],
                "sleeps_total": live["sleeps_total"],
                "github": live.get("github"),
            });
        }
        return print_json(&v);
    }
    println!("{}", describe(&s, repo.work_dir().is_some()));
    if !totals.is_empty() {
        print!("{}", describe_ledger(&totals));
    }
    if let Some((d, live)) = daemon {
        println!(
            "Daemon: pid {} keeps it current and serves http://{} (its page: http://{}/){}.",
            d.pid,
            d.addr,
            d.addr,
            if live["sleeping"] == true {
                ", sleeping now"
            } else {
                ""
            }
        );
        if let Some(q) = live
            .get("github")
            .and_then(|g| g.get("queue"))
            .filter(|q| q.is_object())
        {
            println!(
                "GitHub queue: {} queued, {} done, {} failed.",
                q["queued"], q["done"], q["failed"]
            );
        }
    }
    Ok(())
}

/// The cost ledger, one line per purpose and model.
fn describe_ledger(totals: &[LedgerTotal]) -> String {
    let mut out = String::from("Model calls (cost ledger):\n");
    for t in totals {
        let cost = if t.cost > 0.0 {
            format!(", ${:.4}", t.cost)
        } else {
            String::new()
        };
        let failed = if t.failed > 0 {
            format!(" ({} failed)", t.failed)
        } else {
            String::new()
        };
        out.push_str(&format!(
            "  {} with {} {}: {} calls{failed}, {} input + {} cache read + {} cache write + {} output tokens{cost}\n",
            t.purpose,
            t.provider,
            t.model,
            t.calls,
            t.usage.input,
            t.usage.cache_read,
            t.usage.cache_write,
            t.usage.output
        ));
    }
    out
}

fn short(c: &str) -> &str {
    &c[..12.min(c.len())]
}

/// The status in plain words, ending with what to run next. `work_tree`:
/// the repository has one (a sleep can read it even without commits).
fn describe(s: &Status, work_tree: bool) -> String {
    if !s.exists {
        return match (&s.current, work_tree) {
            (None, true) => "No notebook yet, and this repository has no commits: there is no history to learn from. `swe-sleep sleep` can still read the work tree as it is; predictions get better once pull requests are merged.".to_string(),
            (None, false) => "This repository has no commits yet: there is nothing to read until the first one.".to_string(),
            (Some(_), _) => format!(
                "No notebook in {} yet.\nNext: `swe-sleep sleep` builds one, or `swe-sleep predict \"<a feature request>\"` builds it first and answers.",
                s.state_dir
            ),
        };
    }
    let mut out = String::new();
    let what = match (&s.commit, s.worktree) {
        (Some(c), true) => format!("the work tree at HEAD {}", short(c)),
        (Some(c), false) => format!("{} ({})", s.rev.as_deref().unwrap_or("?"), short(c)),
        (None, _) => "a work tree with no commits".into(),
    };
    out.push_str(&format!("Notebook in {} for {what}", s.state_dir));
    if let Some(age) = s.age_seconds {
        out.push_str(&format!(", built {}", ago(age)));
    }
    out.push_str(".\n");
    if let Some(c) = &s.counts {
        out.push_str(&format!(
            "It knows {} files ({} parsed), {} definitions and {} imports between files, and {} commits with {} pull requests ({} pairs of files that usually change together).\n",
            c.files, c.parsed, c.symbols, c.import_edges, c.commits, c.prs, c.cochange_edges
        ));
    }
    out.push_str(&format!(
        "Kept for later sleeps: {} file versions and {} commits already read.\n",
        s.blobs_stored, s.commits_stored
    ));
    let current = s.current.as_deref().map(short).unwrap_or("none");
    let drift = s.worktree_changes.as_ref().and_then(|d| d.sentence());
    let fresh = s.up_to_date && drift.is_none();
    let freshness = if s.up_to_date && s.worktree {
        match &drift {
            Some(d) => format!("Same HEAD ({current}), but {d}; `swe-sleep sleep` updates it."),
            None => format!("Up to date with the work tree at HEAD ({current})."),
        }
    } else if s.up_to_date {
        format!("Up to date with {current}.")
    } else {
        match (s.commits_behind, s.commits_ahead) {
            (Some(n), _) => format!("Stale: {n} first-parent commits behind {current}."),
            (None, Some(n)) => format!(
                "{current} is {n} first-parent commits older than the notebook's commit; `swe-sleep predict --rev {current}` sleeps on it first."
            ),
            (None, None) => {
                format!("Stale: built for another line of history than {current}.")
            }
        }
    };
    out.push_str(&freshness);
    if let Some(b) = &s.shallow_boundary {
        out.push_str(&format!("\nShallow clone: history stops at {}.", short(b)));
    }
    match &s.learning {
        Some(f) => {
            out.push_str(&format!("\nLearning: {}.", f.reason));
            if !f.weights.is_empty() {
                let top: Vec<String> = f
                    .weights
                    .iter()
                    .take(6)
                    .map(|(name, w)| format!("{name} {w:+.2}"))
                    .collect();
                out.push_str(&format!(
                    "\nStrongest signals ({} examples, {} candidate rows): {}.",
                    f.examples,
                    f.rows,
                    top.join(", ")
                ));
            }
        }
        None => out.push_str(
            "\nLearning: nothing learned for this snapshot yet (`swe-sleep sleep` replays past pull requests).",
        ),
    }
    out.push_str(&describe_embeddings(&s.embeddings));
    if s.blobs_missing > 0 {
        out.push_str(&format!(
            "\n{} no content in this clone (partial clone or missing objects); {} indexed by path only.",
            super::render::count(s.blobs_missing, "file has", "files have"),
            if s.blobs_missing == 1 { "it is" } else { "they are" }
        ));
    }
    out.push_str(if fresh {
        "\nNext: `swe-sleep predict \"<a feature request>\"`."
    } else {
        "\nNext: `swe-sleep sleep` catches up (or `swe-sleep predict`, which sleeps first)."
    });
    out
}

/// The embeddings line of `status`.
fn describe_embeddings(e: &notebook::status::EmbeddingStatus) -> String {
    if !e.on {
        return "\nEmbeddings: off (set `[embeddings] model_dir`; `install.sh --with-embeddings` fetches a model).".into();
    }
    let dir = e.model_dir.as_deref().unwrap_or_default();
    if let Some(err) = &e.error {
        return format!("\nEmbeddings: on, but the model in {dir} cannot be loaded: {err}.");
    }
    match (&e.counts, e.snapshot_files, e.snapshot_prs) {
        (Some(c), Some(f), Some(p)) => format!(
            "\nEmbeddings: on ({}): {} of {f} files and {} of {p} past PRs of this snapshot embedded ({} file and {} PR vectors stored).",
            e.model.as_deref().unwrap_or_default(),
            c.snapshot_files,
            c.snapshot_prs,
            c.files,
            c.prs
        ),
        _ => format!(
            "\nEmbeddings: on ({}), nothing embedded yet (`swe-sleep sleep` embeds).",
            e.model.as_deref().unwrap_or_default()
        ),
    }
}
