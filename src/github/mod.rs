//! swe-sleep as a GitHub service: webhook deliveries are verified
//! ([`signature`]), read ([`events`]), stored in a persistent queue
//! ([`queue`]) and answered at once; a worker ([`worker`]) predicts from the
//! notebook and, if configured, keeps one comment per pull request or issue
//! ([`comment`]) through the API client. `--poll` ([`poll`]) follows open
//! pull requests and issues without webhooks.
//!
//! Depends on `agent`, `notebook`, `git`, `config`, `secret`; the daemon
//! mounts the webhook route and runs the worker.

pub mod comment;
pub mod events;
pub mod queue;
pub mod signature;
pub mod webhook;
pub mod worker;
