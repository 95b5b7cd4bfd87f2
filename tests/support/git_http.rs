//! A loopback git server over git's "dumb" HTTP protocol (plain files of
//! bare repositories, after `git update-server-info`), behind Basic
//! authentication with one token: what a GitHub App installation's
//! `x-access-token` fetch meets. Real git objects, real git client.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;

struct Shared {
    root: PathBuf,
    token: String,
    /// Authorization headers seen (decoded `user:password`), and 401s sent.
    seen: Mutex<Vec<String>>,
    refused: Mutex<usize>,
}

/// The running server; stops when dropped.
pub struct GitServer {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl GitServer {
    /// Serves the bare repositories under `root` (`<owner>/<name>.git`),
    /// answering only requests that carry `x-access-token:<token>`.
    pub async fn start(root: &Path, token: &str) -> GitServer {
        let shared = Arc::new(Shared {
            root: root.to_path_buf(),
            token: token.to_string(),
            seen: Mutex::new(Vec::new()),
            refused: Mutex::new(0),
        });
        let app = axum::Router::new()
            .fallback(serve)
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("git server serves");
        });
        GitServer { addr, shared, task }
    }

    /// The clone URL of `owner/name`.
    pub fn url(&self, repo: &str) -> String {
        format!("http://{}/{repo}.git", self.addr)
    }

    /// The credentials git sent (`user:password`).
    pub fn credentials(&self) -> Vec<String> {
        self.shared.seen.lock().expect("lock").clone()
    }

    /// Requests refused for want of the token.
    pub fn refused(&self) -> usize {
        *self.shared.refused.lock().expect("lock")
    }
}

impl Drop for GitServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(State(shared): State<Arc<Shared>>, uri: Uri, headers: HeaderMap) -> Response {
    let given = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned());
    if let Some(g) = &given {
        shared.seen.lock().expect("lock").push(g.clone());
    }
    if given.as_deref() != Some(&format!("x-access-token:{}", shared.token)) {
        *shared.refused.lock().expect("lock") += 1;
        return (
            StatusCode::UNAUTHORIZED,
            [("www-authenticate", "Basic realm=\"git\"")],
            "authentication required",
        )
            .into_response();
    }
    let path = uri.path().trim_start_matches('/');
    if path.split('/').any(|s| s == ".." || s.is_empty()) {
        return StatusCode::BAD_REQUEST.into_response();
    }
    match std::fs::read(shared.root.join(path)) {
        Ok(bytes) => (StatusCode::OK, bytes).into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}
