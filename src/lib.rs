//! swe-sleep: sleep-time compute for git repositories.
//!
//! While the machine is idle, [`notebook`] reads a repository at a commit
//! ([`git`]), parses its code ([`parse`]) and mines its history, and writes
//! the notebook `c'`: per-file cards and indexes over code, symbols, paths
//! and history. At test time an agent predicts, inside a token budget, which
//! files a feature request will modify.
//!
//! See ARCHITECTURE.md for the code map and the invariants.

pub mod agent;
pub mod config;
pub mod daemon;
pub mod embed;
pub mod eval;
pub mod fleet;
pub mod git;
pub mod github;
pub mod learn;
pub mod llm;
pub mod mcp;
pub mod notebook;
pub mod parse;
pub mod secret;
pub mod sleep;
pub mod text;
pub mod tokens;
