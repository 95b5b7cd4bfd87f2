//! MCP in tests: the official Python SDK's client (`tests/mcp/client.py`),
//! found or skipped loudly, and a bare JSON-RPC driver of `swe-sleep mcp`
//! over stdio that keeps every line the server printed.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio as Piped};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

/// The SDK version `.ci/run` installs.
pub const SDK_VERSION: &str = "2.3.0";

/// How long one answer may take (a first call sleeps first).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(300);

/// A Python with the MCP SDK: `MCP_TEST_PYTHON` (what `.ci/run` sets),
/// else the venv `.ci/run` makes in the target directory, else `python3`
/// if it has the SDK. `None`, said loudly on stderr, only when
/// `SKIP_MCP_TESTS=1` or no such Python exists.
pub fn python_sdk(test: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("MCP_TEST_PYTHON").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    if std::env::var("SKIP_MCP_TESTS").as_deref() == Ok("1") {
        eprintln!("!! SKIPPED {test}: SKIP_MCP_TESTS=1 (the MCP Python SDK client is not run)");
        return None;
    }
    let venv = target_dir().join("mcp-venv/bin/python");
    let found = [venv, PathBuf::from("python3")].into_iter().find(|p| {
        Command::new(p)
            .args(["-c", "import mcp"])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if found.is_none() {
        eprintln!(
            "!! SKIPPED {test}: no Python with the MCP SDK (run .ci/run, or `python3 -m venv {}` \
             and `pip install mcp=={SDK_VERSION}` there, or set MCP_TEST_PYTHON)",
            target_dir().join("mcp-venv").display()
        );
    }
    found
}

/// Cargo's target directory (the parent of `CARGO_TARGET_TMPDIR`).
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("target"))
}

/// Runs `tests/mcp/client.py` with `args`; its JSON report.
pub fn python_client(python: &Path, args: &[&str]) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp/client.py");
    let out = Command::new(python)
        .arg(&script)
        .args(args)
        .env_remove("SWE_SLEEP_LOG")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the MCP client failed ({}):\n{}\n{}",
        out.status,
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("the client's report is not JSON ({e}): {stdout}"))
}

/// `swe-sleep mcp` driven line by line.
pub struct StdioServer {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    /// Every line the server wrote on stdout, in order.
    pub stdout: Vec<String>,
    /// What it wrote on stderr so far.
    stderr: Arc<Mutex<String>>,
    stderr_reader: Option<std::thread::JoinHandle<()>>,
    next_id: u64,
}

impl StdioServer {
    /// Starts `cmd` (a `swe-sleep mcp ...` command) and initialises it.
    pub fn start(mut cmd: Command) -> (StdioServer, Value) {
        let mut child = cmd
            .stdin(Piped::piped())
            .stdout(Piped::piped())
            .stderr(Piped::piped())
            .spawn()
            .expect("start swe-sleep mcp");
        let out = child.stdout.take().expect("stdout");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let err = child.stderr.take().expect("stderr");
        let sink = stderr.clone();
        let stderr_reader = std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                let mut s = sink.lock().unwrap_or_else(|e| e.into_inner());
                s.push_str(&line);
                s.push('\n');
            }
        });
        let stdin = child.stdin.take();
        let mut server = StdioServer {
            child,
            stdin,
            lines,
            stdout: Vec::new(),
            stderr,
            stderr_reader: Some(stderr_reader),
            next_id: 0,
        };
        let init = server.request(
            "initialize",
            json!({
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": { "name": "swe-sleep-tests", "version": "1" },
            }),
        );
        server.send(&json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }));
        (server, init)
    }

    fn send(&mut self, message: &Value) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        writeln!(stdin, "{message}").expect("write to the server");
        stdin.flush().expect("flush");
    }

    /// Sends a request; returns the whole answer (`result` or `error`),
    /// after any notifications the server sent before it.
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(&json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        loop {
            let line = match self.lines.recv_timeout(ANSWER_TIMEOUT) {
                Ok(l) => l,
                Err(RecvTimeoutError::Timeout) => panic!("no answer to {method} in time"),
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("the server closed stdout; stderr:\n{}", self.stderr())
                }
            };
            self.stdout.push(line.clone());
            let Ok(v) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if v["id"] == json!(id) {
                return v;
            }
        }
    }

    /// `tools/call`; returns its `result` (`content`, `isError`).
    pub fn call_tool(&mut self, name: &str, arguments: Value) -> Value {
        self.call_tool_with(name, arguments, None)
    }

    /// [`StdioServer::call_tool`] asking for progress under `token`.
    pub fn call_tool_with(&mut self, name: &str, arguments: Value, token: Option<&str>) -> Value {
        let mut params = json!({ "name": name, "arguments": arguments });
        if let Some(t) = token {
            params["_meta"] = json!({ "progressToken": t });
        }
        let answer = self.request("tools/call", params);
        assert!(answer.get("error").is_none(), "{name}: {answer}");
        answer["result"].clone()
    }

    pub fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Closes stdin and waits for the server to exit; every stdout line.
    pub fn finish(mut self) -> (Vec<String>, String) {
        drop(self.stdin.take());
        let status = self.child.wait().expect("wait for the server");
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.stdout.push(line);
        }
        if let Some(reader) = self.stderr_reader.take() {
            let _ = reader.join();
        }
        assert!(status.success(), "mcp exited {status}:\n{}", self.stderr());
        (self.stdout.clone(), self.stderr())
    }
}

/// The text of a tool result.
pub fn text(result: &Value) -> String {
    result["content"]
        .as_array()
        .expect("content")
        .iter()
        .filter_map(|c| c["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether a tool result is an error result.
pub fn is_error(result: &Value) -> bool {
    result["isError"].as_bool().unwrap_or(false)
}
