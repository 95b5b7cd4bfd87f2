//! The GitHub REST API client: the prediction comment (posted once, then
//! updated in place), a commenter's permission, and conditional listings of
//! open pull requests and issues for polling.
//!
//! Everything goes through octocrab, with swe-sleep's own rules on top
//! (the private `request` module): writes one at a time and spaced, rate limits obeyed, 5xx
//! and connection errors retried with backoff. Authentication is a token or
//! a GitHub App ([`auth`]). The base URL is configurable (GitHub Enterprise,
//! tests against a loopback stand-in).
//!
//! Depends on `secret` only. With `llm`, the only code that speaks HTTP to
//! the outside; no token or key ever reaches a log line or an error.

pub mod auth;
pub mod client;
pub mod error;
mod request;
pub mod types;

pub use auth::GitHubAuth;
pub use client::{ClientOptions, GitHubClient};
pub use error::GitHubError;
pub use types::{
    CommentRef, Conditional, IssueSummary, ParseRepoRefError, Permission, PullSummary, RepoRef,
};
