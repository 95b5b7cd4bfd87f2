//! A [`Session`]: the calls of one task (a prediction, a sleep's cards) to
//! one provider with one template, each recorded in the cost ledger and
//! summed. A ledger that cannot be written is logged, never fatal.

use std::sync::Arc;

use super::error::LlmError;
use super::ledger::{Ledger, LedgerEntry};
use super::message::{ChatRequest, ChatResponse, Message, ToolChoice, Usage};
use super::prompt::{Rendered, Template};
use super::provider::Provider;

/// A plain-text request (no tools) for a rendered sleep-time prompt, and
/// the tokens it may cost: the prompt by cl100k plus a quarter (other
/// tokenizers count more), plus the longest reply allowed.
pub fn text_request(rendered: Rendered, max_out: u64) -> (ChatRequest, u64) {
    let estimate = (crate::tokens::count(&rendered.system) + crate::tokens::count(&rendered.user))
        .div_ceil(4)
        * 5
        + max_out;
    let req = ChatRequest {
        system: rendered.system,
        tools: Vec::new(),
        messages: vec![Message::User(rendered.user)],
        tool_choice: ToolChoice::Auto,
        max_tokens: u32::try_from(max_out).unwrap_or(u32::MAX),
    };
    (req, estimate)
}

pub struct Session {
    provider: Arc<dyn Provider>,
    ledger: Option<Ledger>,
    purpose: String,
    pub template: String,
    pub template_hash: String,
    /// Calls made, failed ones included.
    pub calls: u32,
    /// Sum of the successful calls' usage.
    pub usage: Usage,
}

impl Session {
    pub fn new(
        provider: Arc<dyn Provider>,
        ledger: Option<Ledger>,
        purpose: &str,
        template: &Template,
    ) -> Session {
        Session {
            provider,
            ledger,
            purpose: purpose.to_string(),
            template: template.name.clone(),
            template_hash: template.hash.clone(),
            calls: 0,
            usage: Usage::default(),
        }
    }

    pub fn provider(&self) -> &dyn Provider {
        self.provider.as_ref()
    }

    pub fn ledger(&self) -> Option<&Ledger> {
        self.ledger.as_ref()
    }

    /// One call, recorded.
    pub fn call(&mut self, req: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let started = std::time::Instant::now();
        let result = self.provider.chat(req);
        self.calls += 1;
        let (usage, latency_ms, attempts, ok) = match &result {
            Ok(r) => (r.usage, r.latency_ms, r.attempts, true),
            Err(_) => (
                Usage::default(),
                started.elapsed().as_millis() as u64,
                self.provider.config().max_attempts,
                false,
            ),
        };
        self.usage.add(&usage);
        if let Some(ledger) = &self.ledger {
            let entry = LedgerEntry {
                provider: self.provider.kind().to_string(),
                model: self.provider.model().to_string(),
                purpose: self.purpose.clone(),
                template: self.template.clone(),
                template_hash: self.template_hash.clone(),
                usage,
                latency_ms,
                attempts,
                ok,
            };
            if let Err(e) = ledger.record(&entry, self.provider.config().price.as_ref()) {
                let mut why = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(s) = source {
                    why.push_str(&format!(": {s}"));
                    source = s.source();
                }
                tracing::warn!("cannot record a model call in the cost ledger: {why}");
            }
        }
        result
    }
}
