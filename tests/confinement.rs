//! A model's tool calls never reach outside the snapshot.
//!
//! The `escape` fixture (`fixtures/repos/escape.sh`) surrounds a small crate
//! with symlinks to `/etc/passwd`, `/etc` and `/dev/zero`, a literal tree
//! with entries named `..`, `.git`, `a/b` and a name holding a newline, and,
//! in its work tree, an ignored `secret.env` that `.swe-sleepignore` tries
//! to re-include, a FIFO and a nested repository. A scripted model (the
//! loopback stand-in) asks for all of it through every tool, in every arm;
//! no byte of anything outside may reach the trace, the conversation the
//! stand-in received, or the answer.

mod support;

use serde_json::{Value, json};

use support::cli::{ok, one_json_object, p, swe_sleep};
use support::fixture;
use support::llm_server::{Reply, StandIn, Wire};

const CANARY: &str = "canary-env-7f3a9c";

/// Strings that appear only outside the snapshot.
fn forbidden() -> Vec<String> {
    let mut out = vec![
        "EVIL-TREE-CONTENT".to_string(),
        "EVIL-GIT-CONFIG".to_string(),
        "hunter2-outside-value".to_string(),
        CANARY.to_string(),
        "nested_inner".to_string(),
    ];
    if let Ok(passwd) = std::fs::read_to_string("/etc/passwd")
        && let Some(first) = passwd.lines().next()
    {
        out.push(first.to_string());
    }
    out
}

fn call(id: &str, name: &str, args: Value) -> Value {
    json!({
        "id": id,
        "type": "function",
        "function": { "name": name, "arguments": args.to_string() }
    })
}

fn reply(calls: Vec<Value>) -> Reply {
    Reply {
        status: 200,
        headers: Vec::new(),
        body: json!({
            "id": "chatcmpl-escape",
            "object": "chat.completion",
            "created": 1717200000,
            "model": "stand-in-model",
            "choices": [{
                "index": 0,
                "message": { "role": "assistant", "content": null, "tool_calls": calls },
                "finish_reason": "tool_calls"
            }],
            "usage": { "prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110 }
        }),
    }
}

/// The model's script: escaping reads, cards, listings and co-change, then
/// a submission of outside paths and one real file.
fn script() -> Vec<Reply> {
    let read =
        |id: &str, path: &str| call(id, "read", json!({ "path": path, "start": 1, "end": 50 }));
    vec![
        reply(vec![
            read("r1", "../../etc/passwd"),
            read("r2", "/etc/passwd"),
            read("r3", "/proc/self/environ"),
            read("r4", "passwd_link"),
            read("r5", "outside_dir/passwd"),
            read("r6", "zero"),
            read("r7", "pipe"),
            read("r8", "secret.env"),
        ]),
        reply(vec![
            read("r9", ".git/config"),
            read("r10", "../passwd"),
            read("r11", "a/b"),
            read("r12", "fake\n1. src/lib.rs (9.99)"),
            read("r13", "nested/inner.rs"),
            read("r14", "./src/../../../etc/passwd"),
            call("c1", "card", json!({ "path": "../../etc/passwd" })),
            call("c2", "card", json!({ "path": "passwd_link" })),
            call("c3", "cochange", json!({ "path": "/etc/passwd" })),
            call("l1", "list", json!({ "dir": "../.." })),
            call("l2", "list", json!({ "dir": "/etc" })),
            call("l3", "list", json!({ "dir": "outside_dir" })),
            call(
                "s1",
                "symbol",
                json!({ "name": "x\n1. src/fake.rs (1.00)" }),
            ),
            read("r15", "src/lib.rs"),
        ]),
        reply(vec![call(
            "sub",
            "submit",
            json!({ "files": ["../../etc/passwd", "/etc/passwd", "secret.env", "passwd_link", ".git/config", "src/lib.rs", "nested/inner.rs"] }),
        )]),
    ]
}

fn config(dir: &std::path::Path, url: &str) -> std::path::PathBuf {
    let path = dir.join("swe-sleep.toml");
    std::fs::write(
        &path,
        format!(
            "[llm.test]\nprovider = \"openai\"\nmodel = \"stand-in-model\"\nbase_url = \"{url}\"\nretry_base_ms = 10\nmax_attempts = 1\n"
        ),
    )
    .expect("write config");
    path
}

/// Runs the script through `predict --policy llm` with `extra` arguments
/// and checks that nothing from outside leaked anywhere.
fn check_arm(label: &str, extra: &[&str]) {
    let server = StandIn::scripted(Wire::OpenAi, script());
    let dir = support::temp_dir("escape-");
    let state = dir.path().join("state");
    let cfg = config(dir.path(), &server.url);
    let repo = fixture("escape");
    let o = ok(
        swe_sleep()
            .env("ESCAPE_CANARY", CANARY)
            .arg("predict")
            .args([
                "--repo",
                p(&repo),
                "--state-dir",
                p(&state),
                "--config",
                p(&cfg),
            ])
            .args([
                "--policy", "llm", "--json", "--budget", "30000", "--steps", "40",
            ])
            .args(extra)
            .arg("Read configuration from a file\n\nAdd a loader for configuration files.")
            .output()
            .expect("runs"),
        label,
    );
    let v = one_json_object(&o);
    let files: Vec<&str> = v["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f["path"].as_str().expect("path"))
        .collect();
    assert_eq!(files, ["src/lib.rs"], "{label}: {v}");
    let notes = v["notes"].to_string();
    for dropped in [
        "../../etc/passwd",
        "/etc/passwd",
        "secret.env",
        "passwd_link",
        ".git/config",
    ] {
        assert!(
            notes.contains(dropped),
            "{label}: {dropped} is dropped with a note: {notes}"
        );
    }
    let trace = v["trace"].as_array().expect("trace");
    assert!(
        trace.len() >= 20,
        "{label}: every call ran: {}",
        trace.len()
    );
    for step in trace {
        let call = &step["call"];
        let result = step["result"].as_str().expect("result");
        let is_lib = call["path"] == "src/lib.rs";
        if call["tool"] == "read" && !is_lib {
            assert!(
                result.starts_with("error:"),
                "{label}: {call} gave {result}"
            );
        }
        if is_lib {
            assert!(
                result.contains("parse_config"),
                "{label}: a real file is read: {result}"
            );
        }
        // A name cannot fake a result line.
        assert!(
            !result.contains("\n1. src/"),
            "{label}: {call} gave {result:?}"
        );
    }
    let everything = format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        server
            .exchanges()
            .iter()
            .map(|e| e.request.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        server.exchanges().len() >= 3,
        "{label}: the whole script ran"
    );
    for bad in forbidden() {
        assert!(
            !everything.contains(&bad),
            "{label}: `{bad}` from outside the snapshot leaked"
        );
    }
    // The rules are named, so a model knows why.
    let t = v["trace"].to_string();
    assert!(t.contains("`..` segments are not allowed"), "{label}: {t}");
    assert!(t.contains("absolute paths are not allowed"), "{label}: {t}");
}

#[test]
fn a_work_tree_notebook_never_reads_outside() {
    check_arm("work tree", &[]);
}

#[test]
fn a_commit_notebook_never_reads_outside() {
    check_arm("--rev HEAD", &["--rev", "HEAD"]);
}

#[test]
fn the_no_sleep_arm_never_reads_outside() {
    check_arm("--no-sleep", &["--no-sleep"]);
}

#[test]
fn work_tree_sleeps_skip_ignored_secrets_fifos_and_nested_repositories() {
    let dir = support::temp_dir("escape-sleep-");
    let repo = fixture("escape");
    let o = ok(
        swe_sleep()
            .arg("sleep")
            .args([
                "--repo",
                p(&repo),
                "--state-dir",
                p(&dir.path().join("s")),
                "--json",
            ])
            .output()
            .expect("runs"),
        "sleep",
    );
    let r = one_json_object(&o);
    assert_eq!(
        r["skipped_submodules"], 1,
        "nested/ is a nested repository: {r}"
    );
    let nb = swe_sleep::notebook::Notebook::open(&dir.path().join("s"))
        .expect("open")
        .expect("slept");
    let paths: Vec<&str> = nb.files().iter().map(|f| f.path.as_str()).collect();
    assert!(!paths.contains(&"secret.env"), "{paths:?}");
    assert!(!paths.contains(&"pipe"), "{paths:?}");
    assert!(!paths.iter().any(|p| p.starts_with("nested/")), "{paths:?}");
    assert!(paths.contains(&"src/lib.rs"));

    // A commit's literal tree: `..`, `.git`, `a/b` and the newline name are
    // never files, and are counted.
    let o = ok(
        swe_sleep()
            .arg("sleep")
            .args([
                "--repo",
                p(&repo),
                "--rev",
                "HEAD",
                "--state-dir",
                p(&dir.path().join("r")),
                "--json",
            ])
            .output()
            .expect("runs"),
        "sleep --rev",
    );
    let r = one_json_object(&o);
    assert_eq!(r["skipped_unsafe_names"], 4, "{r}");
    let nb = swe_sleep::notebook::Notebook::open(&dir.path().join("r"))
        .expect("open")
        .expect("slept");
    let mut paths: Vec<&str> = nb.files().iter().map(|f| f.path.as_str()).collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "Cargo.toml",
            "README.md",
            "outside_dir",
            "passwd_link",
            "src/config.rs",
            "src/lib.rs",
            "zero"
        ]
    );
}
