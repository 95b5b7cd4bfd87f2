//! Keeping the held repositories equal to what the App's installations
//! grant: the listing at start ([`Grants::list_all`]) and each installation
//! event the webhook stored ([`Grants::apply`]).

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::github::GitHubClient;
use crate::github::GitHubError;
use crate::github::installation_events::InstallationChange;

use super::registry::Registry;

/// Applies listings and installation changes to the registry.
#[derive(Debug, Clone)]
pub struct Grants {
    pub client: GitHubClient,
    pub registry: Arc<Registry>,
}

impl Grants {
    /// Lists every installation and its repositories; holds each, and
    /// releases held ones no installation grants any more. Returns how
    /// many are held.
    pub async fn list_all(&self) -> Result<usize, GitHubError> {
        let mut granted = BTreeSet::new();
        for inst in self.client.installations().await? {
            if inst.suspended {
                tracing::info!(
                    "installation {} on {}: suspended, nothing held",
                    inst.id,
                    inst.account
                );
                continue;
            }
            for r in self.client.installation_repositories(inst.id).await? {
                self.registry.hold(&r);
                granted.insert(r.repo.to_string());
            }
            tracing::info!("installation {} on {}: listed", inst.id, inst.account);
        }
        for h in self.registry.list() {
            if !granted.contains(&h.name) {
                self.release(&h.name).await;
            }
        }
        Ok(self.registry.list().len())
    }

    /// Applies one change; errors are logged (the next listing repairs
    /// what a failed one missed).
    pub async fn apply(&self, change: InstallationChange) {
        match change {
            InstallationChange::Relist { installation, .. } => {
                self.registry.unsuspend(installation);
                match self.client.installation_repositories(installation).await {
                    Ok(repos) => {
                        let granted: BTreeSet<String> =
                            repos.iter().map(|r| r.repo.to_string()).collect();
                        for r in &repos {
                            self.registry.hold(r);
                        }
                        for h in self.registry.list() {
                            if h.source().installation == installation && !granted.contains(&h.name)
                            {
                                self.release(&h.name).await;
                            }
                        }
                    }
                    Err(e) => {
                        tracing::warn!("installation {installation}: cannot list: {e}");
                    }
                }
            }
            InstallationChange::Remove { repos, .. } => {
                for r in repos {
                    self.release(&r).await;
                }
            }
            InstallationChange::Drop { installation } => {
                self.registry.unsuspend(installation);
                for h in self.registry.list() {
                    if h.source().installation == installation {
                        self.release(&h.name).await;
                    }
                }
            }
            InstallationChange::Suspend { installation } => {
                for h in self.registry.list() {
                    if h.source().installation == installation {
                        self.registry.suspend(installation, &h.name);
                        self.release(&h.name).await;
                    }
                }
            }
            InstallationChange::Nothing(_) => {}
        }
    }

    async fn release(&self, name: &str) {
        if self.registry.release(name).is_some()
            && let Ok(repo) = name.parse()
        {
            self.client.forget_repository(&repo).await;
        }
    }
}
