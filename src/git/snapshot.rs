//! The files of one snapshot: the tree of a commit, or a work tree filtered
//! by `.gitignore`, `.git/info/exclude` and `.swe-sleepignore`.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ignore::gitignore::{Gitignore, GitignoreBuilder};

use git2::{ObjectType, Oid, TreeWalkMode, TreeWalkResult};

use super::path;
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
    /// True when the object database lacks the blob (a partial clone, a
    /// mirror without its largest files): the path is known, the content
    /// and size are not.
    pub missing: bool,
}

/// A snapshot's entries and where their content comes from.
#[derive(Debug, Default)]
pub struct Listing {
    pub entries: Vec<Entry>,
    /// `Some(commit)` when read from a commit's tree, `None` for a work tree.
    pub commit: Option<Oid>,
    /// Entries left out because their names could escape or fake a path
    /// (`..`, `.git`, a `/`, a control character); see [`path::is_safe_name`].
    pub unsafe_names: usize,
    /// Nested repositories (submodule checkouts) left out of a work tree.
    pub nested_repos: usize,
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
    let mut unsafe_names = 0;
    tree.walk(TreeWalkMode::PreOrder, |dir, e| {
        let name = match e.name() {
            Ok(n) => n,
            Err(_) => {
                tracing::debug!(dir, "skipping a tree entry whose name is not UTF-8");
                return TreeWalkResult::Skip;
            }
        };
        if !path::is_safe_name(name) {
            tracing::warn!(
                dir,
                name = %path::display(name),
                "skipping a tree entry whose name could escape the repository or fake a path"
            );
            unsafe_names += 1;
            return TreeWalkResult::Skip;
        }
        let path = format!("{dir}{name}");
        let kind = match (e.kind(), e.filemode()) {
            (Some(ObjectType::Tree), _) => return TreeWalkResult::Ok,
            (Some(ObjectType::Commit), _) => EntryKind::Submodule,
            (Some(ObjectType::Blob), 0o120000) => EntryKind::Symlink,
            (Some(ObjectType::Blob), _) => EntryKind::File,
            _ => return TreeWalkResult::Ok,
        };
        let (size, missing) = if kind == EntryKind::File {
            match odb.read_header(e.id()) {
                Ok((size, _)) => (size as u64, false),
                Err(err) if err.code() == git2::ErrorCode::NotFound => {
                    tracing::debug!(
                        path,
                        "blob missing from the object database (partial clone?)"
                    );
                    (0, true)
                }
                Err(err) => {
                    failure = Some(err);
                    return TreeWalkResult::Abort;
                }
            }
        } else {
            (0, false)
        };
        entries.push(Entry {
            path,
            oid: e.id(),
            size,
            kind,
            missing,
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
        unsafe_names,
        nested_repos: 0,
    })
}

/// Lists a work tree as a developer sees it: tracked and untracked files,
/// minus what `.gitignore`, `.git/info/exclude` and global excludes leave
/// out, and minus what the root `.swe-sleepignore` excludes. Our own
/// ignore file only narrows: its `!pattern` re-includes what an earlier
/// line of it excluded, never a file git ignores (an ignored `secret.env`
/// stays out whatever the repository says). Symlinks are listed, never
/// followed; nested repositories (submodule checkouts) are skipped and
/// counted, as a `--rev` listing skips gitlinks. Content ids are computed as
/// git would, so unchanged files share the notebook entries of their
/// committed blobs.
///
/// `skip_dirs` are directories left out wherever they are: directory names
/// (`.swe-sleep`) or absolute paths (a `--state-dir` inside the work tree,
/// so the notebook never indexes itself).
pub fn list_worktree(repo: &Repo, skip_dirs: &[&Path]) -> Result<Listing, GitError> {
    let root = work_root(repo)?;
    let mut entries = Vec::new();
    let counts = walk_worktree(&root, skip_dirs, |f| {
        let entry = match f.kind {
            EntryKind::Symlink => Entry {
                path: f.path,
                oid: Oid::ZERO_SHA1,
                size: 0,
                kind: EntryKind::Symlink,
                missing: false,
            },
            _ => match hash_file(&root, &f.path) {
                Ok((oid, size)) => Entry {
                    path: f.path,
                    oid,
                    size,
                    kind: EntryKind::File,
                    missing: false,
                },
                Err(e) => {
                    tracing::debug!(path = f.path, error = %e, "skipping an unreadable file");
                    return;
                }
            },
        };
        entries.push(entry);
    });
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Listing {
        entries,
        commit: None,
        unsafe_names: counts.0,
        nested_repos: counts.1,
    })
}

/// A work-tree file as `stat` shows it, without reading it.
#[derive(Debug, Clone)]
pub struct StatEntry {
    pub path: String,
    pub kind: EntryKind,
    pub size: u64,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
}

/// The files [`list_worktree`] would list, by `stat` only (no content is
/// read): to tell cheaply what changed since a notebook was built.
pub fn stat_worktree(repo: &Repo, skip_dirs: &[&Path]) -> Result<Vec<StatEntry>, GitError> {
    let root = work_root(repo)?;
    let mut out = Vec::new();
    walk_worktree(&root, skip_dirs, |f| out.push(f));
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// The blob id git would give the work-tree file `rel` (read confined).
pub fn hash_worktree_file(repo: &Repo, rel: &str) -> Result<Oid, GitError> {
    let root = work_root(repo)?;
    hash_file(&root, rel)
        .map(|(oid, _)| oid)
        .map_err(|message| GitError::Io {
            path: root.join(rel),
            source: std::io::Error::other(message),
        })
}

fn work_root(repo: &Repo) -> Result<std::path::PathBuf, GitError> {
    repo.work_dir()
        .map(Path::to_path_buf)
        .ok_or_else(|| GitError::NotARepository {
            path: repo.git_dir().to_path_buf(),
            message: "a bare repository has no work tree".into(),
        })
}

/// Walks the work tree under the rules of [`list_worktree`], calling
/// `visit` for each regular file and symlink (never following one).
/// Returns (unsafe names skipped, nested repositories skipped).
fn walk_worktree(
    root: &Path,
    skip_dirs: &[&Path],
    mut visit: impl FnMut(StatEntry),
) -> (usize, usize) {
    let (abs, names): (Vec<&Path>, Vec<&Path>) = skip_dirs.iter().partition(|p| p.is_absolute());
    let skip_paths: Vec<std::path::PathBuf> = abs.into_iter().map(|p| p.to_path_buf()).collect();
    let skip_names: Vec<String> = names
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let ours = own_ignore_rules(root);
    let nested = Arc::new(AtomicUsize::new(0));
    let nested_in_filter = nested.clone();
    let filter_root = root.to_path_buf();
    let walker = ignore::WalkBuilder::new(root)
        .hidden(false)
        .parents(false)
        .git_ignore(true)
        .git_exclude(true)
        .git_global(true)
        .require_git(false)
        .follow_links(false)
        .filter_entry(move |e| {
            if e.depth() == 0 {
                return true;
            }
            let name = e.file_name().to_string_lossy();
            if name == ".git"
                || skip_names.iter().any(|s| *s == name)
                || skip_paths.iter().any(|p| e.path() == p)
            {
                return false;
            }
            let is_dir = e.file_type().is_some_and(|t| t.is_dir());
            if is_dir && e.path().join(".git").exists() {
                tracing::debug!(path = %e.path().display(), "skipping a nested repository (submodule)");
                nested_in_filter.fetch_add(1, Ordering::Relaxed);
                return false;
            }
            match e.path().strip_prefix(&filter_root) {
                Ok(rel) => !ours.matched_path_or_any_parents(rel, is_dir).is_ignore(),
                Err(_) => false,
            }
        })
        .build();
    let mut unsafe_names = 0;
    for item in walker {
        let dent = match item {
            Ok(d) => d,
            Err(e) => {
                tracing::debug!(error = %e, "skipping an unreadable work-tree entry");
                continue;
            }
        };
        let Some(ft) = dent.file_type() else { continue };
        // FIFOs, sockets and devices are never files of a snapshot.
        if !(ft.is_file() || ft.is_symlink()) {
            continue;
        }
        let Ok(rel) = dent.path().strip_prefix(root) else {
            continue;
        };
        let Some(path) = rel
            .to_str()
            .map(|s| s.replace(std::path::MAIN_SEPARATOR, "/"))
        else {
            tracing::debug!(path = %rel.display(), "skipping a path that is not UTF-8");
            continue;
        };
        if path.split('/').any(|n| !path::is_safe_name(n)) {
            tracing::warn!(path = %path::display(&path), "skipping a file whose name could fake a path");
            unsafe_names += 1;
            continue;
        }
        let meta = dent.metadata().ok();
        let mtime = meta
            .as_ref()
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs() as i64);
        visit(StatEntry {
            path,
            kind: if ft.is_symlink() {
                EntryKind::Symlink
            } else {
                EntryKind::File
            },
            size: meta.map_or(0, |m| m.len()),
            mtime,
        });
    }
    (unsafe_names, nested.load(Ordering::Relaxed))
}

/// The root `.swe-sleepignore` as exclusion rules (empty when absent).
fn own_ignore_rules(root: &Path) -> Gitignore {
    let mut b = GitignoreBuilder::new(root);
    let file = root.join(IGNORE_FILE);
    if file.is_file()
        && let Some(e) = b.add(&file)
    {
        tracing::warn!("{}: {e}", file.display());
    }
    b.build().unwrap_or_else(|e| {
        tracing::warn!("{}: {e}", file.display());
        Gitignore::empty()
    })
}

/// Files up to this size are hashed from one confined read; larger ones
/// (indexed by path only) are hashed by libgit2 from their path.
const HASH_READ_LIMIT: u64 = 16 * 1024 * 1024;

/// The blob id git would give a work-tree file, and its size, read without
/// following links or blocking on special files.
fn hash_file(root: &Path, rel: &str) -> Result<(Oid, u64), String> {
    match super::confined::read(root, rel, HASH_READ_LIMIT) {
        Ok(bytes) => Oid::hash_object(ObjectType::Blob, &bytes)
            .map(|o| (o, bytes.len() as u64))
            .map_err(|e| e.to_string()),
        Err(super::ConfinedReadError::TooLarge { .. }) => {
            let full = root.join(rel);
            let size = std::fs::symlink_metadata(&full)
                .map(|m| m.len())
                .map_err(|e| e.to_string())?;
            Oid::hash_file(ObjectType::Blob, &full)
                .map(|o| (o, size))
                .map_err(|e| e.to_string())
        }
        Err(e) => Err(e.to_string()),
    }
}
