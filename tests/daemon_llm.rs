//! The daemon with models configured, in process, against the loopback
//! model stand-in: its sleep ends with the sleep-time model's cards and
//! anticipated requests, and `POST /predict` answers with the policy the
//! body names (`offline` by default, `llm`, `llm-rerank`) from the newest
//! notebook, a close request getting the anticipated files.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use swe_sleep::config::{Config, ModelConfig, ProviderKind};
use swe_sleep::llm;

use support::daemon::{Running, config, config_with};
use support::http::json as call;
use support::llm_server::{Reply, StandIn, Wire};
use support::{fixture_copy, git, temp_dir};

const TEASPOONS: &str = "Support teaspoons: convert teaspoons to and from tablespoons and millilitres in the unit conversions.";

fn model(name: &str, url: &str) -> ModelConfig {
    let mut m = ModelConfig::new(ProviderKind::Openai, name);
    m.base_url = Some(url.to_string());
    m.retry_base_ms = 10;
    m.max_attempts = 1;
    m.timeout_secs = 20;
    m
}

fn text_reply(text: &str) -> Reply {
    let mut r = Reply::fixture("openai/card_text.json");
    r.body["choices"][0]["message"]["content"] = json!(text);
    r
}

/// One stand-in for every task: the agent (search, then submit), the
/// reranker (submit), the card writer and the anticipator.
fn stand_in() -> StandIn {
    StandIn::with(Wire::OpenAi, 1.0, |_, req| {
        let user = req["messages"][1]["content"].as_str().unwrap_or("");
        if req.get("tools").is_some() {
            let turns = req["messages"].as_array().map_or(0, Vec::len);
            if req["tool_choice"]["function"]["name"] == "submit" || turns > 2 {
                Reply::fixture("openai/submit.json")
            } else {
                Reply::fixture("openai/search_units.json")
            }
        } else if user.starts_with("Recent pull requests") {
            text_reply(&format!(
                "{TEASPOONS}\nAdd a shopping list: collect the ingredients of several recipes."
            ))
        } else {
            Reply::fixture("openai/card_text.json")
        }
    })
}

/// Polls `/status` until `pred` holds, for up to `secs`.
fn wait_status(addr: SocketAddr, secs: u64, pred: impl Fn(&Value) -> bool) -> Value {
    let until = Instant::now() + Duration::from_secs(secs);
    loop {
        let (code, v) = call(addr, "GET", "/status", None);
        if code == 200 && pred(&v) {
            return v;
        }
        assert!(Instant::now() < until, "status never matched; last: {v}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn files(p: &Value) -> Vec<&str> {
    p["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f["path"].as_str().expect("path"))
        .collect()
}

#[test]
fn daemon_sleeps_with_the_sleep_model_and_predicts_with_any_policy() {
    let repo = fixture_copy("cookbook");
    let state = temp_dir("daemon-llm-");
    let server = stand_in();
    let mut config = Config::default();
    config.llm.test = Some(model("stand-in-model", &server.url));
    config.llm.sleep = Some(model("stand-in-small", &server.url));
    config.llm.cards_per_sleep = 2;
    config.llm.anticipate = 2;
    let running = Running::start(config_with(repo.path(), state.path(), config));
    let addr = running.addr;

    // The first sleep, the model's part included.
    let head = git(repo.path(), &["rev-parse", "HEAD"]).trim().to_string();
    wait_status(addr, 90, |v| {
        v["commit"] == head.as_str() && v["sleeps_total"].as_u64() >= Some(1)
    });
    let ledger = llm::ledger::totals_in(state.path()).expect("ledger");
    let calls = |purpose: &str| {
        ledger
            .iter()
            .find(|t| t.purpose == purpose)
            .map_or(0, |t| t.calls)
    };
    assert_eq!(calls("card"), 2, "{ledger:?}");
    assert_eq!(calls("anticipate"), 1, "{ledger:?}");

    // Offline by default: no model call.
    let before = server.exchanges().len();
    let (code, p) = call(
        addr,
        "POST",
        "/predict",
        Some(r#"{"request": "Add a dark theme to the web page", "budget": 3000}"#),
    );
    assert_eq!(code, 200, "{p}");
    assert_eq!(p["policy"], "offline");
    assert!(p.get("model").is_none(), "{p}");
    assert_eq!(server.exchanges().len(), before);

    // The llm policy calls the tools through the model.
    let body =
        json!({"request": "Add unit conversion for teaspoons", "budget": 6000, "policy": "llm"});
    let (code, p) = call(addr, "POST", "/predict", Some(&body.to_string()));
    assert_eq!(code, 200, "{p}");
    assert_eq!(p["policy"], "llm");
    assert_eq!(files(&p), ["src/units.rs", "docs/units.md"]);
    assert_eq!(p["model"]["calls"], 2);
    assert_eq!(p["notebook_commit"], head.as_str());
    assert!(p["tokens_used"].as_u64() <= p["budget"].as_u64());

    // llm-rerank: one call over the offline candidates.
    let body = json!({"request": "Add unit conversion for teaspoons", "budget": 6000, "policy": "llm-rerank"});
    let (code, p) = call(addr, "POST", "/predict", Some(&body.to_string()));
    assert_eq!(code, 200, "{p}");
    assert_eq!(p["policy"], "llm-rerank");
    assert_eq!(p["model"]["calls"], 1);
    let ledger = llm::ledger::totals_in(state.path()).expect("ledger");
    let predict_calls: u64 = ledger
        .iter()
        .filter(|t| t.purpose == "predict" || t.purpose == "rerank")
        .map(|t| t.calls)
        .sum();
    assert_eq!(predict_calls, 3, "{ledger:?}");

    // A request close to an anticipated one gets its files, labelled.
    let body = json!({"request": "Support teaspoons\n\nConvert teaspoons to and from tablespoons and millilitres.", "budget": 4000});
    let (code, p) = call(addr, "POST", "/predict", Some(&body.to_string()));
    assert_eq!(code, 200, "{p}");
    let notes = p["notes"].as_array().expect("notes");
    assert!(
        notes.iter().any(|n| n
            .as_str()
            .is_some_and(|n| n.starts_with("anticipated at sleep time"))),
        "{p}"
    );
    assert!(files(&p).contains(&"src/units.rs"), "{p}");

    // An unknown policy is the caller's error.
    let (code, e) = call(
        addr,
        "POST",
        "/predict",
        Some(r#"{"request": "x", "policy": "oracle"}"#),
    );
    assert_eq!(code, 400, "{e}");
    assert!(
        e["error"].as_str().expect("error").contains("`oracle`"),
        "{e}"
    );

    running.stop();
}

#[test]
fn a_model_policy_without_a_test_model_is_a_bad_request() {
    let repo = fixture_copy("cookbook");
    let state = temp_dir("daemon-llm-none-");
    let running = Running::start(config(repo.path(), state.path()));
    let addr = running.addr;
    wait_status(addr, 90, |v| v["sleeps_total"].as_u64() >= Some(1));
    let (code, e) = call(
        addr,
        "POST",
        "/predict",
        Some(r#"{"request": "Add unit conversion for teaspoons", "policy": "llm"}"#),
    );
    assert_eq!(code, 400, "{e}");
    assert!(
        e["error"].as_str().expect("error").contains("[llm.test]"),
        "{e}"
    );
    running.stop();
}
