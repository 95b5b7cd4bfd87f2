//! The cheap model-driven policy (`--policy llm-rerank`): the offline
//! policy searches as usual inside a budget shrunk by what one model call
//! needs; then one call reranks the offline policy's leading candidates
//! (paths, the evidence behind each, and the first line of any card read)
//! and chooses the set with `submit`.
//!
//! The run's tokens are what the offline policy read (cl100k, charged by
//! the loop) plus that call's prompt and reply by the provider's `usage`
//! (the request is read again there and counted again). The call is made
//! only when its estimate fits the budget; otherwise, or when it fails or
//! chooses nothing from the list, the offline choice is submitted.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use crate::llm::prompt::{RerankPrompt, Template};
use crate::llm::{ChatRequest, LlmError, Message, Provider, Session, ToolChoice};
use crate::tokens;

use super::budget::Budget;
use super::llm_policy::SUBMIT_OUT;
use super::offline::OfflinePolicy;
use super::run::{Action, ModelUse, Policy, Scored, View};
use super::tool_schema;
use super::tools::{ToolCall, ToolData};

/// Candidates shown to the model at most, and tokens estimated per line.
const CANDIDATES: usize = 12;
const LINE_TOKENS: u64 = 45;

pub struct RerankPolicy {
    inner: OfflinePolicy,
    session: Session,
    prompt: Template,
    cards: HashMap<String, String>,
    /// Tokens kept for the call, and how many candidates it shows.
    keep: Option<(u64, usize)>,
    fresh: Option<u64>,
    fell_back: bool,
    notes: Vec<String>,
}

impl RerankPolicy {
    pub fn new(
        provider: Arc<dyn Provider>,
        ledger: Option<crate::llm::Ledger>,
        state_dir: Option<&Path>,
    ) -> Result<RerankPolicy, LlmError> {
        let prompt = Template::load("rerank", state_dir)?;
        Ok(RerankPolicy {
            inner: OfflinePolicy::default(),
            session: Session::new(provider, ledger, "rerank", &prompt),
            prompt,
            cards: HashMap::new(),
            keep: None,
            fresh: None,
            fell_back: false,
            notes: Vec::new(),
        })
    }

    /// Tokens the call needs with `n` candidates (prompt with margin, reply).
    fn need(&self, view: &View<'_>, n: usize) -> u64 {
        let fixed = tokens::count(&self.prompt.text)
            + tokens::count(view.request)
            + tokens::count(&serde_json::to_string(&tool_schema::submit_spec()).expect("spec"));
        (fixed + LINE_TOKENS * n as u64).div_ceil(4) * 5 + SUBMIT_OUT
    }

    fn plan(&mut self, view: &View<'_>) -> (u64, usize) {
        if let Some(k) = self.keep {
            return k;
        }
        let half = view.budget.tokens / 2;
        let mut n = CANDIDATES;
        while n > 2 && self.need(view, n) > half {
            n -= 1;
        }
        let need = self.need(view, n);
        let k = if need > half { (0, 0) } else { (need, n) };
        self.keep = Some(k);
        k
    }

    fn offline(&mut self, files: Vec<Scored>, why: String) -> Action {
        self.notes
            .push(format!("{why}; submitted the offline choice"));
        self.fell_back = true;
        Action::Submit(files)
    }

    fn rerank(&mut self, view: &View<'_>, offline: Vec<Scored>, n: usize) -> Action {
        let ranked: Vec<Scored> = self.inner.ranked().into_iter().take(n).collect();
        if ranked.len() < 2 {
            return Action::Submit(offline);
        }
        let lines: Vec<String> = ranked
            .iter()
            .map(|s| match self.cards.get(&s.path) {
                Some(card) => format!("{}: {} | card: {card}", s.path, s.reason),
                None => format!("{}: {}", s.path, s.reason),
            })
            .collect();
        let rendered = match self.prompt.render(&RerankPrompt {
            typical_files: "1 to 4".into(),
            max_files: offline.len().max(4),
            candidates: lines.join("\n"),
            request: view.request.to_string(),
        }) {
            Ok(r) => r,
            Err(e) => return self.offline(offline, format!("the rerank prompt failed: {e}")),
        };
        let spec = tool_schema::submit_spec();
        let est = (tokens::count(&rendered.system)
            + tokens::count(&rendered.user)
            + tokens::count(&serde_json::to_string(&spec).expect("spec")))
        .div_ceil(4)
            * 5
            + 40;
        let room = view
            .budget
            .remaining()
            .saturating_sub(est)
            .min(self.session.provider().config().max_output_tokens as u64);
        if room < 48 {
            return self.offline(offline, "no budget was left for the rerank call".into());
        }
        let req = ChatRequest {
            system: rendered.system,
            tools: vec![spec],
            messages: vec![Message::User(rendered.user)],
            tool_choice: ToolChoice::Tool("submit".into()),
            max_tokens: room as u32,
        };
        let resp = match self.session.call(&req) {
            Ok(r) => r,
            Err(e) => return self.offline(offline, format!("the rerank call failed: {e}")),
        };
        self.fresh = Some(view.budget.used + resp.usage.context());
        let chosen = resp
            .tool_calls
            .iter()
            .find_map(|u| match tool_schema::parse(u) {
                Ok(ToolCall::Submit { files }) => Some(files),
                _ => None,
            });
        let Some(files) = chosen else {
            return self.offline(offline, "the model did not call `submit`".into());
        };
        let mut out: Vec<Scored> = Vec::new();
        for f in files {
            if let Some(s) = ranked.iter().find(|s| s.path == f.trim())
                && !out.iter().any(|o| o.path == s.path)
            {
                out.push(Scored {
                    path: s.path.clone(),
                    score: 0.0,
                    reason: format!("chosen by the model; {}", s.reason),
                });
            }
        }
        if out.is_empty() {
            return self.offline(
                offline,
                "the model chose no file from the candidates".into(),
            );
        }
        let k = out.len() as f64;
        for (i, s) in out.iter_mut().enumerate() {
            s.score = 1.0 - i as f64 / k;
        }
        Action::Submit(out)
    }
}

impl Policy for RerankPolicy {
    fn name(&self) -> &'static str {
        "llm-rerank"
    }

    fn set_ranker(&mut self, ranker: std::sync::Arc<crate::learn::Ranker>) {
        self.inner.set_ranker(ranker);
    }

    fn next(&mut self, view: &View<'_>) -> Action {
        if let Some((ToolCall::Card { path }, out)) = view.last
            && let ToolData::Card { text, .. } = &out.data
        {
            let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            self.cards
                .insert(path.clone(), crate::notebook::card::one_line(first, 140));
        }
        let (keep, n) = self.plan(view);
        let inner_budget = Budget {
            tokens: view.budget.tokens.saturating_sub(keep),
            ..view.budget.clone()
        };
        let inner_view = View {
            request: view.request,
            context: view.context,
            budget: &inner_budget,
            last: view.last,
            must_submit: view.must_submit || inner_budget.remaining() <= 24,
        };
        match self.inner.next(&inner_view) {
            Action::Call(ToolCall::Submit { files }) => Action::Call(ToolCall::Submit { files }),
            Action::Call(c) if !inner_view.must_submit => Action::Call(c),
            Action::Call(_) => Action::Submit(self.inner.choice()),
            Action::Submit(files) if n == 0 => {
                self.offline(files, "the budget is too small for a rerank call".into())
            }
            Action::Submit(files) => self.rerank(view, files, n),
        }
    }

    fn reserve(&self, _remaining: u64) -> u64 {
        self.keep.map_or(0, |k| k.0)
    }

    fn take_metered(&mut self) -> Option<u64> {
        self.fresh.take()
    }

    fn notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notes)
    }

    fn model_use(&self) -> Option<ModelUse> {
        Some(ModelUse::of(&self.session, self.fell_back))
    }

    fn explain(&self) -> serde_json::Value {
        self.inner.explain()
    }
}
