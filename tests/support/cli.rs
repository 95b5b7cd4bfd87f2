//! Running the `swe-sleep` binary in integration tests, and reading what it
//! printed.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

/// The binary, with no `SWE_SLEEP_*` setting or git location inherited
/// from the caller.
pub fn swe_sleep() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_swe-sleep"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("SWE_SLEEP_") {
            cmd.env_remove(&name);
        }
    }
    for var in [
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_CEILING_DIRECTORIES",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("NO_COLOR", "1");
    cmd
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("stdout is UTF-8")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Panics with both streams unless the command exited 0.
pub fn ok(o: Output, what: &str) -> Output {
    assert!(
        o.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        o.status,
        stdout(&o),
        stderr(&o)
    );
    o
}

/// Panics unless the command exited with code 1 (an error, not a panic,
/// which exits 101) and printed an `error:` line and nothing on stdout;
/// returns stderr.
pub fn fails(o: Output, what: &str) -> String {
    assert_eq!(
        o.status.code(),
        Some(1),
        "{what}: expected exit code 1, got {}\nstdout: {}\nstderr: {}",
        o.status,
        stdout(&o),
        stderr(&o)
    );
    let err = stderr(&o);
    assert!(err.contains("error:"), "{what}: {err}");
    assert!(!err.contains("panicked"), "{what}: {err}");
    assert!(stdout(&o).is_empty(), "{what}: nothing on stdout");
    err
}

pub fn p(path: &Path) -> &str {
    path.to_str().expect("test paths are UTF-8")
}

/// Stdout as exactly one JSON object on one line.
pub fn one_json_object(o: &Output) -> Value {
    let out = stdout(o);
    let lines: Vec<&str> = out.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one line of JSON, got {out:?}");
    let v: Value = serde_json::from_str(lines[0])
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {out}"));
    assert!(v.is_object(), "not a JSON object: {v}");
    v
}
