//! MCP in the daemon: `/mcp` answers from the warm prediction service
//! ([`super::service`]: the pool of open readers, the shared search
//! indexes), so a coding agent's call costs what a `/predict` costs, and
//! its predictions are counted and shown on the page like the API's. The
//! route sits behind the same access layer as the others ([`super::app`]).

use std::sync::Arc;
use std::time::Instant;

use crate::agent::PolicyKind;
use crate::git::Repo;
use crate::mcp::local::{self, Open};
use crate::mcp::{Backend, Call, Defaults, McpError, Notifier, Reply, Request, Server};

use super::state::Shared;

/// The daemon's answers to MCP calls.
pub struct DaemonBackend {
    shared: Arc<Shared>,
}

impl DaemonBackend {
    pub fn new(shared: Arc<Shared>) -> DaemonBackend {
        DaemonBackend { shared }
    }
}

impl Backend for DaemonBackend {
    fn answer(&self, request: &Request, _progress: &Notifier) -> Result<Reply, McpError> {
        let s = &self.shared;
        let failed = |e| McpError::service("the daemon cannot answer", e);
        match &request.call {
            Call::PredictFiles(q) => {
                let started = Instant::now();
                let answer = s.predict(q, PolicyKind::Offline, None).map_err(failed)?;
                s.answered(q.request(), &answer, started.elapsed());
                Ok(Reply::prediction(&answer, request.max_tokens))
            }
            Call::Notebook(call) => s
                .service
                .with_reader(|repo, nb, indexes| {
                    local::notebook_tool(
                        Open {
                            repo,
                            nb,
                            indexes,
                            config: &s.config,
                        },
                        call,
                        request.max_tokens,
                    )
                })
                .map_err(failed)?,
            Call::Status => {
                let repo = Repo::open(&s.repo_path).map_err(McpError::Repo)?;
                local::status(&repo, &s.state_dir, &s.config, request.max_tokens)
            }
        }
    }
}

/// The MCP server of the daemon's `/mcp` route.
pub fn server(shared: Arc<Shared>) -> Server {
    let defaults = Defaults::from_config(&shared.config);
    Server::new(Arc::new(DaemonBackend::new(shared)), defaults)
}
