//! Sleep time that learns: past pull requests replayed at their bases,
//! the ranker fitted from them, and what it changes at test time. On the
//! `learning` fixture (`fixtures/repos/learning.sh`) every PR modifies
//! exactly one module while its title looks like every other PR's; plain
//! retrieval spreads over several modules, the fitted ranker learns that
//! one file is the answer.

mod support;

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use swe_sleep::config::Config;
use swe_sleep::git::Repo;
use swe_sleep::notebook::{self, NoProgress, Notebook, Target};
use swe_sleep::sleep::learn::{self, LearnOptions};

use support::cli::{ok, one_json_object, p, stdout, swe_sleep};
use support::{fixture, fixture_copy, git, temp_dir};

const FUTURE: &str = "Support render hooks";

/// The fixture's PRs each modify one file; the default trains only on PRs
/// like feature requests (several files), so these tests lower the bar.
fn config(replay: usize) -> Config {
    let mut c = Config::default();
    c.learn.replay_prs = replay;
    c.learn.min_modified = 1;
    c.learn.min_source = 1;
    c
}

/// The same settings as a file, for the CLI.
fn config_file(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("swe-sleep.toml");
    std::fs::write(&path, "[learn]\nmin_modified = 1\nmin_source = 1\n").expect("write");
    path
}

fn sleep_and_learn(
    repo: &Path,
    state: &Path,
    cfg: &Config,
    opts: &LearnOptions,
) -> learn::LearnReport {
    let r = Repo::open(repo).expect("open");
    notebook::sleep(&r, state, &Target::Rev("HEAD".into()), cfg, &NoProgress).expect("sleep");
    learn::learn(&r, state, cfg, opts, &NoProgress).expect("learn")
}

/// One more merged pull request on the fixture copy: #51 adds a function
/// to `src/color.rs`.
fn merge_pr_51(repo: &Path) {
    let module = repo.join("src/color.rs");
    let mut text = std::fs::read_to_string(&module).expect("read");
    text.push_str("\n/// Tinting.\npub fn color_tinting() -> u32 {\n    51\n}\n");
    std::fs::write(&module, text).expect("write");
    git(repo, &["add", "src/color.rs"]);
    git(repo, &["commit", "-q", "-m", "Support color tinting (#51)"]);
}

fn predict(repo: &Path, state: &Path, request: &str) -> Value {
    one_json_object(&ok(
        swe_sleep()
            .args([
                "predict",
                "--json",
                "--rev",
                "HEAD",
                "--repo",
                p(repo),
                "--state-dir",
                p(state),
            ])
            .arg(request)
            .output()
            .expect("runs"),
        "predict",
    ))
}

fn files(v: &Value) -> Vec<String> {
    v["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f["path"].as_str().expect("path").to_string())
        .collect()
}

fn notes(v: &Value) -> String {
    v["notes"].to_string()
}

#[test]
fn the_fitted_ranker_learns_what_plain_retrieval_misses() {
    let repo = fixture("learning");
    let dir = temp_dir("learn-");
    let learned = dir.path().join("learned");
    let plain = dir.path().join("plain");
    let cfg = config(100);
    let report = sleep_and_learn(&repo, &learned, &cfg, &LearnOptions::from_config(&cfg));
    assert_eq!(report.replayed, 50, "{report:?}");
    let fit = report.fit.as_ref().expect("a fit");
    assert!(report.used, "{fit:?}");
    assert!(fit.holdout_f1_learned > fit.holdout_f1_default, "{fit:?}");
    sleep_and_learn(
        &repo,
        &plain,
        &config(0),
        &LearnOptions::from_config(&config(0)),
    );

    let with = predict(&repo, &learned, FUTURE);
    let without = predict(&repo, &plain, FUTURE);
    assert_eq!(files(&with), ["src/render.rs"], "{with}");
    assert!(
        notes(&with).contains("ranked by this repository's learned model"),
        "{with}"
    );
    let default = files(&without);
    assert!(default.contains(&"src/render.rs".to_string()), "{without}");
    assert!(default.len() > 1, "plain retrieval spreads: {default:?}");
    assert!(notes(&without).contains("too little history"), "{without}");

    // status shows the fit.
    let text = stdout(&ok(
        swe_sleep()
            .args([
                "status",
                "--rev",
                "HEAD",
                "--repo",
                p(&repo),
                "--state-dir",
                p(&learned),
            ])
            .output()
            .expect("runs"),
        "status",
    ));
    assert!(
        text.contains("Learning: learned from 50 pull requests"),
        "{text}"
    );
    assert!(text.contains("Strongest signals"), "{text}");
}

/// Every replayed example was read at its PR's first parent: a PR titled
/// with a word that only its own change adds finds nothing about itself.
#[test]
fn replay_never_sees_its_own_pull_request_or_a_later_one() {
    let repo = fixture("learning");
    let dir = temp_dir("leak-");
    let state = dir.path().join("state");
    let cfg = config(100);
    sleep_and_learn(&repo, &state, &cfg, &LearnOptions::from_config(&cfg));
    let nb = Notebook::open(&state).expect("open").expect("slept");
    let examples = nb
        .examples(&learn::signature(&cfg), 100, &|_| true)
        .expect("examples");
    assert_eq!(examples.len(), 100, "50 PRs at two budgets");
    for e in &examples {
        let parent = git(&repo, &["rev-parse", &format!("{}^", e.commit)]);
        assert_eq!(
            e.base,
            parent.trim(),
            "PR {:?} was replayed at its base",
            e.pr
        );
        let pr_time: i64 = git(&repo, &["log", "-1", "--format=%ct", &e.base])
            .trim()
            .parse()
            .expect("time");
        assert!(pr_time < e.time, "the base is older than the PR");
    }
    let secret: Vec<_> = examples
        .iter()
        .filter(|e| e.pr.is_some_and(|n| n >= 46))
        .collect();
    assert_eq!(secret.len(), 10);
    for e in secret {
        for c in &e.candidates {
            assert!(
                !(c.lists.code || c.lists.history) && c.votes == 0,
                "PR #{:?} saw its own change through {}: {c:?}",
                e.pr,
                c.path
            );
        }
    }
}

#[test]
fn replay_is_incremental_and_resumable() {
    let copy = fixture_copy("learning");
    let repo = copy.path();
    let dir = temp_dir("resume-");
    let state = dir.path().join("state");
    let cfg = config(100);
    let opts = LearnOptions::from_config(&cfg);
    let first = sleep_and_learn(
        repo,
        &state,
        &cfg,
        &opts.clone().with_time_limit(Duration::ZERO),
    );
    assert_eq!((first.replayed, first.pending), (0, 50), "{first:?}");
    let second = sleep_and_learn(repo, &state, &cfg, &opts);
    assert_eq!(
        (second.replayed, second.reused, second.pending),
        (50, 0, 0),
        "{second:?}"
    );
    let third = sleep_and_learn(repo, &state, &cfg, &opts);
    assert_eq!((third.replayed, third.reused), (0, 50), "{third:?}");
    // One more merged pull request costs one more replay.
    merge_pr_51(repo);
    let fourth = sleep_and_learn(repo, &state, &cfg, &opts);
    assert_eq!(
        (fourth.replayed, fourth.reused, fourth.prs),
        (1, 50, 51),
        "{fourth:?}"
    );
}

#[test]
fn sleep_replays_and_reports_through_the_cli() {
    let repo = fixture("learning");
    let dir = temp_dir("learn-cli-");
    let state = dir.path().join("state");
    let cfg = config_file(dir.path());
    let o = ok(
        swe_sleep()
            .args([
                "sleep",
                "--json",
                "--rev",
                "HEAD",
                "--replay",
                "30",
                "--repo",
                p(&repo),
                "--state-dir",
                p(&state),
                "--config",
                p(&cfg),
            ])
            .output()
            .expect("runs"),
        "sleep --replay",
    );
    let v = one_json_object(&o);
    assert_eq!(v["learn"]["replayed"], 30, "{v}");
    assert_eq!(v["learn"]["fit"]["prs"], 30, "{v}");
    // Too little history for the configured minimum: the default stays.
    let o = ok(
        swe_sleep()
            .args([
                "sleep",
                "--json",
                "--rev",
                "HEAD",
                "--replay",
                "5",
                "--repo",
                p(&repo),
                "--state-dir",
                p(&state),
                "--config",
                p(&cfg),
            ])
            .output()
            .expect("runs"),
        "sleep --replay 5",
    );
    let v = one_json_object(&o);
    assert_eq!(v["learn"]["used"], false, "{v}");
    assert!(
        v["learn"]["fit"]["reason"]
            .as_str()
            .unwrap()
            .contains("too little history"),
        "{v}"
    );
    let text = stdout(&ok(
        swe_sleep()
            .args([
                "sleep",
                "--rev",
                "HEAD",
                "--replay",
                "30",
                "--repo",
                p(&repo),
                "--state-dir",
                p(&state),
                "--config",
                p(&cfg),
            ])
            .output()
            .expect("runs"),
        "sleep text",
    ));
    assert!(
        text.contains("Learning: 30 past pull requests in the sleep budget; replayed 0 now"),
        "{text}"
    );
}

#[test]
fn a_damaged_replay_notebook_is_rebuilt_by_the_next_replay() {
    // Only a run's first replay checks the replay notebook (the rest trust
    // what that run wrote): damage left between runs must still be found.
    let copy = fixture_copy("learning");
    let repo = copy.path();
    let dir = temp_dir("replay-heal-");
    let state = dir.path().join("state");
    let cfg = config(100);
    let opts = LearnOptions::from_config(&cfg);
    let first = sleep_and_learn(repo, &state, &cfg, &opts);
    assert_eq!((first.replayed, first.failed), (50, 0), "{first:?}");
    let db = state.join("replay").join("notebook.sqlite");
    assert!(db.is_file(), "the replay notebook is at {}", db.display());
    let _ = std::fs::remove_file(state.join("replay").join("notebook.sqlite-wal"));
    let _ = std::fs::remove_file(state.join("replay").join("notebook.sqlite-shm"));
    std::fs::write(&db, "this is not a database at all\n".repeat(200)).expect("damage");
    // A new merged PR is replayed into the damaged notebook.
    merge_pr_51(repo);
    let second = sleep_and_learn(repo, &state, &cfg, &opts);
    assert_eq!(
        (second.replayed, second.failed, second.reused),
        (1, 0, 50),
        "{second:?}"
    );
    let kept: Vec<String> = std::fs::read_dir(state.join("replay"))
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        kept.iter()
            .any(|n| n.starts_with("notebook.sqlite.damaged-")),
        "the damaged replay notebook is set aside: {kept:?}"
    );
    let fit = second.fit.expect("fitted");
    assert_eq!(fit.prs, 51, "{fit:?}");
}

#[test]
fn eval_traces_f1_against_the_sleep_budget() {
    let repo = fixture("learning");
    let dir = temp_dir("learn-scaling-");
    let cfg = config_file(dir.path());
    let bench = dir.path().join("bench.jsonl");
    ok(
        swe_sleep()
            .args([
                "bench",
                "mine",
                "--repo",
                p(&repo),
                "--name",
                "learn/ing",
                "--min-modified",
                "1",
                "--min-source",
                "1",
                "--limit",
                "4",
                "--out",
                p(&bench),
            ])
            .output()
            .expect("runs"),
        "bench mine",
    );
    let mined = std::fs::read_to_string(&bench).expect("bench");
    assert_eq!(mined.lines().count(), 4, "{mined}");
    let out = dir.path().join("eval");
    let repo_arg = format!("learn/ing={}", p(&repo));
    ok(
        swe_sleep()
            .args([
                "eval",
                "--bench",
                p(&bench),
                "--repo",
                &repo_arg,
                "--budgets",
                "1000",
                "--sleep-budgets",
                "0,30",
                "--config",
                p(&cfg),
                "--out",
                p(&out),
            ])
            .output()
            .expect("runs"),
        "eval --sleep-budgets",
    );
    let rep: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).expect("json"))
            .expect("report.json parses");
    let f1 = |sb: u64| {
        rep["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .find(|r| r["repo"] == "all" && r["arm"] == "sleep" && r["sleep_budget"] == sb)
            .unwrap_or_else(|| panic!("a row at sleep budget {sb}: {rep}"))["f1"]
            .as_f64()
            .expect("f1")
    };
    // The fixture's history teaches which module answers; plain retrieval
    // spreads over several. Learning from 30 past PRs must not lose to none.
    assert!(
        f1(30) >= f1(0),
        "F1 {} with 30 PRs, {} with none",
        f1(30),
        f1(0)
    );
    // Each sleep budget is paired with no replay, instance by instance.
    let sp = rep["sleep_paired"].as_array().expect("sleep_paired");
    let all = sp
        .iter()
        .find(|x| x["repo"] == "all" && x["sleep_budget"] == 30)
        .unwrap_or_else(|| panic!("{rep}"));
    assert_eq!(all["pairs"], 4, "{all}");
    assert_eq!(all["wins"], 4, "better on every instance: {all}");
    assert!(
        (all["mean_diff"].as_f64().expect("diff") - (f1(30) - f1(0))).abs() < 1e-9,
        "{all}"
    );
    // The replay is paid for: more sleep costs more sleep-time tokens.
    let amortized = rep["amortized"].as_array().expect("amortized");
    let cost = |sb: u64| {
        amortized
            .iter()
            .find(|a| a["sleep_budget"] == sb && a["queries"] == 1)
            .unwrap_or_else(|| panic!("amortized at {sb}: {rep}"))["sleep_cost"]
            .as_f64()
            .expect("cost")
    };
    assert!(
        cost(30) > cost(0),
        "replay counted: {} vs {}",
        cost(30),
        cost(0)
    );
    let md = std::fs::read_to_string(out.join("report.md")).expect("report.md");
    assert!(md.contains("## Sleep-time scaling"), "{md}");
    assert!(md.contains("Each sleep budget against 0 past PRs"), "{md}");
    assert!(md.contains("more sleep better / same / worse"), "{md}");
    let svg = std::fs::read_to_string(out.join("scaling.svg")).expect("scaling.svg");
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert_eq!(svg.matches("<polyline").count(), 1, "one line per budget");
}

/// A replayed PR asks what a request written before the work would: a body
/// that lists the branch's commits (`* Add ParseError`, naming what the PR
/// changed) is left out, as `bench mine` leaves it out of the benchmark; a
/// description stays.
#[test]
fn replayed_requests_leave_out_the_branchs_commit_list() {
    let state = support::shared_cookbook();
    let repo = Repo::open(&fixture("cookbook")).expect("open");
    let nb = Notebook::open(state.path()).expect("open").expect("slept");
    let prs = nb.past_prs(100).expect("past PRs");
    let squash = prs
        .iter()
        .find(|p| p.pr == Some(14))
        .expect("the squash of #14");
    assert!(squash.body.contains("* Add ParseError"), "{}", squash.body);
    for pr in &prs {
        let asked = learn::replay_request(&repo, pr).expect("a request");
        assert_eq!(
            asked, pr.title,
            "#{:?}: merges carry titles, squashes lists",
            pr.pr
        );
    }
    let mut described = squash.clone();
    described.body =
        "Parse errors should say which line failed.\n\nCo-authored-by: B <b@example.com>".into();
    assert_eq!(
        learn::replay_request(&repo, &described).expect("a request"),
        format!(
            "{}\n\nParse errors should say which line failed.",
            squash.title
        )
    );
}
