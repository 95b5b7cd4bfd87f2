//! Repository-relative paths that can be trusted.
//!
//! A path that comes from a request, a model or a webhook is checked here
//! before anything looks it up: it must be a normalised path relative to
//! the repository root (`/`-separated, no empty, `.` or `..` segment, no
//! `.git` segment, no control characters, no backslash, bounded length).
//! A check never touches the file system; membership in a snapshot is the
//! caller's second test. Tree entries whose names fail [`is_safe_name`] are
//! never files of a snapshot.

use std::borrow::Cow;
use std::fmt;

/// Longest path accepted, in bytes (git's own limit on most systems).
pub const MAX_PATH_BYTES: usize = 4096;

/// Why a path is not a repository-relative path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnsafePath {
    Empty,
    Absolute,
    ParentSegment,
    DotOrEmptySegment,
    GitDir,
    ControlCharacter,
    Backslash,
    TooLong,
}

impl fmt::Display for UnsafePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UnsafePath::Empty => "the path is empty",
            UnsafePath::Absolute => {
                "absolute paths are not allowed (paths are relative to the repository root)"
            }
            UnsafePath::ParentSegment => {
                "`..` segments are not allowed (paths stay inside the repository)"
            }
            UnsafePath::DotOrEmptySegment => {
                "`.` and empty segments are not allowed (use a normalised path such as src/main.rs)"
            }
            UnsafePath::GitDir => "paths inside `.git` are not allowed",
            UnsafePath::ControlCharacter => {
                "control characters (NUL, newline, ...) are not allowed in a path"
            }
            UnsafePath::Backslash => "backslashes are not allowed (separate segments with `/`)",
            UnsafePath::TooLong => "the path is longer than 4096 bytes",
        })
    }
}

impl std::error::Error for UnsafePath {}

/// Checks that `path` is a normalised repository-relative file path.
pub fn check(path: &str) -> Result<(), UnsafePath> {
    if path.is_empty() {
        return Err(UnsafePath::Empty);
    }
    if path.len() > MAX_PATH_BYTES {
        return Err(UnsafePath::TooLong);
    }
    if path.chars().any(char::is_control) {
        return Err(UnsafePath::ControlCharacter);
    }
    if path.contains('\\') {
        return Err(UnsafePath::Backslash);
    }
    if path.starts_with('/') || looks_like_drive(path) {
        return Err(UnsafePath::Absolute);
    }
    for segment in path.split('/') {
        match segment {
            ".." => return Err(UnsafePath::ParentSegment),
            "" | "." => return Err(UnsafePath::DotOrEmptySegment),
            s if is_git_dir(s) => return Err(UnsafePath::GitDir),
            _ => {}
        }
    }
    Ok(())
}

/// Checks a directory argument: like [`check`], but the root may be named
/// `""` or `"."`, and a trailing `/` is allowed.
pub fn check_dir(dir: &str) -> Result<(), UnsafePath> {
    if dir.is_empty() || dir == "." {
        return Ok(());
    }
    if dir.starts_with('/') {
        return Err(UnsafePath::Absolute);
    }
    check(dir.strip_suffix('/').unwrap_or(dir))
}

/// Whether one tree entry name may be part of a snapshot path: not `.`,
/// `..` or `.git` (in any case), no `/`, backslash or control character.
pub fn is_safe_name(name: &str) -> bool {
    !(name.is_empty()
        || name == "."
        || name == ".."
        || is_git_dir(name)
        || name.contains('/')
        || name.contains('\\')
        || name.chars().any(char::is_control))
}

/// Shows a string taken from a caller inside tool text on one line: control
/// characters (newlines included) are escaped, so it cannot fake a line of
/// the result; it is cut to `max` characters.
pub fn display(s: &str) -> Cow<'_, str> {
    const MAX: usize = 300;
    if s.len() <= MAX && !s.chars().any(char::is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i == MAX {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `.git` in any letter case (case-insensitive file systems open the same
/// directory for `.GIT`).
fn is_git_dir(segment: &str) -> bool {
    segment.eq_ignore_ascii_case(".git")
}

/// `C:` and the like, absolute on Windows.
fn looks_like_drive(path: &str) -> bool {
    let b = path.as_bytes();
    b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_paths_pass() {
        for p in [
            "src/main.rs",
            "README.md",
            "a/b/c.d",
            ".github/workflows/ci.yml",
            "x..y",
            "...",
            ".gitignore",
        ] {
            assert_eq!(check(p), Ok(()), "{p}");
        }
    }

    #[test]
    fn escapes_are_refused_with_their_rule() {
        let cases = [
            ("", UnsafePath::Empty),
            ("/etc/passwd", UnsafePath::Absolute),
            ("C:/Windows", UnsafePath::Absolute),
            ("../../etc/passwd", UnsafePath::ParentSegment),
            ("src/../../x", UnsafePath::ParentSegment),
            ("./src/main.rs", UnsafePath::DotOrEmptySegment),
            ("src//main.rs", UnsafePath::DotOrEmptySegment),
            ("src/", UnsafePath::DotOrEmptySegment),
            (".git/config", UnsafePath::GitDir),
            ("sub/.GIT/config", UnsafePath::GitDir),
            ("a\nb", UnsafePath::ControlCharacter),
            ("a\0b", UnsafePath::ControlCharacter),
            ("..\\x", UnsafePath::Backslash),
        ];
        for (p, why) in cases {
            assert_eq!(check(p), Err(why), "{p:?}");
        }
        assert_eq!(check(&"a/".repeat(3000)), Err(UnsafePath::TooLong));
    }

    #[test]
    fn directories_may_name_the_root() {
        assert_eq!(check_dir(""), Ok(()));
        assert_eq!(check_dir("."), Ok(()));
        assert_eq!(check_dir("src/"), Ok(()));
        assert_eq!(check_dir("../"), Err(UnsafePath::ParentSegment));
        assert_eq!(check_dir("/"), Err(UnsafePath::Absolute));
    }

    #[test]
    fn entry_names() {
        for bad in [
            "",
            ".",
            "..",
            ".git",
            ".Git",
            "a/b",
            "a\\b",
            "a\nb",
            "tab\there",
        ] {
            assert!(!is_safe_name(bad), "{bad:?}");
        }
        for good in ["main.rs", ".gitignore", "..x", "space name"] {
            assert!(is_safe_name(good), "{good:?}");
        }
    }

    #[test]
    fn display_keeps_one_line() {
        assert_eq!(display("src/a.rs"), "src/a.rs");
        assert_eq!(
            display("a\n1. src/fake.rs (9.99)"),
            "a\\n1. src/fake.rs (9.99)"
        );
        assert!(display(&"x".repeat(1000)).chars().count() <= 301);
    }
}
