//! The HTTP routes: `GET /healthz`, `GET /status`, `POST /predict`,
//! `GET /metrics`, and the page `GET /` ([`super::page`]). Every handler that touches git or SQLite does it on a
//! blocking thread with its own `Repo` and `Notebook`; a prediction is
//! answered from the newest notebook and never waits for a running sleep.
//! Who may call them, and how large and slow a body may be, is decided
//! before they run ([`super::access`]).

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::agent::PolicyKind;
use crate::git::Repo;
use crate::notebook;

use crate::agent::predict::Query;

use super::service::{Answer, PredictError};
use super::state::{Shared, render_metrics};

/// Request bodies larger than this are refused (413).
pub const MAX_BODY: usize = 1024 * 1024;

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(super::page::page))
        .route("/healthz", get(healthz))
        .route("/status", get(status))
        .route("/predict", post(predict))
        .route("/metrics", get(metrics))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(shared)
}

/// An error answered as `{"error": "..."}` with a status code.
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, axum::Json(json!({ "error": self.1 }))).into_response()
    }
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

/// `ok`, or 503 with `{"status": "degraded", "reason": ...}` while the
/// daemon cannot answer predictions (a damaged notebook being rebuilt).
async fn healthz(State(shared): State<Arc<Shared>>) -> Response {
    match shared.degraded() {
        None => "ok".into_response(),
        Some(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({ "status": "degraded", "reason": reason })),
        )
            .into_response(),
    }
}

async fn status(State(shared): State<Arc<Shared>>) -> Result<axum::Json<Value>, ApiError> {
    let s = shared.clone();
    let status = tokio::task::spawn_blocking(move || -> Result<Value, ApiError> {
        let repo = Repo::open(&s.repo_path).map_err(internal)?;
        let st = notebook::status(&repo, &s.state_dir, None, &s.config).map_err(internal)?;
        serde_json::to_value(st).map_err(internal)
    })
    .await
    .map_err(internal)??;
    let mut obj = status;
    let m = shared.metrics();
    if let Some(o) = obj.as_object_mut() {
        let age = o.get("age_seconds").cloned().unwrap_or(Value::Null);
        o.insert("sleeping".into(), json!(shared.sleeping()));
        o.insert("last_sleep_seconds".into(), json!(m.last_sleep_seconds));
        o.insert("notebook_age_seconds".into(), age);
        o.insert("sleeps_total".into(), json!(m.sleeps_total));
        if let Some(parts) = shared.github.clone() {
            let counts = parts.queue_counts().await;
            o.insert(
                "github".into(),
                json!({
                    "webhook": parts.webhook.is_some(),
                    "api": parts.api.is_some(),
                    "comments": shared.config.github.comments,
                    "queue": counts,
                }),
            );
        }
    }
    Ok(axum::Json(obj))
}

/// The body of `POST /predict`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PredictRequest {
    request: String,
    budget: Option<u64>,
    steps: Option<u32>,
    /// `offline` (default), `llm` or `llm-rerank` (these two need
    /// `[llm.test]` in the daemon's config).
    policy: Option<String>,
}

async fn predict(
    State(shared): State<Arc<Shared>>,
    body: Bytes,
) -> Result<axum::Json<Answer>, ApiError> {
    let started = Instant::now();
    let req: PredictRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError(
            StatusCode::BAD_REQUEST,
            format!(
                "the body must be a JSON object {{\"request\": \"...\", \"budget\": N, \"steps\": N, \"policy\": \"offline\"}}: {e}"
            ),
        )
    })?;
    let policy = match req.policy.as_deref() {
        None => PolicyKind::Offline,
        Some(p) => PolicyKind::parse(p).ok_or_else(|| {
            ApiError(
                StatusCode::BAD_REQUEST,
                format!("unknown policy `{p}` (expected offline, llm or llm-rerank)"),
            )
        })?,
    };
    let budget = req.budget.unwrap_or(shared.config.agent.budget);
    let steps = req.steps.unwrap_or(shared.config.agent.steps);
    let query = Query::new(req.request, budget, steps)
        .map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.to_string()))?;
    let s = shared.clone();
    let req_text = query.request().to_string();
    let answer = tokio::task::spawn_blocking(move || s.predict(&query, policy, None))
        .await
        .map_err(internal)?
        .map_err(|e| match e {
            PredictError::NoNotebook => ApiError(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
            PredictError::BadRequest(m) => ApiError(StatusCode::BAD_REQUEST, m),
            PredictError::Damaged(_) => ApiError(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
            PredictError::Internal(m) => internal(m),
        })?;
    shared.answered(&req_text, &answer, started.elapsed());
    Ok(axum::Json(answer))
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    let s = shared.clone();
    let age = tokio::task::spawn_blocking(move || s.notebook_age_seconds())
        .await
        .ok()
        .flatten();
    let mut text = render_metrics(&shared.metrics(), age, shared.sleeping());
    text.push_str(&shared.refusals.render());
    if let Some(parts) = shared.github.clone() {
        let counts = parts.queue_counts().await;
        text.push_str(&parts.metrics_text(counts.as_ref()));
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}
