//! No secret ever reaches a log line, an error or `status`: the real binary
//! runs as a daemon with debug logging to a file, a GitHub token and a
//! webhook secret from the environment, takes signed and badly signed
//! deliveries, and comments through a GitHub stand-in (so the token is
//! really used); then its log file, its stderr, and `status` are searched
//! for both secrets.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use swe_sleep::github::signature::sign;

use support::cli::{p, swe_sleep};
use support::github::{CommentStore, Reply, Seen, StandIn};
use support::http::request;
use support::{fixture_copy, temp_dir};

const TOKEN: &str = "ghp_S3cretTokenThatMustNeverBeLogged0001";
const HOOK_SECRET: &str = "whsec-never-in-a-log-0002";

#[test]
fn secrets_stay_out_of_logs_errors_and_status() {
    let repo = fixture_copy("cookbook");
    let state = temp_dir("secrets-state-");
    let dir = temp_dir("secrets-cfg-");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    let comments = std::sync::Arc::new(CommentStore::default());
    let store = comments.clone();
    let gh = rt.block_on(StandIn::start(move |seen: &Seen, _| {
        store
            .answer(seen, "Codertocat/Hello-World", 2)
            .unwrap_or_else(|| Reply::fixture(404, "not-found.json"))
    }));
    let config = dir.path().join("swe-sleep.toml");
    std::fs::write(
        &config,
        format!(
            "[github]\nrepo = \"Codertocat/Hello-World\"\napi_url = \"{}\"\ncomments = true\n\
             token = {{ env = \"SWE_TEST_GH_TOKEN\" }}\nwebhook_secret = {{ env = \"SWE_TEST_HOOK_SECRET\" }}\n",
            gh.url()
        ),
    )
    .expect("write the config");
    let log = dir.path().join("daemon.log");

    let mut child = swe_sleep()
        .args([
            "daemon",
            "--listen",
            "127.0.0.1:0",
            "--quiet-period-ms",
            "300",
        ])
        .args(["--repo", p(repo.path()), "--state-dir", p(state.path())])
        .args(["--config", p(&config), "--log-file", p(&log)])
        .env("SWE_SLEEP_LOG", "debug")
        .env("SWE_TEST_GH_TOKEN", TOKEN)
        .env("SWE_TEST_HOOK_SECRET", HOOK_SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the daemon");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("the daemon prints its address");
    let addr: std::net::SocketAddr = first
        .trim()
        .rsplit("http://")
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {first:?}"));

    let body = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/webhooks/pull_request.opened.json"),
    )
    .expect("payload");
    let deliver = |id: &str, sig: &str| {
        request(
            addr,
            "POST",
            "/github/webhook",
            &[
                ("X-GitHub-Event", "pull_request"),
                ("X-GitHub-Delivery", id),
                ("X-Hub-Signature-256", sig),
            ],
            &body,
        )
        .0
    };
    assert_eq!(deliver("s-bad", "sha256=0000"), 401);
    assert_eq!(deliver("s-good", &sign(HOOK_SECRET.as_bytes(), &body)), 202);
    let until = Instant::now() + Duration::from_secs(60);
    while comments.bodies().is_empty() {
        assert!(Instant::now() < until, "no comment was posted");
        std::thread::sleep(Duration::from_millis(100));
    }
    let posted = gh
        .requests()
        .into_iter()
        .find(|s| s.method == "POST")
        .expect("a POST");
    assert_eq!(
        posted.header("authorization"),
        Some(&*format!("Bearer {TOKEN}"))
    );

    let status = Command::new(env!("CARGO_BIN_EXE_swe-sleep"))
        .args([
            "status",
            "--json",
            "--repo",
            p(repo.path()),
            "--state-dir",
            p(state.path()),
        ])
        .args(["--config", p(&config)])
        .output()
        .expect("status");
    let status_out = String::from_utf8_lossy(&status.stdout).into_owned();
    assert!(status_out.contains("\"daemon\""), "{status_out}");

    // SIGTERM: a clean stop.
    // SAFETY: signalling our own child process.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    let out = child.wait_with_output().expect("the daemon exits");
    assert!(out.status.success(), "{:?}", out.status);
    let logged = std::fs::read_to_string(&log).expect("the log file");
    assert!(logged.contains("s-good: queued"), "{logged}");
    assert!(logged.contains("webhook refused (401)"), "{logged}");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    for (what, text) in [
        ("log file", &logged),
        ("stderr", &stderr),
        ("status", &status_out),
    ] {
        for secret in [TOKEN, HOOK_SECRET] {
            assert!(!text.contains(secret), "the {what} holds a secret:\n{text}");
        }
    }
    drop(gh);
}
