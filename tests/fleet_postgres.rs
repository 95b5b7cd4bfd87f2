//! Three `swe-sleep serve` processes on one PostgreSQL: signed deliveries
//! over several fixture repositories, sent to all three, one process
//! killed with SIGKILL in the middle. Every acknowledged delivery is done,
//! each pull request has exactly one comment (never a second POST), and
//! the dead process's repositories are leased by the others.
//!
//! 2,000 deliveries over 20 repositories (about four minutes on a 2-core
//! machine in the debug build); `FLEET_TEST_DELIVERIES` and
//! `FLEET_TEST_REPOS` change it while iterating.
//!
//! And the cost ledger: a `serve` process with a sleep-time model (the
//! loopback OpenAI stand-in) writes every call it makes into PostgreSQL as
//! it makes it; after that process is SIGKILLed, another process (with no
//! model of its own) shows the same spend in `/status` and `/metrics`, and
//! a third, with the model, finds the hourly budget already spent.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use swe_sleep::github::signature::sign;

use support::daemon::runtime;
use support::github_app::{Github, SECRET, pull_request, write_secret};
use support::http::{http, request};
use support::llm_server::{Reply, StandIn, Wire};
use support::postgres::{Client, Postgres};
use support::temp_dir;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Serve {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Serve {
    /// A failed test leaves no process behind.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(config: &Path, state: &Path, url: &str, log: &Path) -> Serve {
    let mut child = support::cli::swe_sleep()
        .args([
            "serve",
            "--nice",
            "0",
            "--listen",
            "127.0.0.1:0",
            "--config",
        ])
        .arg(config)
        .arg("--state-dir")
        .arg(state)
        .arg("--log-file")
        .arg(log)
        .env("DATABASE_URL", url)
        .env("SWE_SLEEP_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("serve prints its address");
    let addr = line
        .trim()
        .rsplit("http://")
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    Serve { child, addr }
}

fn deliver(addr: SocketAddr, id: &str, body: &[u8]) -> Option<u16> {
    let sig = sign(SECRET.as_bytes(), body);
    std::panic::catch_unwind(|| {
        request(
            addr,
            "POST",
            "/github/webhook",
            &[
                ("Content-Type", "application/json"),
                ("X-GitHub-Event", "pull_request"),
                ("X-GitHub-Delivery", id),
                ("X-Hub-Signature-256", &sig),
            ],
            body,
        )
        .0
    })
    .ok()
}

fn status(addr: SocketAddr) -> Value {
    let (code, text) = http(addr, "GET", "/status", None);
    assert_eq!(code, 200, "{text}");
    serde_json::from_str(&text).expect("json")
}

#[test]
fn three_workers_on_postgres_survive_a_sigkill_without_losing_or_repeating_work() {
    let Some(pg) = Postgres::start_or_skip("fleet_postgres") else {
        return;
    };
    let repos = env_or("FLEET_TEST_REPOS", 20);
    let deliveries = env_or("FLEET_TEST_DELIVERIES", 2000);
    let names: Vec<String> = (0..repos).map(|i| format!("r{i:02}")).collect();
    let full: Vec<String> = names.iter().map(|n| format!("octo-org/{n}")).collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("a runtime");
    let github = Github::start(
        &rt,
        &names.iter().map(String::as_str).collect::<Vec<_>>(),
        &full.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let app = &github.app;
    let dir = temp_dir("fleet-pg-");
    let secret = write_secret(dir.path(), "webhook", SECRET);
    let config = dir.path().join("swe-sleep.toml");
    std::fs::write(&config, service_config(&app.stand_in.url(), &secret))
        .expect("write the config");
    let url = pg.url();
    let mut workers: Vec<Serve> = (0..3)
        .map(|i| {
            spawn(
                &config,
                &dir.path().join(format!("state-{i}")),
                &url,
                &dir.path().join(format!("serve-{i}.log")),
            )
        })
        .collect();
    // Its own runtime: the stand-in's slow answers block the other's
    // threads, and the test's view of the database must not wait for them.
    let db = Client::connect(&url);
    let query = |sql: &str| db.query(sql);

    // Every repository leased, spread over the three.
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let rows = query("SELECT repo, owner FROM leases");
        let owners: BTreeSet<String> = rows.iter().map(|r| r.get(1)).collect();
        if rows.len() == repos && owners.len() == 3 {
            break;
        }
        assert!(Instant::now() < until, "leases never spread: {rows:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let victim = status(workers[0].addr)["service"]["worker"]
        .as_str()
        .expect("a worker name")
        .to_string();

    // Deliveries to all three; the first is killed half way, in the
    // middle of a job (the jobs just before the kill are slow).
    let slow: Vec<String> = (deliveries / 2 - 3 * repos..deliveries / 2)
        .map(|i| {
            app.slow_down(1000 + i as u64);
            format!("'d-{i}'")
        })
        .collect();
    let started = Instant::now();
    let mut running_at_kill: Option<String> = None;
    let mut acked: BTreeMap<String, (String, u64)> = BTreeMap::new();
    for i in 0..deliveries {
        let repo = &full[i % repos];
        let number = 1000 + i as u64;
        let id = format!("d-{i}");
        let body = pull_request(repo, number, "Add a unit conversion for cups");
        if i == deliveries / 2 {
            // Killed while it works on a slow job, so that a job is
            // surely left running for the others to take over.
            let until = Instant::now() + Duration::from_secs(600);
            let sql = format!(
                "SELECT id FROM deliveries WHERE state = 'running' AND claimed_by = '{victim}' AND id IN ({})",
                slow.join(", ")
            );
            loop {
                let rows = query(&sql);
                if let Some(r) = rows.first() {
                    running_at_kill = Some(r.get::<_, String>(0));
                    break;
                }
                assert!(Instant::now() < until, "{victim} never ran a slow job");
                std::thread::sleep(Duration::from_millis(20));
            }
            workers[0].child.kill().expect("SIGKILL");
            workers[0].child.wait().expect("reaped");
        }
        let alive = if i >= deliveries / 2 {
            1 + i % 2
        } else {
            i % 3
        };
        if deliver(workers[alive].addr, &id, &body) == Some(202) {
            acked.insert(id, (repo.clone(), number));
        }
    }
    let sent_in = started.elapsed();
    assert_eq!(acked.len(), deliveries, "every delivery was acknowledged");

    // Every acknowledged delivery done, each pull request one comment.
    let until = Instant::now() + Duration::from_secs(900);
    loop {
        let open: i64 =
            query("SELECT COUNT(*) FROM deliveries WHERE state IN ('queued', 'running')")[0].get(0);
        if open == 0 {
            break;
        }
        assert!(Instant::now() < until, "{open} deliveries never finished");
        std::thread::sleep(Duration::from_millis(250));
    }
    let took = started.elapsed();
    let states: BTreeMap<String, (String, i32, Option<String>)> =
        query("SELECT id, state, finished, note FROM deliveries")
            .iter()
            .map(|r| (r.get(0), (r.get(1), r.get(2), r.get(3))))
            .collect();
    let redone: i64 = query("SELECT COUNT(*) FROM deliveries WHERE requeued > 0")[0].get(0);
    let caught = running_at_kill.expect("a job was running at the kill");
    let row = &query(&format!(
        "SELECT state, requeued, finished, claimed_by, note FROM deliveries WHERE id = '{caught}'"
    ))[0];
    let (state, requeued, finished, claimed_by, note): (String, i32, i32, String, Option<String>) =
        (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
    assert!(
        requeued >= 1 && finished == 1 && claimed_by != victim,
        "{caught}, running at the kill, was not taken over: {state}, requeued {requeued}, finished {finished}, by {claimed_by}: {note:?}"
    );
    for (id, (repo, number)) in &acked {
        let (state, finished, note) = states
            .get(id)
            .unwrap_or_else(|| panic!("{id} was not stored"));
        assert_eq!(state, "done", "{id}: {note:?}");
        assert_eq!(*finished, 1, "{id} finished {finished} times");
        let comments = app.comments_on(repo, *number);
        assert_eq!(comments.len(), 1, "{repo}#{number}: {comments:?}");
        let posts = app
            .stand_in
            .count("POST", &format!("/repos/{repo}/issues/{number}/comments"));
        assert_eq!(posts, 1, "{repo}#{number} was posted {posts} times");
    }

    // The dead worker holds nothing; the two others hold everything.
    let rows = query("SELECT repo, owner FROM leases");
    assert_eq!(rows.len(), repos, "{rows:?}");
    let owners: BTreeSet<String> = rows.iter().map(|r| r.get(1)).collect();
    assert!(!owners.contains(&victim), "{victim} still holds {rows:?}");
    assert_eq!(owners.len(), 2, "{rows:?}");
    eprintln!(
        "fleet_postgres: {deliveries} deliveries over {repos} repositories, 3 workers, one killed: \
         sent in {:.1}s, all done in {:.1}s ({:.1} deliveries/s), {redone} left running by the killed worker and taken over",
        sent_in.as_secs_f64(),
        took.as_secs_f64(),
        deliveries as f64 / took.as_secs_f64()
    );
    drop(workers);
}

/// The `[github]` and `[service]` sections of a worker on `api`.
fn service_config(app_api: &str, secret: &Path) -> String {
    format!(
        r#"[github]
app_id = {app_id}
app_key = {{ file = "{key}" }}
webhook_secret = {{ file = "{secret}" }}
api_url = "{app_api}"
comments = true
min_write_interval_ms = 0

[service]
database = {{ env = "DATABASE_URL" }}
lease_secs = 3
concurrency = 1
"#,
        app_id = support::github_app::APP_ID,
        key = support::github::fixture_path("test-app-key.pem").display(),
        secret = secret.display(),
    )
}

fn metric(text: &str, line_start: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(line_start)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("{line_start} missing from:\n{text}"))
        .parse()
        .expect("a number")
}

#[test]
fn every_model_call_of_serve_is_in_the_postgres_ledger_and_outlives_its_worker() {
    let Some(pg) = Postgres::start_or_skip("fleet_postgres (cost ledger)") else {
        return;
    };
    let names = ["alpha", "beta"];
    let full = ["octo-org/alpha", "octo-org/beta"];
    let rt = runtime();
    let github = Github::start(&rt, &names, &full);
    let app = &github.app;
    let model = StandIn::with(Wire::OpenAi, 1.0, |_, _| {
        Reply::fixture("openai/card_text.json")
    });
    let dir = temp_dir("fleet-ledger-");
    let secret = write_secret(dir.path(), "webhook", SECRET);
    let plain = service_config(&app.stand_in.url(), &secret);
    let with_model = dir.path().join("with-model.toml");
    let model_section = |budget: &str| {
        format!(
            "{plain}\n[llm]\ncards_per_sleep = 2\nanticipate = 1\n{budget}\n[llm.sleep]\nprovider = \"openai\"\nmodel = \"stand-in-small\"\nbase_url = \"{url}\"\nretry_base_ms = 10\nmax_attempts = 1\n",
            url = model.url
        )
    };
    std::fs::write(
        &with_model,
        format!(
            "{plain}\n[llm]\ncards_per_sleep = 2\nanticipate = 1\n\n[llm.sleep]\nprovider = \"openai\"\nmodel = \"stand-in-small\"\nbase_url = \"{url}\"\nretry_base_ms = 10\nmax_attempts = 1\n\n[llm.sleep.price]\ninput = 1.0\noutput = 4.0\n",
            url = model.url
        ),
    )
    .expect("write the config");
    let without_model = dir.path().join("without-model.toml");
    std::fs::write(&without_model, format!("{plain}retention_days = 1\n"))
        .expect("write the config");
    let url = pg.url();
    let db = Client::connect(&url);
    let query = |sql: &str| db.query(sql);

    // One worker with a model: both repositories slept, each sleep's
    // cards and anticipation calls in the ledger as they are made.
    let state_a = dir.path().join("state-a");
    let mut a = spawn(&with_model, &state_a, &url, &dir.path().join("a.log"));
    let until = Instant::now() + Duration::from_secs(240);
    let mut stable_since: Option<(i64, Instant)> = None;
    loop {
        let s = status(a.addr);
        let ready = s["repositories"]
            .as_array()
            .is_some_and(|l| l.len() == 2 && l.iter().all(|r| r["state"] == "ready"));
        let rows: i64 = query("SELECT COUNT(*) FROM llm_ledger")[0].get(0);
        let seen = model.exchanges().len() as i64;
        if ready && rows > 0 && rows == seen {
            match stable_since {
                Some((n, t)) if n == rows && t.elapsed() > Duration::from_secs(2) => break,
                Some((n, _)) if n == rows => {}
                _ => stable_since = Some((rows, Instant::now())),
            }
        } else {
            stable_since = None;
        }
        assert!(
            Instant::now() < until,
            "the model's calls never settled: {rows} rows, {seen} calls: {s:#}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let worker_a = status(a.addr)["service"]["worker"]
        .as_str()
        .expect("a worker name")
        .to_string();
    let (_, metrics_a) = http(a.addr, "GET", "/metrics", None);
    let status_a = status(a.addr);

    // The worker dies; the rows stay.
    a.child.kill().expect("SIGKILL");
    a.child.wait().expect("reaped");
    let calls = model.exchanges();
    let (prompt, output) = model.reported();
    let rows = query(
        "SELECT repo, worker, provider, model, purpose, input_tokens, output_tokens, ok, cost FROM llm_ledger",
    );
    assert_eq!(rows.len(), calls.len(), "one row per call");
    let mut per_repo: BTreeMap<String, (u64, i64, i64, f64)> = BTreeMap::new();
    for r in &rows {
        let (repo, worker, provider, model_name, purpose): (
            String,
            String,
            String,
            String,
            String,
        ) = (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4));
        let (input, out, ok, cost): (i64, i64, bool, Option<f64>) =
            (r.get(5), r.get(6), r.get(7), r.get(8));
        assert!(full.contains(&repo.as_str()), "{repo}");
        assert_eq!(worker, worker_a);
        assert_eq!(
            (provider.as_str(), model_name.as_str()),
            ("openai", "stand-in-small")
        );
        assert!(
            ["card", "anticipate"].contains(&purpose.as_str()),
            "{purpose}"
        );
        assert!(
            ok && input > 0 && out > 0,
            "{repo} {purpose}: {input} in, {out} out"
        );
        let cost = cost.expect("the model has a price");
        assert!((cost - (input as f64 + 4.0 * out as f64) / 1e6).abs() < 1e-12);
        let e = per_repo.entry(repo).or_default();
        *e = (e.0 + 1, e.1 + input, e.2 + out, e.3 + cost);
    }
    assert_eq!(
        per_repo.len(),
        2,
        "both repositories called the model: {per_repo:?}"
    );
    let total_in: i64 = per_repo.values().map(|v| v.1).sum();
    let total_out: i64 = per_repo.values().map(|v| v.2).sum();
    assert_eq!(
        (total_in as u64, total_out as u64),
        (prompt, output),
        "the ledger holds the usage the model reported"
    );
    let total_cost: f64 = per_repo.values().map(|v| v.3).sum();

    // What the dead worker said, per repository and for the service.
    assert_eq!(
        status_a["service"]["model"]["calls"],
        calls.len(),
        "{status_a:#}"
    );
    assert_eq!(status_a["service"]["model"]["input_tokens"], total_in);
    for line in [
        format!("swe_sleep_service_model_calls_total {}", calls.len()),
        format!("swe_sleep_service_model_output_tokens_total {total_out}"),
    ] {
        assert!(
            metrics_a.contains(&line),
            "{line} missing from:\n{metrics_a}"
        );
    }
    // Its notebooks keep their own ledgers too.
    for (repo, name) in full.iter().zip(names) {
        let local = swe_sleep::llm::ledger::totals_in(
            &state_a.join("repos/octo-org").join(name).join("notebook"),
        )
        .expect("the notebook's ledger");
        let calls: u64 = local.iter().map(|t| t.calls).sum();
        assert_eq!(calls, per_repo[*repo].0, "{repo}: {local:?}");
    }

    // Rows past the next process's retention (a day): finished deliveries
    // and results it deletes at start, and queued work it keeps.
    let old = swe_sleep::github::queue::now_ms() - 2 * 24 * 3600 * 1000;
    db.batch_execute(&format!(
        "INSERT INTO deliveries (id, event, received_at, state) VALUES
                 ('old-done', 'pull_request', {old}, 'done'),
                 ('old-ignored', 'issues', {old}, 'ignored'),
                 ('old-queued', 'pull_request', {old}, 'queued');
             INSERT INTO results (repo, number, kind, prediction, delivery, updated_at) VALUES
                 ('octo-org/alpha', 7, 'pull_request', '{{}}', 'old-done', {old}),
                 ('octo-org/alpha', 8, 'pull_request', '{{}}', 'new', {now});",
        now = swe_sleep::github::queue::now_ms()
    ));

    // Another process, with no model of its own, shows the same spend.
    let b = spawn(
        &without_model,
        &dir.path().join("state-b"),
        &url,
        &dir.path().join("b.log"),
    );
    let s = status(b.addr);
    assert_ne!(s["service"]["worker"], worker_a.as_str());
    let total = &s["service"]["model"];
    assert_eq!(total["calls"], calls.len(), "{s:#}");
    assert_eq!(total["failed"], 0);
    assert_eq!(
        (
            total["input_tokens"].as_i64(),
            total["output_tokens"].as_i64()
        ),
        (Some(total_in), Some(total_out))
    );
    assert!((total["cost"].as_f64().expect("dollars") - total_cost).abs() < 1e-9);
    for repo in full {
        let r = s["repositories"]
            .as_array()
            .expect("a list")
            .iter()
            .find(|r| r["repo"] == repo)
            .unwrap_or_else(|| panic!("{repo} held: {s:#}"));
        let (n, input, out, _) = per_repo[repo];
        assert_eq!(r["model"]["calls"], n, "{r:#}");
        assert_eq!(r["model"]["input_tokens"], input, "{r:#}");
        assert_eq!(r["model"]["output_tokens"], out, "{r:#}");
    }
    let (code, metrics_b) = http(b.addr, "GET", "/metrics", None);
    assert_eq!(code, 200);
    assert_eq!(
        metric(&metrics_b, "swe_sleep_service_model_calls_total") as usize,
        calls.len()
    );
    assert!(
        (metric(&metrics_b, "swe_sleep_service_model_cost_dollars_total") - total_cost).abs()
            < 1e-9
    );
    for repo in full {
        let calls = metric(
            &metrics_b,
            &format!("swe_sleep_repo_model_calls_total{{repo=\"{repo}\"}}"),
        );
        assert_eq!(calls as u64, per_repo[repo].0, "{repo}");
        let tokens = metric(
            &metrics_b,
            &format!("swe_sleep_repo_model_input_tokens_total{{repo=\"{repo}\"}}"),
        );
        assert_eq!(tokens as i64, per_repo[repo].1, "{repo}");
    }
    assert_eq!(
        model.exchanges().len(),
        calls.len(),
        "the second worker made no call"
    );

    // Its retention pruned the old finished deliveries and results only.
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let ids: Vec<String> = query("SELECT id FROM deliveries WHERE id LIKE 'old-%' ORDER BY id")
            .iter()
            .map(|r| r.get(0))
            .collect();
        let numbers: Vec<i64> = query("SELECT number FROM results ORDER BY number")
            .iter()
            .map(|r| r.get(0))
            .collect();
        if ids == ["old-queued"] {
            assert_eq!(numbers, [8], "the old result is pruned with the deliveries");
            break;
        }
        assert!(
            Instant::now() < until,
            "never pruned: {ids:?}, results {numbers:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // A third process with the model, whose hourly sleep-time budget the
    // dead worker has already spent on every repository: its notebooks
    // are new, but the budget is counted from PostgreSQL, so its sleeps
    // call no model.
    let spent: i64 = query(
        "SELECT MIN(t)::BIGINT FROM (SELECT SUM(input_tokens + output_tokens) AS t FROM llm_ledger GROUP BY repo) s",
    )[0]
    .get(0);
    let budgeted = dir.path().join("budgeted.toml");
    std::fs::write(
        &budgeted,
        model_section(&format!("sleep_tokens_per_hour = {spent}\n")),
    )
    .expect("write the config");
    let c = spawn(
        &budgeted,
        &dir.path().join("state-c"),
        &url,
        &dir.path().join("c.log"),
    );
    let until = Instant::now() + Duration::from_secs(120);
    loop {
        let s = status(c.addr);
        let slept = s["repositories"].as_array().is_some_and(|l| {
            l.iter().any(|r| {
                r["leased"] == true && r["state"] == "ready" && r["sleeps"].as_u64() > Some(0)
            })
        });
        if slept {
            break;
        }
        assert!(
            Instant::now() < until,
            "the third worker never slept a repository: {s:#}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        model.exchanges().len(),
        calls.len(),
        "a budget spent by a dead worker stays spent"
    );
    let log = std::fs::read_to_string(dir.path().join("c.log")).expect("the log");
    assert!(
        log.contains("stopped: the sleep-time budget llm.sleep_tokens_per_hour"),
        "the sleep says why no model was called:\n{log}"
    );
    drop(c);
    drop(b);
}
