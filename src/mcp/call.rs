//! A tool call as the server understands it: the tool's name and JSON
//! arguments checked once, the defaults of the configuration filled in,
//! the request of `predict_files` validated into a [`Query`].

use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::agent::ToolCall;
use crate::agent::predict::{Query, QueryError};
use crate::config::Config;

use super::params::{
    PathParams, PredictParams, SearchParams, SimilarParams, StatusParams, SymbolParams,
};

/// The names of the tools, in the order they are listed.
pub const TOOL_NAMES: [&str; 7] = [
    "predict_files",
    "search",
    "file_card",
    "similar_prs",
    "cochange",
    "symbol",
    "notebook_status",
];

/// Files `search` returns when `k` is not given.
const SEARCH_K: usize = 10;
/// Past changes `similar_prs` returns when `k` is not given.
const SIMILAR_K: usize = 5;
/// The most `k` may ask for.
const MAX_K: usize = 50;

/// What a server fills in when a caller leaves an argument out: the
/// configuration's `agent.budget`, `agent.steps` and `agent.tool_tokens`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Defaults {
    pub budget: u64,
    pub steps: u32,
    pub tool_tokens: u64,
}

impl Defaults {
    pub fn from_config(config: &Config) -> Defaults {
        Defaults {
            budget: config.agent.budget,
            steps: config.agent.steps,
            tool_tokens: config.agent.tool_tokens,
        }
    }
}

/// Which tool, with its arguments.
#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    /// `predict_files`: a prediction, through the one entry point.
    PredictFiles(Query),
    /// One of the notebook's own tools (`search`, `file_card`,
    /// `similar_prs`, `cochange`, `symbol`), as the sleep arm calls it.
    Notebook(ToolCall),
    /// `notebook_status`.
    Status,
}

/// A call and the most tokens its answer may take.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub call: Call,
    pub max_tokens: u64,
}

/// Why a call cannot be made: the caller's mistake, answered as a
/// protocol error (invalid parameters).
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("unknown tool `{0}` (the tools are {names})", names = TOOL_NAMES.join(", "))]
    UnknownTool(String),
    #[error("invalid arguments for `{tool}`")]
    Arguments {
        tool: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("invalid request for `predict_files`")]
    Query(#[source] QueryError),
    #[error("`max_tokens` must be at least 1")]
    ZeroTokens,
}

impl Request {
    /// The call `name` with `arguments` (absent: none), defaults filled in.
    pub fn parse(
        name: &str,
        arguments: Option<Map<String, Value>>,
        defaults: &Defaults,
    ) -> Result<Request, CallError> {
        let args = Value::Object(arguments.unwrap_or_default());
        let (call, max_tokens) = match name {
            "predict_files" => {
                let p: PredictParams = parse_args("predict_files", args)?;
                let query = Query::new(
                    p.request,
                    p.budget.unwrap_or(defaults.budget),
                    defaults.steps,
                )
                .map_err(CallError::Query)?;
                (Call::PredictFiles(query), p.max_tokens)
            }
            "search" => {
                let p: SearchParams = parse_args("search", args)?;
                let call = ToolCall::Search {
                    query: p.query,
                    k: p.k.unwrap_or(SEARCH_K).clamp(1, MAX_K),
                    brief: false,
                };
                (Call::Notebook(call), p.max_tokens)
            }
            "file_card" => {
                let p: PathParams = parse_args("file_card", args)?;
                (
                    Call::Notebook(ToolCall::Card { path: p.path }),
                    p.max_tokens,
                )
            }
            "similar_prs" => {
                let p: SimilarParams = parse_args("similar_prs", args)?;
                let call = ToolCall::SimilarPrs {
                    text: p.text,
                    k: p.k.unwrap_or(SIMILAR_K).clamp(1, MAX_K),
                    brief: false,
                };
                (Call::Notebook(call), p.max_tokens)
            }
            "cochange" => {
                let p: PathParams = parse_args("cochange", args)?;
                (
                    Call::Notebook(ToolCall::Cochange { path: p.path }),
                    p.max_tokens,
                )
            }
            "symbol" => {
                let p: SymbolParams = parse_args("symbol", args)?;
                (
                    Call::Notebook(ToolCall::Symbol { name: p.name }),
                    p.max_tokens,
                )
            }
            "notebook_status" => {
                let p: StatusParams = parse_args("notebook_status", args)?;
                (Call::Status, p.max_tokens)
            }
            other => return Err(CallError::UnknownTool(other.to_string())),
        };
        let max_tokens = max_tokens.unwrap_or(defaults.tool_tokens);
        if max_tokens == 0 {
            return Err(CallError::ZeroTokens);
        }
        Ok(Request { call, max_tokens })
    }

    /// The tool's name.
    pub fn name(&self) -> &'static str {
        match &self.call {
            Call::PredictFiles(_) => "predict_files",
            Call::Status => "notebook_status",
            Call::Notebook(c) => match c {
                ToolCall::Card { .. } => "file_card",
                other => other.name(),
            },
        }
    }

    /// The arguments with every default made explicit: what a server that
    /// forwards the call sends on, so the answer is the one asked for here.
    pub fn arguments(&self) -> Map<String, Value> {
        let mut args = match &self.call {
            Call::PredictFiles(q) => json!({ "request": q.request(), "budget": q.budget() }),
            Call::Status => json!({}),
            Call::Notebook(c) => match c {
                ToolCall::Search { query, k, .. } => json!({ "query": query, "k": k }),
                ToolCall::Card { path } | ToolCall::Cochange { path } => json!({ "path": path }),
                ToolCall::SimilarPrs { text, k, .. } => json!({ "text": text, "k": k }),
                ToolCall::Symbol { name } => json!({ "name": name }),
                // Never made by `parse`.
                ToolCall::Read { .. } | ToolCall::List { .. } | ToolCall::Submit { .. } => {
                    json!({})
                }
            },
        };
        let map = args.as_object_mut().expect("an object literal");
        map.insert("max_tokens".into(), json!(self.max_tokens));
        std::mem::take(map)
    }
}

fn parse_args<T: DeserializeOwned>(tool: &'static str, args: Value) -> Result<T, CallError> {
    serde_json::from_value(args).map_err(|source| CallError::Arguments { tool, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: Defaults = Defaults {
        budget: 4000,
        steps: 12,
        tool_tokens: 2000,
    };

    fn args(v: Value) -> Option<Map<String, Value>> {
        v.as_object().cloned()
    }

    #[test]
    fn defaults_are_filled_in_and_made_explicit_for_forwarding() {
        let r = Request::parse("search", args(json!({ "query": "units" })), &D).expect("valid");
        assert_eq!(r.max_tokens, 2000);
        assert_eq!(
            r.call,
            Call::Notebook(ToolCall::Search {
                query: "units".into(),
                k: 10,
                brief: false
            })
        );
        let again = Request::parse(r.name(), Some(r.arguments()), &D).expect("round trip");
        assert_eq!(again, r);
        let p = Request::parse(
            "predict_files",
            args(json!({ "request": "Add x", "max_tokens": 300 })),
            &D,
        )
        .expect("valid");
        assert_eq!(p.max_tokens, 300);
        let Call::PredictFiles(q) = &p.call else {
            panic!("a prediction")
        };
        assert_eq!((q.budget(), q.steps()), (4000, 12));
        let card = Request::parse("file_card", args(json!({ "path": "a.rs" })), &D).expect("ok");
        assert_eq!(card.name(), "file_card");
        assert_eq!(
            Request::parse(card.name(), Some(card.arguments()), &D).expect("round trip"),
            card
        );
        assert_eq!(
            Request::parse("notebook_status", None, &D)
                .expect("no arguments")
                .call,
            Call::Status
        );
    }

    #[test]
    fn mistakes_are_named() {
        let e = Request::parse("grep", None, &D).expect_err("unknown");
        assert!(e.to_string().contains("`grep`"), "{e}");
        assert!(e.to_string().contains("predict_files"), "{e}");
        let e = Request::parse("search", args(json!({ "q": "x" })), &D).expect_err("bad");
        assert!(
            matches!(e, CallError::Arguments { tool: "search", .. }),
            "{e}"
        );
        let e = Request::parse("predict_files", args(json!({ "request": " " })), &D)
            .expect_err("empty request");
        assert!(matches!(e, CallError::Query(QueryError::Empty)), "{e}");
        let e = Request::parse("symbol", args(json!({ "name": "x", "max_tokens": 0 })), &D)
            .expect_err("no room");
        assert!(matches!(e, CallError::ZeroTokens), "{e}");
    }
}
