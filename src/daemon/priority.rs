//! Sleeping yields to the user: the sleep thread (and every thread it
//! starts, which inherits the setting) runs at a lower CPU priority (`nice`)
//! and in the idle I/O class, so an editor or a build on the same machine
//! goes first. The CPU budget is the other half: the daemon gives a sleep
//! fewer parser threads than there are cores (`DaemonConfig::sleep_threads`).

/// Lowers the calling thread's CPU priority by `nice` (0: unchanged) and
/// puts its I/O in the idle class. Best effort: a refusal is logged.
pub fn lower_this_thread(nice: i32) {
    #[cfg(target_os = "linux")]
    {
        if nice > 0 {
            // SAFETY: gettid takes no arguments and cannot fail.
            let tid = unsafe { libc::syscall(libc::SYS_gettid) } as libc::id_t;
            // On Linux, PRIO_PROCESS with a thread id reads and sets that
            // thread only. Relative to where it stands: a daemon started
            // at nice 10 sleeps at 10 + `nice`, never back up at `nice`.
            // SAFETY: plain syscalls on our own thread id.
            let current = unsafe { libc::getpriority(libc::PRIO_PROCESS, tid) };
            let target = current.saturating_add(nice).min(19);
            let r = unsafe { libc::setpriority(libc::PRIO_PROCESS, tid, target) };
            if r != 0 {
                tracing::debug!(
                    "cannot lower the sleep's CPU priority: {}",
                    std::io::Error::last_os_error()
                );
            }
            // ioprio_set(IOPRIO_WHO_PROCESS, tid, IOPRIO_CLASS_IDLE << 13).
            const IOPRIO_WHO_PROCESS: libc::c_long = 1;
            const IOPRIO_CLASS_IDLE: libc::c_long = 3;
            // SAFETY: plain syscall on our own thread id.
            let r = unsafe {
                libc::syscall(
                    libc::SYS_ioprio_set,
                    IOPRIO_WHO_PROCESS,
                    tid as libc::c_long,
                    IOPRIO_CLASS_IDLE << 13,
                )
            };
            if r != 0 {
                tracing::debug!(
                    "cannot put the sleep's I/O in the idle class: {}",
                    std::io::Error::last_os_error()
                );
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = nice;
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #[test]
    fn lowers_only_the_calling_thread() {
        let before = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
        let inside = std::thread::spawn(|| {
            super::lower_this_thread(5);
            let tid = unsafe { libc::syscall(libc::SYS_gettid) } as libc::id_t;
            let spawned_child = std::thread::spawn(move || unsafe {
                let me = libc::syscall(libc::SYS_gettid) as libc::id_t;
                libc::getpriority(libc::PRIO_PROCESS, me)
            })
            .join()
            .expect("child");
            (
                unsafe { libc::getpriority(libc::PRIO_PROCESS, tid) },
                spawned_child,
            )
        })
        .join()
        .expect("thread");
        assert_eq!(
            inside.0,
            (before + 5).min(19),
            "the sleep thread is lowered"
        );
        assert_eq!(inside.1, inside.0, "threads it starts inherit it");
        let tid = unsafe { libc::syscall(libc::SYS_gettid) } as libc::id_t;
        assert_eq!(
            unsafe { libc::getpriority(libc::PRIO_PROCESS, tid) },
            before,
            "others are not"
        );
    }
}
