//! `swe-sleep daemon` beside a checkout, in process: it sleeps at start,
//! answers `/healthz`, `/status`, `/predict` and `/metrics`, follows a new
//! commit, refuses a second daemon on the same state directory, and removes
//! its lock on shutdown.

mod support;

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use swe_sleep::daemon::{self, LOCK_FILE};

use support::cli::{ok, one_json_object, stdout, swe_sleep};
use support::daemon::{Running, config};
use support::http::{http, json};
use support::{fixture_copy, git, temp_dir};

/// Polls `/status` until `pred` holds, for up to `secs`.
fn wait_status(addr: SocketAddr, secs: u64, pred: impl Fn(&Value) -> bool) -> Value {
    let until = Instant::now() + Duration::from_secs(secs);
    loop {
        let (code, v) = json(addr, "GET", "/status", None);
        if code == 200 && pred(&v) {
            return v;
        }
        assert!(Instant::now() < until, "status never matched; last: {v}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn daemon_follows_commits_and_serves_predictions() {
    let repo = fixture_copy("cookbook");
    let state = temp_dir("daemon-state-");
    let running = Running::start(config(repo.path(), state.path()));
    let addr = running.addr;

    assert_eq!(http(addr, "GET", "/healthz", None), (200, "ok".to_string()));

    let head = git(repo.path(), &["rev-parse", "HEAD"]).trim().to_string();
    let st = wait_status(addr, 60, |v| v["commit"] == head.as_str());
    assert_eq!(st["up_to_date"], true, "{st}");
    assert!(st["sleeping"].is_boolean(), "{st}");
    assert!(st["last_sleep_seconds"].as_f64().is_some(), "{st}");

    let (code, p) = json(
        addr,
        "POST",
        "/predict",
        Some(r#"{"request": "Add unit conversion for teaspoons", "budget": 4000, "steps": 12}"#),
    );
    assert_eq!(code, 200, "{p}");
    let files: Vec<&str> = p["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(files.contains(&"src/units.rs"), "{files:?}");
    assert!(p["tokens_used"].as_u64().unwrap() <= p["budget"].as_u64().unwrap());
    assert_eq!(p["budget"], 4000);
    assert_eq!(p["notebook_commit"], head.as_str());
    assert_eq!(p["stale"], false);

    // A new commit: the notebook follows.
    std::fs::write(
        repo.path().join("src/pantry.rs"),
        "//! The pantry.\npub fn shelves() -> u32 {\n    3\n}\n",
    )
    .unwrap();
    git(repo.path(), &["add", "src/pantry.rs"]);
    git(repo.path(), &["commit", "-q", "-m", "Add a pantry"]);
    let new_head = git(repo.path(), &["rev-parse", "HEAD"]).trim().to_string();
    assert_ne!(new_head, head);
    wait_status(addr, 20, |v| v["commit"] == new_head.as_str());

    let (code, metrics) = http(addr, "GET", "/metrics", None);
    assert_eq!(code, 200);
    assert!(
        metrics
            .lines()
            .any(|l| l == "swe_sleep_predictions_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("swe_sleep_predict_latency_seconds_count 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("swe_sleep_notebook_age_seconds "),
        "{metrics}"
    );

    // Bad requests.
    let (code, e) = json(addr, "POST", "/predict", Some("{not json"));
    assert_eq!(code, 400, "{e}");
    assert!(e["error"].as_str().unwrap().contains("JSON"), "{e}");
    let (code, _) = json(addr, "POST", "/predict", Some(r#"{"request": "  "}"#));
    assert_eq!(code, 400);
    let (code, _) = json(
        addr,
        "POST",
        "/predict",
        Some(r#"{"request": "x", "budget": 0}"#),
    );
    assert_eq!(code, 400);

    // `predict` and `status` use the running daemon; --standalone does not.
    let args = [
        "--repo",
        support::cli::p(repo.path()),
        "--state-dir",
        support::cli::p(state.path()),
    ];
    let out = ok(
        swe_sleep()
            .args(["predict", "--json", "Add unit conversion for teaspoons"])
            .args(args)
            .output()
            .unwrap(),
        "predict through the daemon",
    );
    let v = one_json_object(&out);
    assert_eq!(v["notebook_commit"], new_head.as_str(), "{v}");
    assert!(v["files"].as_array().is_some_and(|f| !f.is_empty()), "{v}");
    let out = ok(
        swe_sleep()
            .args([
                "predict",
                "--json",
                "--standalone",
                "Add unit conversion for teaspoons",
            ])
            .args(args)
            .output()
            .unwrap(),
        "predict standalone",
    );
    assert!(one_json_object(&out).get("notebook_commit").is_none());
    let out = ok(
        swe_sleep()
            .args(["status", "--json"])
            .args(args)
            .output()
            .unwrap(),
        "status through the daemon",
    );
    let v = one_json_object(&out);
    assert_eq!(v["daemon"]["addr"], addr.to_string(), "{v}");
    let out = ok(
        swe_sleep().arg("status").args(args).output().unwrap(),
        "status through the daemon",
    );
    assert!(
        stdout(&out).contains(&format!("Daemon: pid {}", std::process::id())),
        "{}",
        stdout(&out)
    );

    // A second daemon on the same state directory is refused.
    let lock = state.path().join(LOCK_FILE);
    assert!(lock.is_file());
    let second = running
        .rt()
        .block_on(daemon::run(config(repo.path(), state.path()), async {}));
    let msg = second.expect_err("a second daemon must fail").to_string();
    assert!(msg.contains(LOCK_FILE), "{msg}");
    assert!(msg.contains(&addr.to_string()), "{msg}");
    assert!(msg.contains(&std::process::id().to_string()), "{msg}");

    // Clean shutdown removes the lock.
    running.stop();
    assert!(!lock.exists(), "the lock outlived the daemon");
    assert!(
        TcpStream::connect(addr).is_err(),
        "still listening after shutdown"
    );
}

/// `name{labels} value` of a counter or gauge in the daemon's `/metrics`.
fn metric(addr: SocketAddr, series: &str) -> f64 {
    let (code, text) = http(addr, "GET", "/metrics", None);
    assert_eq!(code, 200, "{text}");
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {series} in\n{text}"))
}

/// Polls until `pred` holds for the metric, for up to `secs`.
fn wait_metric(addr: SocketAddr, series: &str, secs: u64, pred: impl Fn(f64) -> bool) -> f64 {
    let until = Instant::now() + Duration::from_secs(secs);
    loop {
        let v = metric(addr, series);
        if pred(v) {
            return v;
        }
        assert!(Instant::now() < until, "{series} stayed at {v}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

const CHANGES: &str = r#"swe_sleep_watch_events_total{outcome="change"}"#;
const IGNORED: &str = r#"swe_sleep_watch_events_total{outcome="ignored_path"}"#;
const SLEEPS: &str = "swe_sleep_sleeps_total";

/// Creates a file the notebook never reads (under `target/`) and waits
/// until the watcher has reported it: every file event before it has then
/// been counted too (the watcher reports events in order).
fn barrier(addr: SocketAddr, root: &Path, n: usize) {
    let before = metric(addr, IGNORED);
    std::fs::create_dir_all(root.join("target")).unwrap();
    std::fs::write(root.join(format!("target/barrier-{n}")), "x").unwrap();
    wait_metric(addr, IGNORED, 30, |v| v > before);
}

/// Waits until no sleep runs or waits for the quiet period.
fn wait_idle(addr: SocketAddr) {
    let until = Instant::now() + Duration::from_secs(60);
    while metric(addr, "swe_sleep_sleeping") != 0.0
        || metric(addr, "swe_sleep_sleep_pending") != 0.0
    {
        assert!(Instant::now() < until, "the daemon never went idle");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn reads_leave_the_daemon_idle_and_one_write_costs_one_sleep() {
    let repo = fixture_copy("cookbook");
    let root = repo.path().canonicalize().unwrap();
    let state = temp_dir("daemon-idle-state-");
    let running = Running::start(config(&root, state.path()));
    let addr = running.addr;

    // The first sleep reads every file; those reads are no change.
    wait_metric(addr, SLEEPS, 60, |v| v == 1.0);
    wait_idle(addr);
    barrier(addr, &root, 0);
    assert_eq!(metric(addr, CHANGES), 0.0, "the daemon's own reads");
    wait_idle(addr);
    assert_eq!(metric(addr, SLEEPS), 1.0);

    // What grep -r, an editor opening a file or cargo do: open and read
    // every file, list every directory, check metadata.
    fn read_all(dir: &Path) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let path = e.path();
            if e.file_name() == ".git" {
                continue;
            }
            if e.file_type().unwrap().is_dir() {
                read_all(&path);
            } else {
                let _ = std::fs::read(&path).unwrap();
                let _ = std::fs::metadata(&path).unwrap();
            }
        }
    }
    for _ in 0..3 {
        read_all(&root);
    }
    barrier(addr, &root, 1);
    assert_eq!(metric(addr, CHANGES), 0.0, "reads are no change");
    wait_idle(addr);
    assert_eq!(metric(addr, SLEEPS), 1.0, "reads queued a sleep");

    // One write: exactly one sleep, and that sleep's reads queue nothing.
    std::fs::write(
        root.join("src/units.rs"),
        "//! Units.\npub fn cups() -> u32 {\n    2\n}\n",
    )
    .unwrap();
    wait_metric(addr, SLEEPS, 60, |v| v >= 2.0);
    let changes = metric(addr, CHANGES);
    assert!(changes >= 1.0);
    wait_idle(addr);
    barrier(addr, &root, 2);
    assert_eq!(metric(addr, CHANGES), changes, "the sleep's reads");
    wait_idle(addr);
    assert_eq!(metric(addr, SLEEPS), 2.0, "one write, one sleep");

    running.stop();
}

#[cfg(target_os = "linux")]
#[test]
fn a_lock_naming_another_process_neither_blocks_the_daemon_nor_fools_the_cli() {
    use std::io::{Read, Write};
    use std::sync::{Arc, Mutex};

    let repo = fixture_copy("cookbook");
    let state = temp_dir("daemon-stale-state-");
    let lock = state.path().join(LOCK_FILE);
    let args = [
        "--repo",
        support::cli::p(repo.path()),
        "--state-dir",
        support::cli::p(state.path()),
    ];
    let status_daemon = || {
        let out = ok(
            swe_sleep()
                .args(["status", "--json"])
                .args(args)
                .output()
                .unwrap(),
            "status",
        );
        one_json_object(&out).get("daemon").cloned()
    };

    // A crashed daemon's pid, now used by a program that is not swe-sleep.
    let mut other = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .expect("spawn sleep");
    std::fs::write(
        &lock,
        format!("pid={}\nstarted=1\naddr=127.0.0.1:9\n", other.id()),
    )
    .unwrap();
    assert_eq!(status_daemon(), None);

    // A running process, but its address is answered by something that is
    // not a swe-sleep daemon: not trusted, and never sent the token.
    let fake = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let fake_addr = fake.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(String::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in fake.incoming() {
            let Ok(mut s) = stream else { return };
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap_or(0);
            log.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
            let _ =
                s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        }
    });
    let me = daemon::process::ProcessId::current();
    std::fs::write(
        &lock,
        format!(
            "pid={}\nstarted={}\naddr={fake_addr}\n",
            me.pid,
            me.started.expect("a start time on Linux")
        ),
    )
    .unwrap();
    std::fs::write(
        state.path().join(daemon::TOKEN_FILE),
        "token-for-the-daemon-only",
    )
    .unwrap();
    assert_eq!(status_daemon(), None);
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.contains("GET /healthz"),
        "the address was asked: {seen}"
    );
    assert!(!seen.contains("token-for-the-daemon-only"), "{seen}");
    std::fs::remove_file(state.path().join(daemon::TOKEN_FILE)).unwrap();

    // The stale lock does not block a daemon, which the CLI then finds.
    std::fs::write(
        &lock,
        format!("pid={}\nstarted=1\naddr=127.0.0.1:9\n", other.id()),
    )
    .unwrap();
    let running = Running::start(config(repo.path(), state.path()));
    let addr = running.addr;
    let found = status_daemon().expect("the daemon is found");
    assert_eq!(found["addr"], addr.to_string(), "{found}");
    assert_eq!(found["pid"], std::process::id(), "{found}");
    running.stop();
    let _ = other.kill();
    let _ = other.wait();
}

#[test]
fn a_used_port_names_the_flag_and_the_daemon_and_logs_have_no_colours() {
    let repo = fixture_copy("cookbook");
    let state = temp_dir("daemon-port-state-");
    let running = Running::start(config(repo.path(), state.path()));
    let addr = running.addr;

    // A second daemon, for another state directory, on the same address;
    // stderr is a pipe, so no colours even with NO_COLOR unset.
    let other_state = temp_dir("daemon-port-state2-");
    let second = |listen: &str| {
        let out = swe_sleep()
            .env_remove("NO_COLOR")
            .args(["-vv", "daemon", "--listen", listen])
            .args(["--repo", support::cli::p(repo.path())])
            .args(["--state-dir", support::cli::p(other_state.path())])
            .output()
            .unwrap();
        support::cli::fails(out, "a second daemon on a used port")
    };
    let err = second(&addr.to_string());
    assert!(err.contains("--listen"), "{err}");
    assert!(err.contains(&addr.to_string()), "{err}");
    assert!(
        err.contains(&format!("daemon with pid {}", std::process::id())),
        "{err}"
    );
    assert_eq!(
        err.to_lowercase().matches("address already in use").count(),
        1,
        "{err}"
    );
    assert!(!err.contains('\u{1b}'), "colours in a pipe: {err:?}");

    // Another program on the port.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let err = second(&taken.local_addr().unwrap().to_string());
    assert!(
        err.contains("another program") && err.contains("--listen"),
        "{err}"
    );

    // Debug logs of a sleep, in a pipe: plain text.
    let out = ok(
        swe_sleep()
            .env_remove("NO_COLOR")
            .args(["-vv", "sleep", "--repo", support::cli::p(repo.path())])
            .args(["--state-dir", support::cli::p(other_state.path())])
            .output()
            .unwrap(),
        "sleep -vv",
    );
    let logs = support::cli::stderr(&out);
    assert!(logs.contains("DEBUG"), "{logs}");
    assert!(!logs.contains('\u{1b}'), "colours in a pipe: {logs:?}");

    running.stop();
}

/// A damaged notebook that a sleep cannot rebuild (HEAD names a commit
/// whose tree the clone lacks) makes `/healthz` say "degraded" with the
/// reason, and predictions a clear 500; once HEAD is good again, the next
/// sleep sets the damaged file aside, rebuilds, and the daemon is healthy.
#[test]
fn a_damaged_notebook_degrades_health_until_a_sleep_rebuilds_it() {
    let repo = fixture_copy("cookbook");
    let state = temp_dir("daemon-heal-");
    let cli_args = [
        "--repo",
        support::cli::p(repo.path()),
        "--state-dir",
        support::cli::p(state.path()),
    ];
    ok(
        swe_sleep().arg("sleep").args(cli_args).output().unwrap(),
        "first sleep",
    );
    std::fs::write(
        state.path().join("notebook.sqlite"),
        "not a notebook\n".repeat(500),
    )
    .unwrap();
    let good = git(repo.path(), &["rev-parse", "HEAD"]).trim().to_string();
    let commit_file = state.path().join("broken-commit");
    std::fs::write(
        &commit_file,
        format!("tree 1111111111111111111111111111111111111111\nparent {good}\nauthor A <a@example.com> 1717200000 +0000\ncommitter A <a@example.com> 1717200000 +0000\n\nBroken\n"),
    )
    .unwrap();
    let broken = git(
        repo.path(),
        &[
            "hash-object",
            "-t",
            "commit",
            "-w",
            "--literally",
            support::cli::p(&commit_file),
        ],
    )
    .trim()
    .to_string();
    git(repo.path(), &["update-ref", "refs/heads/main", &broken]);

    let running = Running::start(config(repo.path(), state.path()));
    let addr = running.addr;

    let until = Instant::now() + Duration::from_secs(60);
    let health = loop {
        let (code, body) = http(addr, "GET", "/healthz", None);
        if code == 503 {
            break body;
        }
        assert!(Instant::now() < until, "never degraded: {code} {body}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let v: Value = serde_json::from_str(&health).expect("JSON");
    assert_eq!(v["status"], "degraded", "{v}");
    assert!(
        v["reason"]
            .as_str()
            .unwrap()
            .contains("is missing from the object database"),
        "{v}"
    );
    // The damaged file was set aside at once; nothing could be rebuilt yet.
    let (code, p) = json(
        addr,
        "POST",
        "/predict",
        Some(r#"{"request": "Add unit conversion for teaspoons"}"#),
    );
    assert_eq!(code, 503, "{p}");
    assert!(
        p["error"].as_str().unwrap().contains("no notebook yet"),
        "{p}"
    );

    // HEAD is good again: the HEAD poll wakes a sleep that heals.
    git(repo.path(), &["update-ref", "refs/heads/main", &good]);
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let (code, body) = http(addr, "GET", "/healthz", None);
        if code == 200 {
            assert_eq!(body, "ok");
            break;
        }
        assert!(Instant::now() < until, "never healed: {code} {body}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (code, p) = json(
        addr,
        "POST",
        "/predict",
        Some(r#"{"request": "Add unit conversion for teaspoons"}"#),
    );
    assert_eq!(code, 200, "{p}");
    let aside = std::fs::read_dir(state.path()).unwrap().flatten().any(|e| {
        e.file_name()
            .to_string_lossy()
            .starts_with("notebook.sqlite.damaged-")
    });
    assert!(aside, "the damaged notebook is kept aside");

    running.stop();
}
