//! `swe-sleep mcp` beside a running daemon: each tool call is forwarded to
//! the daemon's `/mcp` (its warm notebook and shared indexes answer), with
//! every default made explicit so the answer is the one asked for. If the
//! daemon stops answering, the calls from then on are answered standalone.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::mcp::{Backend, McpError, Notifier, Reply, Request};

use super::app::MCP_PATH;
use super::client::{ClientError, DaemonHandle};

/// How long a forwarded call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(120);

/// Forwards to a daemon, falling back to another backend when it is gone.
pub struct Forward {
    daemon: DaemonHandle,
    fallback: Arc<dyn Backend>,
    gone: AtomicBool,
}

impl Forward {
    pub fn new(daemon: DaemonHandle, fallback: Arc<dyn Backend>) -> Forward {
        Forward {
            daemon,
            fallback,
            gone: AtomicBool::new(false),
        }
    }

    fn forward(&self, request: &Request) -> Result<Reply, ClientError> {
        let body = json!({
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": { "name": request.name(), "arguments": request.arguments() },
        });
        let answer = self.daemon.post(MCP_PATH, &body, CALL_TIMEOUT)?;
        Ok(reply_of(&answer))
    }
}

/// The reply in a JSON-RPC answer to `tools/call`.
fn reply_of(answer: &Value) -> Reply {
    if let Some(e) = answer.get("error") {
        let message = e["message"].as_str().unwrap_or("no message");
        return Reply::error(format!("the daemon refused the call: {message}"));
    }
    let result = &answer["result"];
    let text: Vec<&str> = result["content"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["text"].as_str())
        .collect();
    Reply {
        text: text.join("\n"),
        is_error: result["isError"].as_bool().unwrap_or(false),
    }
}

impl Backend for Forward {
    fn answer(&self, request: &Request, progress: &Notifier) -> Result<Reply, McpError> {
        if self.gone.load(Ordering::Relaxed) {
            return self.fallback.answer(request, progress);
        }
        match self.forward(request) {
            Ok(reply) => Ok(reply),
            Err(e @ (ClientError::Io { .. } | ClientError::Garbled { .. })) => {
                progress.say(format!(
                    "the daemon (pid {}) stopped answering ({e}); answering standalone from now on",
                    self.daemon.pid
                ));
                self.gone.store(true, Ordering::Relaxed);
                self.fallback.answer(request, progress)
            }
            Err(e) => Err(McpError::service(
                format!("the daemon (pid {}) could not answer", self.daemon.pid),
                e,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_and_errors_of_the_daemon_become_replies() {
        let ok = json!({"jsonrpc": "2.0", "id": 1, "result": {
            "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}});
        assert_eq!(reply_of(&ok), Reply::ok("a\nb"));
        let refused = json!({"jsonrpc": "2.0", "id": 1, "result": {
            "content": [{"type": "text", "text": "error: `../x` is not a file"}], "isError": true}});
        assert!(reply_of(&refused).is_error);
        let rpc = json!({"jsonrpc": "2.0", "id": 1, "error": {"code": -32602, "message": "bad"}});
        let r = reply_of(&rpc);
        assert!(r.is_error && r.text.contains("bad"), "{r:?}");
    }
}
