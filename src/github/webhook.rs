//! `POST /github/webhook`: verify, store, answer. The work happens later,
//! in the worker, so a delivery is answered in milliseconds.
//!
//! | what came in | answer |
//! |---|---|
//! | a body over 25 MB | 413 |
//! | a missing or wrong `X-Hub-Signature-256` | 401 |
//! | no `X-GitHub-Event` / `X-GitHub-Delivery`, or a body that is not JSON or not the event's shape | 400 |
//! | a form-encoded delivery (GitHub's "application/x-www-form-urlencoded" content type) without a `payload` field | 400 |
//! | a delivery id seen before | 200, `duplicate` (nothing is done again) |
//! | `ping` | 200 with GitHub's zen |
//! | an event or action that asks for nothing | 200, `ignored` with the reason (also logged) |
//! | a pull request or issue to predict, or a comment command | 202, queued |
//!
//! GitHub sends the event as the JSON body (content type
//! `application/json`) or, with the other content type a webhook can be
//! set to, as the `payload` field of a form; both are taken, the signature
//! always being over the raw body.
//!
//! Every check runs on a blocking thread (a 25 MB body takes tens of
//! milliseconds to hash and parse), so a hostile body cannot stall the
//! server; nothing here panics on input.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;
use tokio::sync::Notify;

use crate::secret::Secret;

use super::events::{self, Trigger, TriggerRules};
use super::installation_events::{self, InstallationChange};
use super::queue::Recorded;
use super::signature;

/// GitHub caps payloads at 25 MB.
pub const MAX_WEBHOOK_BODY: usize = 25 * 1024 * 1024;

/// What the webhook handler needs.
pub struct WebhookState {
    pub secret: Secret,
    pub queue: Arc<dyn crate::github::job_queue::JobQueue>,
    pub rules: TriggerRules,
    /// Woken when a job is queued.
    pub wake: Arc<Notify>,
    pub stats: WebhookStats,
    /// For a service of many repositories (`swe-sleep serve`): which
    /// repositories are held, and where installation events go. `None`
    /// for the one-repository daemon.
    pub scope: Option<Arc<dyn DeliveryScope>>,
}

/// The repositories a service holds, as the webhook sees them.
pub trait DeliveryScope: Send + Sync + 'static {
    /// `Err` with the reason when a job for `repo` (`owner/name`) is
    /// refused; `Ok` counts the delivery towards the repository's activity.
    fn admit(&self, repo: &str) -> Result<(), String>;
    /// An installation event was stored; the holder applies it.
    fn installation_changed(&self, change: InstallationChange);
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct WebhookStats {
    pub accepted: AtomicU64,
    pub duplicates: AtomicU64,
    pub ignored: AtomicU64,
    pub rejected: AtomicU64,
    /// Receipt-to-answer time, summed, in microseconds.
    pub latency_us_sum: AtomicU64,
    pub latency_count: AtomicU64,
}

/// The route, with its own body limit.
pub fn router(state: Arc<WebhookState>) -> Router {
    Router::new()
        .route(
            "/github/webhook",
            post(receive).layer(DefaultBodyLimit::max(MAX_WEBHOOK_BODY)),
        )
        .with_state(state)
}

async fn receive(
    State(state): State<Arc<WebhookState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    let st = state.clone();
    let answer = tokio::task::spawn_blocking(move || handle(&st, &headers, &body))
        .await
        .unwrap_or_else(|e| {
            tracing::error!("webhook task failed: {e}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"error": "internal error"}),
            )
        });
    let s = &state.stats;
    match answer.0 {
        StatusCode::ACCEPTED => s.accepted.fetch_add(1, Ordering::Relaxed),
        StatusCode::OK if answer.1.get("duplicate").is_some() => {
            s.duplicates.fetch_add(1, Ordering::Relaxed)
        }
        StatusCode::OK => s.ignored.fetch_add(1, Ordering::Relaxed),
        _ => s.rejected.fetch_add(1, Ordering::Relaxed),
    };
    s.latency_us_sum.fetch_add(
        u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        Ordering::Relaxed,
    );
    s.latency_count.fetch_add(1, Ordering::Relaxed);
    if answer.0 == StatusCode::ACCEPTED {
        state.wake.notify_one();
    }
    (answer.0, axum::Json(answer.1)).into_response()
}

fn reject(status: StatusCode, message: impl Into<String>) -> (StatusCode, serde_json::Value) {
    let message = message.into();
    tracing::warn!("webhook refused ({}): {message}", status.as_u16());
    (status, json!({ "error": message }))
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn handle(
    state: &WebhookState,
    headers: &HeaderMap,
    body: &[u8],
) -> (StatusCode, serde_json::Value) {
    if let Err(e) = signature::verify(
        state.secret.expose().as_bytes(),
        body,
        header(headers, "x-hub-signature-256"),
    ) {
        return reject(StatusCode::UNAUTHORIZED, e.to_string());
    }
    let body = match event_json(headers, body) {
        Ok(b) => b,
        Err(message) => return reject(StatusCode::BAD_REQUEST, message),
    };
    let body = &*body;
    let Some(event) = header(headers, "x-github-event").filter(|e| valid_name(e, 64)) else {
        return reject(
            StatusCode::BAD_REQUEST,
            "the X-GitHub-Event header is missing or not an event name",
        );
    };
    let Some(delivery) = header(headers, "x-github-delivery").filter(|d| valid_name(d, 128)) else {
        return reject(
            StatusCode::BAD_REQUEST,
            "the X-GitHub-Delivery header is missing or not a delivery id",
        );
    };
    if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(body) {
        return reject(
            StatusCode::BAD_REQUEST,
            format!("the body is not JSON: {e}"),
        );
    }
    if let Some(scope) = &state.scope
        && installation_events::is_installation_event(event)
    {
        return installation(state, scope.as_ref(), event, delivery, body);
    }
    let trigger = match events::classify(event, body, &state.rules) {
        Ok(t) => t,
        Err(e) => return reject(StatusCode::BAD_REQUEST, e.to_string()),
    };
    if let (Some(scope), Trigger::Work(job)) = (&state.scope, &trigger)
        && let Err(why) = scope.admit(job.repo())
    {
        return reject(StatusCode::UNPROCESSABLE_ENTITY, why);
    }
    let (job, note) = match &trigger {
        Trigger::Work(job) => (Some(job), String::new()),
        Trigger::Ping { .. } => (None, "ping".to_string()),
        Trigger::Ignore(why) => (None, why.clone()),
    };
    let recorded = match state.queue.record(delivery, event, job, &note) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("delivery {delivery}: {e}");
            // GitHub redelivers on a 5xx; nothing was stored.
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"error": "the delivery could not be stored; redeliver it"}),
            );
        }
    };
    if recorded == Recorded::Duplicate {
        tracing::info!("delivery {delivery}: seen before; nothing to do");
        return (
            StatusCode::OK,
            json!({"delivery": delivery, "duplicate": true}),
        );
    }
    match trigger {
        Trigger::Ping { zen } => {
            tracing::info!("delivery {delivery}: ping");
            (
                StatusCode::OK,
                json!({"delivery": delivery, "pong": true, "zen": zen}),
            )
        }
        Trigger::Ignore(why) => {
            tracing::info!("delivery {delivery}: ignored: {why}");
            (
                StatusCode::OK,
                json!({"delivery": delivery, "ignored": why}),
            )
        }
        Trigger::Work(job) => {
            tracing::info!("delivery {delivery}: queued {}", job.subject());
            let mut answer = json!({"delivery": delivery, "queued": true, "job": job.subject()});
            if let Some(t) = job.target() {
                answer["repo"] = json!(t.repo);
                answer["number"] = json!(t.number);
            }
            (StatusCode::ACCEPTED, answer)
        }
    }
}

/// An installation event for a service: stored like any delivery (so a
/// redelivery is recognised), then handed to the holder.
fn installation(
    state: &WebhookState,
    scope: &dyn DeliveryScope,
    event: &str,
    delivery: &str,
    body: &[u8],
) -> (StatusCode, serde_json::Value) {
    let change = match installation_events::read(event, body) {
        Ok(c) => c,
        Err(e) => return reject(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let note = change.describe();
    match state.queue.record(delivery, event, None, &note) {
        Ok(Recorded::New) => {}
        Ok(Recorded::Duplicate) => {
            return (
                StatusCode::OK,
                json!({"delivery": delivery, "duplicate": true}),
            );
        }
        Err(e) => {
            tracing::error!("delivery {delivery}: {e}");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"error": "the delivery could not be stored; redeliver it"}),
            );
        }
    }
    tracing::info!("delivery {delivery}: {note}");
    let changes = !matches!(change, InstallationChange::Nothing(_));
    scope.installation_changed(change);
    let status = if changes {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    (status, json!({"delivery": delivery, "installation": note}))
}

/// The event's JSON: the body itself, or the `payload` field of a
/// form-encoded delivery.
fn event_json<'b>(headers: &HeaderMap, body: &'b [u8]) -> Result<Cow<'b, [u8]>, &'static str> {
    let form = header(headers, "content-type").is_some_and(|t| {
        t.split(';').next().is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
    });
    if !form {
        return Ok(Cow::Borrowed(body));
    }
    form_urlencoded::parse(body)
        .find(|(k, _)| k == "payload")
        .map(|(_, v)| Cow::Owned(v.into_owned().into_bytes()))
        .ok_or("the form-encoded delivery has no `payload` field")
}

/// A header value we store or log: short, and only letters, digits, `-`,
/// `_` and `.`.
fn valid_name(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}
