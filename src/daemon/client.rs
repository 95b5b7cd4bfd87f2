//! Talking to a running daemon from the CLI: find it through its lock file
//! and make one blocking HTTP/1.1 request on loopback. `predict` and
//! `status` use it and fall back to working standalone when no daemon
//! answers.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use super::lock::{self, LOCK_FILE};

/// A daemon found through its lock file.
#[derive(Debug, Clone)]
pub struct DaemonHandle {
    pub pid: u32,
    pub addr: SocketAddr,
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

/// The daemon serving `state_dir`, if its lock names a live process and an
/// address.
pub fn find(state_dir: &Path) -> Option<DaemonHandle> {
    let text = std::fs::read_to_string(state_dir.join(LOCK_FILE)).ok()?;
    let owner = lock::parse(&text)?;
    if !lock::pid_alive(owner.pid) {
        return None;
    }
    let addr: SocketAddr = owner.addr.parse().ok()?;
    Some(DaemonHandle {
        pid: owner.pid,
        addr,
    })
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
        let io = |source| ClientError::Io { addr, source };
        let mut s =
            TcpStream::connect_timeout(&addr, timeout.min(Duration::from_secs(2))).map_err(io)?;
        s.set_read_timeout(Some(timeout)).map_err(io)?;
        s.set_write_timeout(Some(timeout)).map_err(io)?;
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
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
}
