//! The files of one snapshot: the tree of a commit, or a work tree filtered
//! by `.gitignore`, `.git/info/exclude` and `.swe-sleepignore`.

use std::path::Path;

use git2::{ObjectType, Oid, TreeWalkMode, TreeWalkResult};

use super::{GitError, Repo};

/// Our own ignore file, with `.gitignore` syntax; `!pattern` re-includes.
pub const IGNORE_FILE: &str = ".swe-sleepignore";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    /// Never followed: the notebook records the path only.
    Symlink,
    /// A gitlink; its content is another repository's and is skipped.
    Submodule,
}

/// One path of a snapshot.
#[derive(Debug, Clone)]
pub struct Entry {
    pub path: String,
    /// The blob id (for work-tree files, the id git would give the content).
    pub oid: Oid,
    pub size: u64,
    pub kind: EntryKind,
}

/// A snapshot's entries and where their content comes from.
#[derive(Debug)]
pub struct Listing {
    pub entries: Vec<Entry>,
    /// `Some(commit)` when read from a commit's tree, `None` for a work tree.
    pub commit: Option<Oid>,
}

/// Lists the tree of `commit` without checking anything out.
pub fn list_commit(repo: &Repo, commit: Oid) -> Result<Listing, GitError> {
    let raw = repo.raw();
    let tree = raw
        .find_commit(commit)
        .and_then(|c| c.tree())
        .map_err(|e| repo.err(e))?;
    let odb = raw.odb().map_err(|e| repo.err(e))?;
    let mut entries = Vec::new();
    let mut failure = None;
    tree.walk(TreeWalkMode::PreOrder, |dir, e| {
        let name = match e.name() {
            Ok(n) => n,
            Err(_) => {
                tracing::debug!(dir, "skipping a tree entry whose name is not UTF-8");
                return TreeWalkResult::Skip;
            }
        };
        let path = format!("{dir}{name}");
        let kind = match (e.kind(), e.filemode()) {
            (Some(ObjectType::Tree), _) => return TreeWalkResult::Ok,
            (Some(ObjectType::Commit), _) => EntryKind::Submodule,
            (Some(ObjectType::Blob), 0o120000) => EntryKind::Symlink,
            (Some(ObjectType::Blob), _) => EntryKind::File,
            _ => return TreeWalkResult::Ok,
        };
        let size = if kind == EntryKind::File {
            match odb.read_header(e.id()) {
                Ok((size, _)) => size as u64,
                Err(err) => {
                    failure = Some(err);
                    return TreeWalkResult::Abort;
                }
            }
        } else {
            0
        };
        entries.push(Entry {
            path,
            oid: e.id(),
            size,
            kind,
        });
        TreeWalkResult::Ok
    })
    .or_else(|e| if failure.is_some() { Ok(()) } else { Err(e) })
    .map_err(|e| repo.err(e))?;
    if let Some(e) = failure {
        return Err(repo.err(e));
    }
    Ok(Listing {
        entries,
        commit: Some(commit),
    })
}

/// Lists a work tree as a developer sees it: tracked and untracked files,
/// minus what `.gitignore`, `.git/info/exclude`, global excludes and
/// `.swe-sleepignore` leave out. Symlinks are listed, never followed.
/// Content ids are computed as git would, so unchanged files share the
/// notebook entries of their committed blobs.
///
/// `skip_dirs` are directories left out wherever they are: directory names
/// (`.swe-sleep`) or absolute paths (a `--state-dir` inside the work tree,
/// so the notebook never indexes itself).
pub fn list_worktree(repo: &Repo, skip_dirs: &[&Path]) -> Result<Listing, GitError> {
    let root = repo
        .work_dir()
        .ok_or_else(|| GitError::NotARepository {
            path: repo.git_dir().to_path_buf(),
            message: "a bare repository has no work tree".into(),
        })?
        .to_path_buf();
    let (abs, names): (Vec<&Path>, Vec<&Path>) = skip_dirs.iter().partition(|p| p.is_absolute());
    let skip_paths: Vec<std::path::PathBuf> = abs.into_iter().map(|p| p.to_path_buf()).collect();
    let skip_names: Vec<String> = names
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let walker = ignore::WalkBuilder::new(&root)
        .hidden(false)
        .parents(false)
        .git_ignore(true)
        .git_exclude(true)
        .git_global(true)
        .require_git(false)
        .follow_links(false)
        .add_custom_ignore_filename(IGNORE_FILE)
        .filter_entry(move |e| {
            let name = e.file_name().to_string_lossy();
            let skipped = name == ".git"
                || skip_names.iter().any(|s| *s == name)
                || skip_paths.iter().any(|p| e.path() == p);
            !(e.depth() > 0 && skipped)
        })
        .build();
    let mut entries = Vec::new();
    for item in walker {
        let dent = match item {
            Ok(d) => d,
            Err(e) => {
                tracing::debug!(error = %e, "skipping an unreadable work-tree entry");
                continue;
            }
        };
        let Some(ft) = dent.file_type() else { continue };
        if ft.is_dir() {
            if dent.depth() > 0 && dent.path().join(".git").exists() {
                tracing::debug!(path = %dent.path().display(), "skipping a nested repository (submodule)");
            }
            continue;
        }
        let rel = match dent.path().strip_prefix(&root) {
            Ok(r) => r,
            Err(_) => continue,
        };
        let Some(path) = rel
            .to_str()
            .map(|s| s.replace(std::path::MAIN_SEPARATOR, "/"))
        else {
            tracing::debug!(path = %rel.display(), "skipping a path that is not UTF-8");
            continue;
        };
        if ft.is_symlink() {
            entries.push(Entry {
                path,
                oid: Oid::ZERO_SHA1,
                size: 0,
                kind: EntryKind::Symlink,
            });
            continue;
        }
        if !ft.is_file() {
            continue;
        }
        let full = dent.path();
        let size = std::fs::symlink_metadata(full)
            .map(|m| m.len())
            .unwrap_or(0);
        let oid = match hash_file(full) {
            Ok(o) => o,
            Err(e) => {
                tracing::debug!(path = %full.display(), error = %e, "skipping an unreadable file");
                continue;
            }
        };
        entries.push(Entry {
            path,
            oid,
            size,
            kind: EntryKind::File,
        });
    }
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Listing {
        entries,
        commit: None,
    })
}

fn hash_file(path: &Path) -> Result<Oid, git2::Error> {
    Oid::hash_file(ObjectType::Blob, path)
}
