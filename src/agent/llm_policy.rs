//! The model-driven policy (`--policy llm`): a model calls the same tools
//! as the offline policy, through its provider's tool calling, inside the
//! same loop, budget and step cap.
//!
//! **What the budget counts.** The run's tokens are the size of the
//! model's conversation as its provider counts it (`usage`): after each
//! model call, the loop's count is replaced by that call's whole prompt
//! (system prompt, tool schemas, request, context, every tool result with
//! its position line, every earlier reply; cached or not) plus its reply.
//! Each token the model read or wrote counts once, however many calls
//! re-sent it; what the provider bills (every call's whole prompt) is in
//! [`ModelUse`] and the cost ledger. Between calls the loop charges tool
//! results with cl100k as for the offline policy, and the next call's
//! `usage` corrects the estimate.
//!
//! **Never over budget.** A call is made only when its prompt, estimated as
//! the last measured size plus 1.25 × the cl100k tokens of what is new,
//! plus its `max_tokens`, fits the budget and leaves room for a final
//! submission; the loop keeps that room back when it cuts tool results
//! ([`Policy::reserve`]). When the room is gone, or the step cap is near,
//! one last call forces `submit` (`tool_choice`). If the model still does
//! not submit, or a call fails, the policy submits the ranking of an
//! offline policy that watched every result ([`OfflinePolicy::observe`]).
//!
//! **A model that loops hands over.** A call identical to one already
//! made is not run again (its answer could not change): it is answered
//! with an error saying so. After [`MAX_STRIKES`] replies in a row whose
//! calls all failed or repeated (the calls of one reply count once: the
//! model could not react between them) the model is stopped and the offline policy runs the
//! rest of the budget from what the tools showed (small local models were
//! seen calling `card` on `/path/to/your/file` twelve times).
//!
//! **Data, not instructions.** The tools are read-only; a call the model
//! makes that does not parse (unknown tool, bad JSON) is answered with an
//! error text and never runs.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;

use crate::llm::error::tool_support_hint;
use crate::llm::prompt::{AgentPrompt, Template};
use crate::llm::{
    ChatRequest, ChatResponse, LlmError, Message, Provider, Session, ToolChoice, ToolResult,
    ToolSpec,
};
use crate::tokens;

use super::offline::OfflinePolicy;
use super::run::{Action, ModelUse, Policy, Scored, View};
use super::tool_schema;
use super::tools::{ToolCall, ToolData};

/// Output tokens kept for the final submission.
pub const SUBMIT_OUT: u64 = 200;
/// Smallest reply worth asking for.
const MIN_SUBMIT_OUT: u64 = 48;
const MIN_TURN_OUT: u64 = 96;
/// Estimated tokens of a message's framing.
const MESSAGE_OVERHEAD: u64 = 12;
/// Model calls in one decision (after malformed calls or text replies).
const TURNS_PER_DECISION: usize = 3;
/// Replies in a row whose calls all failed or repeated, after which the
/// model is stopped.
pub const MAX_STRIKES: u32 = 3;

const NUDGE: &str =
    "Answer with a tool call: investigate with the tools, or call `submit` with the files.";
const FINAL: &str = "The budget or the step cap is reached: call `submit` now with the files you found, the most likely first.";

pub struct LlmPolicy {
    session: Session,
    prompt: Template,
    max_files: usize,
    system: String,
    tools: Vec<ToolSpec>,
    messages: Vec<Message>,
    started: bool,
    pending: VecDeque<(String, ToolCall)>,
    running: Option<String>,
    answered: Vec<ToolResult>,
    /// cl100k tokens and count of the messages not yet sent.
    unsent_tokens: u64,
    unsent_messages: u64,
    /// The conversation's size after the last call, by the provider.
    measured: u64,
    fresh: Option<u64>,
    fallback: OfflinePolicy,
    fell_back: bool,
    /// The offline policy runs the rest of the run (the model gave up
    /// before the tools had shown anything).
    offline: bool,
    saw_tool_call: bool,
    /// The calls run so far (a repeat is answered without running).
    made: Vec<ToolCall>,
    /// Replies in a row whose calls all failed or repeated.
    strikes: u32,
    /// Calls of the last reply not yet settled into `strikes`, and whether
    /// one of them ran without error.
    reply_calls: usize,
    reply_showed: bool,
    notes: Vec<String>,
}

impl LlmPolicy {
    /// A policy on `provider`; calls are recorded in `ledger` when given;
    /// the prompt template may be overridden in `state_dir`.
    pub fn new(
        provider: Arc<dyn Provider>,
        ledger: Option<crate::llm::Ledger>,
        state_dir: Option<&Path>,
    ) -> Result<LlmPolicy, LlmError> {
        let prompt = Template::load("agent", state_dir)?;
        let fallback = OfflinePolicy::default();
        Ok(LlmPolicy {
            session: Session::new(provider, ledger, "predict", &prompt),
            prompt,
            max_files: fallback_max_files(),
            system: String::new(),
            tools: tool_schema::specs(),
            messages: Vec::new(),
            started: false,
            pending: VecDeque::new(),
            running: None,
            answered: Vec::new(),
            unsent_tokens: 0,
            unsent_messages: 0,
            measured: 0,
            fresh: None,
            fallback,
            fell_back: false,
            offline: false,
            saw_tool_call: false,
            made: Vec::new(),
            strikes: 0,
            reply_calls: 0,
            reply_showed: false,
            notes: Vec::new(),
        })
    }

    fn start(&mut self, view: &View<'_>) -> Result<(), LlmError> {
        self.started = true;
        let context = if view.context.trim().is_empty() {
            String::new()
        } else {
            format!("Related pull requests:\n{}\n\n", view.context.trim_end())
        };
        let r = self.prompt.render(&AgentPrompt {
            typical_files: "1 to 4".into(),
            max_files: self.max_files,
            context,
            request: view.request.to_string(),
        })?;
        self.system = r.system;
        let schema = serde_json::to_string(&self.tools).expect("tool specs serialize");
        self.unsent_tokens = tokens::count(&self.system) + tokens::count(&schema);
        self.unsent_messages = 1 + self.tools.len() as u64;
        self.push_user(r.user);
        Ok(())
    }

    fn push_user(&mut self, text: String) {
        self.unsent_tokens += tokens::count(&text);
        self.unsent_messages += 1;
        self.messages.push(Message::User(text));
    }

    fn answer(&mut self, id: String, content: String, is_error: bool) {
        self.unsent_tokens += tokens::count(&content);
        self.unsent_messages += 1;
        self.answered.push(ToolResult {
            id,
            content,
            is_error,
        });
    }

    fn flush(&mut self) {
        if !self.answered.is_empty() {
            self.messages
                .push(Message::ToolResults(std::mem::take(&mut self.answered)));
        }
    }

    /// The next prompt's size, with margin for another tokenizer.
    fn estimate(&self) -> u64 {
        self.measured + self.unsent_tokens.div_ceil(4) * 5 + self.unsent_messages * MESSAGE_OVERHEAD
    }

    fn room(&self, view: &View<'_>) -> u64 {
        view.budget
            .tokens
            .min(self.session.provider().config().context_window)
            .saturating_sub(self.estimate())
    }

    fn call(&mut self, choice: ToolChoice, max_tokens: u64) -> Result<ChatResponse, LlmError> {
        self.flush();
        let req = ChatRequest {
            system: self.system.clone(),
            tools: self.tools.clone(),
            messages: self.messages.clone(),
            tool_choice: choice,
            max_tokens: max_tokens.min(u32::MAX as u64) as u32,
        };
        let resp = self.session.call(&req)?;
        self.measured = resp.usage.context();
        self.fresh = Some(self.measured);
        self.unsent_tokens = 0;
        self.unsent_messages = 0;
        self.saw_tool_call |= !resp.tool_calls.is_empty();
        self.messages.push(Message::Assistant {
            text: resp.text.clone(),
            tool_calls: resp.tool_calls.clone(),
            calls_in_text: resp.calls_in_text,
        });
        Ok(resp)
    }

    /// Reads a reply: a submission, or calls queued for the loop (malformed
    /// ones answered with their error).
    fn absorb(&mut self, resp: &ChatResponse) -> Option<Vec<Scored>> {
        self.reply_calls = resp.tool_calls.len();
        self.reply_showed = false;
        for u in &resp.tool_calls {
            match tool_schema::parse(u) {
                Ok(ToolCall::Submit { files }) => return Some(self.scored(files)),
                Ok(call) => self.pending.push_back((u.id.clone(), call)),
                Err(e) => {
                    tracing::debug!("the model made a bad call: {e}");
                    self.answer(u.id.clone(), format!("error: {e}"), true);
                }
            }
        }
        None
    }

    fn scored(&self, files: Vec<String>) -> Vec<Scored> {
        let mut seen = Vec::new();
        for f in files {
            let f = f.trim().trim_start_matches("./").to_string();
            if !f.is_empty() && !seen.contains(&f) {
                seen.push(f);
            }
        }
        seen.truncate(self.max_files);
        let n = seen.len().max(1) as f64;
        seen.into_iter()
            .enumerate()
            .map(|(i, path)| Scored {
                path,
                score: 1.0 - i as f64 / n,
                reason: format!("chosen by the model (rank {})", i + 1),
            })
            .collect()
    }

    /// The offline ranking of what the tools showed; when they showed
    /// nothing yet and the run has steps left, the offline policy runs the
    /// rest of the budget instead of submitting nothing.
    fn give_up(&mut self, why: String, view: &View<'_>) -> Action {
        self.fell_back = true;
        if self.fallback.ranked().is_empty() && !view.must_submit && view.budget.steps_left() > 0 {
            self.notes.push(format!(
                "{why}; the offline policy ran the rest of the budget"
            ));
            self.offline = true;
            return self.fallback.decide(view);
        }
        self.notes.push(format!(
            "{why}; submitted the offline ranking of what the tools showed"
        ));
        Action::Submit(self.fallback.choice())
    }

    /// The model is stopped while the run may go on: the offline policy
    /// runs the rest of the budget from what the tools showed.
    fn hand_over(&mut self, why: String, view: &View<'_>) -> Action {
        self.fell_back = true;
        if view.must_submit || view.budget.steps_left() == 0 {
            self.notes.push(format!(
                "{why}; submitted the offline ranking of what the tools showed"
            ));
            return Action::Submit(self.fallback.choice());
        }
        self.notes.push(format!(
            "{why}; the offline policy ran the rest of the budget"
        ));
        self.offline = true;
        self.fallback.decide(view)
    }

    /// The next queued call that was not made before; repeats are answered
    /// with an error without running.
    fn next_pending(&mut self) -> Option<(String, ToolCall)> {
        while let Some((id, call)) = self.pending.pop_front() {
            if self.made.contains(&call) {
                self.answer(
                    id,
                    "error: this exact call was made already; its result above would not change. Call another tool with other arguments, or call `submit`.".into(),
                    true,
                );
                continue;
            }
            return Some((id, call));
        }
        None
    }

    /// Settles the last reply's calls (all answered) into the strikes;
    /// true when the model is looping.
    fn looping(&mut self) -> bool {
        if self.reply_calls > 0 && self.pending.is_empty() && self.running.is_none() {
            if self.reply_showed {
                self.strikes = 0;
            } else {
                self.strikes += 1;
            }
            self.reply_calls = 0;
        }
        self.strikes >= MAX_STRIKES
    }

    fn stop_looping(&mut self, view: &View<'_>) -> Action {
        let why = format!(
            "the model's calls failed or repeated earlier ones in {} replies in a row",
            self.strikes
        );
        self.hand_over(why, view)
    }

    fn failed(&mut self, e: LlmError, view: &View<'_>) -> Action {
        tracing::warn!("model call failed: {e}");
        self.give_up(format!("the model call failed: {e}"), view)
    }

    /// The last turn: every open call answered, then `submit` forced.
    fn finish(&mut self, view: &View<'_>) -> Action {
        while let Some((id, _)) = self.pending.pop_front() {
            self.answer(id, "not run: the run must end now".into(), true);
        }
        self.flush();
        self.push_user(FINAL.into());
        let out = self
            .room(view)
            .min(self.session.provider().config().max_output_tokens as u64);
        if out < MIN_SUBMIT_OUT {
            return self.give_up(
                "no budget was left for the model's final submission".into(),
                view,
            );
        }
        match self.call(ToolChoice::Tool("submit".into()), out) {
            Ok(resp) => match self.absorb(&resp) {
                Some(files) => Action::Submit(files),
                None if !self.saw_tool_call => {
                    let hint = tool_support_hint(&self.session.provider().config().base_url());
                    self.give_up(format!(
                        "the model answered without a tool call even when `submit` was required; if the server lacks tool calling: {hint}"
                    ), view)
                }
                None => self.give_up(
                    "the model did not call `submit` when it was required".into(),
                    view,
                ),
            },
            Err(e) => self.failed(e, view),
        }
    }
}

/// The offline calibration's cap on a set.
fn fallback_max_files() -> usize {
    super::offline::Calibration::default().max_files
}

impl Policy for LlmPolicy {
    fn name(&self) -> &'static str {
        "llm"
    }

    /// The offline ranking this policy falls back on uses the learned ranker.
    fn set_ranker(&mut self, ranker: Arc<crate::learn::Ranker>) {
        self.fallback.set_ranker(ranker);
    }

    fn next(&mut self, view: &View<'_>) -> Action {
        self.fallback.observe(view);
        if self.offline {
            return self.fallback.decide(view);
        }
        if !self.started
            && let Err(e) = self.start(view)
        {
            return self.failed(e, view);
        }
        if let (Some(id), Some((call, out))) = (self.running.take(), view.last) {
            let content = format!("{}\n{}", out.text, view.budget.position());
            self.answer(id, content, false);
            if !matches!(out.data, ToolData::Error { .. }) {
                self.reply_showed = true;
            }
            self.made.push(call.clone());
        }
        if view.must_submit || view.budget.steps_left() == 0 {
            return self.finish(view);
        }
        if let Some((id, call)) = self.next_pending() {
            self.running = Some(id);
            return Action::Call(call);
        }
        if self.looping() {
            return self.stop_looping(view);
        }
        let max_out = self.session.provider().config().max_output_tokens as u64;
        let mut nudged = false;
        for _ in 0..TURNS_PER_DECISION {
            let out = self
                .room(view)
                .saturating_sub(SUBMIT_OUT + MESSAGE_OVERHEAD * 2)
                .min(max_out);
            if out < MIN_TURN_OUT {
                break;
            }
            let resp = match self.call(ToolChoice::Auto, out) {
                Ok(r) => r,
                Err(e) => return self.failed(e, view),
            };
            if let Some(files) = self.absorb(&resp) {
                return Action::Submit(files);
            }
            if let Some((id, call)) = self.next_pending() {
                self.running = Some(id);
                return Action::Call(call);
            }
            if self.looping() {
                return self.stop_looping(view);
            }
            if resp.tool_calls.is_empty() {
                // Talk instead of a call: ask once, then force the answer.
                if nudged {
                    break;
                }
                nudged = true;
                self.push_user(NUDGE.into());
            }
        }
        self.finish(view)
    }

    fn reserve(&self, remaining: u64) -> u64 {
        SUBMIT_OUT + 4 * MESSAGE_OVERHEAD + remaining / 5
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
        self.fallback.explain()
    }
}
