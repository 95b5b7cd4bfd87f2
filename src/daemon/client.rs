//! Talking to a running daemon from the CLI: find it through its lock file
//! and make one blocking HTTP/1.1 request on loopback. `predict` and
//! `status` use it and fall back to working standalone when no daemon
//! answers.
//!
//! A lock is believed only when its process still runs (the same pid and
//! start time, [`super::process`]) and its address answers `/healthz` as a
//! swe-sleep daemon with that pid (`x-swe-sleep-pid`); only then is the
//! daemon's token (from `daemon.token` beside the lock) sent to it.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use crate::secret::Secret;

use super::lock::{self, LOCK_FILE};
use super::refusal::PID_HEADER;

/// What the client takes: JSON, and (as `/mcp` wants every client to say)
/// an event stream, which the daemon's stateless `/mcp` never sends.
const ACCEPT: &str = "application/json, text/event-stream";

/// How long finding a daemon may take to ask it who it is.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// A daemon found through its lock file.
#[derive(Debug, Clone)]
pub struct DaemonHandle {
    pub pid: u32,
    pub addr: SocketAddr,
    /// The API token the daemon published, sent as `Authorization: Bearer`.
    token: Option<Secret>,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("the daemon at {addr}: {source}")]
    Io {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the daemon at {addr} sent an answer that is not HTTP")]
    Garbled { addr: SocketAddr },
    #[error("the daemon at {addr} answered {status}: {message}")]
    Status {
        addr: SocketAddr,
        status: u16,
        message: String,
    },
}

/// The daemon serving `state_dir`, if its lock names a running process and
/// an address where that process answers as a swe-sleep daemon.
pub fn find(state_dir: &Path) -> Option<DaemonHandle> {
    let text = std::fs::read_to_string(state_dir.join(LOCK_FILE)).ok()?;
    let owner = lock::parse(&text)?;
    if !owner.is_running() {
        return None;
    }
    let addr = reachable(owner.addr.parse().ok()?);
    if identify(addr, PROBE_TIMEOUT) != Some(owner.pid) {
        return None;
    }
    Some(DaemonHandle {
        pid: owner.pid,
        addr,
        token: super::token_file::read(state_dir),
    })
}

/// The pid of the swe-sleep daemon answering at `addr`, if one does. Any
/// status will do (a degraded daemon is still the daemon): every answer of
/// a swe-sleep daemon names its pid.
pub fn identify(addr: SocketAddr, timeout: Duration) -> Option<u32> {
    let probe = DaemonHandle {
        pid: 0,
        addr: reachable(addr),
        token: None,
    };
    let answer = probe.exchange("GET", "/healthz", None, timeout).ok()?;
    header(&answer.head, PID_HEADER)?.parse().ok()
}

/// Where to connect to a daemon listening on `addr`: loopback for an
/// unspecified address (`0.0.0.0`, `::`).
fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), addr.port())
        }
        _ => addr,
    }
}

/// One raw answer: status, header block, body (de-chunked).
struct RawAnswer {
    status: u16,
    head: String,
    payload: Vec<u8>,
}

impl DaemonHandle {
    /// `GET path`, the body as JSON.
    pub fn get(&self, path: &str, timeout: Duration) -> Result<serde_json::Value, ClientError> {
        self.call("GET", path, None, timeout)
    }

    /// `POST path` with a JSON body, the answer as JSON.
    pub fn post(
        &self,
        path: &str,
        body: &serde_json::Value,
        timeout: Duration,
    ) -> Result<serde_json::Value, ClientError> {
        self.call("POST", path, Some(body), timeout)
    }

    fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
        timeout: Duration,
    ) -> Result<serde_json::Value, ClientError> {
        let addr = self.addr;
        let RawAnswer {
            status, payload, ..
        } = self.exchange(method, path, body, timeout)?;
        let value: serde_json::Value = serde_json::from_slice(&payload).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(&payload).into_owned())
        });
        if status != 200 {
            let message = value
                .get("error")
                .and_then(|e| e.as_str())
                .map_or_else(|| value.to_string(), str::to_string);
            return Err(ClientError::Status {
                addr,
                status,
                message,
            });
        }
        Ok(value)
    }

    /// Sends one request (with the token, if any) and reads the answer.
    fn exchange(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
        timeout: Duration,
    ) -> Result<RawAnswer, ClientError> {
        let addr = self.addr;
        let io = |source| ClientError::Io { addr, source };
        let mut s =
            TcpStream::connect_timeout(&addr, timeout.min(Duration::from_secs(2))).map_err(io)?;
        // One small request, one answer: nothing to gain from Nagle's delay.
        s.set_nodelay(true).map_err(io)?;
        s.set_read_timeout(Some(timeout)).map_err(io)?;
        s.set_write_timeout(Some(timeout)).map_err(io)?;
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let auth = self
            .token
            .as_ref()
            .map(|t| format!("Authorization: Bearer {}\r\n", t.expose()))
            .unwrap_or_default();
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nAccept: {ACCEPT}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).map_err(io)?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).map_err(io)?;
        let (status, chunked, payload) =
            split_response(&raw).ok_or(ClientError::Garbled { addr })?;
        let payload = if chunked {
            dechunk(payload).ok_or(ClientError::Garbled { addr })?
        } else {
            payload.to_vec()
        };
        let end = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or(raw.len());
        let head = String::from_utf8_lossy(&raw[..end]).into_owned();
        Ok(RawAnswer {
            status,
            head,
            payload,
        })
    }
}

/// The value of header `name` in a response's header block.
fn header<'h>(head: &'h str, name: &str) -> Option<&'h str> {
    head.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// (status, chunked, body) of a raw HTTP/1.1 response.
fn split_response(raw: &[u8]) -> Option<(u16, bool, &[u8])> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    });
    Some((status, chunked, &raw[end + 4..]))
}

fn dechunk(mut s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = s.windows(2).position(|w| w == b"\r\n")?;
        let size = std::str::from_utf8(&s[..line_end]).ok()?;
        let n = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        s = &s[line_end + 2..];
        if n == 0 {
            return Some(out);
        }
        out.extend_from_slice(s.get(..n)?);
        s = s.get(n..)?;
        s = s.strip_prefix(b"\r\n").unwrap_or(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_plain_and_chunked() {
        let raw = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(split_response(raw), Some((200, false, &b"{}"[..])));
        let raw = b"HTTP/1.1 503 Service Unavailable\r\ntransfer-encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n";
        let (status, chunked, body) = split_response(raw).expect("a response");
        assert_eq!((status, chunked), (503, true));
        assert_eq!(dechunk(body).expect("chunks"), b"{\"a\":1}");
        assert!(split_response(b"garbage").is_none());
    }

    #[test]
    fn no_lock_no_daemon() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(find(dir.path()).is_none());
        std::fs::write(
            dir.path().join(LOCK_FILE),
            "pid=4294967\naddr=127.0.0.1:1\n",
        )
        .expect("write");
        assert!(find(dir.path()).is_none(), "a dead pid is no daemon");
    }

    #[test]
    fn headers_are_found_by_name() {
        let head = "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nX-Swe-Sleep-Pid: 42";
        assert_eq!(header(head, PID_HEADER), Some("42"));
        assert_eq!(header(head, "server"), None);
    }
}
