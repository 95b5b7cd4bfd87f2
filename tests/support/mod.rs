//! Helpers shared by integration tests (`mod support;`).
//!
//! Fixture repositories are not committed: each is built by a shell script in
//! `fixtures/repos/` (see the README there), once, and cached under
//! `CARGO_TARGET_TMPDIR/fixtures/<name>-<hash of the script>`. Tests that
//! mutate a repository must use [`fixture_copy`], never the cached copy.
#![allow(dead_code)]

pub mod chromium;
pub mod cli;
pub mod daemon;
pub mod git_http;
pub mod github;
pub mod github_app;
pub mod http;
pub mod llm_server;
pub mod mcp;
pub mod postgres;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

/// Identity and date used by [`git`] for any commit a test makes.
const PINNED_NAME: &str = "Test Runner";
const PINNED_EMAIL: &str = "test@example.com";
const PINNED_DATE: &str = "2024-06-01T00:00:00Z";

/// Variables that would point git somewhere other than the directory given.
const GIT_LOCATION_VARS: &[&str] = &[
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_CEILING_DIRECTORIES",
    "GIT_CONFIG",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "GIT_TEMPLATE_DIR",
];

/// Serialises fixture builds within this process; other processes are
/// handled by building in a private directory and renaming it into place.
static BUILD_LOCK: Mutex<()> = Mutex::new(());

/// `fixtures/repos` in the source tree.
pub fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/repos")
}

/// Where built fixtures are cached.
pub fn cache_dir() -> PathBuf {
    match option_env!("CARGO_TARGET_TMPDIR") {
        Some(dir) => PathBuf::from(dir).join("fixtures"),
        None => std::env::temp_dir().join("swe-sleep-test-fixtures"),
    }
}

/// The fixture repository built by `fixtures/repos/<name>.sh`, building it
/// on first use. Shared and read-only: use [`fixture_copy`] to mutate.
pub fn fixture(name: &str) -> PathBuf {
    let script = scripts_dir().join(format!("{name}.sh"));
    let text = fs::read(&script)
        .unwrap_or_else(|e| panic!("cannot read fixture script {}: {e}", script.display()));
    let cache = cache_dir();
    let dest = cache.join(format!("{name}-{:016x}", fnv1a64(&text)));
    if dest.is_dir() {
        return dest;
    }

    let _guard = BUILD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if dest.is_dir() {
        return dest;
    }
    fs::create_dir_all(&cache).unwrap_or_else(|e| panic!("cannot create {}: {e}", cache.display()));
    let tmp = cache.join(format!(
        ".tmp-{name}-{}-{}",
        std::process::id(),
        unique_suffix()
    ));
    let _ = fs::remove_dir_all(&tmp);
    run_script(name, &tmp);
    match fs::rename(&tmp, &dest) {
        Ok(()) => {}
        // Another process renamed its copy into place first: use the winner's.
        Err(_) if dest.is_dir() => {
            let _ = fs::remove_dir_all(&tmp);
        }
        Err(e) => {
            let _ = fs::remove_dir_all(&tmp);
            panic!("cannot move fixture {name} into {}: {e}", dest.display());
        }
    }
    dest
}

/// Runs `fixtures/repos/<name>.sh OUT` (no caching); panics with the
/// script's stderr if it fails or prints anything.
pub fn run_script(name: &str, out: &Path) {
    let script = scripts_dir().join(format!("{name}.sh"));
    let mut cmd = Command::new("bash");
    cmd.arg(&script).arg(out);
    for var in GIT_LOCATION_VARS {
        cmd.env_remove(var);
    }
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run bash {}: {e}", script.display()));
    if !output.status.success() {
        panic!(
            "fixture script {} failed ({}):\n{}{}",
            script.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr),
            String::from_utf8_lossy(&output.stdout),
        );
    }
}

/// A private, mutable copy of the cached fixture `name` (symlinks stay
/// symlinks). The repository is the temporary directory itself.
pub fn fixture_copy(name: &str) -> tempfile::TempDir {
    let src = fixture(name);
    let dir = temp_dir(&format!("{name}-copy-"));
    copy_tree(&src, dir.path());
    dir
}

/// A bare clone of `src` (`git clone --bare --quiet`).
pub fn bare_clone(src: &Path) -> tempfile::TempDir {
    let dir = temp_dir("bare-");
    let dest = dir.path().to_str().expect("temp dir path is UTF-8");
    let src = src.to_str().expect("source path is UTF-8");
    git(
        Path::new(env!("CARGO_MANIFEST_DIR")),
        &["clone", "--bare", "--quiet", src, dest],
    );
    dir
}

/// A non-bare clone of `src` with `--depth depth` (through `file://`, since
/// git ignores `--depth` for plain local paths).
pub fn shallow_clone(src: &Path, depth: u32) -> tempfile::TempDir {
    let dir = temp_dir("shallow-");
    let dest = dir.path().to_str().expect("temp dir path is UTF-8");
    let src = src
        .canonicalize()
        .unwrap_or_else(|e| panic!("cannot resolve {}: {e}", src.display()));
    let url = format!("file://{}", src.to_str().expect("source path is UTF-8"));
    let depth = depth.to_string();
    git(
        Path::new(env!("CARGO_MANIFEST_DIR")),
        &["clone", "--quiet", "--depth", &depth, &url, dest],
    );
    dir
}

/// Runs `git -C dir args...` with the fixtures' pinned environment (no user
/// or system config, fixed identity and date); panics with stderr on
/// failure, returns stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let output = git_output(dir, args);
    if !output.status.success() {
        panic!(
            "git {} in {} failed ({}):\n{}",
            args.join(" "),
            dir.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr),
        );
    }
    String::from_utf8(output.stdout)
        .unwrap_or_else(|e| panic!("git {} printed non-UTF-8: {e}", args.join(" ")))
}

/// Like [`git`], but returns the raw output whatever the exit status.
pub fn git_output(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new("git");
    cmd.arg("-C")
        .arg(dir)
        .args(["-c", "init.defaultBranch=main"])
        .args(args);
    for var in GIT_LOCATION_VARS {
        cmd.env_remove(var);
    }
    cmd.env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        // Read-only commands (status) must not race for index.lock when
        // several tests share a cached fixture.
        .env("GIT_OPTIONAL_LOCKS", "0")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("LC_ALL", "C")
        .env("TZ", "UTC")
        .env("GIT_AUTHOR_NAME", PINNED_NAME)
        .env("GIT_AUTHOR_EMAIL", PINNED_EMAIL)
        .env("GIT_AUTHOR_DATE", PINNED_DATE)
        .env("GIT_COMMITTER_NAME", PINNED_NAME)
        .env("GIT_COMMITTER_EMAIL", PINNED_EMAIL)
        .env("GIT_COMMITTER_DATE", PINNED_DATE);
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run git {}: {e}", args.join(" ")))
}

/// A fresh temporary directory under the cache directory's parent.
pub fn temp_dir(prefix: &str) -> tempfile::TempDir {
    let base = cache_dir()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(std::env::temp_dir);
    fs::create_dir_all(&base).unwrap_or_else(|e| panic!("cannot create {}: {e}", base.display()));
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(&base)
        .unwrap_or_else(|e| panic!("cannot create a temp dir in {}: {e}", base.display()))
}

/// Recursively copies the contents of `src` into the existing directory
/// `dst`, recreating symlinks as symlinks (never following them).
pub fn copy_tree(src: &Path, dst: &Path) {
    let entries =
        fs::read_dir(src).unwrap_or_else(|e| panic!("cannot read {}: {e}", src.display()));
    for entry in entries {
        let entry = entry.unwrap_or_else(|e| panic!("cannot read {}: {e}", src.display()));
        let from = entry.path();
        let to = dst.join(entry.file_name());
        let kind = entry
            .file_type()
            .unwrap_or_else(|e| panic!("cannot stat {}: {e}", from.display()));
        if kind.is_symlink() {
            let target = fs::read_link(&from)
                .unwrap_or_else(|e| panic!("cannot read link {}: {e}", from.display()));
            symlink(&target, &to);
        } else if kind.is_dir() {
            fs::create_dir(&to).unwrap_or_else(|e| panic!("cannot create {}: {e}", to.display()));
            copy_tree(&from, &to);
        } else {
            fs::copy(&from, &to).unwrap_or_else(|e| {
                panic!("cannot copy {} to {}: {e}", from.display(), to.display())
            });
        }
    }
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) {
    std::os::unix::fs::symlink(target, link)
        .unwrap_or_else(|e| panic!("cannot create symlink {}: {e}", link.display()));
}

#[cfg(not(unix))]
fn symlink(target: &Path, link: &Path) {
    panic!(
        "fixtures with symlinks need a Unix host ({} -> {})",
        link.display(),
        target.display()
    );
}

/// FNV-1a, 64-bit: a hash that is stable across Rust releases and processes.
fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// A suffix unique within this process (the pid makes it unique across).
fn unique_suffix() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The state directory of [`shared_cookbook`] while some test holds it.
static SHARED_COOKBOOK: Mutex<Weak<tempfile::TempDir>> = Mutex::new(Weak::new());

/// A notebook of the cookbook at HEAD (slept through the library), shared
/// by the tests of one binary that run at the same time and removed when
/// the last of them is done. Read-only: only predictions without `--rev`
/// may use it.
pub fn shared_cookbook() -> Arc<tempfile::TempDir> {
    let mut slot = SHARED_COOKBOOK.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(dir) = slot.upgrade() {
        return dir;
    }
    let state = temp_dir("cookbook-shared-");
    let repo = swe_sleep::git::Repo::open(&fixture("cookbook")).expect("open the cookbook");
    swe_sleep::notebook::sleep(
        &repo,
        state.path(),
        &swe_sleep::notebook::Target::Rev("HEAD".into()),
        &swe_sleep::config::Config::default(),
        &swe_sleep::notebook::NoProgress,
    )
    .expect("sleep");
    let dir = Arc::new(state);
    *slot = Arc::downgrade(&dir);
    dir
}
