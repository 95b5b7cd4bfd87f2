//! One agent run: read the request, call tools under the budget, submit.
//! The loop is the same for every policy and every arm; it does the
//! accounting, so no policy can read more than the budget allows.

use serde::Serialize;

use crate::tokens;

use super::budget::Budget;
use super::request::MAX_REQUEST_BYTES;
use super::tools::{ToolCall, ToolOutput, Toolbox};

/// A submitted file with its score and the evidence behind it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scored {
    pub path: String,
    pub score: f64,
    pub reason: String,
}

/// What a policy decides next.
#[derive(Debug, Clone)]
pub enum Action {
    Call(ToolCall),
    Submit(Vec<Scored>),
}

/// What a policy sees when it decides.
pub struct View<'a> {
    /// The request as read (cut when it did not fit the budget).
    pub request: &'a str,
    /// Context given with the request (the paper setting's related PRs:
    /// raw descriptions and patches, or the notebook's digest of them), as
    /// read; empty when there is none.
    pub context: &'a str,
    pub budget: &'a Budget,
    /// The previous call and its result.
    pub last: Option<(&'a ToolCall, &'a ToolOutput)>,
    /// True when the run must end now: the next action must be `Submit`.
    pub must_submit: bool,
}

/// Chooses the next call. The offline policy and a model-driven policy
/// implement this with the same tools and accounting.
pub trait Policy {
    fn name(&self) -> &'static str;
    fn next(&mut self, view: &View<'_>) -> Action;
    /// What the policy knew when it submitted (for audits and calibration).
    fn explain(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
    /// Tokens the loop keeps back when it cuts a tool result to the
    /// remaining budget (`remaining`), for the policy's own answer: a
    /// model's final submission turn. None by default.
    fn reserve(&self, _remaining: u64) -> u64 {
        0
    }
    /// The run's real total so far, when the policy's model measured one
    /// since the last decision (its provider's `usage`): the loop replaces
    /// its own count with it. See [`crate::agent::llm_policy`] for what
    /// counts. `None` by default: the loop's count stands.
    fn take_metered(&mut self) -> Option<u64> {
        None
    }
    /// What the caller should know about the policy's run (a model's
    /// errors, a fallback), added to [`Prediction::notes`].
    fn notes(&mut self) -> Vec<String> {
        Vec::new()
    }
    /// A model-driven policy's calls and their usage.
    fn model_use(&self) -> Option<ModelUse> {
        None
    }
    /// This repository's ranker, learned at sleep time, for the final
    /// choice (the sleep arm only). Ignored by default.
    fn set_ranker(&mut self, _ranker: std::sync::Arc<crate::learn::Ranker>) {}
}

/// The model calls of one run, by the provider's `usage` (billed tokens:
/// every call's whole prompt, so repeated prefixes count each time).
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct ModelUse {
    pub provider: String,
    pub model: String,
    /// Prompt template name and hash.
    pub template: String,
    pub template_hash: String,
    pub calls: u32,
    pub usage: crate::llm::Usage,
    /// True when the model gave no usable answer and the offline ranking
    /// was submitted instead.
    pub fallback: bool,
}

impl ModelUse {
    /// What `session` used; `fallback` when the offline ranking was
    /// submitted instead of the model's answer.
    pub fn of(session: &crate::llm::session::Session, fallback: bool) -> ModelUse {
        let p = session.provider();
        ModelUse {
            provider: p.kind().to_string(),
            model: p.model().to_string(),
            template: session.template.clone(),
            template_hash: session.template_hash.clone(),
            calls: session.calls,
            usage: session.usage,
            fallback,
        }
    }
}

/// One call of the run, for the audit trail.
#[derive(Debug, Clone, Serialize)]
pub struct TraceStep {
    pub step: u32,
    pub call: ToolCall,
    pub tokens: u64,
    pub truncated: bool,
    pub position: String,
    /// The text the policy read.
    pub result: String,
}

/// The outcome of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Prediction {
    pub policy: String,
    pub arm: String,
    pub files: Vec<Scored>,
    pub budget: u64,
    pub max_steps: u32,
    pub tokens_used: u64,
    pub request_tokens: u64,
    /// Tokens of context read with the request (paper setting; else 0).
    pub context_tokens: u64,
    pub steps: u32,
    pub trace: Vec<TraceStep>,
    /// Anything the caller should know (request cut, files dropped, ...).
    pub notes: Vec<String>,
    /// The policy's own account of its candidates ([`Policy::explain`]).
    #[serde(skip_serializing_if = "serde_json::Value::is_null")]
    pub explain: serde_json::Value,
    /// A model-driven policy's calls and usage ([`Policy::model_use`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelUse>,
}

/// Tokens kept back for the position line after a call.
const POSITION_RESERVE: u64 = 24;

/// Runs `policy` with `tools` on `request` inside `budget` tokens and `max_steps` calls.
pub fn run(
    policy: &mut dyn Policy,
    tools: &mut dyn Toolbox,
    request: &str,
    budget: u64,
    max_steps: u32,
) -> Prediction {
    run_with_context(policy, tools, request, "", budget, max_steps)
}

/// [`run`] with context text read before any call. The request is read
/// first and whole (within the budget); the context fills what is left, cut
/// at a line end when it does not fit, and is charged like any reading.
pub fn run_with_context(
    policy: &mut dyn Policy,
    tools: &mut dyn Toolbox,
    request: &str,
    context: &str,
    budget: u64,
    max_steps: u32,
) -> Prediction {
    let mut b = Budget::new(budget, max_steps);
    let mut notes = Vec::new();
    // The agent reads at most MAX_REQUEST_BYTES of a request: cut (and say
    // so) before counting, so it is never charged for text it does not read.
    let mut cut = request.len().min(MAX_REQUEST_BYTES);
    while !request.is_char_boundary(cut) {
        cut -= 1;
    }
    if cut < request.len() {
        notes.push(format!(
            "the request ({} bytes) is longer than the {MAX_REQUEST_BYTES} bytes the agent reads; the rest was cut",
            request.len()
        ));
    }
    let request = &request[..cut];
    let (req, req_tokens) = tokens::truncate(request, budget);
    if req.len() < request.len() {
        notes.push(format!(
            "the request ({} tokens) is larger than the budget ({budget}); only its first {req_tokens} tokens were read",
            tokens::count(request)
        ));
    }
    b.charge(req_tokens);
    let (ctx, ctx_tokens) = tokens::truncate(context, b.remaining());
    if ctx.len() < context.len() {
        notes.push(format!(
            "the context ({} tokens) did not fit the budget; only its first {ctx_tokens} tokens were read",
            tokens::count(context)
        ));
    }
    b.charge(ctx_tokens);
    let mut trace: Vec<TraceStep> = Vec::new();
    let mut last: Option<(ToolCall, ToolOutput)> = None;
    let files = loop {
        let must_submit = b.steps_left() == 0 || b.remaining() <= POSITION_RESERVE;
        let view = View {
            request: req,
            context: ctx,
            budget: &b,
            last: last.as_ref().map(|(c, o)| (c, o)),
            must_submit,
        };
        let action = policy.next(&view);
        if let Some(real) = policy.take_metered() {
            if real > budget {
                notes.push(format!(
                    "the model's provider counted {real} tokens, more than the budget of {budget}"
                ));
            }
            b.reconcile(real);
        }
        let call = match action {
            Action::Submit(files) => break files,
            // Submitting through the tool is always allowed, even when the
            // run must end: it is the answer, not another call.
            Action::Call(ToolCall::Submit { files }) => {
                break files
                    .into_iter()
                    .map(|path| Scored {
                        path,
                        score: 1.0,
                        reason: "submitted by the policy without a reason".into(),
                    })
                    .collect();
            }
            Action::Call(_) if must_submit => {
                notes.push("the policy asked for another call after the budget was spent; it submitted nothing".into());
                break Vec::new();
            }
            Action::Call(call) => call,
        };
        let max = b
            .remaining()
            .saturating_sub(POSITION_RESERVE + policy.reserve(b.remaining()));
        let out = tools.call(&call, max);
        b.charge(out.tokens);
        b.step += 1;
        let position = b.position();
        let cost = tokens::count(&position);
        if cost <= b.remaining() {
            b.charge(cost);
        }
        trace.push(TraceStep {
            step: b.step,
            call: call.clone(),
            tokens: out.tokens + cost,
            truncated: out.truncated,
            position,
            result: out.text.clone(),
        });
        last = Some((call, out));
    };
    notes.extend(policy.notes());
    let mut kept = Vec::new();
    for f in files {
        if let Err(rule) = crate::git::path::check(&f.path) {
            notes.push(format!(
                "dropped `{}`: {rule}",
                crate::git::path::display(&f.path)
            ));
        } else if !tools.exists(&f.path) {
            notes.push(format!("dropped {}: not a file of this snapshot", f.path));
        } else if !kept.iter().any(|k: &Scored| k.path == f.path) {
            kept.push(f);
        }
    }
    Prediction {
        policy: policy.name().to_string(),
        arm: tools.arm().to_string(),
        files: kept,
        budget,
        max_steps,
        tokens_used: b.used,
        request_tokens: req_tokens,
        context_tokens: ctx_tokens,
        steps: b.step,
        trace,
        notes,
        explain: policy.explain(),
        model: policy.model_use(),
    }
}
