//! `POST /github/webhook` end to end, in process, with GitHub's own example
//! payloads (`fixtures/webhooks/`) signed with a test secret: signatures,
//! sizes and shapes are checked, deliveries are deduplicated (also across a
//! restart), and queued work survives a stop between receipt and
//! processing.

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use swe_sleep::config::Config;
use swe_sleep::daemon::{self, DaemonConfig};
use swe_sleep::github::queue::Queue;
use swe_sleep::github::signature::sign;
use swe_sleep::secret::SecretSource;

use support::http::{http, request};
use support::{fixture_copy, temp_dir};

const SECRET: &str = "It's a Secret to Everybody";

fn payload(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/webhooks")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A daemon running in its own runtime until `stop`.
struct Running {
    rt: tokio::runtime::Runtime,
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<Result<(), daemon::DaemonError>>>,
}

impl Running {
    fn start(mut cfg: DaemonConfig) -> Running {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let (bound_tx, bound_rx) = tokio::sync::oneshot::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        cfg.bound = Some(bound_tx);
        let handle = rt.spawn(daemon::run(cfg, async {
            let _ = stop_rx.await;
        }));
        let addr = rt.block_on(bound_rx).expect("the daemon binds");
        Running {
            rt,
            addr,
            stop: Some(stop_tx),
            handle: Some(handle),
        }
    }

    fn stop(mut self) {
        let _ = self.stop.take().expect("running").send(());
        let handle = self.handle.take().expect("running");
        self.rt
            .block_on(handle)
            .expect("the daemon task")
            .expect("a clean shutdown");
    }

    /// Posts a delivery signed with `secret` (or with the given header).
    fn deliver(
        &self,
        event: &str,
        id: &str,
        body: &[u8],
        signature: Option<String>,
    ) -> (u16, Value) {
        let sig = signature.unwrap_or_else(|| sign(SECRET.as_bytes(), body));
        let (code, text) = request(
            self.addr,
            "POST",
            "/github/webhook",
            &[
                ("Content-Type", "application/json"),
                ("X-GitHub-Event", event),
                ("X-GitHub-Delivery", id),
                ("X-Hub-Signature-256", &sig),
                ("User-Agent", "GitHub-Hookshot/test"),
            ],
            body,
        );
        let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (code, v)
    }
}

fn secret_file(dir: &Path) -> PathBuf {
    let p = dir.join("webhook-secret");
    std::fs::write(&p, SECRET).expect("write the secret");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    p
}

fn config(repo: &Path, state: &Path, secrets: &Path) -> DaemonConfig {
    let mut config = Config::default();
    config.github.webhook_secret = SecretSource::from_file(secret_file(secrets));
    config.github.repo = "Codertocat/Hello-World".into();
    let mut c = DaemonConfig::new(repo.to_path_buf(), state.to_path_buf(), config);
    c.listen = "127.0.0.1:0".parse().expect("an address");
    c.quiet_period = Duration::from_millis(300);
    c.head_poll = Duration::from_millis(300);
    c
}

/// Waits until the delivery reaches `state` in the queue.
fn wait_delivery(state_dir: &Path, id: &str, want: &str, secs: u64) -> Option<String> {
    let until = Instant::now() + Duration::from_secs(secs);
    loop {
        let q = Queue::open(state_dir).expect("open the queue");
        let got = q.delivery_state(id).expect("read the queue");
        if let Some((s, note)) = &got
            && s == want
        {
            return note.clone();
        }
        assert!(
            Instant::now() < until,
            "delivery {id} never reached {want}: {got:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn webhook_verifies_stores_and_answers() {
    let repo = fixture_copy("cookbook");
    let state = temp_dir("webhook-state-");
    let secrets = temp_dir("webhook-secrets-");
    let d = Running::start(config(repo.path(), state.path(), secrets.path()));

    // GitHub's published test vector passes the signature check; its body
    // ("Hello, World!") is then refused as not JSON.
    let (code, v) = d.deliver(
        "ping",
        "vector-1",
        b"Hello, World!",
        Some("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17".into()),
    );
    assert_eq!(code, 400, "{v}");
    assert!(
        v["error"].as_str().expect("an error").contains("not JSON"),
        "{v}"
    );

    let ping = payload("ping.json");
    // Missing, malformed and wrong signatures.
    let (code, _) = request(
        d.addr,
        "POST",
        "/github/webhook",
        &[("X-GitHub-Event", "ping"), ("X-GitHub-Delivery", "no-sig")],
        &ping,
    );
    assert_eq!(code, 401);
    assert_eq!(
        d.deliver("ping", "bad-sig", &ping, Some("sha256=00".into()))
            .0,
        401
    );
    assert_eq!(
        d.deliver(
            "ping",
            "wrong-key",
            &ping,
            Some(sign(b"another secret", &ping))
        )
        .0,
        401
    );
    // Signed, but no event or delivery header.
    let sig = sign(SECRET.as_bytes(), &ping);
    let (code, _) = request(
        d.addr,
        "POST",
        "/github/webhook",
        &[("X-Hub-Signature-256", &sig), ("X-GitHub-Delivery", "x")],
        &ping,
    );
    assert_eq!(code, 400);
    // Over 25 MB: refused before it is hashed.
    let huge = vec![b' '; 25 * 1024 * 1024 + 1];
    assert_eq!(
        d.deliver("ping", "huge", &huge, Some("sha256=00".into())).0,
        413
    );
    // Malformed JSON and a shape GitHub never sends.
    assert_eq!(
        d.deliver("pull_request", "broken", b"{\"action\": ", None)
            .0,
        400
    );
    let (code, v) = d.deliver(
        "pull_request",
        "shape",
        br#"{"action": "opened", "number": 1}"#,
        None,
    );
    assert_eq!(code, 400, "{v}");

    // A ping.
    let (code, v) = d.deliver("ping", "ping-1", &ping, None);
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["pong"], true);
    assert!(v["zen"].is_string(), "{v}");

    // Events and actions that ask for nothing.
    let (code, v) = d.deliver(
        "pull_request",
        "closed-1",
        &payload("pull_request.closed.json"),
        None,
    );
    assert_eq!(code, 200);
    assert!(
        v["ignored"].as_str().expect("a reason").contains("closed"),
        "{v}"
    );
    let (code, v) = d.deliver("star", "star-1", br#"{"action": "created"}"#, None);
    assert_eq!(code, 200);
    assert!(
        v["ignored"].as_str().expect("a reason").contains("star"),
        "{v}"
    );
    // A delivery for another repository.
    let other = String::from_utf8(payload("issues.opened.json"))
        .expect("utf-8")
        .replace("Codertocat/Hello-World", "someone/else");
    let (code, v) = d.deliver("issues", "other-1", other.as_bytes(), None);
    assert_eq!(code, 200);
    assert!(
        v["ignored"]
            .as_str()
            .expect("a reason")
            .contains("someone/else"),
        "{v}"
    );

    // A pull request to predict, then its redelivery.
    let opened = payload("pull_request.opened.json");
    let (code, v) = d.deliver("pull_request", "pr-opened-1", &opened, None);
    assert_eq!(code, 202, "{v}");
    assert_eq!(v["queued"], true);
    assert_eq!(v["number"], 2);
    let (code, v) = d.deliver("pull_request", "pr-opened-1", &opened, None);
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["duplicate"], true);

    // An issue, and a comment command (no credentials: skipped, logged).
    assert_eq!(
        d.deliver("issues", "issue-1", &payload("issues.opened.json"), None)
            .0,
        202
    );
    let mut comment: Value =
        serde_json::from_slice(&payload("issue_comment.created.json")).expect("json");
    comment["comment"]["body"] = "/swe-sleep predict".into();
    let comment = serde_json::to_vec(&comment).expect("json");
    assert_eq!(d.deliver("issue_comment", "cmd-1", &comment, None).0, 202);

    // The worker predicts from the notebook and stores the results.
    wait_delivery(state.path(), "pr-opened-1", "done", 60);
    wait_delivery(state.path(), "issue-1", "done", 30);
    let note = wait_delivery(state.path(), "cmd-1", "done", 30).unwrap_or_default();
    assert!(note.contains("no GitHub credentials"), "{note}");
    let q = Queue::open(state.path()).expect("queue");
    let r = q
        .result("Codertocat/Hello-World", 2)
        .expect("read")
        .expect("a stored result");
    assert_eq!(r.kind, "pull_request");
    assert!(r.prediction["files"].is_array(), "{}", r.prediction);
    assert!(r.notebook_commit.is_some());
    assert!(r.comment_id.is_none(), "comments are off by default");

    // The service is still healthy, and counted everything.
    assert_eq!(
        http(d.addr, "GET", "/healthz", None),
        (200, "ok".to_string())
    );
    let (_, metrics) = http(d.addr, "GET", "/metrics", None);
    for line in [
        "swe_sleep_webhook_accepted_total 3",
        "swe_sleep_webhook_duplicates_total 1",
        "swe_sleep_github_jobs_done_total 3",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "{line} missing in\n{metrics}"
        );
    }
    d.stop();
}

#[test]
fn deliveries_survive_a_restart_and_are_not_redone() {
    let repo = fixture_copy("cookbook");
    let state = temp_dir("webhook-restart-");
    let secrets = temp_dir("webhook-secrets-");

    // Received and stored, not processed: then the daemon stops.
    let mut cfg = config(repo.path(), state.path(), secrets.path());
    cfg.process_queue = false;
    let d = Running::start(cfg);
    let opened = payload("pull_request.ready_for_review.with-installation.json");
    assert_eq!(d.deliver("pull_request", "restart-1", &opened, None).0, 202);
    d.stop();
    wait_delivery(state.path(), "restart-1", "queued", 1);

    // The next daemon does the work once, and knows the delivery.
    let d = Running::start(config(repo.path(), state.path(), secrets.path()));
    wait_delivery(state.path(), "restart-1", "done", 60);
    let (code, v) = d.deliver("pull_request", "restart-1", &opened, None);
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["duplicate"], true);
    let (_, metrics) = http(d.addr, "GET", "/metrics", None);
    assert!(
        metrics
            .lines()
            .any(|l| l == "swe_sleep_github_jobs_done_total 1"),
        "{metrics}"
    );
    d.stop();
}
