//! Why a tool could not answer. The caller's mistakes (an unknown tool,
//! bad arguments) are [`super::call::CallError`]; a path outside the
//! snapshot is an error *answer* ([`super::reply::Reply::error`]); these
//! are the failures behind the tools, each keeping its cause.

use crate::git::GitError;
use crate::notebook::{NotebookError, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum McpError {
    #[error("cannot open the repository")]
    Repo(#[source] GitError),
    #[error("a notebook query failed")]
    Notebook(#[source] StoreError),
    #[error("sleeping before the answer failed")]
    Sleep(#[source] NotebookError),
    #[error("reading the notebook's status failed")]
    Status(#[source] NotebookError),
    #[error("no notebook right after sleeping in {0}")]
    NoNotebook(std::path::PathBuf),
    /// A failure of the daemon's prediction service, or of the daemon a
    /// call was forwarded to.
    #[error("{what}")]
    Service {
        what: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl McpError {
    /// `what`, caused by `source`.
    pub fn service(
        what: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> McpError {
        McpError::Service {
            what: what.into(),
            source: source.into(),
        }
    }

    /// The error and its causes on one line, each cause once.
    pub fn chain(&self) -> String {
        chain(self)
    }
}

/// `e` and its causes, `: `-separated, a cause the line already holds left
/// out (a message that quotes its source).
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chain_names_every_cause_once() {
        let e = McpError::service(
            "the daemon at 127.0.0.1:1 did not answer",
            std::io::Error::other("connection refused"),
        );
        assert_eq!(
            e.chain(),
            "the daemon at 127.0.0.1:1 did not answer: connection refused"
        );
        let quoted = McpError::service("boom: inner", std::io::Error::other("inner"));
        assert_eq!(quoted.chain(), "boom: inner");
    }
}
