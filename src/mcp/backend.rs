//! Where a server's answers come from. The stdio server answers from the
//! notebook it opens itself ([`super::standalone::Standalone`]) or from a
//! daemon serving the repository (the daemon forwards to its own
//! prediction service); the daemon's `/mcp` answers from that service.
//! The protocol side ([`super::server`]) is the same for all of them.

use super::call::Request;
use super::error::McpError;
use super::progress::Notifier;
use super::reply::Reply;

/// Answers tool calls. Blocking: the server calls it on a blocking thread.
pub trait Backend: Send + Sync + 'static {
    /// Answers `request`; `progress` hears of a sleep the answer waits for.
    fn answer(&self, request: &Request, progress: &Notifier) -> Result<Reply, McpError>;
}
