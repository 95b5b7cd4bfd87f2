//! The daemon's whole HTTP application, and the order of its layers, from
//! the outside in:
//!
//! 1. [`refusal::finish`]: every answer; errors counted and made JSON;
//! 2. [`access::guard`]: `Host`, the token, the content type, the body
//!    (every route but the webhook);
//! 3. the routes of [`super::api`], MCP at `/mcp` ([`super::mcp`]), and
//!    `/github/webhook` behind [`webhook_gate::gate`] when a webhook secret
//!    is configured;
//! 4. a JSON 404 for anything else.

use std::sync::Arc;

use axum::Router;
use axum::middleware::from_fn_with_state;

use crate::github::webhook::WebhookState;

use super::access::{self, Access};
use super::refusal;
use super::serve::Limits;
use super::state::Shared;
use super::webhook_gate::{self, WebhookGate};

/// Where the daemon serves MCP (streamable HTTP, stateless).
pub const MCP_PATH: &str = "/mcp";

/// The router `serve` answers with.
pub fn app(
    shared: Arc<Shared>,
    webhook: Option<Arc<WebhookState>>,
    access: Access,
    limits: &Limits,
) -> Router {
    let mut router = super::api::router(shared.clone()).route_service(
        MCP_PATH,
        crate::mcp::transport::http_service(super::mcp::server(shared.clone())),
    );
    if let Some(webhook) = webhook {
        let gate = Arc::new(WebhookGate::new(
            webhook.clone(),
            limits.webhook_concurrency,
            limits.webhook_wait,
            limits.body_timeout,
        ));
        router = router.merge(
            crate::github::webhook::router(webhook)
                .layer(from_fn_with_state(gate, webhook_gate::gate)),
        );
    }
    router
        .fallback(refusal::not_found)
        .layer(from_fn_with_state(Arc::new(access), access::guard))
        .layer(from_fn_with_state(shared.refusals.clone(), refusal::finish))
}
