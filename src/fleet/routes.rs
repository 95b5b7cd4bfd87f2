//! The service's HTTP application: `GET /healthz`, `GET /status`,
//! `GET /metrics` and `POST /github/webhook`, behind the daemon's layers
//! (the refusal counter, the access guard for `Host` and the token, the
//! webhook gate).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::daemon::access::{self, Access};
use crate::daemon::github::GithubParts;
use crate::daemon::refusal::{self, Refusals};
use crate::daemon::serve::Limits;
use crate::daemon::webhook_gate::{self, WebhookGate};
use crate::github::webhook::WebhookState;

use super::registry::Registry;
use super::report::Report;
use super::schedule::Pacing;
use super::spend::{self, Spends};

/// What the handlers read.
#[derive(Debug)]
pub struct View {
    /// With PostgreSQL, this process's leases.
    pub leases: Option<Arc<super::pg::leases::Leases>>,
    /// With PostgreSQL, the service's cost ledger (else each notebook's).
    pub ledger: Option<Arc<super::pg::ledger::PgLedger>>,
    pub registry: Arc<Registry>,
    pub parts: Arc<GithubParts>,
    pub pacing: Pacing,
    pub concurrency: usize,
    pub refusals: Arc<Refusals>,
}

impl View {
    async fn report(&self) -> Report {
        let counts = self.parts.queue_counts().await;
        let mut report = Report::gather(&self.registry, &self.pacing, self.concurrency, counts);
        if let Some(l) = &self.leases {
            report.with_leases(l.worker(), &l.held());
        }
        report.with_spend(self.spends().await);
        report
    }

    /// Every repository's model spend; a failed read is said, not zero.
    async fn spends(&self) -> Result<Spends, String> {
        if let Some(ledger) = &self.ledger {
            return ledger.spends().await.map_err(|e| super::chain(&e));
        }
        let registry = self.registry.clone();
        tokio::task::spawn_blocking(move || spend::from_notebooks(&registry))
            .await
            .map_err(|e| format!("the spend task failed: {e}"))?
            .map_err(|e| super::chain(&e))
    }
}

/// The router the server answers with.
pub fn app(view: Arc<View>, webhook: Arc<WebhookState>, access: Access, limits: &Limits) -> Router {
    let gate = Arc::new(WebhookGate::new(
        webhook.clone(),
        limits.webhook_concurrency,
        limits.webhook_wait,
        limits.body_timeout,
    ));
    let refusals = view.refusals.clone();
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/status", get(status))
        .route("/metrics", get(metrics))
        .with_state(view)
        .merge(
            crate::github::webhook::router(webhook)
                .layer(from_fn_with_state(gate, webhook_gate::gate)),
        )
        .fallback(refusal::not_found)
        .layer(from_fn_with_state(Arc::new(access), access::guard))
        .layer(from_fn_with_state(refusals, refusal::finish))
}

async fn status(State(view): State<Arc<View>>) -> axum::Json<Report> {
    axum::Json(view.report().await)
}

async fn metrics(State(view): State<Arc<View>>) -> Response {
    let report = view.report().await;
    let mut text = report.metrics();
    text.push_str(&view.refusals.render());
    text.push_str(&view.parts.metrics_text(report.service.queue.as_ref()));
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}
