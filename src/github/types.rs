//! The values the client hands back: repositories, comments, permissions,
//! pull and issue summaries, and the conditional-request wrapper.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A repository on GitHub, `owner/name`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RepoRef {
    pub owner: String,
    pub name: String,
}

impl RepoRef {
    pub fn new(owner: impl Into<String>, name: impl Into<String>) -> RepoRef {
        RepoRef {
            owner: owner.into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for RepoRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// Why a string is not an `owner/name` repository.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid repository {input:?}: {reason}")]
pub struct ParseRepoRefError {
    pub input: String,
    pub reason: &'static str,
}

impl FromStr for RepoRef {
    type Err = ParseRepoRefError;

    fn from_str(s: &str) -> Result<RepoRef, ParseRepoRefError> {
        let err = |reason| ParseRepoRefError {
            input: s.to_string(),
            reason,
        };
        let (owner, name) = s
            .trim()
            .split_once('/')
            .ok_or_else(|| err("expected owner/name"))?;
        if owner.is_empty() || name.is_empty() || name.contains('/') {
            return Err(err("expected owner/name"));
        }
        let ok = |part: &str| {
            part.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        if !ok(owner) || !ok(name) || name == "." || name == ".." {
            return Err(err(
                "owner and name may hold only letters, digits, '-', '_' and '.'",
            ));
        }
        Ok(RepoRef::new(owner, name))
    }
}

/// The swe-sleep comment on an issue or pull request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommentRef {
    pub id: u64,
    pub html_url: String,
    /// True when this call posted the comment, false when it updated one.
    pub created: bool,
}

/// A user's role on a repository, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    Admin,
    Maintain,
    Write,
    Triage,
    Read,
    None,
}

impl Permission {
    /// Whether the user may push, so may ask swe-sleep for a prediction.
    pub fn can_write(&self) -> bool {
        matches!(
            self,
            Permission::Admin | Permission::Maintain | Permission::Write
        )
    }

    /// Reads GitHub's answer: `role_name` names maintain and triage, which
    /// the legacy `permission` field folds into write and read; a custom
    /// role falls back to `permission`.
    pub(crate) fn from_wire(role_name: Option<&str>, permission: &str) -> Permission {
        role_name
            .and_then(Permission::from_name)
            .or_else(|| Permission::from_name(permission))
            .unwrap_or(Permission::None)
    }

    fn from_name(name: &str) -> Option<Permission> {
        Some(match name {
            "admin" => Permission::Admin,
            "maintain" => Permission::Maintain,
            "write" | "push" => Permission::Write,
            "triage" => Permission::Triage,
            "read" | "pull" => Permission::Read,
            "none" => Permission::None,
            _ => return None,
        })
    }
}

/// The answer to a conditional GET.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Conditional<T> {
    /// 304: nothing changed since the ETag that was sent.
    NotModified,
    /// A new value, with the ETag to send next time.
    Fresh { value: T, etag: Option<String> },
}

/// An open pull request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullSummary {
    pub number: u64,
    pub title: String,
    pub body: Option<String>,
    pub base_ref: String,
    pub head_sha: String,
    pub draft: bool,
    pub updated_at: String,
    pub html_url: String,
}

/// An open issue (never a pull request).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueSummary {
    pub number: u64,
    pub title: String,
    pub body: Option<String>,
    pub labels: Vec<String>,
    pub updated_at: String,
    pub html_url: String,
}

/// Wire shapes: only the fields swe-sleep reads.
pub(crate) mod wire {
    use serde::Deserialize;

    #[derive(Deserialize)]
    pub struct Comment {
        pub id: u64,
        pub html_url: String,
        #[serde(default)]
        pub body: Option<String>,
    }

    #[derive(Deserialize)]
    pub struct CollaboratorPermission {
        pub permission: String,
        #[serde(default)]
        pub role_name: Option<String>,
    }

    #[derive(Deserialize)]
    pub struct Installation {
        pub id: u64,
    }

    #[derive(Deserialize)]
    pub struct BranchRef {
        #[serde(rename = "ref")]
        pub ref_name: String,
        pub sha: String,
    }

    #[derive(Deserialize)]
    pub struct Pull {
        pub number: u64,
        pub title: String,
        pub body: Option<String>,
        pub base: BranchRef,
        pub head: BranchRef,
        #[serde(default)]
        pub draft: bool,
        pub updated_at: String,
        pub html_url: String,
    }

    #[derive(Deserialize)]
    pub struct Label {
        pub name: String,
    }

    #[derive(Deserialize)]
    pub struct Issue {
        pub number: u64,
        pub title: String,
        pub body: Option<String>,
        #[serde(default)]
        pub labels: Vec<Label>,
        pub updated_at: String,
        pub html_url: String,
        /// Present when the entry is a pull request.
        #[serde(default)]
        pub pull_request: Option<serde_json::Value>,
    }
}

impl From<wire::Pull> for PullSummary {
    fn from(p: wire::Pull) -> PullSummary {
        PullSummary {
            number: p.number,
            title: p.title,
            body: p.body,
            base_ref: p.base.ref_name,
            head_sha: p.head.sha,
            draft: p.draft,
            updated_at: p.updated_at,
            html_url: p.html_url,
        }
    }
}

impl wire::Issue {
    /// The summary, or `None` for an entry that is a pull request.
    pub(crate) fn into_summary(self) -> Option<IssueSummary> {
        if self.pull_request.is_some() {
            return None;
        }
        Some(IssueSummary {
            number: self.number,
            title: self.title,
            body: self.body,
            labels: self.labels.into_iter().map(|l| l.name).collect(),
            updated_at: self.updated_at,
            html_url: self.html_url,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_ref_round_trips_and_rejects_bad_input() {
        let r: RepoRef = "helix-editor/helix".parse().expect("valid");
        assert_eq!(r, RepoRef::new("helix-editor", "helix"));
        assert_eq!(r.to_string(), "helix-editor/helix");
        for bad in ["helix", "/x", "x/", "a/b/c", "a b/c", "a/..", ""] {
            let err = bad.parse::<RepoRef>().expect_err(bad);
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
    }

    #[test]
    fn permission_prefers_role_name() {
        assert_eq!(
            Permission::from_wire(Some("maintain"), "write"),
            Permission::Maintain
        );
        assert_eq!(
            Permission::from_wire(Some("triage"), "read"),
            Permission::Triage
        );
        assert_eq!(
            Permission::from_wire(Some("custom-role"), "write"),
            Permission::Write
        );
        assert_eq!(Permission::from_wire(None, "none"), Permission::None);
        assert!(Permission::Maintain.can_write());
        assert!(!Permission::Triage.can_write());
    }
}
