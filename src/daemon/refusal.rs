//! Refusals: every answer with an error status is `{"error": "..."}` and is
//! counted by reason and status for `/metrics`.
//!
//! Code that refuses a request returns a [`Refusal`], which names its
//! reason. [`finish`], the outermost layer, sees every answer: it counts
//! each error, turns the few that are not JSON yet (axum's 405, a panic's
//! 500) into JSON, and stamps the daemon's pid (`x-swe-sleep-pid`), by
//! which the CLI knows it talks to a swe-sleep daemon. Refusals that never
//! reach a handler (too many connections, a header that never came) are
//! counted by the server loop through [`Refusals::count`].

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The header that names the answering daemon's pid.
pub const PID_HEADER: &str = "x-swe-sleep-pid";

/// A refused request: its status, a short reason for the metrics
/// (`host`, `token`, `content_type`, ...) and a message for the client.
#[derive(Debug)]
pub struct Refusal {
    pub status: StatusCode,
    pub reason: &'static str,
    pub message: String,
    header: Option<(HeaderName, HeaderValue)>,
}

/// The reason a response was refused for, carried to [`finish`].
#[derive(Debug, Clone, Copy)]
struct Reason(&'static str);

impl Refusal {
    pub fn new(status: StatusCode, reason: &'static str, message: impl Into<String>) -> Refusal {
        Refusal {
            status,
            reason,
            message: message.into(),
            header: None,
        }
    }

    /// Adds a header to the answer (`WWW-Authenticate`, `Retry-After`).
    pub fn with_header(mut self, name: HeaderName, value: &'static str) -> Refusal {
        self.header = Some((name, HeaderValue::from_static(value)));
        self
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut r = (self.status, axum::Json(json!({ "error": self.message }))).into_response();
        if let Some((name, value)) = self.header {
            r.headers_mut().insert(name, value);
        }
        r.extensions_mut().insert(Reason(self.reason));
        r
    }
}

/// Refusals counted by (reason, status).
#[derive(Debug, Default)]
pub struct Refusals {
    counts: Mutex<BTreeMap<(&'static str, u16), u64>>,
}

impl Refusals {
    /// Counts one refusal; status 0 is a connection closed unanswered.
    pub fn count(&self, reason: &'static str, status: u16) {
        *self
            .counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((reason, status))
            .or_default() += 1;
    }

    /// The Prometheus lines (the header even when nothing was refused).
    pub fn render(&self) -> String {
        let mut out = String::from(
            "# HELP swe_sleep_http_refusals_total Requests answered with an error status (or dropped), by reason and status.\n\
             # TYPE swe_sleep_http_refusals_total counter\n",
        );
        for ((reason, status), n) in self.counts.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let status = match status {
                0 => "none".to_string(),
                s => s.to_string(),
            };
            let _ = writeln!(
                out,
                "swe_sleep_http_refusals_total{{reason=\"{reason}\",status=\"{status}\"}} {n}"
            );
        }
        out
    }
}

/// The outermost layer: counts errors, makes them JSON, stamps the pid.
pub async fn finish(State(refusals): State<Arc<Refusals>>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let mut r = next.run(req).await;
    r.headers_mut().insert(
        HeaderName::from_static(PID_HEADER),
        HeaderValue::from(std::process::id()),
    );
    let status = r.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return r;
    }
    let reason = r
        .extensions()
        .get::<Reason>()
        .map_or_else(|| default_reason(status), |r| r.0);
    refusals.count(reason, status.as_u16());
    let is_json = r
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    if is_json {
        return r;
    }
    let message = match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            let allowed = ROUTES
                .iter()
                .find(|(_, p)| *p == path)
                .map_or("another method", |(m, _)| m);
            format!("{method} is not allowed on {path}; it takes {allowed}")
        }
        _ => status.canonical_reason().unwrap_or("error").to_lowercase(),
    };
    let (mut parts, _) = r.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(json!({ "error": message }).to_string()))
}

/// The daemon's routes, for error messages.
const ROUTES: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/status"),
    ("POST", "/predict"),
    ("GET", "/metrics"),
    ("POST", "/mcp"),
    ("POST", "/github/webhook"),
];

/// The answer for a path that is not a route.
pub async fn not_found(req: Request) -> Refusal {
    let routes: Vec<String> = ROUTES.iter().map(|(m, p)| format!("{m} {p}")).collect();
    Refusal::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!(
            "no route {} {} (routes: {})",
            req.method(),
            req.uri().path(),
            routes.join(", ")
        ),
    )
}

/// The reason of an error answer that did not name one.
fn default_reason(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "content_type",
        StatusCode::UNPROCESSABLE_ENTITY => "unprocessable",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        s if s.is_server_error() => "internal",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_render_by_reason_and_status() {
        let r = Refusals::default();
        assert!(
            r.render()
                .contains("# TYPE swe_sleep_http_refusals_total counter")
        );
        r.count("host", 403);
        r.count("host", 403);
        r.count("not_found", 404);
        let text = r.render();
        assert!(
            text.lines()
                .any(|l| l == "swe_sleep_http_refusals_total{reason=\"host\",status=\"403\"} 2"),
            "{text}"
        );
        assert!(
            text.lines().any(
                |l| l == "swe_sleep_http_refusals_total{reason=\"not_found\",status=\"404\"} 1"
            ),
            "{text}"
        );
    }
}
