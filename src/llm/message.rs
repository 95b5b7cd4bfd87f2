//! The neutral conversation between swe-sleep and a model: what both wire
//! formats ([`super::openai`], [`super::anthropic`]) are translated from
//! and to. Tool arguments stay the raw JSON text the model wrote, so a
//! malformed call can be reported back to it verbatim.

use serde::{Deserialize, Serialize};

/// A tool the model may call: a name, one line of description, and the JSON
/// schema of its arguments.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    pub parameters: serde_json::Value,
}

/// A tool call as the model wrote it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolUse {
    pub id: String,
    pub name: String,
    /// The arguments as JSON text (not necessarily valid).
    pub arguments: String,
}

/// The answer to one tool call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolResult {
    pub id: String,
    pub content: String,
    pub is_error: bool,
}

/// One turn of the conversation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Message {
    User(String),
    Assistant {
        text: String,
        tool_calls: Vec<ToolUse>,
        /// The calls were written in `text` (read back by
        /// [`super::text_calls`]), not sent as native tool calls: the turn
        /// goes back to the server as the text it wrote.
        calls_in_text: bool,
    },
    /// Answers to the previous assistant turn's calls, in its order.
    ToolResults(Vec<ToolResult>),
}

/// Whether and which tool the model must call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ToolChoice {
    Auto,
    /// Any tool, but a tool.
    Required,
    /// This tool.
    Tool(String),
}

/// One call to a model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChatRequest {
    /// The stable prefix: the same bytes for every call of a task.
    pub system: String,
    /// Sorted by name, so the prefix is byte-stable.
    pub tools: Vec<ToolSpec>,
    pub messages: Vec<Message>,
    pub tool_choice: ToolChoice,
    pub max_tokens: u32,
}

/// Tokens of one call (or a sum of calls), as the provider counted them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens not read from the cache.
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
}

impl Usage {
    /// The whole prompt: fresh, cached and newly cached tokens.
    pub fn prompt(&self) -> u64 {
        self.input + self.cache_read + self.cache_write
    }

    /// Prompt plus reply: the size of the conversation after the call.
    pub fn context(&self) -> u64 {
        self.prompt() + self.output
    }

    pub fn add(&mut self, other: &Usage) {
        self.input += other.input;
        self.output += other.output;
        self.cache_read += other.cache_read;
        self.cache_write += other.cache_write;
    }
}

/// A model's reply.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChatResponse {
    pub text: String,
    pub tool_calls: Vec<ToolUse>,
    /// The calls were read from `text` ([`super::text_calls`]).
    pub calls_in_text: bool,
    pub usage: Usage,
    /// Why the model stopped (`tool_calls`, `stop`, `end_turn`, `length`...).
    pub stop: String,
    /// HTTP attempts the call took (1 without retries).
    pub attempts: u32,
    pub latency_ms: u64,
}
