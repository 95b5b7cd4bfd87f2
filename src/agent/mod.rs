//! Test time: a short agent run, inside a token budget, that predicts which
//! existing files a request will modify.
//!
//! - [`tools`]: the calls a policy can make and the text it pays for;
//!   [`found`]: what a toolbox found for a call, rendered by one function
//!   for both arms and MCP;
//! - [`sleep_tools`]: the tools of the sleep arm (the notebook);
//! - [`raw_tools`]: the tools of the no-sleep arm (the raw repository);
//! - [`run`](mod@run): the loop and its accounting (`[Step: i/N, tokens: used/budget]`);
//! - [`offline`]: the deterministic policy (no model);
//! - [`llm_policy`], [`rerank`]: the model-driven policies (a model calls
//!   the tools; one model call reranks the offline candidates), with
//!   [`tool_schema`] (the tools as JSON schemas) and [`policy_kind`]
//!   (`--policy` and the factory);
//! - [`anticipate`]: requests a sleep-time model anticipated, their files
//!   predicted offline, offered to a closely matching request;
//! - [`predict`]: the one entry point for a prediction (a validated
//!   [`predict::Query`], the sleep arm with what sleep time learned, or the
//!   no-sleep arm);
//! - [`fused_search`]: the sleep arm's search lists and their fusion (fixed
//!   weights, or the learned search ranking);
//! - [`rank`], [`request`]: pure ranking helpers and request analysis;
//! - [`reasons`]: the answer's reasons in the request's words, for a person.
//!
//! Depends on `notebook`, `git`, `text`, `tokens`, `learn` (the learned
//! rankings are data the policy and tools use), and `llm` (for the
//! model-driven policies only); nothing depends on it but `sleep`, the
//! daemon, the CLI and `eval`.

pub mod anticipate;
pub mod budget;
pub mod dense;
pub mod found;
pub mod fused_search;
pub mod llm_policy;
pub mod offline;
pub mod policy_kind;
pub mod predict;
pub mod rank;
pub mod raw_tools;
pub mod reasons;
pub mod request;
pub mod rerank;
pub mod run;
pub mod sleep_tools;
pub mod tool_schema;
pub mod tools;

pub use offline::OfflinePolicy;
pub use policy_kind::{PolicyFactory, PolicyKind};
pub use run::{ModelUse, Policy, Prediction, Scored, run, run_with_context};
pub use tools::{ToolCall, Toolbox};
