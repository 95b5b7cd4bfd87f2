//! Text a person reads for a prediction: the terminal rendering of a
//! [`Prediction`] and of a daemon's JSON answer. A header line, then each
//! file (rank, an aligned score, the path) with its strongest kinds of
//! evidence in the "why" column, one to a line and at most
//! [`REASON_LINES`], every line cut to fit a 100-column terminal with an
//! ellipsis (`--json` has everything);
//! colour only when stdout is a terminal and `NO_COLOR` is unset. An
//! answer with no files says why.

use std::io::IsTerminal;

use swe_sleep::agent::Prediction;
use swe_sleep::notebook::SleepReport;

/// The width every line fits in.
const WIDTH: usize = 100;
/// Lines of evidence shown per file (a reason's parts are `; `-separated,
/// strongest first).
const REASON_LINES: usize = 3;
/// Below this many test-time tokens no tool call fits after a request.
const USEFUL_BUDGET: u64 = 500;

/// How to draw: colour or not.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub colour: bool,
}

impl Style {
    /// Colour when stdout is a terminal and `NO_COLOR` is unset or empty.
    pub fn for_stdout() -> Style {
        Style {
            colour: std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.colour {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

/// One answer, from a [`Prediction`] or a daemon's JSON.
#[derive(Debug, Default)]
pub struct View {
    pub files: Vec<(String, f64, String)>,
    pub arm: String,
    pub policy: String,
    pub tokens_used: u64,
    pub budget: u64,
    pub request_tokens: u64,
    pub steps: u64,
    pub max_steps: u64,
    pub notes: Vec<String>,
    /// The model's calls and billed tokens, in words.
    pub model: Option<String>,
    /// Answered by a daemon: its notebook's commit (`None`: a work tree)
    /// and whether it is behind.
    pub daemon: Option<(Option<String>, bool)>,
}

impl View {
    pub fn of_prediction(p: &Prediction) -> View {
        View {
            files: p
                .files
                .iter()
                .map(|f| (f.path.clone(), f.score, f.reason.clone()))
                .collect(),
            arm: p.arm.clone(),
            policy: p.policy.clone(),
            tokens_used: p.tokens_used,
            budget: p.budget,
            request_tokens: p.request_tokens,
            steps: u64::from(p.steps),
            max_steps: u64::from(p.max_steps),
            notes: p.notes.clone(),
            model: p.model.as_ref().map(|m| {
                format!(
                    "model {} ({}): {} calls, {} input + {} cached + {} output tokens billed",
                    m.model,
                    m.provider,
                    m.calls,
                    m.usage.input + m.usage.cache_write,
                    m.usage.cache_read,
                    m.usage.output
                )
            }),
            daemon: None,
        }
    }

    pub fn of_answer(v: &serde_json::Value) -> View {
        let text = |k: &str| v[k].as_str().unwrap_or("?").to_string();
        let num = |k: &str| v[k].as_u64().unwrap_or(0);
        View {
            files: v["files"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|f| {
                    (
                        f["path"].as_str().unwrap_or("?").to_string(),
                        f["score"].as_f64().unwrap_or(0.0),
                        f["reason"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect(),
            arm: text("arm"),
            policy: text("policy"),
            tokens_used: num("tokens_used"),
            budget: num("budget"),
            request_tokens: num("request_tokens"),
            steps: num("steps"),
            max_steps: num("max_steps"),
            notes: v["notes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|n| n.as_str().map(str::to_string))
                .collect(),
            model: None,
            daemon: Some((
                v["notebook_commit"].as_str().map(str::to_string),
                v["stale"] == true,
            )),
        }
    }
}

/// A prediction as text for the terminal.
pub fn describe(p: &Prediction) -> String {
    render(&View::of_prediction(p), Style::for_stdout())
}

/// [`describe`] for a daemon's JSON answer.
pub fn describe_answer(v: &serde_json::Value) -> String {
    render(&View::of_answer(v), Style::for_stdout())
}

/// The parts of a reason shown, strongest first (at most
/// [`REASON_LINES`]), and how many more `--json` has.
fn reason_lines(reason: &str) -> (Vec<&str>, usize) {
    let parts: Vec<&str> = reason
        .split("; ")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    let more = parts.len().saturating_sub(REASON_LINES);
    (parts.into_iter().take(REASON_LINES).collect(), more)
}

/// One part of a reason cut to `room` columns; the last shown part keeps
/// its note of what was left out whole.
fn reason_part(part: &str, room: usize, last: bool, more: usize) -> String {
    if !last || more == 0 {
        return fit(part, room);
    }
    let note = format!(" (+{more} in --json)");
    let kept = room.saturating_sub(note.chars().count());
    format!("{}{note}", fit(part, kept))
}

/// `n` and the noun, singular for one: `count(1, "file", "files")` is
/// "1 file".
pub fn count<N>(n: N, one: &str, many: &str) -> String
where
    N: std::fmt::Display + PartialEq + From<u8>,
{
    let noun = if n == N::from(1) { one } else { many };
    format!("{n} {noun}")
}

/// Cuts `s` to `n` characters, the last an ellipsis when cut.
pub fn fit(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_string();
    }
    if n == 0 {
        return String::new();
    }
    let kept: String = s.chars().take(n - 1).collect();
    format!("{}…", kept.trim_end())
}

/// `text` wrapped at word boundaries into lines of at most `width`
/// characters, the lines after the first indented by `indent` spaces; a
/// word longer than a line is cut with an ellipsis.
pub fn wrap(text: &str, width: usize, indent: usize) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let room = if out.is_empty() {
            width
        } else {
            width - indent
        };
        let word = fit(word, width - indent);
        let len = line.chars().count();
        if len > 0 && len + 1 + word.chars().count() > room {
            if !out.is_empty() {
                out.push_str(&" ".repeat(indent));
            }
            out.push_str(&line);
            out.push('\n');
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    if !line.is_empty() {
        if !out.is_empty() {
            out.push_str(&" ".repeat(indent));
        }
        out.push_str(&line);
    }
    out
}

/// Why an answer has no files, in a sentence.
pub fn why_empty(v: &View) -> String {
    if v.max_steps == 0 {
        "No files predicted: a step cap of 0 (--steps 0) allows no tool call.".into()
    } else if v.steps == 0 {
        format!(
            "No files predicted: the budget of {} tokens went to reading the request ({} tokens), with nothing left for a single search; give --budget {USEFUL_BUDGET} or more.",
            v.budget, v.request_tokens
        )
    } else {
        format!(
            "No files predicted: in {} steps the tools found nothing that matches the request's words; name the code, files or commands it touches, or give a larger --budget.",
            v.steps
        )
    }
}

pub fn render(v: &View, style: Style) -> String {
    let mut out = String::new();
    let source = match &v.daemon {
        Some((commit, stale)) => format!(
            ", answered by the daemon from the notebook at {}{}",
            commit
                .as_deref()
                .map_or("the work tree", |c| &c[..12.min(c.len())]),
            if *stale {
                " (behind HEAD: it catches up while idle)"
            } else {
                ""
            }
        ),
        None => String::new(),
    };
    if v.files.is_empty() {
        out.push_str(&style.paint("1", &wrap(&why_empty(v), WIDTH, 0)));
        out.push('\n');
    } else {
        let n = v.files.len();
        let header = format!(
            "{} this request will likely modify, most likely first ({} arm, {} policy{source}):",
            count(n, "file", "files"),
            v.arm,
            v.policy
        );
        out.push_str(&style.paint("1", &wrap(&header, WIDTH, 2)));
        out.push('\n');
        let rank_w = n.to_string().len();
        let path_w = v
            .files
            .iter()
            .map(|f| f.0.chars().count())
            .max()
            .unwrap_or(0)
            .min(44);
        out.push_str(&style.paint(
            "2",
            &format!("{:>rank_w$}  {:>5}  {:<path_w$}  why", "#", "score", "file"),
        ));
        out.push('\n');
        for (i, (path, score, reason)) in v.files.iter().enumerate() {
            let lead = format!("{:>rank_w$}  {score:>5.3}  ", i + 1);
            let indent = lead.chars().count();
            let path_len = path.chars().count();
            out.push_str(&lead);
            out.push_str(&style.paint("1;36", path));
            let (parts, more) = reason_lines(reason);
            let n_parts = parts.len();
            let column = if path_len <= path_w {
                indent + path_w + 2
            } else {
                // A long path keeps its line; the reasons go below it.
                indent + 2
            };
            let mut lines = parts
                .iter()
                .enumerate()
                .map(|(k, part)| reason_part(part, WIDTH - column, k + 1 == n_parts, more));
            if path_len <= path_w
                && let Some(first) = lines.next()
            {
                out.push_str(&" ".repeat(path_w - path_len + 2));
                out.push_str(&style.paint("2", &first));
            }
            out.push('\n');
            for line in lines {
                out.push_str(&" ".repeat(column));
                out.push_str(&style.paint("2", &line));
                out.push('\n');
            }
        }
    }
    let mut footer = format!(
        "-- {} of {} tokens, {} of {} steps",
        v.tokens_used, v.budget, v.steps, v.max_steps
    );
    if v.files.is_empty() {
        footer.push_str(&format!(" ({} arm, {} policy{source})", v.arm, v.policy));
    }
    out.push_str(&wrap(&footer, WIDTH, 3));
    out.push('\n');
    if let Some(m) = &v.model {
        out.push_str(&fit(&format!("-- {m}"), WIDTH));
        out.push('\n');
    }
    for n in &v.notes {
        out.push_str(&wrap(&format!("note: {n}"), WIDTH, 6));
        out.push('\n');
    }
    out
}

/// One line on the sleep that ran before a prediction (stderr).
pub fn sleep_line(r: &SleepReport) -> String {
    let at = match &r.commit {
        Some(c) if r.worktree => format!("the work tree (HEAD {})", &c[..12.min(c.len())]),
        Some(c) => format!("{} ({})", r.rev, &c[..12.min(c.len())]),
        None => "the work tree (no commits yet)".into(),
    };
    format!(
        "Slept on {at} in {:.2}s: {} files, {} commits; read {} new blobs ({} tokens), reused {}.",
        r.seconds, r.counts.files, r.counts.commits, r.blobs_new, r.sleep_tokens, r.blobs_reused
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_say_one_in_the_singular() {
        assert_eq!(count(1usize, "file is", "files are"), "1 file is");
        assert_eq!(count(0usize, "file is", "files are"), "0 files are");
        assert_eq!(count(2u64, "entry", "entries"), "2 entries");
    }

    fn view(files: usize) -> View {
        View {
            files: (0..files)
                .map(|i| {
                    (
                        format!("src/file_{i}.rs"),
                        1.0 / (i + 1) as f64,
                        "its code mentions “recipes”; changed in 3 similar PRs: #31 Scale to servings in the CLI, #12 Add a scale command and 1 more".to_string(),
                    )
                })
                .chain(std::iter::once((
                    "a/very/long/path/that/does/not/fit/the/column/at/all/module.rs".to_string(),
                    0.1,
                    "usually changes with src/recipe.rs".to_string(),
                )))
                .collect(),
            arm: "sleep".into(),
            policy: "offline".into(),
            tokens_used: 2000,
            budget: 4000,
            request_tokens: 12,
            steps: 9,
            max_steps: 12,
            notes: vec!["x".repeat(150)],
            ..View::default()
        }
    }

    #[test]
    fn a_header_aligned_scores_and_lines_that_fit() {
        let text = render(&view(10), Style { colour: false });
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("11 files this request will likely modify"),
            "{text}"
        );
        assert!(
            lines[1].trim_start().starts_with("#  score  file"),
            "{text}"
        );
        for l in &lines {
            assert!(
                l.chars().count() <= WIDTH,
                "{} columns: {l}",
                l.chars().count()
            );
        }
        // Each file: its line with the first kind of evidence, then the
        // next kind below it in the same column, cut to fit.
        assert!(
            lines[2].starts_with(" 1  1.000  src/file_0.rs") && lines[2].ends_with("“recipes”"),
            "{text}"
        );
        let column = lines[2].find("its code").unwrap();
        assert_eq!(
            lines[3].find("changed in 3 similar PRs"),
            Some(column),
            "{text}"
        );
        assert!(lines[3].ends_with('…'), "{text}");
        assert!(lines[20].starts_with("10  0.100  src/file_9.rs"), "{text}");
        // A path longer than the column: its reasons on the next lines.
        assert!(lines[22].ends_with("module.rs"), "{text}");
        assert!(
            lines[23].trim_start().starts_with("usually changes with"),
            "{text}"
        );
        assert!(!text.contains('\x1b'), "no colour off a terminal");
        let coloured = render(&view(1), Style { colour: true });
        assert!(
            coloured.contains("\x1b[1;36msrc/file_0.rs\x1b[0m"),
            "{coloured}"
        );
    }

    #[test]
    fn at_most_three_kinds_of_evidence_and_how_many_more() {
        let mut v = view(1);
        v.files.truncate(1);
        v.files[0].2 = "its code mentions “fallback”; defines `Router`; changed in 2 similar PRs: #1 A, #2 B; usually changes with src/a.rs; its notebook card mentions “nest”".into();
        let text = render(&v, Style { colour: false });
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[2].ends_with("its code mentions “fallback”"), "{text}");
        assert!(lines[3].trim_start() == "defines `Router`", "{text}");
        assert!(
            lines[4].trim_start() == "changed in 2 similar PRs: #1 A, #2 B (+2 in --json)",
            "{text}"
        );
        assert!(lines[5].starts_with("-- "), "{text}");
    }

    #[test]
    fn empty_answers_say_why() {
        let mut v = view(0);
        v.files.clear();
        v.steps = 0;
        v.budget = 5;
        v.request_tokens = 5;
        let text = render(&v, Style { colour: false });
        assert!(
            text.starts_with(
                "No files predicted: the budget of 5 tokens went to reading the request"
            ),
            "{text}"
        );
        assert!(text.contains("--budget 500 or more."), "{text}");
        for l in text.lines() {
            assert!(l.chars().count() <= WIDTH, "{l}");
        }
        v.steps = 4;
        let text = render(&v, Style { colour: false });
        assert!(
            text.contains("found nothing that matches the request's words"),
            "{text}"
        );
    }
}
