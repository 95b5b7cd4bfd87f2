//! swe-sleep as a GitHub service.
//!
//! Webhook deliveries are verified ([`signature`]), read ([`events`]),
//! stored in a persistent queue ([`queue`]) and answered at once
//! ([`webhook`]); a worker ([`worker`]) predicts from the notebook and, if
//! configured, keeps one comment per pull request or issue ([`comment`])
//! through the REST client. `--poll` ([`poll`]) follows open pull requests
//! and issues without webhooks.
//!
//! The REST client ([`client`]) does the few calls swe-sleep makes (the
//! prediction comment, a commenter's permission, conditional listings of
//! open pull requests and issues), all through octocrab with swe-sleep's own
//! rules on top (the private `request` module): writes one at a time and
//! spaced, rate limits obeyed, 5xx and connection errors retried with
//! backoff; what GitHub answers in an error is redacted ([`redact`]) before
//! it is logged or stored. Authentication is a token or a GitHub App ([`auth`]). The base
//! URL is configurable (GitHub Enterprise, tests against a loopback
//! stand-in). [`api`] joins the client to the worker and builds it from
//! the configuration.
//!
//! Depends on `agent` (the `Scored` file of a prediction), `config` and
//! `secret`; the daemon mounts the webhook route and runs the worker and
//! the poller. With `llm`, the only code that speaks HTTP to the outside; no
//! token, key or webhook secret ever reaches a log line or an error.

pub mod api;
pub mod auth;
pub mod client;
pub mod comment;
pub mod error;
pub mod events;
pub mod installation_events;
pub mod installations;
pub mod job_queue;
pub mod poll;
pub mod queue;
pub mod redact;
mod request;
pub mod signature;
pub mod types;
pub mod webhook;
pub mod worker;

pub use auth::GitHubAuth;
pub use client::{ClientOptions, GitHubClient};
pub use error::GitHubError;
pub use types::{
    CommentRef, Conditional, IssueSummary, ParseRepoRefError, Permission, PullSummary, RepoRef,
};
