//! Three `swe-sleep serve` processes on one PostgreSQL: signed deliveries
//! over several fixture repositories, sent to all three, one process
//! killed with SIGKILL in the middle. Every acknowledged delivery is done,
//! each pull request has exactly one comment (never a second POST), and
//! the dead process's repositories are leased by the others.
//!
//! 2,000 deliveries over 20 repositories (about four minutes on a 2-core
//! machine in the debug build); `FLEET_TEST_DELIVERIES` and
//! `FLEET_TEST_REPOS` change it while iterating.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use swe_sleep::github::signature::sign;

use support::git_http::GitServer;
use support::github_app::{App, SECRET, publish, pull_request, token, write_secret};
use support::http::{http, request};
use support::postgres::Postgres;
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
    let git_root = temp_dir("fleet-pg-git-");
    publish(
        git_root.path(),
        &names.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("a runtime");
    let git_server = rt.block_on(GitServer::start(git_root.path(), &token()));
    let app = rt.block_on(App::start(
        &git_server,
        &full.iter().map(String::as_str).collect::<Vec<_>>(),
    ));
    let dir = temp_dir("fleet-pg-");
    let secret = write_secret(dir.path(), "webhook", SECRET);
    let config = dir.path().join("swe-sleep.toml");
    std::fs::write(
        &config,
        format!(
            r#"[github]
app_id = {app_id}
app_key = {{ file = "{key}" }}
webhook_secret = {{ file = "{secret}" }}
api_url = "{api}"
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
            api = app.stand_in.url(),
        ),
    )
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
    let db_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let db = db_rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .expect("connect");
        tokio::spawn(conn);
        client
    });
    let query = |sql: &str| -> Vec<tokio_postgres::Row> {
        db_rt.block_on(db.query(sql, &[])).expect("query")
    };

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
