//! The `[llm]` section: which model answers at test time (`[llm.test]`) and
//! which writes notebook material at sleep time (`[llm.sleep]`), and the
//! sleep-time token budgets. No model is configured by default; the offline
//! policy and the offline notebook need none.
//!
//! API keys are never part of this text: `api_key` names an environment
//! variable or a file ([`SecretSource`]). Nested model settings are read from
//! the file only; the environment can set the flat `llm.*` keys
//! (`SWE_SLEEP_LLM_SLEEP_TOKENS_PER_HOUR`).

use serde::{Deserialize, Serialize};

use crate::secret::SecretSource;

/// The `[llm]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LlmConfig {
    /// The model of `--policy llm` and `--policy llm-rerank`.
    pub test: Option<ModelConfig>,
    /// The model that writes cards at sleep time (often a cheaper one).
    pub sleep: Option<ModelConfig>,
    /// Sleep-time tokens (input + output, by the provider's count) allowed
    /// in any rolling hour, summed over the cost ledger.
    pub sleep_tokens_per_hour: u64,
    /// Sleep-time tokens allowed in any rolling 24 hours.
    pub sleep_tokens_per_day: u64,
    /// Cards the model writes in one sleep at most (the most important
    /// files first; later sleeps continue where this one stopped).
    pub cards_per_sleep: usize,
    /// Content of a file shown to the card writer, in cl100k tokens.
    pub card_input_tokens: u64,
    /// Likely next requests anticipated per sleep (0: none).
    pub anticipate: usize,
}

impl Default for LlmConfig {
    fn default() -> Self {
        LlmConfig {
            test: None,
            sleep: None,
            sleep_tokens_per_hour: 200_000,
            sleep_tokens_per_day: 2_000_000,
            cards_per_sleep: 40,
            card_input_tokens: 3000,
            anticipate: 3,
        }
    }
}

/// Which wire format a server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// `POST {base_url}/v1/chat/completions`: OpenAI, Ollama, vLLM,
    /// llama.cpp server, LM Studio, OpenRouter.
    Openai,
    /// `POST {base_url}/v1/messages`: Anthropic's Messages API.
    Anthropic,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Openai => "openai",
            ProviderKind::Anthropic => "anthropic",
        }
    }

    /// The hosted API's address, used when `base_url` is not set.
    pub fn default_base_url(self) -> &'static str {
        match self {
            ProviderKind::Openai => "https://api.openai.com",
            ProviderKind::Anthropic => "https://api.anthropic.com",
        }
    }
}

/// One model: `[llm.test]` or `[llm.sleep]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    pub provider: ProviderKind,
    pub model: String,
    /// Server address without the `/v1/...` path (default: the provider's
    /// hosted API). `http://localhost:11434` for Ollama.
    #[serde(default)]
    pub base_url: Option<String>,
    /// Where the API key comes from: `{ env = "OPENAI_API_KEY" }` or
    /// `{ file = "/path" }`; absent for local servers that need none.
    #[serde(default)]
    pub api_key: SecretSource,
    /// Tokens the model can hold; a run never sends more.
    #[serde(default = "defaults::context_window")]
    pub context_window: u64,
    /// Largest reply asked for in one call.
    #[serde(default = "defaults::max_output_tokens")]
    pub max_output_tokens: u32,
    /// Seconds one HTTP attempt may take.
    #[serde(default = "defaults::timeout_secs")]
    pub timeout_secs: u64,
    /// Attempts per call, the first included (429, 5xx and connection
    /// errors are retried with exponential backoff).
    #[serde(default = "defaults::max_attempts")]
    pub max_attempts: u32,
    /// First backoff delay; doubles per attempt unless the server sends
    /// `retry-after`.
    #[serde(default = "defaults::retry_base_ms")]
    pub retry_base_ms: u64,
    /// Dollars per million tokens, for the cost column of the ledger.
    #[serde(default)]
    pub price: Option<Price>,
    /// How the server takes tool calls: `"native"` (`tools` and
    /// `tool_calls` only), `"text"` (no native tool protocol: the tools are
    /// described in the system prompt and calls are read from the reply's
    /// text), or `"auto"` (native, and a reply without native calls is read
    /// for calls written as text).
    #[serde(default)]
    pub tool_calls: ToolCallMode,
    /// Extra top-level fields merged into every request body, e.g.
    /// `temperature = 0` or Ollama's `options = { num_ctx = 16384 }`.
    #[serde(default)]
    pub extra: toml::Table,
}

mod defaults {
    pub fn context_window() -> u64 {
        32_768
    }
    pub fn max_output_tokens() -> u32 {
        1024
    }
    pub fn timeout_secs() -> u64 {
        120
    }
    pub fn max_attempts() -> u32 {
        4
    }
    pub fn retry_base_ms() -> u64 {
        500
    }
}

impl ModelConfig {
    /// A model with every optional setting at its default.
    pub fn new(provider: ProviderKind, model: &str) -> ModelConfig {
        ModelConfig {
            provider,
            model: model.to_string(),
            base_url: None,
            api_key: SecretSource::default(),
            context_window: defaults::context_window(),
            max_output_tokens: defaults::max_output_tokens(),
            timeout_secs: defaults::timeout_secs(),
            max_attempts: defaults::max_attempts(),
            retry_base_ms: defaults::retry_base_ms(),
            price: None,
            tool_calls: ToolCallMode::default(),
            extra: toml::Table::new(),
        }
    }

    /// `base_url` or the provider's hosted API, without a trailing slash.
    pub fn base_url(&self) -> String {
        self.base_url
            .as_deref()
            .unwrap_or(self.provider.default_base_url())
            .trim_end_matches('/')
            .to_string()
    }
}

/// How a server takes tool calls ([`ModelConfig::tool_calls`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ToolCallMode {
    Native,
    Text,
    #[default]
    Auto,
}

/// Dollars per million tokens.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Price {
    pub input: f64,
    pub output: f64,
    pub cache_read: f64,
    pub cache_write: f64,
}
