//! `swe-sleep predict` end to end: the real binary on the fixture
//! repositories of `fixtures/repos/` (facts from its README), the JSON
//! contract of `docs/predict-json.md`, every bad input, and the agent loop
//! driven through the library with policies and toolboxes written here.

mod support;

use support::cli::{fails, ok, one_json_object, p, stderr, stdout, swe_sleep};

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Output, Stdio};

use serde_json::Value;
use swe_sleep::agent::request::MAX_REQUEST_BYTES;
use swe_sleep::agent::run::{Action, View};
use swe_sleep::agent::sleep_tools::NotebookTools;
use swe_sleep::agent::tools::{Found, ToolData};
use swe_sleep::agent::{OfflinePolicy, Policy, ToolCall, Toolbox, run};
use swe_sleep::git::Repo;
use swe_sleep::notebook::{self, Notebook};
use swe_sleep::tokens;

use support::{fixture, fixture_copy, git, shared_cookbook, temp_dir};

const COOKBOOK_HEAD: &str = "959c2c237ead11bf2286722428850ad71a5fb8c8";

// ---------------------------------------------------------------------------
// Helpers

/// `swe-sleep predict --repo REPO --state-dir STATE args...`.
fn predict(repo: &Path, state: &Path, args: &[&str]) -> Output {
    swe_sleep()
        .arg("predict")
        .args(["--repo", p(repo), "--state-dir", p(state)])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the swe-sleep binary runs")
}

/// `predict --json`, which must succeed; returns the object and stderr.
fn predict_json(repo: &Path, state: &Path, args: &[&str]) -> (Value, String) {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let o = ok(predict(repo, state, &all), &format!("predict {args:?}"));
    (one_json_object(&o), stderr(&o))
}

fn n(v: &Value) -> u64 {
    v.as_u64()
        .unwrap_or_else(|| panic!("not an unsigned integer: {v}"))
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

fn paths(v: &Value) -> Vec<String> {
    v["files"]
        .as_array()
        .expect("files is an array")
        .iter()
        .map(|f| s(&f["path"]).to_string())
        .collect()
}

fn notes(v: &Value) -> Vec<String> {
    v["notes"]
        .as_array()
        .expect("notes is an array")
        .iter()
        .map(|x| s(x).to_string())
        .collect()
}

/// Files of `rev` in `repo` (`git ls-tree -r --name-only`).
fn tree_files(repo: &Path, rev: &str) -> BTreeSet<String> {
    git(repo, &["ls-tree", "-r", "--name-only", rev])
        .lines()
        .map(str::to_string)
        .collect()
}

/// Parses `[Step: i/N, tokens: used/budget]`.
fn parse_position(line: &str) -> (u64, u64, u64, u64) {
    let parsed = line
        .strip_prefix("[Step: ")
        .and_then(|r| r.strip_suffix(']'))
        .and_then(|r| r.split_once(", tokens: "))
        .and_then(|(steps, toks)| Some((steps.split_once('/')?, toks.split_once('/')?)))
        .and_then(|((i, big_n), (used, budget))| {
            Some((
                i.parse().ok()?,
                big_n.parse().ok()?,
                used.parse().ok()?,
                budget.parse().ok()?,
            ))
        });
    parsed.unwrap_or_else(|| panic!("not a position line: {line:?}"))
}

/// Every documented invariant of a `predict --json` object. `files_at` is
/// the set of paths a prediction may name (the snapshot's files).
fn check_prediction(v: &Value, files_at: &BTreeSet<String>) {
    for key in [
        "policy",
        "arm",
        "files",
        "budget",
        "max_steps",
        "tokens_used",
        "request_tokens",
        "steps",
        "trace",
        "notes",
    ] {
        assert!(v.get(key).is_some(), "missing {key}: {v}");
    }
    assert!(!s(&v["policy"]).is_empty(), "{v}");
    assert!(!s(&v["arm"]).is_empty(), "{v}");
    let budget = n(&v["budget"]);
    let max_steps = n(&v["max_steps"]);
    let used = n(&v["tokens_used"]);
    let request_tokens = n(&v["request_tokens"]);
    let steps = n(&v["steps"]);
    assert!(used <= budget, "over budget: {used} > {budget}");
    assert!(
        steps <= max_steps,
        "over the step cap: {steps} > {max_steps}"
    );
    assert!(request_tokens <= used, "{v}");

    let trace = v["trace"].as_array().expect("trace is an array");
    assert_eq!(trace.len() as u64, steps, "one trace entry per step");
    let mut running = request_tokens;
    let mut last_used = 0;
    for (k, t) in trace.iter().enumerate() {
        let step = n(&t["step"]);
        assert_eq!(step, k as u64 + 1, "steps count from 1: {t}");
        let call = &t["call"];
        let tool = s(&call["tool"]);
        assert!(
            [
                "search",
                "card",
                "read",
                "list",
                "symbol",
                "cochange",
                "similar_prs"
            ]
            .contains(&tool),
            "unknown tool: {call}"
        );
        assert!(t["truncated"].is_boolean(), "{t}");
        let position = s(&t["position"]);
        let result = s(&t["result"]);
        let tokens = n(&t["tokens"]);
        let (i, big_n, line_used, line_budget) = parse_position(position);
        assert_eq!(i, step, "{position}");
        assert_eq!(big_n, max_steps, "{position}");
        assert_eq!(line_budget, budget, "{position}");
        assert!(line_used >= last_used, "used goes down: {position}");
        assert!(line_used <= budget, "{position}");
        last_used = line_used;
        // A step costs its result and its position line, both counted in
        // cl100k tokens; the line shows the total before its own cost.
        assert_eq!(
            tokens,
            tokens::count(result) + tokens::count(position),
            "step {step} tokens"
        );
        assert_eq!(
            line_used,
            running + tokens::count(result),
            "step {step}: {position}"
        );
        running += tokens;
    }
    assert_eq!(running, used, "request + trace tokens == tokens_used");

    let files = v["files"].as_array().expect("files is an array");
    let mut seen = BTreeSet::new();
    for f in files {
        let path = s(&f["path"]);
        assert!(seen.insert(path.to_string()), "{path} twice: {v}");
        assert!(
            files_at.contains(path),
            "{path} is not a file of the snapshot"
        );
        let score = f["score"].as_f64().expect("score is a number");
        assert!(score.is_finite(), "{f}");
        assert!(!s(&f["reason"]).trim().is_empty(), "empty reason: {f}");
    }
    for note in v["notes"].as_array().expect("notes is an array") {
        assert!(!s(note).is_empty());
    }
}

/// Checks a CLI prediction `v` against the cookbook's files at HEAD.
fn check_cookbook(v: &Value) {
    check_cli(v, &tree_files(&fixture("cookbook"), "HEAD"));
}

/// `check_prediction`, plus what the CLI always says.
fn check_cli(v: &Value, files_at: &BTreeSet<String>) {
    assert_eq!(v["policy"], "offline", "{v}");
    assert!(matches!(s(&v["arm"]), "sleep" | "no-sleep"), "{v}");
    check_prediction(v, files_at);
}

// ---------------------------------------------------------------------------
// 1. Known answers on the cookbook (both arms).

#[test]
fn unit_conversion_request_predicts_units_rs() {
    let repo = fixture("cookbook");
    let state = shared_cookbook();
    for arm in [&[][..], &["--no-sleep"][..]] {
        let (v, _) = predict_json(
            &repo,
            state.path(),
            &[&["Add unit conversion for teaspoons"], arm].concat(),
        );
        check_cookbook(&v);
        let files = paths(&v);
        // Every PR titled "unit conversion" changed src/units.rs.
        assert!(files.contains(&"src/units.rs".into()), "{arm:?}: {files:?}");
    }
}

#[test]
fn ingredient_notes_request_predicts_the_parser_and_its_partner() {
    let repo = fixture("cookbook");
    let state = shared_cookbook();
    let request = "Keep ingredient notes when `parse_ingredients` splits a line\n\n\
                   Text in parentheses after an ingredient should stay as its note.";
    for arm in [&[][..], &["--no-sleep"][..]] {
        let (v, _) = predict_json(&repo, state.path(), &[&[request], arm].concat());
        check_cookbook(&v);
        let files = paths(&v);
        assert!(
            files.contains(&"src/parser.rs".into()),
            "parse_ingredients is defined in src/parser.rs ({arm:?}): {files:?}"
        );
        // src/parser.rs never changes without src/recipe.rs (8 commits). The
        // partner must show: as a co-change call on the parser that lists it
        // (8 commits together), or as a predicted file; when both, the
        // prediction's reason cites the co-change.
        let cochange: Vec<&Value> = v["trace"]
            .as_array()
            .expect("trace")
            .iter()
            .filter(|t| t["call"]["tool"] == "cochange" && t["call"]["path"] == "src/parser.rs")
            .collect();
        for t in &cochange {
            let result = s(&t["result"]);
            assert!(
                result
                    .lines()
                    .any(|l| l.contains("src/recipe.rs") && l.contains("8 commits together")),
                "{arm:?}: {result}"
            );
        }
        let recipe = v["files"]
            .as_array()
            .expect("files")
            .iter()
            .find(|f| f["path"] == "src/recipe.rs");
        assert!(
            !cochange.is_empty() || recipe.is_some(),
            "the parser's partner shows in the trace or the answer ({arm:?}): {v}"
        );
        if let Some(r) = recipe
            && !cochange.is_empty()
        {
            assert!(
                s(&r["reason"]).contains("src/parser.rs"),
                "the reason cites the co-change: {r}"
            );
        }
    }
}

#[test]
fn python_request_predicts_the_python_package() {
    let repo = fixture("cookbook");
    let state = shared_cookbook();
    for arm in [&[][..], &["--no-sleep"][..]] {
        let (v, _) = predict_json(
            &repo,
            state.path(),
            &[&["Scale recipes by a fraction in the Python package"], arm].concat(),
        );
        check_cookbook(&v);
        let files = paths(&v);
        assert!(
            files.iter().any(|f| f.starts_with("py/cookbook_tools/")),
            "{arm:?}: {files:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// 2. The JSON object and the budget.

#[test]
fn json_object_has_the_documented_shape() {
    let repo = fixture("cookbook");
    let state = shared_cookbook();
    let request = "Add unit conversion for teaspoons";
    let (v, _) = predict_json(
        &repo,
        state.path(),
        &[request, "--budget", "3000", "--steps", "7"],
    );
    check_cookbook(&v);
    assert_eq!(v["arm"], "sleep");
    assert_eq!(n(&v["budget"]), 3000);
    assert_eq!(n(&v["max_steps"]), 7);
    assert_eq!(n(&v["request_tokens"]), tokens::count(request));
    assert!(notes(&v).is_empty(), "nothing to report: {v}");
    assert!(n(&v["steps"]) >= 1, "it called tools: {v}");
    let first = &v["trace"][0];
    assert_eq!(first["call"]["tool"], "search", "{first}");
    assert_eq!(first["call"]["query"], request);
    assert!(first["call"]["k"].is_u64(), "{first}");
    assert!(!paths(&v).is_empty());

    // Text output: one line per file and a summary line.
    let o = ok(predict(&repo, state.path(), &[request]), "predict (text)");
    let text = stdout(&o);
    assert!(text.contains("src/units.rs"), "{text}");
    assert!(text.contains("sleep arm, offline policy"), "{text}");
    assert!(text.contains("of 4000 tokens"), "default budget: {text}");
    let o = ok(
        predict(&repo, state.path(), &[request, "--steps", "0"]),
        "predict --steps 0 (text)",
    );
    let text = stdout(&o);
    assert!(
        text.starts_with("No files predicted: a step cap of 0 (--steps 0) allows no tool call.\n"),
        "{text}"
    );
    assert!(text.contains("0 of 0 steps"), "{text}");
    // Too small a budget says so, and what to give.
    let o = ok(
        predict(&repo, state.path(), &[request, "--budget", "5"]),
        "predict --budget 5 (text)",
    );
    let text = stdout(&o);
    assert!(
        text.starts_with("No files predicted: the budget of 5 tokens went to reading the request"),
        "{text}"
    );
    assert!(text.contains("give --budget 500 or more"), "{text}");
    // A header, an aligned score column, lines that fit 100 columns, no
    // colour in a pipe; reasons in the request's words.
    let o = ok(predict(&repo, state.path(), &[request]), "predict (text)");
    let text = stdout(&o);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].contains(
            "files this request will likely modify, most likely first (sleep arm, offline policy"
        ),
        "{text}"
    );
    assert!(
        lines[1].contains("score  file") && lines[1].ends_with("why"),
        "{text}"
    );
    let score_at = lines[2].find("  ").map(|i| i + 2).expect("a score column");
    for l in &lines {
        assert!(l.chars().count() <= 100, "wider than 100 columns: {l}");
    }
    for l in lines.iter().skip(2).take_while(|l| !l.starts_with("--")) {
        if l.trim_start()
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit())
        {
            assert_eq!(
                l.find("  ").map(|i| i + 2),
                Some(score_at),
                "aligned: {text}"
            );
            assert!(
                l[score_at..].starts_with(|c: char| c.is_ascii_digit()),
                "{l}"
            );
        }
    }
    assert!(!text.contains('\x1b'), "no colour in a pipe: {text}");
    assert!(
        text.contains("teaspoons") || text.contains("“unit”") || text.contains("“conversion”"),
        "the request's own words: {text}"
    );
    assert!(!text.contains("code: "), "no internal evidence: {text}");
}

/// Every field a real `--json` answer has (a daemon's too) is in
/// docs/predict-json.md, and every field documented there without
/// "optional" is in the answer: they cannot drift apart.
#[test]
fn documented_fields_match_a_real_answer() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/predict-json.md"))
            .expect("docs/predict-json.md");
    // (name, type column) of each table row under `heading`.
    let table = |heading: &str| -> Vec<(String, String)> {
        let start = doc.find(heading).unwrap_or_else(|| panic!("no {heading}"));
        let mut rows = Vec::new();
        let mut seen_table = false;
        for line in doc[start..].lines().skip(1) {
            if line.starts_with('|') {
                seen_table = true;
                let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                if let Some(name) = cells
                    .get(1)
                    .and_then(|c| c.strip_prefix('`'))
                    .and_then(|c| c.strip_suffix('`'))
                {
                    rows.push((name.to_string(), cells.get(2).unwrap_or(&"").to_string()));
                }
            } else if seen_table {
                break;
            }
        }
        rows
    };
    let object = table("## The object");
    let daemon = table("### Answers from a daemon");
    let trace = table("### Trace entries");
    let tools = table("`call.tool` is one of these:");
    let top = |rows: &[(String, String)]| -> BTreeSet<String> {
        rows.iter()
            .filter(|r| !r.0.contains('.'))
            .map(|r| r.0.clone())
            .collect()
    };
    let required = |rows: &[(String, String)]| -> BTreeSet<String> {
        rows.iter()
            .filter(|r| !r.0.contains('.') && !r.1.contains("optional"))
            .map(|r| r.0.clone())
            .collect()
    };
    let keys = |v: &Value| -> BTreeSet<String> {
        v.as_object().expect("an object").keys().cloned().collect()
    };
    let documented_top: BTreeSet<String> = top(&object).union(&top(&daemon)).cloned().collect();
    let files_doc: BTreeSet<String> = object
        .iter()
        .filter_map(|r| r.0.strip_prefix("files[].").map(str::to_string))
        .collect();

    let repo = fixture("cookbook");
    let state = shared_cookbook();
    let (v, _) = predict_json(
        &repo,
        state.path(),
        &["Add unit conversion for teaspoons", "--standalone"],
    );
    let real = keys(&v);
    assert!(
        real.is_subset(&documented_top),
        "undocumented: {:?}",
        real.difference(&documented_top).collect::<Vec<_>>()
    );
    let missing: Vec<_> = required(&object).difference(&real).cloned().collect();
    assert!(missing.is_empty(), "documented but missing: {missing:?}");
    assert_eq!(keys(&v["files"][0]), files_doc);
    let trace_doc: BTreeSet<String> = trace.iter().map(|r| r.0.clone()).collect();
    let mut tools_seen = BTreeSet::new();
    for step in v["trace"].as_array().expect("a trace") {
        assert_eq!(keys(step), trace_doc, "{step}");
        let tool = s(&step["call"]["tool"]).to_string();
        let row = tools
            .iter()
            .find(|r| r.0 == tool)
            .unwrap_or_else(|| panic!("tool {tool} undocumented"));
        for k in keys(&step["call"]) {
            assert!(
                k == "tool" || row.1.contains(&format!("`{k}`")),
                "{tool}.{k} undocumented: {}",
                row.1
            );
        }
        tools_seen.insert(tool);
    }
    assert!(tools_seen.len() >= 3, "{tools_seen:?}");

    // A daemon's answer adds its documented fields.
    let shared = swe_sleep::daemon::Shared::new(
        repo.clone(),
        state.path().to_path_buf(),
        swe_sleep::config::Config::default(),
    );
    let answer = shared
        .predict(
            &swe_sleep::agent::predict::Query::new("Add unit conversion for teaspoons", 4000, 12)
                .expect("a valid query"),
            swe_sleep::agent::PolicyKind::Offline,
            None,
        )
        .expect("the daemon answers");
    let v = serde_json::to_value(&answer).expect("JSON");
    let real = keys(&v);
    assert!(
        real.is_subset(&documented_top),
        "undocumented: {:?}",
        real.difference(&documented_top).collect::<Vec<_>>()
    );
    let missing: Vec<_> = required(&daemon).difference(&real).cloned().collect();
    assert!(missing.is_empty(), "documented but missing: {missing:?}");
}

#[test]
fn budgets_are_never_exceeded() {
    let repo = fixture("cookbook");
    let state = shared_cookbook();
    let files_at = tree_files(&repo, "HEAD");
    let request = "Add unit conversion for teaspoons\n\nLike the tablespoons (#16): `convert_units` should accept tsp.";
    // Every budget with the default step cap on the sleep arm; a few with a
    // low cap on the no-sleep arm (the loop and its accounting are shared).
    let mut cases = Vec::new();
    for b in [0u64, 1, 10, 50, 200, 500, 1000, 4000] {
        cases.push((b, "12", None));
    }
    for b in [0u64, 50, 500, 4000] {
        cases.push((b, "3", Some("--no-sleep")));
    }
    let outputs: Vec<_> = std::thread::scope(|sc| {
        let handles: Vec<_> = cases
            .iter()
            .map(|&(b, steps, arm)| {
                let (repo, state) = (&repo, state.path());
                sc.spawn(move || {
                    let budget = b.to_string();
                    let mut args = vec![request, "--json", "--budget", &budget, "--steps", steps];
                    args.extend(arm);
                    ((b, steps, arm), predict(repo, state, &args))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    for ((b, steps, arm), o) in outputs {
        let what = format!("--budget {b} --steps {steps} {arm:?}");
        assert_ne!(
            o.status.code(),
            Some(101),
            "{what} panicked: {}",
            stderr(&o)
        );
        if b == 0 {
            let err = fails(o, &what);
            assert!(err.contains("budget"), "{what}: {err}");
            continue;
        }
        let o = ok(o, &what);
        let v = one_json_object(&o);
        check_cli(&v, &files_at);
        assert_eq!(n(&v["budget"]), b, "{what}");
        assert!(n(&v["steps"]) <= steps.parse().expect("steps"), "{what}");
        if b >= 1000 {
            assert!(
                paths(&v).contains(&"src/units.rs".into()),
                "{what}: {:?}",
                paths(&v)
            );
        }
        if b < tokens::count(request) {
            assert!(
                notes(&v).iter().any(|x| x.contains("request")),
                "{what}: the cut request is noted: {v}"
            );
        }
    }
}

#[test]
fn extreme_budgets_and_step_caps_keep_the_accounting() {
    let repo = fixture("cookbook");
    let state = shared_cookbook();
    let files_at = tree_files(&repo, "HEAD");
    let max = u64::MAX.to_string();
    let max_steps = u32::MAX.to_string();
    for args in [
        vec!["--budget", max.as_str(), "--steps", max_steps.as_str()],
        vec!["--steps", "0"],
        vec!["--steps", "1", "--no-sleep"],
    ] {
        let (v, _) = predict_json(
            &repo,
            state.path(),
            &[&["Add unit conversion for teaspoons"], &args[..]].concat(),
        );
        check_cli(&v, &files_at);
        if args[1] == "0" {
            assert_eq!(n(&v["steps"]), 0, "{v}");
            assert!(paths(&v).is_empty(), "no call, no answer: {v}");
        }
    }
    for (bad, flag) in [
        ("--budget=-5", "--budget"),
        ("--budget=lots", "--budget"),
        ("--steps=99999999999", "--steps"),
        ("--stpes=3", "--stpes"),
    ] {
        let o = predict(
            &repo,
            state.path(),
            &["Add unit conversion for teaspoons", bad],
        );
        // A usage error from the argument parser: exit 2, never a panic.
        assert_eq!(o.status.code(), Some(2), "{bad}: {}", stderr(&o));
        assert!(stderr(&o).contains(flag), "{bad}: {}", stderr(&o));
    }
}

#[test]
fn request_larger_than_the_budget_is_cut_and_said_so() {
    let repo = fixture("cookbook");
    let state = shared_cookbook();
    let words = ["recipe", "unit", "teaspoon", "scale", "ingredient", "the"];
    let body: Vec<&str> = (0..3000).map(|i| words[(i * 7) % words.len()]).collect();
    let request = format!("Add unit conversion for teaspoons\n\n{}", body.join(" "));
    assert!(tokens::count(&request) > 3000);
    let (v, _) = predict_json(&repo, state.path(), &[request.as_str(), "--budget", "300"]);
    check_cookbook(&v);
    assert!(n(&v["tokens_used"]) <= 300, "{v}");
    assert!(n(&v["request_tokens"]) <= 300, "{v}");
    let notes = notes(&v);
    assert!(
        notes
            .iter()
            .any(|x| x.contains("request") && x.contains("300")),
        "{notes:?}"
    );
}

#[test]
fn megabyte_request_from_a_file_stays_within_budget() {
    let repo = fixture("cookbook");
    let state = shared_cookbook();
    let dir = temp_dir("request-");
    let file = dir.path().join("request.txt");
    let mut text = String::from("Add unit conversion for teaspoons\n\n");
    let mut i = 0u64;
    while text.len() < 1024 * 1024 {
        i += 1;
        text.push_str(&format!("word{} recipe scaling step {}\n", i % 97, i));
    }
    std::fs::write(&file, &text).expect("write the request");
    let files_at = tree_files(&repo, "HEAD");
    for budget in ["4000", "1000000"] {
        let (v, _) = predict_json(
            &repo,
            state.path(),
            &["--file", p(&file), "--budget", budget],
        );
        check_cli(&v, &files_at);
        // The agent reads at most MAX_REQUEST_BYTES of a request, so it is
        // never charged for more (a token is at least one byte).
        assert!(
            n(&v["request_tokens"]) <= MAX_REQUEST_BYTES as u64,
            "--budget {budget}: charged {} tokens for the request",
            n(&v["request_tokens"])
        );
        assert!(
            notes(&v).iter().any(|x| x.contains("request")),
            "--budget {budget}: the cut is noted: {:?}",
            notes(&v)
        );
    }
}

#[test]
fn request_from_stdin() {
    let repo = fixture("cookbook");
    let state = shared_cookbook();
    let mut child = swe_sleep()
        .args(["predict", "--file", "-", "--json"])
        .args(["--repo", p(&repo), "--state-dir", p(state.path())])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(b"Add unit conversion for teaspoons\n")
            .expect("write");
    }
    let o = ok(child.wait_with_output().expect("wait"), "predict --file -");
    let v = one_json_object(&o);
    check_cookbook(&v);
    assert!(paths(&v).contains(&"src/units.rs".into()), "{v}");
}

// ---------------------------------------------------------------------------
// 3. Odd requests.

#[test]
fn requests_in_other_languages_work() {
    let repo = fixture("cookbook");
    let state = shared_cookbook();
    for (request, arm) in [
        ("为食谱添加茶匙的单位换算", &[][..]),
        ("为食谱添加茶匙的单位换算", &["--no-sleep"][..]),
        (
            "Добавить преобразование единиц для чайных ложек 🥄",
            &[][..],
        ),
    ] {
        let (v, _) = predict_json(&repo, state.path(), &[&[request], arm].concat());
        check_cookbook(&v);
        assert_eq!(n(&v["request_tokens"]), tokens::count(request));
    }
}

#[test]
fn nonexistent_files_named_in_the_request_are_never_predicted() {
    let repo = fixture("cookbook");
    let state = shared_cookbook();
    let request = "Fix the crash in src/nonexistent.rs\n\n\
                   Also update `src/units/teaspoon.rs`, py/cookbook_tools/missing.py and docs/nothing.md.";
    for arm in [&[][..], &["--no-sleep"][..]] {
        let (v, _) = predict_json(&repo, state.path(), &[&[request], arm].concat());
        check_cookbook(&v);
        for missing in [
            "src/nonexistent.rs",
            "src/units/teaspoon.rs",
            "py/cookbook_tools/missing.py",
            "docs/nothing.md",
        ] {
            assert!(!paths(&v).contains(&missing.into()), "{arm:?}: {v}");
        }
    }
}

#[test]
fn bad_requests_fail_with_a_clear_message() {
    let repo = fixture("cookbook");
    let dir = temp_dir("bad-request-");
    let state = dir.path().join("state");
    let req_file = dir.path().join("request.txt");
    std::fs::write(&req_file, "Add unit conversion for teaspoons").expect("write");
    let blank_file = dir.path().join("blank.txt");
    std::fs::write(&blank_file, " \n\t\n").expect("write");
    let latin1_file = dir.path().join("latin1.txt");
    std::fs::write(&latin1_file, b"Add conversion for cr\xe8me fra\xeeche").expect("write");
    let missing = dir.path().join("missing.txt");
    let cases: Vec<(Vec<&str>, &[&str])> = vec![
        (vec![""], &["empty"]),
        (vec!["   \n\t  \n"], &["empty"]),
        (vec!["--file", p(&blank_file)], &["empty"]),
        (vec![], &["no request"]),
        (vec!["--json"], &["no request"]),
        (
            vec!["Add unit conversion", "--file", p(&req_file)],
            &["not both"],
        ),
        (vec!["--file", p(&missing)], &["missing.txt"]),
        (vec!["--file", p(&latin1_file)], &["latin1.txt"]),
        (
            vec!["Add unit conversion", "--budget", "0"],
            &["budget", "0"],
        ),
        (
            vec!["Add unit conversion", "--budget", "0", "--no-sleep"],
            &["budget"],
        ),
    ];
    for (args, words) in cases {
        let err = fails(predict(&repo, &state, &args), &format!("{args:?}"));
        for w in words {
            assert!(err.contains(w), "{args:?}: {w:?} not in {err}");
        }
    }
    assert!(
        !state.join("notebook.sqlite").exists(),
        "a rejected request does not sleep"
    );
}

// ---------------------------------------------------------------------------
// 4. Arms, notebooks and revisions.

#[test]
fn no_sleep_arm_needs_no_notebook_and_writes_none() {
    let repo = fixture("cookbook");
    let dir = temp_dir("no-sleep-");
    let state = dir.path().join("state");
    let (v, err) = predict_json(
        &repo,
        &state,
        &["Add unit conversion for teaspoons", "--no-sleep"],
    );
    check_cookbook(&v);
    assert_eq!(v["arm"], "no-sleep");
    assert!(paths(&v).contains(&"src/units.rs".into()), "{v}");
    assert!(!err.contains("sleeping"), "{err}");
    assert!(!state.join("notebook.sqlite").exists());
    assert!(
        !repo.join(".swe-sleep").exists(),
        "nothing is written in the repository"
    );
}

#[test]
fn sleep_arm_sleeps_first_and_only_once() {
    let repo = fixture("cookbook");
    let dir = temp_dir("sleep-once-");
    let state = dir.path().join("state");
    let (v, err) = predict_json(&repo, &state, &["Add unit conversion for teaspoons"]);
    assert!(err.contains("sleeping"), "it says it sleeps first: {err}");
    check_cookbook(&v);
    assert_eq!(v["arm"], "sleep");
    assert!(paths(&v).contains(&"src/units.rs".into()), "{v}");
    let nb = Notebook::open(&state)
        .expect("open")
        .expect("the notebook exists after predicting");
    assert_eq!(nb.info.commit.as_deref(), Some(COOKBOOK_HEAD));
    let built = nb.info.built_at;
    drop(nb);

    let (again, err) = predict_json(&repo, &state, &["Add unit conversion for teaspoons"]);
    assert!(!err.contains("sleeping"), "no second sleep: {err}");
    assert_eq!(again["files"], v["files"], "deterministic");
    let nb = Notebook::open(&state).expect("open").expect("notebook");
    assert_eq!(nb.info.built_at, built, "the notebook was not rebuilt");
}

#[test]
fn older_revisions_get_notebooks_of_their_own_and_the_work_tree_keeps_its() {
    let repo = fixture("cookbook");
    let state = temp_dir("rev-state-");
    let request = "Add unit conversion for teaspoons";
    // The work tree's notebook first; the automatic sleep says what it did.
    let (_, err) = predict_json(&repo, state.path(), &[request]);
    assert!(
        err.contains("Slept on the work tree (HEAD 959c2c237ead) in "),
        "{err}"
    );
    let main = |what: &str| {
        let nb = Notebook::open(state.path())
            .expect("open")
            .unwrap_or_else(|| panic!("the main notebook, {what}"));
        (nb.info.worktree, nb.info.commit.clone(), nb.info.built_at)
    };
    let before = main("after the first predict");
    assert!(before.0);

    // HEAD~25 is PR #1 (the ingredient parser): before docs/units.md existed.
    let rev = "HEAD~25";
    let old = git(&repo, &["rev-parse", rev]).trim().to_string();
    let at_old = tree_files(&repo, rev);
    assert!(!at_old.contains("docs/units.md"));
    let (v, err) = predict_json(&repo, state.path(), &[request, "--rev", rev]);
    assert!(err.contains("sleeping"), "{err}");
    check_cli(&v, &at_old);
    assert_eq!(
        main("after --rev"),
        before,
        "the work tree's notebook was replaced"
    );
    let kept = state.path().join("revs").join(&old);
    let nb = Notebook::open(&kept)
        .expect("open")
        .expect("the revision's notebook");
    assert_eq!(nb.info.commit.as_deref(), Some(old.as_str()));
    assert!(!nb.info.worktree);
    assert!(nb.file("docs/units.md").is_none());
    drop(nb);

    // Back and forth costs nothing: no sleep either way.
    let (again, err) = predict_json(&repo, state.path(), &[request, "--rev", &old]);
    assert!(!err.contains("sleeping"), "{err}");
    assert_eq!(again["files"], v["files"]);
    let (_, err) = predict_json(&repo, state.path(), &[request]);
    assert!(
        !err.contains("sleeping"),
        "the work tree's notebook was kept: {err}"
    );

    // The no-sleep arm reads the same commit, and keeps no notebook.
    let (raw, _) = predict_json(&repo, state.path(), &[request, "--rev", rev, "--no-sleep"]);
    check_cli(&raw, &at_old);

    // HEAD as a revision: a notebook of its own too, then reused.
    let (head, err) = predict_json(&repo, state.path(), &[request, "--rev", "HEAD"]);
    assert!(err.contains("sleeping"), "{err}");
    check_cookbook(&head);
    let (_, err) = predict_json(&repo, state.path(), &[request, "--rev", "HEAD"]);
    assert!(!err.contains("sleeping"), "{err}");
    assert_eq!(main("at the end"), before);
    let kept: Vec<_> = std::fs::read_dir(state.path().join("revs"))
        .expect("revs")
        .collect();
    assert_eq!(kept.len(), 2, "one notebook per revision asked for");
}

#[test]
fn bad_repo_and_bad_rev_fail_naming_them() {
    // Outside the source tree: a directory inside a work tree opens that
    // work tree, as git does.
    let dir = tempfile::tempdir().expect("a temp dir");
    let state = dir.path().join("state");
    let not_repo = dir.path().join("plain");
    std::fs::create_dir(&not_repo).expect("mkdir");
    let missing = dir.path().join("missing");
    let mut cases = vec![(&missing, None), (&missing, Some("--no-sleep"))];
    let inside_a_repo = support::git_output(&not_repo, &["rev-parse", "--git-dir"])
        .status
        .success();
    if !inside_a_repo {
        cases.push((&not_repo, None));
        cases.push((&not_repo, Some("--no-sleep")));
    }
    for (repo, arm) in cases {
        let mut args = vec!["Add unit conversion"];
        args.extend(arm);
        let err = fails(predict(repo, &state, &args), &format!("--repo {repo:?}"));
        let name = repo.file_name().and_then(|x| x.to_str()).expect("name");
        assert!(err.contains(name), "{err}");
        assert!(err.contains("repository"), "{err}");
    }

    let repo = fixture("cookbook");
    for arm in [None, Some("--no-sleep")] {
        let mut args = vec!["Add unit conversion", "--rev", "no-such-branch"];
        args.extend(arm);
        let err = fails(predict(&repo, &state, &args), &format!("--rev {arm:?}"));
        assert!(err.contains("no-such-branch"), "{err}");
    }
    assert!(!state.join("notebook.sqlite").exists());
}

// ---------------------------------------------------------------------------
// 5. The hostile fixture.

#[test]
fn hostile_repository_never_yields_symlinks_or_vendored_paths() {
    let copy = fixture_copy("hostile");
    let repo = copy.path();
    // Symlinks, per the tree (mode 120000).
    let links: BTreeSet<String> = git(repo, &["ls-tree", "-r", "HEAD"])
        .lines()
        .filter(|l| l.starts_with("120000 "))
        .filter_map(|l| l.split_once('\t').map(|(_, path)| path.to_string()))
        .collect();
    assert_eq!(
        links,
        BTreeSet::from(["link_out".to_string(), "src/link_in.rs".to_string()])
    );
    let state = temp_dir("hostile-state-");
    let requests = [
        "Fix the link_out symlink and src/link_in.rs",
        "Update vendor/lib/foo.rs, vendor/sub and node_modules/x/index.js",
    ];
    for request in requests {
        for arm in [&[][..], &["--no-sleep"][..]] {
            let (v, _) = predict_json(repo, state.path(), &[&[request], arm].concat());
            // The sleep arm reads the work tree (untracked files included).
            let mut files_at = tree_files(repo, "HEAD");
            files_at.insert("src/new_file.rs".into());
            files_at.insert("docs/keep.md".into());
            files_at.insert(".swe-sleepignore".into());
            files_at.insert(".gitignore".into());
            check_cli(&v, &files_at);
            for path in paths(&v) {
                assert!(
                    !links.contains(&path),
                    "{request:?} {arm:?}: predicted the symlink {path}"
                );
                assert!(
                    !path.starts_with("vendor/") && !path.starts_with("node_modules/"),
                    "{request:?} {arm:?}: predicted the skipped {path}"
                );
                let meta = std::fs::symlink_metadata(repo.join(&path)).expect("stat");
                assert!(meta.is_file(), "{path} is a regular file");
            }
        }
    }
    // Binary, huge and broken files do not get in the way of an ordinary request.
    let (v, _) = predict_json(
        repo,
        state.path(),
        &["Make `hello` in src/lib.rs say goodbye"],
    );
    assert!(paths(&v).contains(&"src/lib.rs".into()), "{v}");
}

// ---------------------------------------------------------------------------
// 6. The loop through the library: policies and toolboxes written here.

/// Calls `search` forever, never submitting unless made to.
struct NeverSubmits;

impl Policy for NeverSubmits {
    fn name(&self) -> &'static str {
        "never-submits"
    }
    fn next(&mut self, view: &View<'_>) -> Action {
        Action::Call(ToolCall::Search {
            query: view.request.to_string(),
            k: 40,
            brief: false,
        })
    }
}

/// Searches until told to submit, then submits through the `submit` tool.
struct SubmitsByTool {
    files: Vec<String>,
}

impl Policy for SubmitsByTool {
    fn name(&self) -> &'static str {
        "submits-by-tool"
    }
    fn next(&mut self, view: &View<'_>) -> Action {
        if view.must_submit {
            return Action::Call(ToolCall::Submit {
                files: self.files.clone(),
            });
        }
        Action::Call(ToolCall::Search {
            query: view.request.to_string(),
            k: 5,
            brief: false,
        })
    }
}

/// The invariants of `check_prediction`, on a library prediction.
fn check_lib(p: &swe_sleep::agent::Prediction, files_at: &BTreeSet<String>) {
    let v = serde_json::to_value(p).expect("a prediction serialises");
    check_prediction(&v, files_at);
}

#[test]
fn a_policy_that_never_submits_is_stopped_by_the_step_cap_and_the_budget() {
    let state = shared_cookbook();
    let repo = Repo::open(&fixture("cookbook")).expect("open the cookbook");
    let nb = Notebook::open(state.path())
        .expect("open")
        .expect("notebook");
    let mut tools = NotebookTools::new(&nb, Some(&repo));
    let head = tree_files(&fixture("cookbook"), "HEAD");

    // Plenty of budget: the step cap stops it.
    let p = run(
        &mut NeverSubmits,
        &mut tools,
        "Add unit conversion for teaspoons",
        1_000_000,
        5,
    );
    check_lib(&p, &head);
    assert_eq!(p.steps, 5);
    assert!(p.files.is_empty());
    assert!(
        p.notes.iter().any(|n| n.contains("submitted nothing")),
        "{:?}",
        p.notes
    );

    // Plenty of steps: the budget stops it.
    for budget in [1, 30, 100, 700, 2000] {
        let p = run(
            &mut NeverSubmits,
            &mut tools,
            "Add unit conversion for teaspoons",
            budget,
            1000,
        );
        check_lib(&p, &head);
        assert!(p.tokens_used <= budget);
        assert!(p.steps < 1000, "budget {budget}: {} steps", p.steps);
        assert!(p.files.is_empty());
    }
}

#[test]
fn submitting_through_the_submit_tool_on_the_last_step_is_kept() {
    let state = shared_cookbook();
    let repo = Repo::open(&fixture("cookbook")).expect("open the cookbook");
    let nb = Notebook::open(state.path())
        .expect("open")
        .expect("notebook");
    let mut tools = NotebookTools::new(&nb, Some(&repo));
    let head = tree_files(&fixture("cookbook"), "HEAD");
    let mut policy = SubmitsByTool {
        files: vec![
            "src/units.rs".into(),
            "src/units.rs".into(),
            "src/nonexistent.rs".into(),
        ],
    };
    let p = run(
        &mut policy,
        &mut tools,
        "Add unit conversion for teaspoons",
        100_000,
        2,
    );
    check_lib(&p, &head);
    assert_eq!(p.steps, 2);
    let files: Vec<&str> = p.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(files, ["src/units.rs"], "{:?}", p.notes);
    assert!(
        p.notes.iter().any(|n| n.contains("src/nonexistent.rs")),
        "{:?}",
        p.notes
    );
    assert!(
        p.files.iter().all(|f| !f.reason.is_empty()),
        "{:?}",
        p.files
    );
}

/// A toolbox that answers every call with text costing exactly what it is
/// allowed, as a generous tool may.
struct FillsTheBudget;

impl Toolbox for FillsTheBudget {
    fn arm(&self) -> &'static str {
        "test"
    }
    fn find(&mut self, _: &ToolCall) -> Found {
        Found::Text("recipe ".repeat(5000))
    }
    fn exists(&self, path: &str) -> bool {
        path == "src/units.rs"
    }
}

#[test]
fn offline_policy_with_a_greedy_toolbox_stays_within_budget() {
    for budget in [1, 24, 25, 26, 40, 100, 1000, 5000] {
        let mut policy = OfflinePolicy::default();
        let p = run(
            &mut policy,
            &mut FillsTheBudget,
            "Add unit conversion for teaspoons",
            budget,
            12,
        );
        check_lib(&p, &BTreeSet::from(["src/units.rs".to_string()]));
        assert!(p.tokens_used <= budget, "{budget}: {}", p.tokens_used);
        for t in &p.trace {
            assert_eq!(
                t.tokens,
                tokens::count(&t.result) + tokens::count(&t.position)
            );
        }
    }
    // A result the policy cannot use is still paid for and traced.
    let out = FillsTheBudget.call(&ToolCall::List { dir: String::new() }, 10);
    assert!(matches!(out.data, ToolData::Text));
    assert!(out.tokens <= 10);
}

#[test]
fn a_new_commit_makes_the_notebook_stale_and_predict_sleeps_again() {
    let copy = support::fixture_copy("cookbook");
    let repo = copy.path();
    let dir = temp_dir("stale-");
    let state = dir.path().join("state");
    let (_, err) = predict_json(repo, &state, &["Add unit conversion for teaspoons"]);
    assert!(err.contains("sleeping"), "first call sleeps: {err}");
    std::fs::write(
        repo.join("src/pantry.rs"),
        "//! Pantry stock.\npub fn restock_pantry() {}\n",
    )
    .expect("write a new file");
    git(repo, &["add", "src/pantry.rs"]);
    git(repo, &["commit", "-q", "-m", "Add pantry module"]);
    let head = git(repo, &["rev-parse", "HEAD"]).trim().to_string();
    let (v, err) = predict_json(repo, &state, &["Restock the pantry with restock_pantry"]);
    assert!(
        err.contains("sleeping first"),
        "HEAD moved, so it sleeps again: {err}"
    );
    let nb = Notebook::open(&state).expect("open").expect("notebook");
    assert_eq!(nb.info.commit.as_deref(), Some(head.as_str()));
    assert!(paths(&v).contains(&"src/pantry.rs".to_string()), "{v}");
}

#[test]
fn uncommitted_edits_are_noticed_and_slept_on_before_predicting() {
    let copy = support::fixture_copy("cookbook");
    let repo = copy.path();
    let dir = temp_dir("drift-");
    let state = dir.path().join("state");
    predict_json(repo, &state, &["Add unit conversion for teaspoons"]);
    let (_, err) = predict_json(repo, &state, &["Add unit conversion for teaspoons"]);
    assert!(!err.contains("sleeping"), "nothing changed: {err}");
    std::fs::write(
        repo.join("src/pantry.rs"),
        "//! Pantry stock.\npub fn restock_pantry() {}\n",
    )
    .expect("write a new file");
    let (v, err) = predict_json(repo, &state, &["Restock the pantry with restock_pantry"]);
    assert!(
        err.contains("1 file added in the work tree since the notebook was built (src/pantry.rs): sleeping first"),
        "{err}"
    );
    assert!(paths(&v).contains(&"src/pantry.rs".to_string()), "{v}");
    let (_, err) = predict_json(repo, &state, &["Restock the pantry with restock_pantry"]);
    assert!(!err.contains("sleeping"), "caught up: {err}");
}

/// The daemon's in-memory file-history index gives exactly the scores of
/// the SQLite path, and the shared search indexes give the same prediction
/// as fresh tools.
#[test]
fn in_memory_file_history_matches_sqlite() {
    use swe_sleep::agent::sleep_tools::SearchIndexes;
    use swe_sleep::notebook::history_index::FileHistoryIndex;

    let state = shared_cookbook();
    let repo = Repo::open(&fixture("cookbook")).expect("open the cookbook");
    let nb = Notebook::open(state.path()).expect("open").expect("slept");
    let index = FileHistoryIndex::build(&nb, 30).expect("index");
    assert!(!index.is_empty(), "the cookbook has history");
    for request in [
        "Add unit conversion for teaspoons",
        "recipe parsing ingredients scale",
        "pantry shelves",
        "nothing matches zzzqqq",
    ] {
        let terms = swe_sleep::agent::request::Request::new(request).terms;
        let sql = nb.search_file_history(&terms, 30, 20).expect("sql");
        let mem = nb
            .search_file_history_in(Some(&index), &terms, 30, 20)
            .expect("memory");
        let flat = |hits: &[notebook::read::Hit]| -> Vec<(String, String, Vec<String>)> {
            hits.iter()
                .map(|h| {
                    (
                        h.path.clone(),
                        format!("{:.12}", h.score),
                        h.matched.clone(),
                    )
                })
                .collect()
        };
        assert_eq!(flat(&sql), flat(&mem), "{request}");
        // An index for other settings is not used.
        let other = nb
            .search_file_history_in(Some(&index), &terms, 5, 20)
            .expect("other max_files");
        assert_eq!(
            flat(&other),
            flat(&nb.search_file_history(&terms, 5, 20).expect("sql"))
        );
    }
    let indexes = SearchIndexes::build(&nb);
    for request in ["Add unit conversion for teaspoons", "scale a recipe"] {
        let a = run(
            &mut OfflinePolicy::default(),
            &mut NotebookTools::new(&nb, Some(&repo)),
            request,
            4000,
            12,
        );
        let b = run(
            &mut OfflinePolicy::default(),
            &mut NotebookTools::with_indexes(&nb, Some(&repo), &indexes),
            request,
            4000,
            12,
        );
        assert_eq!(a.files, b.files, "{request}");
        assert_eq!(a.tokens_used, b.tokens_used, "{request}");
    }
}

/// The daemon's in-memory code and commit postings give exactly the scores
/// of the SQLite joins, for every request, and for a notebook at another
/// snapshot they are not used.
#[test]
fn in_memory_code_and_history_search_match_sqlite() {
    use swe_sleep::notebook::search_index::{CodeIndex, CommitIndex};

    let state = shared_cookbook();
    let nb = Notebook::open(state.path()).expect("open").expect("slept");
    let code = CodeIndex::build(&nb).expect("code index");
    let commits = CommitIndex::build(&nb).expect("commit index");
    assert!(!code.is_empty(), "the cookbook has code");
    for request in [
        "Add unit conversion for teaspoons",
        "recipe parsing ingredients scale",
        "parse_recipe parse_ingredients Recipe Ingredient",
        "export recipes as JSON with nutrition totals",
        "pantry shelves",
        "nothing matches zzzqqq",
        "unit unit unit conversion conversion",
    ] {
        let terms = swe_sleep::agent::request::Request::new(request).terms;
        let flat = |hits: &[notebook::read::Hit]| -> Vec<(String, String, Vec<String>)> {
            hits.iter()
                .map(|h| {
                    (
                        h.path.clone(),
                        format!("{:.12}", h.score),
                        h.matched.clone(),
                    )
                })
                .collect()
        };
        for k in [3, 60] {
            let sql = nb.search_code(&terms, k).expect("sql");
            let mem = nb.search_code_in(Some(&code), &terms, k).expect("memory");
            assert_eq!(flat(&sql), flat(&mem), "{request}");
            let past = |c: &[notebook::read::PastChange]| -> Vec<(String, String, Vec<String>)> {
                c.iter()
                    .map(|c| {
                        (
                            c.commit.clone(),
                            format!("{:.12}", c.score),
                            c.files.clone(),
                        )
                    })
                    .collect()
            };
            let sql = nb.search_history(&terms, k).expect("sql");
            let mem = nb
                .search_history_in(Some(&commits), &terms, k)
                .expect("memory");
            assert_eq!(past(&sql), past(&mem), "{request}");
        }
    }
    // Indexes of an earlier snapshot of the same notebook are not used.
    let state = temp_dir("later-snapshot-");
    let repo = Repo::open(&fixture("cookbook")).expect("open the cookbook");
    let sleep_at = |rev: &str| {
        notebook::sleep(
            &repo,
            state.path(),
            &notebook::Target::Rev(rev.into()),
            &swe_sleep::config::Config::default(),
            &notebook::NoProgress,
        )
        .expect("sleep")
    };
    sleep_at("HEAD");
    let first = Notebook::open(state.path()).expect("open").expect("slept");
    let stale = CodeIndex::build(&first).expect("code index");
    sleep_at("HEAD~8");
    let older = Notebook::open(state.path()).expect("open").expect("slept");
    assert!(!stale.fits(&older));
    let terms = swe_sleep::agent::request::Request::new("unit conversion recipe").terms;
    let a = older
        .search_code_in(Some(&stale), &terms, 20)
        .expect("memory");
    let b = older.search_code(&terms, 20).expect("sql");
    assert_eq!(
        a.iter().map(|h| (&h.path, h.score)).collect::<Vec<_>>(),
        b.iter().map(|h| (&h.path, h.score)).collect::<Vec<_>>()
    );
}

/// A notebook opened before a sleep is no longer current after it, even
/// when both sleeps finish within the same second (`built_at` has whole
/// seconds; the snapshot generation tells them apart).
#[test]
fn a_later_snapshot_is_told_apart_within_one_second() {
    let state = temp_dir("generation-");
    let repo = Repo::open(&fixture("cookbook")).expect("open the cookbook");
    let sleep_at = |rev: &str| {
        notebook::sleep(
            &repo,
            state.path(),
            &notebook::Target::Rev(rev.into()),
            &swe_sleep::config::Config::default(),
            &notebook::NoProgress,
        )
        .expect("sleep")
    };
    sleep_at("HEAD~1");
    let first = Notebook::open(state.path()).expect("open").expect("slept");
    assert!(first.is_current());
    sleep_at("HEAD");
    let second = Notebook::open(state.path()).expect("open").expect("slept");
    assert!(
        !first.is_current(),
        "the first snapshot still looks current"
    );
    assert!(second.is_current());
    assert_eq!(second.info.generation, first.info.generation + 1);
    assert_ne!(first.info.snapshot_id(), second.info.snapshot_id());
}

/// Predictions do not depend on the order in which the notebook was filled:
/// a cold sleep at HEAD and a sleep at an older commit followed by one at
/// HEAD answer every request the same, scores included.
#[test]
fn predictions_do_not_depend_on_how_the_notebook_was_filled() {
    let repo = fixture("cookbook");
    let dir = temp_dir("determinism-");
    let cold = dir.path().join("cold");
    let warm = dir.path().join("warm");
    let sleep = |state: &Path, rev: &str| {
        ok(
            swe_sleep()
                .args([
                    "sleep",
                    "--repo",
                    p(&repo),
                    "--state-dir",
                    p(state),
                    "--rev",
                    rev,
                ])
                .output()
                .expect("runs"),
            "sleep",
        );
    };
    sleep(&cold, "HEAD");
    sleep(&warm, "HEAD~12");
    sleep(&warm, "HEAD~5");
    sleep(&warm, "HEAD");
    for request in [
        "Add unit conversion for teaspoons",
        "Parse ingredient notes in parentheses",
        "Add a fix for typos",
        "Export recipes to CSV",
        "Add recipe search",
        "Validate recipe titles",
        "Bump version",
    ] {
        for budget in ["800", "4000"] {
            let args = ["--rev", "HEAD", "--budget", budget, request];
            let (a, _) = predict_json(&repo, &cold, &args);
            let (b, _) = predict_json(&repo, &warm, &args);
            assert_eq!(a["files"], b["files"], "{request} at {budget}");
            let results = |v: &Value| -> Vec<Value> {
                v["trace"]
                    .as_array()
                    .expect("trace")
                    .iter()
                    .map(|t| t["result"].clone())
                    .collect()
            };
            assert_eq!(results(&a), results(&b), "{request} at {budget}");
        }
    }
}

/// When the sleep before a prediction fails (here HEAD moved to a commit
/// whose tree the clone lacks), the last good snapshot still answers, with
/// a note and a warning saying so.
#[test]
fn a_failed_update_still_answers_from_the_last_good_snapshot() {
    let copy = support::fixture_copy("cookbook");
    let repo = copy.path();
    let dir = temp_dir("update-fails-");
    let state = dir.path().join("state");
    predict_json(
        repo,
        &state,
        &["--rev", "HEAD", "Add unit conversion for teaspoons"],
    );
    // A commit whose tree does not exist, written as raw bytes.
    let head = git(repo, &["rev-parse", "HEAD"]).trim().to_string();
    let body = format!(
        "tree 1111111111111111111111111111111111111111\nparent {head}\nauthor A <a@example.com> 1717200000 +0000\ncommitter A <a@example.com> 1717200000 +0000\n\nBroken commit\n"
    );
    let path = dir.path().join("commit.txt");
    std::fs::write(&path, body).expect("write");
    let broken = git(
        repo,
        &["hash-object", "-t", "commit", "-w", "--literally", p(&path)],
    )
    .trim()
    .to_string();
    git(repo, &["update-ref", "refs/heads/main", &broken]);
    let (v, err) = predict_json(
        repo,
        &state,
        &["--rev", "HEAD", "Add unit conversion for teaspoons"],
    );
    assert!(
        err.contains("answering from the last good snapshot"),
        "{err}"
    );
    assert!(err.contains("is missing from the object database"), "{err}");
    assert!(paths(&v).contains(&"src/units.rs".to_string()), "{v}");
    assert!(
        notes(&v)
            .iter()
            .any(|n| n.contains("this answer comes from the last good snapshot")),
        "{v}"
    );
}

/// A notebook query that fails is an error result for the policy and is
/// kept for the caller, never passed off as an empty answer.
#[test]
fn a_failed_notebook_query_is_an_error_not_an_empty_result() {
    let dir = temp_dir("query-fails-");
    let state = dir.path().join("state");
    let repo = fixture("cookbook");
    predict_json(
        &repo,
        &state,
        &["--rev", "HEAD", "Add unit conversion for teaspoons"],
    );
    let nb = Notebook::open(&state).expect("open").expect("slept");
    let conn = rusqlite::Connection::open(state.join("notebook.sqlite")).expect("sqlite");
    conn.execute_batch("DROP TABLE snap_cochange")
        .expect("drop");
    let mut tools = NotebookTools::new(&nb, None);
    let out = tools.call(
        &ToolCall::Cochange {
            path: "src/units.rs".into(),
        },
        2000,
    );
    assert!(
        out.text.starts_with("error: the notebook query failed"),
        "{}",
        out.text
    );
    assert!(tools.take_query_error().is_some());
    assert!(tools.take_query_error().is_none(), "taken once");
}
