//! `swe-sleep serve` end to end, in process: a GitHub App stand-in with
//! one installation and several fixture repositories served to git over
//! loopback HTTP behind the installation token. Repositories are listed at
//! start, added and removed by installation events, mirrored, slept and
//! predicted for; each pull request gets one comment; deliveries for a
//! repository the service does not hold are refused; a repository that
//! cannot be fetched backs off and says why; the token reaches no file.
//! The `installation` event's lifecycle: deleted (everything released,
//! files removed), created (its repositories held), suspend (released,
//! deliveries refused saying why) and unsuspend (held and served again).

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use swe_sleep::config::{Config, ModelConfig, ProviderKind};
use swe_sleep::fleet::{self, FleetConfig};
use swe_sleep::github::queue::Queue;
use swe_sleep::github::signature::sign;
use swe_sleep::secret::SecretSource;

use support::daemon::runtime;
use support::github_app::{APP_ID, Github, INSTALLATION, ORG, SECRET, token, write_secret};
use support::http::{http, request};
use support::llm_server::{Reply, StandIn, Wire};
use support::{fixture as built_fixture, git, temp_dir};

struct Running {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<Result<(), fleet::FleetError>>>,
}

impl Running {
    /// The service on the App at `api`; with `model`, a sleep-time model
    /// at that address writes cards and anticipations.
    fn start(
        rt: &tokio::runtime::Runtime,
        state: &Path,
        secrets: &Path,
        api: &str,
        model: Option<&str>,
    ) -> Running {
        let mut config = Config::default();
        if let Some(url) = model {
            let mut m = ModelConfig::new(ProviderKind::Openai, "stand-in-small");
            m.base_url = Some(url.to_string());
            m.retry_base_ms = 10;
            m.max_attempts = 1;
            config.llm.sleep = Some(m);
            config.llm.cards_per_sleep = 2;
            config.llm.anticipate = 1;
        }
        config.github.app_id = APP_ID;
        config.github.app_key =
            SecretSource::from_file(support::github::fixture_path("test-app-key.pem"));
        config.github.webhook_secret =
            SecretSource::from_file(write_secret(secrets, "webhook", SECRET));
        config.github.api_url = api.to_string();
        config.github.comments = true;
        config.service.concurrency = 2;
        config.service.backoff_base_secs = 60;
        let mut cfg = FleetConfig::new(state.to_path_buf(), config).expect("config");
        cfg.listen = "127.0.0.1:0".parse().expect("addr");
        cfg.sleep_nice = 0;
        cfg.sleep_threads = 1;
        let (bound_tx, bound_rx) = tokio::sync::oneshot::channel();
        cfg.bound = Some(bound_tx);
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let handle = rt.spawn(fleet::run(cfg, async {
            let _ = stop_rx.await;
        }));
        let addr = rt.block_on(bound_rx).expect("the service binds");
        Running {
            addr,
            stop: Some(stop_tx),
            handle: Some(handle),
        }
    }

    /// Delivers a pull request titled `title` on `repo` as `id`, expects it
    /// accepted, and waits until its job is done.
    fn predict(&self, state: &Path, id: &str, repo: &str, title: &str) {
        let (code, v) = self.deliver("pull_request", id, &pull_request(repo, title));
        assert_eq!(code, 202, "{id}: {v}");
        wait_done(state, id, 60);
    }

    /// Delivers a pull request on `repo` as `id`, expects it refused with
    /// 422, and returns the error it names.
    fn refused(&self, id: &str, repo: &str, title: &str) -> String {
        let (code, v) = self.deliver("pull_request", id, &pull_request(repo, title));
        assert_eq!(code, 422, "{id}: {v}");
        v["error"].as_str().unwrap_or_default().to_string()
    }

    fn deliver(&self, event: &str, id: &str, body: &[u8]) -> (u16, Value) {
        let sig = sign(SECRET.as_bytes(), body);
        let (code, text) = request(
            self.addr,
            "POST",
            "/github/webhook",
            &[
                ("Content-Type", "application/json"),
                ("X-GitHub-Event", event),
                ("X-GitHub-Delivery", id),
                ("X-Hub-Signature-256", &sig),
            ],
            body,
        );
        (
            code,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    fn status(&self) -> Value {
        let (code, text) = http(self.addr, "GET", "/status", None);
        assert_eq!(code, 200, "{text}");
        serde_json::from_str(&text).expect("json")
    }

    fn repo_status(&self, repo: &str) -> Option<Value> {
        self.status()["repositories"]
            .as_array()
            .expect("a list")
            .iter()
            .find(|r| r["repo"] == repo)
            .cloned()
    }

    /// Waits until `check` holds of `/status`.
    fn wait(&self, what: &str, secs: u64, check: impl Fn(&Value) -> bool) -> Value {
        let until = Instant::now() + Duration::from_secs(secs);
        loop {
            let s = self.status();
            if check(&s) {
                return s;
            }
            assert!(Instant::now() < until, "{what}: {s:#}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn stop(mut self, rt: &tokio::runtime::Runtime) {
        let _ = self.stop.take().expect("running").send(());
        rt.block_on(self.handle.take().expect("running"))
            .expect("the service task")
            .expect("a clean shutdown");
    }
}

fn ready(s: &Value, repo: &str) -> bool {
    s["repositories"]
        .as_array()
        .is_some_and(|l| l.iter().any(|r| r["repo"] == repo && r["state"] == "ready"))
}

fn pull_request(repo: &str, title: &str) -> Vec<u8> {
    support::github_app::pull_request(repo, 2, title)
}

fn repositories_event(action: &str, repo: &str) -> Vec<u8> {
    let list =
        json!([{ "id": 1, "name": repo.split('/').nth(1), "full_name": repo, "private": true }]);
    let (added, removed) = if action == "added" {
        (list, json!([]))
    } else {
        (json!([]), list)
    };
    serde_json::to_vec(&json!({
        "action": action,
        "installation": { "id": INSTALLATION, "account": { "login": ORG } },
        "repository_selection": "selected",
        "repositories_added": added,
        "repositories_removed": removed,
    }))
    .expect("json")
}

/// An `installation` delivery as GitHub sends it, naming `repos`.
fn installation_event(action: &str, repos: &[&str]) -> Vec<u8> {
    let repositories: Vec<Value> = repos
        .iter()
        .enumerate()
        .map(|(i, r)| {
            json!({
                "id": 1000 + i,
                "node_id": format!("R_{i}"),
                "name": r.split('/').nth(1),
                "full_name": r,
                "private": true,
            })
        })
        .collect();
    serde_json::to_vec(&json!({
        "action": action,
        "installation": {
            "id": INSTALLATION,
            "account": { "login": ORG, "id": 9919, "type": "Organization" },
            "repository_selection": "selected",
            "app_id": APP_ID,
            "target_type": "Organization",
            "suspended_at": if action == "suspend" { json!("2026-12-03T12:00:00Z") } else { Value::Null },
        },
        "repositories": repositories,
        "requester": null,
        "sender": { "login": "octocat", "id": 1, "type": "User" },
    }))
    .expect("json")
}

fn held(s: &Value) -> Vec<String> {
    s["repositories"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|r| r["repo"].as_str().expect("a name").to_string())
        .collect()
}

/// Waits until `dir` is gone.
fn removed(dir: &Path) {
    let until = Instant::now() + Duration::from_secs(30);
    while dir.exists() {
        assert!(Instant::now() < until, "{} stays", dir.display());
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn wait_done(state: &Path, id: &str, secs: u64) -> String {
    let until = Instant::now() + Duration::from_secs(secs);
    loop {
        let q = Queue::open(state).expect("queue");
        if let Some((s, note)) = q.delivery_state(id).expect("read") {
            if s == "done" || s == "failed" {
                assert_eq!(s, "done", "{id}: {note:?}");
                return note.unwrap_or_default();
            }
        }
        assert!(Instant::now() < until, "delivery {id} never finished");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every file under `dir` that holds `needle`.
fn files_holding(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if std::fs::read(&p).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle))
            {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn one_service_holds_the_installations_repositories_as_they_come_and_go() {
    let state = temp_dir("fleet-state-");
    let secrets = temp_dir("fleet-secrets-");
    let rt = runtime();
    // `broken` is granted but git has no such repository.
    let github = Github::start(
        &rt,
        &["alpha", "beta", "gamma"],
        &["octo-org/alpha", "octo-org/beta", "octo-org/broken"],
    );
    let (git_server, app) = (&github.git, &github.app);
    let model = StandIn::with(Wire::OpenAi, 1.0, |_, _| {
        Reply::fixture("openai/card_text.json")
    });
    let service = Running::start(
        &rt,
        state.path(),
        secrets.path(),
        &app.stand_in.url(),
        Some(&model.url),
    );

    // Listed at start: two mirrored and slept, one backing off with why.
    let s = service.wait("alpha and beta sleep; broken fails", 120, |s| {
        ready(s, "octo-org/alpha")
            && ready(s, "octo-org/beta")
            && s["repositories"].as_array().is_some_and(|l| {
                l.iter()
                    .any(|r| r["repo"] == "octo-org/broken" && r["state"] == "backing_off")
            })
    });
    assert_eq!(s["service"]["repositories"], 3, "{s:#}");
    let broken = service.repo_status("octo-org/broken").expect("held");
    assert_eq!(broken["fetch_failures"], 1, "{broken:#}");
    assert!(
        broken["retry_in_secs"]
            .as_u64()
            .is_some_and(|s| s > 0 && s <= 60),
        "{broken:#}"
    );
    let why = broken["last_error"].as_str().expect("a reason");
    assert!(why.contains("fetch"), "{why}");
    let alpha = service.repo_status("octo-org/alpha").expect("held");
    let head = git(&built_fixture("cookbook"), &["rev-parse", "HEAD"]);
    assert_eq!(alpha["notebook_commit"], head.trim(), "{alpha:#}");
    let mirror = state.path().join("repos/octo-org/alpha/mirror.git");
    assert_eq!(
        git(&mirror, &["rev-parse", "refs/heads/main"]).trim(),
        head.trim()
    );
    let creds = git_server.credentials();
    assert!(
        creds
            .iter()
            .all(|c| *c == format!("x-access-token:{}", token())),
        "git sent only the installation token: {creds:?}"
    );
    assert!(
        git_server.refused() > 0,
        "git asked for credentials when told to"
    );

    // The sleep-time model's calls, per repository from each notebook's
    // ledger (SQLite: no shared ledger), and in all.
    let s = service.wait("the model's calls are counted", 60, |s| {
        let calls = s["service"]["model"]["calls"].as_u64().unwrap_or(0);
        calls > 0 && calls == model.exchanges().len() as u64
    });
    let mut sum = 0;
    for name in ["alpha", "beta"] {
        let local = swe_sleep::llm::ledger::totals_in(
            &state
                .path()
                .join("repos/octo-org")
                .join(name)
                .join("notebook"),
        )
        .expect("the notebook's ledger");
        let calls: u64 = local.iter().map(|t| t.calls).sum();
        assert!(calls > 0, "{name}: {local:?}");
        let listed = s["repositories"]
            .as_array()
            .expect("a list")
            .iter()
            .find(|r| r["repo"] == format!("octo-org/{name}"))
            .expect("held")["model"]["calls"]
            .as_u64();
        assert_eq!(listed, Some(calls), "{s:#}");
        sum += calls;
    }
    assert_eq!(s["service"]["model"]["calls"], sum, "{s:#}");

    // A pull request in each held repository: one comment each.
    for (i, repo) in ["octo-org/alpha", "octo-org/beta"].iter().enumerate() {
        let id = format!("pr-{i}");
        let (code, v) = service.deliver(
            "pull_request",
            &id,
            &pull_request(repo, "Add a unit conversion for cups"),
        );
        assert_eq!(code, 202, "{v}");
        wait_done(state.path(), &id, 60);
        let c = app.comments_on(repo, 2);
        assert_eq!(c.len(), 1, "{repo}: {c:?}");
        assert!(c[0].1.contains("| file | why |"), "{}", c[0].1);
    }
    // Not held: refused with the reason, nothing queued.
    let why = service.refused("pr-x", "octo-org/gamma", "Anything");
    assert!(why.contains("does not hold octo-org/gamma"), "{why}");
    assert!(
        Queue::open(state.path())
            .expect("q")
            .delivery_state("pr-x")
            .expect("read")
            .is_none()
    );

    // Added to the installation: held, mirrored, slept, then served.
    app.grant("octo-org/gamma");
    let (code, v) = service.deliver(
        "installation_repositories",
        "inst-add",
        &repositories_event("added", "octo-org/gamma"),
    );
    assert_eq!(code, 202, "{v}");
    service.wait("gamma sleeps", 120, |s| ready(s, "octo-org/gamma"));
    service.predict(
        state.path(),
        "pr-g",
        "octo-org/gamma",
        "Add a unit conversion for cups",
    );
    assert_eq!(app.comments_on("octo-org/gamma", 2).len(), 1);

    // An edit updates the one comment in place.
    service.predict(
        state.path(),
        "pr-0-again",
        "octo-org/alpha",
        "Add a unit conversion for teaspoons",
    );
    let c = app.comments_on("octo-org/alpha", 2);
    assert_eq!(c.len(), 1, "updated, not posted again: {c:?}");

    // Removed from the installation: no longer held, its files gone,
    // its deliveries refused.
    app.revoke("octo-org/beta");
    let (code, _) = service.deliver(
        "installation_repositories",
        "inst-rm",
        &repositories_event("removed", "octo-org/beta"),
    );
    assert_eq!(code, 202);
    service.wait("beta is released", 30, |s| {
        s["repositories"]
            .as_array()
            .is_some_and(|l| l.iter().all(|r| r["repo"] != "octo-org/beta"))
    });
    let beta_dir = state.path().join("repos/octo-org/beta");
    let until = Instant::now() + Duration::from_secs(30);
    while beta_dir.exists() {
        assert!(Instant::now() < until, "{} stays", beta_dir.display());
        std::thread::sleep(Duration::from_millis(100));
    }
    service.refused("pr-b2", "octo-org/beta", "Anything");
    // A redelivery of an installation event is recognised.
    let (code, v) = service.deliver(
        "installation_repositories",
        "inst-rm",
        &repositories_event("removed", "octo-org/beta"),
    );
    assert_eq!((code, v["duplicate"].clone()), (200, json!(true)));

    // Metrics per repository and for the whole service.
    let (code, metrics) = http(service.addr, "GET", "/metrics", None);
    assert_eq!(code, 200);
    for line in [
        "swe_sleep_service_repositories 3",
        "swe_sleep_repo_failures_total{repo=\"octo-org/broken\"} 1",
        "swe_sleep_repo_predictions_total{repo=\"octo-org/alpha\"} 2",
        "swe_sleep_repo_predictions_total{repo=\"octo-org/gamma\"} 1",
        "swe_sleep_service_predictions_total 3",
        "swe_sleep_service_queue_depth 0",
        "swe_sleep_repo_model_calls_total{repo=\"octo-org/broken\"} 0",
    ] {
        assert!(metrics.contains(line), "{line} missing from:\n{metrics}");
    }

    // The installation token is in no file of the service, nor in what it
    // answers.
    let tok = token();
    let holding = files_holding(state.path(), tok.as_bytes());
    assert!(holding.is_empty(), "the token is written to {holding:?}");
    assert!(!metrics.contains(&tok));
    assert!(!service.status().to_string().contains(&tok));
    service.stop(&rt);
}

#[test]
fn the_installation_lifecycle_holds_drops_suspends_and_resumes() {
    let state = temp_dir("fleet-inst-state-");
    let secrets = temp_dir("fleet-inst-secrets-");
    let rt = runtime();
    let github = Github::start(&rt, &["alpha", "beta"], &["octo-org/alpha"]);
    let app = &github.app;
    // A queue from an earlier run, with rows past the 30 days kept.
    let q = Queue::open(state.path()).expect("q");
    let prediction = json!({"files": []});
    for (id, number) in [("old", 7), ("old-queued", 8), ("recent", 9)] {
        q.record(id, "pull_request", None, "").expect("record");
        q.store_result(
            "octo-org/alpha",
            number,
            swe_sleep::github::events::TargetKind::PullRequest,
            &prediction,
            None,
            id,
        )
        .expect("store");
    }
    drop(q);
    let db = rusqlite::Connection::open(state.path().join("github.sqlite")).expect("open");
    let old = swe_sleep::github::queue::now_ms() - 40 * 24 * 3600 * 1000;
    // Queued, and due only in a year: the worker leaves it alone.
    let later = swe_sleep::github::queue::now_ms() + 365 * 24 * 3600 * 1000;
    db.execute_batch(&format!(
        "UPDATE deliveries SET received_at = {old} WHERE id LIKE 'old%';
         UPDATE deliveries SET state = 'queued', next_at = {later} WHERE id = 'old-queued';
         UPDATE results SET updated_at = {old} WHERE number IN (7, 8);"
    ))
    .expect("backdate");
    drop(db);
    let service = Running::start(&rt, state.path(), secrets.path(), &app.stand_in.url(), None);
    service.wait("alpha sleeps", 120, |s| ready(s, "octo-org/alpha"));
    // Pruned at start: old finished deliveries and old results, not
    // queued work.
    let q = Queue::open(state.path()).expect("q");
    assert!(q.delivery_state("old").expect("read").is_none());
    assert!(q.delivery_state("old-queued").expect("read").is_some());
    assert!(q.delivery_state("recent").expect("read").is_some());
    assert!(q.result("octo-org/alpha", 7).expect("read").is_none());
    assert!(q.result("octo-org/alpha", 8).expect("read").is_none());
    assert!(q.result("octo-org/alpha", 9).expect("read").is_some());
    drop(q);
    let alpha_dir = state.path().join("repos/octo-org/alpha");
    let beta_dir = state.path().join("repos/octo-org/beta");
    assert!(alpha_dir.join("notebook").is_dir());

    // Deleted: every repository it granted released, its files removed,
    // its deliveries refused.
    app.revoke("octo-org/alpha");
    let (code, v) = service.deliver(
        "installation",
        "inst-deleted",
        &installation_event("deleted", &["octo-org/alpha"]),
    );
    assert_eq!(code, 202, "{v}");
    service.wait("everything is released", 30, |s| held(s).is_empty());
    removed(&alpha_dir);
    let why = service.refused(
        "pr-after-delete",
        "octo-org/alpha",
        "Add a unit conversion for cups",
    );
    assert!(why.contains("does not hold octo-org/alpha"), "{why}");

    // Created again, with two repositories: both held, mirrored, slept
    // and served.
    app.grant("octo-org/alpha");
    app.grant("octo-org/beta");
    let (code, v) = service.deliver(
        "installation",
        "inst-created",
        &installation_event("created", &["octo-org/alpha", "octo-org/beta"]),
    );
    assert_eq!(code, 202, "{v}");
    let s = service.wait("alpha and beta sleep", 120, |s| {
        ready(s, "octo-org/alpha") && ready(s, "octo-org/beta")
    });
    assert_eq!(held(&s), ["octo-org/alpha", "octo-org/beta"], "{s:#}");
    // `swe-sleep status` on the service's state directory asks it.
    let out = support::cli::ok(
        support::cli::swe_sleep()
            .args(["status", "--json", "--state-dir"])
            .arg(state.path())
            .output()
            .expect("runs"),
        "status of the service",
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["pid"], std::process::id(), "{v:#}");
    let listed: Vec<(String, String)> = v["status"]["repositories"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|r| {
            (
                r["repo"].as_str().unwrap_or_default().to_string(),
                r["state"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("octo-org/alpha".to_string(), "ready".to_string()),
            ("octo-org/beta".to_string(), "ready".to_string())
        ]
    );
    let out = support::cli::ok(
        support::cli::swe_sleep()
            .args(["status", "--state-dir"])
            .arg(state.path())
            .output()
            .expect("runs"),
        "status of the service, as text",
    );
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(text.contains("2 repositories"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("octo-org/beta") && l.contains("ready")),
        "{text}"
    );
    service.predict(
        state.path(),
        "pr-beta",
        "octo-org/beta",
        "Add a unit conversion for cups",
    );
    assert_eq!(app.comments_on("octo-org/beta", 2).len(), 1);

    // Suspended: released and not slept; deliveries refused saying why.
    let (code, v) = service.deliver(
        "installation",
        "inst-suspend",
        &installation_event("suspend", &[]),
    );
    assert_eq!(code, 202, "{v}");
    service.wait("everything is released", 30, |s| held(s).is_empty());
    removed(&alpha_dir);
    removed(&beta_dir);
    let why = service.refused(
        "pr-suspended",
        "octo-org/beta",
        "Add a unit conversion for teaspoons",
    );
    assert!(
        why.contains("octo-org/beta")
            && why.contains(&format!("installation {INSTALLATION} is suspended")),
        "{why}"
    );
    assert!(
        Queue::open(state.path())
            .expect("q")
            .delivery_state("pr-suspended")
            .expect("read")
            .is_none(),
        "a refused delivery is not queued"
    );
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        !alpha_dir.exists() && !beta_dir.exists(),
        "nothing is slept while suspended"
    );

    // Unsuspended: listed, held, slept and served again.
    let (code, v) = service.deliver(
        "installation",
        "inst-unsuspend",
        &installation_event("unsuspend", &[]),
    );
    assert_eq!(code, 202, "{v}");
    service.wait("alpha and beta sleep again", 120, |s| {
        ready(s, "octo-org/alpha") && ready(s, "octo-org/beta")
    });
    service.predict(
        state.path(),
        "pr-resumed",
        "octo-org/beta",
        "Add a unit conversion for teaspoons",
    );
    let c = app.comments_on("octo-org/beta", 2);
    assert_eq!(c.len(), 1, "the one comment, updated: {c:?}");
    // Each installation delivery is stored with what it changed.
    let q = Queue::open(state.path()).expect("q");
    for (id, says) in [
        ("inst-deleted", "dropping every repository"),
        ("inst-suspend", "suspended"),
        ("inst-unsuspend", "listing again"),
        ("inst-created", "adding octo-org/alpha, octo-org/beta"),
    ] {
        let (_, note) = q.delivery_state(id).expect("read").expect("stored");
        assert!(
            note.as_deref().unwrap_or_default().contains(says),
            "{id}: {note:?}"
        );
    }
    service.stop(&rt);
    let out = support::cli::swe_sleep()
        .args(["status", "--state-dir"])
        .arg(state.path())
        .output()
        .expect("runs");
    let err = support::cli::fails(out, "status without a running service");
    assert!(err.contains("no swe-sleep serve is running"), "{err}");
}

#[test]
fn serve_needs_an_app_and_says_so() {
    let dir = temp_dir("fleet-cli-");
    let config = dir.path().join("swe-sleep.toml");
    std::fs::write(&config, "[service]\nconcurrency = 2\n").expect("write");
    let out = support::cli::swe_sleep()
        .args(["serve", "--config"])
        .arg(&config)
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .output()
        .expect("runs");
    let err = support::cli::fails(out, "serve without an App");
    assert!(err.contains("github.app_id"), "{err}");
    std::fs::write(&config, "[service]\nconcurrency = 2\n").expect("write");
    let out = support::cli::swe_sleep()
        .args(["serve", "--config"])
        .arg(&config)
        .output()
        .expect("runs");
    let err = support::cli::fails(out, "serve without a state directory");
    assert!(err.contains("service.state_dir"), "{err}");
}
