//! The sleep-time model beyond cards, against the loopback stand-in
//! (`tests/support/llm_server.rs`): digests of the paper setting's related
//! pull requests (cached by content, inside the budgets, in the ledger,
//! used by the sleep arm's context).

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

    let llm::digest::Digests {
        texts: digests,
        report,
    } = llm::digest::digest_prs(&state, &cfg, &prs)
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
    let llm::digest::Digests {
        texts: again,
        report,
    } = llm::digest::digest_prs(&state, &cfg, &prs)
        .expect("digests")
        .expect("configured");
    assert_eq!((report.cached, report.written), (prs.len(), 0));
    assert_eq!(again, digests);
    assert_eq!(server.exchanges().len(), prs.len());

    // A spent budget: no call, and the offline digest stands.
    let state2 = dir.path().join("state2");
    let nb2 = paper_notebook(&state2, &inst.base_commit);
    cfg.llm.sleep_tokens_per_hour = 50;
    let llm::digest::Digests {
        texts: none,
        report,
    } = llm::digest::digest_prs(&state2, &cfg, &prs)
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
