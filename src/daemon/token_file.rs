//! How the CLI learns the API token of a running daemon: the daemon writes
//! it beside its lock, in `daemon.token`, readable by the user only (mode
//! 0600, created that way, never widened), and removes it when it stops.
//! `predict` and `status` read it through [`read`] and send it as
//! `Authorization: Bearer`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::secret::Secret;

use super::DaemonError;

/// The token file's name inside the state directory.
pub const TOKEN_FILE: &str = "daemon.token";

/// The written token file; dropping it removes the file.
#[derive(Debug)]
pub struct TokenFile {
    path: PathBuf,
}

impl TokenFile {
    /// Writes `token` for the CLI; without one, removes a file left by an
    /// earlier daemon so no client sends an old token. Call with the
    /// daemon lock held.
    pub fn publish(
        state_dir: &Path,
        token: Option<&Secret>,
    ) -> Result<Option<TokenFile>, DaemonError> {
        let path = state_dir.join(TOKEN_FILE);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(DaemonError::io(&path, e)),
        }
        let Some(token) = token else {
            return Ok(None);
        };
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut f = options.open(&path).map_err(|e| DaemonError::io(&path, e))?;
        f.write_all(token.expose().as_bytes())
            .map_err(|e| DaemonError::io(&path, e))?;
        Ok(Some(TokenFile { path }))
    }
}

impl Drop for TokenFile {
    fn drop(&mut self) {
        if let Err(e) = fs::remove_file(&self.path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!("cannot remove {}: {e}", self.path.display());
        }
    }
}

/// The token a running daemon published in `state_dir`, if any.
pub fn read(state_dir: &Path) -> Option<Secret> {
    let text = fs::read_to_string(state_dir.join(TOKEN_FILE)).ok()?;
    let token = text.trim();
    (!token.is_empty()).then(|| Secret::new(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_for_the_user_only_and_removed_on_drop() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = TokenFile::publish(dir.path(), Some(&Secret::new("t0ken")))
            .expect("written")
            .expect("a file");
        assert_eq!(read(dir.path()).expect("a token").expose(), "t0ken");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join(TOKEN_FILE))
                .expect("stat")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        drop(file);
        assert!(read(dir.path()).is_none());
        // A file left behind is removed when the next daemon has no token.
        fs::write(dir.path().join(TOKEN_FILE), "old").expect("write");
        assert!(TokenFile::publish(dir.path(), None).expect("ok").is_none());
        assert!(read(dir.path()).is_none());
    }
}
