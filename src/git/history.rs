//! One commit of first-parent history: its message read as a pull request
//! when it is one, and the files it changed against its first parent.

use git2::{DiffOptions, Oid};

use super::message::{CommitKind, clean_body, parse_message};
use super::{GitError, Repo};

/// Paths recorded per commit; larger commits keep their true count in
/// `file_count` (mass renames matter only as "too big to mean anything").
pub const MAX_RECORDED_FILES: usize = 500;

/// A commit as history mining sees it.
#[derive(Debug, Clone)]
pub struct MinedCommit {
    pub oid: Oid,
    /// First parent; `None` for a root commit or at a shallow boundary.
    pub parent: Option<Oid>,
    /// True when the commit has a parent that this clone does not have.
    pub truncated: bool,
    pub time: i64,
    pub kind: CommitKind,
    pub pr: Option<u64>,
    pub title: String,
    pub body: String,
    /// Changed paths with git's one-letter status (A, M, D), sorted.
    pub files: Vec<(String, char)>,
    pub file_count: usize,
}

/// Reads one commit and diffs it against its first parent.
pub fn mine_commit(repo: &Repo, oid: Oid) -> Result<MinedCommit, GitError> {
    let raw = repo.raw();
    let commit = raw.find_commit(oid).map_err(|e| repo.err(e))?;
    let message = String::from_utf8_lossy(commit.message_bytes()).into_owned();
    let parsed = parse_message(&message);
    let (parent, truncated) = if commit.parent_count() == 0 {
        // In a shallow clone libgit2 grafts the boundary commits to have no
        // parents, but their own header still names the parent it lacks.
        (None, repo.is_shallow() && header_names_parent(&commit))
    } else {
        match commit.parent(0) {
            Ok(p) => (Some(p), false),
            Err(_) => (None, true),
        }
    };
    let tree = commit.tree().map_err(|e| repo.err(e))?;
    let parent_tree = match &parent {
        Some(p) => Some(p.tree().map_err(|e| repo.err(e))?),
        None => None,
    };
    let mut files = Vec::new();
    let mut file_count = 0;
    if !truncated {
        let mut unsafe_path = None;
        super::tree_diff::diff_trees(raw, parent_tree.as_ref(), Some(&tree), |path, status| {
            // Paths that are not UTF-8 are left out, as they always were.
            let Ok(path) = std::str::from_utf8(path) else {
                return;
            };
            // A tree entry that could escape or fake a path is never a file.
            if super::path::check(path).is_err() {
                unsafe_path.get_or_insert_with(|| super::path::display(path).to_string());
                return;
            }
            file_count += 1;
            if files.len() < MAX_RECORDED_FILES {
                files.push((path.to_string(), status));
            }
        })
        .map_err(|e| repo.err(e))?;
        if let Some(path) = unsafe_path {
            tracing::debug!(commit = %oid, %path, "skipping unsafe paths in history");
        }
        files.sort();
    }
    Ok(MinedCommit {
        oid,
        parent: parent.map(|p| p.id()),
        truncated,
        time: commit.time().seconds(),
        kind: parsed.kind,
        pr: parsed.pr,
        title: parsed.title,
        body: parsed.body,
        files,
        file_count,
    })
}

/// Whether the commit object's own header has a `parent` line (whatever
/// grafts or the shallow file say).
fn header_names_parent(commit: &git2::Commit<'_>) -> bool {
    commit
        .raw_header_bytes()
        .split(|b| *b == b'\n')
        .any(|line| line.starts_with(b"parent "))
}

/// At most this many commits of a merged branch (its second parent's side)
/// are read for their subjects; a squash has one parent, and the list in its
/// body is recognised by its shape.
const MAX_MERGED_SUBJECTS: usize = 250;

/// The body of the pull request merged as `oid`, as a request written before
/// the work would read: without trailers, and empty when it only lists the
/// branch's commits (`message::clean_body`; `title` and the subjects of the
/// commits a merge brought in count as such a list). What `bench mine` puts
/// in an instance and what sleep-time replay asks with.
pub fn request_body(repo: &Repo, oid: Oid, title: &str, body: &str) -> Result<String, GitError> {
    let mut subjects = vec![title.to_string()];
    let raw = repo.raw();
    let commit = raw.find_commit(oid).map_err(|e| repo.err(e))?;
    if let (Ok(first), Ok(second)) = (commit.parent_id(0), commit.parent_id(1)) {
        let mut walk = raw.revwalk().map_err(|e| repo.err(e))?;
        walk.push(second).map_err(|e| repo.err(e))?;
        walk.hide(first).map_err(|e| repo.err(e))?;
        for id in walk.take(MAX_MERGED_SUBJECTS) {
            let c = raw
                .find_commit(id.map_err(|e| repo.err(e))?)
                .map_err(|e| repo.err(e))?;
            subjects
                .push(String::from_utf8_lossy(c.summary_bytes().unwrap_or_default()).into_owned());
        }
    }
    Ok(clean_body(body, &subjects))
}

/// The unified diff between two commits (`git diff base head`), cut at
/// `max_bytes` (at a line end) with a note when longer.
pub fn patch(repo: &Repo, base: Oid, head: Oid, max_bytes: usize) -> Result<String, GitError> {
    let raw = repo.raw();
    let tree = |oid: Oid| {
        raw.find_commit(oid)
            .and_then(|c| c.tree())
            .map_err(|e| repo.err(e))
    };
    let (old, new) = (tree(base)?, tree(head)?);
    let mut opts = DiffOptions::new();
    opts.ignore_submodules(true);
    let diff = raw
        .diff_tree_to_tree(Some(&old), Some(&new), Some(&mut opts))
        .map_err(|e| repo.err(e))?;
    let mut out = String::new();
    let mut full = false;
    diff.print(git2::DiffFormat::Patch, |_, _, line| {
        if full {
            return true;
        }
        let text = String::from_utf8_lossy(line.content());
        let prefix = match line.origin() {
            c @ ('+' | '-' | ' ') => c.to_string(),
            _ => String::new(),
        };
        if out.len() + prefix.len() + text.len() > max_bytes {
            out.push_str("[... patch cut ...]\n");
            full = true;
            return true;
        }
        out.push_str(&prefix);
        out.push_str(&text);
        true
    })
    .map_err(|e| repo.err(e))?;
    Ok(out)
}
