//! `git::tree_diff` reports what libgit2's `diff_tree_to_tree` reports, as
//! history mining has always read it (no rename detection, submodule
//! updates ignored): the same paths, statuses and order, for every
//! first-parent commit of every fixture repository, and for a repository
//! built here with every kind of change the fixtures lack (a file turned
//! link, directory or gitlink and back, a mode change, submodules added,
//! moved and removed, names that sort around a directory's).
//!
//! `SWE_SLEEP_TREE_DIFF_REPOS=/path/a:/path/b` adds repositories of your
//! own (a manual check over real history; it takes a while on big ones).

mod support;

use std::path::Path;

use git2::{Delta, DiffOptions, Oid, Repository, Tree};
use swe_sleep::git::tree_diff::diff_trees;

/// libgit2's answer, as `git::mine_commit` read it before the tree walk.
fn libgit2(
    repo: &Repository,
    old: Option<&Tree<'_>>,
    new: Option<&Tree<'_>>,
) -> Vec<(Vec<u8>, char)> {
    let mut opts = DiffOptions::new();
    opts.skip_binary_check(true).ignore_submodules(true);
    let diff = repo
        .diff_tree_to_tree(old, new, Some(&mut opts))
        .expect("libgit2 diffs the trees");
    let mut out = Vec::new();
    for delta in diff.deltas() {
        let status = match delta.status() {
            Delta::Added => 'A',
            Delta::Deleted => 'D',
            Delta::Modified | Delta::Typechange => 'M',
            Delta::Renamed => 'R',
            _ => continue,
        };
        let file = if status == 'D' {
            delta.old_file()
        } else {
            delta.new_file()
        };
        out.push((
            file.path_bytes().expect("a delta has a path").to_vec(),
            status,
        ));
    }
    out
}

fn ours(repo: &Repository, old: Option<&Tree<'_>>, new: Option<&Tree<'_>>) -> Vec<(Vec<u8>, char)> {
    let mut out = Vec::new();
    diff_trees(repo, old, new, |p, s| out.push((p.to_vec(), s))).expect("the walk diffs the trees");
    out
}

fn show(v: &[(Vec<u8>, char)]) -> Vec<String> {
    v.iter()
        .map(|(p, s)| format!("{s} {}", String::from_utf8_lossy(p)))
        .collect()
}

fn assert_same(repo: &Repository, old: Option<&Tree<'_>>, new: Option<&Tree<'_>>, what: &str) {
    let expected = libgit2(repo, old, new);
    let got = ours(repo, old, new);
    assert_eq!(show(&got), show(&expected), "{what}");
}

/// Compares the two diffs for every first-parent commit from HEAD (each
/// against its first parent, the root against the empty tree); returns
/// how many commits were compared and how many paths they changed.
fn compare_first_parent(path: &Path) -> (usize, usize) {
    let repo = Repository::open(path).expect("open the repository");
    let mut commit = repo
        .head()
        .and_then(|h| h.peel_to_commit())
        .expect("HEAD is a commit");
    let (mut commits, mut paths) = (0, 0);
    loop {
        let tree = commit.tree().expect("a commit has a tree");
        let parent = commit.parent(0).ok();
        let parent_tree = parent
            .as_ref()
            .map(|p| p.tree().expect("a parent has a tree"));
        let what = format!("{} at commit {}", path.display(), commit.id());
        assert_same(&repo, parent_tree.as_ref(), Some(&tree), &what);
        commits += 1;
        paths += libgit2(&repo, parent_tree.as_ref(), Some(&tree)).len();
        match parent {
            Some(p) => commit = p,
            None => break,
        }
    }
    (commits, paths)
}

#[test]
fn same_changes_as_libgit2_over_every_fixture_commit() {
    for name in ["cookbook", "hostile", "escape"] {
        let (commits, paths) = compare_first_parent(&support::fixture(name));
        assert!(
            commits >= 3 && paths > 0,
            "{name}: {commits} commits, {paths} paths"
        );
    }
    let extra = std::env::var("SWE_SLEEP_TREE_DIFF_REPOS").unwrap_or_default();
    for path in extra.split(':').filter(|p| !p.is_empty()) {
        let (commits, paths) = compare_first_parent(Path::new(path));
        eprintln!("{path}: {commits} commits, {paths} changed paths, same as libgit2");
    }
}

const FILE: i32 = 0o100644;
const EXEC: i32 = 0o100755;
const LINK: i32 = 0o120000;
const GITLINK: i32 = 0o160000;

/// A tree holding `entries` (`path`, mode, content or gitlink target),
/// nested directories made as needed.
fn tree(repo: &Repository, entries: &[(&str, i32, &str)]) -> Oid {
    let mut here: Vec<(&str, i32, &str)> = Vec::new();
    let mut dirs: std::collections::BTreeMap<&str, Vec<(&str, i32, &str)>> = Default::default();
    for &(path, mode, content) in entries {
        match path.split_once('/') {
            Some((dir, rest)) => dirs.entry(dir).or_default().push((rest, mode, content)),
            None => here.push((path, mode, content)),
        }
    }
    let mut b = repo.treebuilder(None).expect("a tree builder");
    for (name, mode, content) in here {
        let id = if mode == GITLINK {
            Oid::from_str(content).expect("a gitlink names a commit id")
        } else {
            repo.blob(content.as_bytes()).expect("write a blob")
        };
        b.insert(name, id, mode).expect("insert an entry");
    }
    for (dir, inner) in dirs {
        let id = tree(repo, &inner);
        b.insert(dir, id, 0o040000).expect("insert a directory");
    }
    b.write().expect("write the tree")
}

#[test]
fn same_changes_as_libgit2_for_every_kind_of_change() {
    let dir = support::temp_dir("tree-diff-");
    let repo = Repository::init_bare(dir.path()).expect("init a repository");
    let sub_a = "5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e";
    let sub_b = "0badc0de0badc0de0badc0de0badc0de0badc0de";
    let versions: Vec<Vec<(&str, i32, &str)>> = vec![
        vec![
            ("a", FILE, "a file named a\n"),
            ("a.txt", FILE, "before a/\n"),
            ("a0", FILE, "after a/\n"),
            ("b/c/d.rs", FILE, "deep\n"),
            ("b/c/e.rs", FILE, "deep too\n"),
            ("b/x", FILE, "x\n"),
            ("link", LINK, "a.txt"),
            ("run.sh", FILE, "echo hi\n"),
            ("sub", GITLINK, sub_a),
            ("gone/one", FILE, "1\n"),
            ("gone/two/three", FILE, "3\n"),
            ("same/s.rs", FILE, "unchanged subtree\n"),
        ],
        vec![
            // a: file -> directory; link: link -> file; run.sh: mode only;
            // sub: moved to another commit; gone/: deleted whole;
            // b/c/e.rs edited deep down; a new submodule; same/ untouched.
            ("a/inner.rs", FILE, "now a directory\n"),
            ("a/z", FILE, "z\n"),
            ("a.txt", FILE, "before a/\n"),
            ("a0", FILE, "after a/\n"),
            ("b/c/d.rs", FILE, "deep\n"),
            ("b/c/e.rs", FILE, "deep, edited\n"),
            ("b/x", FILE, "x\n"),
            ("link", FILE, "a.txt"),
            ("run.sh", EXEC, "echo hi\n"),
            ("sub", GITLINK, sub_b),
            ("sub2", GITLINK, sub_a),
            ("same/s.rs", FILE, "unchanged subtree\n"),
        ],
        vec![
            // a: directory -> file; link -> symbolic link again; sub: gitlink
            // -> file; sub2: removed; b/ -> a gitlink; a new directory.
            ("a", FILE, "a file again\n"),
            ("a.txt", FILE, "before a/\n"),
            ("a0", FILE, "after a/, edited\n"),
            ("b", GITLINK, sub_b),
            ("link", LINK, "a0"),
            ("run.sh", EXEC, "echo hi\n"),
            ("sub", FILE, "not a submodule any more\n"),
            ("new/dir/file.py", FILE, "print()\n"),
            ("same/s.rs", FILE, "unchanged subtree\n"),
        ],
        vec![],
    ];
    let trees: Vec<Tree<'_>> = versions
        .iter()
        .map(|v| {
            let id = tree(&repo, v);
            repo.find_tree(id).expect("find the tree")
        })
        .collect();
    assert_same(&repo, None, Some(&trees[0]), "from nothing");
    assert_same(&repo, Some(&trees[0]), None, "to nothing");
    for (i, old) in trees.iter().enumerate() {
        for (j, new) in trees.iter().enumerate() {
            assert_same(&repo, Some(old), Some(new), &format!("version {i} to {j}"));
        }
    }
    // The kinds of change above are all there, as libgit2 reports them.
    let seen = show(&ours(&repo, Some(&trees[0]), Some(&trees[1])));
    for expected in [
        "D a",
        "A a/inner.rs",
        "M b/c/e.rs",
        "D gone/two/three",
        "D link",
        "A link",
        "M run.sh",
        "A sub2",
    ] {
        assert!(seen.iter().any(|s| s == expected), "{expected} in {seen:?}");
    }
    assert!(
        !seen.iter().any(|s| s.ends_with(" sub")),
        "a moved submodule is no change: {seen:?}"
    );
    assert!(!seen.iter().any(|s| s.contains("same/")), "{seen:?}");
}
