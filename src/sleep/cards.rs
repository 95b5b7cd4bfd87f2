//! Sleep time with a model (`[llm.sleep]`): cards written by the model for
//! the files that matter most first (change frequency, then how many files
//! import them), stored by blob id and model in `llm_cards`, so a file
//! whose content did not change is never asked about again and an
//! interrupted run resumes where it stopped. Runs after the offline
//! notebook is complete and never fails it: errors are logged and the
//! offline cards remain. Every call is in the cost ledger, and a call is
//! made only while the ledger's sleep-time tokens of the last hour and day
//! plus the call's estimate stay inside `llm.sleep_tokens_per_hour` and
//! `llm.sleep_tokens_per_day`.

use std::path::Path;

use serde::Serialize;

use crate::config::Config;
use crate::git::{Oid, Repo};
use crate::notebook::{Notebook, Store};
use crate::tokens;

use crate::llm::Usage;
use crate::llm::error::LlmError;
use crate::llm::ledger::{self, Ledger, SLEEP_PURPOSES};
use crate::llm::prompt::{FileCardPrompt, Template};
use crate::llm::session::{Session, text_request};

/// Words asked for per card, and the reply cap in tokens.
const CARD_WORDS: usize = 120;
const CARD_OUTPUT: u64 = 300;
/// Consecutive failed calls after which a sleep stops asking.
const MAX_FAILURES: usize = 3;

/// What the model did in one sleep.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CardReport {
    pub model: String,
    pub written: usize,
    /// Files among the most important whose card for this content existed.
    pub cached: usize,
    pub failed: usize,
    /// Why it stopped before the end of the list, if it did.
    pub stopped: Option<String>,
    pub usage: Usage,
}

/// Writes model cards for the notebook in `state_dir`; `None` when no
/// sleep-time model is configured or there is no notebook.
pub fn write_cards(
    repo: &Repo,
    state_dir: &Path,
    cfg: &Config,
) -> Result<Option<CardReport>, LlmError> {
    let Some(model) = &cfg.llm.sleep else {
        return Ok(None);
    };
    let Some(nb) = Notebook::open(state_dir)? else {
        return Ok(None);
    };
    let provider = crate::llm::connect(model, "llm.sleep")?;
    let template = Template::load("file_card", Some(state_dir))?;
    let ledger = Ledger::open(state_dir)?;
    let store = Store::open(state_dir)?;
    let mut session = Session::new(provider, Some(ledger), "card", &template);
    let mut report = CardReport {
        model: model.model.clone(),
        ..CardReport::default()
    };
    let stats = nb.file_stats()?;
    let mut failures = 0;
    for path in by_importance(&nb, &stats)? {
        if report.written >= cfg.llm.cards_per_sleep {
            report.stopped = Some(format!(
                "llm.cards_per_sleep ({}) cards written; the next sleep continues",
                cfg.llm.cards_per_sleep
            ));
            break;
        }
        let Some(oid) = nb.blob_oid(&path)? else {
            continue;
        };
        if has_card(&store, &oid, &model.model)? {
            report.cached += 1;
            continue;
        }
        let Ok(id) = Oid::from_str(&oid) else {
            continue;
        };
        let bytes = match repo.read_blob(id) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!("llm cards: cannot read {path}: {e}");
                continue;
            }
        };
        let text = String::from_utf8_lossy(&bytes);
        let (content, _) = tokens::truncate(&text, cfg.llm.card_input_tokens);
        let history = stats
            .get(&path)
            .map(|s| {
                s.prs
                    .iter()
                    .take(5)
                    .map(|(n, t)| format!("#{n} {t}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "no pull request on record".into());
        let rendered = template.render(&FileCardPrompt {
            path: path.clone(),
            language: nb.file(&path).map_or(String::new(), |f| f.lang.clone()),
            history,
            content: content.to_string(),
            max_words: CARD_WORDS,
        })?;
        let out = CARD_OUTPUT.min(model.max_output_tokens as u64);
        let (req, estimate) = text_request(rendered, out);
        if let Some(why) = over_budget(session.ledger(), cfg, estimate)? {
            report.stopped = Some(why);
            break;
        }
        match session.call(&req) {
            Ok(resp) if !resp.text.trim().is_empty() => {
                failures = 0;
                let card = crate::notebook::card::one_line(resp.text.trim(), 1200);
                store.put_llm_card(&oid, &model.model, &template.hash, &card, ledger::now())?;
                report.written += 1;
            }
            Ok(_) => {
                report.failed += 1;
                tracing::warn!("llm cards: the model wrote nothing for {path}");
            }
            Err(e) => {
                report.failed += 1;
                failures += 1;
                tracing::warn!("llm cards: {path}: {e}");
                if failures >= MAX_FAILURES {
                    report.stopped = Some(format!("{MAX_FAILURES} calls failed in a row: {e}"));
                    break;
                }
            }
        }
    }
    report.usage = session.usage;
    Ok(Some(report))
}

/// Parsed files, most important first: decayed change count, then how
/// many files import them, then path.
fn by_importance(
    nb: &Notebook,
    stats: &std::collections::HashMap<String, crate::notebook::read::FileStat>,
) -> Result<Vec<String>, LlmError> {
    let mut scored = Vec::new();
    for f in nb.files().iter().filter(|f| f.status == "parsed") {
        let changes = stats.get(&f.path).map_or(0.0, |s| s.decayed);
        let importers = nb.imported_by(&f.path)?.len() as f64;
        scored.push((changes + 0.5 * (1.0 + importers).ln(), f.path.clone()));
    }
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    Ok(scored.into_iter().map(|(_, p)| p).collect())
}

fn has_card(store: &Store, oid: &str, model: &str) -> Result<bool, LlmError> {
    Ok(store.has_llm_card(oid, model)?)
}

/// Why a call of `estimate` tokens would pass a sleep-time budget.
pub fn over_budget(
    ledger: Option<&Ledger>,
    cfg: &Config,
    estimate: u64,
) -> Result<Option<String>, LlmError> {
    let Some(ledger) = ledger else {
        return Ok(None);
    };
    let now = ledger::now();
    for (window, limit, name) in [
        (
            3600,
            cfg.llm.sleep_tokens_per_hour,
            "llm.sleep_tokens_per_hour",
        ),
        (
            86_400,
            cfg.llm.sleep_tokens_per_day,
            "llm.sleep_tokens_per_day",
        ),
    ] {
        let spent = ledger.tokens_since(SLEEP_PURPOSES, now - window)?;
        if spent + estimate > limit {
            return Ok(Some(format!(
                "the sleep-time budget {name} ({limit} tokens) would be passed: {spent} spent, the next call needs about {estimate}"
            )));
        }
    }
    Ok(None)
}
