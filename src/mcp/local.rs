//! Answering the notebook's tools from an open notebook, for every server
//! that has one (the standalone server and the daemon): the same
//! [`NotebookTools`] the sleep arm's policy calls, with the search ranking
//! sleep time learned for the snapshot and its embeddings (when on),
//! rendered and cut by the same code.
//!
//! Paths are confined as for the model policy: [`check_path`] first
//! (relative, normalised, no `..`, no `.git`), then the path must be a
//! file the snapshot lists, and not a symbolic link. Nothing outside the
//! snapshot is ever read.

use std::path::Path;
use std::sync::Arc;

use crate::agent::sleep_tools::{NotebookTools, SearchIndexes};
use crate::agent::tools::{ToolOutput, check_path};
use crate::agent::{ToolCall, Toolbox};
use crate::config::Config;
use crate::git::Repo;
use crate::git::path::display;
use crate::notebook::{self, Notebook};

use super::error::McpError;
use super::reply::Reply;

/// An open repository and notebook, with the snapshot's search indexes
/// and the configuration (whether embeddings are on).
#[derive(Clone, Copy)]
pub struct Open<'a> {
    pub repo: &'a Repo,
    pub nb: &'a Notebook,
    pub indexes: &'a SearchIndexes,
    pub config: &'a Config,
}

/// Runs one of the notebook's tools.
pub fn notebook_tool(open: Open<'_>, call: &ToolCall, max_tokens: u64) -> Result<Reply, McpError> {
    if let Some(path) = path_of(call)
        && let Err(refused) = confine(open.nb, path, max_tokens)
    {
        return Ok(Reply::from_tool(refused));
    }
    let mut tools = NotebookTools::with_indexes(open.nb, Some(open.repo), open.indexes);
    if matches!(call, ToolCall::Search { .. })
        && let Some(search) = open
            .nb
            .learned()
            .map_err(McpError::Notebook)?
            .and_then(|l| l.search)
    {
        tools.set_search_ranker(Arc::new(search));
    }
    if matches!(call, ToolCall::Search { .. }) {
        match crate::agent::predict::dense_for(open.nb, open.config) {
            Ok(Some(d)) => tools.set_dense(d),
            Ok(None) => {}
            Err(crate::agent::dense::DenseError::Store(e)) => return Err(McpError::Notebook(e)),
            Err(e) => tracing::warn!("the search goes on without embeddings: {e}"),
        }
    }
    let out = tools.call(call, max_tokens);
    match tools.take_query_error() {
        Some(e) => Err(McpError::Notebook(e)),
        None => Ok(Reply::from_tool(out)),
    }
}

/// `notebook_status`: the `status --json` object of the notebook.
pub fn status(
    repo: &Repo,
    state_dir: &Path,
    config: &Config,
    max_tokens: u64,
) -> Result<Reply, McpError> {
    let st = notebook::status(repo, state_dir, None, config).map_err(McpError::Status)?;
    Ok(Reply::json(&st, max_tokens))
}

/// The path a call names, if any.
fn path_of(call: &ToolCall) -> Option<&str> {
    match call {
        ToolCall::Card { path } | ToolCall::Cochange { path } | ToolCall::Read { path, .. } => {
            Some(path)
        }
        _ => None,
    }
}

/// A well-formed path of a file the snapshot lists, which is not a link;
/// else the error answer saying why.
fn confine(nb: &Notebook, path: &str, max_tokens: u64) -> Result<(), ToolOutput> {
    check_path(path, max_tokens)?;
    let shown = display(path);
    match nb.file(path) {
        None => Err(ToolOutput::error(
            format!("`{shown}` is not a file of this snapshot"),
            max_tokens,
        )),
        Some(f) if f.status == "symlink" => Err(ToolOutput::error(
            format!("`{shown}` is a symbolic link; links are never followed"),
            max_tokens,
        )),
        Some(_) => Ok(()),
    }
}
