//! `POST /github/webhook` end to end, in process, with GitHub's own example
//! payloads (`fixtures/webhooks/`) signed with a test secret: signatures,
//! sizes and shapes are checked, deliveries are deduplicated (also across a
//! restart), and queued work survives a stop between receipt and
//! processing.

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use swe_sleep::config::Config;
use swe_sleep::daemon::DaemonConfig;
use swe_sleep::github::queue::Queue;
use swe_sleep::github::signature::sign;
use swe_sleep::secret::SecretSource;

use support::daemon::{Running, config_with as daemon_config, runtime};
use support::github::{CommentStore, Reply, Seen, StandIn, unix_now};
use support::http::{http, request};
use support::{fixture_copy, temp_dir};

const SECRET: &str = "It's a Secret to Everybody";

fn payload(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/webhooks")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

impl Running {
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
    daemon_config(repo, state, config)
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
    // Over 25 MB: refused before it is read or hashed; a malformed
    // signature is refused before the size is even looked at.
    let huge = vec![b' '; 25 * 1024 * 1024 + 1];
    let (code, v) = d.deliver("ping", "huge", &huge, Some(sign(b"any key", b"")));
    assert_eq!(code, 413, "{v}");
    assert!(v["error"].is_string(), "413 is JSON: {v}");
    let (code, v) = d.deliver("ping", "huge-unsigned", &huge, Some("sha256=00".into()));
    assert_eq!(code, 401, "{v}");
    assert!(
        v["error"]
            .as_str()
            .expect("an error")
            .contains("X-Hub-Signature-256"),
        "{v}"
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
    // GitHub's other content type: the event is the form's `payload`.
    let form: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", std::str::from_utf8(&ping).expect("utf-8"))
        .finish();
    let (code, text) = request(
        d.addr,
        "POST",
        "/github/webhook",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("X-GitHub-Event", "ping"),
            ("X-GitHub-Delivery", "ping-form"),
            (
                "X-Hub-Signature-256",
                &sign(SECRET.as_bytes(), form.as_bytes()),
            ),
        ],
        form.as_bytes(),
    );
    assert_eq!(code, 200, "{text}");
    assert!(text.contains("\"pong\":true"), "{text}");

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
fn deliveries_through_a_proxy_pass_and_too_many_at_once_wait_then_get_503() {
    use std::io::{Read, Write};

    let repo = fixture_copy("cookbook");
    let state = temp_dir("webhook-busy-state-");
    let secrets = temp_dir("webhook-secrets-");
    let mut cfg = config(repo.path(), state.path(), secrets.path());
    cfg.limits.webhook_concurrency = 1;
    cfg.limits.webhook_wait = Duration::from_millis(300);
    let d = Running::start(cfg);
    let ping = payload("ping.json");
    let sig = sign(SECRET.as_bytes(), &ping);
    let head = |id: &str, host: &str| {
        format!(
            "POST /github/webhook HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
             X-GitHub-Event: ping\r\nX-GitHub-Delivery: {id}\r\nX-Hub-Signature-256: {sig}\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            ping.len()
        )
    };
    let send = |text: &[u8]| {
        let mut s = std::net::TcpStream::connect(d.addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(60)))
            .expect("a read timeout");
        s.write_all(text).expect("send");
        s
    };
    let answer = |mut s: std::net::TcpStream| {
        let mut raw = String::new();
        let _ = s.read_to_string(&mut raw);
        let (head, body) = raw.split_once("\r\n\r\n").expect("an answer");
        let code: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .expect("a status");
        (code, body.to_string())
    };

    // A reverse proxy forwards the public host name: the signature is what
    // counts for the webhook.
    let (code, body) = answer(send(
        [head("proxied-1", "hooks.example.com").as_bytes(), &ping]
            .concat()
            .as_slice(),
    ));
    assert_eq!(code, 200, "{body}");

    // One delivery whose body is still arriving holds the only place; the
    // next waits, then is refused with JSON. (Until the slow one holds the
    // place, the other is served instead: asked again until refused.)
    let slow = send(
        [head("slow-1", &d.addr.to_string()).as_bytes(), &ping[..10]]
            .concat()
            .as_slice(),
    );
    let until = Instant::now() + Duration::from_secs(30);
    let mut n = 0;
    let body = loop {
        n += 1;
        let (code, body) = answer(send(
            [
                head(&format!("next-{n}"), &d.addr.to_string()).as_bytes(),
                &ping,
            ]
            .concat()
            .as_slice(),
        ));
        if code == 503 {
            break body;
        }
        assert_eq!(code, 200, "{body}");
        assert!(Instant::now() < until, "never refused");
    };
    let v: Value = serde_json::from_str(&body).expect("JSON");
    assert!(
        v["error"].as_str().expect("an error").contains("at once"),
        "{v}"
    );
    drop(slow);
    let (_, metrics) = http(d.addr, "GET", "/metrics", None);
    assert!(
        metrics
            .lines()
            .any(|l| l == r#"swe_sleep_http_refusals_total{reason="webhook_busy",status="503"} 1"#),
        "{metrics}"
    );
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

/// The daemon's config with comments on, against a GitHub stand-in.
fn config_with_github(repo: &Path, state: &Path, secrets: &Path, api: &str) -> DaemonConfig {
    let mut c = config(repo, state, secrets);
    let token = secrets.join("token");
    std::fs::write(&token, "ghp_test_token_for_the_stand_in").expect("write the token");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    c.config.github.token = SecretSource::from_file(token);
    c.config.github.api_url = api.to_string();
    c.config.github.comments = true;
    c
}

/// GitHub as the worker sees it: comments on PR #2 and issue #1 of
/// Codertocat/Hello-World, and collaborator permissions (Codertocat may
/// write; anyone else may read). The first comment listing of PR #2 is
/// rate limited for a second, and the first comment POST fails with a 500
/// that did not land.
fn github_stand_in(
    rt: &tokio::runtime::Runtime,
    pr: Arc<CommentStore>,
    issue: Arc<CommentStore>,
) -> StandIn {
    let reset = unix_now() + 1;
    rt.block_on(StandIn::start(move |seen: &Seen, earlier: &[Seen]| {
        const REPO: &str = "Codertocat/Hello-World";
        let list = format!("/repos/{REPO}/issues/2/comments");
        if seen.method == "GET" && seen.route() == list && unix_now() < reset {
            return Reply::error(403, "API rate limit exceeded for user ID 1.")
                .header("x-ratelimit-limit", "5000")
                .header("x-ratelimit-remaining", "0")
                .header("x-ratelimit-reset", reset.to_string());
        }
        if seen.method == "POST" && !earlier.iter().any(|e| e.method == "POST") {
            return Reply::error(500, "Server Error");
        }
        if let Some(user) = seen
            .route()
            .strip_prefix(&format!("/repos/{REPO}/collaborators/"))
            .and_then(|r| r.strip_suffix("/permission"))
        {
            return if user == "Codertocat" {
                Reply::fixture(200, "collaborator-permission-write.json")
            } else {
                Reply::fixture(200, "collaborator-permission-read.json")
            };
        }
        pr.answer(seen, REPO, 2)
            .or_else(|| issue.answer(seen, REPO, 1))
            .unwrap_or_else(|| Reply::fixture(404, "not-found.json"))
    }))
}

fn with_action(name: &str, action: &str, title: Option<&str>) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(&payload(name)).expect("json");
    v["action"] = action.into();
    if let Some(t) = title {
        v["pull_request"]["title"] = t.into();
    }
    serde_json::to_vec(&v).expect("json")
}

fn command_from(user: &str) -> Vec<u8> {
    let mut v: Value =
        serde_json::from_slice(&payload("issue_comment.created.json")).expect("json");
    v["comment"]["body"] = "Could you look at this?\n/swe-sleep predict".into();
    v["comment"]["user"]["login"] = user.into();
    serde_json::to_vec(&v).expect("json")
}

#[test]
fn comments_are_posted_once_then_updated_in_place() {
    let repo = fixture_copy("cookbook");
    let state = temp_dir("webhook-comments-");
    let secrets = temp_dir("webhook-secrets-");
    let (pr, issue) = (
        Arc::new(CommentStore::default()),
        Arc::new(CommentStore::default()),
    );
    let rt = runtime();
    let gh = github_stand_in(&rt, pr.clone(), issue.clone());
    let d = Running::start_on(
        rt,
        config_with_github(repo.path(), state.path(), secrets.path(), &gh.url()),
    );

    // Opened: through a rate limit and a 500, one comment.
    assert_eq!(
        d.deliver(
            "pull_request",
            "c-open",
            &payload("pull_request.opened.json"),
            None
        )
        .0,
        202
    );
    let note = wait_delivery(state.path(), "c-open", "done", 60).unwrap_or_default();
    assert!(note.contains("comment"), "{note}");
    let comments = pr.bodies();
    assert_eq!(comments.len(), 1, "{comments:?}");
    let (id, first) = &comments[0];
    assert!(
        first.starts_with(swe_sleep::github::comment::MARKER),
        "{first}"
    );
    assert!(first.contains("| file | why |"), "{first}");
    assert!(first.contains("test-time tokens of 4,000"), "{first}");
    assert!(first.contains("after pull_request opened"), "{first}");

    // Edited: the same comment, updated.
    let edited = with_action(
        "pull_request.opened.json",
        "edited",
        Some("Add unit conversion for teaspoons"),
    );
    assert_eq!(d.deliver("pull_request", "c-edit", &edited, None).0, 202);
    wait_delivery(state.path(), "c-edit", "done", 30);
    let comments = pr.bodies();
    assert_eq!(comments.len(), 1, "updated, not posted again: {comments:?}");
    assert_eq!(comments[0].0, *id);
    assert!(
        comments[0].1.contains("after pull_request edited"),
        "{}",
        comments[0].1
    );
    assert!(comments[0].1.contains("src/units.rs"), "{}", comments[0].1);
    assert_eq!(
        gh.count(
            "PATCH",
            &format!("/repos/Codertocat/Hello-World/issues/comments/{id}")
        ),
        1
    );

    // A comment command: honoured from a writer, ignored from a reader.
    assert_eq!(
        d.deliver(
            "issue_comment",
            "c-cmd-reader",
            &command_from("stranger"),
            None
        )
        .0,
        202
    );
    let note = wait_delivery(state.path(), "c-cmd-reader", "done", 30).unwrap_or_default();
    assert!(note.contains("lack write access"), "{note}");
    assert!(issue.bodies().is_empty());
    assert_eq!(
        d.deliver(
            "issue_comment",
            "c-cmd-writer",
            &command_from("Codertocat"),
            None
        )
        .0,
        202
    );
    wait_delivery(state.path(), "c-cmd-writer", "done", 30);
    let on_issue = issue.bodies();
    assert_eq!(on_issue.len(), 1, "{on_issue:?}");
    assert!(
        on_issue[0].1.contains("after /command from Codertocat"),
        "{}",
        on_issue[0].1
    );

    // Stored with the comment id.
    let q = Queue::open(state.path()).expect("queue");
    let r = q
        .result("Codertocat/Hello-World", 2)
        .expect("read")
        .expect("stored");
    assert_eq!(r.comment_id, Some(*id));
    let posts = gh.count("POST", "/repos/Codertocat/Hello-World/issues/2/comments");
    assert_eq!(posts, 2, "one 500 that did not land, then one comment");
    let rt = d.stop();
    drop(gh);
    drop(rt);
}

#[test]
fn a_restart_between_receipt_and_processing_loses_nothing_and_posts_once() {
    let repo = fixture_copy("cookbook");
    let state = temp_dir("webhook-restart-gh-");
    let secrets = temp_dir("webhook-secrets-");
    let (pr, issue) = (
        Arc::new(CommentStore::default()),
        Arc::new(CommentStore::default()),
    );
    let rt = runtime();
    let gh = github_stand_in(&rt, pr.clone(), issue);
    let url = gh.url();

    let mut cfg = config_with_github(repo.path(), state.path(), secrets.path(), &url);
    cfg.process_queue = false;
    let d = Running::start_on(rt, cfg);
    let opened = payload("pull_request.opened.json");
    assert_eq!(d.deliver("pull_request", "r-open", &opened, None).0, 202);
    let rt = d.stop();
    assert!(pr.bodies().is_empty(), "nothing posted before processing");

    let d = Running::start_on(
        rt,
        config_with_github(repo.path(), state.path(), secrets.path(), &url),
    );
    wait_delivery(state.path(), "r-open", "done", 60);
    assert_eq!(
        d.deliver("pull_request", "r-open", &opened, None).1["duplicate"],
        true
    );
    let rt = d.stop();
    // And once more after another restart: still one comment.
    let d = Running::start_on(
        rt,
        config_with_github(repo.path(), state.path(), secrets.path(), &url),
    );
    assert_eq!(
        d.deliver("pull_request", "r-open", &opened, None).1["duplicate"],
        true
    );
    let rt = d.stop();
    assert_eq!(pr.bodies().len(), 1, "{:?}", pr.bodies());
    drop(gh);
    drop(rt);
}

#[test]
fn poll_follows_open_pull_requests_and_issues_without_webhooks() {
    let repo = fixture_copy("cookbook");
    let state = temp_dir("webhook-poll-");
    let secrets = temp_dir("webhook-secrets-");
    let rt = runtime();
    // Lists with an ETag; a request that sends it back gets 304.
    let gh = rt.block_on(StandIn::start(|seen: &Seen, _| {
        let (fixture, etag) = match seen.route() {
            "/repos/octocat/Hello-World/pulls" => ("pulls.json", "\"pulls-1\""),
            "/repos/octocat/Hello-World/issues" => ("issues.json", "\"issues-1\""),
            _ => return Reply::fixture(404, "not-found.json"),
        };
        if seen.header("if-none-match") == Some(etag) {
            Reply::new(304, "").header("etag", etag)
        } else {
            Reply::fixture(200, fixture).header("etag", etag)
        }
    }));
    let mut cfg = config_with_github(repo.path(), state.path(), secrets.path(), &gh.url());
    cfg.config.github.repo = "octocat/Hello-World".into();
    cfg.config.github.comments = false;
    cfg.config.github.issue_label = "swe-sleep".into();
    cfg.config.github.poll_interval_secs = 1;
    cfg.poll = true;
    let d = Running::start_on(rt, cfg);

    // The open, non-draft pull request and the labelled issue are predicted.
    let until = Instant::now() + Duration::from_secs(60);
    let q = Queue::open(state.path()).expect("queue");
    loop {
        let pr = q.result("octocat/Hello-World", 1347).expect("read");
        let issue = q.result("octocat/Hello-World", 1345).expect("read");
        if let (Some(pr), Some(issue)) = (pr, issue) {
            assert_eq!(pr.kind, "pull_request");
            assert_eq!(issue.kind, "issue");
            break;
        }
        assert!(
            Instant::now() < until,
            "the polled items were never predicted"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Later rounds are conditional and change nothing.
    std::thread::sleep(Duration::from_millis(2500));
    let pulls = gh
        .requests()
        .into_iter()
        .filter(|s| s.route() == "/repos/octocat/Hello-World/pulls")
        .collect::<Vec<_>>();
    assert!(pulls.len() >= 2, "{} polls", pulls.len());
    assert!(
        pulls[1..]
            .iter()
            .all(|s| s.header("if-none-match") == Some("\"pulls-1\""))
    );
    assert!(
        q.result("octocat/Hello-World", 1340)
            .expect("read")
            .is_none(),
        "a draft"
    );
    assert!(
        q.result("octocat/Hello-World", 1339)
            .expect("read")
            .is_none(),
        "unlabelled"
    );
    let counts = q.counts().expect("counts");
    assert_eq!(
        (counts.done, counts.queued, counts.failed),
        (2, 0, 0),
        "{counts:?}"
    );
    let rt = d.stop();
    drop(gh);
    drop(rt);
}

#[test]
fn a_push_to_the_default_branch_fetches_and_the_notebook_follows() {
    use support::git;
    let origin = fixture_copy("cookbook");
    let branch = git(origin.path(), &["rev-parse", "--abbrev-ref", "HEAD"])
        .trim()
        .to_string();
    let mirror = temp_dir("webhook-mirror-");
    let mirror_dir = mirror.path().join("cookbook.git");
    git(
        mirror.path(),
        &[
            "clone",
            "-q",
            "--mirror",
            support::cli::p(origin.path()),
            "cookbook.git",
        ],
    );
    let state = temp_dir("webhook-fetch-");
    let secrets = temp_dir("webhook-secrets-");
    let mut cfg = config(&mirror_dir, state.path(), secrets.path());
    cfg.config.github.fetch = true;
    let d = Running::start(cfg);
    let head = git(origin.path(), &["rev-parse", "HEAD"])
        .trim()
        .to_string();
    let until = Instant::now() + Duration::from_secs(60);
    let commit = || -> Value {
        let (_, text) = http(d.addr, "GET", "/status", None);
        serde_json::from_str::<Value>(&text).unwrap_or(Value::Null)["commit"].clone()
    };
    while commit() != head.as_str() {
        assert!(Instant::now() < until, "the first sleep never finished");
        std::thread::sleep(Duration::from_millis(100));
    }

    // A new commit on GitHub's default branch, then its push delivery.
    std::fs::write(
        origin.path().join("src/pantry.rs"),
        "//! The pantry.\npub fn shelves() -> u32 {\n    3\n}\n",
    )
    .expect("write");
    git(origin.path(), &["add", "src/pantry.rs"]);
    git(origin.path(), &["commit", "-q", "-m", "Add a pantry"]);
    let new_head = git(origin.path(), &["rev-parse", "HEAD"])
        .trim()
        .to_string();
    let push = |git_ref: &str| -> Vec<u8> {
        let mut v: Value = serde_json::from_slice(&payload("push.json")).expect("json");
        v["ref"] = git_ref.into();
        v["repository"]["default_branch"] = branch.as_str().into();
        serde_json::to_vec(&v).expect("json")
    };
    let (code, v) = d.deliver("push", "push-other", &push("refs/heads/some-feature"), None);
    assert_eq!(code, 200, "{v}");
    assert!(
        v["ignored"]
            .as_str()
            .expect("a reason")
            .contains("default branch"),
        "{v}"
    );
    let (code, v) = d.deliver(
        "push",
        "push-1",
        &push(&format!("refs/heads/{branch}")),
        None,
    );
    assert_eq!(code, 202, "{v}");
    let note = wait_delivery(state.path(), "push-1", "done", 60).unwrap_or_default();
    assert!(note.contains("fetched origin"), "{note}");
    let until = Instant::now() + Duration::from_secs(60);
    while commit() != new_head.as_str() {
        assert!(
            Instant::now() < until,
            "the notebook never followed the fetch"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    d.stop();
}
