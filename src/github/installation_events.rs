//! What the App's own events say about the repositories it may serve:
//! `installation` (created, deleted, suspend, unsuspend, permissions
//! accepted) and `installation_repositories` (added, removed). Pure: the
//! payload in, an [`InstallationChange`] out.

use serde::Deserialize;

use super::events::EventError;

/// The events this module reads.
pub const EVENTS: [&str; 2] = ["installation", "installation_repositories"];

/// What an installation event changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstallationChange {
    /// The installation may grant more (created, unsuspended, repositories
    /// added): list its repositories again. `added` names those the event
    /// names, when it does.
    Relist {
        installation: u64,
        added: Vec<String>,
    },
    /// These repositories are no longer granted.
    Remove {
        installation: u64,
        repos: Vec<String>,
    },
    /// The installation is gone: nothing it granted is served.
    Drop { installation: u64 },
    /// The installation is suspended: nothing it granted is served (nor
    /// can be fetched) until it is unsuspended, which lists it again.
    Suspend { installation: u64 },
    /// Nothing changes for the repositories held (with the reason).
    Nothing(String),
}

impl InstallationChange {
    /// One line for the log and the delivery's note.
    pub fn describe(&self) -> String {
        match self {
            InstallationChange::Relist {
                installation,
                added,
            } if added.is_empty() => format!("installation {installation}: listing again"),
            InstallationChange::Relist {
                installation,
                added,
            } => format!("installation {installation}: adding {}", added.join(", ")),
            InstallationChange::Remove {
                installation,
                repos,
            } => format!("installation {installation}: removing {}", repos.join(", ")),
            InstallationChange::Drop { installation } => {
                format!("installation {installation}: dropping every repository")
            }
            InstallationChange::Suspend { installation } => {
                format!("installation {installation}: suspended, dropping every repository")
            }
            InstallationChange::Nothing(why) => why.clone(),
        }
    }
}

#[derive(Deserialize)]
struct Installation {
    id: u64,
}

#[derive(Deserialize)]
struct Named {
    full_name: String,
}

#[derive(Deserialize)]
struct InstallationEvent {
    action: String,
    installation: Installation,
    #[serde(default)]
    repositories: Option<Vec<Named>>,
}

#[derive(Deserialize)]
struct RepositoriesEvent {
    action: String,
    installation: Installation,
    #[serde(default)]
    repositories_added: Vec<Named>,
    #[serde(default)]
    repositories_removed: Vec<Named>,
}

/// Whether `event` is one of [`EVENTS`].
pub fn is_installation_event(event: &str) -> bool {
    EVENTS.contains(&event)
}

/// Reads an installation event.
pub fn read(event: &str, body: &[u8]) -> Result<InstallationChange, EventError> {
    let shape = |e: serde_json::Error| EventError::Shape {
        event: event.to_string(),
        source: e,
    };
    let names = |v: Vec<Named>| v.into_iter().map(|n| n.full_name).collect::<Vec<_>>();
    match event {
        "installation" => {
            let e: InstallationEvent = serde_json::from_slice(body).map_err(shape)?;
            let installation = e.installation.id;
            Ok(match e.action.as_str() {
                "created" | "unsuspend" | "new_permissions_accepted" => {
                    InstallationChange::Relist {
                        installation,
                        added: e.repositories.map(names).unwrap_or_default(),
                    }
                }
                "deleted" => InstallationChange::Drop { installation },
                "suspend" => InstallationChange::Suspend { installation },
                other => InstallationChange::Nothing(format!(
                    "installation {installation}: action `{other}` changes no repository"
                )),
            })
        }
        "installation_repositories" => {
            let e: RepositoriesEvent = serde_json::from_slice(body).map_err(shape)?;
            let installation = e.installation.id;
            Ok(match e.action.as_str() {
                "added" => InstallationChange::Relist {
                    installation,
                    added: names(e.repositories_added),
                },
                "removed" => InstallationChange::Remove {
                    installation,
                    repos: names(e.repositories_removed),
                },
                other => InstallationChange::Nothing(format!(
                    "installation {installation}: action `{other}` changes no repository"
                )),
            })
        }
        other => Ok(InstallationChange::Nothing(format!(
            "event `{other}` is not about installations"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn added_and_removed_repositories_are_read() {
        let added = br#"{"action":"added","installation":{"id":7},
            "repositories_added":[{"id":1,"name":"a","full_name":"org/a","private":false}],
            "repositories_removed":[]}"#;
        assert_eq!(
            read("installation_repositories", added).expect("reads"),
            InstallationChange::Relist {
                installation: 7,
                added: vec!["org/a".into()]
            }
        );
        let removed = br#"{"action":"removed","installation":{"id":7},
            "repositories_added":[],
            "repositories_removed":[{"full_name":"org/b"},{"full_name":"org/c"}]}"#;
        let change = read("installation_repositories", removed).expect("reads");
        assert_eq!(change.describe(), "installation 7: removing org/b, org/c");
    }

    #[test]
    fn installation_lifecycle_and_bad_shapes() {
        let deleted = br#"{"action":"deleted","installation":{"id":9}}"#;
        assert_eq!(
            read("installation", deleted).expect("reads"),
            InstallationChange::Drop { installation: 9 }
        );
        let created =
            br#"{"action":"created","installation":{"id":9},"repositories":[{"full_name":"o/r"}]}"#;
        assert!(matches!(
            read("installation", created).expect("reads"),
            InstallationChange::Relist { installation: 9, ref added } if added == &["o/r".to_string()]
        ));
        let suspend = br#"{"action":"suspend","installation":{"id":9,"account":{"login":"o"}}}"#;
        assert_eq!(
            read("installation", suspend).expect("reads"),
            InstallationChange::Suspend { installation: 9 }
        );
        let unsuspend = br#"{"action":"unsuspend","installation":{"id":9}}"#;
        assert!(matches!(
            read("installation", unsuspend).expect("reads"),
            InstallationChange::Relist { installation: 9, ref added } if added.is_empty()
        ));
        let other = br#"{"action":"new_permissions_requested","installation":{"id":9}}"#;
        assert!(matches!(
            read("installation", other).expect("reads"),
            InstallationChange::Nothing(_)
        ));
        let err = read("installation", br#"{"action":"created"}"#).expect_err("no installation");
        assert!(err.to_string().contains("installation payload"), "{err}");
        assert!(is_installation_event("installation_repositories"));
        assert!(!is_installation_event("push"));
    }
}
