//! Recognising pull requests in commit messages: GitHub's merge commits
//! (`Merge pull request #N from owner/branch`, the PR title in the body) and
//! squash merges (`Title (#N)`); and what of a body reads as the request.
//! Pure.

use std::collections::HashSet;

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

/// The PR body as the query's second half: trailer lines (`Co-authored-by:`
/// and the like) and `---` separator lines are removed, and the body is
/// dropped (empty) when it lists the branch's commits rather than describing
/// the request, that is when (after that removal)
/// - every non-empty line starts with `* ` (a list of commit subjects); or
/// - it is GitHub's squash list: it starts with a `* ` line and has at least
///   two `* ` lines that begin a paragraph (each commit's subject, optionally
///   followed by that commit's own message); or
/// - every non-empty line, after an optional `* ` or `- `, equals one of
///   `subjects` (the caller passes the subjects of the commits a merge
///   brought in, and the PR title), ignoring case.
///
/// Commit lists describe the implementation after the fact (`Add foo to
/// bar.rs`), which a request written beforehand would not.
pub fn clean_body(body: &str, subjects: &[String]) -> String {
    let kept: Vec<&str> = body
        .lines()
        .filter(|l| !is_trailer(l) && !is_separator(l))
        .collect();
    let content: Vec<&str> = kept
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .collect();
    if content.is_empty() {
        return String::new();
    }
    let bullets = content.iter().all(|l| l.starts_with("* "));
    let entries = kept
        .iter()
        .enumerate()
        .filter(|(i, l)| l.starts_with("* ") && (*i == 0 || kept[i - 1].trim().is_empty()))
        .count();
    let squash_list = content[0].starts_with("* ") && entries >= 2;
    let subjects: HashSet<String> = subjects.iter().map(|s| s.trim().to_lowercase()).collect();
    let repeats_branch = !subjects.is_empty()
        && content.iter().all(|l| {
            let l = l
                .strip_prefix("* ")
                .or_else(|| l.strip_prefix("- "))
                .unwrap_or(l);
            subjects.contains(&l.trim().to_lowercase())
        });
    if bullets || squash_list || repeats_branch {
        return String::new();
    }
    kept.join("\n").trim().to_string()
}

fn is_trailer(line: &str) -> bool {
    const TRAILERS: &[&str] = &[
        "co-authored-by:",
        "signed-off-by:",
        "reviewed-by:",
        "acked-by:",
        "tested-by:",
        "reported-by:",
        "suggested-by:",
        "helped-by:",
    ];
    let l = line.trim_start().to_lowercase();
    TRAILERS.iter().any(|t| l.starts_with(t))
}

fn is_separator(line: &str) -> bool {
    let l = line.trim();
    l.len() >= 3 && l.chars().all(|c| c == '-')
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

    #[test]
    fn bodies_that_list_commits_are_dropped() {
        let none: &[String] = &[];
        assert_eq!(
            clean_body("* Add ParseError\n\n* Add try_parse_recipe", none),
            ""
        );
        assert_eq!(
            clean_body(
                "* Add x\n\n* Fix tests\n\n---------\n\nCo-authored-by: A <a@example.com>",
                none
            ),
            ""
        );
        assert_eq!(clean_body("   \n", none), "");
        let subjects = vec![
            "Split notes off ingredient names".to_string(),
            "Test ingredient notes".into(),
        ];
        assert_eq!(
            clean_body(
                "Split notes off ingredient names\nTest ingredient notes",
                &subjects
            ),
            ""
        );
        assert_eq!(clean_body("- test ingredient notes", &subjects), "");
        // GitHub's squash list, with the commits' own messages.
        assert_eq!(
            clean_body(
                "* Add status.py for status codes with descriptive\nvariable names.\n\n* Fix import of status\n\nIt was wrong.\n\n* Update with master",
                none
            ),
            ""
        );
        // A description stays, without its trailers.
        assert_eq!(
            clean_body(
                "* Support `State`\n\nFixes #12: the state was lost.\n\nSigned-off-by: B <b@example.com>",
                none
            ),
            "* Support `State`\n\nFixes #12: the state was lost."
        );
        assert_eq!(
            clean_body("Runs a command per result.", &subjects),
            "Runs a command per result."
        );
        let long = format!("* {}\n* Limit usage", "word ".repeat(30));
        assert_eq!(clean_body(&long, none), "");
        let title = vec!["Add `StaticFiles(html=True)`".to_string()];
        assert_eq!(clean_body("add `staticfiles(html=true)`", &title), "");
    }
}
