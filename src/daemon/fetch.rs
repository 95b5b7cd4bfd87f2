//! Bringing the repository up to date with its remote: `git fetch --prune
//! origin`, run by the git command line (libgit2 is built here without
//! network transports, and git already knows the user's credentials).
//! Bounded in time, never interactive. The HEAD poll then sees a new commit
//! in a mirror, or the base branch's new position in a checkout.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs the fetch in `repo` (a work tree or a git directory); `Ok` with a
/// one-line summary, `Err` naming what failed.
pub fn fetch_origin(repo: &Path, timeout: Duration) -> Result<String, String> {
    let started = Instant::now();
    let mut child = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["fetch", "--prune", "--quiet", "origin"])
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run git fetch in {}: {e}", repo.display()))?;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    use std::io::Read;
                    let _ = e.read_to_string(&mut err);
                }
                return if status.success() {
                    Ok(format!(
                        "fetched origin in {:.1}s",
                        started.elapsed().as_secs_f64()
                    ))
                } else {
                    Err(format!(
                        "git fetch origin in {} failed ({status}): {}",
                        repo.display(),
                        err.trim().lines().last().unwrap_or("no message")
                    ))
                };
            }
            Ok(None) if started.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "git fetch origin in {} took longer than {}s; stopped",
                    repo.display(),
                    timeout.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(format!("waiting for git fetch: {e}")),
        }
    }
}
