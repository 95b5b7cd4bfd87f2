//! The model's part of a sleep (`[llm.sleep]`), run after the offline
//! notebook is complete: cards for the most important files
//! ([`crate::sleep::cards`]), then the snapshot's anticipated requests
//! ([`crate::agent::anticipate`]). It never fails: an error in either part is
//! logged and reported, and the offline notebook stands. `crate::sleep`
//! runs it as the last pass of every sleep.

use std::path::Path;

use serde::Serialize;

use crate::config::Config;
use crate::git::Repo;
use crate::sleep::anticipate::AnticipateReport;
use crate::sleep::cards::{self, CardReport};

/// What the sleep-time model did; all `None` when none is configured.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ModelSleepReport {
    pub cards: Option<CardReport>,
    pub anticipated: Option<AnticipateReport>,
    /// Why a part was skipped.
    pub errors: Vec<String>,
}

/// Cards, then anticipated requests, for the notebook in `state_dir`.
pub fn after_sleep(repo: &Repo, state_dir: &Path, cfg: &Config) -> ModelSleepReport {
    let mut report = ModelSleepReport::default();
    if cfg.llm.sleep.is_none() {
        return report;
    }
    match cards::write_cards(repo, state_dir, cfg) {
        Ok(c) => report.cards = c,
        Err(e) => {
            tracing::warn!("model cards skipped: {e}");
            report.errors.push(format!("model cards skipped: {e}"));
        }
    }
    match crate::sleep::anticipate::anticipate(repo, state_dir, cfg) {
        Ok(a) => report.anticipated = a,
        Err(e) => {
            tracing::warn!("anticipated requests skipped: {e}");
            report
                .errors
                .push(format!("anticipated requests skipped: {e}"));
        }
    }
    report
}
