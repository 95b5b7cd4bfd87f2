//! Recognising pull requests in commit messages: GitHub's merge commits
//! (`Merge pull request #N from owner/branch`, the PR title in the body) and
//! squash merges (`Title (#N)`). Pure.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CommitKind {
    /// A `Merge pull request #N` merge commit.
    Merge,
    /// A squash or rebase merge titled `Title (#N)`.
    Squash,
    /// Any other commit.
    Plain,
}

impl CommitKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CommitKind::Merge => "merge",
            CommitKind::Squash => "squash",
            CommitKind::Plain => "plain",
        }
    }

    pub fn parse(s: &str) -> CommitKind {
        match s {
            "merge" => CommitKind::Merge,
            "squash" => CommitKind::Squash,
            _ => CommitKind::Plain,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedMessage {
    pub kind: CommitKind,
    pub pr: Option<u64>,
    pub title: String,
    pub body: String,
}

/// Reads a commit message as a pull request when it is one.
pub fn parse_message(message: &str) -> ParsedMessage {
    let message = message.trim();
    let (summary, rest) = match message.split_once('\n') {
        Some((s, r)) => (s.trim(), r.trim()),
        None => (message, ""),
    };
    if let Some(pr) = merge_pr_number(summary) {
        // GitHub puts the PR title on the first line of the body.
        let (title, body) = match rest.split_once('\n') {
            Some((t, b)) => (t.trim(), b.trim()),
            None => (rest, ""),
        };
        let title = if title.is_empty() { summary } else { title };
        return ParsedMessage {
            kind: CommitKind::Merge,
            pr: Some(pr),
            title: title.to_string(),
            body: body.to_string(),
        };
    }
    if let Some((title, pr)) = squash_title(summary) {
        return ParsedMessage {
            kind: CommitKind::Squash,
            pr: Some(pr),
            title: title.to_string(),
            body: rest.to_string(),
        };
    }
    ParsedMessage {
        kind: CommitKind::Plain,
        pr: None,
        title: summary.to_string(),
        body: rest.to_string(),
    }
}

fn merge_pr_number(summary: &str) -> Option<u64> {
    let rest = summary.strip_prefix("Merge pull request #")?;
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    let after = &rest[digits.len()..];
    if !after.starts_with(" from ") && !after.is_empty() {
        return None;
    }
    digits.parse().ok()
}

/// `Add thing (#123)` → ("Add thing", 123). Also accepts a trailing
/// `(#123)` after other parentheses, but not a bare `#123` in the text.
fn squash_title(summary: &str) -> Option<(&str, u64)> {
    let inner = summary.strip_suffix(')')?;
    let open = inner.rfind("(#")?;
    let number: u64 = inner[open + 2..].parse().ok()?;
    let title = inner[..open].trim_end();
    if title.is_empty() {
        return None;
    }
    Some((title, number))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_commit() {
        let m = parse_message(
            "Merge pull request #42 from alice/exec-flag\n\nImplement the --exec flag\n\nRuns a command per result.",
        );
        assert_eq!(m.kind, CommitKind::Merge);
        assert_eq!(m.pr, Some(42));
        assert_eq!(m.title, "Implement the --exec flag");
        assert_eq!(m.body, "Runs a command per result.");
    }

    #[test]
    fn merge_without_body_keeps_summary() {
        let m = parse_message("Merge pull request #7 from bob/x");
        assert_eq!(m.pr, Some(7));
        assert_eq!(m.title, "Merge pull request #7 from bob/x");
    }

    #[test]
    fn squash_commit() {
        let m = parse_message("Add cups to units (#1234)\n\n* convert cups\n* tests");
        assert_eq!(m.kind, CommitKind::Squash);
        assert_eq!(m.pr, Some(1234));
        assert_eq!(m.title, "Add cups to units");
        assert_eq!(m.body, "* convert cups\n* tests");
    }

    #[test]
    fn plain_commits() {
        for msg in [
            "Fix typo",
            "Bump (#abc)",
            "(#12)",
            "Merge branch 'master'",
            "see #12 for details",
        ] {
            let m = parse_message(msg);
            assert_eq!(m.kind, CommitKind::Plain, "{msg}");
            assert_eq!(m.pr, None, "{msg}");
        }
    }
}
