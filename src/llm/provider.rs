//! The [`Provider`] trait and its two implementations over [`Transport`]:
//! the OpenAI-compatible chat completions format and Anthropic's Messages
//! API. [`connect`] builds one from a `[llm.test]` or `[llm.sleep]` table,
//! reading the API key from its configured source.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::config::{ModelConfig, ProviderKind, ToolCallMode};
use crate::secret::Secret;

use super::error::{LlmError, tool_support_hint};
use super::message::{ChatRequest, ChatResponse, ToolUse, Usage};
use super::retry::RetryPolicy;
use super::transport::{Answer, Transport};
use super::{anthropic, openai, text_calls};

/// A model behind a server. Synchronous: call it from a plain or blocking
/// thread; it runs its own small runtime.
pub trait Provider: Send + Sync {
    /// "openai" or "anthropic".
    fn kind(&self) -> &'static str;
    fn model(&self) -> &str;
    /// The configured settings (context window, output cap, prices).
    fn config(&self) -> &ModelConfig;
    /// One non-streaming call.
    fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, LlmError>;
}

/// The provider configured in `cfg`; `what` names the table in errors
/// ("llm.test").
pub fn connect(cfg: &ModelConfig, what: &str) -> Result<Arc<dyn Provider>, LlmError> {
    if cfg.model.trim().is_empty() {
        return Err(LlmError::Config(format!("{what}.model is empty")));
    }
    if cfg.max_output_tokens == 0 || cfg.context_window == 0 {
        return Err(LlmError::Config(format!(
            "{what}: max_output_tokens and context_window must be positive"
        )));
    }
    let key = cfg.api_key.load(&format!("{what}.api_key"))?;
    let extra = match serde_json::to_value(&cfg.extra) {
        Ok(Value::Object(map)) => map,
        _ => {
            return Err(LlmError::Config(format!(
                "{what}.extra is not a table of JSON values"
            )));
        }
    };
    let transport = Transport::new(
        Duration::from_secs(cfg.timeout_secs.max(1)),
        RetryPolicy {
            max_attempts: cfg.max_attempts.max(1),
            base: Duration::from_millis(cfg.retry_base_ms),
        },
    )?;
    let endpoint = Endpoint {
        cfg: cfg.clone(),
        key,
        extra,
        transport,
    };
    Ok(match cfg.provider {
        ProviderKind::Openai => Arc::new(OpenAi(endpoint)),
        ProviderKind::Anthropic => Arc::new(Anthropic(endpoint)),
    })
}

/// What both implementations share.
struct Endpoint {
    cfg: ModelConfig,
    key: Option<Secret>,
    extra: serde_json::Map<String, Value>,
    transport: Transport,
}

type Decoded = (String, Vec<ToolUse>, Usage, String);

impl Endpoint {
    fn call(
        &self,
        path: &str,
        headers: &[(&str, String)],
        body: &Value,
        with_tools: bool,
        sent_tools: bool,
        decode: fn(&Value) -> Result<Decoded, String>,
    ) -> Result<ChatResponse, LlmError> {
        let url = format!("{}{path}", self.cfg.base_url());
        let answer: Answer = self
            .transport
            .post_json(&url, headers, body)
            .map_err(|e| self.tool_error(e, sent_tools))?;
        let (text, tool_calls, usage, stop) =
            decode(&answer.body).map_err(|message| LlmError::Decode {
                url: url.clone(),
                message,
            })?;
        // A reply without native calls may have written them as text.
        let (tool_calls, calls_in_text) =
            if tool_calls.is_empty() && with_tools && self.cfg.tool_calls != ToolCallMode::Native {
                let found = text_calls::extract(&text);
                let in_text = !found.is_empty();
                (found, in_text)
            } else {
                (tool_calls, false)
            };
        Ok(ChatResponse {
            text,
            tool_calls,
            calls_in_text,
            usage,
            stop,
            attempts: answer.attempts,
            latency_ms: answer.latency.as_millis() as u64,
        })
    }

    /// `req` as this server takes it: with `tool_calls = "text"` no native
    /// tool protocol at all; otherwise native, but turns whose calls were
    /// written as text go back as text.
    fn wire(&self, req: &ChatRequest) -> ChatRequest {
        match self.cfg.tool_calls {
            ToolCallMode::Text => text_calls::textual(req, true),
            ToolCallMode::Auto => text_calls::textual(req, false),
            ToolCallMode::Native => req.clone(),
        }
    }

    /// An error body that talks about tools, when tools were sent, means
    /// the server cannot call them: say what it needs.
    fn tool_error(&self, e: LlmError, with_tools: bool) -> LlmError {
        match e {
            LlmError::Status {
                url, status, body, ..
            } if with_tools
                && (400..600).contains(&status)
                && body.to_lowercase().contains("tool") =>
            {
                LlmError::NoToolSupport {
                    hint: format!(
                        "{} (the server said {status}: {body})",
                        tool_support_hint(&url)
                    ),
                    url,
                    model: self.cfg.model.clone(),
                }
            }
            other => other,
        }
    }
}

struct OpenAi(Endpoint);

impl Provider for OpenAi {
    fn kind(&self) -> &'static str {
        "openai"
    }

    fn model(&self) -> &str {
        &self.0.cfg.model
    }

    fn config(&self) -> &ModelConfig {
        &self.0.cfg
    }

    fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let wire = self.0.wire(req);
        let body = openai::encode(&wire, &self.0.cfg.model, &self.0.extra);
        let mut headers = Vec::new();
        if let Some(k) = &self.0.key {
            headers.push(("authorization", format!("Bearer {}", k.expose())));
        }
        self.0.call(
            openai::PATH,
            &headers,
            &body,
            !req.tools.is_empty(),
            !wire.tools.is_empty(),
            openai::decode,
        )
    }
}

struct Anthropic(Endpoint);

impl Provider for Anthropic {
    fn kind(&self) -> &'static str {
        "anthropic"
    }

    fn model(&self) -> &str {
        &self.0.cfg.model
    }

    fn config(&self) -> &ModelConfig {
        &self.0.cfg
    }

    fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let wire = self.0.wire(req);
        let body = anthropic::encode(&wire, &self.0.cfg.model, &self.0.extra);
        let mut headers = vec![("anthropic-version", anthropic::VERSION.to_string())];
        if let Some(k) = &self.0.key {
            headers.push(("x-api-key", k.expose().to_string()));
        }
        self.0.call(
            anthropic::PATH,
            &headers,
            &body,
            !req.tools.is_empty(),
            !wire.tools.is_empty(),
            anthropic::decode,
        )
    }
}
