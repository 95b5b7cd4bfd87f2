//! Anticipated requests, the model's part: what it is shown (the open
//! TODO/FIXME comments of the snapshot's files and the snapshot's most
//! recent pull requests, nothing else), the call with
//! `prompts/anticipate.md` inside the sleep-time budgets (purpose
//! `anticipate` in the cost ledger), the parsing of its reply, and the rows
//! of `llm_anticipated`, keyed by the snapshot ([`Notebook::snapshot_key`]).
//! Predicting each request's files is the agent's part
//! (`crate::agent::anticipate`), since this module never depends on it.

use std::path::Path;

use serde::Serialize;

use crate::agent::OfflinePolicy;
use crate::agent::predict::{Query, predict_sleep};
use crate::config::Config;
use crate::git::{Oid, Repo};
use crate::notebook::card::one_line;
use crate::notebook::{Notebook, Store};

use super::cards::over_budget;
use crate::llm::Usage;
use crate::llm::error::LlmError;
use crate::llm::ledger::{self, Ledger};
use crate::llm::prompt::{AnticipatePrompt, Template};
use crate::llm::session::{Session, text_request};

/// Pull requests and TODO comments shown at most.
const RECENT_PRS: usize = 12;
const MAX_TODOS: usize = 30;
/// Files scanned for TODOs at most, and bytes read of each.
const MAX_SCANNED: usize = 5000;
const MAX_FILE_BYTES: usize = 256 * 1024;
/// Reply cap in tokens.
const ANTICIPATE_OUTPUT: u64 = 400;

/// What the model is shown, all from one snapshot.
#[derive(Debug, Clone, Default)]
pub struct Signals {
    /// `#12 Add JSON export`, newest first.
    pub recent_prs: Vec<String>,
    /// `src/export.rs:14: TODO support YAML`.
    pub todos: Vec<String>,
}

/// What one anticipation pass did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AnticipateReport {
    pub model: String,
    /// Requests stored for this snapshot.
    pub requests: usize,
    /// True when this snapshot's anticipations existed and nobody was asked.
    pub cached: bool,
    /// Why no request was written, if none was.
    pub stopped: Option<String>,
    pub usage: Usage,
}

/// The recent PRs and open TODO/FIXME comments of `nb`'s snapshot.
pub fn signals(repo: &Repo, nb: &Notebook) -> Result<Signals, LlmError> {
    let recent_prs = nb
        .recent_prs(RECENT_PRS)?
        .into_iter()
        .map(|(n, t)| format!("#{n} {}", one_line(&t, 120)))
        .collect();
    let mut todos = Vec::new();
    for f in nb
        .files()
        .iter()
        .filter(|f| f.status == "parsed")
        .take(MAX_SCANNED)
    {
        if todos.len() >= MAX_TODOS {
            break;
        }
        let Some(bytes) = content(repo, nb, &f.path)? else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_FILE_BYTES)]);
        for (i, line) in text.lines().enumerate() {
            if let Some(todo) = todo_of(line) {
                todos.push(format!("{}:{}: {}", f.path, i + 1, one_line(todo, 160)));
                if todos.len() >= MAX_TODOS {
                    break;
                }
            }
        }
    }
    Ok(Signals { recent_prs, todos })
}

/// The snapshot's content of `path`: its blob, or for a work-tree
/// snapshot whose blob is not in the object database, the file on disk.
fn content(repo: &Repo, nb: &Notebook, path: &str) -> Result<Option<Vec<u8>>, LlmError> {
    if let Some(id) = nb.blob_oid(path)?.and_then(|o| Oid::from_str(&o).ok())
        && let Ok(bytes) = repo.read_blob(id)
    {
        return Ok(Some(bytes));
    }
    if !nb.info.worktree {
        return Ok(None);
    }
    Ok(repo
        .work_dir()
        .and_then(|dir| crate::git::read_confined(dir, path, nb.info.max_file_bytes).ok()))
}

/// The comment text from a `TODO` or `FIXME` marker on, when `line` has one.
fn todo_of(line: &str) -> Option<&str> {
    let at = ["TODO", "FIXME"]
        .iter()
        .filter_map(|m| line.find(m))
        .min()?;
    let before = &line[..at];
    // A comment, not an identifier or a string that mentions the word.
    let commented = ["//", "#", "/*", "--", "*"]
        .iter()
        .any(|c| before.trim_start().starts_with(c));
    let after = line[at..].trim_end_matches(['*', '/', ' ']);
    (commented && after.len() > 6).then_some(after)
}

/// Asks the sleep-time model for `cfg.llm.anticipate` likely next
/// requests; `None` when no model is configured or none are wanted.
pub fn ask(
    state_dir: &Path,
    cfg: &Config,
    signals: &Signals,
) -> Result<Option<(Vec<String>, AnticipateReport)>, LlmError> {
    let Some(model) = &cfg.llm.sleep else {
        return Ok(None);
    };
    let count = cfg.llm.anticipate;
    if count == 0 {
        return Ok(None);
    }
    let mut report = AnticipateReport {
        model: model.model.clone(),
        ..AnticipateReport::default()
    };
    if signals.recent_prs.is_empty() && signals.todos.is_empty() {
        report.stopped = Some("no recent pull request and no TODO comment to go on".into());
        return Ok(Some((Vec::new(), report)));
    }
    let template = Template::load("anticipate", Some(state_dir))?;
    let none = |s: &[String]| {
        if s.is_empty() {
            "(none)".to_string()
        } else {
            s.join("\n")
        }
    };
    let rendered = template.render(&AnticipatePrompt {
        recent_prs: none(&signals.recent_prs),
        todos: none(&signals.todos),
        count,
    })?;
    let mut session = Session::new(
        crate::llm::connect(model, "llm.sleep")?,
        Some(Ledger::open(state_dir)?),
        "anticipate",
        &template,
    );
    let max = ANTICIPATE_OUTPUT.min(model.max_output_tokens as u64);
    let (req, estimate) = text_request(rendered, max);
    if let Some(why) = over_budget(session.ledger(), cfg, estimate)? {
        report.stopped = Some(why);
        return Ok(Some((Vec::new(), report)));
    }
    let resp = session.call(&req);
    report.usage = session.usage;
    let requests = parse_requests(&resp?.text, count);
    if requests.is_empty() {
        report.stopped = Some("the model wrote no request in the expected form".into());
    }
    Ok(Some((requests, report)))
}

/// The requests of a reply: lines `Title: one sentence`, bullets and
/// numbering removed, at most `count`.
pub fn parse_requests(text: &str, count: usize) -> Vec<String> {
    text.lines()
        .map(|l| {
            l.trim()
                .trim_start_matches(|c: char| c.is_ascii_digit() || "-*.) ".contains(c))
                .trim()
        })
        .filter(|l| {
            l.split_once(':')
                .is_some_and(|(t, s)| !t.trim().is_empty() && s.trim().len() > 3)
        })
        .map(|l| one_line(l, 400))
        .take(count)
        .collect()
}

/// Stores `items` (request, predicted files) for the snapshot `key`.
pub fn store(
    state_dir: &Path,
    key: &str,
    model: &str,
    items: &[(String, Vec<String>)],
) -> Result<(), LlmError> {
    let store = Store::open(state_dir)?;
    for (request, files) in items {
        store.put_anticipated(key, request, files, model, ledger::now())?;
    }
    Ok(())
}

/// The model's anticipations for the notebook in `state_dir`, each with
/// its files predicted offline; `None` when no sleep-time model is
/// configured or `llm.anticipate` is 0. Computed once per snapshot.
pub fn anticipate(
    repo: &Repo,
    state_dir: &Path,
    cfg: &Config,
) -> Result<Option<AnticipateReport>, LlmError> {
    let Some(model) = &cfg.llm.sleep else {
        return Ok(None);
    };
    if cfg.llm.anticipate == 0 {
        return Ok(None);
    }
    let Some(nb) = Notebook::open(state_dir)? else {
        return Ok(None);
    };
    let existing = nb.anticipated()?;
    if !existing.is_empty() {
        return Ok(Some(AnticipateReport {
            model: model.model.clone(),
            requests: existing.len(),
            cached: true,
            ..AnticipateReport::default()
        }));
    }
    let signals = signals(repo, &nb)?;
    let Some((requests, mut report)) = ask(state_dir, cfg, &signals)? else {
        return Ok(None);
    };
    let mut items: Vec<(String, Vec<String>)> = Vec::new();
    for request in requests {
        let Ok(query) = Query::new(request.clone(), cfg.agent.budget, cfg.agent.steps) else {
            continue;
        };
        let p = predict_sleep(
            &query,
            &mut OfflinePolicy::default(),
            &nb,
            Some(repo),
            None,
            cfg,
        )?;
        items.push((request, p.files.into_iter().map(|f| f.path).collect()));
    }
    store(state_dir, &nb.snapshot_key(), &model.model, &items)?;
    report.requests = items.len();
    Ok(Some(report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_todos_are_read_conservatively() {
        let reply = "1. Support YAML export: export recipes as YAML too.\n\nSure! Here you go\n- Add a pantry: track what is on the shelves.\nnope:\n* Third: one more thing.";
        assert_eq!(
            parse_requests(reply, 2),
            [
                "Support YAML export: export recipes as YAML too.",
                "Add a pantry: track what is on the shelves."
            ]
        );
        assert_eq!(
            todo_of("    // TODO: support YAML"),
            Some("TODO: support YAML")
        );
        assert_eq!(
            todo_of("# FIXME handle errors */"),
            Some("FIXME handle errors")
        );
        assert_eq!(todo_of("let TODO_LIST = 3;"), None);
        assert_eq!(todo_of("// TODO"), None);
    }
}
