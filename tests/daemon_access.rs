//! The daemon's HTTP API is not open to the network or to web pages: in
//! process, on loopback, with raw HTTP. Foreign `Host` names, non-JSON
//! bodies, oversized or slow bodies, silent clients, too many connections,
//! unknown routes and wrong methods are refused with JSON and counted in
//! `/metrics`; with `[daemon] token` every route but `/healthz` needs the
//! bearer token, which the CLI finds beside the lock; a non-loopback
//! `--listen` without a token is refused.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::Value;
use swe_sleep::daemon::{self, TOKEN_FILE};
use swe_sleep::secret::SecretSource;

use support::cli::{ok, one_json_object, p, swe_sleep};
use support::daemon::{Running, config};
use support::http::{http, request};
use support::{fixture_copy, temp_dir};

const TOKEN: &str = "swe-sleep-test-token-0123456789";

/// Sends `text` as is; returns (status, body) of the answer, or `None`
/// when the server closed the connection without one.
fn raw(addr: SocketAddr, text: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("a read timeout");
    s.write_all(text.as_bytes()).expect("send");
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    parse(&answer)
}

fn parse(answer: &[u8]) -> Option<(u16, String)> {
    let text = String::from_utf8_lossy(answer);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

/// The `error` of a JSON refusal with `status`.
fn refused(answer: Option<(u16, String)>, status: u16) -> String {
    let (code, body) = answer.expect("an answer");
    assert_eq!(code, status, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body:?}"));
    v["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error in {v}"))
        .to_string()
}

fn metric_line(addr: SocketAddr, auth: &[(&str, &str)], line: &str) -> bool {
    let (code, text) = request(addr, "GET", "/metrics", auth, b"");
    assert_eq!(code, 200, "{text}");
    text.lines().any(|l| l == line)
}

#[test]
fn foreign_hosts_web_page_bodies_and_slow_clients_are_refused_as_counted_json() {
    let repo = fixture_copy("cookbook");
    let state = temp_dir("access-state-");
    let mut cfg = config(repo.path(), state.path());
    cfg.limits.header_timeout = Duration::from_secs(1);
    cfg.limits.body_timeout = Duration::from_secs(1);
    let d = Running::start(cfg);
    let addr = d.addr;

    // DNS rebinding: a page at evil.example resolved to 127.0.0.1.
    for (method, path) in [
        ("GET", "/status"),
        ("POST", "/predict"),
        ("GET", "/healthz"),
    ] {
        let e = refused(
            raw(
                addr,
                &format!(
                    "{method} {path} HTTP/1.1\r\nHost: evil.example:{}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}",
                    addr.port()
                ),
            ),
            403,
        );
        assert!(e.contains("Host") && e.contains("evil.example"), "{e}");
    }
    // `localhost` on the port is fine.
    let (code, _) = raw(
        addr,
        &format!(
            "GET /healthz HTTP/1.1\r\nHost: localhost:{}\r\nConnection: close\r\n\r\n",
            addr.port()
        ),
    )
    .expect("an answer");
    assert_eq!(code, 200);

    // A cross-site form or fetch without preflight sends text/plain.
    let e = refused(
        Some(request(
            addr,
            "POST",
            "/predict",
            &[("Content-Type", "text/plain")],
            br#"{"request": "Add unit conversion for teaspoons"}"#,
        )),
        415,
    );
    assert!(e.contains("application/json"), "{e}");
    // Wrong method, unknown route, oversized body: JSON too.
    let e = refused(Some(http(addr, "GET", "/predict", None)), 405);
    assert!(e.contains("POST"), "{e}");
    let e = refused(Some(http(addr, "GET", "/admin", None)), 404);
    assert!(e.contains("/admin"), "{e}");
    let big = format!(r#"{{"request": "{}"}}"#, "x".repeat(2 * 1024 * 1024));
    refused(Some(http(addr, "POST", "/predict", Some(&big))), 413);

    // A body that never finishes arriving.
    let mut slow = TcpStream::connect(addr).expect("connect");
    slow.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("a read timeout");
    slow.write_all(
        format!(
            "POST /predict HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"request\""
        )
        .as_bytes(),
    )
    .expect("send");
    let mut answer = Vec::new();
    let _ = slow.read_to_end(&mut answer);
    let e = refused(parse(&answer), 408);
    assert!(e.contains("body"), "{e}");

    // A header that never finishes: the connection is closed unanswered.
    let mut silent = TcpStream::connect(addr).expect("connect");
    silent
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("a read timeout");
    silent
        .write_all(b"GET /status HTTP/1.1\r\nHost: 127.0.0.1")
        .expect("send");
    let mut answer = Vec::new();
    let read = silent.read_to_end(&mut answer);
    assert!(read.is_ok(), "closed, not timed out on our side: {read:?}");
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));

    // Everything was counted, by reason and status.
    for line in [
        r#"swe_sleep_http_refusals_total{reason="host",status="403"} 3"#,
        r#"swe_sleep_http_refusals_total{reason="content_type",status="415"} 1"#,
        r#"swe_sleep_http_refusals_total{reason="method",status="405"} 1"#,
        r#"swe_sleep_http_refusals_total{reason="not_found",status="404"} 1"#,
        r#"swe_sleep_http_refusals_total{reason="too_large",status="413"} 1"#,
        r#"swe_sleep_http_refusals_total{reason="body_timeout",status="408"} 1"#,
        r#"swe_sleep_http_refusals_total{reason="header_timeout",status="408"} 1"#,
    ] {
        let until = Instant::now() + Duration::from_secs(30);
        while !metric_line(addr, &[], line) {
            assert!(Instant::now() < until, "{line} never appeared");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    d.stop();
}

#[test]
fn connections_over_the_cap_are_answered_503() {
    let repo = fixture_copy("cookbook");
    let state = temp_dir("access-cap-state-");
    let mut cfg = config(repo.path(), state.path());
    cfg.limits.max_connections = 2;
    let d = Running::start(cfg);
    let addr = d.addr;
    // Two clients that connect and say nothing hold both places (they are
    // accepted in the order they connected).
    let idle: Vec<TcpStream> = (0..2)
        .map(|_| TcpStream::connect(addr).expect("connect"))
        .collect();
    let e = refused(
        raw(
            addr,
            &format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
        ),
        503,
    );
    assert!(e.contains("connections"), "{e}");
    drop(idle);
    // Once the idle clients are gone there is room again (until the server
    // has seen them go, a request may still be refused, and counted).
    let until = Instant::now() + Duration::from_secs(30);
    let text = loop {
        let (code, text) = http(addr, "GET", "/metrics", None);
        if code == 200 {
            break text;
        }
        assert_eq!(code, 503, "{text}");
        assert!(Instant::now() < until, "never served again: {text}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let prefix = r#"swe_sleep_http_refusals_total{reason="connections",status="503"} "#;
    let refused: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {prefix} in {text}"));
    assert!(refused >= 1, "{text}");
    d.stop();
}

#[test]
fn a_token_guards_every_route_but_healthz_and_the_cli_sends_it() {
    let repo = fixture_copy("cookbook");
    let state = temp_dir("access-token-state-");
    let secrets = temp_dir("access-token-secret-");
    let token_path = secrets.path().join("token");
    std::fs::write(&token_path, format!("{TOKEN}\n")).expect("write the token");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&token_path, std::fs::Permissions::from_mode(0o600))
            .expect("chmod");
    }

    // Not loopback and no token: refused, naming the flag and the setting.
    let mut open = config(repo.path(), state.path());
    open.listen = "0.0.0.0:0".parse().expect("an address");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let err = rt
        .block_on(daemon::run(open, async {}))
        .expect_err("an open address without a token")
        .to_string();
    assert!(err.contains("--listen") && err.contains("0.0.0.0"), "{err}");
    assert!(err.contains("[daemon] token"), "{err}");
    assert!(!state.path().join(daemon::LOCK_FILE).exists());

    // With a token, every address may be used.
    let mut cfg = config(repo.path(), state.path());
    cfg.listen = "0.0.0.0:0".parse().expect("an address");
    cfg.config.daemon.token = SecretSource::from_file(&token_path);
    let d = Running::start(cfg);
    let addr: SocketAddr = format!("127.0.0.1:{}", d.addr.port())
        .parse()
        .expect("an address");
    let bearer = format!("Bearer {TOKEN}");
    let auth = [("Authorization", bearer.as_str())];

    assert_eq!(http(addr, "GET", "/healthz", None), (200, "ok".to_string()));
    for (method, path, body) in [
        ("GET", "/status", None),
        ("GET", "/metrics", None),
        (
            "POST",
            "/predict",
            Some(r#"{"request": "Add unit conversion for teaspoons"}"#),
        ),
    ] {
        let (code, text) = http(addr, method, path, body);
        assert_eq!(code, 401, "{method} {path}: {text}");
        assert!(text.contains("Bearer"), "{text}");
        assert!(!text.contains(TOKEN), "{text}");
        let (code, text) = request(
            addr,
            method,
            path,
            &[
                ("Content-Type", "application/json"),
                ("Authorization", "Bearer not-the-token"),
            ],
            body.unwrap_or("").as_bytes(),
        );
        assert_eq!(code, 401, "{method} {path}: {text}");
    }
    // The right token: the status once a sleep is done, and a prediction.
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let (code, text) = request(addr, "GET", "/status", &auth, b"");
        assert_eq!(code, 200, "{text}");
        let v: Value = serde_json::from_str(&text).expect("json");
        if v["sleeps_total"].as_u64().is_some_and(|n| n >= 1) {
            break;
        }
        assert!(Instant::now() < until, "no sleep: {v}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (code, text) = request(
        addr,
        "POST",
        "/predict",
        &[auth[0], ("Content-Type", "application/json")],
        br#"{"request": "Add unit conversion for teaspoons"}"#,
    );
    assert_eq!(code, 200, "{text}");
    assert!(metric_line(
        addr,
        &auth,
        r#"swe_sleep_http_refusals_total{reason="token",status="401"} 6"#
    ));

    // The CLI finds the token beside the lock, readable by the user only.
    let published = state.path().join(TOKEN_FILE);
    assert_eq!(
        std::fs::read_to_string(&published).expect("the token file"),
        TOKEN
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&published)
            .expect("stat")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    let args = ["--repo", p(repo.path()), "--state-dir", p(state.path())];
    let out = ok(
        swe_sleep()
            .args(["predict", "--json", "Add unit conversion for teaspoons"])
            .args(args)
            .output()
            .expect("run predict"),
        "predict through the daemon",
    );
    let v = one_json_object(&out);
    assert!(
        v["notebook_commit"].is_string(),
        "answered by the daemon: {v}"
    );
    let out = ok(
        swe_sleep()
            .args(["status", "--json"])
            .args(args)
            .output()
            .expect("run status"),
        "status through the daemon",
    );
    let v = one_json_object(&out);
    assert_eq!(v["daemon"]["pid"], std::process::id(), "{v}");

    d.stop();
    assert!(!published.exists(), "the token file outlived the daemon");
}
