//! The Markdown of the one comment swe-sleep keeps on a pull request or
//! issue: the predicted files with a reason each, the budget used and the
//! notebook's commit. The first line is a hidden marker, so the comment is
//! found and updated in place rather than posted again. Text that came from
//! the repository or the request is escaped: it cannot break the table,
//! open a code span, or mention a user.

use std::fmt::Write as _;

use crate::agent::Scored;

/// Marks swe-sleep's comment; the client looks for it before posting.
pub const MARKER: &str = "<!-- swe-sleep:prediction -->";

/// What the comment shows.
#[derive(Debug, Clone)]
pub struct CommentInput<'a> {
    pub files: &'a [Scored],
    pub tokens_used: u64,
    pub budget: u64,
    pub steps: u32,
    pub notebook_commit: Option<&'a str>,
    /// The commit the base branch is at, when it differs from the notebook's.
    pub base_commit: Option<&'a str>,
    /// Why the prediction ran ("pull_request opened").
    pub why: &'a str,
}

pub fn render(c: &CommentInput<'_>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{MARKER}");
    let _ = writeln!(out, "### swe-sleep: files this change will likely edit\n");
    if c.files.is_empty() {
        let _ = writeln!(
            out,
            "No file stood out for this request. A longer description usually helps.\n"
        );
    } else {
        let _ = writeln!(out, "| file | why |\n|---|---|");
        for f in c.files {
            let _ = writeln!(out, "| `{}` | {} |", code_span(&f.path), cell(&f.reason));
        }
        out.push('\n');
    }
    let commit = c
        .notebook_commit
        .map_or("the working tree".to_string(), |id| {
            format!("`{}`", &id[..id.len().min(12)])
        });
    let _ = write!(
        out,
        "<sub>{} test-time tokens of {}, {} step{} · notebook at {commit}",
        thousands(c.tokens_used),
        thousands(c.budget),
        c.steps,
        if c.steps == 1 { "" } else { "s" },
    );
    if let Some(base) = c.base_commit {
        let _ = write!(
            out,
            " (the base branch is at `{}`; the notebook catches up while idle)",
            &base[..base.len().min(12)]
        );
    }
    let _ = writeln!(out, " · after {}</sub>", cell(c.why));
    out
}

/// A path inside a code span: backticks cannot close it.
fn code_span(s: &str) -> String {
    s.replace('`', "'").replace(['\n', '\r'], " ")
}

/// Text in a table cell: one line, no pipes, no mentions, no HTML.
fn cell(s: &str) -> String {
    let one_line: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = String::with_capacity(one_line.len());
    for ch in one_line.chars() {
        match ch {
            '|' => out.push_str("\\|"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '`' => out.push('\''),
            // A zero-width space after @ keeps "@user" from notifying anyone.
            '@' => out.push_str("@\u{200b}"),
            c => out.push(c),
        }
    }
    if out.chars().count() > 200 {
        out = out.chars().take(199).collect::<String>() + "…";
    }
    out
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_files_budget_and_commit() {
        let files = vec![
            Scored {
                path: "src/cli/eval.rs".into(),
                score: 1.0,
                reason: "matches `limit` | eval".into(),
            },
            Scored {
                path: "weird`name.rs".into(),
                score: 0.5,
                reason: "touched with @octocat's <b>PR</b>\nlast week".into(),
            },
        ];
        let text = render(&CommentInput {
            files: &files,
            tokens_used: 1234,
            budget: 4000,
            steps: 3,
            notebook_commit: Some("0123456789abcdef0123"),
            base_commit: None,
            why: "pull_request opened",
        });
        assert!(text.starts_with(MARKER), "{text}");
        assert!(
            text.contains("| `src/cli/eval.rs` | matches 'limit' \\| eval |"),
            "{text}"
        );
        assert!(text.contains("| `weird'name.rs` |"), "{text}");
        assert!(text.contains("@\u{200b}octocat"), "{text}");
        assert!(text.contains("&lt;b&gt;PR&lt;/b&gt; last week"), "{text}");
        assert!(
            text.contains("1,234 test-time tokens of 4,000, 3 steps"),
            "{text}"
        );
        assert!(text.contains("notebook at `0123456789ab`"), "{text}");
    }

    #[test]
    fn empty_prediction_and_stale_base() {
        let text = render(&CommentInput {
            files: &[],
            tokens_used: 5,
            budget: 500,
            steps: 1,
            notebook_commit: Some("abc"),
            base_commit: Some("def"),
            why: "issues opened",
        });
        assert!(text.contains("No file stood out"), "{text}");
        assert!(text.contains("1 step ·"), "{text}");
        assert!(text.contains("base branch is at `def`"), "{text}");
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(thousands(999), "999");
    }
}
