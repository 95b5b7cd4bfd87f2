//! The worker's two GitHub calls ([`GitHubApi`]) on the real client, and
//! the client built from the `[github]` configuration.

use std::sync::Arc;

use crate::config::GithubConfig;

use super::auth::GitHubAuth;
use super::client::{ClientOptions, GitHubClient};
use super::comment::MARKER;
use super::error::GitHubError;
use super::types::RepoRef;
use super::worker::{ApiFailure, ApiFuture, GitHubApi};

/// Builds the client from configuration: a GitHub App when `app_id` is set,
/// else a token; `None` when neither is configured. Call inside a tokio
/// runtime.
pub fn client_from_config(g: &GithubConfig) -> Result<Option<GitHubClient>, String> {
    let auth = if g.app_id != 0 {
        let key = g
            .app_key
            .load("github.app_key")
            .map_err(|e| e.to_string())?
            .ok_or("github.app_id is set, so github.app_key must name the App's private key (env or file)")?;
        GitHubAuth::App {
            app_id: g.app_id,
            private_key_pem: key,
            installation_id: (g.installation_id != 0).then_some(g.installation_id),
        }
    } else {
        match g.token.load("github.token").map_err(|e| e.to_string())? {
            Some(token) => GitHubAuth::Token(token),
            None => return Ok(None),
        }
    };
    let opts = ClientOptions {
        min_write_interval: std::time::Duration::from_millis(g.min_write_interval_ms),
        ..ClientOptions::with_base_url(g.api_url.clone())
    };
    GitHubClient::new(auth, opts)
        .map(Some)
        .map_err(|e| e.to_string())
}

fn failure(e: &GitHubError) -> ApiFailure {
    let transient = match e {
        GitHubError::Exhausted { .. } | GitHubError::RateLimited { .. } => true,
        GitHubError::Status { status, .. } => *status >= 500 || *status == 429,
        _ => false,
    };
    ApiFailure {
        message: e.to_string(),
        transient,
    }
}

fn repo_ref(repo: &str) -> Result<RepoRef, ApiFailure> {
    repo.parse()
        .map_err(|e: super::types::ParseRepoRefError| ApiFailure {
            message: e.to_string(),
            transient: false,
        })
}

impl GitHubApi for GitHubClient {
    fn upsert_comment<'a>(
        &'a self,
        repo: &'a str,
        number: u64,
        known_id: Option<u64>,
        body: &'a str,
    ) -> ApiFuture<'a, u64> {
        Box::pin(async move {
            let r = repo_ref(repo)?;
            GitHubClient::upsert_comment(self, &r, number, known_id, MARKER, body)
                .await
                .map(|c| c.id)
                .map_err(|e| failure(&e))
        })
    }

    fn can_write<'a>(&'a self, repo: &'a str, user: &'a str) -> ApiFuture<'a, bool> {
        Box::pin(async move {
            let r = repo_ref(repo)?;
            self.permission(&r, user)
                .await
                .map(|p| p.can_write())
                .map_err(|e| failure(&e))
        })
    }
}

/// The client as the worker's API.
pub fn as_api(client: GitHubClient) -> Arc<dyn GitHubApi> {
    Arc::new(client)
}
