//! A held repository's managed bare mirror, kept by the git command line
//! (libgit2 is built here without network transports).
//!
//! The installation token reaches git only through the environment of the
//! one `git fetch` child (`SWE_SLEEP_GIT_TOKEN`), read by an inline
//! credential helper that prints it to git on `get` and does nothing on
//! `store` or `erase`. Helpers from the user's or the system's git
//! configuration are cleared first (`credential.helper=` with an empty
//! value), so none of them is asked to store it: the token is never in a
//! file, an argument, the remote's URL or a log line, and git's own
//! message on failure is redacted before it is shown.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::secret::Secret;

/// The variable the credential helper reads.
const TOKEN_VAR: &str = "SWE_SLEEP_GIT_TOKEN";

/// Answers git's `get` with the installation token from the environment.
const HELPER: &str = "!f() { test \"$1\" = get || exit 0; echo username=x-access-token; echo \"password=${SWE_SLEEP_GIT_TOKEN}\"; }; f";

#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    #[error("cannot run git for the mirror {}", path.display())]
    Spawn {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("git {what} in {} failed ({status}): {message}", path.display())]
    Git {
        what: String,
        path: PathBuf,
        status: String,
        message: String,
    },
    #[error("git fetch in {} took longer than {}s; stopped", path.display(), timeout.as_secs())]
    Timeout { path: PathBuf, timeout: Duration },
}

/// A bare mirror of one repository's branches.
#[derive(Debug, Clone)]
pub struct Mirror {
    path: PathBuf,
}

impl Mirror {
    pub fn new(path: PathBuf) -> Mirror {
        Mirror { path }
    }

    /// The git directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Creates the bare repository when missing, and points `origin` at
    /// `url` (branches only: `+refs/heads/*:refs/heads/*`) and `HEAD` at
    /// `branch`. Safe to repeat; the URL and branch may change.
    pub fn prepare(&self, url: &str, branch: &str) -> Result<(), MirrorError> {
        if !self.path.join("HEAD").is_file() {
            std::fs::create_dir_all(&self.path).map_err(|source| MirrorError::Spawn {
                path: self.path.clone(),
                source,
            })?;
            self.git("init", &["init", "--bare", "--quiet"])?;
        }
        self.git("config", &["config", "remote.origin.url", url])?;
        self.git(
            "config",
            &[
                "config",
                "remote.origin.fetch",
                "+refs/heads/*:refs/heads/*",
            ],
        )?;
        self.git("config", &["config", "gc.auto", "0"])?;
        self.git(
            "symbolic-ref",
            &["symbolic-ref", "HEAD", &format!("refs/heads/{branch}")],
        )
    }

    /// `git fetch --prune origin` with `token` (if any) offered through the
    /// credential helper; stopped after `timeout`. `Ok` with one line.
    pub fn fetch(&self, token: Option<&Secret>, timeout: Duration) -> Result<String, MirrorError> {
        let started = Instant::now();
        let mut cmd = self.command();
        cmd.args(["-c", "credential.helper=", "-c"])
            .arg(format!("credential.helper={HELPER}"))
            .args([
                "fetch",
                "--prune",
                "--quiet",
                "--no-write-fetch-head",
                "origin",
            ]);
        match token {
            Some(t) => cmd.env(TOKEN_VAR, t.expose()),
            None => cmd.env_remove(TOKEN_VAR),
        };
        let mut child = cmd.spawn().map_err(|source| MirrorError::Spawn {
            path: self.path.clone(),
            source,
        })?;
        loop {
            match child.try_wait() {
                Ok(Some(status)) if status.success() => {
                    return Ok(format!(
                        "fetched in {:.1}s",
                        started.elapsed().as_secs_f64()
                    ));
                }
                Ok(Some(status)) => {
                    return Err(self.failed("fetch", status.to_string(), &mut child, token));
                }
                Ok(None) if started.elapsed() > timeout => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(MirrorError::Timeout {
                        path: self.path.clone(),
                        timeout,
                    });
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(source) => {
                    return Err(MirrorError::Spawn {
                        path: self.path.clone(),
                        source,
                    });
                }
            }
        }
    }

    /// git in the mirror, never interactive, with no configured helper,
    /// askpass or terminal prompt to fall back on.
    fn command(&self) -> Command {
        let mut cmd = Command::new("git");
        cmd.arg("--git-dir")
            .arg(&self.path)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_ASKPASS", "true")
            .env_remove("SSH_ASKPASS")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        cmd
    }

    fn git(&self, what: &str, args: &[&str]) -> Result<(), MirrorError> {
        let mut child = self
            .command()
            .args(args)
            .spawn()
            .map_err(|source| MirrorError::Spawn {
                path: self.path.clone(),
                source,
            })?;
        let status = child.wait().map_err(|source| MirrorError::Spawn {
            path: self.path.clone(),
            source,
        })?;
        if status.success() {
            Ok(())
        } else {
            Err(self.failed(what, status.to_string(), &mut child, None))
        }
    }

    /// git's last message line, with the token (if git echoed it) replaced.
    fn failed(
        &self,
        what: &str,
        status: String,
        child: &mut std::process::Child,
        token: Option<&Secret>,
    ) -> MirrorError {
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        let mut message = err
            .trim()
            .lines()
            .last()
            .unwrap_or("no message")
            .to_string();
        if let Some(t) = token.filter(|t| !t.expose().is_empty()) {
            message = message.replace(t.expose(), "[redacted]");
        }
        MirrorError::Git {
            what: what.to_string(),
            path: self.path.clone(),
            status,
            message,
        }
    }
}
