//! The sleep-time model beyond cards, against the loopback stand-in
//! (`tests/support/llm_server.rs`): digests of the paper setting's related
//! pull requests (cached by content, inside the budgets, in the ledger,
//! used by the sleep arm's context) and anticipated requests (their
//! precomputed files offered to a similar request, never from another
//! snapshot).

mod support;

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use swe_sleep::agent::offline::context_files;
use swe_sleep::config::{Config, ModelConfig, ProviderKind};
use swe_sleep::eval::Instance;
use swe_sleep::eval::context::{digest_context, digest_context_with, pr_inputs};
use swe_sleep::git::Repo;
use swe_sleep::llm;
use swe_sleep::notebook::{self, NoProgress, Notebook, Target};

use support::cli::{ok, p, swe_sleep};
use support::llm_server::{Reply, StandIn, Wire};
use support::{fixture, temp_dir};

/// A reply of the OpenAI format whose text is `text`.
fn text_reply(text: &str) -> Reply {
    let mut r = Reply::fixture("openai/card_text.json");
    r.body["choices"][0]["message"]["content"] = json!(text);
    r
}

/// The user message of an OpenAI request.
fn user_text(req: &Value) -> String {
    req["messages"][1]["content"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

fn sleep_model(url: &str) -> ModelConfig {
    let mut m = ModelConfig::new(ProviderKind::Openai, "stand-in-small");
    m.base_url = Some(url.to_string());
    m.retry_base_ms = 10;
    m.max_attempts = 1;
    m.timeout_secs = 20;
    m
}

/// Cookbook instances mined with their related PRs.
fn mined(dir: &Path) -> Vec<Instance> {
    let out = dir.join("bench.jsonl");
    ok(
        swe_sleep()
            .args(["bench", "mine", "--repo", p(&fixture("cookbook"))])
            .args(["--name", "cook/book", "--min-source", "2", "--out", p(&out)])
            .output()
            .expect("runs"),
        "bench mine",
    );
    std::fs::read_to_string(&out)
        .expect("mined")
        .lines()
        .map(|l| serde_json::from_str(l).expect("an instance"))
        .collect()
}

/// A notebook at `rev` in the paper setting (no history but the commit).
fn paper_notebook(state: &Path, rev: &str) -> Notebook {
    let repo = Repo::open(&fixture("cookbook")).expect("open");
    let mut cfg = Config::default();
    cfg.history.max_commits = 1;
    notebook::sleep(&repo, state, &Target::Rev(rev.into()), &cfg, &NoProgress).expect("sleep");
    Notebook::open(state).expect("open").expect("slept")
}

/// A digest writer that names the PR's first file, and a file the PR did
/// not change.
fn digest_writer() -> StandIn {
    StandIn::with(Wire::OpenAi, 1.0, |_, req| {
        let user = user_text(req);
        let first = user
            .split("Files changed:\n")
            .nth(1)
            .and_then(|rest| rest.lines().next())
            .and_then(|l| l.split(" (").next())
            .unwrap_or("nothing")
            .to_string();
        text_reply(&format!(
            "Asked for a kitchen feature.\nfile: {first} — model notes on how it works\nfile: src/invented.rs — a file the PR never touched"
        ))
    })
}

#[test]
fn paper_digests_are_written_once_within_budget_and_used_as_context() {
    let dir = temp_dir("llm-digest-");
    let inst = mined(dir.path())
        .into_iter()
        .find(|i| i.context_prs.len() >= 2)
        .expect("an instance with related PRs");
    let state = dir.path().join("state");
    let nb = paper_notebook(&state, &inst.base_commit);
    let repo = Repo::open(&fixture("cookbook")).expect("open");
    let prs = pr_inputs(&repo, &inst);
    let server = digest_writer();
    let mut cfg = Config::default();
    cfg.llm.sleep = Some(sleep_model(&server.url));

    let swe_sleep::sleep::digest::Digests {
        texts: digests,
        report,
    } = swe_sleep::sleep::digest::digest_prs(&state, &cfg, &prs)
        .expect("digests")
        .expect("a model is configured");
    assert_eq!(report.written, prs.len(), "{report:?}");
    assert_eq!(server.exchanges().len(), prs.len());
    assert!(digests.iter().all(Option::is_some));
    // The model was shown the PR's title, files and patch, no tools.
    let first = &server.exchanges()[0].request;
    assert!(first.get("tools").is_none());
    let user = user_text(first);
    assert!(
        user.starts_with(&format!("Pull request #{}:", inst.context_prs[0].pr_number)),
        "{user}"
    );
    assert!(user.contains("diff --git"), "{user}");
    let totals = llm::ledger::totals_in(&state).expect("ledger");
    assert_eq!(totals.len(), 1);
    assert_eq!(
        (totals[0].purpose.as_str(), totals[0].calls),
        ("digest", prs.len() as u64)
    );

    // The sleep arm's context: the model's words, the PR's files only.
    let ctx = digest_context_with(&nb, &inst, &digests);
    let offline = digest_context(&nb, &inst);
    assert!(ctx.contains("(digest by the sleep-time model)"), "{ctx}");
    assert!(ctx.contains("model notes on how it works"), "{ctx}");
    assert!(!ctx.contains("src/invented.rs"), "{ctx}");
    assert_eq!(context_files(&ctx), context_files(&offline));

    // Cached by content: asking again calls nobody.
    let swe_sleep::sleep::digest::Digests {
        texts: again,
        report,
    } = swe_sleep::sleep::digest::digest_prs(&state, &cfg, &prs)
        .expect("digests")
        .expect("configured");
    assert_eq!((report.cached, report.written), (prs.len(), 0));
    assert_eq!(again, digests);
    assert_eq!(server.exchanges().len(), prs.len());

    // A spent budget: no call, and the offline digest stands.
    let state2 = dir.path().join("state2");
    let nb2 = paper_notebook(&state2, &inst.base_commit);
    cfg.llm.sleep_tokens_per_hour = 50;
    let swe_sleep::sleep::digest::Digests {
        texts: none,
        report,
    } = swe_sleep::sleep::digest::digest_prs(&state2, &cfg, &prs)
        .expect("digests")
        .expect("configured");
    assert!(none.iter().all(Option::is_none));
    assert!(
        report
            .stopped
            .as_deref()
            .is_some_and(|w| w.contains("sleep_tokens_per_hour")),
        "{report:?}"
    );
    assert_eq!(server.exchanges().len(), prs.len());
    assert_eq!(
        digest_context_with(&nb2, &inst, &none),
        digest_context(&nb2, &inst)
    );
}

/// A config file with `[llm.sleep]` on `url`.
fn config_file(dir: &Path, url: &str, extra: &str) -> PathBuf {
    let path = dir.join("swe-sleep.toml");
    std::fs::write(
        &path,
        format!(
            "[llm]\ncards_per_sleep = 2\n{extra}\n[llm.sleep]\nprovider = \"openai\"\nmodel = \"stand-in-small\"\nbase_url = \"{url}\"\nretry_base_ms = 10\nmax_attempts = 1\n"
        ),
    )
    .expect("write config");
    path
}

#[test]
fn eval_in_the_paper_setting_digests_related_prs_with_the_sleep_model() {
    let dir = temp_dir("llm-digest-eval-");
    let inst = mined(dir.path())
        .into_iter()
        .find(|i| !i.context_prs.is_empty())
        .expect("an instance with related PRs");
    let n = inst.context_prs.len() as u64;
    let bench = dir.path().join("one.jsonl");
    std::fs::write(&bench, serde_json::to_string(&inst).expect("json") + "\n")
        .expect("write bench");
    let server = digest_writer();
    let config = config_file(dir.path(), &server.url, "anticipate = 0");
    let out = dir.path().join("out");
    ok(
        swe_sleep()
            .args(["eval", "--bench", p(&bench), "--repo"])
            .arg(format!("cook/book={}", p(&fixture("cookbook"))))
            .args(["--budgets", "3000", "--arms", "sleep", "--setting", "paper"])
            .args(["--config", p(&config), "--out", p(&out)])
            .output()
            .expect("runs"),
        "eval --setting paper",
    );
    let line = std::fs::read_to_string(out.join("sleep.jsonl")).expect("sleep.jsonl");
    let v: Value = serde_json::from_str(line.lines().next().expect("a sleep")).expect("json");
    assert!(
        v["model_usage"]["output"].as_u64().expect("usage") > 0,
        "{v}"
    );
    let ledger = llm::ledger::totals_in(&out.join("state").join("cook+book")).expect("ledger");
    let digests = ledger
        .iter()
        .find(|t| t.purpose == "digest")
        .expect("digest calls");
    assert_eq!(digests.calls, n);
    assert_eq!(server.exchanges().len() as u64, n);
}

// ---------------------------------------------------------------------------
// Anticipated requests

const TEASPOONS: &str = "Support teaspoons: convert teaspoons to and from tablespoons and millilitres in the unit conversions.";

/// A model that anticipates a teaspoon request and a shopping list.
fn anticipator() -> StandIn {
    StandIn::with(Wire::OpenAi, 1.0, |_, _| {
        text_reply(&format!(
            "1. {TEASPOONS}\n2. Add a shopping list: collect the ingredients of several recipes into one list.\nThat is all."
        ))
    })
}

fn anticipating(url: &str) -> Config {
    let mut cfg = Config::default();
    cfg.llm.sleep = Some(sleep_model(url));
    cfg.llm.anticipate = 2;
    cfg
}

#[test]
fn anticipated_requests_are_precomputed_once_and_offered_to_a_close_request() {
    use swe_sleep::agent::OfflinePolicy;
    use swe_sleep::agent::anticipate;

    let repo_dir = support::fixture_copy("cookbook");
    let units = repo_dir.path().join("src/units.rs");
    let mut text = std::fs::read_to_string(&units).expect("units");
    text.push_str("\n// TODO: support teaspoons as well\n");
    std::fs::write(&units, text).expect("write");
    let repo = Repo::open(repo_dir.path()).expect("open");
    let state = temp_dir("llm-anticipate-");
    notebook::sleep(
        &repo,
        state.path(),
        &Target::WorkTree,
        &Config::default(),
        &NoProgress,
    )
    .expect("sleep");
    let server = anticipator();
    let cfg = anticipating(&server.url);

    let report = swe_sleep::sleep::anticipate::anticipate(&repo, state.path(), &cfg)
        .expect("anticipates")
        .expect("configured");
    assert_eq!((report.requests, report.cached), (2, false), "{report:?}");
    let ex = server.exchanges();
    assert_eq!(ex.len(), 1);
    let shown = user_text(&ex[0].request);
    assert!(
        shown.contains("#16 Add unit conversion for tablespoons"),
        "{shown}"
    );
    assert!(shown.contains("src/units.rs:"), "{shown}");
    assert!(shown.contains("TODO: support teaspoons as well"), "{shown}");
    assert!(
        shown.contains("Write 2 likely next change requests"),
        "{shown}"
    );
    let totals = llm::ledger::totals_in(state.path()).expect("ledger");
    assert_eq!(
        (totals[0].purpose.as_str(), totals[0].calls),
        ("anticipate", 1)
    );

    let nb = Notebook::open(state.path()).expect("open").expect("slept");
    assert!(nb.snapshot_key().starts_with("worktree:"));
    let stored = nb.anticipated().expect("read");
    assert_eq!(stored.len(), 2);
    let tsp = stored
        .iter()
        .find(|a| a.request == TEASPOONS)
        .expect("the teaspoon request");
    assert!(tsp.files.contains(&"src/units.rs".to_string()), "{tsp:?}");

    // Once per snapshot.
    let again = swe_sleep::sleep::anticipate::anticipate(&repo, state.path(), &cfg)
        .expect("anticipates")
        .expect("configured");
    assert!(again.cached);
    assert_eq!(server.exchanges().len(), 1);

    // A close request gets the files, labelled; an unrelated one does not.
    let close = "Support teaspoons\n\nConvert teaspoons to and from tablespoons and millilitres.";
    let m = anticipate::lookup(&nb, close).expect("a match");
    assert!(m.similarity >= anticipate::MIN_SIMILARITY, "{m:?}");
    assert!(anticipate::lookup(&nb, "Add a dark theme to the web page").is_none());
    assert!(anticipate::lookup(&nb, "Support recipes").is_none());
    let p = swe_sleep::agent::predict::predict_sleep(
        &swe_sleep::agent::predict::Query::new(close, 4000, 12).expect("valid"),
        &mut OfflinePolicy::default(),
        &nb,
        Some(&repo),
        None,
        &swe_sleep::config::Config::default(),
    )
    .expect("predicts");
    assert!(p.tokens_used <= p.budget);
    assert!(p.context_tokens > 0);
    assert!(
        p.notes
            .iter()
            .any(|n| n.starts_with("anticipated at sleep time")),
        "{:?}",
        p.notes
    );
    let units = p
        .files
        .iter()
        .find(|f| f.path == "src/units.rs")
        .expect("units predicted");
    assert!(
        units
            .reason
            .contains("anticipated at sleep time for a similar request"),
        "{}",
        units.reason
    );
    let plain = swe_sleep::agent::predict::predict_sleep(
        &swe_sleep::agent::predict::Query::new("Add a dark theme to the web page", 4000, 12)
            .expect("valid"),
        &mut OfflinePolicy::default(),
        &nb,
        Some(&repo),
        None,
        &swe_sleep::config::Config::default(),
    )
    .expect("predicts");
    assert_eq!(plain.context_tokens, 0);
    assert!(plain.notes.iter().all(|n| !n.contains("anticipated")));
}

#[test]
fn anticipations_never_cross_snapshots_and_stay_within_budget() {
    use swe_sleep::agent::anticipate;

    let repo_path = fixture("cookbook");
    let repo = Repo::open(&repo_path).expect("open");
    let state = temp_dir("llm-anticipate-leak-");
    let server = anticipator();
    let cfg = anticipating(&server.url);
    // The future first: anticipations at HEAD.
    notebook::sleep(
        &repo,
        state.path(),
        &Target::Rev("HEAD".into()),
        &Config::default(),
        &NoProgress,
    )
    .expect("sleep at HEAD");
    swe_sleep::sleep::anticipate::anticipate(&repo, state.path(), &cfg)
        .expect("anticipates")
        .expect("configured");
    // Then an earlier commit, in the same notebook: nothing from HEAD shows.
    let earlier = support::git(&repo_path, &["log", "--format=%H", "--grep", "(#8)"])
        .trim()
        .to_string();
    assert_eq!(earlier.len(), 40, "{earlier}");
    notebook::sleep(
        &repo,
        state.path(),
        &Target::Rev(earlier.clone()),
        &Config::default(),
        &NoProgress,
    )
    .expect("sleep earlier");
    let nb = Notebook::open(state.path()).expect("open").expect("slept");
    assert_eq!(nb.snapshot_key(), format!("commit:{earlier}"));
    assert!(nb.anticipated().expect("read").is_empty());
    assert!(anticipate::lookup(&nb, TEASPOONS).is_none());
    // Anticipating there shows the model only that snapshot's history.
    swe_sleep::sleep::anticipate::anticipate(&repo, state.path(), &cfg)
        .expect("anticipates")
        .expect("configured");
    let ex = server.exchanges();
    assert_eq!(ex.len(), 2);
    let shown = user_text(&ex[1].request);
    assert!(shown.contains("#8 Add nutrition totals"), "{shown}");
    assert!(!shown.contains("#16"), "a later PR leaked: {shown}");
    assert!(!shown.contains("#11"), "a later PR leaked: {shown}");
    let nb = Notebook::open(state.path()).expect("open").expect("slept");
    for a in nb.anticipated().expect("read") {
        for f in &a.files {
            assert!(nb.file(f).is_some(), "{f} is not in the earlier snapshot");
        }
    }

    // A spent budget: nobody is asked.
    let state2 = temp_dir("llm-anticipate-budget-");
    notebook::sleep(
        &repo,
        state2.path(),
        &Target::Rev("HEAD".into()),
        &Config::default(),
        &NoProgress,
    )
    .expect("sleep");
    let mut tight = cfg.clone();
    tight.llm.sleep_tokens_per_hour = 50;
    let r = swe_sleep::sleep::anticipate::anticipate(&repo, state2.path(), &tight)
        .expect("anticipates")
        .expect("configured");
    assert_eq!(r.requests, 0);
    assert!(
        r.stopped
            .as_deref()
            .is_some_and(|w| w.contains("sleep_tokens_per_hour")),
        "{r:?}"
    );
    assert_eq!(server.exchanges().len(), 2);
}
