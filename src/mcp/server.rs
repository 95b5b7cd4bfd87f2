//! The protocol side: an rmcp [`ServerHandler`] that lists the tools
//! ([`super::catalog`]), checks each call once ([`super::call`]), runs it
//! on a blocking thread through a [`Backend`], and answers its text, as an
//! error result when the tool refused (a path outside the snapshot) or
//! failed. A caller's mistake (an unknown tool, bad arguments) is a
//! protocol error. Progress of a sleep the call waits for goes out as
//! notifications before the answer.

use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResult, Content, ErrorData, Implementation, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerInfo,
};
use rmcp::service::RequestContext;
use rmcp::{RoleServer, ServerHandler};

use super::backend::Backend;
use super::call::{Defaults, Request};
use super::catalog;
use super::error::chain;
use super::progress::{Listener, Notifier, forward};
use super::reply::Reply;

const INSTRUCTIONS: &str = "swe-sleep keeps a precomputed notebook of this repository (a card \
per file, indexes over code, symbols, paths and pull-request history). Call predict_files with \
the task first to learn which existing files it will modify; explore with search, file_card, \
similar_prs, cochange and symbol instead of grepping. Every tool takes max_tokens to limit its \
answer.";

/// One MCP server over a backend.
#[derive(Clone)]
pub struct Server {
    backend: Arc<dyn Backend>,
    defaults: Defaults,
    /// Whether progress and log notifications may be sent (not where each
    /// request gets exactly one message back: stateless HTTP).
    notifies: bool,
}

impl Server {
    /// Arguments a call leaves out get `defaults`.
    pub fn new(backend: Arc<dyn Backend>, defaults: Defaults) -> Server {
        Server {
            backend,
            defaults,
            notifies: true,
        }
    }

    /// The same server, sending no notifications.
    pub fn without_notifications(mut self) -> Server {
        self.notifies = false;
        self
    }

    /// Answers one call (what `call_tool` does, without the transport).
    pub async fn call(
        &self,
        params: CallToolRequestParams,
        listener: Option<Listener>,
    ) -> Result<CallToolResult, ErrorData> {
        let request = Request::parse(&params.name, params.arguments, &self.defaults)
            .map_err(|e| ErrorData::invalid_params(chain(&e), None))?;
        let (notifier, events) = match listener {
            Some(_) => {
                let (n, rx) = Notifier::channel();
                (n, Some(rx))
            }
            None => (Notifier::silent(), None),
        };
        let forwarding = match (events, listener) {
            (Some(rx), Some(l)) => Some(tokio::spawn(forward(rx, l))),
            _ => None,
        };
        let backend = self.backend.clone();
        let name = request.name();
        let answered =
            tokio::task::spawn_blocking(move || backend.answer(&request, &notifier)).await;
        // The notifier is dropped with the closure: the forwarder ends once
        // it has sent everything, before the answer goes out.
        if let Some(f) = forwarding {
            let _ = f.await;
        }
        let reply = match answered {
            Ok(Ok(reply)) => reply,
            Ok(Err(e)) => {
                tracing::warn!("{name}: {}", e.chain());
                Reply::error(e.chain())
            }
            Err(e) => {
                return Err(ErrorData::internal_error(
                    format!("the `{name}` call did not finish: {e}"),
                    None,
                ));
            }
        };
        let content = vec![Content::text(reply.text)];
        Ok(if reply.is_error {
            CallToolResult::error(content)
        } else {
            CallToolResult::success(content)
        })
    }
}

impl ServerHandler for Server {
    fn get_info(&self) -> ServerInfo {
        ServerInfo::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("swe-sleep", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(catalog::tools()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let listener = self.notifies.then(|| Listener {
            token: context.meta.get_progress_token(),
            peer: context.peer,
        });
        self.call(request, listener).await
    }
}
