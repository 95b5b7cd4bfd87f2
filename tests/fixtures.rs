//! The fixture scripts in `fixtures/repos/` build what their README promises,
//! deterministically, and the helpers in `tests/support` work.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use support::{bare_clone, fixture, fixture_copy, git, git_output, run_script, shallow_clone};

/// Builds `name` twice from scratch and checks both builds have the same
/// HEAD as the cached fixture.
fn assert_deterministic(name: &str) {
    let a = support::temp_dir("det-a-");
    let b = support::temp_dir("det-b-");
    run_script(name, &a.path().join("repo"));
    run_script(name, &b.path().join("repo"));
    let head_a = git(&a.path().join("repo"), &["rev-parse", "HEAD"]);
    let head_b = git(&b.path().join("repo"), &["rev-parse", "HEAD"]);
    assert_eq!(head_a, head_b, "{name}.sh is not deterministic");
    assert_eq!(head_a, git(&fixture(name), &["rev-parse", "HEAD"]));
    let all_a = git(&a.path().join("repo"), &["rev-list", "--all"]);
    let all_b = git(&b.path().join("repo"), &["rev-list", "--all"]);
    assert_eq!(all_a, all_b);
}

fn lines(s: &str) -> Vec<&str> {
    s.lines().filter(|l| !l.is_empty()).collect()
}

/// One first-parent commit: subject, body, and files changed relative to
/// its first parent.
struct Change {
    subject: String,
    body: String,
    files: BTreeSet<String>,
}

/// First-parent commits of HEAD, newest first.
fn first_parent_changes(repo: &Path) -> Vec<Change> {
    let log = git(
        repo,
        &[
            "log",
            "--first-parent",
            "--diff-merges=first-parent",
            "--name-only",
            "--format=%x00%s%x1f%b%x1f",
        ],
    );
    log.split('\0')
        .skip(1)
        .map(|chunk| {
            let mut parts = chunk.split('\x1f');
            let subject = parts.next().unwrap().to_string();
            let body = parts.next().unwrap().to_string();
            let files = lines(parts.next().unwrap())
                .into_iter()
                .map(str::to_string)
                .collect();
            Change {
                subject,
                body,
                files,
            }
        })
        .collect()
}

/// The PR number in a merge subject or squash title, if any.
fn pr_number(subject: &str) -> Option<u32> {
    if let Some(rest) = subject.strip_prefix("Merge pull request #") {
        let (n, from) = rest.split_once(' ')?;
        let branch = from.strip_prefix("from ")?;
        assert!(branch.contains('/'), "no owner/branch in {subject:?}");
        return n.parse().ok();
    }
    let open = subject.rfind(" (#")?;
    subject[open + 3..].strip_suffix(')')?.parse().ok()
}

// --- cookbook ----------------------------------------------------------------

/// HEAD of each fixture, as documented in `fixtures/repos/README.md`:
/// changing a script changes these; update the README with them.
const COOKBOOK_HEAD: &str = "959c2c237ead11bf2286722428850ad71a5fb8c8";
const HOSTILE_HEAD: &str = "c5e56d8726ad8709931c6db1051e65c1acec0350";

#[test]
fn cookbook_is_deterministic() {
    assert_deterministic("cookbook");
    assert_eq!(
        git(&fixture("cookbook"), &["rev-parse", "HEAD"]).trim(),
        COOKBOOK_HEAD
    );
}

#[test]
fn cookbook_history_shape() {
    let repo = fixture("cookbook");
    let first_parent = git(&repo, &["rev-list", "--first-parent", "--count", "HEAD"]);
    assert_eq!(first_parent.trim(), "28");
    assert_eq!(git(&repo, &["rev-list", "--count", "HEAD"]).trim(), "51");
    assert_eq!(
        lines(&git(&repo, &["branch", "--format=%(refname)"])),
        ["refs/heads/main"]
    );
    assert_eq!(
        git(&repo, &["symbolic-ref", "HEAD"]).trim(),
        "refs/heads/main"
    );
    assert_eq!(
        git(&repo, &["status", "--porcelain", "--untracked-files=all"]),
        ""
    );

    let merges = git(&repo, &["log", "--first-parent", "--merges", "--format=%s"]);
    let merges = lines(&merges);
    assert_eq!(merges.len(), 12);
    assert!(merges.iter().all(|s| s.starts_with("Merge pull request #")));
    // No merge commit anywhere that is not a PR merge.
    let all_merges = git(&repo, &["rev-list", "--merges", "--count", "HEAD"]);
    assert_eq!(all_merges.trim(), "12");

    let subjects = git(
        &repo,
        &["log", "--first-parent", "--reverse", "--format=%s"],
    );
    let numbers: Vec<u32> = lines(&subjects).into_iter().filter_map(pr_number).collect();
    assert_eq!(
        numbers,
        (1..=18).collect::<Vec<_>>(),
        "PR numbers 1..=18 in order"
    );

    let squashes: Vec<&str> = lines(&subjects)
        .into_iter()
        .filter(|s| !s.starts_with("Merge ") && pr_number(s).is_some())
        .collect();
    assert_eq!(
        squashes,
        [
            "Add unit conversion for cups (#2)",
            "Parse ingredient quantities (#5)",
            "Add nutrition totals (#8)",
            "Export recipes as JSON (#11)",
            "Refactor recipe parser errors (#14)",
            "Add unit conversion for tablespoons (#16)",
        ]
    );

    // GitHub-style merge message: subject, blank line, PR title.
    let msg = git(&repo, &["log", "-1", "--format=%B", "HEAD^"]);
    assert_eq!(
        msg.trim_end(),
        "Merge pull request #18 from alice/ingredient-notes\n\nParse ingredient notes in parentheses"
    );
    let body = git(
        &repo,
        &[
            "log",
            "-1",
            "--format=%b",
            ":/^Add unit conversion for cups",
        ],
    );
    assert!(body.contains("* Add cups_to_millilitres"), "{body}");
}

#[test]
fn cookbook_dates_are_pinned_and_increasing() {
    let repo = fixture("cookbook");
    let log = git(
        &repo,
        &[
            "log",
            "--all",
            "--reverse",
            "--date-order",
            "--format=%at %ct",
        ],
    );
    let rows = lines(&log);
    assert_eq!(rows.len(), 51);
    for (day, row) in rows.iter().enumerate() {
        let mut cols = row.split(' ');
        let author: i64 = cols.next().unwrap().parse().unwrap();
        let committer: i64 = cols.next().unwrap().parse().unwrap();
        assert_eq!(author, committer);
        assert_eq!(author, 1_704_067_200 + 86_400 * day as i64, "row {row}");
    }
    // 1_704_067_200 is 2024-01-01T00:00:00Z.
}

#[test]
fn cookbook_files_at_head() {
    let repo = fixture("cookbook");
    let files = git(&repo, &["ls-tree", "-r", "--name-only", "HEAD"]);
    let files: BTreeSet<&str> = lines(&files).into_iter().collect();
    for f in [
        "Cargo.toml",
        "README.md",
        "CHANGELOG.md",
        "docs/units.md",
        "src/lib.rs",
        "src/recipe.rs",
        "src/parser.rs",
        "src/units.rs",
        "src/cli.rs",
        "src/main.rs",
        "tests/recipe_test.rs",
        "py/cookbook_tools/__init__.py",
        "py/cookbook_tools/scale.py",
        "py/cookbook_tools/export.py",
        "py/cookbook_tools/nutrition.py",
        "py/tests/test_scale.py",
        "py/tests/test_export.py",
        "examples/recipe_01.rs",
        "examples/recipe_35.rs",
    ] {
        assert!(files.contains(f), "{f} missing at HEAD");
    }
    assert_eq!(files.len(), 53, "{files:#?}");
    assert_eq!(
        files.iter().filter(|f| f.starts_with("examples/")).count(),
        35
    );

    let show = |path: &str| git(&repo, &["show", &format!("HEAD:{path}")]);
    assert!(show("Cargo.toml").contains("name = \"cookbook\""));
    assert!(show("Cargo.toml").contains("version = \"0.3.0\""));
    let lib = show("src/lib.rs");
    assert!(lib.starts_with("//! Cookbook"));
    for m in ["mod recipe;", "mod parser;", "mod units;", "pub mod cli;"] {
        assert!(lib.contains(m), "{m}");
    }
    assert!(show("src/recipe.rs").contains("pub struct Recipe {"));
    assert!(show("src/recipe.rs").contains("pub fn parse_recipe("));
    assert!(show("src/parser.rs").contains("use crate::recipe::Recipe;"));
    assert!(show("src/parser.rs").contains("pub fn parse_ingredients("));
    assert!(show("src/units.rs").contains("pub enum Unit {"));
    assert!(show("src/units.rs").contains("pub fn convert_units("));
    assert!(show("src/main.rs").contains("use cookbook::cli;"));
    let scale = show("py/cookbook_tools/scale.py");
    assert!(scale.starts_with("\"\"\"Scale recipe quantities"));
    assert!(scale.contains("def scale_recipe("));
    let export = show("py/cookbook_tools/export.py");
    assert!(export.contains("from .scale import scale_recipe"));
    assert!(export.contains("from cookbook_tools import nutrition"));
}

#[test]
fn cookbook_co_change_regularities() {
    let repo = fixture("cookbook");
    let changes = first_parent_changes(&repo);
    assert_eq!(changes.len(), 28);

    // Exactly one commit touches more than 30 files: 35 examples + 2 headers.
    let big: Vec<&Change> = changes.iter().filter(|c| c.files.len() > 30).collect();
    assert_eq!(big.len(), 1);
    assert_eq!(
        big[0].subject,
        "Add example recipes and SPDX licence headers"
    );
    assert_eq!(big[0].files.len(), 37);
    let examples = big[0].files.iter().filter(|f| f.starts_with("examples/"));
    assert_eq!(examples.count(), 35);
    assert!(big[0].files.contains("src/recipe.rs") && big[0].files.contains("src/parser.rs"));
    let rest: Vec<&Change> = changes.iter().filter(|c| c.files.len() <= 30).collect();
    assert!(rest.iter().all(|c| c.files.len() <= 10));

    let touching = |path: &str| -> Vec<&Change> {
        rest.iter()
            .copied()
            .filter(|c| c.files.contains(path))
            .collect()
    };
    let prs = |changes: &[&Change]| -> BTreeSet<u32> {
        changes
            .iter()
            .filter_map(|c| pr_number(&c.subject))
            .collect()
    };

    // recipe.rs and parser.rs, ignoring the big commit: together in the
    // initial commit and seven PRs; parser.rs never changes without recipe.rs.
    let both: Vec<&Change> = rest
        .iter()
        .copied()
        .filter(|c| c.files.contains("src/recipe.rs") && c.files.contains("src/parser.rs"))
        .collect();
    assert!(both.len() >= 4);
    assert_eq!(both.len(), 8);
    assert_eq!(prs(&both), BTreeSet::from([1, 3, 5, 9, 12, 14, 18]));
    assert_eq!(touching("src/parser.rs").len(), 8);
    assert_eq!(touching("src/recipe.rs").len(), 9);
    assert_eq!(
        prs(&touching("src/recipe.rs")),
        BTreeSet::from([1, 3, 5, 9, 12, 14, 17, 18])
    );

    // src/units.rs: the initial commit and the five unit-conversion PRs,
    // whose titles (subject or merge body) all say "unit conversion".
    let units = touching("src/units.rs");
    assert_eq!(prs(&units), BTreeSet::from([2, 6, 10, 13, 16]));
    for c in &units {
        let message = format!("{}\n{}", c.subject, c.body).to_lowercase();
        assert!(
            c.subject == "Initial commit" || message.contains("unit conversion"),
            "{}",
            c.subject
        );
    }
    // ...and no other change mentions unit conversion.
    let mentions = changes
        .iter()
        .filter(|c| format!("{}\n{}", c.subject, c.body).contains("unit conversion"));
    assert_eq!(mentions.count(), 5);

    // CHANGELOG.md: 16 of the 18 PRs (not #14, #15).
    let expected: BTreeSet<u32> = (1..=18).filter(|n| *n != 14 && *n != 15).collect();
    assert_eq!(prs(&touching("CHANGELOG.md")), expected);

    // Per-file first-parent touch counts (big commit excluded).
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for c in &rest {
        for f in &c.files {
            *counts.entry(f.as_str()).or_default() += 1;
        }
    }
    assert_eq!(counts["CHANGELOG.md"], 20);
    assert_eq!(counts["src/units.rs"], 6);
    assert_eq!(counts["docs/units.md"], 6);
    assert_eq!(counts["tests/recipe_test.rs"], 5);
    assert_eq!(counts["src/cli.rs"], 4);
    assert_eq!(counts["src/main.rs"], 2);
    assert_eq!(counts["README.md"], 5);
    assert_eq!(counts["Cargo.toml"], 3);
}

#[test]
fn cookbook_pr_branches_are_not_all_linear() {
    let repo = fixture("cookbook");
    // PR #9 (bob/fractions) forked before PR #7 and #8 landed.
    let merge = git(&repo, &["rev-parse", ":/^Merge pull request #9 "]);
    let merge = merge.trim();
    let base = git(
        &repo,
        &["merge-base", &format!("{merge}^1"), &format!("{merge}^2")],
    );
    let base_subject = git(&repo, &["log", "-1", "--format=%s", base.trim()]);
    assert_eq!(
        base_subject.trim(),
        "Add example recipes and SPDX licence headers"
    );
    let branch_len = git(
        &repo,
        &["rev-list", "--count", &format!("{merge}^1..{merge}^2")],
    );
    assert_eq!(branch_len.trim(), "2");
    // Commit-level vs PR-level: no single commit of PR #1 touches both files.
    let pr1 = git(&repo, &["rev-parse", ":/^Merge pull request #1 "]);
    let pr1 = pr1.trim();
    let commits = git(&repo, &["rev-list", &format!("{pr1}^1..{pr1}^2")]);
    for c in lines(&commits) {
        let files = git(
            &repo,
            &["diff-tree", "--no-commit-id", "--name-only", "-r", c],
        );
        assert!(!(files.contains("src/recipe.rs") && files.contains("src/parser.rs")));
    }
}

// --- hostile -------------------------------------------------------------------

#[test]
fn hostile_is_deterministic() {
    assert_deterministic("hostile");
    assert_eq!(
        git(&fixture("hostile"), &["rev-parse", "HEAD"]).trim(),
        HOSTILE_HEAD
    );
}

#[test]
fn hostile_tree_has_every_trap() {
    let repo = fixture("hostile");
    assert_eq!(git(&repo, &["rev-list", "--count", "HEAD"]).trim(), "4");
    let tree = git(&repo, &["ls-tree", "-r", "-l", "HEAD"]);
    let mut entries: BTreeMap<&str, (&str, &str, &str)> = BTreeMap::new();
    for line in lines(&tree) {
        let (meta, path) = line.split_once('\t').unwrap();
        let mut m = meta.split_whitespace();
        let mode = m.next().unwrap();
        let _kind = m.next().unwrap();
        let id = m.next().unwrap();
        let size = m.next().unwrap();
        entries.insert(path, (mode, id, size));
    }
    assert_eq!(entries["link_out"].0, "120000");
    assert_eq!(entries["src/link_in.rs"].0, "120000");
    assert_eq!(
        git(&repo, &["cat-file", "-p", "HEAD:link_out"]),
        "/etc/passwd"
    );
    assert_eq!(
        git(&repo, &["cat-file", "-p", "HEAD:src/link_in.rs"]),
        "lib.rs"
    );
    assert_eq!(
        entries["vendor/sub"],
        ("160000", "5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e", "-")
    );
    let big: u64 = entries["generated/big_table.rs"].2.parse().unwrap();
    assert!(big > 3_000_000, "{big}");
    assert_eq!(entries["src/empty.rs"].2, "0");
    for f in [
        ".gitmodules",
        "assets/logo.png",
        "data/nul_in_middle.txt",
        "src/lib.rs",
        "src/main.rs",
        "src/latin1.rs",
        "src/nested.rs",
        "src/broken.rs",
        "vendor/lib/foo.rs",
        "node_modules/x/index.js",
    ] {
        assert!(entries.contains_key(f), "{f} missing");
    }
    for f in [
        ".gitignore",
        ".swe-sleepignore",
        "debug.log",
        "src/new_file.rs",
    ] {
        assert!(!entries.contains_key(f), "{f} must not be committed");
    }

    let logo = std::fs::read(repo.join("assets/logo.png")).unwrap();
    assert!(logo.starts_with(b"\x89PNG\r\n\x1a\n") && logo.contains(&0));
    let nul = std::fs::read(repo.join("data/nul_in_middle.txt")).unwrap();
    let at = nul.iter().position(|b| *b == 0).unwrap();
    assert!(at > 0 && at < nul.len() - 1 && nul.ends_with(b"last line\n"));
    let latin1 = std::fs::read(repo.join("src/latin1.rs")).unwrap();
    assert!(std::str::from_utf8(&latin1).is_err());
    assert!(String::from_utf8_lossy(&latin1).contains("pub fn latin_one()"));
    let nested = std::fs::read(repo.join("src/nested.rs")).unwrap();
    assert_eq!(nested.iter().filter(|b| **b == b'[').count(), 50_000);
    assert!(nested.windows(50_000).any(|w| w.iter().all(|b| *b == b'[')));
    let broken = std::fs::read_to_string(repo.join("src/broken.rs")).unwrap();
    assert!(broken.contains("fn still_here()"));
    assert!(broken.matches('{').count() > broken.matches('}').count());
    assert_eq!(
        std::fs::read_link(repo.join("link_out")).unwrap(),
        Path::new("/etc/passwd")
    );
    assert_eq!(
        std::fs::read_link(repo.join("src/link_in.rs")).unwrap(),
        Path::new("lib.rs")
    );
    assert!(repo.join("vendor/sub").is_dir());
    let gitmodules = std::fs::read_to_string(repo.join(".gitmodules")).unwrap();
    assert!(gitmodules.contains("path = vendor/sub"));
}

#[test]
fn hostile_work_tree_only_files() {
    let repo = fixture("hostile");
    let status = git(
        &repo,
        &[
            "status",
            "--porcelain",
            "--untracked-files=all",
            "--ignored",
        ],
    );
    assert_eq!(
        lines(&status),
        [
            "?? .gitignore",
            "?? .swe-sleepignore",
            "?? docs/drop.md",
            "?? docs/keep.md",
            "?? src/new_file.rs",
            "!! debug.log",
            "!! scratch/notes.rs",
            "!! target/out.rs",
        ]
    );
    let exclude = std::fs::read_to_string(repo.join(".git/info/exclude")).unwrap();
    assert!(exclude.lines().any(|l| l == "scratch/"));
    let ignore = std::fs::read_to_string(repo.join(".swe-sleepignore")).unwrap();
    assert_eq!(ignore, "docs/*\n!docs/keep.md\n");
}

// --- empty -----------------------------------------------------------------------

#[test]
fn empty_has_no_commits() {
    let repo = fixture("empty");
    assert!(repo.join(".git").is_dir());
    assert!(
        !git_output(&repo, &["rev-parse", "--verify", "--quiet", "HEAD"])
            .status
            .success()
    );
    assert_eq!(
        git(&repo, &["symbolic-ref", "HEAD"]).trim(),
        "refs/heads/main"
    );
    assert_eq!(git(&repo, &["rev-list", "--all"]), "");
    let other = support::temp_dir("det-empty-");
    run_script("empty", &other.path().join("repo"));
    assert!(other.path().join("repo/.git/HEAD").is_file());
}

// --- support helpers -----------------------------------------------------------------

#[test]
fn fixture_is_cached_and_safe_under_concurrency() {
    let paths: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8).map(|_| s.spawn(|| fixture("cookbook"))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(paths.windows(2).all(|w| w[0] == w[1]));
    let name = paths[0].file_name().unwrap().to_str().unwrap();
    assert!(name.starts_with("cookbook-"), "{name}");
}

#[test]
fn fixture_copy_is_private_and_keeps_symlinks() {
    let shared = fixture("hostile");
    let copy = fixture_copy("hostile");
    let copy = copy.path();
    assert_ne!(copy, shared.as_path());
    let link = copy.join("link_out");
    assert!(link.symlink_metadata().unwrap().file_type().is_symlink());
    assert_eq!(std::fs::read_link(&link).unwrap(), Path::new("/etc/passwd"));
    assert_eq!(
        git(copy, &["rev-parse", "HEAD"]),
        git(&shared, &["rev-parse", "HEAD"])
    );
    // Mutating the copy leaves the cached fixture alone.
    std::fs::write(copy.join("src/lib.rs"), "pub fn changed() {}\n").unwrap();
    git(copy, &["commit", "-q", "-am", "Change the copy"]);
    assert_ne!(
        git(copy, &["rev-parse", "HEAD"]),
        git(&shared, &["rev-parse", "HEAD"])
    );
    assert!(
        std::fs::read_to_string(shared.join("src/lib.rs"))
            .unwrap()
            .contains("hello")
    );
}

#[test]
fn bare_and_shallow_clones() {
    let repo = fixture("cookbook");
    let head = git(&repo, &["rev-parse", "HEAD"]);

    let bare = bare_clone(&repo);
    assert_eq!(
        git(bare.path(), &["rev-parse", "--is-bare-repository"]).trim(),
        "true"
    );
    assert_eq!(git(bare.path(), &["rev-parse", "HEAD"]), head);
    assert_eq!(
        git(bare.path(), &["rev-list", "--count", "HEAD"]).trim(),
        "51"
    );

    let shallow = shallow_clone(&repo, 1);
    assert_eq!(git(shallow.path(), &["rev-parse", "HEAD"]), head);
    assert_eq!(
        git(shallow.path(), &["rev-parse", "--is-shallow-repository"]).trim(),
        "true"
    );
    assert_eq!(
        git(shallow.path(), &["rev-list", "--count", "HEAD"]).trim(),
        "1"
    );
    assert!(shallow.path().join("src/recipe.rs").is_file());
}

#[test]
fn escape_and_learning_are_deterministic() {
    assert_deterministic("escape");
    assert_deterministic("learning");
}

#[test]
fn learning_history_shape() {
    let repo = fixture("learning");
    let changes = first_parent_changes(&repo);
    assert_eq!(changes.len(), 51, "the initial commit and 50 PRs");
    for c in &changes[..50] {
        assert!(pr_number(&c.subject).is_some(), "{}", c.subject);
        assert_eq!(c.files.len(), 1, "one module per PR: {}", c.subject);
        let file = c.files.iter().next().expect("one");
        assert!(file.starts_with("src/") && file.ends_with(".rs"), "{file}");
    }
}
