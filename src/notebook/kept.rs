//! Notebooks kept per revision, so `predict --rev X` never replaces the
//! work tree's notebook: each revision asked for gets a state directory of
//! its own, `<state dir>/revs/<commit>/`, with a whole notebook in it.
//! A new one starts as a copy of the main notebook (`VACUUM INTO`, so its
//! blob and commit caches make the first sleep there incremental); going
//! back and forth between revisions then costs nothing. At most `keep` are
//! kept; the least recently used go first.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::store::DB_FILE;

/// The sub-directory of the state directory that holds them.
pub const REVS_DIR: &str = "revs";

/// The state directory a prediction at `rev` uses: the main one for no
/// revision, while it holds no notebook (or a damaged one), or for the
/// commit a revision notebook there already describes; else the one kept
/// for the revision's commit.
pub fn state_dir_for(
    repo: &crate::git::Repo,
    state_dir: &Path,
    rev: Option<&str>,
    keep: usize,
) -> Result<PathBuf, super::NotebookError> {
    let Some(rev) = rev else {
        return Ok(state_dir.to_path_buf());
    };
    let commit = repo.resolve(rev)?.to_string();
    if !state_dir.join(DB_FILE).exists() {
        return Ok(state_dir.to_path_buf());
    }
    // A damaged main notebook holds nothing to keep: the caller's sleep
    // sets it aside and rebuilds it there.
    match super::Notebook::open(state_dir) {
        Err(_) | Ok(None) => return Ok(state_dir.to_path_buf()),
        Ok(Some(nb)) if !nb.info.worktree && nb.info.commit.as_deref() == Some(commit.as_str()) => {
            return Ok(state_dir.to_path_buf());
        }
        Ok(Some(_)) => {}
    }
    state_for_rev(state_dir, &commit, keep).map_err(|e| {
        super::NotebookError::Config(format!(
            "cannot prepare a notebook for {rev} in {}: {e}",
            state_dir.join(REVS_DIR).display()
        ))
    })
}

/// The state directory for `commit` (a full object id), made ready: an
/// existing one is marked used, a new one is seeded from the main notebook
/// in `state_dir` when there is one. Older ones beyond `keep` are removed.
pub fn state_for_rev(state_dir: &Path, commit: &str, keep: usize) -> std::io::Result<PathBuf> {
    let dir = state_dir.join(REVS_DIR).join(commit);
    if dir.join(DB_FILE).is_file() {
        std::fs::File::open(&dir)?.set_modified(SystemTime::now())?;
    } else {
        std::fs::create_dir_all(&dir)?;
        seed(&state_dir.join(DB_FILE), &dir.join(DB_FILE));
    }
    evict(&state_dir.join(REVS_DIR), &dir, keep.max(1));
    Ok(dir)
}

/// Copies the notebook at `from` into `to`, consistently even while a
/// sleep writes it; without one (or when it cannot be read), `to` starts
/// empty and its first sleep reads everything.
fn seed(from: &Path, to: &Path) {
    if !from.is_file() {
        return;
    }
    let copied = rusqlite::Connection::open_with_flags(
        from,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .and_then(|c| {
        c.busy_timeout(std::time::Duration::from_secs(10))?;
        c.execute("VACUUM INTO ?1", [to.to_string_lossy()])
    });
    if let Err(e) = copied {
        tracing::warn!(
            "cannot copy the notebook {} to {}: {e}; the revision's first sleep reads everything",
            from.display(),
            to.display()
        );
        let _ = std::fs::remove_file(to);
    }
}

/// Removes the least recently used directories under `revs` beyond
/// `keep`, never `current`.
fn evict(revs: &Path, current: &Path, keep: usize) {
    let Ok(entries) = std::fs::read_dir(revs) else {
        return;
    };
    let mut dirs: Vec<(SystemTime, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| {
            let used = e
                .metadata()
                .and_then(|m| m.modified())
                .unwrap_or(SystemTime::UNIX_EPOCH);
            (used, e.path())
        })
        .collect();
    dirs.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut kept = usize::from(dirs.iter().any(|d| d.1 == current));
    for (_, d) in dirs {
        if d == current {
            continue;
        }
        if kept < keep {
            kept += 1;
        } else if let Err(e) = std::fs::remove_dir_all(&d) {
            tracing::warn!("cannot remove the kept notebook {}: {e}", d.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_revisions_are_bounded_and_least_recently_used_go_first() {
        let state = tempfile::tempdir().expect("a temp dir");
        let commit = |i: u8| format!("{i:040}");
        let mut dirs = Vec::new();
        for i in 0..3 {
            let d = state_for_rev(state.path(), &commit(i), 2).expect("a dir");
            std::fs::write(d.join(DB_FILE), b"").expect("a stand-in notebook");
            std::fs::File::open(&d)
                .expect("open")
                .set_modified(
                    SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(10 + u64::from(i)),
                )
                .expect("stamp");
            dirs.push(d);
        }
        // 0 was evicted when 2 came; 1 and 2 remain.
        assert!(!dirs[0].exists());
        assert!(dirs[1].exists() && dirs[2].exists());
        // Using 1 again makes 2 the oldest: a new one evicts 2.
        assert_eq!(
            state_for_rev(state.path(), &commit(1), 2).expect("1"),
            dirs[1]
        );
        state_for_rev(state.path(), &commit(3), 2).expect("3");
        assert!(dirs[1].exists());
        assert!(!dirs[2].exists());
    }
}
