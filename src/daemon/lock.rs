//! One daemon per repository: a lock file in the state directory holding
//! the owner's pid, its start time and its listen address.
//!
//! The file is created with `create_new`, so two daemons racing for it
//! cannot both win. A lock whose process is gone is stale and is taken
//! over (with a log line): a pid that now belongs to another process (its
//! start time differs, see [`super::process`]) counts as gone. The lock is
//! removed when the guard drops.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::DaemonError;
use super::process::ProcessId;

/// The lock file's name inside the state directory.
pub const LOCK_FILE: &str = "daemon.lock";

/// Holds the lock; dropping it removes the file.
#[derive(Debug)]
pub struct DaemonLock {
    path: PathBuf,
}

/// What a lock file says about its owner.
#[derive(Debug, Clone, PartialEq)]
pub struct LockOwner {
    pub pid: u32,
    /// The owner's start time (see [`super::process`]); `None` in locks
    /// written by older versions or on systems that do not tell.
    pub started: Option<u64>,
    pub addr: String,
}

impl LockOwner {
    /// Whether the process that wrote the lock still runs.
    pub fn is_running(&self) -> bool {
        ProcessId {
            pid: self.pid,
            started: self.started,
        }
        .is_running()
    }
}

impl DaemonLock {
    /// Takes the lock in `state_dir` for this process, serving at `addr`.
    pub fn acquire(state_dir: &Path, addr: &str) -> Result<DaemonLock, DaemonError> {
        fs::create_dir_all(state_dir).map_err(|e| DaemonError::io(state_dir, e))?;
        let path = state_dir.join(LOCK_FILE);
        // Two attempts: the second after removing a stale lock.
        for _ in 0..2 {
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut f) => {
                    f.write_all(contents(addr).as_bytes())
                        .map_err(|e| DaemonError::io(&path, e))?;
                    return Ok(DaemonLock { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let text = fs::read_to_string(&path).unwrap_or_default();
                    match parse(&text) {
                        Some(owner) if owner.is_running() => {
                            return Err(DaemonError::Locked {
                                path,
                                pid: owner.pid,
                                addr: owner.addr,
                            });
                        }
                        owner => {
                            tracing::warn!(
                                "taking over the stale daemon lock {} (pid {} is not a running swe-sleep daemon)",
                                path.display(),
                                owner.map_or_else(|| "?".into(), |o| o.pid.to_string())
                            );
                            match fs::remove_file(&path) {
                                Ok(()) => {}
                                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                                Err(e) => return Err(DaemonError::io(&path, e)),
                            }
                        }
                    }
                }
                Err(e) => return Err(DaemonError::io(&path, e)),
            }
        }
        Err(DaemonError::io(
            &path,
            std::io::Error::other("another process keeps recreating the lock"),
        ))
    }

    /// Records the address actually bound (when port 0 was asked for).
    pub fn set_addr(&self, addr: &str) -> Result<(), DaemonError> {
        fs::write(&self.path, contents(addr)).map_err(|e| DaemonError::io(&self.path, e))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for DaemonLock {
    fn drop(&mut self) {
        // Only remove a lock that is still ours.
        let ours = fs::read_to_string(&self.path)
            .ok()
            .and_then(|t| parse(&t))
            .is_some_and(|o| o.pid == std::process::id());
        if ours && let Err(e) = fs::remove_file(&self.path) {
            tracing::warn!("cannot remove {}: {e}", self.path.display());
        }
    }
}

fn contents(addr: &str) -> String {
    let me = ProcessId::current();
    let mut text = format!("pid={}\n", me.pid);
    if let Some(started) = me.started {
        text.push_str(&format!("started={started}\n"));
    }
    text.push_str(&format!("addr={addr}\n"));
    text
}

/// Reads `pid=N`, `started=T` and `addr=A` lines; `None` without a pid.
pub fn parse(text: &str) -> Option<LockOwner> {
    let mut pid = None;
    let mut started = None;
    let mut addr = String::new();
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("pid=") {
            pid = v.trim().parse().ok();
        } else if let Some(v) = line.strip_prefix("started=") {
            started = v.trim().parse().ok();
        } else if let Some(v) = line.strip_prefix("addr=") {
            addr = v.trim().to_string();
        }
    }
    pid.map(|pid| LockOwner { pid, started, addr })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_names_the_first_and_stale_locks_are_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let first = DaemonLock::acquire(dir.path(), "127.0.0.1:1").unwrap();
        let err = DaemonLock::acquire(dir.path(), "127.0.0.1:2").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(&std::process::id().to_string()), "{msg}");
        assert!(msg.contains("127.0.0.1:1"), "{msg}");
        drop(first);
        assert!(!dir.path().join(LOCK_FILE).exists());

        // A pid that cannot be running (beyond Linux's pid_max).
        fs::write(dir.path().join(LOCK_FILE), "pid=4294967\naddr=x\n").unwrap();
        let taken = DaemonLock::acquire(dir.path(), "127.0.0.1:3").unwrap();
        let owner = parse(&fs::read_to_string(taken.path()).unwrap()).unwrap();
        assert_eq!(owner.pid, std::process::id());
        assert_eq!(owner.addr, "127.0.0.1:3");
        assert_eq!(owner.started, ProcessId::current().started);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_lock_whose_pid_now_belongs_to_another_process_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let mut other = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn sleep");
        let started = super::super::process::start_time(other.id()).expect("a start time");
        // Written by a daemon that had this pid before, with another start
        // time; then an older lock without a start time.
        for text in [
            format!("pid={}\nstarted={}\naddr=x\n", other.id(), started + 7),
            format!("pid={}\naddr=x\n", other.id()),
        ] {
            fs::write(dir.path().join(LOCK_FILE), text).unwrap();
            let taken = DaemonLock::acquire(dir.path(), "127.0.0.1:4").expect("taken over");
            drop(taken);
        }
        // The same pid with its own start time and no swe-sleep binary: a
        // live process recorded precisely; the lock is honoured.
        fs::write(
            dir.path().join(LOCK_FILE),
            format!("pid={}\nstarted={started}\naddr=x\n", other.id()),
        )
        .unwrap();
        assert!(DaemonLock::acquire(dir.path(), "127.0.0.1:5").is_err());
        let _ = other.kill();
        let _ = other.wait();
    }
}
