//! Is a pid still the process that wrote a lock? A pid alone is not enough:
//! after a reboot or a crash the number may belong to any other program.
//! On Linux a process is named by its pid and its start time (field 22 of
//! `/proc/PID/stat`, in clock ticks since boot), which no other process
//! shares; elsewhere only liveness can be checked.

use std::path::Path;

/// A process as a lock file records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessId {
    pub pid: u32,
    /// The start time, where the OS tells it.
    pub started: Option<u64>,
}

impl ProcessId {
    /// This process.
    pub fn current() -> ProcessId {
        let pid = std::process::id();
        ProcessId {
            pid,
            started: start_time(pid),
        }
    }

    /// Whether this process is still running. With a recorded start time
    /// the running process must have the same one; without (a lock written
    /// by an older swe-sleep) the pid must at least run a `swe-sleep` binary
    /// where that can be read.
    pub fn is_running(&self) -> bool {
        if self.pid == std::process::id() {
            return self.started.is_none() || self.started == start_time(self.pid);
        }
        if !pid_alive(self.pid) {
            return false;
        }
        match (self.started, start_time(self.pid)) {
            (Some(recorded), Some(now)) => recorded == now,
            (Some(_), None) => true,
            (None, _) => runs_swe_sleep(self.pid).unwrap_or(true),
        }
    }
}

/// Whether a process with this pid exists.
pub fn pid_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    if cfg!(target_os = "linux") {
        return Path::new("/proc").join(pid.to_string()).exists();
    }
    std::process::Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The start time of `pid` in clock ticks since boot (Linux only).
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_start_time(&stat)
}

/// Field 22 of a `/proc/PID/stat` line. The command name (field 2) is in
/// parentheses and may hold spaces and parentheses itself, so fields are
/// counted from the last `)`.
fn parse_start_time(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // `rest` starts at field 3 (the state).
    rest.split_whitespace().nth(22 - 3)?.parse().ok()
}

/// Whether `pid` runs a binary named like swe-sleep; `None` when that
/// cannot be read. A process of another user cannot be read, and cannot
/// be a daemon this user started either.
fn runs_swe_sleep(pid: u32) -> Option<bool> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    match std::fs::read_link(format!("/proc/{pid}/exe")) {
        Ok(exe) => Some(
            exe.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("swe-sleep")),
        ),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Some(false),
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_time_is_field_22_after_the_command_name() {
        let line = "4242 (we ird) (name) S 1 4242 4242 0 -1 4194560 500 0 0 0 3 1 0 0 20 0 1 0 987654 1000 10";
        assert_eq!(parse_start_time(line), Some(987654));
        assert_eq!(parse_start_time("garbage"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_runs_and_a_reused_pid_does_not() {
        let me = ProcessId::current();
        assert!(me.started.is_some());
        assert!(me.is_running());
        let reused = ProcessId {
            started: me.started.map(|s| s + 1),
            ..me
        };
        assert!(
            !reused.is_running(),
            "another start time is another process"
        );
        // A live process that is not swe-sleep, named by an old lock
        // without a start time.
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn sleep");
        let other = ProcessId {
            pid: child.id(),
            started: None,
        };
        assert!(!other.is_running());
        let _ = child.kill();
        let _ = child.wait();
    }
}
