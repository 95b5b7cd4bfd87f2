//! The measuring instrument end to end: `swe-sleep bench mine` on the
//! cookbook fixture (facts from `fixtures/repos/README.md`), the scorer and
//! report exactly, `swe-sleep eval` with resume, leakage from the future,
//! `--skip-invalid`, and `docs/instance.schema.json` against `parse_line`.

mod support;

use support::cli::{fails, ok, stderr};

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;
use std::process::Output;

use serde_json::{Value, json};
use swe_sleep::eval::instance::{self, Instance, parse_line};
use swe_sleep::eval::report;
use swe_sleep::eval::score::score;
use swe_sleep::eval::{Arm, RunRecord, SleepRecord};
use swe_sleep::notebook::Notebook;
use swe_sleep::text::terms;

use support::{fixture, fixture_copy, git, temp_dir};

// ---------------------------------------------------------------------------
// Helpers

/// Runs the binary (no `SWE_SLEEP_*` or git location setting inherited).
fn swe_sleep(args: &[&str]) -> Output {
    support::cli::swe_sleep()
        .args(args)
        .output()
        .expect("the swe-sleep binary runs")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

/// Runs `bench mine` on `repo` with `--name cook/book` and `args`; returns
/// the instances (each line checked by `parse_line`) and stderr.
fn mine(repo: &Path, args: &[&str]) -> (Vec<Instance>, String) {
    let dir = temp_dir("mine-");
    let out = dir.path().join("bench.jsonl");
    let mut all = vec![
        "bench",
        "mine",
        "--repo",
        s(repo),
        "--name",
        "cook/book",
        "--out",
        s(&out),
    ];
    all.extend_from_slice(args);
    let o = ok(swe_sleep(&all), "bench mine");
    let text = std::fs::read_to_string(&out).expect("bench mine wrote its output");
    let instances = text
        .lines()
        .map(|l| parse_line(l).unwrap_or_else(|e| panic!("invalid line {l}: {e}")))
        .collect();
    (instances, stderr(&o))
}

fn rev_parse(repo: &Path, rev: &str) -> String {
    git(repo, &["rev-parse", rev]).trim().to_string()
}

/// First-parent commits of HEAD that are PRs, oldest first: (number, oid).
fn pr_commits(repo: &Path) -> Vec<(u64, String)> {
    let log = git(
        repo,
        &["log", "--first-parent", "--reverse", "--format=%H %s"],
    );
    log.lines()
        .filter_map(|l| {
            let (oid, subject) = l.split_once(' ')?;
            let n = match subject.strip_prefix("Merge pull request #") {
                Some(rest) => rest.split(' ').next()?,
                None => subject.rsplit_once("(#")?.1.strip_suffix(')')?,
            };
            Some((n.parse().ok()?, oid.to_string()))
        })
        .collect()
}

/// `git diff --name-status base head` as the instance's statuses.
fn diff(repo: &Path, base: &str, head: &str) -> BTreeMap<String, String> {
    git(repo, &["diff", "--no-renames", "--name-status", base, head])
        .lines()
        .map(|l| {
            let (st, path) = l.split_once('\t').expect("status TAB path");
            let st = match st {
                "M" => "modified",
                "A" => "added",
                "D" => "removed",
                other => panic!("unexpected status {other}"),
            };
            (path.to_string(), st.to_string())
        })
        .collect()
}

fn ids(list: &[Instance]) -> Vec<&str> {
    list.iter().map(|i| i.instance_id.as_str()).collect()
}

fn write_bench(dir: &Path, lines: &[String]) -> std::path::PathBuf {
    let p = dir.join("bench.jsonl");
    std::fs::write(&p, lines.join("\n") + "\n").expect("write the benchmark");
    p
}

// ---------------------------------------------------------------------------
// 1. bench mine on cookbook

#[test]
fn bench_mine_cookbook_keeps_features_of_the_right_size() {
    let repo = fixture("cookbook");
    let (list, err) = mine(
        &repo,
        &[
            "--min-modified",
            "2",
            "--min-source",
            "2",
            "--max-files",
            "30",
        ],
    );
    assert_eq!(
        ids(&list),
        [
            "cook__book-1",
            "cook__book-3",
            "cook__book-7",
            "cook__book-13",
            "cook__book-17"
        ]
    );
    let titles: Vec<&str> = list.iter().map(|i| i.title.as_str()).collect();
    assert_eq!(
        titles,
        [
            "Add ingredient parser",
            "Support recipe titles",
            "Add command-line interface",
            "Add temperature unit conversion",
            "Add recipe search to the CLI"
        ]
    );
    // Dropped: #14 "Refactor ..." (excluded word), #15 "Add export tests"
    // (one modified file), the "unit conversion" PRs and #8 (one source
    // file), #4 #5 #9 #11 #12 #18 (no feature word); plain commits such as
    // "Fix typo in README" are not PRs at all.
    assert!(
        err.contains("28 first-parent commits, 18 PRs seen, 5 kept"),
        "{err}"
    );
    for part in [
        "few-modified 1",
        "few-source 5",
        "title-excluded 1",
        "title-not-feature 6",
    ] {
        assert!(err.contains(part), "{part} in {err}");
    }
    for dropped in [2, 4, 5, 6, 8, 9, 10, 11, 12, 14, 15, 16, 18] {
        assert!(
            list.iter().all(|i| i.pr_number != dropped),
            "#{dropped} kept"
        );
    }
    assert!(list.iter().all(|i| !i.title.contains("typo")));

    let prs: BTreeMap<u64, String> = pr_commits(&repo).into_iter().collect();
    assert_eq!(prs.len(), 18);
    for i in &list {
        assert_eq!(i.repo, "cook/book");
        let head = &prs[&i.pr_number];
        assert_eq!(&i.head_commit, head, "{}", i.instance_id);
        assert_eq!(i.base_commit, rev_parse(&repo, &format!("{head}^1")));
        // git writes a zero offset as `Z`; the instances spell it `+00:00`.
        let committed = git(&repo, &["log", "-1", "--format=%cI", head]);
        assert_eq!(i.created_at, committed.trim().replace('Z', "+00:00"));
        let got: BTreeMap<String, String> = i
            .changed_files
            .iter()
            .map(|f| (f.filename.clone(), f.status.clone()))
            .collect();
        assert_eq!(got, diff(&repo, &i.base_commit, head), "{}", i.instance_id);
        // Merges of the fixture carry only the title.
        assert_eq!(i.body, "");
    }
    let first = &list[0];
    assert_eq!(first.created_at, "2024-01-05T00:00:00+00:00");
    assert_eq!(
        first
            .changed_files
            .iter()
            .map(|f| (f.filename.as_str(), f.status.as_str()))
            .collect::<Vec<_>>(),
        [
            ("CHANGELOG.md", "modified"),
            ("src/parser.rs", "modified"),
            ("src/recipe.rs", "modified"),
            ("tests/recipe_test.rs", "added")
        ]
    );
    assert_eq!(
        first.gold(),
        ["CHANGELOG.md", "src/parser.rs", "src/recipe.rs"]
    );

    // Context: the three most recent earlier PRs that modified one of the
    // instance's modified files (CHANGELOG.md is in 16 of 18 PRs; #15 only
    // touches py/tests/test_export.py, so #17 skips it for #14).
    let ctx: Vec<Vec<u64>> = list
        .iter()
        .map(|i| i.context_prs.iter().map(|c| c.pr_number).collect())
        .collect();
    assert_eq!(
        ctx,
        [
            vec![],
            vec![2, 1],
            vec![6, 5, 4],
            vec![12, 11, 10],
            vec![16, 14, 13]
        ]
    );
    let order: Vec<u64> = prs.keys().copied().collect();
    for i in &list {
        let gold: HashSet<String> = i.gold().into_iter().collect();
        for c in &i.context_prs {
            assert!(c.pr_number < i.pr_number);
            assert_eq!(c.head_commit, prs[&c.pr_number]);
            assert_eq!(
                c.base_commit,
                rev_parse(&repo, &format!("{}^1", c.head_commit))
            );
            let files = diff(&repo, &c.base_commit, &c.head_commit);
            assert_eq!(c.changed_files.len(), files.len());
            assert!(
                c.changed_files
                    .iter()
                    .any(|f| f.status == "modified" && gold.contains(&f.filename)),
                "{} context #{} shares no modified file",
                i.instance_id,
                c.pr_number
            );
        }
        // No PR between the oldest context PR and the instance was skipped
        // unless it shares no modified file.
        if let Some(oldest) = i.context_prs.last() {
            for n in order
                .iter()
                .filter(|n| **n > oldest.pr_number && **n < i.pr_number)
            {
                if i.context_prs.iter().any(|c| c.pr_number == *n) {
                    continue;
                }
                let head = &prs[n];
                let base = rev_parse(&repo, &format!("{head}^1"));
                let shares = diff(&repo, &base, head)
                    .iter()
                    .any(|(p, st)| st == "modified" && gold.contains(p));
                assert!(!shares, "{} skipped #{n}", i.instance_id);
            }
        }
    }
}

#[test]
fn bench_mine_cookbook_defaults_since_limit_and_word_lists() {
    let repo = fixture("cookbook");
    // Defaults: at least three source files, so only #1 (two modified
    // sources and an added test).
    let (list, err) = mine(&repo, &[]);
    assert_eq!(ids(&list), ["cook__book-1"], "{err}");

    let (list, _) = mine(&repo, &["--min-source", "2", "--since", "2024-01-20"]);
    assert_eq!(
        ids(&list),
        ["cook__book-7", "cook__book-13", "cook__book-17"]
    );
    let (list, err) = mine(&repo, &["--min-source", "2", "--limit", "2"]);
    assert_eq!(ids(&list), ["cook__book-13", "cook__book-17"]);
    assert!(err.contains("limit 3"), "{err}");

    // Own word lists: "parse" reads as a feature, "refactor" as one too
    // once it is not excluded. #5 and #14 are squashes: base is the parent,
    // and their `* commit` bodies are dropped.
    let (list, _) = mine(
        &repo,
        &[
            "--feature-words",
            "parse,refactor",
            "--exclude-words",
            "fix",
            "--min-source",
            "2",
        ],
    );
    assert_eq!(
        ids(&list),
        ["cook__book-5", "cook__book-14", "cook__book-18"]
    );
    let prs: BTreeMap<u64, String> = pr_commits(&repo).into_iter().collect();
    for i in &list {
        assert_eq!(i.head_commit, prs[&i.pr_number]);
        assert_eq!(
            i.base_commit,
            rev_parse(&repo, &format!("{}^", i.head_commit))
        );
        assert_eq!(i.body, "", "{}", i.instance_id);
    }
    let squash = git(&repo, &["log", "-1", "--format=%b", &list[1].head_commit]);
    assert!(squash.contains("* Add ParseError"), "{squash}");

    // A bad date and a bad name are usage errors naming the value.
    let o = swe_sleep(&[
        "bench",
        "mine",
        "--repo",
        s(&repo),
        "--since",
        "2024-1-5",
        "--out",
        "-",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("2024-1-5"), "{}", stderr(&o));
    let o = swe_sleep(&[
        "bench",
        "mine",
        "--repo",
        s(&repo),
        "--name",
        "nope",
        "--out",
        "-",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("owner/name"), "{}", stderr(&o));
}

#[test]
fn bench_mine_default_name_comes_from_the_directory() {
    let repo = fixture("cookbook");
    let o = ok(
        swe_sleep(&["bench", "mine", "--repo", s(&repo), "--out", "-"]),
        "bench mine to stdout",
    );
    let line = String::from_utf8(o.stdout).expect("UTF-8");
    let inst = parse_line(line.trim()).expect("one valid line");
    let dir = repo.file_name().and_then(|n| n.to_str()).expect("dir name");
    assert_eq!(inst.repo, format!("local/{dir}"));
    assert_eq!(inst.instance_id, format!("local__{dir}-1"));
}

// ---------------------------------------------------------------------------
// 2. The scorer and the report, exactly

fn record(inst: &Instance, arm: Arm, predicted: &[&str], tokens: u64) -> RunRecord {
    let predicted: Vec<String> = predicted.iter().map(|p| p.to_string()).collect();
    let gold = inst.gold();
    RunRecord {
        instance_id: inst.instance_id.clone(),
        repo: inst.repo.clone(),
        arm,
        budget: 500,
        prf: score(&predicted, &gold),
        predicted,
        gold,
        tokens,
        steps: 3,
        wall_ms: 10.0,
        model: None,
        sleep_budget: None,
        learned: false,
    }
}

fn close(a: f64, b: f64, what: &str) {
    assert!((a - b).abs() < 1e-12, "{what}: {a} != {b}");
}

#[test]
fn report_macro_averages_exactly() {
    let repo = fixture("cookbook");
    let (list, _) = mine(&repo, &["--min-source", "2"]);
    let dir = temp_dir("score-");
    let lines: Vec<String> = list
        .iter()
        .filter(|i| [1, 7, 13].contains(&i.pr_number))
        .map(|i| serde_json::to_string(i).expect("serialize"))
        .collect();
    let (bench, skipped) =
        instance::load(&write_bench(dir.path(), &lines), false).expect("valid benchmark");
    assert!(skipped.is_empty());
    let [i1, i7, i13] = &bench[..] else {
        panic!("three instances, got {}", bench.len())
    };
    assert_eq!(
        i1.gold(),
        ["CHANGELOG.md", "src/parser.rs", "src/recipe.rs"]
    );
    assert_eq!(
        i7.gold(),
        ["CHANGELOG.md", "README.md", "src/cli.rs", "src/main.rs"]
    );
    assert_eq!(
        i13.gold(),
        [
            "CHANGELOG.md",
            "docs/units.md",
            "src/cli.rs",
            "src/units.rs"
        ]
    );
    let records = vec![
        // P 2/3, R 2/3, F1 2/3 (src/lib.rs is outside the gold set).
        record(
            i1,
            Arm::Sleep,
            &["src/parser.rs", "src/recipe.rs", "src/lib.rs"],
            300,
        ),
        // Empty prediction: 0, 0, 0.
        record(i7, Arm::Sleep, &[], 300),
        // P 1/2, R 1/4, F1 1/3 (a file that exists nowhere).
        record(i13, Arm::Sleep, &["src/units.rs", "src/nope.rs"], 300),
        // P 1, R 1/3, F1 1/2.
        record(i1, Arm::NoSleep, &["src/recipe.rs"], 400),
        // Only files outside the gold set: 0, 0, 0.
        record(
            i7,
            Arm::NoSleep,
            &["src/units.rs", "py/cookbook_tools/scale.py"],
            400,
        ),
        // Exactly the gold set (order and duplicates do not matter): 1, 1, 1.
        record(
            i13,
            Arm::NoSleep,
            &[
                "src/units.rs",
                "src/cli.rs",
                "docs/units.md",
                "CHANGELOG.md",
                "src/cli.rs",
            ],
            400,
        ),
    ];
    close(records[0].prf.f1, 2.0 / 3.0, "f1 of #1");
    close(records[2].prf.f1, 1.0 / 3.0, "f1 of #13");
    let sleeps = vec![
        SleepRecord {
            instance_id: i1.instance_id.clone(),
            repo: "cook/book".into(),
            base_commit: i1.base_commit.clone(),
            sleep_tokens: 1000,
            sleep_seconds: 1.0,
            blobs_new: 10,
            commits_mined: 3,
            model_usage: None,
            replayed: 0,
            replay_tokens: 0,
            replay_seconds: 0.0,
        },
        SleepRecord {
            instance_id: i7.instance_id.clone(),
            repo: "cook/book".into(),
            base_commit: i7.base_commit.clone(),
            sleep_tokens: 50,
            sleep_seconds: 0.5,
            blobs_new: 2,
            commits_mined: 4,
            model_usage: None,
            replayed: 0,
            replay_tokens: 0,
            replay_seconds: 0.0,
        },
    ];
    let rep = report::build(&records, &sleeps, 10.0);
    let row = |repo: &str, arm: Arm| {
        rep.rows
            .iter()
            .find(|r| r.repo == repo && r.arm == arm && r.budget == 500)
            .unwrap_or_else(|| panic!("row {repo} {arm:?}"))
    };
    for repo in ["cook/book", report::ALL] {
        let r = row(repo, Arm::Sleep);
        assert_eq!(r.instances, 3);
        close(r.prf.precision, (2.0 / 3.0 + 0.0 + 0.5) / 3.0, "sleep P");
        close(r.prf.recall, (2.0 / 3.0 + 0.0 + 0.25) / 3.0, "sleep R");
        close(r.prf.f1, (2.0 / 3.0 + 0.0 + 1.0 / 3.0) / 3.0, "sleep F1");
        close(r.mean_tokens, 300.0, "sleep tokens");
        let r = row(repo, Arm::NoSleep);
        close(r.prf.precision, (1.0 + 0.0 + 1.0) / 3.0, "no-sleep P");
        close(r.prf.recall, (1.0 / 3.0 + 0.0 + 1.0) / 3.0, "no-sleep R");
        close(r.prf.f1, (0.5 + 0.0 + 1.0) / 3.0, "no-sleep F1");
        close(r.mean_tokens, 400.0, "no-sleep tokens");
    }
    assert_eq!(rep.rows.len(), 4);
    let cost = &rep.sleep[0];
    assert_eq!(
        (cost.sleeps, cost.cold_tokens, cost.total_tokens),
        (2, 1000, 1050)
    );
    // Amortized: 1000 / N + 10 × 300 against 10 × 400.
    let ns: Vec<usize> = rep.amortized.iter().map(|a| a.queries).collect();
    assert_eq!(ns, [1, 2, 3, 5, 10]);
    for a in &rep.amortized {
        close(
            a.sleep_cost,
            1000.0 / a.queries as f64 + 3000.0,
            "sleep cost",
        );
        close(a.no_sleep_cost, 4000.0, "no-sleep cost");
        close(a.ratio, a.sleep_cost / 4000.0, "ratio");
    }
    close(rep.amortized[1].ratio, 0.875, "ratio at N = 2");
}

// ---------------------------------------------------------------------------
// 3. eval end to end, and resuming

fn prediction_lines(out: &Path) -> Vec<String> {
    std::fs::read_to_string(out.join("predictions.jsonl"))
        .expect("predictions.jsonl")
        .lines()
        .map(str::to_string)
        .collect()
}

fn key(line: &str) -> (String, String, u64) {
    let v: Value = serde_json::from_str(line).expect("JSON line");
    (
        v["instance_id"].as_str().expect("id").to_string(),
        v["arm"].as_str().expect("arm").to_string(),
        v["budget"].as_u64().expect("budget"),
    )
}

#[test]
fn eval_end_to_end_and_resume() {
    let repo = fixture("cookbook");
    let (list, _) = mine(&repo, &["--min-source", "2"]);
    assert_eq!(list.len(), 5);
    let dir = temp_dir("eval-");
    let lines: Vec<String> = list
        .iter()
        .map(|i| serde_json::to_string(i).expect("serialize"))
        .collect();
    let bench = write_bench(dir.path(), &lines);
    let out = dir.path().join("out");
    let repo_arg = format!("cook/book={}", s(&repo));
    let args = [
        "eval",
        "--bench",
        s(&bench),
        "--repo",
        &repo_arg,
        "--budgets",
        "500,2000",
        "--arms",
        "sleep,no-sleep",
        "--out",
        s(&out),
    ];
    ok(swe_sleep(&args), "eval");
    let first = prediction_lines(&out);
    assert_eq!(first.len(), 5 * 2 * 2);
    let mut keys = BTreeSet::new();
    for line in &first {
        let v: Value = serde_json::from_str(line).expect("JSON line");
        for field in [
            "instance_id",
            "arm",
            "budget",
            "predicted",
            "precision",
            "recall",
            "f1",
            "tokens",
            "steps",
            "wall_ms",
        ] {
            assert!(v.get(field).is_some(), "{field} missing in {line}");
        }
        let budget = v["budget"].as_u64().expect("budget");
        let tokens = v["tokens"].as_u64().expect("tokens");
        assert!(
            tokens <= budget,
            "{tokens} tokens over budget {budget}: {line}"
        );
        assert!(v["predicted"].is_array());
        for m in ["precision", "recall", "f1"] {
            let x = v[m].as_f64().expect("a number");
            assert!((0.0..=1.0).contains(&x), "{m} = {x}");
        }
        assert!(keys.insert(key(line)), "duplicate {line}");
    }
    let want: BTreeSet<(String, String, u64)> = list
        .iter()
        .flat_map(|i| {
            ["sleep", "no-sleep"]
                .into_iter()
                .flat_map(move |a| [500, 2000].map(|b| (i.instance_id.clone(), a.to_string(), b)))
        })
        .collect();
    assert_eq!(keys, want);
    for f in ["report.md", "report.json", "pareto.svg", "pareto-time.svg"] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    for f in ["pareto.svg", "pareto-time.svg"] {
        let svg = std::fs::read_to_string(out.join(f)).expect("svg");
        assert!(svg.starts_with("<svg"), "{f}");
        assert!(svg.trim_end().ends_with("</svg>"), "{f}");
        assert_eq!(svg.matches("<polyline").count(), 2, "{f}: one per arm");
        assert_eq!(svg.matches('<').count(), svg.matches('>').count(), "{f}");
    }
    let rep: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).expect("json"))
            .expect("report.json parses");
    assert_eq!(rep["rows"].as_array().expect("rows").len(), 2 * 2 * 2);
    let sleeps_before = std::fs::read_to_string(out.join("sleep.jsonl")).expect("sleep.jsonl");
    assert_eq!(sleeps_before.lines().count(), 5);

    // Same command again: everything is done, nothing is recomputed.
    ok(swe_sleep(&args), "eval again");
    assert_eq!(prediction_lines(&out), first);
    let sleeps_after = std::fs::read_to_string(out.join("sleep.jsonl")).expect("sleep.jsonl");
    assert_eq!(sleeps_after, sleeps_before, "a resumed run slept again");

    // Lose the last two lines (a kill): exactly those are recomputed.
    let kept = &first[..first.len() - 2];
    std::fs::write(out.join("predictions.jsonl"), kept.join("\n") + "\n").expect("truncate");
    ok(swe_sleep(&args), "eval after a kill");
    let again = prediction_lines(&out);
    assert_eq!(again.len(), first.len());
    assert_eq!(&again[..kept.len()], kept);
    let lost: BTreeSet<_> = first[kept.len()..].iter().map(|l| key(l)).collect();
    let redone: BTreeSet<_> = again[kept.len()..].iter().map(|l| key(l)).collect();
    assert_eq!(redone, lost);
    // The offline agent is deterministic: the same files again.
    let predicted = |l: &str| serde_json::from_str::<Value>(l).expect("JSON")["predicted"].clone();
    for (a, b) in first[kept.len()..].iter().zip(&again[kept.len()..]) {
        assert_eq!(predicted(a), predicted(b));
    }

    // A kill in the middle of a line: the partial line is dropped and its
    // run redone, and no line is glued to it.
    let text = std::fs::read_to_string(out.join("predictions.jsonl")).expect("read");
    let cut = text.trim_end().len() - 40;
    std::fs::write(out.join("predictions.jsonl"), &text[..cut]).expect("cut");
    ok(swe_sleep(&args), "eval after a kill mid-line");
    let healed = prediction_lines(&out);
    assert_eq!(healed.len(), first.len(), "{healed:#?}");
    let keys: BTreeSet<_> = healed.iter().map(|l| key(l)).collect();
    assert_eq!(keys, want);

    // The report pairs the arms instance by instance, with intervals.
    let md = std::fs::read_to_string(out.join("report.md")).expect("report.md");
    assert!(
        md.contains("## Sleep against no-sleep, instance by instance"),
        "{md}"
    );
    assert!(md.contains("95% interval of the paired difference"), "{md}");
    let rep: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).expect("json"))
            .expect("report.json parses");
    for p in rep["paired"].as_array().expect("paired") {
        assert_eq!(p["pairs"], 5, "{p}");
        let n = |k: &str| p[k].as_u64().expect("a count");
        assert_eq!(n("wins") + n("ties") + n("losses"), 5, "{p}");
        let (low, high, mean) = (
            p["low"].as_f64().expect("low"),
            p["high"].as_f64().expect("high"),
            p["mean_diff"].as_f64().expect("mean"),
        );
        assert!(low <= mean + 1e-12 && mean <= high + 1e-12, "{p}");
    }

    // bench compare: the same benchmark without structure, then with it.
    let flat = dir.path().join("flat.toml");
    std::fs::write(&flat, "[index]\nstructure = false\n").expect("config");
    let out_flat = dir.path().join("out-flat");
    let flat_args = [
        "eval",
        "--bench",
        s(&bench),
        "--repo",
        &repo_arg,
        "--budgets",
        "500,2000",
        "--arms",
        "sleep",
        "--config",
        s(&flat),
        "--out",
        s(&out_flat),
    ];
    ok(swe_sleep(&flat_args), "eval without structure");
    let cmp = ok(
        swe_sleep(&[
            "bench",
            "compare",
            "--before",
            s(&out_flat),
            "--after",
            s(&out),
            "--json",
        ]),
        "bench compare",
    );
    let c: Value = serde_json::from_slice(&cmp.stdout).expect("one JSON object");
    assert_eq!(c["arm"], "sleep");
    let paired = c["paired"].as_array().expect("paired");
    assert!(
        paired
            .iter()
            .any(|p| p["repo"] == "all" && p["budget"] == 2000),
        "{c}"
    );
    for p in paired {
        assert_eq!(p["pairs"], 5, "every instance paired: {p}");
    }
    assert_eq!(
        (c["before_only"].clone(), c["after_only"].clone()),
        (0.into(), 0.into())
    );
    let text = String::from_utf8(
        ok(
            swe_sleep(&[
                "bench",
                "compare",
                "--before",
                s(&out_flat),
                "--after",
                s(&out),
            ]),
            "bench compare as text",
        )
        .stdout,
    )
    .expect("utf-8");
    assert!(text.contains("- budget 500, sleep budget "), "{text}");
    assert!(text.contains("after better / same / worse"), "{text}");
    // The no-sleep arm ran only in one of them: nothing to compare.
    let err = fails(
        swe_sleep(&[
            "bench",
            "compare",
            "--before",
            s(&out_flat),
            "--after",
            s(&out),
            "--arm",
            "no-sleep",
        ]),
        "bench compare without shared runs",
    );
    assert!(
        err.contains("share no instance of the no-sleep arm"),
        "{err}"
    );
    let err = fails(
        swe_sleep(&[
            "bench",
            "compare",
            "--before",
            s(dir.path()),
            "--after",
            s(&out),
        ]),
        "bench compare of a directory that is no eval",
    );
    assert!(err.contains("not an eval output directory"), "{err}");
}

/// The report covers exactly what the output directory holds: a re-run
/// that asks for less is refused and changes nothing, one that asks for
/// more extends it; the report says its verdict, leaves "Overall" out with
/// one repository, names the amortized table's units, and the charts have
/// titles of their own with n and the repository; a refused eval leaves no
/// directory behind.
#[test]
fn eval_report_covers_exactly_its_output_directory() {
    let repo = fixture("cookbook");
    let (list, _) = mine(&repo, &["--min-source", "2"]);
    let dir = temp_dir("eval-cover-");
    let lines: Vec<String> = list
        .iter()
        .map(|i| serde_json::to_string(i).expect("serialize"))
        .collect();
    let bench = write_bench(dir.path(), &lines);
    let out = dir.path().join("out");
    let repo_arg = format!("cook/book={}", s(&repo));
    let run = |limit: &str, budgets: &str| {
        swe_sleep(&[
            "eval",
            "--bench",
            s(&bench),
            "--repo",
            &repo_arg,
            "--limit",
            limit,
            "--budgets",
            budgets,
            "--out",
            s(&out),
        ])
    };
    let o = ok(run("2", "500,1000"), "eval --limit 2");
    let md = std::fs::read_to_string(out.join("report.md")).expect("report.md");
    assert_eq!(support::cli::stdout(&o), md, "stdout is the report");
    assert!(md.contains("2 instances, 1 repository."), "{md}");
    assert!(md.contains("**Verdict:** the sleep arm is "), "{md}");
    assert!(md.contains("its F1 differs by "), "{md}");
    assert!(md.contains("## cook/book"), "{md}");
    assert!(
        !md.contains("Overall"),
        "one repository, no overall table: {md}"
    );
    assert!(
        md.contains("Lower is better; a ratio below 1 means sleeping is cheaper"),
        "{md}"
    );
    assert!(
        md.contains("| sleep arm (tokens) | no-sleep arm (tokens) | ratio sleep / no-sleep |"),
        "{md}"
    );
    let title = |f: &str| {
        let svg = std::fs::read_to_string(out.join(f)).expect("svg");
        let start = svg.find("font-size=\"15\">").expect("a title") + 16;
        let end = start + svg[start..].find("</text>").expect("title ends");
        let sub = svg.find("font-size=\"11\"").expect("a subtitle");
        let sub_start = sub + svg[sub..].find('>').expect("tag ends") + 1;
        let sub_end = sub_start + svg[sub_start..].find("</text>").expect("subtitle ends");
        (
            svg[start..end].to_string(),
            svg[sub_start..sub_end].to_string(),
        )
    };
    let (tokens_title, tokens_sub) = title("pareto.svg");
    let (time_title, time_sub) = title("pareto-time.svg");
    assert_ne!(tokens_title, time_title, "two charts, two titles");
    assert!(tokens_title.contains("tokens"), "{tokens_title}");
    assert!(time_title.contains("wall time"), "{time_title}");
    assert_eq!(tokens_sub, "n = 2, cook/book");
    assert_eq!(time_sub, tokens_sub);
    let held = prediction_lines(&out);
    assert_eq!(held.len(), 2 * 2 * 2);

    // Fewer budgets, or fewer instances: refused, nothing changes.
    for (limit, budgets, why) in [
        ("2", "500", "budgets 1000"),
        ("1", "500,1000", "1 instance this run does not select"),
    ] {
        let err = support::cli::fails(run(limit, budgets), "a narrower re-run");
        assert!(err.contains(why), "{err}");
        assert!(err.contains("give another --out"), "{err}");
        assert_eq!(prediction_lines(&out), held);
        assert_eq!(
            std::fs::read_to_string(out.join("report.md")).expect("report.md"),
            md
        );
    }
    // Another step cap: refused too.
    let err = support::cli::fails(
        swe_sleep(&[
            "eval",
            "--bench",
            s(&bench),
            "--repo",
            &repo_arg,
            "--limit",
            "2",
            "--budgets",
            "500,1000",
            "--steps",
            "3",
            "--out",
            s(&out),
        ]),
        "another --steps",
    );
    assert!(err.contains("--steps 12"), "{err}");

    // More instances: the directory grows and the report covers it all.
    ok(run("3", "500,1000"), "eval --limit 3");
    assert_eq!(prediction_lines(&out).len(), 3 * 2 * 2);
    let rep: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).expect("json"))
            .expect("report.json parses");
    for row in rep["rows"].as_array().expect("rows") {
        assert_eq!(row["instances"], 3, "{row}");
    }

    // Refused before it starts: no directory is left behind.
    for (bad_repo, why) in [
        (
            "other/name=/nonexistent".to_string(),
            "no repository given for cook/book",
        ),
        (
            "cook/book=/nonexistent/path".to_string(),
            "--repo cook/book=/nonexistent/path",
        ),
    ] {
        let fresh = dir.path().join("fresh");
        let err = support::cli::fails(
            swe_sleep(&[
                "eval",
                "--bench",
                s(&bench),
                "--repo",
                &bad_repo,
                "--out",
                s(&fresh),
            ]),
            "eval without its repository",
        );
        assert!(err.contains(why), "{err}");
        assert!(!fresh.exists(), "a refused eval left {}", fresh.display());
    }
}

/// In a terminal (a pseudo-terminal made by `script`), the progress bars
/// end their line: the report starts on a line of its own.
#[test]
fn eval_progress_bars_end_their_line_in_a_terminal() {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        panic!("this test needs `script` (util-linux, Debian's bsdutils) to make a terminal");
    }
    let repo = fixture("cookbook");
    let (list, _) = mine(&repo, &["--min-source", "2"]);
    let dir = temp_dir("eval-tty-");
    let lines: Vec<String> = list
        .iter()
        .map(|i| serde_json::to_string(i).expect("serialize"))
        .collect();
    let bench = write_bench(dir.path(), &lines);
    let out = dir.path().join("out");
    let command = format!(
        "'{}' eval --bench '{}' --repo 'cook/book={}' --limit 2 --budgets 500 --out '{}'",
        env!("CARGO_BIN_EXE_swe-sleep"),
        s(&bench),
        s(&repo),
        s(&out)
    );
    let o = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("TERM", "xterm")
        .env_remove("NO_COLOR")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("script runs");
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{text}");
    let at = text
        .find("# swe-sleep eval")
        .unwrap_or_else(|| panic!("no report: {text:?}"));
    // What the terminal shows before the report, escape sequences aside.
    let before = strip_escapes(&text[..at]);
    assert!(
        before.is_empty() || before.ends_with('\n') || before.ends_with('\r'),
        "the report starts mid-line: {:?}",
        &before[before.len().saturating_sub(200)..]
    );
}

/// `text` without ANSI escape sequences (CSI `ESC [ ... final`).
fn strip_escapes(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for d in chars.by_ref() {
                    if ('@'..='~').contains(&d) {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

// ---------------------------------------------------------------------------
// 4. Nothing from after base_commit leaks into a prediction

#[test]
fn eval_never_sees_the_future() {
    let copy = fixture_copy("cookbook");
    let repo = copy.path();
    let base = rev_parse(repo, "HEAD");
    let base_files: HashSet<String> = git(repo, &["ls-tree", "-r", "--name-only", &base])
        .lines()
        .map(str::to_string)
        .collect();
    // After base: a file with a distinctive name, then a PR that uses it.
    std::fs::write(
        repo.join("src/secret_future.rs"),
        "//! Widgets of the future.\n\n/// Sorts and zorbulates the widgets.\npub fn zorbulate_widgets(widgets: &mut Vec<String>) {\n    widgets.sort();\n}\n",
    )
    .expect("write");
    git(repo, &["add", "src/secret_future.rs"]);
    git(repo, &["commit", "-q", "-m", "Add zorbulate_widgets"]);
    let added = rev_parse(repo, "HEAD");
    git(repo, &["checkout", "-q", "-b", "alice/zorb"]);
    let mut parser = std::fs::read_to_string(repo.join("src/parser.rs")).expect("read");
    parser.push_str("\n/// Parses widgets, zorbulated.\npub fn parse_widgets(text: &str) -> Vec<String> {\n    let mut w: Vec<String> = lines(text).into_iter().map(str::to_string).collect();\n    crate::secret_future::zorbulate_widgets(&mut w);\n    w\n}\n");
    std::fs::write(repo.join("src/parser.rs"), parser).expect("write");
    let mut secret = std::fs::read_to_string(repo.join("src/secret_future.rs")).expect("read");
    secret.push_str("\n/// How many widgets zorbulate_widgets keeps.\npub const ZORBULATE_WIDGETS_MAX: usize = 64;\n");
    std::fs::write(repo.join("src/secret_future.rs"), secret).expect("write");
    git(
        repo,
        &[
            "commit",
            "-q",
            "-a",
            "-m",
            "Use zorbulate_widgets in parse_widgets",
        ],
    );
    git(repo, &["checkout", "-q", "main"]);
    git(
        repo,
        &[
            "merge",
            "-q",
            "--no-ff",
            "-m",
            "Merge pull request #19 from alice/zorb\n\nUse zorbulate_widgets in the parser",
            "alice/zorb",
        ],
    );
    let future = rev_parse(repo, "HEAD");
    let after_base: HashSet<String> = git(repo, &["rev-list", &format!("{base}..{future}")])
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(after_base.len(), 3);
    assert!(after_base.contains(&added));

    let inst = json!({
        "instance_id": "cook__book-19",
        "repo": "cook/book",
        "pr_number": 19,
        "title": "Use zorbulate_widgets in the parser",
        "body": "The parser should call zorbulate_widgets (src/secret_future.rs) on the widgets it reads.",
        "created_at": git(repo, &["log", "-1", "--format=%cI", &base]).trim(),
        "base_commit": base,
        "head_commit": future,
        "changed_files": [
            {"filename": "src/parser.rs", "status": "modified"},
            {"filename": "src/secret_future.rs", "status": "added"}
        ],
        "context_prs": []
    });
    parse_line(&inst.to_string()).expect("a valid instance");
    let dir = temp_dir("leak-");
    let bench = write_bench(dir.path(), &[inst.to_string()]);
    let out = dir.path().join("out");
    let state = out.join("state").join("cook+book");

    // Sleep the eval's own state directory at the future first, so every
    // cache in it holds the future's blobs and commits.
    ok(
        swe_sleep(&[
            "sleep",
            "--repo",
            s(repo),
            "--rev",
            &future,
            "--state-dir",
            s(&state),
            "--quiet",
        ]),
        "sleep at the future",
    );
    {
        let nb = Notebook::open(&state).expect("open").expect("slept");
        assert!(
            nb.file("src/secret_future.rs").is_some(),
            "the setup is moot"
        );
        let hist = nb
            .search_history(&terms("Use zorbulate_widgets in the parser"), 50)
            .expect("search");
        assert!(hist.iter().any(|h| h.commit == future), "the setup is moot");
    }

    let repo_arg = format!("cook/book={}", s(repo));
    ok(
        swe_sleep(&[
            "eval",
            "--bench",
            s(&bench),
            "--repo",
            &repo_arg,
            "--budgets",
            "500,4000",
            "--arms",
            "sleep,no-sleep",
            "--out",
            s(&out),
        ]),
        "eval",
    );
    let lines = prediction_lines(&out);
    assert_eq!(lines.len(), 4);
    for line in &lines {
        let v: Value = serde_json::from_str(line).expect("JSON");
        for p in v["predicted"].as_array().expect("predicted") {
            let p = p.as_str().expect("a path");
            assert_ne!(p, "src/secret_future.rs", "leaked: {line}");
            assert!(base_files.contains(p), "{p} is not at base_commit: {line}");
        }
    }
    // The notebook the sleep arm used describes base_commit and nothing later.
    let nb = Notebook::open(&state).expect("open").expect("slept");
    assert_eq!(nb.info.commit.as_deref(), Some(base.as_str()));
    assert!(nb.file("src/secret_future.rs").is_none());
    assert!(nb.files().iter().all(|f| base_files.contains(&f.path)));
    let query = terms("Use zorbulate_widgets in the parser parse_widgets secret future");
    let hist = nb.search_history(&query, 1000).expect("search history");
    for h in &hist {
        assert!(
            !after_base.contains(&h.commit),
            "history after base: {} {}",
            h.commit,
            h.title
        );
    }
    let code = nb
        .search_code(&terms("zorbulate_widgets"), 50)
        .expect("search code");
    assert!(code.iter().all(|h| base_files.contains(&h.path)));
    let fh = nb
        .search_file_history(&query, 30, 50)
        .expect("search file history");
    assert!(fh.iter().all(|h| base_files.contains(&h.path)));

    // And it says exactly what a notebook that never saw the future says.
    let fresh = dir.path().join("fresh");
    ok(
        swe_sleep(&[
            "sleep",
            "--repo",
            s(repo),
            "--rev",
            &base,
            "--state-dir",
            s(&fresh),
            "--quiet",
        ]),
        "sleep at base",
    );
    let clean = Notebook::open(&fresh).expect("open").expect("slept");
    assert_same_notebook(&nb, &clean, &query);
}

/// Everything history-derived that the agent reads is the same in both.
fn assert_same_notebook(a: &Notebook, b: &Notebook, query: &[String]) {
    let paths = |n: &Notebook| n.files().iter().map(|f| f.path.clone()).collect::<Vec<_>>();
    assert_eq!(paths(a), paths(b));
    let commits = |n: &Notebook| {
        n.search_history(query, 1000)
            .expect("history")
            .into_iter()
            .map(|h| (h.commit, h.files))
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(commits(a), commits(b));
    let stats = |n: &Notebook| {
        n.file_stats()
            .expect("stats")
            .into_iter()
            .map(|(p, s)| {
                (
                    p,
                    (
                        s.changes,
                        s.last_time,
                        s.prs,
                        (s.decayed * 1e6).round() as i64,
                    ),
                )
            })
            .collect::<BTreeMap<_, _>>()
    };
    assert_eq!(stats(a), stats(b));
    for f in a.files() {
        let co = |n: &Notebook| {
            n.cochange(&f.path)
                .expect("cochange")
                .into_iter()
                .map(|(p, w, c)| (p, (w * 1e6).round() as i64, c))
                .collect::<Vec<_>>()
        };
        assert_eq!(co(a), co(b), "co-change of {}", f.path);
    }
    let cards = |n: &Notebook| {
        n.all_cards()
            .expect("cards")
            .into_iter()
            .collect::<BTreeMap<_, _>>()
    };
    let (ca, cb) = (cards(a), cards(b));
    assert_eq!(ca.keys().collect::<Vec<_>>(), cb.keys().collect::<Vec<_>>());
    for (path, card) in &cb {
        assert_eq!(ca.get(path), Some(card), "card of {path}");
    }
}

// ---------------------------------------------------------------------------
// 5. --skip-invalid

#[test]
fn eval_skip_invalid() {
    let repo = fixture("cookbook");
    let (list, _) = mine(&repo, &["--min-source", "2"]);
    let good: Vec<String> = list[..2]
        .iter()
        .map(|i| serde_json::to_string(i).expect("serialize"))
        .collect();
    let bad = good[1]
        .replace(&list[1].base_commit, "not-a-commit")
        .replace("cook__book-3", "cook__book-bad");
    let dir = temp_dir("skip-");
    let bench = write_bench(dir.path(), &[good[0].clone(), bad, good[1].clone()]);
    let out = dir.path().join("out");
    let repo_arg = format!("cook/book={}", s(&repo));
    let mut args = vec![
        "eval",
        "--bench",
        s(&bench),
        "--repo",
        &repo_arg,
        // A budget or an arm named twice is run once.
        "--budgets",
        "500,500",
        "--arms",
        "no-sleep,no-sleep",
        "--out",
        s(&out),
    ];
    let o = swe_sleep(&args);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("bench.jsonl:2:"), "{err}");
    assert!(err.contains("base_commit"), "{err}");
    assert!(!out.join("predictions.jsonl").exists());

    args.push("--skip-invalid");
    let o = ok(swe_sleep(&args), "eval --skip-invalid");
    let err = stderr(&o);
    assert!(err.contains("warning"), "{err}");
    assert!(
        err.contains("bench.jsonl:2:") && err.contains("base_commit"),
        "{err}"
    );
    let ids: BTreeSet<String> = prediction_lines(&out).iter().map(|l| key(l).0).collect();
    assert_eq!(
        ids,
        BTreeSet::from(["cook__book-1".to_string(), "cook__book-3".to_string()])
    );
    assert_eq!(prediction_lines(&out).len(), 2, "one run per instance");
}

// ---------------------------------------------------------------------------
// The schema of one instance line

/// A full, valid instance line as JSON.
fn full_instance() -> Value {
    let c = "0123456789012345678901234567890123456789";
    let d = "abcdefabcdefabcdefabcdefabcdefabcdefabcd";
    json!({
        "instance_id": "o__r-2", "repo": "o/r", "pr_number": 2, "title": "Add y",
        "body": "Why.", "created_at": "2024-01-15T10:00:00+00:00",
        "base_commit": c, "head_commit": d,
        "changed_files": [{"filename": "a.rs", "status": "modified"}],
        "context_prs": [{
            "pr_number": 1, "title": "Add x", "body": "", "base_commit": c,
            "head_commit": d, "changed_files": [{"filename": "a.rs", "status": "added"}]
        }]
    })
}

/// The keys of the object at `path` in `full_instance()` whose removal
/// makes `parse_line` fail.
fn required_by_parse_line(path: &[&str]) -> BTreeSet<String> {
    let full = full_instance();
    let obj = path.iter().fold(&full, |v, p| match p.parse::<usize>() {
        Ok(i) => &v[i],
        Err(_) => &v[*p],
    });
    let keys: Vec<String> = obj.as_object().expect("object").keys().cloned().collect();
    keys.into_iter()
        .filter(|k| {
            let mut v = full.clone();
            let target = path.iter().fold(&mut v, |v, p| match p.parse::<usize>() {
                Ok(i) => &mut v[i],
                Err(_) => &mut v[*p],
            });
            target.as_object_mut().expect("object").remove(k);
            parse_line(&v.to_string()).is_err()
        })
        .collect()
}

fn names(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .expect("an array")
        .iter()
        .map(|x| x.as_str().expect("a string").to_string())
        .collect()
}

/// The `$defs` entry an array property's items refer to.
fn item_def<'a>(schema: &'a Value, prop: &Value) -> &'a Value {
    let r = prop["items"]["$ref"].as_str().expect("items.$ref");
    let name = r.strip_prefix("#/$defs/").expect("a local $defs ref");
    &schema["$defs"][name]
}

#[test]
fn schema_matches_parse_line() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/instance.schema.json");
    let text = std::fs::read_to_string(&path).expect("docs/instance.schema.json");
    let schema: Value = serde_json::from_str(&text).expect("the schema is JSON");
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    parse_line(&full_instance().to_string()).expect("the full instance is valid");

    assert_eq!(names(&schema["required"]), required_by_parse_line(&[]));
    let props = &schema["properties"];
    let all: BTreeSet<String> = full_instance()
        .as_object()
        .expect("object")
        .keys()
        .cloned()
        .collect();
    let listed: BTreeSet<String> = props
        .as_object()
        .expect("properties")
        .keys()
        .cloned()
        .collect();
    assert_eq!(listed, all);

    let changed = item_def(&schema, &props["changed_files"]);
    assert_eq!(
        names(&changed["required"]),
        required_by_parse_line(&["changed_files", "0"])
    );
    let context = item_def(&schema, &props["context_prs"]);
    assert_eq!(
        names(&context["required"]),
        required_by_parse_line(&["context_prs", "0"])
    );
    assert_eq!(
        item_def(&schema, &context["properties"]["changed_files"]),
        changed
    );

    // The statuses the schema allows are exactly the ones parse_line takes.
    let statuses = names(&changed["properties"]["status"]["enum"]);
    for st in [
        "modified",
        "added",
        "removed",
        "renamed",
        "copied",
        "unchanged",
        "",
    ] {
        let mut v = full_instance();
        v["changed_files"][0]["status"] = json!(st);
        assert_eq!(
            parse_line(&v.to_string()).is_ok(),
            statuses.contains(st),
            "status {st:?}"
        );
    }
    // Commit ids: 40 hex digits, as the pattern says.
    let pattern = props["base_commit"]["pattern"].as_str().expect("pattern");
    assert_eq!(pattern, "^[0-9a-fA-F]{40}$");
    assert_eq!(props["head_commit"]["pattern"], pattern);
}

#[test]
fn benchmark_doc_states_the_defaults() {
    use swe_sleep::eval::mine;
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/benchmark.md");
    let doc = std::fs::read_to_string(path).expect("docs/benchmark.md");
    let flat = doc.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains(&format!("`{}`", mine::DEFAULT_FEATURE_WORDS)));
    assert!(flat.contains(&format!("`{}`", mine::DEFAULT_EXCLUDE_WORDS)));
    let exts = mine::DEFAULT_SOURCE_EXTS.replace(',', " ");
    assert!(flat.contains(&format!("`{exts}`")), "source extensions");
    for (option, default) in [
        ("--max-files N", mine::DEFAULT_MAX_FILES),
        ("--min-modified N", mine::DEFAULT_MIN_MODIFIED),
        ("--min-source N", mine::DEFAULT_MIN_SOURCE),
    ] {
        assert!(
            flat.contains(&format!("`{option}` ({default})")),
            "{option}"
        );
    }
    assert!(flat.contains(&format!("`--context N`, default {}", mine::DEFAULT_CONTEXT)));
}
