//! Language models: the one part of swe-sleep that speaks to model servers.
//!
//! - [`message`]: the neutral conversation (messages, tool specs, tool
//!   calls, usage) that both wire formats translate to and from;
//! - [`provider`]: the [`Provider`] trait and its construction from config;
//! - [`openai`], [`anthropic`]: the two wire formats (request bodies and
//!   replies, pure);
//! - [`transport`], [`retry`]: HTTP with timeouts, retries with exponential
//!   backoff honouring `retry-after`, and a hard cap on attempts;
//! - [`ledger`]: the cost ledger in the notebook database, one row per call;
//!   [`ledger_copy`]: a second place for its rows a service registers per
//!   notebook (`serve`'s PostgreSQL);
//! - [`session`]: the calls of one task, recorded in the ledger and summed;
//! - [`prompt`]: templates as data (`prompts/`), filled from typed structs;
//! - [`text_calls`]: tool calls a model wrote as text, and conversations
//!   rewritten for servers that take calls only as text.
//!
//! What the model is asked to write at sleep time (cards, digests,
//! anticipated requests) and where it goes is decided by the sleep passes
//! (`crate::sleep`); the ledger's rows are written through the notebook's
//! typed writers. Depends on `config`, `secret`, `tokens` and `notebook`
//! (the ledger); never on `agent` (the model-driven policies live there
//! and call this module).

pub mod anthropic;
pub mod error;
pub mod ledger;
pub mod ledger_copy;
pub mod message;
pub mod openai;
pub mod prompt;
pub mod provider;
pub mod retry;
pub mod session;
pub mod text_calls;
pub mod transport;

pub use error::LlmError;
pub use ledger::{Ledger, LedgerEntry};
pub use message::{
    ChatRequest, ChatResponse, Message, ToolChoice, ToolResult, ToolSpec, ToolUse, Usage,
};
pub use prompt::Template;
pub use provider::{Provider, connect};
pub use session::Session;
