//! MCP end to end: the protocol's official Python SDK (an independent
//! client, `tests/mcp/client.py`) drives the real binary over stdio and a
//! daemon's `/mcp` over HTTP; stdio's stdout carries protocol messages
//! only; and MCP, the CLI and `/predict` give the same answer to the same
//! request and budget.

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use swe_sleep::config::Config;
use swe_sleep::secret::SecretSource;

use support::cli::{ok, one_json_object, p, swe_sleep};
use support::daemon::{Running, config, config_with};
use support::http::{json as http_json, request};
use support::mcp::{StdioServer, is_error, python_client, python_sdk, text};
use support::{fixture, fixture_copy, git, temp_dir};

const REQUEST: &str = "Add unit conversion for teaspoons";
const TOOLS: [&str; 7] = [
    "predict_files",
    "search",
    "file_card",
    "similar_prs",
    "cochange",
    "symbol",
    "notebook_status",
];

/// Paths no tool may answer for, and the rule each breaks.
const OUTSIDE: [(&str, &str); 3] = [
    ("../outside.txt", "`..`"),
    ("/etc/passwd", "absolute"),
    ("src/../../x.rs", "`..`"),
];

/// Waits until the daemon's notebook is at `head`.
fn wait_for(d: &Running, head: &str, token: Option<&str>) {
    let until = Instant::now() + Duration::from_secs(120);
    let auth = token.map(|t| format!("Bearer {t}")).unwrap_or_default();
    loop {
        let mut headers = vec![];
        if token.is_some() {
            headers.push(("Authorization", auth.as_str()));
        }
        let (code, body) = request(d.addr, "GET", "/status", &headers, b"");
        let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        if code == 200 && v["commit"] == head && v["sleeping"] == false {
            return;
        }
        assert!(Instant::now() < until, "the daemon never slept: {body}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Sends `text` as it is; the whole answer.
fn raw(addr: SocketAddr, text: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.write_all(text.as_bytes()).expect("send");
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer
}

fn head(repo: &Path) -> String {
    git(repo, &["rev-parse", "HEAD"]).trim().to_string()
}

fn paths(answer: &Value) -> Vec<String> {
    answer["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f["path"].as_str().expect("a path").to_string())
        .collect()
}

/// What the Python client reported, checked against the fixture.
fn check_report(report: &Value, head: &str) {
    assert_eq!(report["server"]["name"], "swe-sleep", "{report}");
    let tools = report["tools"].as_array().expect("tools");
    let names: Vec<&str> = tools.iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(names, TOOLS);
    for t in tools {
        assert!(t["read_only"].as_bool().expect("a flag"), "{t}");
        assert!(
            t["input_schema"]["properties"]["max_tokens"].is_object(),
            "{t}"
        );
        assert!(t["description"].as_str().expect("described").len() > 80);
    }
    let predict = &report["predict"];
    assert_eq!(predict["is_error"], false, "{predict}");
    let answer = &predict["json"];
    assert!(
        paths(answer).contains(&"src/units.rs".to_string()),
        "{answer}"
    );
    assert_eq!(answer["notebook_commit"], head, "{answer}");
    assert_eq!(answer["stale"], false);
    assert_eq!(answer["budget"], 4000);
    assert!(answer["tokens_used"].as_u64().expect("tokens") <= 4000);
    assert!(
        answer["files"][0]["reason"]
            .as_str()
            .is_some_and(|r| !r.is_empty())
    );
    let search = &report["search"];
    assert_eq!(search["is_error"], false);
    assert!(
        search["text"].as_str().expect("text").contains("units"),
        "{search}"
    );
    for (path, rule) in OUTSIDE {
        let r = &report["outside"][path];
        assert_eq!(r["is_error"], true, "{path}: {r}");
        let t = r["text"].as_str().expect("text");
        assert!(
            t.contains("not a file of this snapshot") && t.contains(rule),
            "{path}: {t}"
        );
    }
}

fn client_args<'a>(outside: &'a [(&'a str, &'a str)]) -> Vec<&'a str> {
    let mut args = vec!["--request", REQUEST, "--query", "unit conversion"];
    for (path, _) in outside {
        args.extend(["--outside", path]);
    }
    args
}

#[test]
fn the_python_sdk_drives_the_stdio_server_which_sleeps_first() {
    let Some(python) = python_sdk("the_python_sdk_drives_the_stdio_server_which_sleeps_first")
    else {
        return;
    };
    let repo = fixture_copy("cookbook");
    let state = temp_dir("mcp-stdio-");
    let bin = env!("CARGO_BIN_EXE_swe-sleep");
    let mut args = vec!["stdio"];
    args.extend(client_args(&OUTSIDE));
    args.extend(["--", bin, "mcp", "--repo", p(repo.path())]);
    args.extend(["--state-dir", p(state.path()), "--standalone"]);
    let report = python_client(&python, &args);
    check_report(&report, &head(repo.path()));
    // There was no notebook: the first call slept, and said so.
    let progress = report["progress"].as_array().expect("progress");
    let messages: Vec<&str> = progress
        .iter()
        .filter_map(|p| p["message"].as_str())
        .collect();
    assert!(
        messages.iter().any(|m| m.contains("sleeping first")),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.starts_with("slept:")),
        "{messages:?}"
    );
    let values: Vec<f64> = progress
        .iter()
        .map(|p| p["progress"].as_f64().expect("a number"))
        .collect();
    assert!(values.windows(2).all(|w| w[0] < w[1]), "{values:?}");
}

#[test]
fn the_python_sdk_drives_the_daemon_over_http_behind_its_access_rules() {
    let Some(python) =
        python_sdk("the_python_sdk_drives_the_daemon_over_http_behind_its_access_rules")
    else {
        return;
    };
    let repo = fixture_copy("cookbook");
    let state = temp_dir("mcp-http-");
    let secrets = temp_dir("mcp-token-");
    let token = "mcp-test-token-7f3a";
    let token_file = secrets.path().join("token");
    std::fs::write(&token_file, token).expect("write the token");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600))
            .expect("chmod");
    }
    let mut config = Config::default();
    config.daemon.token = SecretSource::from_file(&token_file);
    let d = Running::start(config_with(repo.path(), state.path(), config));
    let head = head(repo.path());
    wait_for(&d, &head, Some(token));

    // The access layer runs first: no token, or a foreign Host, is refused.
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "raw", "version": "1"}}})
    .to_string();
    let mcp_headers = [
        ("Content-Type", "application/json"),
        ("Accept", "application/json, text/event-stream"),
    ];
    let (code, body) = request(d.addr, "POST", "/mcp", &mcp_headers, init.as_bytes());
    assert_eq!(code, 401, "{body}");
    let bearer = format!("Bearer {token}");
    let mut with_token = mcp_headers.to_vec();
    with_token.push(("Authorization", &bearer));
    let foreign = raw(
        d.addr,
        &format!(
            "POST /mcp HTTP/1.1\r\nHost: evil.example:{}\r\nAuthorization: {bearer}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{init}",
            d.addr.port(),
            init.len()
        ),
    );
    assert!(foreign.starts_with("HTTP/1.1 403"), "{foreign}");
    let (code, body) = request(d.addr, "POST", "/mcp", &with_token, init.as_bytes());
    assert_eq!(code, 200, "{body}");
    let v: Value = serde_json::from_str(&body).expect("a JSON answer");
    assert_eq!(v["result"]["serverInfo"]["name"], "swe-sleep", "{v}");

    let url = format!("http://{}/mcp", d.addr);
    let mut args = vec!["http", "--url", &url, "--token", token];
    args.extend(client_args(&OUTSIDE));
    let report = python_client(&python, &args);
    check_report(&report, &head);
    // A warm daemon does not sleep for an answer.
    assert_eq!(report["progress"], json!([]), "{report}");
    // MCP's predictions are counted as the API's are.
    let (code, metrics) = request(
        d.addr,
        "GET",
        "/metrics",
        &[("Authorization", &bearer)],
        b"",
    );
    assert_eq!(code, 200, "{metrics}");
    let counted = metrics
        .lines()
        .find_map(|l| l.strip_prefix("swe_sleep_predictions_total "))
        .and_then(|n| n.trim().parse::<f64>().ok());
    assert_eq!(counted, Some(1.0), "{metrics}");
}

/// Every tool, with paths that lead nowhere or outside (`..`, absolute,
/// links to /etc/passwd and /etc, a device): answers or error results,
/// and nothing but JSON-RPC on stdout, even with debug logs on.
#[test]
fn the_stdio_server_writes_nothing_but_protocol_messages_on_stdout() {
    let repo = fixture("escape");
    let state = temp_dir("mcp-escape-");
    let mut cmd = swe_sleep();
    cmd.args(["-vv", "mcp", "--standalone", "--repo", p(&repo)])
        .args(["--state-dir", p(state.path())])
        .env("SWE_SLEEP_LOG", "debug");
    let (mut server, init) = StdioServer::start(cmd);
    assert_eq!(init["result"]["serverInfo"]["name"], "swe-sleep", "{init}");
    let tools = server.request("tools/list", json!({}));
    assert_eq!(
        tools["result"]["tools"].as_array().expect("tools").len(),
        TOOLS.len()
    );

    let predict = server.call_tool_with(
        "predict_files",
        json!({ "request": "Parse configuration files from a path" }),
        Some("p1"),
    );
    assert!(!is_error(&predict), "{predict}");
    let answer: Value = serde_json::from_str(&text(&predict)).expect("JSON");
    assert!(
        paths(&answer).iter().any(|p| p.starts_with("src/")),
        "{answer}"
    );

    for (tool, path, rule) in [
        ("file_card", "passwd_link", "symbolic link"),
        ("cochange", "passwd_link", "symbolic link"),
        (
            "file_card",
            "outside_dir/passwd",
            "not a file of this snapshot",
        ),
        ("file_card", "zero", "symbolic link"),
        ("file_card", "../escape/src/lib.rs", "`..`"),
        ("cochange", "/etc/passwd", "absolute"),
        ("file_card", ".git/config", "inside `.git`"),
    ] {
        let r = server.call_tool(tool, json!({ "path": path }));
        assert!(is_error(&r), "{tool} {path}: {r}");
        assert!(text(&r).contains(rule), "{tool} {path}: {}", text(&r));
    }
    let card = server.call_tool(
        "file_card",
        json!({ "path": "src/lib.rs", "max_tokens": 60 }),
    );
    assert!(!is_error(&card), "{card}");
    assert!(swe_sleep::tokens::count(&text(&card)) <= 60);
    for (tool, args) in [
        ("search", json!({ "query": "configuration" })),
        ("similar_prs", json!({ "text": "configuration", "k": 3 })),
        ("symbol", json!({ "name": "parse_config" })),
        ("cochange", json!({ "path": "src/lib.rs" })),
        ("notebook_status", json!({})),
    ] {
        let r = server.call_tool(tool, args);
        assert!(!is_error(&r), "{tool}: {r}");
    }
    let bad = server.request("tools/call", json!({ "name": "rm", "arguments": {} }));
    assert_eq!(bad["error"]["code"], -32602, "{bad}");

    let (stdout, stderr) = server.finish();
    assert!(!stdout.is_empty());
    for line in &stdout {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a protocol message on stdout ({e}): {line:?}"));
        assert_eq!(v["jsonrpc"], "2.0", "{line}");
        assert!(!line.contains("root:x:0:0"), "/etc/passwd leaked: {line}");
    }
    assert!(
        stdout
            .iter()
            .any(|l| l.contains("notifications/progress") && l.contains("sleeping first")),
        "the first call's sleep is told as progress"
    );
    assert!(
        stderr.contains("DEBUG") || stderr.contains("INFO"),
        "{stderr}"
    );
}

/// `/predict`, `predict --json` (through the daemon and standalone),
/// MCP over HTTP and MCP over stdio (forwarded and standalone): one answer.
#[test]
fn mcp_the_cli_and_predict_give_the_same_answer() {
    let repo = fixture_copy("cookbook");
    let state = temp_dir("mcp-same-");
    let d = Running::start(config(repo.path(), state.path()));
    let head = head(repo.path());
    wait_for(&d, &head, None);
    let budget = 2500;

    let (code, via_api) = http_json(
        d.addr,
        "POST",
        "/predict",
        Some(&json!({ "request": REQUEST, "budget": budget }).to_string()),
    );
    assert_eq!(code, 200, "{via_api}");

    let cli = |extra: &[&str]| {
        let mut cmd = swe_sleep();
        cmd.args(["predict", REQUEST, "--json", "--repo", p(repo.path())])
            .args(["--state-dir", p(state.path()), "--budget", "2500"])
            .args(extra);
        one_json_object(&ok(cmd.output().expect("runs"), "predict"))
    };
    let via_cli = cli(&[]);
    let via_cli_standalone = cli(&["--standalone"]);

    let call = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {
        "name": "predict_files",
        "arguments": { "request": REQUEST, "budget": budget, "max_tokens": 100_000 }}})
    .to_string();
    let (code, body) = request(
        d.addr,
        "POST",
        "/mcp",
        &[
            ("Content-Type", "application/json"),
            ("Accept", "application/json, text/event-stream"),
        ],
        call.as_bytes(),
    );
    assert_eq!(code, 200, "{body}");
    let rpc: Value = serde_json::from_str(&body).expect("JSON-RPC");
    let via_http: Value = serde_json::from_str(&text(&rpc["result"])).expect("JSON");

    let stdio = |extra: &[&str]| {
        let mut cmd = swe_sleep();
        cmd.args([
            "mcp",
            "--repo",
            p(repo.path()),
            "--state-dir",
            p(state.path()),
        ])
        .args(extra);
        let (mut server, _) = StdioServer::start(cmd);
        let r = server.call_tool(
            "predict_files",
            json!({ "request": REQUEST, "budget": budget, "max_tokens": 100_000 }),
        );
        let stderr = server.stderr();
        server.finish();
        assert!(!is_error(&r), "{r}");
        (
            serde_json::from_str::<Value>(&text(&r)).expect("JSON"),
            stderr,
        )
    };
    let (via_stdio, _) = stdio(&["-v"]);
    let (via_stdio_standalone, standalone_log) = stdio(&["-v", "--standalone"]);
    assert!(!standalone_log.contains("forwarding"), "{standalone_log}");

    let same = |v: &Value| {
        json!({
            "files": v["files"], "tokens_used": v["tokens_used"], "steps": v["steps"],
            "budget": v["budget"], "notebook_commit": v["notebook_commit"], "stale": v["stale"],
        })
    };
    let expected = same(&via_api);
    assert!(
        paths(&via_api).contains(&"src/units.rs".to_string()),
        "{via_api}"
    );
    assert_eq!(expected["notebook_commit"], head.as_str());
    for (label, v) in [
        ("predict --json (daemon)", &via_cli),
        ("MCP over HTTP", &via_http),
        ("MCP over stdio (forwarded)", &via_stdio),
    ] {
        assert_eq!(same(v), expected, "{label}");
    }
    // Standalone answers read the same notebook; only the staleness
    // fields a daemon adds may differ in presence.
    for (label, v) in [
        ("predict --json --standalone", &via_cli_standalone),
        ("MCP over stdio --standalone", &via_stdio_standalone),
    ] {
        assert_eq!(v["files"], expected["files"], "{label}");
        assert_eq!(v["tokens_used"], expected["tokens_used"], "{label}");
    }
}

/// `swe-sleep mcp` beside a daemon forwards; once the daemon is gone, the
/// next call is answered standalone, and the client is told why.
#[test]
fn the_stdio_server_answers_standalone_once_the_daemon_is_gone() {
    let repo = fixture_copy("cookbook");
    let state = temp_dir("mcp-gone-");
    let d = Running::start(config(repo.path(), state.path()));
    wait_for(&d, &head(repo.path()), None);
    let mut cmd = swe_sleep();
    cmd.args([
        "-v",
        "mcp",
        "--repo",
        p(repo.path()),
        "--state-dir",
        p(state.path()),
    ]);
    let (mut server, _) = StdioServer::start(cmd);
    let args = json!({ "request": REQUEST, "max_tokens": 100_000 });
    let forwarded = server.call_tool("predict_files", args.clone());
    assert!(!is_error(&forwarded), "{forwarded}");
    assert!(
        server
            .stderr()
            .contains("forwarding MCP calls to the daemon")
    );
    drop(d);
    let standalone = server.call_tool_with("predict_files", args, Some("gone"));
    assert!(!is_error(&standalone), "{standalone}");
    let (stdout, _) = server.finish();
    assert!(
        stdout
            .iter()
            .any(|l| l.contains("notifications/progress") && l.contains("stopped answering")),
        "the client is told the daemon is gone"
    );
    let files = |r: &Value| {
        let v: Value = serde_json::from_str(&text(r)).expect("JSON");
        v["files"].clone()
    };
    assert_eq!(files(&forwarded), files(&standalone));
}
