//! Reading git repositories through libgit2: resolving revisions, listing the
//! files of a commit (or of a work tree) and reading their content straight
//! from the object database, and mining first-parent history.
//!
//! Depends on nothing else in the crate. Never writes to the repository,
//! except `ensure_excluded`, which adds one line to `.git/info/exclude`.
//!
//! Objects are read without re-hashing them: [`Repo::open`] turns libgit2's
//! strict hash verification off for the whole process (a global setting,
//! set once, before the first read). A repository we are pointed at is
//! trusted to be one; verifying every object on every read cost about a
//! third of history mining, and a damaged object database still fails
//! where git itself would (an object that cannot be found or inflated).

mod confined;
mod history;
mod message;
pub mod path;
mod snapshot;
pub mod tree_diff;

use std::path::{Path, PathBuf};

pub use confined::{ConfinedReadError, read as read_confined};
pub use git2::Oid;
pub use history::{MAX_RECORDED_FILES, MinedCommit, mine_commit, patch, request_body};
pub use message::{CommitKind, ParsedMessage, parse_message};
pub use snapshot::{
    Entry, EntryKind, IGNORE_FILE, Listing, StatEntry, hash_worktree_file, list_commit,
    list_worktree, stat_worktree,
};

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("not a git repository: {path} ({message})")]
    NotARepository { path: PathBuf, message: String },
    #[error("revision `{rev}` not found in {repo}")]
    UnknownRevision { rev: String, repo: PathBuf },
    #[error("repository {0} has no commits yet")]
    Empty(PathBuf),
    #[error("git error in {repo}: {source}")]
    Git {
        repo: PathBuf,
        #[source]
        source: git2::Error,
    },
    #[error(
        "object {id} is missing from the object database of {repo} (a partial clone or a damaged mirror): a sleep needs every commit and tree of the revision and its history; fetch it (`git fetch --refetch`) or use a full clone"
    )]
    MissingObject {
        repo: PathBuf,
        id: String,
        #[source]
        source: git2::Error,
    },
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// An open repository and where it lives.
pub struct Repo {
    inner: git2::Repository,
    git_dir: PathBuf,
    work_dir: Option<PathBuf>,
}

impl Repo {
    /// Opens the repository at `path` (a work tree, any directory inside
    /// one, or a git directory such as a bare clone).
    pub fn open(path: &Path) -> Result<Repo, GitError> {
        trust_object_ids();
        let inner =
            git2::Repository::open_ext(path, git2::RepositoryOpenFlags::empty(), None::<&Path>)
                .map_err(|e| GitError::NotARepository {
                    path: path.to_path_buf(),
                    message: e.message().to_string(),
                })?;
        let git_dir = inner.path().to_path_buf();
        // A git directory opened directly is read as bare even when its
        // config does not say `core.bare` (as in some mirrors): the caller
        // pointed at the object database, not at a work tree.
        let opened_git_dir =
            same_dir(path, &git_dir) && git_dir.file_name() != Some(".git".as_ref());
        let work_dir = if opened_git_dir {
            None
        } else {
            inner.workdir().map(Path::to_path_buf)
        };
        Ok(Repo {
            inner,
            git_dir,
            work_dir,
        })
    }

    /// Opens another handle on the same repository (libgit2 handles are not
    /// shared between threads).
    pub fn reopen(&self) -> Result<Repo, GitError> {
        Repo::open(&self.git_dir)
    }

    pub fn git_dir(&self) -> &Path {
        &self.git_dir
    }

    /// The work tree, `None` for a bare repository.
    pub fn work_dir(&self) -> Option<&Path> {
        self.work_dir.as_deref()
    }

    /// Where the repository is, for messages: the work tree or the git dir.
    pub fn display_path(&self) -> &Path {
        self.work_dir.as_deref().unwrap_or(&self.git_dir)
    }

    pub fn is_shallow(&self) -> bool {
        self.inner.is_shallow()
    }

    pub fn raw(&self) -> &git2::Repository {
        &self.inner
    }

    fn err(&self, source: git2::Error) -> GitError {
        let repo = self.display_path().to_path_buf();
        if source.code() == git2::ErrorCode::NotFound && source.class() == git2::ErrorClass::Odb {
            let id = missing_id(source.message()).unwrap_or_else(|| "?".into());
            return GitError::MissingObject { repo, id, source };
        }
        GitError::Git { repo, source }
    }

    /// The commit `rev` names (`HEAD`, a branch, a tag, an abbreviated id).
    pub fn resolve(&self, rev: &str) -> Result<Oid, GitError> {
        if rev == "HEAD" && self.head()?.is_none() {
            return Err(GitError::Empty(self.display_path().to_path_buf()));
        }
        let obj = self
            .inner
            .revparse_single(rev)
            .map_err(|_| GitError::UnknownRevision {
                rev: rev.to_string(),
                repo: self.display_path().to_path_buf(),
            })?;
        let commit = obj
            .peel_to_commit()
            .map_err(|_| GitError::UnknownRevision {
                rev: format!("{rev} (not a commit)"),
                repo: self.display_path().to_path_buf(),
            })?;
        Ok(commit.id())
    }

    /// The commit HEAD points at, `None` in a repository with no commits.
    pub fn head(&self) -> Result<Option<Oid>, GitError> {
        match self.inner.head() {
            Ok(r) => Ok(r.peel_to_commit().ok().map(|c| c.id())),
            Err(e)
                if matches!(
                    e.code(),
                    git2::ErrorCode::UnbornBranch | git2::ErrorCode::NotFound
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(self.err(e)),
        }
    }

    /// Commit time (seconds since the epoch) of `commit`.
    pub fn commit_time(&self, commit: Oid) -> Result<i64, GitError> {
        let c = self.inner.find_commit(commit).map_err(|e| self.err(e))?;
        Ok(c.time().seconds())
    }

    /// The bytes of a blob, read from the object database.
    pub fn read_blob(&self, oid: Oid) -> Result<Vec<u8>, GitError> {
        let blob = self.inner.find_blob(oid).map_err(|e| self.err(e))?;
        Ok(blob.content().to_vec())
    }

    /// Size of an object without reading it.
    pub fn object_size(&self, oid: Oid) -> Result<u64, GitError> {
        let odb = self.inner.odb().map_err(|e| self.err(e))?;
        let (size, _) = odb.read_header(oid).map_err(|e| self.err(e))?;
        Ok(size as u64)
    }

    /// Number of first-parent commits from `from` back to `to` (exclusive),
    /// or `None` when `to` is not on that chain within `limit` steps.
    pub fn first_parent_distance(&self, from: Oid, to: Oid, limit: usize) -> Option<usize> {
        let mut cur = self.inner.find_commit(from).ok()?;
        for n in 0..limit {
            if cur.id() == to {
                return Some(n);
            }
            cur = cur.parent(0).ok()?;
        }
        None
    }

    /// Adds `pattern` to `.git/info/exclude` unless a line already says it.
    pub fn ensure_excluded(&self, pattern: &str) -> Result<(), GitError> {
        let path = self.git_dir.join("info").join("exclude");
        let existing = std::fs::read_to_string(&path).unwrap_or_default();
        if existing.lines().any(|l| l.trim() == pattern) {
            return Ok(());
        }
        let io = |source| GitError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(path.parent().expect("exclude file has a parent")).map_err(io)?;
        let mut text = existing;
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(pattern);
        text.push('\n');
        std::fs::write(&path, text).map_err(io)
    }
}

/// Turns libgit2's strict hash verification off, once per process: reads
/// then trust that an object's content matches its id (see the module
/// doc). Global, so it is set here, before any repository is opened.
fn trust_object_ids() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        git2::opts::strict_hash_verification(false);
        // SAFETY: a process-wide setting of libgit2's object cache, set once
        // before any repository of ours is opened; libgit2 only reads it.
        let cached =
            unsafe { git2::opts::set_cache_object_limit(git2::ObjectType::Tree, TREE_CACHE_LIMIT) };
        if let Err(e) = cached {
            tracing::debug!("libgit2 keeps its default tree cache: {e}");
        }
    });
}

/// Largest tree libgit2's object cache keeps (its default, 4 KiB, leaves
/// out every directory of more than about a hundred entries, which history
/// mining then inflated again for each commit). The cache as a whole stays
/// under libgit2's global cap (256 MiB).
const TREE_CACHE_LIMIT: usize = 1 << 20;

/// The object id in libgit2's "no match for id (...)" message.
fn missing_id(message: &str) -> Option<String> {
    let start = message.find("id (")? + 4;
    let end = message[start..].find(')')? + start;
    Some(message[start..end].to_string())
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Git's own test for binary content: a NUL byte in the first 8000 bytes.
pub fn looks_binary(bytes: &[u8]) -> bool {
    bytes.iter().take(8000).any(|b| *b == 0)
}
