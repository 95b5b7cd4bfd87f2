//! HTTP for the providers: one JSON POST with a timeout per attempt,
//! retried by [`super::retry`]. Synchronous on the outside: a private
//! current-thread tokio runtime drives reqwest on a scoped thread, so it can
//! be called from any thread (the agent loop's policies are synchronous and
//! run on blocking threads), even one inside another runtime.

use std::time::{Duration, Instant};

use super::error::LlmError;
use super::retry::{self, RetryPolicy};

/// Longest error body kept in an error message.
const MAX_ERROR_BODY: usize = 600;

pub struct Transport {
    client: reqwest::Client,
    rt: Option<tokio::runtime::Runtime>,
    retry: RetryPolicy,
}

/// A successful answer.
pub struct Answer {
    pub body: serde_json::Value,
    pub attempts: u32,
    pub latency: Duration,
}

/// What went wrong with the last attempt, for the error after the last.
enum Failure {
    Status { status: u16, body: String },
    Connect(String),
}

impl Transport {
    pub fn new(timeout: Duration, retry: RetryPolicy) -> Result<Transport, LlmError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(30)))
            .build()
            .map_err(|e| LlmError::Client(e.to_string()))?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| LlmError::Client(e.to_string()))?;
        Ok(Transport {
            client,
            rt: Some(rt),
            retry,
        })
    }

    /// POSTs `body` as JSON to `url` with `headers`; retries what is worth
    /// retrying. A 4xx other than 408/429 is returned at once.
    pub fn post_json(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: &serde_json::Value,
    ) -> Result<Answer, LlmError> {
        let rt = self.rt.as_ref().expect("the runtime lives until drop");
        let fut = self.attempts(url, headers, body);
        std::thread::scope(|s| {
            s.spawn(|| rt.block_on(fut))
                .join()
                .unwrap_or_else(|_| Err(LlmError::Client("the http thread panicked".into())))
        })
    }

    async fn attempts(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: &serde_json::Value,
    ) -> Result<Answer, LlmError> {
        let started = Instant::now();
        let max = self.retry.max_attempts.max(1);
        let mut attempt = 1;
        loop {
            let mut req = self.client.post(url).json(body);
            for (k, v) in headers {
                req = req.header(*k, v);
            }
            let (failure, asked) = match req.send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let header = |name: &str| {
                        resp.headers()
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_string)
                    };
                    let asked = retry::asked_delay(
                        header("retry-after").as_deref(),
                        header("retry-after-ms").as_deref(),
                    );
                    let text = resp.text().await;
                    match (status, text) {
                        (200..=299, Ok(text)) => {
                            let body =
                                serde_json::from_str(&text).map_err(|e| LlmError::Decode {
                                    url: url.to_string(),
                                    message: format!("the body is not JSON ({e})"),
                                })?;
                            return Ok(Answer {
                                body,
                                attempts: attempt,
                                latency: started.elapsed(),
                            });
                        }
                        (_, Err(e)) => (Failure::Connect(e.to_string()), asked),
                        (status, Ok(text)) if !retry::retryable(status) => {
                            return Err(LlmError::Status {
                                url: url.to_string(),
                                status,
                                attempts: attempt,
                                body: cut(&text),
                            });
                        }
                        (status, Ok(text)) => (
                            Failure::Status {
                                status,
                                body: cut(&text),
                            },
                            asked,
                        ),
                    }
                }
                Err(e) => (Failure::Connect(error_chain(&e)), None),
            };
            if attempt >= max {
                return Err(match failure {
                    Failure::Status { status, body } => LlmError::Status {
                        url: url.to_string(),
                        status,
                        attempts: attempt,
                        body,
                    },
                    Failure::Connect(message) => LlmError::Connect {
                        url: url.to_string(),
                        attempts: attempt,
                        message,
                    },
                });
            }
            attempt += 1;
            let wait = self.retry.delay(attempt, asked);
            tracing::info!(url, attempt, ?wait, "retrying a model call");
            tokio::time::sleep(wait).await;
        }
    }
}

impl Drop for Transport {
    fn drop(&mut self) {
        // Dropping a runtime inside another one panics; this does not.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

fn cut(text: &str) -> String {
    let t = text.trim();
    if t.len() <= MAX_ERROR_BODY {
        return t.to_string();
    }
    let mut end = MAX_ERROR_BODY;
    while !t.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &t[..end])
}

/// The error and its causes on one line (reqwest's own message is terse).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        out.push_str(": ");
        out.push_str(&s.to_string());
        src = s.source();
    }
    out
}
