//! The arguments of each tool as a client sends them. Their doc comments
//! become the JSON schema's descriptions, so they are written for a model
//! deciding what to pass.

use schemars::JsonSchema;
use serde::Deserialize;

/// `predict_files`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PredictParams {
    /// The change to make, as a pull request would describe it: a title, a
    /// blank line, then the description. The more concrete (names of
    /// features, commands, errors, symbols), the better the prediction.
    pub request: String,
    /// Test-time token budget of the prediction's own agent run (default:
    /// the server's `agent.budget`, 4000). Larger budgets read more of the
    /// notebook and may find more files; they do not change this tool's
    /// output size, which `max_tokens` limits.
    #[serde(default)]
    pub budget: Option<u64>,
    /// Most tokens this tool's answer may take (default: the server's
    /// `agent.tool_tokens`, 2000). When the answer is longer, the trace of
    /// the run is left out first, then the lowest-ranked files.
    #[serde(default)]
    pub max_tokens: Option<u64>,
}

/// `search`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    /// Words, identifiers or a sentence to look for in the code, the file
    /// cards, the paths, the symbols and the past pull requests of each file.
    pub query: String,
    /// How many files to return at most (default 10).
    #[serde(default)]
    pub k: Option<usize>,
    /// Most tokens this tool's answer may take (default: the server's
    /// `agent.tool_tokens`); whole lines are dropped from the end to fit.
    #[serde(default)]
    pub max_tokens: Option<u64>,
}

/// `file_card` and `cochange`: one file of the repository.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PathParams {
    /// A file's path relative to the repository root, with `/` separators
    /// (e.g. `src/main.rs`). Absolute paths, `..`, `.git` and symbolic
    /// links are refused.
    pub path: String,
    /// Most tokens this tool's answer may take (default: the server's
    /// `agent.tool_tokens`).
    #[serde(default)]
    pub max_tokens: Option<u64>,
}

/// `similar_prs`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SimilarParams {
    /// Text to compare with past pull requests and commits: usually the
    /// request itself, or a few of its key words.
    pub text: String,
    /// How many past changes to return at most (default 5).
    #[serde(default)]
    pub k: Option<usize>,
    /// Most tokens this tool's answer may take (default: the server's
    /// `agent.tool_tokens`).
    #[serde(default)]
    pub max_tokens: Option<u64>,
}

/// `symbol`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SymbolParams {
    /// A function, type, method, constant or module name, as written in the
    /// code (e.g. `parse_config` or `Config`).
    pub name: String,
    /// Most tokens this tool's answer may take (default: the server's
    /// `agent.tool_tokens`).
    #[serde(default)]
    pub max_tokens: Option<u64>,
}

/// `notebook_status`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusParams {
    /// Most tokens this tool's answer may take (default: the server's
    /// `agent.tool_tokens`).
    #[serde(default)]
    pub max_tokens: Option<u64>,
}
