//! `GET /`: one self-contained HTML page for a person (no CDN, nothing
//! fetched but the daemon's own `/predict`): the notebook's state and age,
//! the last sleeps and what they cost, recent predictions from the API and
//! the GitHub queue (with their reasons and links), the sleep-time
//! learning fit, and a form that posts a request to `/predict` as JSON.
//!
//! The page obeys the API's access rules like any route
//! ([`super::access`]): the `Host` check, and with a token the token
//! (a browser gives it as the password of HTTP Basic authentication).
//! Its inline script and style are allowed by their hashes in a strict
//! `Content-Security-Policy`, it cannot be framed, and everything shown is
//! HTML-escaped; the script writes answers with `textContent` only.

use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::git::Repo;
use crate::github::queue::StoredResult;
use crate::notebook::{self, Status};

use super::journal::{self, PredictionEntry, SleepEntry};
use super::page_text::{ago, escape, link_base, seconds};
use super::state::Shared;

/// The page's template: `{{name}}` slots filled with escaped HTML.
const TEMPLATE: &str = include_str!("page.html");

/// GitHub results shown.
const GITHUB_RESULTS: usize = 10;

/// What the page shows, read on a blocking thread.
struct View {
    status: Result<Status, String>,
    github: Option<Result<Vec<StoredResult>, String>>,
}

pub async fn page(State(shared): State<Arc<Shared>>) -> Response {
    let s = shared.clone();
    let view = tokio::task::spawn_blocking(move || View {
        status: Repo::open(&s.repo_path)
            .map_err(|e| e.to_string())
            .and_then(|repo| {
                notebook::status(&repo, &s.state_dir, None, &s.config).map_err(|e| e.to_string())
            }),
        github: s.github.as_ref().map(|g| {
            g.queue
                .recent_results(GITHUB_RESULTS)
                .map_err(|e| e.to_string())
        }),
    })
    .await;
    let view = match view {
        Ok(v) => v,
        Err(e) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                axum::Json(serde_json::json!({ "error": e.to_string() })),
            )
                .into_response();
        }
    };
    let html = render(&shared, &view);
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CONTENT_SECURITY_POLICY, policy()),
        ],
        html,
    )
        .into_response()
}

/// The page's `Content-Security-Policy`: its own inline script and style
/// by hash, requests to its own origin only, no frames, no forms elsewhere.
pub fn policy() -> &'static str {
    static POLICY: OnceLock<String> = OnceLock::new();
    POLICY.get_or_init(|| {
        format!(
            "default-src 'none'; script-src '{}'; style-src '{}'; connect-src 'self'; img-src 'self' data:; form-action 'none'; base-uri 'none'; frame-ancestors 'none'",
            hash_of(TEMPLATE, "<script>", "</script>"),
            hash_of(TEMPLATE, "<style>", "</style>")
        )
    })
}

/// `sha256-...` of the text between `open` and `close` in `html`.
fn hash_of(html: &str, open: &str, close: &str) -> String {
    let start = html.find(open).map_or(0, |i| i + open.len());
    let end = html[start..].find(close).map_or(html.len(), |i| start + i);
    let digest = Sha256::digest(&html.as_bytes()[start..end]);
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

fn render(shared: &Shared, view: &View) -> String {
    let repo = shared.repo_path.display().to_string();
    let repo_name = shared
        .repo_path
        .file_name()
        .map_or(repo.clone(), |n| n.to_string_lossy().into_owned());
    let slots = [
        ("repo_name", escape(&repo_name)),
        ("repo", escape(&repo)),
        ("health", health(shared)),
        ("budget", shared.config.agent.budget.to_string()),
        ("notebook", notebook_html(view)),
        ("learning", learning_html(view)),
        ("sleeps", sleeps_html(&shared.journal.sleeps(), shared)),
        (
            "predictions",
            predictions_html(&shared.journal.predictions()),
        ),
        ("github", github_html(shared, view)),
    ];
    let mut html = TEMPLATE.to_string();
    for (name, value) in slots {
        html = html.replace(&format!("{{{{{name}}}}}"), &value);
    }
    html
}

fn health(shared: &Shared) -> String {
    match (shared.degraded(), shared.sleeping()) {
        (Some(why), _) => format!(
            "<span class=\"badge bad\">degraded</span> <span class=\"muted\">{}</span>",
            escape(&why)
        ),
        (None, true) => "<span class=\"badge warn\">sleeping</span>".into(),
        (None, false) => "<span class=\"badge ok\">ready</span>".into(),
    }
}

fn notebook_html(view: &View) -> String {
    let s = match &view.status {
        Ok(s) => s,
        Err(e) => return format!("<p class=\"bad\">cannot read it: {}</p>", escape(e)),
    };
    if !s.exists {
        return "<p id=\"notebook-state\">No notebook yet: the first sleep has not finished.</p>"
            .into();
    }
    let what = match (&s.commit, s.worktree) {
        (Some(c), true) => format!("the work tree at <code>{}</code>", escape(short(c))),
        (Some(c), false) => format!("commit <code>{}</code>", escape(short(c))),
        (None, _) => "a work tree with no commit".into(),
    };
    let mut out = format!(
        "<p id=\"notebook-state\">Describes {what}, built {}.</p>",
        s.age_seconds.map_or("at an unknown time".into(), ago)
    );
    let fresh = if s.up_to_date {
        "Up to date with HEAD".to_string()
    } else if let Some(n) = s.commits_behind {
        format!("{n} commit{} behind HEAD", if n == 1 { "" } else { "s" })
    } else {
        "Not at HEAD".to_string()
    };
    let drift = s
        .worktree_changes
        .as_ref()
        .and_then(|d| d.sentence())
        .map_or(String::new(), |d| format!("; {}", escape(&d)));
    let _ = write!(out, "<p>{fresh}{drift}.</p>");
    if let Some(c) = &s.counts {
        let _ = write!(
            out,
            "<p class=\"muted\">{} files ({} parsed), {} symbols, {} commits with {} pull requests.</p>",
            c.files, c.parsed, c.symbols, c.commits, c.prs
        );
    }
    out
}

fn learning_html(view: &View) -> String {
    let Some(l) = view.status.as_ref().ok().and_then(|s| s.learning.as_ref()) else {
        return "<p id=\"learning-state\">Nothing learned yet: sleeps replay past pull requests when the history has some like the requests answered.</p>".into();
    };
    let check = if l.holdout_prs == 0 {
        "none held out to check it yet".to_string()
    } else {
        format!(
            "on the {} most recent, held out, F1 {:.3} learned against {:.3} by default",
            l.holdout_prs, l.holdout_f1_learned, l.holdout_f1_default
        )
    };
    let mut out = format!(
        "<p id=\"learning-state\">Trained on {} past pull requests ({} examples); {check}.</p><p>{} <span class=\"muted\">({})</span></p>",
        l.prs,
        l.examples,
        if l.used {
            "Predictions use the learned ranking."
        } else {
            "Predictions keep the default ranking."
        },
        escape(&l.reason)
    );
    if l.holdout_prs > 0 {
        let _ = write!(
            out,
            "<p class=\"muted\">Search: recall of the first 10 files {:.3} learned against {:.3} by default; {}.</p>",
            l.search_recall_learned,
            l.search_recall_default,
            if l.search_used {
                "searches use the learned order"
            } else {
                "searches keep the default fusion"
            }
        );
    }
    out
}

fn sleeps_html(sleeps: &[SleepEntry], shared: &Shared) -> String {
    let m = shared.metrics();
    let mut out = format!(
        "<p class=\"muted\">{} sleep{} since the daemon started ({} failed), {} in all.</p>",
        m.sleeps_total,
        if m.sleeps_total == 1 { "" } else { "s" },
        m.sleep_failures_total,
        seconds(m.sleep_seconds_total)
    );
    if sleeps.is_empty() {
        out.push_str("<p>No sleep has finished since the daemon started.</p>");
        return out;
    }
    out.push_str("<table id=\"sleep-table\"><thead><tr><th>ended</th><th class=\"num\">took</th><th>commit</th><th class=\"num\">files</th><th class=\"num\">new blobs</th><th class=\"num\">tokens read</th><th class=\"num\">commits mined</th><th class=\"num\">PRs replayed</th><th>outcome</th></tr></thead><tbody>");
    let now = journal::now();
    for s in sleeps {
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"num\">{}</td><td><code>{}</code></td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            ago(now.saturating_sub(s.at)),
            seconds(s.seconds),
            escape(s.commit.as_deref().map_or("work tree", short)),
            s.files,
            s.blobs_new,
            s.tokens_read,
            s.commits_mined,
            s.replayed,
            match &s.error {
                None => "<span class=\"badge ok\">ok</span>".to_string(),
                Some(e) => format!("<span class=\"badge bad\">failed</span> {}", escape(e)),
            }
        );
    }
    out.push_str("</tbody></table>");
    out
}

/// A prediction's files as an ordered list with their reasons.
fn files_html(files: impl Iterator<Item = (String, f64, String)>) -> String {
    let mut out = String::from("<ol class=\"files\">");
    let mut any = false;
    for (path, score, reason) in files {
        any = true;
        let _ = write!(
            out,
            "<li><span class=\"path\">{}</span> <span class=\"muted\">{score:.3}</span> <span class=\"reason\">{}</span></li>",
            escape(&path),
            escape(&reason)
        );
    }
    if !any {
        return "<p class=\"muted\">No files predicted.</p>".into();
    }
    out.push_str("</ol>");
    out
}

fn predictions_html(list: &[PredictionEntry]) -> String {
    if list.is_empty() {
        return "<p id=\"predictions-none\">None since the daemon started. Try one above.</p>"
            .into();
    }
    let now = journal::now();
    let mut out = String::new();
    for p in list {
        let _ = write!(
            out,
            "<div class=\"prediction\"><p><span class=\"request\">{}</span> <span class=\"muted\">{}, {} policy, {} of {} tokens</span></p>{}</div>",
            escape(&p.request),
            ago(now.saturating_sub(p.at)),
            escape(&p.policy),
            p.tokens_used,
            p.budget,
            files_html(
                p.files
                    .iter()
                    .map(|f| (f.path.clone(), f.score, f.reason.clone()))
            )
        );
    }
    out
}

fn github_html(shared: &Shared, view: &View) -> String {
    let Some(results) = &view.github else {
        return "<p>Not configured: with <code>[github]</code> and a webhook secret (or <code>--poll</code>) the daemon predicts for pull requests and issues.</p>".into();
    };
    let results = match results {
        Ok(r) => r,
        Err(e) => return format!("<p>cannot read the queue: {}</p>", escape(e)),
    };
    if results.is_empty() {
        return "<p>No pull request or issue predicted yet.</p>".into();
    }
    let base = link_base(&shared.config.github.api_url);
    let now_ms = journal::now() * 1000;
    let mut out = String::new();
    for r in results {
        let (path, label) = if r.kind == "issue" {
            ("issues", "issue")
        } else {
            ("pull", "pull request")
        };
        let url = format!("{base}/{}/{path}/{}", r.repo, r.number);
        let files = r.prediction["files"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let _ = write!(
            out,
            "<div class=\"github-result\"><p><a href=\"{}\" rel=\"noreferrer\">{} #{}</a> <span class=\"muted\">{} {}{}</span></p>{}</div>",
            escape(&url),
            escape(&r.repo),
            r.number,
            label,
            ago(now_ms.saturating_sub(u64::try_from(r.updated_at).unwrap_or(0)) / 1000),
            if r.comment_id.is_some() {
                ", commented"
            } else {
                ""
            },
            files_html(files.iter().take(8).map(|f| {
                (
                    f["path"].as_str().unwrap_or("?").to_string(),
                    f["score"].as_f64().unwrap_or(0.0),
                    f["reason"].as_str().unwrap_or("").to_string(),
                )
            }))
        );
    }
    out
}

fn short(c: &str) -> &str {
    &c[..12.min(c.len())]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_hashes_the_inline_script_and_style() {
        let p = policy();
        assert!(p.contains("script-src 'sha256-"), "{p}");
        assert!(p.contains("style-src 'sha256-"), "{p}");
        assert!(p.contains("frame-ancestors 'none'"), "{p}");
        assert!(TEMPLATE.matches("<script>").count() == 1);
        assert!(TEMPLATE.matches("<style>").count() == 1);
    }
}
