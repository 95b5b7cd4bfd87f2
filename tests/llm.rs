//! Language models without the network: the two wire formats against
//! loopback stand-ins (`tests/support/llm_server.rs`) replaying the replies
//! of `fixtures/http/llm/`; the llm and llm-rerank policies in the real
//! agent loop on the cookbook notebook; retries, malformed calls, a model
//! that never submits, a server without tool calling, the cost ledger, the
//! budget; then `predict`, `sleep`, `status` and `eval` end to end.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use swe_sleep::agent::llm_policy::LlmPolicy;
use swe_sleep::agent::rerank::RerankPolicy;
use swe_sleep::agent::sleep_tools::NotebookTools;
use swe_sleep::agent::{Policy, Prediction, ToolCall, run};
use swe_sleep::config::{ModelConfig, ProviderKind, ToolCallMode};
use swe_sleep::git::Repo;
use swe_sleep::llm::prompt::Template;
use swe_sleep::llm::{self, ChatRequest, Ledger, LlmError, Message, ToolChoice};
use swe_sleep::notebook::Notebook;
use swe_sleep::secret::SecretSource;

use support::llm_server::{Reply, StandIn, Wire, usage_of};
use support::{fixture, shared_cookbook, temp_dir};

const REQUEST: &str = "Add unit conversion for teaspoons\n\nRecipes use tsp; convert teaspoons to and from tablespoons and millilitres.";

// ---------------------------------------------------------------------------
// Helpers

fn model(kind: ProviderKind, url: &str) -> ModelConfig {
    let mut m = ModelConfig::new(kind, "stand-in-model");
    m.base_url = Some(url.to_string());
    m.retry_base_ms = 10;
    m.max_attempts = 3;
    m.timeout_secs = 20;
    m.max_output_tokens = 512;
    m
}

fn wire_kind(wire: Wire) -> ProviderKind {
    match wire {
        Wire::OpenAi => ProviderKind::Openai,
        Wire::Anthropic => ProviderKind::Anthropic,
    }
}

/// Runs `policy` on the cookbook notebook.
fn run_on_cookbook(policy: &mut dyn Policy, budget: u64, steps: u32) -> Prediction {
    let state = shared_cookbook();
    let repo = Repo::open(&fixture("cookbook")).expect("open");
    let nb = Notebook::open(state.path()).expect("open").expect("slept");
    let mut tools = NotebookTools::new(&nb, Some(&repo));
    run(policy, &mut tools, REQUEST, budget, steps)
}

fn llm_policy(server: &StandIn, wire: Wire, ledger_dir: Option<&Path>) -> LlmPolicy {
    let provider = llm::connect(&model(wire_kind(wire), &server.url), "llm.test").expect("connect");
    let ledger = ledger_dir.map(|d| Ledger::open(d).expect("ledger"));
    LlmPolicy::new(provider, ledger, None).expect("policy")
}

fn llm_policy_with(server: &StandIn, wire: Wire, mode: ToolCallMode) -> LlmPolicy {
    let mut m = model(wire_kind(wire), &server.url);
    m.tool_calls = mode;
    let provider = llm::connect(&m, "llm.test").expect("connect");
    LlmPolicy::new(provider, None, None).expect("policy")
}

/// The stand-in answers the OpenAI-compatible format with `fixtures` in
/// turn (the last one again after that); the llm policy runs on the
/// cookbook. The stand-in is returned for the exchanges it saw.
fn scripted_run(fixtures: &[&str], budget: u64, steps: u32) -> (StandIn, Prediction) {
    let replies = fixtures.iter().map(|f| Reply::fixture(f)).collect();
    let server = StandIn::scripted(Wire::OpenAi, replies);
    let mut policy = llm_policy(&server, Wire::OpenAi, None);
    let p = run_on_cookbook(&mut policy, budget, steps);
    (server, p)
}

fn paths(p: &Prediction) -> Vec<&str> {
    p.files.iter().map(|f| f.path.as_str()).collect()
}

/// The OpenAI `tool` messages of a request: (tool_call_id, content).
fn tool_messages(req: &Value) -> Vec<(String, String)> {
    req["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| {
            (
                m["tool_call_id"].as_str().expect("id").to_string(),
                m["content"].as_str().expect("content").to_string(),
            )
        })
        .collect()
}

fn check_budget(p: &Prediction, server: &StandIn, wire: Wire) {
    assert!(
        p.tokens_used <= p.budget,
        "{} > {}",
        p.tokens_used,
        p.budget
    );
    assert!(p.steps <= p.max_steps);
    for e in server.exchanges().iter().filter(|e| e.status == 200) {
        let (prompt, out) = usage_of(wire, &e.reply);
        assert!(
            prompt + out <= p.budget,
            "a call's context {prompt} + {out} passed the budget {}",
            p.budget
        );
    }
}

// ---------------------------------------------------------------------------
// 1. The llm policy over the OpenAI-compatible format

#[test]
fn openai_tool_calls_split_over_several_turns() {
    let (server, p) = scripted_run(
        &[
            "openai/search_units.json",
            "openai/card_and_cochange.json",
            "openai/submit.json",
        ],
        6000,
        12,
    );
    assert_eq!(
        paths(&p),
        ["src/units.rs", "docs/units.md"],
        "{:?}",
        p.notes
    );
    assert_eq!(p.policy, "llm");
    let calls: Vec<&str> = p.trace.iter().map(|t| t.call.name()).collect();
    assert_eq!(calls, ["search", "card", "cochange"]);
    let ex = server.exchanges();
    assert_eq!(ex.len(), 3);
    let first = &ex[0].request;
    assert_eq!(first["model"], "stand-in-model");
    assert_eq!(first["stream"], false);
    assert_eq!(first["tool_choice"], "auto");
    assert_eq!(first["messages"][0]["role"], "system");
    let user = first["messages"][1]["content"].as_str().expect("user text");
    assert!(user.ends_with(&format!("Request:\n{REQUEST}\n")), "{user}");
    // The tool schemas are byte-stable and sorted: the recorded array.
    let recorded = support::llm_server::fixtures_dir().join("requests/openai_tools.json");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        let text = serde_json::to_string_pretty(&first["tools"]).expect("json");
        std::fs::write(&recorded, text + "\n").expect("write");
    }
    assert_eq!(
        first["tools"],
        support::llm_server::load("requests/openai_tools.json")
    );
    // Turn 2 answers the search; turn 3 answers both calls of one reply,
    // each result ending with its position line.
    let t2 = tool_messages(&ex[1].request);
    assert_eq!(t2.len(), 1);
    assert_eq!(t2[0].0, "call_search_1");
    assert!(t2[0].1.contains("src/units.rs"), "{}", t2[0].1);
    assert!(t2[0].1.trim_end().ends_with(']') && t2[0].1.contains("[Step: 1/12, tokens: "));
    let t3 = tool_messages(&ex[2].request);
    let ids: Vec<&str> = t3.iter().map(|t| t.0.as_str()).collect();
    assert_eq!(ids, ["call_search_1", "call_card_2", "call_cochange_3"]);
    assert!(t3[2].1.contains("[Step: 3/12, tokens: "), "{}", t3[2].1);
    // The budget counts the provider's usage: the conversation after the
    // last call (its prompt plus its reply).
    let (prompt, out) = usage_of(Wire::OpenAi, &ex[2].reply);
    assert_eq!(p.tokens_used, prompt + out);
    let m = p.model.as_ref().expect("model use");
    assert_eq!(m.calls, 3);
    assert!(!m.fallback);
    assert_eq!(m.template, "agent");
    assert_eq!(
        m.template_hash,
        Template::load("agent", None).expect("t").hash
    );
    assert_eq!(m.usage.input + m.usage.cache_read, server.reported().0);
    check_budget(&p, &server, Wire::OpenAi);
}

#[test]
fn malformed_and_unknown_calls_are_errors_fed_back_never_run() {
    let (server, p) = scripted_run(&["openai/malformed.json", "openai/submit.json"], 6000, 12);
    assert!(p.trace.is_empty(), "nothing ran: {:?}", p.trace);
    assert_eq!(paths(&p), ["src/units.rs", "docs/units.md"]);
    let answers = tool_messages(&server.exchanges()[1].request);
    assert_eq!(answers.len(), 2);
    assert_eq!(answers[0].0, "call_bad_4");
    assert!(answers[0].1.contains("not valid JSON"), "{}", answers[0].1);
    assert_eq!(answers[1].0, "call_shell_5");
    assert!(
        answers[1].1.contains("unknown tool `run_shell`"),
        "{}",
        answers[1].1
    );
}

#[test]
fn a_model_that_never_submits_is_forced_then_replaced_by_the_offline_ranking() {
    // Searches once, then only talks.
    let (server, p) = scripted_run(
        &["openai/search_units.json", "openai/text_only.json"],
        6000,
        12,
    );
    let ex = server.exchanges();
    let last = &ex.last().expect("calls").request;
    assert_eq!(last["tool_choice"]["function"]["name"], "submit");
    assert!(p.model.as_ref().expect("model").fallback);
    assert!(
        p.notes.iter().any(|n| n.contains("did not call `submit`")),
        "{:?}",
        p.notes
    );
    assert!(
        paths(&p).contains(&"src/units.rs"),
        "offline ranking of the search: {:?}",
        paths(&p)
    );
    // Nudged once after the first text reply, then forced: 4 calls.
    assert_eq!(ex.len(), 4);
    check_budget(&p, &server, Wire::OpenAi);

    // Searching forever: stopped by the step cap, forced, then replaced.
    let (server, p) = scripted_run(&["openai/search_units.json"], 20_000, 3);
    assert_eq!(p.steps, 3);
    assert!(p.model.as_ref().expect("model").fallback);
    assert!(!p.files.is_empty());
    check_budget(&p, &server, Wire::OpenAi);
}

#[test]
fn a_server_without_tool_calling_is_named_with_the_flag_it_needs() {
    let server = StandIn::scripted(
        Wire::OpenAi,
        vec![Reply::fixture("openai/no_tools_400.json").status(400)],
    );
    let provider = llm::connect(&model(ProviderKind::Openai, &server.url), "llm.test").expect("c");
    let req = ChatRequest {
        system: "s".into(),
        tools: swe_sleep::agent::tool_schema::specs(),
        messages: vec![Message::User("q".into())],
        tool_choice: ToolChoice::Auto,
        max_tokens: 50,
    };
    let err = provider.chat(&req).expect_err("no tools");
    assert!(matches!(err, LlmError::NoToolSupport { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("does not support tool calling"), "{msg}");
    assert!(
        msg.contains("--enable-auto-tool-choice") && msg.contains("--jinja"),
        "{msg}"
    );
    assert_eq!(server.exchanges().len(), 1, "a 400 is not retried");

    // In a run: no crash, the offline ranking, and a note that says why.
    let mut policy = llm_policy(&server, Wire::OpenAi, None);
    let p = run_on_cookbook(&mut policy, 4000, 12);
    assert!(
        p.notes.iter().any(|n| n.contains("tool calling")),
        "{:?}",
        p.notes
    );
    assert!(p.model.expect("model").fallback);

    // A server that ignores tools and only talks gets the same hint.
    let (server, p) = scripted_run(&["openai/text_only.json"], 4000, 12);
    assert!(
        p.notes
            .iter()
            .any(|n| n.contains("without a tool call") && n.contains("--jinja")),
        "{:?}",
        p.notes
    );
    // The tools had shown nothing: the offline policy ran the rest of the
    // budget rather than submitting nothing.
    assert!(
        p.notes
            .iter()
            .any(|n| n.contains("the offline policy ran the rest of the budget")),
        "{:?}",
        p.notes
    );
    assert!(paths(&p).contains(&"src/units.rs"), "{:?}", paths(&p));
    check_budget(&p, &server, Wire::OpenAi);
}

#[test]
fn tool_calls_written_as_text_are_read_back() {
    // "auto": native tools are offered; the model writes its calls in the
    // text anyway (a tagged search, then a fenced submit).
    let replies = || {
        vec![
            Reply::fixture("openai/text_call_search.json"),
            Reply::fixture("openai/text_call_submit.json"),
        ]
    };
    let server = StandIn::scripted(Wire::OpenAi, replies());
    let mut policy = llm_policy_with(&server, Wire::OpenAi, ToolCallMode::Auto);
    let p = run_on_cookbook(&mut policy, 6000, 12);
    assert_eq!(
        paths(&p),
        vec!["src/units.rs", "docs/units.md"],
        "{:?}",
        p.notes
    );
    assert!(!p.model.as_ref().expect("model").fallback, "{:?}", p.notes);
    let ex = server.exchanges();
    assert_eq!(ex.len(), 2);
    let second = &ex[1].request;
    assert!(second["tools"].is_array(), "auto keeps native tools");
    let messages = second["messages"].as_array().expect("messages");
    let assistant = messages
        .iter()
        .find(|m| m["role"] == "assistant")
        .expect("assistant");
    assert!(assistant.get("tool_calls").is_none(), "{assistant}");
    assert!(
        assistant["content"]
            .as_str()
            .expect("text")
            .contains("<tool_call>")
    );
    assert!(messages.iter().all(|m| m["role"] != "tool"), "{second}");
    let results = messages.last().expect("last");
    assert_eq!(results["role"], "user");
    let text = results["content"].as_str().expect("text");
    assert!(text.starts_with("<tool_result name=\"search\">"), "{text}");
    assert!(text.contains("src/units.rs"), "the search's answer: {text}");
    check_budget(&p, &server, Wire::OpenAi);

    // "text": no native tool protocol at all; the tools are in the prompt.
    let server = StandIn::scripted(Wire::OpenAi, replies());
    let mut policy = llm_policy_with(&server, Wire::OpenAi, ToolCallMode::Text);
    let p = run_on_cookbook(&mut policy, 6000, 12);
    assert_eq!(
        paths(&p),
        vec!["src/units.rs", "docs/units.md"],
        "{:?}",
        p.notes
    );
    for e in server.exchanges() {
        assert!(e.request.get("tools").is_none(), "{}", e.request);
        assert!(e.request.get("tool_choice").is_none(), "{}", e.request);
        let system = e.request["messages"][0]["content"]
            .as_str()
            .expect("system");
        assert!(
            system.contains("# Tools") && system.contains("- submit:"),
            "{system}"
        );
    }
    check_budget(&p, &server, Wire::OpenAi);

    // "native": text is text; the run falls back as before.
    let server = StandIn::scripted(Wire::OpenAi, replies());
    let mut policy = llm_policy_with(&server, Wire::OpenAi, ToolCallMode::Native);
    let p = run_on_cookbook(&mut policy, 6000, 12);
    assert!(p.model.as_ref().expect("model").fallback);

    // The Messages format: a bare JSON object in a text block.
    let server = StandIn::scripted(
        Wire::Anthropic,
        vec![Reply::fixture("anthropic/text_call_submit.json")],
    );
    let mut policy = llm_policy_with(&server, Wire::Anthropic, ToolCallMode::Text);
    let p = run_on_cookbook(&mut policy, 6000, 12);
    assert_eq!(paths(&p), vec!["src/units.rs"], "{:?}", p.notes);
    let first = &server.exchanges()[0].request;
    assert!(first.get("tools").is_none(), "{first}");
    check_budget(&p, &server, Wire::Anthropic);
}

#[test]
fn a_malformed_text_call_goes_back_to_the_model_as_an_error() {
    let server = StandIn::scripted(
        Wire::OpenAi,
        vec![
            Reply {
                status: 200,
                headers: Vec::new(),
                body: json!({
                    "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant",
                        "content": "<tool_call>{\"name\": \"search\", \"arguments\": {\"query\": }</tool_call>"}}],
                    "usage": {"prompt_tokens": 900, "completion_tokens": 20}
                }),
            },
            Reply::fixture("openai/text_call_submit.json"),
        ],
    );
    let mut policy = llm_policy_with(&server, Wire::OpenAi, ToolCallMode::Text);
    let p = run_on_cookbook(&mut policy, 6000, 12);
    assert_eq!(paths(&p), vec!["src/units.rs", "docs/units.md"]);
    let second = &server.exchanges()[1].request;
    let last = second["messages"]
        .as_array()
        .expect("messages")
        .last()
        .expect("last")
        .clone();
    let text = last["content"].as_str().expect("text");
    assert!(text.starts_with("<tool_error name=\"search\">"), "{text}");
}

#[test]
fn a_model_that_repeats_a_failing_call_is_stopped_and_the_offline_policy_goes_on() {
    // Seen with Qwen2.5-Coder-0.5B on llama-server: the same `card` call on
    // a placeholder path until the step cap, then nothing to submit.
    let (server, p) = scripted_run(&["openai/card_placeholder_path.json"], 6000, 12);
    // One run and failed; the two repeats answered without running; then
    // the model is stopped.
    assert_eq!(server.exchanges().len(), 3, "{:?}", p.notes);
    let third = &server.exchanges()[2].request;
    let answers = tool_messages(third);
    assert!(
        answers
            .iter()
            .any(|(_, text)| text.contains("absolute paths are not allowed")),
        "{answers:?}"
    );
    assert!(
        answers
            .iter()
            .any(|(_, text)| text.contains("this exact call was made already")),
        "{answers:?}"
    );
    assert_eq!(
        p.trace
            .iter()
            .filter(|s| matches!(&s.call, ToolCall::Card { path } if path == "/path/to/your/file"))
            .count(),
        1,
        "a repeat never runs"
    );
    assert!(
        p.notes.iter().any(
            |n| n.contains("failed or repeated earlier ones in 3 replies")
                && n.contains("the offline policy ran the rest of the budget")
        ),
        "{:?}",
        p.notes
    );
    assert!(p.model.as_ref().expect("model").fallback);
    assert!(
        paths(&p).contains(&"src/units.rs"),
        "the offline policy found the file: {:?}",
        paths(&p)
    );
    assert!(p.tokens_used <= p.budget);
}

#[test]
fn a_repeated_call_is_answered_without_running_and_the_model_goes_on() {
    let (server, p) = scripted_run(
        &[
            "openai/search_units.json",
            "openai/search_units.json",
            "openai/submit.json",
        ],
        6000,
        12,
    );
    assert_eq!(paths(&p), vec!["src/units.rs", "docs/units.md"]);
    assert_eq!(p.trace.len(), 1, "the repeated search did not run");
    let answers = tool_messages(&server.exchanges()[2].request);
    assert!(
        answers
            .last()
            .is_some_and(|(_, text)| text.contains("this exact call was made already")),
        "{answers:?}"
    );
    assert!(!p.model.expect("model").fallback);
}

// ---------------------------------------------------------------------------
// 2. Retries

fn one_call(url: &str, attempts: u32) -> (Result<llm::ChatResponse, LlmError>, Duration) {
    let mut m = model(ProviderKind::Openai, url);
    m.max_attempts = attempts;
    let provider = llm::connect(&m, "llm.test").expect("connect");
    let req = ChatRequest {
        system: "s".into(),
        tools: vec![],
        messages: vec![Message::User("hello".into())],
        tool_choice: ToolChoice::Auto,
        max_tokens: 20,
    };
    let t = Instant::now();
    (provider.chat(&req), t.elapsed())
}

#[test]
fn a_429_with_retry_after_is_waited_for_then_succeeds() {
    let server = StandIn::scripted(
        Wire::OpenAi,
        vec![
            Reply::fixture("openai/rate_limited_429.json")
                .status(429)
                .header("retry-after", "1"),
            Reply::fixture("openai/card_text.json"),
        ],
    );
    let (r, took) = one_call(&server.url, 3);
    let r = r.expect("second attempt succeeds");
    assert_eq!(r.attempts, 2);
    assert!(r.text.contains("Unit conversions"));
    assert!(took >= Duration::from_millis(950), "waited {took:?}");
    assert_eq!(server.exchanges().len(), 2);
}

#[test]
fn a_500_is_retried_up_to_the_cap_then_reported() {
    let server = StandIn::scripted(
        Wire::OpenAi,
        vec![Reply::fixture("openai/server_error_500.json").status(500)],
    );
    let (r, _) = one_call(&server.url, 3);
    let err = r.expect_err("always 500").to_string();
    assert!(err.contains("500") && err.contains("3 attempts"), "{err}");
    assert_eq!(server.exchanges().len(), 3);
    // A 500 then a success: one retry.
    let server = StandIn::scripted(
        Wire::OpenAi,
        vec![
            Reply::fixture("openai/server_error_500.json").status(500),
            Reply::fixture("openai/card_text.json"),
        ],
    );
    assert_eq!(one_call(&server.url, 3).0.expect("retried").attempts, 2);
    // Nobody listening: a connection error, retried, then named.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let err = one_call(&url, 2).0.expect_err("refused").to_string();
    assert!(
        err.contains("cannot reach") && err.contains("2 attempts"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------
// 3. Anthropic

#[test]
fn anthropic_messages_with_tool_use_blocks_key_and_cache_markers() {
    let server = StandIn::scripted(
        Wire::Anthropic,
        vec![
            Reply::fixture("anthropic/search_units.json"),
            Reply::fixture("anthropic/submit.json"),
        ],
    );
    let dir = temp_dir("llm-key-");
    let key = dir.path().join("key");
    std::fs::write(&key, "sk-ant-test-key\n").expect("write key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    let mut m = model(ProviderKind::Anthropic, &server.url);
    m.api_key = SecretSource::from_file(&key);
    let provider = llm::connect(&m, "llm.test").expect("connect");
    let mut policy = LlmPolicy::new(provider, None, None).expect("policy");
    let p = run_on_cookbook(&mut policy, 6000, 12);
    assert_eq!(
        paths(&p),
        ["src/units.rs", "docs/units.md"],
        "{:?}",
        p.notes
    );
    let ex = server.exchanges();
    assert_eq!(ex.len(), 2);
    assert_eq!(ex[0].path, "/v1/messages");
    assert_eq!(ex[0].header("x-api-key"), Some("sk-ant-test-key"));
    assert_eq!(ex[0].header("anthropic-version"), Some("2023-06-01"));
    let first = &ex[0].request;
    assert_eq!(first["system"][0]["cache_control"]["type"], "ephemeral");
    assert_eq!(first["tool_choice"]["type"], "auto");
    assert_eq!(first["tools"][0]["name"], "card");
    assert!(first["tools"][0]["input_schema"].is_object());
    let second = &ex[1].request;
    let msgs = second["messages"].as_array().expect("messages");
    assert_eq!(msgs.len(), 3, "user, assistant, user with the tool result");
    assert_eq!(msgs[1]["content"][1]["type"], "tool_use");
    let result = &msgs[2]["content"][0];
    assert_eq!(result["type"], "tool_result");
    assert_eq!(result["tool_use_id"], "toolu_search_1");
    assert_eq!(result["cache_control"]["type"], "ephemeral");
    check_budget(&p, &server, Wire::Anthropic);
}

// ---------------------------------------------------------------------------
// 4. The ledger and the budget

#[test]
fn every_call_is_in_the_ledger_with_the_providers_usage() {
    let server = StandIn::scripted(
        Wire::OpenAi,
        vec![
            Reply::fixture("openai/search_units.json"),
            Reply::fixture("openai/submit.json"),
        ],
    );
    let state = temp_dir("llm-ledger-");
    let mut policy = llm_policy(&server, Wire::OpenAi, Some(state.path()));
    let p = run_on_cookbook(&mut policy, 6000, 12);
    assert!(!p.model.as_ref().expect("model").fallback);
    let totals = llm::ledger::totals_in(state.path()).expect("totals");
    assert_eq!(totals.len(), 1);
    let t = &totals[0];
    assert_eq!(
        (t.purpose.as_str(), t.provider.as_str()),
        ("predict", "openai")
    );
    assert_eq!(t.calls, 2);
    let (prompt, out) = server.reported();
    assert_eq!(
        t.usage.input + t.usage.cache_read + t.usage.cache_write,
        prompt
    );
    assert_eq!(t.usage.output, out);
}

/// A model that calls the biggest tools it can (never the same twice) and
/// never submits on its own, on a provider whose tokenizer counts 10% more than cl100k: at every
/// budget and step cap, no call's context and no run passes the budget.
#[test]
fn budgets_are_never_exceeded() {
    // Each call differs from the earlier ones (a repeat would not run).
    let big = |i: usize| {
        let call = match i % 3 {
            0 => {
                json!({"name": "search", "arguments": format!("{{\"query\": \"unit conversion recipe quantity parser {i}\", \"k\": 50}}")})
            }
            1 => {
                json!({"name": "read", "arguments": format!("{{\"path\": \"src/units.rs\", \"start\": {}, \"end\": 400}}", 1 + i / 3)})
            }
            _ => {
                json!({"name": "similar_prs", "arguments": format!("{{\"text\": \"unit conversion {i}\", \"k\": 50}}")})
            }
        };
        let mut r = support::llm_server::load("openai/search_units.json");
        r["choices"][0]["message"]["tool_calls"][0]["function"] = call;
        r["choices"][0]["message"]["tool_calls"][0]["id"] = json!(format!("call_{i}"));
        Reply {
            status: 200,
            headers: vec![],
            body: r,
        }
    };
    for budget in [300u64, 900, 1500, 2200, 3000, 5000, 9000] {
        for steps in [1u32, 3, 12] {
            let server = StandIn::with(Wire::OpenAi, 1.1, move |i, req| {
                if req["tool_choice"]["function"]["name"] == "submit" {
                    Reply::fixture("openai/submit.json")
                } else {
                    big(i)
                }
            });
            let mut policy = llm_policy(&server, Wire::OpenAi, None);
            let p = run_on_cookbook(&mut policy, budget, steps);
            check_budget(&p, &server, Wire::OpenAi);
            if budget >= 2200 {
                assert!(
                    !p.model.as_ref().expect("m").fallback,
                    "{budget}/{steps}: {:?}",
                    p.notes
                );
                assert_eq!(paths(&p), ["src/units.rs", "docs/units.md"]);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// 5. llm-rerank

#[test]
fn rerank_makes_one_call_over_the_offline_candidates() {
    let server = StandIn::scripted(Wire::OpenAi, vec![Reply::fixture("openai/submit.json")]);
    let provider = llm::connect(&model(ProviderKind::Openai, &server.url), "llm.test").expect("c");
    let mut policy = RerankPolicy::new(provider, None, None).expect("policy");
    let p = run_on_cookbook(&mut policy, 4000, 12);
    let ex = server.exchanges();
    assert_eq!(ex.len(), 1);
    let req = &ex[0].request;
    assert_eq!(req["tools"].as_array().expect("tools").len(), 1);
    assert_eq!(req["tool_choice"]["function"]["name"], "submit");
    let user = req["messages"][1]["content"].as_str().expect("user");
    assert!(user.contains("src/units.rs: "), "{user}");
    assert!(
        user.trim_end()
            .ends_with(REQUEST.lines().last().expect("line"))
    );
    assert_eq!(p.files[0].path, "src/units.rs");
    assert!(
        p.files
            .iter()
            .all(|f| user.contains(&format!("{}: ", f.path)))
    );
    assert!(!p.trace.is_empty(), "the offline search ran first");
    assert!(p.tokens_used <= p.budget);
    assert_eq!(p.model.expect("model").calls, 1);
}

// ---------------------------------------------------------------------------
// 6. The binary end to end against the stand-ins

use support::cli::{fails, ok, one_json_object, p, stdout, swe_sleep};

/// A config file with `[llm.test]` and `[llm.sleep]` on `url`.
fn config_file(dir: &Path, url: &str, extra: &str) -> std::path::PathBuf {
    let path = dir.join("swe-sleep.toml");
    std::fs::write(
        &path,
        format!(
            "[llm]\ncards_per_sleep = 3\nanticipate = 0\n{extra}\n[llm.test]\nprovider = \"openai\"\nmodel = \"stand-in-model\"\nbase_url = \"{url}\"\nretry_base_ms = 10\n[llm.test.price]\ninput = 1.0\noutput = 4.0\n[llm.sleep]\nprovider = \"openai\"\nmodel = \"stand-in-small\"\nbase_url = \"{url}\"\nretry_base_ms = 10\nmax_attempts = 1\n"
        ),
    )
    .expect("write config");
    path
}

#[test]
fn predict_and_status_with_the_llm_policy() {
    let server = StandIn::scripted(
        Wire::OpenAi,
        vec![
            Reply::fixture("openai/search_units.json"),
            Reply::fixture("openai/submit.json"),
        ],
    );
    let dir = temp_dir("llm-cli-");
    let state = dir.path().join("state");
    let config = config_file(dir.path(), &server.url, "");
    let repo = fixture("cookbook");
    let base = [
        "--repo",
        p(&repo),
        "--state-dir",
        p(&state),
        "--config",
        p(&config),
    ];
    let o = ok(
        swe_sleep()
            .arg("predict")
            .args(base)
            .args(["--policy", "llm", "--json", REQUEST])
            .output()
            .expect("runs"),
        "predict --policy llm",
    );
    let v = one_json_object(&o);
    assert_eq!(v["policy"], "llm");
    let files: Vec<&str> = v["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f["path"].as_str().expect("path"))
        .collect();
    assert_eq!(files, ["src/units.rs", "docs/units.md"]);
    assert_eq!(v["model"]["calls"], 2);
    assert!(v["tokens_used"].as_u64().expect("n") <= v["budget"].as_u64().expect("n"));
    let o = ok(
        swe_sleep().arg("status").args(base).output().expect("runs"),
        "status",
    );
    let text = stdout(&o);
    assert!(text.contains("Model calls (cost ledger):"), "{text}");
    assert!(
        text.contains("predict with openai stand-in-model: 2 calls"),
        "{text}"
    );
    assert!(text.contains('$'), "a price is configured: {text}");
    let o = ok(
        swe_sleep()
            .arg("status")
            .args(base)
            .arg("--json")
            .output()
            .expect("runs"),
        "status --json",
    );
    let v = one_json_object(&o);
    assert_eq!(v["llm_ledger"][0]["calls"], 2);

    // Without a model configured, --policy llm says what to add.
    let err = fails(
        swe_sleep()
            .arg("predict")
            .args(["--repo", p(&repo), "--state-dir", p(&state)])
            .args(["--policy", "llm", REQUEST])
            .output()
            .expect("runs"),
        "predict --policy llm without a model",
    );
    assert!(err.contains("[llm.test]"), "{err}");
}

#[test]
fn sleep_with_a_model_writes_cards_once_per_content_within_budget() {
    let server = StandIn::scripted(Wire::OpenAi, vec![Reply::fixture("openai/card_text.json")]);
    let dir = temp_dir("llm-sleep-");
    let state = dir.path().join("state");
    let config = config_file(dir.path(), &server.url, "");
    let repo = fixture("cookbook");
    let sleep = || {
        let o = ok(
            swe_sleep()
                .arg("sleep")
                .args([
                    "--repo",
                    p(&repo),
                    "--state-dir",
                    p(&state),
                    "--config",
                    p(&config),
                ])
                .args(["--rev", "HEAD", "--json"])
                .output()
                .expect("runs"),
            "sleep",
        );
        one_json_object(&o)
    };
    let v = sleep();
    assert_eq!(v["llm_cards"]["written"], 3, "{v}");
    assert_eq!(server.exchanges().len(), 3);
    let first = &server.exchanges()[0].request;
    assert_eq!(first["model"], "stand-in-small");
    assert!(first.get("tools").is_none());
    // The most changed file first.
    let asked = first["messages"][1]["content"].as_str().expect("user");
    assert!(asked.starts_with("File: "), "{asked}");
    // Resumes: the three cards are cached by content; three more are written.
    let v = sleep();
    assert_eq!(v["llm_cards"]["cached"], 3, "{v}");
    assert_eq!(v["llm_cards"]["written"], 3, "{v}");
    let totals = llm::ledger::totals_in(&state).expect("ledger");
    assert_eq!(totals[0].purpose, "card");
    assert_eq!(totals[0].calls, 6);
    // The card tool shows the model's notes.
    let nb = Notebook::open(&state).expect("open").expect("slept");
    let with_notes = nb
        .files()
        .iter()
        .filter_map(|f| nb.card(&f.path).ok().flatten())
        .filter(|c| c.contains("notes by stand-in-small: Unit conversions"))
        .count();
    assert_eq!(with_notes, 6);

    // A tight hourly budget stops the model before the first call.
    let dir2 = temp_dir("llm-sleep-budget-");
    let state2 = dir2.path().join("state");
    let config2 = config_file(dir2.path(), &server.url, "sleep_tokens_per_hour = 100");
    let before = server.exchanges().len();
    let o = ok(
        swe_sleep()
            .arg("sleep")
            .args([
                "--repo",
                p(&repo),
                "--state-dir",
                p(&state2),
                "--config",
                p(&config2),
            ])
            .args(["--rev", "HEAD", "--json"])
            .output()
            .expect("runs"),
        "sleep on a budget",
    );
    let v = one_json_object(&o);
    assert_eq!(v["llm_cards"]["written"], 0);
    assert!(
        v["llm_cards"]["stopped"]
            .as_str()
            .expect("why")
            .contains("sleep_tokens_per_hour"),
        "{v}"
    );
    assert_eq!(server.exchanges().len(), before);

    // A server that is down never fails the offline notebook.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let dir3 = temp_dir("llm-sleep-down-");
    let config3 = config_file(dir3.path(), &url, "");
    let state3 = dir3.path().join("state");
    let o = ok(
        swe_sleep()
            .arg("sleep")
            .args([
                "--repo",
                p(&repo),
                "--state-dir",
                p(&state3),
                "--config",
                p(&config3),
            ])
            .args(["--rev", "HEAD", "--json"])
            .output()
            .expect("runs"),
        "sleep with the model down",
    );
    let v = one_json_object(&o);
    assert!(v["counts"]["files"].as_u64().expect("files") > 0);
    assert_eq!(v["llm_cards"]["written"], 0);
    assert!(Notebook::open(&state3).expect("open").is_some());
}

#[test]
fn eval_with_the_llm_policy_reports_model_tokens() {
    let server = StandIn::with(Wire::OpenAi, 1.0, |_, req| {
        let turns = req["messages"].as_array().map_or(0, Vec::len);
        if turns <= 2 {
            Reply::fixture("openai/search_units.json")
        } else {
            Reply::fixture("openai/submit.json")
        }
    });
    let repo = fixture("cookbook");
    let dir = temp_dir("llm-eval-");
    let mined = dir.path().join("bench.jsonl");
    ok(
        swe_sleep()
            .args(["bench", "mine", "--repo", p(&repo), "--name", "cook/book"])
            .args(["--min-source", "2", "--out", p(&mined)])
            .output()
            .expect("runs"),
        "bench mine",
    );
    let first = std::fs::read_to_string(&mined)
        .expect("mined")
        .lines()
        .next()
        .expect("one instance")
        .to_string();
    let bench = dir.path().join("one.jsonl");
    std::fs::write(&bench, first + "\n").expect("write bench");
    let config = config_file(dir.path(), &server.url, "");
    let out = dir.path().join("out");
    let o = ok(
        swe_sleep()
            .args(["eval", "--bench", p(&bench), "--repo"])
            .arg(format!("cook/book={}", p(&repo)))
            .args(["--budgets", "3000", "--arms", "sleep", "--policy", "llm"])
            .args(["--config", p(&config), "--out", p(&out)])
            .output()
            .expect("runs"),
        "eval --policy llm",
    );
    let report = stdout(&o);
    assert!(report.contains("Model usage per query"), "{report}");
    let line = std::fs::read_to_string(out.join("predictions.jsonl")).expect("predictions");
    let v: Value = serde_json::from_str(line.lines().next().expect("a run")).expect("json");
    assert_eq!(v["model"]["calls"], 2);
    assert!(v["model"]["usage"]["input"].as_u64().expect("input") > 0);
    assert!(v["tokens"].as_u64().expect("tokens") <= 3000);
    assert_eq!(
        std::fs::read_to_string(out.join("policy")).expect("marker"),
        "llm"
    );
    let ledger = llm::ledger::totals_in(&out.join("state").join("cook+book")).expect("ledger");
    assert_eq!(ledger[0].calls, 2);
}
