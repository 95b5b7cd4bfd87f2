//! `swe-sleep status`: what the notebook holds and how stale it is.

use clap::Args;

use std::time::Duration;

use swe_sleep::daemon;
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
    println!("{}", describe(&s));
    if !totals.is_empty() {
        print!("{}", describe_ledger(&totals));
    }
    if let Some((d, live)) = daemon {
        println!(
            "Daemon: pid {} on http://{}{}.",
            d.pid,
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

fn describe(s: &Status) -> String {
    if !s.exists {
        return format!("No notebook in {} yet: run `swe-sleep sleep`.", s.state_dir);
    }
    let mut out = String::new();
    let what = match (&s.commit, s.worktree) {
        (Some(c), true) => format!("the work tree at HEAD {}", short(c)),
        (Some(c), false) => format!("{} ({})", s.rev.as_deref().unwrap_or("?"), short(c)),
        (None, _) => "a work tree with no commits".into(),
    };
    out.push_str(&format!("Notebook in {} for {what}", s.state_dir));
    if let Some(age) = s.age_seconds {
        out.push_str(&format!(", built {} ago", human_age(age)));
    }
    out.push_str(".\n");
    if let Some(c) = &s.counts {
        out.push_str(&format!(
            "{} files ({} parsed), {} symbols, {} import edges; {} commits, {} pull requests, {} co-change links.\n",
            c.files, c.parsed, c.symbols, c.import_edges, c.commits, c.prs, c.cochange_edges
        ));
    }
    out.push_str(&format!(
        "Cache: {} blobs and {} commits stored (reused by later sleeps).\n",
        s.blobs_stored, s.commits_stored
    ));
    let current = s.current.as_deref().map(short).unwrap_or("none");
    let drift = s.worktree_changes.as_ref().and_then(|d| d.sentence());
    let freshness = if s.up_to_date && s.worktree {
        match drift {
            Some(d) => format!("Same HEAD ({current}), but {d}; `swe-sleep sleep` updates it."),
            None => format!("Up to date with the work tree at HEAD ({current})."),
        }
    } else if s.up_to_date {
        format!("Up to date with {current}.")
    } else {
        match (s.commits_behind, s.commits_ahead) {
            (Some(n), _) => format!(
                "Stale: {n} first-parent commits behind {current}; `swe-sleep sleep` catches up."
            ),
            (None, Some(n)) => format!(
                "{current} is {n} first-parent commits older than the notebook's commit; `swe-sleep predict --rev {current}` sleeps on it first."
            ),
            (None, None) => format!(
                "Stale: built for another line of history than {current}; `swe-sleep sleep` rebuilds it for {current}."
            ),
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
    if s.blobs_missing > 0 {
        out.push_str(&format!(
            "\n{} files have no content in this clone (partial clone or missing objects); they are indexed by path only.",
            s.blobs_missing
        ));
    }
    out
}

fn human_age(secs: u64) -> String {
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}
