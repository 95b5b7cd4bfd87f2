//! The one entry point for a prediction. A [`Query`] (the request, any
//! context, the token budget and step cap) is validated once, where it is
//! made; [`predict_sleep`] runs it in the sleep arm over a notebook (with
//! what sleep time learned for the snapshot, and a closely matching
//! anticipated request as context), [`predict_raw`] in the no-sleep arm.
//! The CLI, the daemon (for `/predict`, the GitHub worker and MCP), eval
//! and the sleep-time prediction of anticipated requests all come here;
//! only replay runs the default policy on plain tools directly, by design.

use std::sync::Arc;

use serde::Serialize;

use crate::config::Config;
use crate::git::Repo;
use crate::notebook::{Notebook, StoreError};

use super::anticipate;
use super::dense::{self, DenseIndex};
use super::raw_tools::RawTools;
use super::run::{Policy, Prediction, run_with_context};
use super::sleep_tools::{NotebookTools, SearchIndexes};
use super::tools::Toolbox;

/// Why a query cannot be run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("the request is empty: say what the change should do")]
    Empty,
    #[error(
        "a budget of 0 tokens cannot even read the request; give a budget of at least a few hundred"
    )]
    ZeroBudget,
}

/// A validated request for a prediction.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    request: String,
    context: String,
    budget: u64,
    steps: u32,
}

impl Query {
    /// `request` (a PR title, a blank line, its description) within
    /// `budget` tokens and `steps` tool calls (0: the policy answers with
    /// what the request alone tells it, which is nothing).
    pub fn new(request: impl Into<String>, budget: u64, steps: u32) -> Result<Query, QueryError> {
        let request = request.into();
        if request.trim().is_empty() {
            return Err(QueryError::Empty);
        }
        if budget == 0 {
            return Err(QueryError::ZeroBudget);
        }
        Ok(Query {
            request,
            context: String::new(),
            budget,
            steps,
        })
    }

    /// Context read before any call (the paper setting's related PRs).
    pub fn with_context(mut self, context: impl Into<String>) -> Query {
        self.context = context.into();
        self
    }

    pub fn request(&self) -> &str {
        &self.request
    }

    pub fn context(&self) -> &str {
        &self.context
    }

    pub fn budget(&self) -> u64 {
        self.budget
    }

    pub fn steps(&self) -> u32 {
        self.steps
    }
}

/// A prediction with what it was made from: the answer of `predict
/// --json` from a daemon, of `/predict` and of MCP's `predict_files`.
#[derive(Debug, Clone, Serialize)]
pub struct Answer {
    #[serde(flatten)]
    pub prediction: Prediction,
    /// The commit the notebook describes (`None`: a working tree snapshot
    /// without a commit).
    pub notebook_commit: Option<String>,
    /// True when the notebook is not at the commit asked for (HEAD, or the
    /// base branch).
    pub stale: bool,
    /// The commit asked for, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_commit: Option<String>,
}

impl Answer {
    /// `prediction` from a notebook at `notebook_commit`, for `target`
    /// (the commit asked for, when known): stale when the two differ.
    pub fn new(
        prediction: Prediction,
        notebook_commit: Option<String>,
        target: Option<String>,
    ) -> Answer {
        let stale = target.is_some() && notebook_commit != target;
        Answer {
            prediction,
            notebook_commit,
            stale,
            target_commit: target,
        }
    }
}

/// The sleep arm over `nb`: its tools (sharing `indexes` when the caller
/// keeps them per snapshot), the snapshot's embeddings when `cfg` turns
/// them on and sleep time made them (the dense lists of the search), what
/// sleep time learned for the snapshot (the search ranking and the final
/// choice), and a closely matching anticipated request read as context
/// before the query's own. A failed notebook query is an error, never
/// passed off as an empty answer; a model that cannot be loaded is a note
/// (the prediction goes on without dense similarity).
pub fn predict_sleep(
    query: &Query,
    policy: &mut dyn Policy,
    nb: &Notebook,
    repo: Option<&Repo>,
    indexes: Option<&SearchIndexes>,
    cfg: &Config,
) -> Result<Prediction, StoreError> {
    let mut tools = match indexes {
        Some(ix) => NotebookTools::with_indexes(nb, repo, ix),
        None => NotebookTools::new(nb, repo),
    };
    let mut notes = Vec::new();
    match dense_for(nb, cfg) {
        Ok(Some(d)) => tools.set_dense(d),
        Ok(None) => {}
        Err(dense::DenseError::Store(e)) => return Err(e),
        Err(e) => {
            tracing::warn!("embeddings are off for this prediction: {e}");
            notes.push(format!("embeddings are off for this prediction: {e}"));
        }
    }
    let learned = nb.learned()?;
    if let Some(l) = &learned {
        if let Some(s) = &l.search {
            tools.set_search_ranker(Arc::new(s.clone()));
        }
        match &l.ranker {
            Some(r) => {
                policy.set_ranker(Arc::new(r.clone()));
                notes.push(format!(
                    "ranked by this repository's learned model: {}",
                    l.report.reason
                ));
            }
            None => notes.push(l.report.reason.clone()),
        }
    }
    let (context, matched) = anticipate::with_context(nb, query.request(), query.context());
    let mut p = run_with_context(
        policy,
        &mut tools,
        query.request(),
        &context,
        query.budget(),
        query.steps(),
    );
    if let Some(e) = tools.take_query_error() {
        return Err(e);
    }
    if let Some(m) = matched {
        p.notes.push(m.note());
    }
    p.notes.extend(notes);
    Ok(p)
}

/// The snapshot's embeddings, read once per notebook, snapshot and
/// embedding pass in a process (the daemon and eval predict many times on
/// one snapshot; an embedding pass that finishes after the snapshot
/// switch is read again).
pub fn dense_for(
    nb: &Notebook,
    cfg: &Config,
) -> Result<Option<Arc<DenseIndex>>, dense::DenseError> {
    type Cached = Option<(std::path::PathBuf, EmbeddingsKey, Arc<DenseIndex>)>;
    type EmbeddingsKey = ((u64, u64), u64, String, usize);
    static LAST: std::sync::Mutex<Cached> = std::sync::Mutex::new(None);
    if cfg.embeddings.model_dir().is_none() {
        return Ok(None);
    }
    let key = (
        nb.info.snapshot_id(),
        nb.embeddings_generation()?,
        cfg.embeddings.model_dir.clone(),
        cfg.embeddings.max_tokens,
    );
    let path = nb.db_path().to_path_buf();
    if let Some((p, k, d)) = LAST.lock().expect("dense cache").as_ref()
        && *p == path
        && *k == key
    {
        return Ok(Some(d.clone()));
    }
    let Some(d) = DenseIndex::load(nb, &cfg.embeddings, cfg.history.max_commit_files)? else {
        return Ok(None);
    };
    let d = Arc::new(d);
    *LAST.lock().expect("dense cache") = Some((path, key, d.clone()));
    Ok(Some(d))
}

/// The no-sleep arm: the same policy over the raw repository.
pub fn predict_raw(query: &Query, policy: &mut dyn Policy, tools: &mut RawTools<'_>) -> Prediction {
    run_with_context(
        policy,
        tools,
        query.request(),
        query.context(),
        query.budget(),
        query.steps(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_validated_once() {
        assert_eq!(Query::new("  \n", 100, 3), Err(QueryError::Empty));
        assert_eq!(Query::new("Add x", 0, 3), Err(QueryError::ZeroBudget));
        let q = Query::new("Add x", 100, 3)
            .expect("valid")
            .with_context("ctx");
        assert_eq!(
            (q.request(), q.context(), q.budget(), q.steps()),
            ("Add x", "ctx", 100, 3)
        );
    }
}
