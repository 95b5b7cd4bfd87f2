//! The notebook as tools for any coding agent, over the Model Context
//! Protocol (rmcp, the protocol's Rust SDK).
//!
//! - [`params`], [`catalog`]: each tool's arguments (their JSON schema) and
//!   description, written for a model;
//! - [`call`]: a call checked once, the configuration's defaults filled in;
//! - [`backend`]: where answers come from; [`standalone`] opens the
//!   notebook here (sleeping first when it is missing), and the daemon
//!   implements [`backend::Backend`] over its prediction service;
//! - [`local`]: the notebook's own tools over an open notebook, confined
//!   to the snapshot as for the model policy;
//! - [`reply`]: answers within the caller's `max_tokens`;
//! - [`progress`]: a sleep's progress as protocol notifications;
//! - [`server`], [`transport`]: the protocol handler, on stdio or HTTP.
//!
//! Depends on `agent` (the one prediction entry point and the tools),
//! `notebook`, `sleep` (sleeping before a standalone answer), `git`,
//! `config` and `tokens`; only the daemon and the CLI use it.

pub mod backend;
pub mod call;
pub mod catalog;
pub mod error;
pub mod local;
pub mod params;
pub mod progress;
pub mod reply;
pub mod server;
pub mod standalone;
pub mod transport;

pub use backend::Backend;
pub use call::{Call, Defaults, Request};
pub use error::McpError;
pub use progress::Notifier;
pub use reply::Reply;
pub use server::Server;
pub use standalone::Standalone;
