//! [`GitHubError`]: every failure names the request (method and path) and,
//! when GitHub answered, the status. No variant holds a token or a key.

use std::time::Duration;

/// An error from the GitHub client.
#[derive(Debug, thiserror::Error)]
pub enum GitHubError {
    #[error("invalid github base url {url:?}: {reason}")]
    BaseUrl { url: String, reason: String },
    #[error("invalid github app private key: {reason}")]
    PrivateKey { reason: String },
    #[error("cannot build the github client: {reason}")]
    Build { reason: String },
    /// GitHub answered with an error status (a plain 403 is a permission
    /// error and lands here, not retried).
    #[error("{method} {path}: github answered {status}: {message}")]
    Status {
        method: String,
        path: String,
        status: u16,
        message: String,
    },
    /// Rate limited, and waiting for the limit to reset would take longer
    /// than `max_wait`.
    #[error(
        "{method} {path}: rate limited ({status}) until unix time {resets_at} \
         ({} s from now, more than max_wait {} s)",
        wait.as_secs(), max_wait.as_secs()
    )]
    RateLimited {
        method: String,
        path: String,
        status: u16,
        resets_at: u64,
        wait: Duration,
        max_wait: Duration,
    },
    /// 5xx answers or connection errors on every attempt.
    #[error("{method} {path}: gave up after {attempts} attempts: {last}")]
    Exhausted {
        method: String,
        path: String,
        attempts: u32,
        last: String,
    },
    /// A failure that retrying cannot fix (bad request, installation token
    /// refused, ...).
    #[error("{method} {path}: {message}")]
    Request {
        method: String,
        path: String,
        message: String,
    },
    #[error("{method} {path}: cannot decode github's answer: {source}")]
    Decode {
        method: String,
        path: String,
        source: serde_json::Error,
    },
}

impl GitHubError {
    /// The HTTP status GitHub answered, when the error carries one.
    pub fn status(&self) -> Option<u16> {
        match self {
            GitHubError::Status { status, .. } | GitHubError::RateLimited { status, .. } => {
                Some(*status)
            }
            _ => None,
        }
    }

    /// Whether GitHub answered 404.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }
}
