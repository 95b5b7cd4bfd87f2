//! The two ways the server is reached: stdio (a client starts
//! `swe-sleep mcp` and talks over its stdin and stdout, which then carry
//! nothing but protocol messages) and streamable HTTP, stateless, each
//! request answered with one JSON message (the daemon's `/mcp`, behind its
//! access layer, which checks `Host` and the token before this runs).

use std::sync::Arc;

use rmcp::ServiceExt;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};

use super::error::McpError;
use super::server::Server;

/// Serves `server` on stdin and stdout until the client closes stdin.
pub async fn serve_stdio(server: Server) -> Result<(), McpError> {
    let running = server
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| McpError::service("the MCP client did not initialise", e))?;
    running
        .waiting()
        .await
        .map_err(|e| McpError::service("the MCP server stopped", e))?;
    Ok(())
}

/// `server` as a tower service for an HTTP route: stateless (no session
/// to keep), plain JSON answers (no event stream to frame), and no `Host`
/// check of its own, since the daemon's access layer has made it.
pub fn http_service(server: Server) -> StreamableHttpService<Server, NeverSessionManager> {
    let config = StreamableHttpServerConfig::default()
        .with_stateful_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None)
        .disable_allowed_hosts();
    let server = server.without_notifications();
    StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(NeverSessionManager::default()),
        config,
    )
}
