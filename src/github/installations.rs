//! A GitHub App's installations and the repositories each one grants, and
//! an installation's token for git: what `swe-sleep serve` lists at start.
//!
//! `GET /app/installations` is asked as the App (JWT); `GET
//! /installation/repositories` and the token as each installation, through
//! the same octocrab instances (and token cache) the rest of the client
//! uses. Every listing follows `Link` pages up to the client's page cap.

use std::sync::Arc;

use octocrab::Octocrab;
use octocrab::secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::secret::Secret;

use super::client::GitHubClient;
use super::error::GitHubError;
use super::request::{Request, Verb};
use super::types::RepoRef;

/// One installation of the App.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Installation {
    pub id: u64,
    /// The account (organisation or user) it is installed on.
    pub account: String,
    /// Suspended by its owner (`suspended_at` set): it grants nothing
    /// until unsuspended, and its token cannot be had.
    #[serde(default)]
    pub suspended: bool,
}

/// A repository an installation grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstalledRepo {
    pub repo: RepoRef,
    pub installation: u64,
    /// What git fetches from (`https://github.com/o/r.git`).
    pub clone_url: String,
    pub default_branch: String,
}

mod wire {
    use serde::Deserialize;

    #[derive(Deserialize)]
    pub struct Account {
        pub login: String,
    }

    #[derive(Deserialize)]
    pub struct Installation {
        pub id: u64,
        pub account: Account,
        #[serde(default)]
        pub suspended_at: Option<String>,
    }

    #[derive(Deserialize)]
    pub struct Repo {
        pub full_name: String,
        pub clone_url: String,
        #[serde(default)]
        pub default_branch: Option<String>,
    }

    #[derive(Deserialize)]
    pub struct Repos {
        pub repositories: Vec<Repo>,
    }
}

fn not_an_app(path: &str) -> GitHubError {
    GitHubError::Request {
        method: "GET".into(),
        path: path.into(),
        message: "the client is not a GitHub App (set github.app_id and github.app_key)".into(),
    }
}

impl GitHubClient {
    /// Every installation of the App.
    pub async fn installations(&self) -> Result<Vec<Installation>, GitHubError> {
        let (identity, _, _) = self.parts();
        let first = "/app/installations?per_page=100";
        let app = identity.app().ok_or_else(|| not_an_app(first))?.clone();
        let pages: Vec<Vec<wire::Installation>> = self.pages(&app, first.to_string()).await?;
        Ok(pages
            .into_iter()
            .flatten()
            .map(|i| Installation {
                id: i.id,
                account: i.account.login,
                suspended: i.suspended_at.is_some(),
            })
            .collect())
    }

    /// The repositories installation `id` grants; each is remembered as
    /// served by it, so its comments need no lookup.
    pub async fn installation_repositories(
        &self,
        id: u64,
    ) -> Result<Vec<InstalledRepo>, GitHubError> {
        let first = "/installation/repositories?per_page=100";
        let crab = self.installation_crab(id, first).await?;
        let pages: Vec<wire::Repos> = self.pages(&crab, first.to_string()).await?;
        let mut out = Vec::new();
        for r in pages.into_iter().flat_map(|p| p.repositories) {
            let repo: RepoRef = match r.full_name.parse() {
                Ok(repo) => repo,
                Err(e) => {
                    tracing::warn!("installation {id}: skipping a repository: {e}");
                    continue;
                }
            };
            self.parts().0.remember(&repo, Some(id)).await;
            out.push(InstalledRepo {
                repo,
                installation: id,
                clone_url: r.clone_url,
                default_branch: r.default_branch.unwrap_or_else(|| "main".into()),
            });
        }
        Ok(out)
    }

    /// Forgets which installation served `repo` (it was removed).
    pub async fn forget_repository(&self, repo: &RepoRef) {
        self.parts().0.remember(repo, None).await;
    }

    /// A token of installation `id` valid for at least 30 more seconds, for
    /// git over HTTPS (GitHub checks it per request, so a fetch that starts
    /// with it finishes). Cached and refreshed like the API's own.
    pub async fn installation_token(&self, id: u64) -> Result<Secret, GitHubError> {
        let path = format!("/app/installations/{id}/access_tokens");
        let crab = self.installation_crab(id, &path).await?;
        let token = crab
            .installation_token()
            .await
            .map_err(|e| GitHubError::Request {
                method: "POST".into(),
                path: path.clone(),
                message: first_line(&e.to_string()),
            })?;
        Ok(Secret::new(token.expose_secret().to_string()))
    }

    async fn installation_crab(&self, id: u64, path: &str) -> Result<Arc<Octocrab>, GitHubError> {
        self.parts()
            .0
            .installation(id)
            .await?
            .ok_or_else(|| not_an_app(path))
    }

    /// The pages of a listing, from `first` through `Link: rel="next"`.
    async fn pages<T: for<'de> Deserialize<'de>>(
        &self,
        crab: &Octocrab,
        first: String,
    ) -> Result<Vec<T>, GitHubError> {
        let (_, transport, max_pages) = self.parts();
        let mut out = Vec::new();
        let mut next = Some(first);
        while let Some(path) = next.take() {
            if out.len() as u32 >= max_pages {
                tracing::warn!("listing stopped after {max_pages} pages at {path}");
                break;
            }
            let response = transport.send(crab, &Request::get(path.clone())).await?;
            out.push(response.json(Verb::Get, &path)?);
            next = response.next;
        }
        Ok(out)
    }
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_string()
}
