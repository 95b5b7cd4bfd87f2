//! One request to GitHub, as swe-sleep's rules want it: writes one at a
//! time and at least `min_write_interval` apart; rate limits obeyed
//! (`retry-after`, `x-ratelimit-remaining: 0` + `x-ratelimit-reset`), each
//! wait capped by `max_wait`; 5xx and connection errors retried with
//! exponential backoff up to `max_attempts`. octocrab's own retry is off, so
//! this is the one place that decides. Every error text an attempt brings
//! back (GitHub's message, a connection error) passes the client's
//! [`Redactor`] before it is logged or returned.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

// The `http` crate octocrab speaks, through axum's re-export (the same crate;
// no extra dependency).
use axum::http::{self, HeaderMap, HeaderValue, header};
use octocrab::Octocrab;
use tokio::sync::Mutex;

use super::error::GitHubError;
use super::redact::Redactor;

/// The knobs of [`Transport`], copied from `ClientOptions`.
#[derive(Debug, Clone)]
pub(crate) struct Policy {
    pub min_write_interval: Duration,
    pub max_attempts: u32,
    pub max_wait: Duration,
    pub retry_base: Duration,
}

/// How long GitHub asks for when it rate limits without saying (its docs:
/// "wait at least one minute").
const UNSTATED_RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verb {
    Get,
    Post,
    Patch,
}

impl Verb {
    fn name(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Post => "POST",
            Verb::Patch => "PATCH",
        }
    }

    /// Anything but GET is a write (PUT and DELETE would be too).
    fn is_write(self) -> bool {
        self != Verb::Get
    }
}

/// A request: a path below the base URL (with its query), and what to send.
pub(crate) struct Request<'a> {
    pub verb: Verb,
    pub path: String,
    pub body: Option<&'a serde_json::Value>,
    pub etag: Option<&'a str>,
    /// Retry 5xx and connection errors. Off for a POST that must not be
    /// repeated blindly (it may have landed); rate-limit answers are always
    /// retried, since GitHub did not act on them.
    pub retry_errors: bool,
}

impl<'a> Request<'a> {
    pub fn get(path: String) -> Request<'a> {
        Request {
            verb: Verb::Get,
            path,
            body: None,
            etag: None,
            retry_errors: true,
        }
    }

    pub fn write(verb: Verb, path: String, body: &'a serde_json::Value) -> Request<'a> {
        Request {
            verb,
            path,
            body: Some(body),
            etag: None,
            retry_errors: true,
        }
    }
}

/// A successful (2xx or 304) answer.
#[derive(Debug)]
pub(crate) struct Response {
    pub status: u16,
    pub etag: Option<String>,
    /// Path and query of the `rel="next"` page, if any.
    pub next: Option<String>,
    pub body: String,
}

impl Response {
    pub fn json<T: serde::de::DeserializeOwned>(
        &self,
        verb: Verb,
        path: &str,
    ) -> Result<T, GitHubError> {
        serde_json::from_str(&self.body).map_err(|source| GitHubError::Decode {
            method: verb.name().into(),
            path: path.into(),
            source,
        })
    }
}

/// Sends requests under the [`Policy`]; shared by every clone of a client.
#[derive(Debug)]
pub(crate) struct Transport {
    policy: Policy,
    /// When the last write finished; held while a write is in flight.
    last_write: Mutex<Option<Instant>>,
    redactor: Redactor,
}

/// What one attempt came to.
enum Attempt {
    Done(Response),
    /// Wait this long, then try again (rate limited).
    RateLimited {
        status: u16,
        wait: Duration,
        resets_at: u64,
    },
    /// A 5xx or a connection error: worth another attempt.
    Transient(String),
    /// Final: an error status or a request that cannot succeed.
    Failed(GitHubError),
}

impl Transport {
    pub fn new(policy: Policy) -> Transport {
        Transport {
            policy,
            last_write: Mutex::new(None),
            redactor: Redactor::default(),
        }
    }

    /// Removes the client's secrets (and, as without this, credential
    /// shapes) from error texts.
    pub fn with_redactor(mut self, redactor: Redactor) -> Transport {
        self.redactor = redactor;
        self
    }

    /// The attempt with its error texts redacted.
    fn redacted(&self, outcome: Attempt) -> Attempt {
        match outcome {
            Attempt::Failed(e) => Attempt::Failed(self.redactor.error(e)),
            Attempt::Transient(last) => Attempt::Transient(self.redactor.redact(&last)),
            other => other,
        }
    }

    pub async fn send(&self, crab: &Octocrab, req: &Request<'_>) -> Result<Response, GitHubError> {
        let method = req.verb.name();
        let max_attempts = self.policy.max_attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = if req.verb.is_write() {
                let mut last = self.last_write.lock().await;
                if let Some(at) = *last {
                    let ready = at + self.policy.min_write_interval;
                    tokio::time::sleep_until(ready.into()).await;
                }
                let outcome = once(crab, req).await;
                *last = Some(Instant::now());
                outcome
            } else {
                once(crab, req).await
            };
            let wait = match self.redacted(outcome) {
                Attempt::Done(response) => return Ok(response),
                Attempt::Failed(err) => return Err(err),
                Attempt::RateLimited {
                    status,
                    wait,
                    resets_at,
                } => {
                    if wait > self.policy.max_wait {
                        return Err(GitHubError::RateLimited {
                            method: method.into(),
                            path: req.path.clone(),
                            status,
                            resets_at,
                            wait,
                            max_wait: self.policy.max_wait,
                        });
                    }
                    if attempt >= max_attempts {
                        return Err(GitHubError::Exhausted {
                            method: method.into(),
                            path: req.path.clone(),
                            attempts: attempt,
                            last: format!("rate limited ({status}) until unix time {resets_at}"),
                        });
                    }
                    tracing::warn!(
                        "{method} {}: rate limited ({status}); waiting {} ms",
                        req.path,
                        wait.as_millis()
                    );
                    wait
                }
                Attempt::Transient(last) => {
                    if !req.retry_errors || attempt >= max_attempts {
                        return Err(GitHubError::Exhausted {
                            method: method.into(),
                            path: req.path.clone(),
                            attempts: attempt,
                            last,
                        });
                    }
                    let wait = self.backoff(attempt);
                    tracing::warn!(
                        "{method} {}: {last}; retrying in {} ms",
                        req.path,
                        wait.as_millis()
                    );
                    wait
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// `retry_base`, doubled after each attempt, capped by `max_wait`.
    fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(16);
        (self.policy.retry_base * factor).min(self.policy.max_wait)
    }
}

async fn once(crab: &Octocrab, req: &Request<'_>) -> Attempt {
    let method = req.verb.name();
    let fail = |message: String| {
        Attempt::Failed(GitHubError::Request {
            method: method.into(),
            path: req.path.clone(),
            message,
        })
    };
    let uri = match req.path.parse::<http::Uri>() {
        Ok(uri) => uri,
        Err(e) => return fail(format!("invalid path: {e}")),
    };
    let sent = match req.verb {
        Verb::Get => {
            let mut headers = HeaderMap::new();
            if let Some(etag) = req.etag {
                match HeaderValue::from_str(etag) {
                    Ok(v) => {
                        headers.insert(header::IF_NONE_MATCH, v);
                    }
                    Err(_) => return fail(format!("invalid etag {etag:?}")),
                }
            }
            crab._get_with_headers(uri, Some(headers)).await
        }
        Verb::Post => crab._post(uri, req.body).await,
        Verb::Patch => crab._patch(uri, req.body).await,
    };
    let response = match sent {
        Ok(response) => response,
        Err(err) => return octocrab_failure(err, method, &req.path),
    };
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = match crab.body_to_string(response).await {
        Ok(body) => body,
        Err(err) => return Attempt::Transient(describe(&err)),
    };
    if (200..300).contains(&status) || status == 304 {
        return Attempt::Done(Response {
            status,
            etag: header_str(&headers, "etag").map(str::to_string),
            next: header_str(&headers, "link").and_then(next_link),
            body,
        });
    }
    let message = github_message(&body);
    if let Some((wait, resets_at)) = rate_limit_wait(status, &headers, &message) {
        return Attempt::RateLimited {
            status,
            wait,
            resets_at,
        };
    }
    if status >= 500 {
        return Attempt::Transient(format!("github answered {status}: {message}"));
    }
    Attempt::Failed(GitHubError::Status {
        method: method.into(),
        path: req.path.clone(),
        status,
        message,
    })
}

/// An error before any answer: a connection failure (transient), or the
/// installation token request failing inside octocrab.
fn octocrab_failure(err: octocrab::Error, method: &str, path: &str) -> Attempt {
    match &err {
        octocrab::Error::GitHub { source, .. } => {
            let status = source.status_code.as_u16();
            let message = format!(
                "fetching the installation token: github answered {status}: {}",
                source.message
            );
            if status >= 500 || status == 429 {
                Attempt::Transient(message)
            } else {
                Attempt::Failed(GitHubError::Request {
                    method: method.into(),
                    path: path.into(),
                    message,
                })
            }
        }
        octocrab::Error::Service { .. } | octocrab::Error::Hyper { .. } => {
            Attempt::Transient(describe(&err))
        }
        _ => Attempt::Failed(GitHubError::Request {
            method: method.into(),
            path: path.into(),
            message: describe(&err),
        }),
    }
}

/// An error and its sources on one line, without octocrab's backtraces.
fn describe(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        let line = text.lines().next().unwrap_or_default().trim().to_string();
        if !line.is_empty() && !parts.iter().any(|p| p.contains(&line)) {
            parts.push(line);
        }
        next = e.source();
    }
    parts.join(": ")
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// GitHub's `message` field, or the start of the body.
fn github_message(body: &str) -> String {
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        message: String,
    }
    match serde_json::from_str::<ErrorBody>(body) {
        Ok(e) => e.message,
        Err(_) => body.chars().take(200).collect(),
    }
}

/// How long a 403/429 asks us to wait, and when (unix seconds) that is;
/// `None` when it is not a rate limit (a plain 403 is a permission error).
fn rate_limit_wait(status: u16, headers: &HeaderMap, message: &str) -> Option<(Duration, u64)> {
    if status != 403 && status != 429 {
        return None;
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let number = |name| header_str(headers, name).and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(secs) = number("retry-after") {
        return Some((Duration::from_secs(secs), now.as_secs() + secs));
    }
    if number("x-ratelimit-remaining") == Some(0) {
        if let Some(reset) = number("x-ratelimit-reset") {
            let wait = Duration::from_secs(reset).saturating_sub(now);
            return Some((wait, reset));
        }
    }
    if status == 429 || message.to_lowercase().contains("secondary rate limit") {
        let wait = UNSTATED_RATE_LIMIT_WAIT;
        return Some((wait, now.as_secs() + wait.as_secs()));
    }
    None
}

/// The path and query of the `rel="next"` URL in a `Link` header.
fn next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        if !params.split(';').any(|p| p.trim() == "rel=\"next\"") {
            return None;
        }
        let url = url.trim().strip_prefix('<')?.strip_suffix('>')?;
        let uri = url.parse::<http::Uri>().ok()?;
        uri.path_and_query().map(|pq| pq.as_str().to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_link_is_a_path() {
        let link = "<https://api.github.com/repositories/1/issues?page=2>; rel=\"next\", \
                    <https://api.github.com/repositories/1/issues?page=5>; rel=\"last\"";
        assert_eq!(
            next_link(link).as_deref(),
            Some("/repositories/1/issues?page=2")
        );
        assert_eq!(next_link("<https://x/y?page=1>; rel=\"prev\""), None);
    }

    #[test]
    fn plain_403_is_not_a_rate_limit() {
        let mut h = HeaderMap::new();
        assert!(rate_limit_wait(403, &h, "Resource not accessible by integration").is_none());
        assert!(rate_limit_wait(429, &h, "").is_some());
        assert!(rate_limit_wait(403, &h, "You have exceeded a secondary rate limit").is_some());
        h.insert("retry-after", HeaderValue::from_static("3"));
        let (wait, _) = rate_limit_wait(403, &h, "").expect("retry-after");
        assert_eq!(wait, Duration::from_secs(3));
        assert!(rate_limit_wait(500, &h, "").is_none());
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let t = Transport::new(Policy {
            min_write_interval: Duration::ZERO,
            max_attempts: 5,
            max_wait: Duration::from_millis(300),
            retry_base: Duration::from_millis(100),
        });
        assert_eq!(t.backoff(1), Duration::from_millis(100));
        assert_eq!(t.backoff(2), Duration::from_millis(200));
        assert_eq!(t.backoff(3), Duration::from_millis(300));
    }
}
