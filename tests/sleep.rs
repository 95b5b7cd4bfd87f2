//! `swe-sleep sleep` and `swe-sleep status` end to end: the real binary on
//! the fixture repositories of `fixtures/repos/` (facts from its README),
//! and the notebook it leaves read back through the library.

mod support;

use support::cli::{fails, ok, one_json_object, p, stdout, swe_sleep};

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use swe_sleep::config::Config;
use swe_sleep::git::Repo;
use swe_sleep::notebook::{self, NoProgress, Notebook, Target};
use swe_sleep::text::terms;

use support::{bare_clone, fixture, fixture_copy, git, shallow_clone, temp_dir};

const COOKBOOK_HEAD: &str = "959c2c237ead11bf2286722428850ad71a5fb8c8";
const HOSTILE_HEAD: &str = "c5e56d8726ad8709931c6db1051e65c1acec0350";

// ---------------------------------------------------------------------------
// Helpers

/// Runs `swe-sleep args...` with `env` set.
fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = swe_sleep();
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("the swe-sleep binary runs")
}

/// `swe-sleep sleep --json --quiet --repo REPO [--state-dir STATE] [--rev REV]`,
/// which must succeed; the report, with its documented shape checked.
fn sleep_json(repo: &Path, state: Option<&Path>, rev: Option<&str>, env: &[(&str, &str)]) -> Value {
    let mut args = vec!["sleep", "--json", "--quiet", "--repo", p(repo)];
    if let Some(s) = state {
        args.extend(["--state-dir", p(s)]);
    }
    if let Some(r) = rev {
        args.extend(["--rev", r]);
    }
    let report = one_json_object(&ok(run(&args, env), &args.join(" ")));
    assert_report_shape(&report);
    if let Some(s) = state {
        assert_eq!(report["state_dir"], p(s), "{report}");
    }
    report
}

fn status_json(repo: &Path, state: &Path, rev: Option<&str>) -> Value {
    let mut args = vec![
        "status",
        "--json",
        "--repo",
        p(repo),
        "--state-dir",
        p(state),
    ];
    if let Some(r) = rev {
        args.extend(["--rev", r]);
    }
    one_json_object(&ok(run(&args, &[]), &args.join(" ")))
}

fn status_text(repo: &Path, state: &Path, rev: Option<&str>) -> String {
    let mut args = vec!["status", "--repo", p(repo), "--state-dir", p(state)];
    if let Some(r) = rev {
        args.extend(["--rev", r]);
    }
    stdout(&ok(run(&args, &[]), &args.join(" ")))
}

/// The keys README and `SleepReport` document, with their types.
fn assert_report_shape(r: &Value) {
    for key in ["repo", "state_dir", "rev"] {
        assert!(r[key].is_string(), "`{key}` is not a string in {r}");
    }
    assert!(
        r["commit"].is_null() || r["commit"].as_str().is_some_and(is_oid),
        "`commit` is not a commit id in {r}"
    );
    for key in [
        "files",
        "parsed",
        "symbols",
        "import_edges",
        "cochange_edges",
        "commits",
        "prs",
    ] {
        assert!(r["counts"][key].is_u64(), "`counts.{key}` missing in {r}");
    }
    for key in [
        "blobs_new",
        "blobs_reused",
        "commits_mined",
        "commits_reused",
        "sleep_tokens",
    ] {
        assert!(r[key].is_u64(), "`{key}` missing in {r}");
    }
    let secs = r["seconds"].as_f64().expect("`seconds` is a number");
    assert!((0.0..600.0).contains(&secs), "seconds {secs}");
    assert!(r["counts"]["parsed"].as_u64() <= r["counts"]["files"].as_u64());
}

fn is_oid(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

fn open(state: &Path) -> Notebook {
    Notebook::open(state)
        .expect("the notebook opens")
        .expect("a finished sleep left a notebook")
}

fn rev_parse(repo: &Path, rev: &str) -> String {
    git(repo, &["rev-parse", rev]).trim().to_string()
}

/// Path -> blob id of every file in the tree of `rev`.
fn tree_blobs(repo: &Path, rev: &str) -> BTreeMap<String, String> {
    git(repo, &["ls-tree", "-r", "--full-tree", rev])
        .lines()
        .filter_map(|l| {
            let (meta, path) = l.split_once('\t')?;
            let mut f = meta.split_whitespace();
            let (_mode, kind, oid) = (f.next()?, f.next()?, f.next()?);
            (kind == "blob").then(|| (path.to_string(), oid.to_string()))
        })
        .collect()
}

/// Status of each file in the notebook.
fn statuses(nb: &Notebook) -> BTreeMap<String, String> {
    nb.files()
        .iter()
        .map(|f| (f.path.clone(), f.status.clone()))
        .collect()
}

fn defined_in(nb: &Notebook, symbol: &str) -> BTreeSet<String> {
    nb.symbol_defs(symbol)
        .expect("symbol query")
        .into_iter()
        .map(|(path, _, _)| path)
        .collect()
}

fn query(text: &str) -> Vec<String> {
    terms(text)
}

// ---------------------------------------------------------------------------
// 1 and 10. cookbook at HEAD: counts, symbols, co-change, imports, cards,
// history search, and the JSON report.

#[test]
fn cookbook_at_head_holds_the_documented_facts() {
    let repo = fixture("cookbook");
    let state = temp_dir("state-");
    let r = sleep_json(&repo, Some(state.path()), Some("HEAD"), &[]);

    // The report.
    assert_eq!(r["rev"], "HEAD");
    assert_eq!(r["commit"], COOKBOOK_HEAD);
    assert_eq!(r["worktree"], false);
    let c = &r["counts"];
    assert_eq!(n(&c["files"]), 53, "{r}");
    assert_eq!(
        n(&c["parsed"]),
        53,
        "every cookbook file is small text: {r}"
    );
    assert_eq!(n(&c["commits"]), 28, "first-parent commits: {r}");
    assert_eq!(n(&c["prs"]), 18, "12 merges and 6 squashes: {r}");
    assert!(n(&c["symbols"]) >= 20, "{r}");
    assert!(n(&c["import_edges"]) >= 1, "{r}");
    assert!(n(&c["cochange_edges"]) >= 2, "{r}");
    let distinct: BTreeSet<String> = tree_blobs(&repo, "HEAD").into_values().collect();
    assert_eq!(n(&r["blobs_new"]), distinct.len() as u64, "{r}");
    assert_eq!(n(&r["blobs_new"]) + n(&r["blobs_reused"]), 53, "{r}");
    assert_eq!(n(&r["commits_mined"]), 28, "{r}");
    assert_eq!(n(&r["commits_reused"]), 0, "{r}");
    assert!(n(&r["sleep_tokens"]) > 1000, "{r}");
    assert!(r["shallow_boundary"].is_null(), "{r}");

    let nb = open(state.path());
    assert_eq!(nb.info.commit.as_deref(), Some(COOKBOOK_HEAD));
    assert!(!nb.info.worktree);
    assert_eq!(nb.files().len(), 53);
    let committed: BTreeSet<String> = tree_blobs(&repo, "HEAD").into_keys().collect();
    let listed: BTreeSet<String> = nb.files().iter().map(|f| f.path.clone()).collect();
    assert_eq!(listed, committed);

    // Symbols.
    let defs = nb.symbol_defs("parse_recipe").expect("symbol query");
    assert!(
        defs.iter()
            .any(|(path, kind, line)| path == "src/recipe.rs" && kind == "function" && *line > 0),
        "parse_recipe is a function in src/recipe.rs: {defs:?}"
    );
    assert!(defined_in(&nb, "Recipe").contains("src/recipe.rs"));
    assert!(defined_in(&nb, "parse_ingredients").contains("src/parser.rs"));
    assert!(defined_in(&nb, "convert_units").contains("src/units.rs"));
    assert!(defined_in(&nb, "scale_recipe").contains("py/cookbook_tools/scale.py"));

    // Co-change: recipe.rs and parser.rs change together in 8 first-parent
    // commits once the 37-file commit 10 is left out.
    let with_recipe = nb.cochange("src/recipe.rs").expect("co-change query");
    let parser = with_recipe
        .iter()
        .find(|(b, _, _)| b == "src/parser.rs")
        .unwrap_or_else(|| panic!("parser.rs changes with recipe.rs: {with_recipe:?}"));
    assert_eq!(parser.2, 8, "{with_recipe:?}");
    assert!(parser.1 > 0.0);
    let with_parser = nb.cochange("src/parser.rs").expect("co-change query");
    assert!(
        with_parser
            .iter()
            .any(|(b, _, n)| b == "src/recipe.rs" && *n == 8),
        "{with_parser:?}"
    );
    assert!(
        !with_recipe
            .iter()
            .any(|(b, _, _)| b.starts_with("examples/")),
        "the >30-file commit must not make examples co-change partners: {with_recipe:?}"
    );
    assert!(
        nb.cochange("examples/recipe_01.rs")
            .expect("co-change query")
            .is_empty()
    );
    // The Python side never changes with Rust files.
    assert!(
        nb.cochange("py/cookbook_tools/scale.py")
            .expect("co-change query")
            .iter()
            .all(|(b, _, _)| b.starts_with("py/") || !b.ends_with(".rs")),
    );
    let units = nb.cochange("src/units.rs").expect("co-change query");
    assert!(
        units
            .iter()
            .any(|(b, _, n)| b == "docs/units.md" && *n == 5),
        "units.rs and docs/units.md change together in PRs #2 #6 #10 #13 #16: {units:?}"
    );

    // Per-file history counts every change, PRs newest first.
    let stats = nb.file_stats().expect("file stats");
    let u = &stats["src/units.rs"];
    assert_eq!(u.changes, 6, "initial commit and five PRs");
    let prs: Vec<u64> = u.prs.iter().map(|(n, _)| *n).collect();
    assert_eq!(prs, vec![16, 13, 10, 6, 2]);
    assert_eq!(stats["CHANGELOG.md"].changes, 20);

    // Imports.
    let imports = nb.imports("src/parser.rs").expect("imports query");
    assert!(
        imports.contains(&"src/recipe.rs".to_string()),
        "{imports:?}"
    );
    assert!(
        nb.imported_by("src/recipe.rs")
            .expect("imported_by query")
            .contains(&"src/parser.rs".to_string())
    );

    // The card names the newest PRs that touched the file.
    let card = nb
        .card("src/recipe.rs")
        .expect("card query")
        .expect("src/recipe.rs has a card");
    assert!(card.starts_with("## src/recipe.rs"), "{card}");
    for title in [
        "#18 Parse ingredient notes in parentheses",
        "#17 Add recipe search to the CLI",
    ] {
        assert!(card.contains(title), "card lacks {title:?}:\n{card}");
    }
    assert!(card.contains("src/parser.rs (8)"), "{card}");
    assert_eq!(
        nb.all_cards().expect("all cards").len(),
        53,
        "one card per file"
    );

    // History search: the unit-conversion PRs, each with src/units.rs.
    let past = nb
        .search_history(&query("unit conversion"), 10)
        .expect("history search");
    let top: Vec<_> = past.iter().take(5).collect();
    let top_prs: BTreeSet<u64> = top.iter().filter_map(|c| c.pr).collect();
    assert_eq!(
        top_prs,
        BTreeSet::from([2, 6, 10, 13, 16]),
        "top results: {:?}",
        top.iter().map(|c| (&c.pr, &c.title)).collect::<Vec<_>>()
    );
    for c in &top {
        assert!(
            c.files.contains(&"src/units.rs".to_string()),
            "PR {:?} {:?} modified src/units.rs: {:?}",
            c.pr,
            c.title,
            c.files
        );
    }
    // Code search reaches file content.
    let hits = nb
        .search_code(&query("convert_units"), 5)
        .expect("code search");
    assert_eq!(
        hits.first().map(|h| h.path.as_str()),
        Some("src/units.rs"),
        "{hits:?}"
    );
}

// ---------------------------------------------------------------------------
// 2. Incremental sleeps reuse blobs and commits.

#[test]
fn sleeping_again_reads_only_what_changed() {
    let repo = fixture("cookbook");
    let state = temp_dir("state-");
    let old = rev_parse(&repo, "HEAD~5");

    let first = sleep_json(&repo, Some(state.path()), Some("HEAD~5"), &[]);
    assert_eq!(first["commit"], old.as_str());
    assert_eq!(n(&first["counts"]["commits"]), 23, "{first}");
    assert_eq!(n(&first["commits_mined"]), 23);
    {
        let nb = open(state.path());
        assert_eq!(nb.info.commit.as_deref(), Some(old.as_str()));
        // `split_note` arrives with PR #18, after HEAD~5.
        assert!(defined_in(&nb, "split_note").is_empty());
    }

    let second = sleep_json(&repo, Some(state.path()), Some("HEAD"), &[]);
    let before: BTreeSet<String> = tree_blobs(&repo, "HEAD~5").into_values().collect();
    let after = tree_blobs(&repo, "HEAD");
    let changed: BTreeSet<&String> = after.values().filter(|o| !before.contains(*o)).collect();
    assert!(!changed.is_empty() && changed.len() < 15, "{changed:?}");
    assert_eq!(n(&second["blobs_new"]), changed.len() as u64, "{second}");
    assert_eq!(
        n(&second["blobs_reused"]),
        after.len() as u64 - changed.len() as u64,
        "{second}"
    );
    assert_eq!(n(&second["commits_mined"]), 5, "{second}");
    assert_eq!(n(&second["commits_reused"]), 23, "{second}");
    assert_eq!(n(&second["counts"]["commits"]), 28, "{second}");
    assert_eq!(n(&second["counts"]["files"]), 53, "{second}");
    assert!(n(&second["sleep_tokens"]) < n(&first["sleep_tokens"]));
    {
        let nb = open(state.path());
        assert_eq!(nb.info.commit.as_deref(), Some(COOKBOOK_HEAD));
        assert_eq!(
            defined_in(&nb, "split_note"),
            BTreeSet::from(["src/parser.rs".to_string()])
        );
    }

    // The same revision again: nothing to read, nothing to mine.
    let third = sleep_json(&repo, Some(state.path()), Some("HEAD"), &[]);
    assert_eq!(n(&third["blobs_new"]), 0, "{third}");
    assert_eq!(n(&third["blobs_reused"]), 53, "{third}");
    assert_eq!(n(&third["commits_mined"]), 0, "{third}");
    assert_eq!(n(&third["commits_reused"]), 28, "{third}");
    assert_eq!(n(&third["sleep_tokens"]), 0, "{third}");
    assert_eq!(third["counts"], second["counts"]);

    // Going back is also served from the cache.
    let back = sleep_json(&repo, Some(state.path()), Some("HEAD~5"), &[]);
    assert_eq!(n(&back["blobs_new"]), 0, "{back}");
    assert_eq!(n(&back["commits_mined"]), 0, "{back}");
    assert_eq!(back["counts"], first["counts"]);
    assert!(defined_in(&open(state.path()), "split_note").is_empty());
}

// ---------------------------------------------------------------------------
// 3. The hostile repository: work tree and tree mode.

#[test]
fn hostile_work_tree_is_read_as_a_developer_sees_it() {
    let copy = fixture_copy("hostile");
    let repo = copy.path();
    let before = git(repo, &["status", "--porcelain", "--untracked-files=all"]);

    // No --state-dir: the notebook goes to .swe-sleep/ in the work tree.
    let r = sleep_json(repo, None, None, &[]);
    assert_eq!(r["rev"], "work tree");
    assert_eq!(r["worktree"], true);
    assert_eq!(r["commit"], HOSTILE_HEAD);
    assert_eq!(
        n(&r["skipped_vendored"]),
        2,
        "vendor/ and node_modules/: {r}"
    );
    assert_eq!(n(&r["counts"]["commits"]), 4, "{r}");
    assert!(
        n(&r["bytes_read"]) < 1024 * 1024,
        "the 3.4 MB generated file must not be read: {r}"
    );
    let state = repo.join(".swe-sleep");
    assert!(state.join("notebook.sqlite").is_file());
    assert_eq!(
        Path::new(r["state_dir"].as_str().expect("state_dir"))
            .canonicalize()
            .ok(),
        state.canonicalize().ok()
    );
    let exclude = std::fs::read_to_string(repo.join(".git/info/exclude")).expect("exclude");
    assert_eq!(
        exclude
            .lines()
            .filter(|l| l.trim() == "/.swe-sleep/")
            .count(),
        1,
        "{exclude}"
    );
    assert!(
        exclude.lines().any(|l| l.trim() == "scratch/"),
        "kept: {exclude}"
    );
    assert_eq!(
        git(repo, &["status", "--porcelain", "--untracked-files=all"]),
        before,
        "the notebook does not show in git status"
    );

    let nb = open(&state);
    assert!(nb.info.worktree);
    assert_eq!(nb.info.commit.as_deref(), Some(HOSTILE_HEAD));
    let st = statuses(&nb);
    for gone in [
        "debug.log",
        "target/out.rs",
        "scratch/notes.rs",
        "docs/drop.md",
    ] {
        assert!(!st.contains_key(gone), "{gone} is ignored: {st:?}");
    }
    for kept in ["docs/keep.md", "src/new_file.rs", ".swe-sleepignore"] {
        assert_eq!(
            st.get(kept).map(String::as_str),
            Some("parsed"),
            "{kept}: {st:?}"
        );
    }
    assert!(
        !st.keys()
            .any(|p| p.starts_with("vendor/") || p.starts_with("node_modules/")),
        "vendored trees and the submodule are skipped: {st:?}"
    );
    assert!(
        !st.keys().any(|p| p.starts_with(".swe-sleep/")),
        "the notebook never indexes itself: {st:?}"
    );
    assert!(defined_in(&nb, "brand_new").contains("src/new_file.rs"));
    assert_hostile_committed_files(&nb, &st);
    assert_eq!(st.len(), 17, "{st:?}");
    drop(nb);

    // Again: nothing new to read, and the exclude line is not repeated.
    let again = sleep_json(repo, None, None, &[]);
    assert_eq!(again["counts"], r["counts"]);
    assert_eq!(n(&again["blobs_new"]), 0, "{again}");
    let exclude = std::fs::read_to_string(repo.join(".git/info/exclude")).expect("exclude");
    assert_eq!(
        exclude
            .lines()
            .filter(|l| l.trim() == "/.swe-sleep/")
            .count(),
        1
    );

    // status finds the default notebook too.
    let s = one_json_object(&ok(
        run(&["status", "--json", "--repo", p(repo)], &[]),
        "status",
    ));
    assert_eq!(s["exists"], true);
    assert_eq!(s["worktree"], true);
    assert_eq!(s["up_to_date"], true);
    assert_eq!(s["worktree_changes"]["changed"], 0, "{s}");
    let text = stdout(&ok(run(&["status", "--repo", p(repo)], &[]), "status"));
    assert!(text.contains("Up to date with the work tree"), "{text}");
    assert!(text.contains("Next: `swe-sleep predict"), "{text}");

    // Edits after the build are noticed: one changed, one added, one removed.
    std::fs::write(repo.join("src/lib.rs"), "pub fn changed() {}\n").expect("edit");
    std::fs::write(repo.join("src/another.rs"), "pub fn another() {}\n").expect("add");
    std::fs::remove_file(repo.join("src/empty.rs")).expect("remove");
    let s = one_json_object(&ok(
        run(&["status", "--json", "--repo", p(repo)], &[]),
        "status",
    ));
    let d = &s["worktree_changes"];
    assert_eq!(
        (
            d["changed"].as_u64(),
            d["added"].as_u64(),
            d["removed"].as_u64()
        ),
        (Some(1), Some(1), Some(1)),
        "{s}"
    );
    assert_eq!(d["changed_paths"], serde_json::json!(["src/lib.rs"]));
    let text = stdout(&ok(run(&["status", "--repo", p(repo)], &[]), "status"));
    assert!(
        text.contains("1 file changed, 1 file added, 1 file removed in the work tree since the notebook was built"),
        "{text}"
    );
    assert!(text.contains("`swe-sleep sleep` updates it"), "{text}");
}

/// What both modes must say about the committed hostile files.
fn assert_hostile_committed_files(nb: &Notebook, st: &BTreeMap<String, String>) {
    let status = |path: &str| st.get(path).map(String::as_str);
    assert_eq!(status("link_out"), Some("symlink"));
    assert_eq!(status("src/link_in.rs"), Some("symlink"));
    assert_eq!(status("assets/logo.png"), Some("binary"));
    assert_eq!(status("data/nul_in_middle.txt"), Some("binary"));
    assert_eq!(status("generated/big_table.rs"), Some("too_large"));
    for parsed in [
        "Cargo.toml",
        "src/lib.rs",
        "src/main.rs",
        "src/latin1.rs",
        "src/nested.rs",
        "src/broken.rs",
        "src/empty.rs",
    ] {
        assert_eq!(status(parsed), Some("parsed"), "{parsed}: {st:?}");
    }
    assert_eq!(
        nb.file("generated/big_table.rs").map(|f| f.size),
        Some(3_400_079)
    );
    // Symlinks are recorded by path only.
    for link in ["link_out", "src/link_in.rs"] {
        assert_eq!(nb.file(link).and_then(|f| f.blob), None, "{link}");
        assert_eq!(nb.blob_oid(link).expect("blob query"), None);
    }
    assert!(defined_in(nb, "latin_one").contains("src/latin1.rs"));
    assert!(defined_in(nb, "still_here").contains("src/broken.rs"));
    assert!(defined_in(nb, "hello").contains("src/lib.rs"));
    // `hello` is defined once: the symlink src/link_in.rs -> lib.rs is not
    // read as a second copy.
    assert_eq!(nb.symbol_defs("hello").expect("symbol query").len(), 1);
    // /etc/passwd, behind link_out, never reaches the index.
    for word in ["root", "daemon", "nologin", "passwd"] {
        let hits = nb.search_code(&query(word), 10).expect("code search");
        assert!(
            hits.is_empty(),
            "{word:?} comes only from /etc/passwd: {hits:?}"
        );
    }
    let card = nb
        .card("assets/logo.png")
        .expect("card query")
        .expect("binary files have a card");
    assert!(card.contains("content not indexed: binary"), "{card}");
}

#[test]
fn hostile_tree_mode_reads_only_committed_files() {
    let copy = fixture_copy("hostile");
    let repo = copy.path();
    let exclude_before = std::fs::read_to_string(repo.join(".git/info/exclude")).expect("exclude");
    let state = temp_dir("state-");
    let r = sleep_json(repo, Some(state.path()), Some("HEAD"), &[]);
    assert_eq!(r["commit"], HOSTILE_HEAD);
    assert_eq!(r["worktree"], false);
    assert_eq!(n(&r["skipped_submodules"]), 1, "vendor/sub: {r}");
    assert_eq!(n(&r["skipped_vendored"]), 2, "{r}");
    assert!(n(&r["bytes_read"]) < 1024 * 1024, "{r}");

    let nb = open(state.path());
    let st = statuses(&nb);
    let committed: BTreeSet<String> = git(repo, &["ls-tree", "-r", "--name-only", "HEAD"])
        .lines()
        .filter(|p| !p.starts_with("vendor/") && !p.starts_with("node_modules/"))
        .map(str::to_string)
        .collect();
    assert_eq!(st.keys().cloned().collect::<BTreeSet<_>>(), committed);
    assert_eq!(st.len(), 13);
    for untracked in ["src/new_file.rs", "docs/keep.md", ".gitignore"] {
        assert!(!st.contains_key(untracked), "{untracked}");
    }
    assert_hostile_committed_files(&nb, &st);

    // With --state-dir nothing is written in the repository.
    assert!(!repo.join(".swe-sleep").exists());
    assert_eq!(
        std::fs::read_to_string(repo.join(".git/info/exclude")).expect("exclude"),
        exclude_before
    );
}

// ---------------------------------------------------------------------------
// 4. Bare repository.

#[test]
fn bare_repository_sleeps_at_head_with_state_in_the_git_dir() {
    let bare = bare_clone(&fixture("cookbook"));
    let gitdir = bare.path();
    let exclude_before = std::fs::read_to_string(gitdir.join("info/exclude")).ok();
    let r = sleep_json(gitdir, None, None, &[]);
    assert_eq!(r["rev"], "HEAD");
    assert_eq!(r["worktree"], false);
    assert_eq!(r["commit"], COOKBOOK_HEAD);
    assert_eq!(n(&r["counts"]["files"]), 53);
    assert_eq!(n(&r["counts"]["commits"]), 28);
    let state = gitdir.join("swe-sleep");
    assert!(state.join("notebook.sqlite").is_file(), "{r}");
    assert_eq!(
        Path::new(r["state_dir"].as_str().expect("state_dir"))
            .canonicalize()
            .ok(),
        state.canonicalize().ok()
    );
    assert!(!gitdir.join(".swe-sleep").exists());
    assert_eq!(
        std::fs::read_to_string(gitdir.join("info/exclude")).ok(),
        exclude_before,
        "a bare repository's exclude file is left alone"
    );
    let nb = open(&state);
    assert_eq!(nb.info.commit.as_deref(), Some(COOKBOOK_HEAD));
    assert!(defined_in(&nb, "parse_recipe").contains("src/recipe.rs"));

    let s = one_json_object(&ok(
        run(&["status", "--json", "--repo", p(gitdir)], &[]),
        "status",
    ));
    assert_eq!(s["exists"], true);
    assert_eq!(s["up_to_date"], true);
}

// ---------------------------------------------------------------------------
// 5. Shallow clone.

#[test]
fn shallow_clone_sleeps_and_says_where_history_stops() {
    let clone = shallow_clone(&fixture("cookbook"), 5);
    let repo = clone.path();
    let state = temp_dir("state-");
    let chain: Vec<String> = git(repo, &["rev-list", "--first-parent", "HEAD"])
        .lines()
        .map(str::to_string)
        .collect();
    assert!(chain.len() <= 5, "{chain:?}");
    let boundary = chain.last().expect("the clone has commits").clone();

    let r = sleep_json(repo, Some(state.path()), Some("HEAD"), &[]);
    assert_eq!(r["commit"], COOKBOOK_HEAD);
    assert_eq!(n(&r["counts"]["files"]), 53);
    assert_eq!(n(&r["counts"]["commits"]), chain.len() as u64, "{r}");
    assert_eq!(r["shallow_boundary"], boundary.as_str(), "{r}");

    // Again, from the cache, in words.
    let o = ok(
        run(
            &[
                "sleep",
                "--quiet",
                "--repo",
                p(repo),
                "--rev",
                "HEAD",
                "--state-dir",
                p(state.path()),
            ],
            &[],
        ),
        "sleep",
    );
    let text = stdout(&o);
    assert!(text.contains("Shallow clone"), "{text}");
    assert!(text.contains(&boundary[..12]), "{text}");
    let s = status_json(repo, state.path(), None);
    assert_eq!(s["shallow_boundary"], boundary.as_str(), "{s}");
    assert_eq!(s["up_to_date"], true);
    let text = status_text(repo, state.path(), None);
    assert!(text.contains("Shallow clone"), "{text}");

    // A full clone's history is not shallow.
    let full_state = temp_dir("state-");
    let full = sleep_json(
        &fixture("cookbook"),
        Some(full_state.path()),
        Some("HEAD"),
        &[],
    );
    assert!(full["shallow_boundary"].is_null());
}

#[test]
fn deepening_a_shallow_clone_extends_the_history() {
    let clone = shallow_clone(&fixture("cookbook"), 3);
    let repo = clone.path();
    let state = temp_dir("state-");
    let boundary = |repo: &Path| {
        git(repo, &["rev-list", "--first-parent", "HEAD"])
            .lines()
            .last()
            .expect("commits")
            .to_string()
    };
    let first = sleep_json(repo, Some(state.path()), Some("HEAD"), &[]);
    assert_eq!(
        first["shallow_boundary"],
        boundary(repo).as_str(),
        "{first}"
    );
    assert_eq!(n(&first["counts"]["commits"]), 3, "{first}");

    git(repo, &["fetch", "--quiet", "--deepen=4"]);
    let second = sleep_json(repo, Some(state.path()), Some("HEAD"), &[]);
    let count = git(repo, &["rev-list", "--first-parent", "--count", "HEAD"]);
    assert_eq!(
        n(&second["counts"]["commits"]),
        count.trim().parse::<u64>().expect("a count"),
        "{second}"
    );
    assert!(n(&second["counts"]["commits"]) > 3, "{second}");
    assert_eq!(
        second["shallow_boundary"],
        boundary(repo).as_str(),
        "{second}"
    );
    assert_ne!(second["shallow_boundary"], first["shallow_boundary"]);

    git(repo, &["fetch", "--quiet", "--unshallow"]);
    let full = sleep_json(repo, Some(state.path()), Some("HEAD"), &[]);
    assert!(full["shallow_boundary"].is_null(), "{full}");
    assert_eq!(n(&full["counts"]["commits"]), 28, "{full}");
    assert_eq!(n(&full["counts"]["prs"]), 18, "{full}");
    assert_eq!(n(&full["blobs_new"]), 0, "{full}");

    // The same notebook as a sleep on the full history from scratch.
    let fresh = temp_dir("state-");
    let scratch = sleep_json(&fixture("cookbook"), Some(fresh.path()), Some("HEAD"), &[]);
    assert_eq!(full["counts"], scratch["counts"]);
    let (a, b) = (open(state.path()), open(fresh.path()));
    assert_eq!(
        a.cochange("src/recipe.rs").expect("co-change"),
        b.cochange("src/recipe.rs").expect("co-change")
    );
    let q = query("unit conversion");
    let titles = |nb: &Notebook| -> Vec<(Option<u64>, String, Vec<String>)> {
        nb.search_history(&q, 10)
            .expect("history search")
            .into_iter()
            .map(|c| (c.pr, c.title, c.files))
            .collect()
    };
    assert_eq!(titles(&a), titles(&b));
    // Commits mined at a boundary and mined again leave nothing behind.
    let db = rusqlite::Connection::open_with_flags(
        state.path().join("notebook.sqlite"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open the database");
    for table in ["commit_files", "commit_terms"] {
        let orphans: i64 = db
            .query_row(
                &format!(
                    "SELECT count(*) FROM {table} WHERE commit_id NOT IN (SELECT id FROM commits)"
                ),
                [],
                |r| r.get(0),
            )
            .expect("count orphans");
        assert_eq!(orphans, 0, "{table} rows of replaced commits");
    }
}

// ---------------------------------------------------------------------------
// 6. Empty repository.

#[test]
fn empty_repository_has_no_commits_and_no_notebook() {
    let repo = fixture("empty");
    let state = temp_dir("state-");
    let err = fails(
        run(
            &[
                "sleep",
                "--repo",
                p(&repo),
                "--rev",
                "HEAD",
                "--state-dir",
                p(state.path()),
            ],
            &[],
        ),
        "sleep on an empty repository",
    );
    assert!(err.contains("no commits"), "{err}");
    assert!(!state.path().join("notebook.sqlite").exists());

    let text = status_text(&repo, state.path(), None);
    assert!(text.contains("No notebook"), "{text}");
    assert!(text.contains("this repository has no commits"), "{text}");
    assert!(!text.contains("Next: `swe-sleep sleep`"), "{text}");
    let s = status_json(&repo, state.path(), None);
    assert_eq!(s["exists"], false);
    assert!(s["current"].is_null());
    assert_eq!(s["up_to_date"], false);
    assert!(Notebook::open(state.path()).expect("open").is_none());
}

// ---------------------------------------------------------------------------
// 7. Bad input fails cleanly and leaves the last notebook alone.

#[test]
fn bad_input_fails_with_a_clear_message_and_keeps_the_notebook() {
    let copy = fixture_copy("cookbook");
    let repo = copy.path();
    let state = temp_dir("state-");
    let good = rev_parse(repo, "HEAD~2");
    sleep_json(repo, Some(state.path()), Some("HEAD~2"), &[]);
    let intact = |what: &str| {
        let nb = open(state.path());
        assert_eq!(
            nb.info.commit.as_deref(),
            Some(good.as_str()),
            "after {what}"
        );
        assert_eq!(nb.files().len(), 53, "after {what}");
        assert!(defined_in(&nb, "parse_recipe").contains("src/recipe.rs"));
        let s = notebook::status(
            &Repo::open(repo).expect("open"),
            state.path(),
            None,
            &Default::default(),
        )
        .expect("status");
        assert_eq!(s.commits_behind, Some(2), "after {what}");
    };
    let sd = p(state.path()).to_string();

    let err = fails(
        run(
            &["sleep", "--repo", "/nonexistent", "--state-dir", &sd],
            &[],
        ),
        "--repo /nonexistent",
    );
    assert!(err.contains("/nonexistent"), "{err}");
    assert!(err.contains("not a git repository"), "{err}");
    intact("--repo /nonexistent");
    let err = fails(
        run(
            &["status", "--repo", "/nonexistent", "--state-dir", &sd],
            &[],
        ),
        "status --repo /nonexistent",
    );
    assert!(err.contains("not a git repository"), "{err}");

    for cmd in ["sleep", "status"] {
        let err = fails(
            run(
                &[
                    cmd,
                    "--repo",
                    p(repo),
                    "--rev",
                    "doesnotexist",
                    "--state-dir",
                    &sd,
                ],
                &[],
            ),
            "--rev doesnotexist",
        );
        assert!(err.contains("doesnotexist"), "{cmd}: {err}");
        intact("--rev doesnotexist");
    }

    let config = repo.join("swe-sleep.toml");
    std::fs::write(&config, "[index]\nmax_file_bites = 10\n").expect("write config");
    let err = fails(
        run(
            &[
                "sleep",
                "--repo",
                p(repo),
                "--rev",
                "HEAD",
                "--state-dir",
                &sd,
            ],
            &[],
        ),
        "unknown key in swe-sleep.toml",
    );
    assert!(err.contains("max_file_bites"), "{err}");
    assert!(err.contains("swe-sleep.toml"), "the file is named: {err}");
    intact("an unknown key in swe-sleep.toml");
    std::fs::remove_file(&config).expect("remove config");

    let err = fails(
        run(
            &[
                "sleep",
                "--repo",
                p(repo),
                "--rev",
                "HEAD",
                "--state-dir",
                &sd,
            ],
            &[("SWE_SLEEP_INDEX_BOGUS", "1")],
        ),
        "SWE_SLEEP_INDEX_BOGUS",
    );
    assert!(err.contains("bogus"), "{err}");
    assert!(
        err.contains("SWE_SLEEP_INDEX_BOGUS"),
        "the variable is named: {err}"
    );
    intact("SWE_SLEEP_INDEX_BOGUS");

    let err = fails(
        run(
            &[
                "sleep",
                "--repo",
                p(repo),
                "--rev",
                "HEAD",
                "--state-dir",
                &sd,
            ],
            &[("SWE_SLEEP_HISTORY_MAX_COMMITS", "many")],
        ),
        "a value of the wrong type",
    );
    assert!(err.contains("max_commits"), "{err}");
    intact("a value of the wrong type");

    // And a good sleep still works afterwards.
    let r = sleep_json(repo, Some(state.path()), Some("HEAD"), &[]);
    assert_eq!(r["commit"], COOKBOOK_HEAD);
    assert_eq!(n(&r["blobs_new"]) + n(&r["blobs_reused"]), 53);
}

// ---------------------------------------------------------------------------
// 8. A sleep killed half-way leaves the previous notebook; the next resumes.

/// A repository of two commits: `old` with 50 small modules and a marker
/// file, and `new` that removes the marker and adds `files` generated ones.
fn big_repo(files: usize) -> (tempfile::TempDir, String, String) {
    let dir = temp_dir("big-");
    let repo = dir.path();
    git(repo, &["init", "--quiet"]);
    std::fs::create_dir_all(repo.join("src")).expect("mkdir");
    for i in 0..50 {
        std::fs::write(
            repo.join(format!("src/m{i}.rs")),
            format!("pub fn old_fn_{i}() -> u32 {{ {i} }}\n"),
        )
        .expect("write");
    }
    std::fs::write(repo.join("src/old_marker.rs"), "pub fn old_marker() {}\n").expect("write");
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "--quiet", "-m", "Old"]);
    let old = rev_parse(repo, "HEAD");
    git(repo, &["rm", "--quiet", "src/old_marker.rs"]);
    std::fs::create_dir_all(repo.join("gen")).expect("mkdir");
    for i in 0..files {
        std::fs::write(
            repo.join(format!("gen/f{i}.rs")),
            format!(
                "//! Generated module {i}.\npub struct Item{i} {{ pub value: u32 }}\n\
                 pub fn gen_item_{i}() -> Item{i} {{ Item{i} {{ value: {i} }} }}\n"
            ),
        )
        .expect("write");
    }
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "--quiet", "-m", "New"]);
    let new = rev_parse(repo, "HEAD");
    (dir, old, new)
}

/// Blobs stored so far, read without taking any lock a writer needs.
fn stored_blobs(state: &Path) -> i64 {
    let flags =
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
    rusqlite::Connection::open_with_flags(state.join("notebook.sqlite"), flags)
        .and_then(|c| c.query_row("SELECT count(*) FROM blobs", [], |r| r.get(0)))
        .unwrap_or(-1)
}

/// The notebook opens and is consistent with the commit it reports.
fn assert_consistent(nb: &Notebook, old: &str, new: &str, files: usize) {
    let commit = nb.info.commit.clone().expect("a commit");
    if commit == old {
        assert_eq!(nb.files().len(), 51);
        assert!(defined_in(nb, "old_marker").contains("src/old_marker.rs"));
        assert!(defined_in(nb, "gen_item_0").is_empty());
        assert!(defined_in(nb, "old_fn_7").contains("src/m7.rs"));
    } else {
        assert_eq!(commit, new);
        assert_eq!(nb.files().len(), 50 + files);
        assert!(defined_in(nb, "old_marker").is_empty());
        assert!(defined_in(nb, "gen_item_0").contains("gen/f0.rs"));
    }
    assert!(nb.files().iter().all(|f| f.status == "parsed"));
}

#[test]
fn killed_sleep_keeps_the_old_notebook_and_the_next_resumes() {
    const FILES: usize = 1000;
    let (dir, old, new) = big_repo(FILES);
    let repo = dir.path();
    let state = temp_dir("state-");

    // The old notebook, through the library.
    let r = notebook::sleep(
        &Repo::open(repo).expect("open repo"),
        state.path(),
        &Target::Rev(old.clone()),
        &Config::default(),
        &NoProgress,
    )
    .expect("sleep at the old commit");
    assert_eq!(r.counts.files, 51);
    let baseline = stored_blobs(state.path());
    assert_eq!(baseline, 51);

    let mut child = swe_sleep()
        .args([
            "sleep",
            "--json",
            "--quiet",
            "--repo",
            p(repo),
            "--rev",
            &new,
            "--state-dir",
            p(state.path()),
        ])
        .env("SWE_SLEEP_INDEX_THREADS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn swe-sleep");
    // Wait until the first batch of new blobs is committed, or the sleep
    // ends; meanwhile readers are not blocked and see the old notebook.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut finished = false;
    loop {
        if child.try_wait().expect("poll child").is_some() {
            finished = true;
            break;
        }
        if stored_blobs(state.path()) > baseline {
            let t = Instant::now();
            let nb = open(state.path());
            let s = notebook::status(
                &Repo::open(repo).expect("open"),
                state.path(),
                Some(&new),
                &Default::default(),
            )
            .expect("status during a sleep");
            assert!(
                t.elapsed() < Duration::from_secs(2),
                "reading the notebook waited {:?} for the running sleep",
                t.elapsed()
            );
            assert_consistent(&nb, &old, &new, FILES);
            assert_eq!(s.commit.as_deref(), nb.info.commit.as_deref());
            break;
        }
        assert!(Instant::now() < deadline, "the sleep made no progress");
        std::thread::sleep(Duration::from_millis(5));
    }
    if !finished {
        child.kill().expect("kill the sleep");
    }
    child.wait().expect("reap the sleep");

    let nb = open(state.path());
    assert_consistent(&nb, &old, &new, FILES);
    let killed_early = nb.info.commit.as_deref() == Some(old.as_str());
    let when = match killed_early {
        true => "mid-sleep: the notebook reports the old commit",
        false => "after the sleep: the notebook reports the new commit",
    };
    eprintln!("killed {when}");
    drop(nb);
    let stored = stored_blobs(state.path());
    assert!(stored >= baseline);

    // The next sleep finishes the job, reading only what is not stored.
    let again = sleep_json(repo, Some(state.path()), Some(&new), &[]);
    assert_eq!(again["commit"], new.as_str());
    assert_eq!(n(&again["counts"]["files"]), 50 + FILES as u64);
    let done = (stored - baseline) as u64;
    assert_eq!(n(&again["blobs_new"]), FILES as u64 - done, "{again}");
    assert_eq!(n(&again["blobs_reused"]), 50 + done, "{again}");
    if killed_early {
        assert!(
            done > 0,
            "the killed sleep kept its finished batches: {again}"
        );
    } else {
        assert_eq!(n(&again["blobs_new"]), 0);
        assert_eq!(n(&again["commits_mined"]), 0);
    }
    assert_eq!(stored_blobs(state.path()), 51 + FILES as i64);
    let nb = open(state.path());
    assert_consistent(&nb, &old, &new, FILES);
    assert_eq!(nb.info.commit.as_deref(), Some(new.as_str()));
}

#[test]
fn readers_never_wait_for_a_writer() {
    let repo = fixture("cookbook");
    let state = temp_dir("state-");
    sleep_json(&repo, Some(state.path()), Some("HEAD~1"), &[]);
    let old = rev_parse(&repo, "HEAD~1");

    // Hold the write lock, as a sleep does while it stores blobs.
    let writer =
        rusqlite::Connection::open(state.path().join("notebook.sqlite")).expect("open database");
    writer
        .execute_batch("BEGIN IMMEDIATE; DELETE FROM blobs WHERE id < 0;")
        .expect("take the write lock");

    let (tx, rx) = std::sync::mpsc::channel();
    let dir = state.path().to_path_buf();
    let repo_dir = repo.clone();
    std::thread::spawn(move || {
        let nb = Notebook::open(&dir).map(|nb| nb.map(|nb| nb.info.commit.clone()));
        let st = Repo::open(&repo_dir)
            .map_err(|e| e.to_string())
            .and_then(|r| {
                notebook::status(&r, &dir, None, &Default::default()).map_err(|e| e.to_string())
            });
        let _ = tx.send((
            nb.map_err(|e| e.to_string()),
            st.map(|s| (s.commit, s.commits_behind)),
        ));
    });
    let (nb, st) = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("opening the notebook must not wait for the write lock");
    assert_eq!(nb.expect("notebook opens"), Some(Some(old.clone())));
    assert_eq!(st.expect("status"), (Some(old), Some(1)));
    let text = status_text(&repo, state.path(), None);
    assert!(
        text.contains("Stale: 1 first-parent commits behind"),
        "{text}"
    );
    writer.execute_batch("ROLLBACK").expect("release the lock");
}

// ---------------------------------------------------------------------------
// 9. status: stale, then up to date.

#[test]
fn status_reports_staleness_against_head() {
    let repo = fixture("cookbook");
    let state = temp_dir("state-");
    let sd = state.path();

    let s = status_json(&repo, sd, None);
    assert_eq!(s["exists"], false);
    assert!(status_text(&repo, sd, None).contains("No notebook"));

    let old = rev_parse(&repo, "HEAD~3");
    sleep_json(&repo, Some(sd), Some("HEAD~3"), &[]);
    let s = status_json(&repo, sd, None);
    assert_eq!(s["exists"], true, "{s}");
    assert_eq!(s["commit"], old.as_str());
    assert_eq!(s["current"], COOKBOOK_HEAD);
    assert_eq!(s["up_to_date"], false, "{s}");
    assert_eq!(s["commits_behind"], 3, "{s}");
    assert_eq!(s["worktree"], false);
    assert_eq!(n(&s["counts"]["commits"]), 25, "{s}");
    assert_eq!(n(&s["counts"]["files"]), 53, "{s}");
    assert_eq!(n(&s["commits_stored"]), 25);
    assert!(s["shallow_boundary"].is_null());
    let text = status_text(&repo, sd, None);
    assert!(text.contains("Stale"), "{text}");
    assert!(text.contains("3 first-parent commits behind"), "{text}");
    assert!(
        text.contains("Next: `swe-sleep sleep` catches up"),
        "{text}"
    );
    assert!(text.contains(&old[..12]), "{text}");

    // Compared with its own revision it is current.
    let s = status_json(&repo, sd, Some("HEAD~3"));
    assert_eq!(s["up_to_date"], true, "{s}");
    assert_eq!(s["commits_behind"], 0, "{s}");

    sleep_json(&repo, Some(sd), Some("HEAD"), &[]);
    let s = status_json(&repo, sd, None);
    assert_eq!(s["commit"], COOKBOOK_HEAD);
    assert_eq!(s["up_to_date"], true, "{s}");
    assert_eq!(s["commits_behind"], 0, "{s}");
    assert_eq!(n(&s["counts"]["commits"]), 28, "{s}");
    assert_eq!(n(&s["commits_stored"]), 28, "{s}");
    let text = status_text(&repo, sd, None);
    assert!(text.contains("Up to date"), "{text}");
    assert!(!text.contains("Stale"), "{text}");
}

#[test]
fn a_state_dir_inside_the_work_tree_is_never_indexed() {
    let copy = support::fixture_copy("cookbook");
    let state = copy.path().join("notes").join("nb");
    sleep_json(copy.path(), Some(&state), None, &[]);
    // Second sleep: the database now exists inside the work tree.
    let report = sleep_json(copy.path(), Some(&state), None, &[]);
    let nb = open(&state);
    let inside: Vec<&str> = nb
        .files()
        .iter()
        .map(|f| f.path.as_str())
        .filter(|p| p.starts_with("notes/"))
        .collect();
    assert!(inside.is_empty(), "the notebook indexed itself: {inside:?}");
    assert_eq!(n(&report["counts"]["files"]), nb.files().len() as u64);
}

/// A partial clone (blobs over a size limit left on the server) still
/// sleeps: the missing blobs are indexed by path only and counted; a clone
/// without trees is a clear error naming the missing object.
#[test]
fn partial_clones_sleep_with_missing_blobs_counted() {
    let src = fixture("hostile");
    let dir = temp_dir("partial-");
    let clone = |filter: &str, name: &str| -> std::path::PathBuf {
        let dest = dir.path().join(name);
        let url = format!("file://{}", src.display());
        let o = std::process::Command::new("git")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .args(["clone", "-q", "--bare", "--no-local", filter])
            .args([
                "--upload-pack",
                "git -c uploadpack.allowFilter=true upload-pack",
            ])
            .args([url.as_str(), p(&dest)])
            .output()
            .expect("git clone runs");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        dest
    };
    let partial = clone("--filter=blob:limit=10k", "blobs.git");
    let r = sleep_json(&partial, None, None, &[]);
    assert_eq!(
        n(&r["blobs_missing"]),
        2,
        "the PNG-free big table and the generated file: {r}"
    );
    assert_eq!(n(&r["counts"]["files"]), 13, "{r}");
    let s = one_json_object(&ok(
        run(&["status", "--json", "--repo", p(&partial)], &[]),
        "status",
    ));
    assert_eq!(s["blobs_missing"], 2, "{s}");
    let text = stdout(&ok(run(&["status", "--repo", p(&partial)], &[]), "status"));
    assert!(
        text.contains("2 files have no content in this clone"),
        "{text}"
    );
    let o = ok(
        run(
            &[
                "predict",
                "--repo",
                p(&partial),
                "--json",
                "Say hello louder",
            ],
            &[],
        ),
        "predict on a partial clone",
    );
    assert!(one_json_object(&o)["files"].is_array());

    let treeless = clone("--filter=tree:0", "trees.git");
    let o = run(&["sleep", "--repo", p(&treeless)], &[]);
    let err = fails(o, "sleep without trees");
    assert!(err.contains("is missing from the object database"), "{err}");
    assert!(err.contains("partial clone"), "{err}");
    assert_eq!(
        err.matches("no match for id").count(),
        1,
        "said once: {err}"
    );
}

/// A garbled or truncated notebook is set aside and rebuilt by the next
/// sleep (and by predict), never a dead end; a state directory that cannot
/// be created is one clear error.
#[test]
fn a_damaged_notebook_heals_itself() {
    let repo = fixture("cookbook");
    let dir = temp_dir("heal-");
    let state = dir.path().join("state");
    let db = state.join("notebook.sqlite");
    let first = sleep_json(&repo, Some(&state), Some("HEAD"), &[]);
    let files = n(&first["counts"]["files"]);
    type Damage = fn(&Path);
    let damages: [(&str, Damage); 3] = [
        ("garbled", |db: &Path| {
            let mut bytes = std::fs::read(db).expect("read");
            for b in bytes.iter_mut().skip(100).step_by(7) {
                *b ^= 0x5a;
            }
            std::fs::write(db, bytes).expect("write");
        }),
        ("truncated", |db: &Path| {
            let len = std::fs::metadata(db).expect("meta").len();
            std::fs::OpenOptions::new()
                .write(true)
                .open(db)
                .and_then(|f| f.set_len(len / 3))
                .expect("truncate");
        }),
        ("not a database", |db: &Path| {
            std::fs::write(db, "this is not a database at all\n".repeat(200)).expect("write");
        }),
    ];
    for (what, damage) in damages {
        // Checkpoint the WAL into the main file, so the damage hits data.
        let _ = std::fs::remove_file(state.join("notebook.sqlite-wal"));
        let _ = std::fs::remove_file(state.join("notebook.sqlite-shm"));
        damage(&db);
        let r = sleep_json(&repo, Some(&state), Some("HEAD"), &[]);
        let aside = r["healed"]
            .as_str()
            .unwrap_or_else(|| panic!("{what}: healed is reported: {r}"));
        assert!(
            aside.contains("notebook.sqlite.damaged-"),
            "{what}: {aside}"
        );
        assert!(
            Path::new(aside).is_file(),
            "{what}: the damaged file is kept"
        );
        assert_eq!(
            n(&r["counts"]["files"]),
            files,
            "{what}: rebuilt whole: {r}"
        );
        let again = sleep_json(&repo, Some(&state), Some("HEAD"), &[]);
        assert!(again["healed"].is_null(), "{what}: {again}");
        for f in std::fs::read_dir(&state).expect("ls").flatten() {
            if f.file_name().to_string_lossy().contains("damaged") {
                std::fs::remove_file(f.path()).expect("clean");
            }
        }
    }

    // predict heals too, and says so.
    let _ = std::fs::remove_file(state.join("notebook.sqlite-wal"));
    let _ = std::fs::remove_file(state.join("notebook.sqlite-shm"));
    std::fs::write(&db, "garbage".repeat(1000)).expect("write");
    let o = ok(
        run(
            &[
                "predict",
                "--repo",
                p(&repo),
                "--state-dir",
                p(&state),
                "--rev",
                "HEAD",
                "--json",
                "Add unit conversion for teaspoons",
            ],
            &[],
        ),
        "predict on a damaged notebook",
    );
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(err.contains("set aside as"), "{err}");
    assert!(err.contains("rebuilding it"), "{err}");
    assert!(
        !one_json_object(&o)["files"]
            .as_array()
            .expect("files")
            .is_empty()
    );
    assert!(
        !err.contains("malformed: database disk image is malformed"),
        "{err}"
    );

    // A state directory that cannot be created: one clear error.
    let o = run(
        &[
            "sleep",
            "--repo",
            p(&repo),
            "--state-dir",
            "/proc/self/no-such-dir/state",
        ],
        &[],
    );
    let err = fails(o, "sleep into an impossible state directory");
    assert!(
        err.contains("cannot create state directory /proc/self/no-such-dir/state"),
        "{err}"
    );
    assert_eq!(
        err.lines().filter(|l| l.contains("error")).count(),
        1,
        "{err}"
    );
}

/// `status --rev` on an older commit of the notebook's line says how far
/// behind the notebook that commit is, not "another line of history".
#[test]
fn status_on_an_ancestor_says_how_far_behind_it_is() {
    let repo = fixture("cookbook");
    let dir = temp_dir("ancestor-");
    let state = dir.path().join("state");
    sleep_json(&repo, Some(&state), Some("HEAD"), &[]);
    let args = [
        "status",
        "--repo",
        p(&repo),
        "--state-dir",
        p(&state),
        "--rev",
        "HEAD~3",
    ];
    let mut json_args = args.to_vec();
    json_args.push("--json");
    let s = one_json_object(&ok(run(&json_args, &[]), "status --json"));
    assert_eq!(s["commits_ahead"], 3, "{s}");
    assert!(s["commits_behind"].is_null(), "{s}");
    let text = stdout(&ok(run(&args, &[]), "status"));
    assert!(
        text.contains("is 3 first-parent commits older than the notebook's commit"),
        "{text}"
    );
    assert!(!text.contains("another line of history"), "{text}");
}
