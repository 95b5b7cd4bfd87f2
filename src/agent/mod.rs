//! Test time: a short agent run, inside a token budget, that predicts which
//! existing files a request will modify.
//!
//! - [`tools`]: the calls a policy can make and the text it pays for;
//! - [`sleep_tools`]: the tools of the sleep arm (the notebook);
//! - [`raw_tools`]: the tools of the no-sleep arm (the raw repository);
//! - [`run`](mod@run): the loop and its accounting (`[Step: i/N, tokens: used/budget]`);
//! - [`offline`]: the deterministic policy (no model);
//! - [`rank`], [`request`]: pure ranking helpers and request analysis.
//!
//! Depends on `notebook`, `git`, `text`, `tokens`; nothing depends on it
//! but the CLI and `eval`.

pub mod budget;
pub mod offline;
pub mod rank;
pub mod raw_tools;
pub mod request;
pub mod run;
pub mod sleep_tools;
pub mod tools;

pub use offline::OfflinePolicy;
pub use run::{Policy, Prediction, Scored, run, run_with_context};
pub use tools::{ToolCall, Toolbox};
