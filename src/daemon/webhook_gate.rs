//! What `POST /github/webhook` passes before its handler: a present,
//! well-formed `X-Hub-Signature-256` (checked before the body is read, so
//! an unsigned request never costs a 25 MB read: 401), a place among the
//! deliveries being received at once (waiting for one up to a bound, then
//! 503 with `Retry-After`), and the body read under GitHub's 25 MB cap and
//! the body deadline. The handler then checks the signature itself
//! ([`crate::github::webhook`]).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use crate::github::signature;
use crate::github::webhook::{MAX_WEBHOOK_BODY, WebhookState};

use super::refusal::Refusal;

/// The gate's state.
pub struct WebhookGate {
    webhook: Arc<WebhookState>,
    permits: Arc<Semaphore>,
    wait: Duration,
    body_timeout: Duration,
}

impl WebhookGate {
    /// At most `concurrency` deliveries are read and handled at once;
    /// another waits up to `wait` for its turn.
    pub fn new(
        webhook: Arc<WebhookState>,
        concurrency: usize,
        wait: Duration,
        body_timeout: Duration,
    ) -> WebhookGate {
        WebhookGate {
            webhook,
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            wait,
            body_timeout,
        }
    }

    fn refuse(&self, refusal: Refusal) -> Response {
        tracing::warn!(
            "webhook refused ({}): {}",
            refusal.status.as_u16(),
            refusal.message
        );
        self.webhook.stats.rejected.fetch_add(1, Ordering::Relaxed);
        refusal.into_response()
    }
}

/// The layer around the webhook route.
pub async fn gate(State(gate): State<Arc<WebhookGate>>, req: Request, next: Next) -> Response {
    let given = req
        .headers()
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok());
    if let Err(e) = signature::parse_header(given) {
        return gate.refuse(Refusal::new(
            StatusCode::UNAUTHORIZED,
            "signature",
            e.to_string(),
        ));
    }
    let permit = match tokio::time::timeout(gate.wait, gate.permits.clone().acquire_owned()).await {
        Ok(Ok(permit)) => permit,
        _ => {
            return gate.refuse(
                Refusal::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "webhook_busy",
                    "too many deliveries at once; redeliver it",
                )
                .with_header(header::RETRY_AFTER, "10"),
            );
        }
    };
    let req = match super::body::buffer(req, MAX_WEBHOOK_BODY, gate.body_timeout).await {
        Ok(req) => req,
        Err(refusal) => return gate.refuse(refusal),
    };
    let answer = next.run(req).await;
    drop(permit);
    answer
}
