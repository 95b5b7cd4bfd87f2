//! What a webhook delivery asks for. The payload is read into the few typed
//! fields swe-sleep uses (everything else in GitHub's payload is ignored),
//! and [`classify`] decides: a prediction for a pull request or an issue, a
//! comment command to check, a ping, or nothing (with the reason, for the
//! log). Pure: no IO.

use serde::{Deserialize, Serialize};

/// What a pull request or issue is, for the queue and the comment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// `owner/name`.
    pub repo: String,
    pub number: u64,
    pub kind: TargetKind,
    pub title: String,
    pub body: String,
    /// The branch a pull request merges into; `None` for an issue (the
    /// default branch).
    pub base_ref: Option<String>,
    pub html_url: String,
    /// The App installation that sent the delivery, if any.
    pub installation_id: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    PullRequest,
    Issue,
}

impl TargetKind {
    /// The name stored with a result (`pull_request`, `issue`).
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::PullRequest => "pull_request",
            TargetKind::Issue => "issue",
        }
    }
}

impl Target {
    /// The feature request the agent reads: title, a blank line, the body.
    pub fn request_text(&self) -> String {
        crate::agent::request::request_text(&self.title, &self.body)
    }
}

/// The work a delivery asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "snake_case")]
pub enum Job {
    /// Predict the files and store (and maybe post) the result.
    Predict { target: Target, why: String },
    /// A comment command: predict only if `user` has write access.
    Command { target: Target, user: String },
    /// The default branch moved on GitHub: fetch, so the notebook follows
    /// (done only with `github.fetch`).
    Fetch { repo: String, branch: String },
}

impl Job {
    /// The pull request or issue a prediction is for (`None` for a fetch).
    pub fn target(&self) -> Option<&Target> {
        match self {
            Job::Predict { target, .. } | Job::Command { target, .. } => Some(target),
            Job::Fetch { .. } => None,
        }
    }

    /// The repository (`owner/name`) the job is for.
    pub fn repo(&self) -> &str {
        match self {
            Job::Predict { target, .. } | Job::Command { target, .. } => &target.repo,
            Job::Fetch { repo, .. } => repo,
        }
    }

    /// What the job is about, for logs: `owner/name#12` or `owner/name@main`.
    pub fn subject(&self) -> String {
        match self {
            Job::Predict { target, .. } | Job::Command { target, .. } => {
                format!("{}#{}", target.repo, target.number)
            }
            Job::Fetch { repo, branch } => format!("{repo}@{branch}"),
        }
    }

    /// Jobs with the same key are redundant once a newer one is queued: a
    /// newer prediction for the same pull request or issue, a newer fetch.
    /// A command has none: it may yet be refused.
    pub fn supersede_key(&self) -> Option<String> {
        match self {
            Job::Predict { .. } => Some(self.subject()),
            Job::Fetch { repo, .. } => Some(format!("fetch:{repo}")),
            Job::Command { .. } => None,
        }
    }
}

/// The decision for one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    Ping { zen: Option<String> },
    Work(Job),
    Ignore(String),
}

/// What [`classify`] needs from the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerRules {
    /// Only this repository is served (`owner/name`); `None`: any.
    pub repo: Option<String>,
    /// An issue triggers when it is opened with, or labelled with, this
    /// label; empty: every opened issue triggers.
    pub issue_label: String,
    /// The comment command, e.g. `/swe-sleep predict`.
    pub command: String,
}

#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("the {event} payload is not what GitHub sends: {source}")]
    Shape {
        event: String,
        source: serde_json::Error,
    },
}

#[derive(Deserialize)]
struct Repository {
    full_name: String,
}

#[derive(Deserialize)]
struct Installation {
    id: u64,
}

#[derive(Deserialize)]
struct Label {
    name: String,
}

#[derive(Deserialize)]
struct User {
    login: String,
}

#[derive(Deserialize)]
struct BaseRef {
    #[serde(rename = "ref")]
    name: String,
}

#[derive(Deserialize)]
struct PullRequest {
    number: u64,
    title: String,
    body: Option<String>,
    #[serde(default)]
    draft: bool,
    html_url: String,
    base: BaseRef,
}

#[derive(Deserialize)]
struct PullRequestEvent {
    action: String,
    pull_request: PullRequest,
    repository: Repository,
    installation: Option<Installation>,
}

#[derive(Deserialize)]
struct Issue {
    number: u64,
    title: String,
    body: Option<String>,
    html_url: String,
    #[serde(default)]
    labels: Vec<Label>,
    /// Present when the issue is a pull request.
    pull_request: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct IssuesEvent {
    action: String,
    issue: Issue,
    label: Option<Label>,
    repository: Repository,
    installation: Option<Installation>,
}

#[derive(Deserialize)]
struct Comment {
    body: Option<String>,
    user: User,
}

#[derive(Deserialize)]
struct IssueCommentEvent {
    action: String,
    issue: Issue,
    comment: Comment,
    repository: Repository,
    installation: Option<Installation>,
}

#[derive(Deserialize)]
struct PingEvent {
    zen: Option<String>,
}

#[derive(Deserialize)]
struct PushRepository {
    full_name: String,
    default_branch: Option<String>,
}

#[derive(Deserialize)]
struct PushEvent {
    #[serde(rename = "ref")]
    git_ref: String,
    #[serde(default)]
    deleted: bool,
    repository: PushRepository,
}

/// Decides what a delivery of `event` (the `X-GitHub-Event` header) with
/// `body` (already known to be JSON) asks for.
pub fn classify(event: &str, body: &[u8], rules: &TriggerRules) -> Result<Trigger, EventError> {
    let parse = |e: serde_json::Error| EventError::Shape {
        event: event.to_string(),
        source: e,
    };
    match event {
        "ping" => {
            let p: PingEvent = serde_json::from_slice(body).map_err(parse)?;
            Ok(Trigger::Ping { zen: p.zen })
        }
        "pull_request" => {
            let e: PullRequestEvent = serde_json::from_slice(body).map_err(parse)?;
            if let Some(skip) = other_repo(rules, &e.repository.full_name) {
                return Ok(skip);
            }
            let pr = e.pull_request;
            let target = Target {
                repo: e.repository.full_name,
                number: pr.number,
                kind: TargetKind::PullRequest,
                title: pr.title,
                body: pr.body.unwrap_or_default(),
                base_ref: Some(pr.base.name),
                html_url: pr.html_url,
                installation_id: e.installation.map(|i| i.id),
            };
            Ok(match e.action.as_str() {
                "opened" | "edited" | "reopened" if pr.draft => Trigger::Ignore(format!(
                    "pull request #{} is a draft; it is predicted when marked ready for review",
                    target.number
                )),
                "opened" | "edited" | "reopened" | "ready_for_review" => {
                    Trigger::Work(Job::Predict {
                        why: format!("pull_request {}", e.action),
                        target,
                    })
                }
                other => Trigger::Ignore(format!("pull_request action `{other}` asks for nothing")),
            })
        }
        "issues" => {
            let e: IssuesEvent = serde_json::from_slice(body).map_err(parse)?;
            if let Some(skip) = other_repo(rules, &e.repository.full_name) {
                return Ok(skip);
            }
            let label = rules.issue_label.as_str();
            let wanted = match e.action.as_str() {
                "opened" => label.is_empty() || e.issue.labels.iter().any(|l| l.name == label),
                "labeled" => !label.is_empty() && e.label.as_ref().is_some_and(|l| l.name == label),
                _ => false,
            };
            if !wanted {
                return Ok(Trigger::Ignore(format!(
                    "issues action `{}` on #{} asks for nothing{}",
                    e.action,
                    e.issue.number,
                    if label.is_empty() {
                        String::new()
                    } else {
                        format!(" (the trigger label is `{label}`)")
                    }
                )));
            }
            Ok(Trigger::Work(Job::Predict {
                why: format!("issues {}", e.action),
                target: issue_target(e.repository.full_name, e.issue, e.installation),
            }))
        }
        "issue_comment" => {
            let e: IssueCommentEvent = serde_json::from_slice(body).map_err(parse)?;
            if let Some(skip) = other_repo(rules, &e.repository.full_name) {
                return Ok(skip);
            }
            let text = e.comment.body.unwrap_or_default();
            if e.action != "created" || !is_command(&text, &rules.command) {
                return Ok(Trigger::Ignore(format!(
                    "issue_comment {} on #{} is not the `{}` command",
                    e.action, e.issue.number, rules.command
                )));
            }
            Ok(Trigger::Work(Job::Command {
                user: e.comment.user.login,
                target: issue_target(e.repository.full_name, e.issue, e.installation),
            }))
        }
        "push" => {
            let e: PushEvent = serde_json::from_slice(body).map_err(parse)?;
            if let Some(skip) = other_repo(rules, &e.repository.full_name) {
                return Ok(skip);
            }
            let branch = e.git_ref.strip_prefix("refs/heads/").unwrap_or_default();
            let default = e.repository.default_branch.as_deref().unwrap_or_default();
            if e.deleted || branch.is_empty() || branch != default {
                return Ok(Trigger::Ignore(format!(
                    "push to {} asks for nothing (only the default branch is followed)",
                    e.git_ref
                )));
            }
            Ok(Trigger::Work(Job::Fetch {
                repo: e.repository.full_name,
                branch: branch.to_string(),
            }))
        }
        other => Ok(Trigger::Ignore(format!("event `{other}` is not handled"))),
    }
}

fn other_repo(rules: &TriggerRules, full_name: &str) -> Option<Trigger> {
    match &rules.repo {
        Some(r) if !r.eq_ignore_ascii_case(full_name) => Some(Trigger::Ignore(format!(
            "the delivery is for {full_name}, and this daemon serves {r}"
        ))),
        _ => None,
    }
}

fn issue_target(repo: String, issue: Issue, installation: Option<Installation>) -> Target {
    Target {
        repo,
        number: issue.number,
        kind: if issue.pull_request.is_some() {
            TargetKind::PullRequest
        } else {
            TargetKind::Issue
        },
        title: issue.title,
        body: issue.body.unwrap_or_default(),
        base_ref: None,
        html_url: issue.html_url,
        installation_id: installation.map(|i| i.id),
    }
}

/// A comment is the command when one of its lines, trimmed, starts with it.
fn is_command(body: &str, command: &str) -> bool {
    !command.is_empty()
        && body.lines().any(|l| {
            let l = l.trim();
            l == command
                || l.strip_prefix(command)
                    .is_some_and(|rest| rest.starts_with(' '))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> TriggerRules {
        TriggerRules {
            repo: None,
            issue_label: String::new(),
            command: "/swe-sleep predict".into(),
        }
    }

    #[test]
    fn command_lines() {
        assert!(is_command("/swe-sleep predict", "/swe-sleep predict"));
        assert!(is_command(
            "thanks!\n  /swe-sleep predict please\n",
            "/swe-sleep predict"
        ));
        assert!(!is_command("/swe-sleep predicting", "/swe-sleep predict"));
        assert!(!is_command(
            "run `/swe-sleep predict` later",
            "/swe-sleep predict"
        ));
        assert!(!is_command("anything", ""));
    }

    #[test]
    fn unknown_event_and_bad_shape() {
        assert_eq!(
            classify("star", b"{}", &rules()).expect("ignored"),
            Trigger::Ignore("event `star` is not handled".into())
        );
        let err =
            classify("pull_request", br#"{"action": "opened"}"#, &rules()).expect_err("shape");
        assert!(err.to_string().contains("pull_request"), "{err}");
    }
}
