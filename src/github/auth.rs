//! Who the client is to GitHub: a token (local use) or a GitHub App (the
//! service). An App acts through installation tokens, which octocrab fetches
//! from `POST /app/installations/{id}/access_tokens` with a fresh RS256 JWT
//! and refreshes 30 s before they expire; when the installation is not
//! configured it is looked up per repository (`GET /repos/{o}/{r}/installation`
//! with the App's JWT) and remembered.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use octocrab::Octocrab;
use octocrab::service::middleware::retry::RetryConfig;
use tokio::sync::Mutex;

use super::error::GitHubError;
use super::request::{Request, Transport};
use super::types::{RepoRef, wire};
use crate::secret::Secret;

/// How the client authenticates. `Debug` never shows the secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitHubAuth {
    /// A personal access token (or any token GitHub takes as `Bearer`).
    Token(Secret),
    /// A GitHub App: its id and RSA private key (PEM); the installation to
    /// act as, or `None` to look it up for each repository.
    App {
        app_id: u64,
        private_key_pem: Secret,
        installation_id: Option<u64>,
    },
}

impl GitHubAuth {
    /// "token" or "app N", for logs and `Debug`.
    pub fn kind(&self) -> String {
        match self {
            GitHubAuth::Token(_) => "token".into(),
            GitHubAuth::App { app_id, .. } => format!("app {app_id}"),
        }
    }
}

/// The settings every octocrab instance is built with.
pub(crate) struct BuildOptions<'a> {
    pub base_url: &'a str,
    pub user_agent: &'a str,
    pub timeout: Duration,
}

/// The octocrab instances behind one client. Shared, never cloned: an
/// octocrab clone copies the installation token cache instead of sharing it.
pub(crate) enum Identity {
    Token(Arc<Octocrab>),
    App {
        /// Authenticates as the App itself (JWT): installation lookups.
        app: Arc<Octocrab>,
        /// The configured installation, if any.
        fixed: Option<Arc<Octocrab>>,
        /// Looked-up installations, by repository and by id.
        found: Mutex<Found>,
    },
}

#[derive(Default)]
pub(crate) struct Found {
    by_repo: HashMap<RepoRef, u64>,
    by_id: HashMap<u64, Arc<Octocrab>>,
}

impl Identity {
    pub fn new(auth: &GitHubAuth, opts: &BuildOptions<'_>) -> Result<Identity, GitHubError> {
        match auth {
            GitHubAuth::Token(token) => {
                Ok(Identity::Token(Arc::new(build(opts, Some(token), None)?)))
            }
            GitHubAuth::App {
                app_id,
                private_key_pem,
                installation_id,
            } => {
                let key = octocrab::EncodingKey::from_rsa_pem(private_key_pem.expose().as_bytes())
                    .map_err(|e| GitHubError::PrivateKey {
                        reason: format!("{:?}", e.kind()),
                    })?;
                let app = Arc::new(build(opts, None, Some((*app_id, key)))?);
                let fixed = match installation_id {
                    Some(id) => Some(installation(&app, *id)?),
                    None => None,
                };
                Ok(Identity::App {
                    app,
                    fixed,
                    found: Mutex::new(Found::default()),
                })
            }
        }
    }

    /// The instance to call `repo`'s endpoints with.
    pub async fn for_repo(
        &self,
        transport: &Transport,
        repo: &RepoRef,
    ) -> Result<Arc<Octocrab>, GitHubError> {
        match self {
            Identity::Token(crab) => Ok(crab.clone()),
            Identity::App {
                fixed: Some(crab), ..
            } => Ok(crab.clone()),
            Identity::App {
                app,
                fixed: None,
                found,
            } => {
                let mut found = found.lock().await;
                if let Some(crab) = found.by_repo.get(repo).and_then(|id| found.by_id.get(id)) {
                    return Ok(crab.clone());
                }
                let path = format!("/repos/{}/{}/installation", repo.owner, repo.name);
                let req = Request::get(path.clone());
                let inst: wire::Installation =
                    transport.send(app, &req).await?.json(req.verb, &path)?;
                tracing::debug!("github app installation {} serves {repo}", inst.id);
                let crab = match found.by_id.get(&inst.id) {
                    Some(crab) => crab.clone(),
                    None => installation(app, inst.id)?,
                };
                found.by_repo.insert(repo.clone(), inst.id);
                found.by_id.insert(inst.id, crab.clone());
                Ok(crab)
            }
        }
    }
}

impl Identity {
    /// The App's own instance (JWT), for the `/app/...` endpoints; `None`
    /// for a token.
    pub fn app(&self) -> Option<&Arc<Octocrab>> {
        match self {
            Identity::Token(_) => None,
            Identity::App { app, .. } => Some(app),
        }
    }

    /// The instance of installation `id` (cached), for the installation's
    /// own endpoints and its token; `None` for a token.
    pub async fn installation(&self, id: u64) -> Result<Option<Arc<Octocrab>>, GitHubError> {
        let Identity::App { app, found, .. } = self else {
            return Ok(None);
        };
        let mut found = found.lock().await;
        if let Some(crab) = found.by_id.get(&id) {
            return Ok(Some(crab.clone()));
        }
        let crab = installation(app, id)?;
        found.by_id.insert(id, crab.clone());
        Ok(Some(crab))
    }

    /// Remembers that installation `id` serves `repo`, so its calls need
    /// no lookup; `None` forgets it.
    pub async fn remember(&self, repo: &RepoRef, id: Option<u64>) {
        if let Identity::App { found, .. } = self {
            let mut found = found.lock().await;
            match id {
                Some(id) => found.by_repo.insert(repo.clone(), id),
                None => found.by_repo.remove(repo),
            };
        }
    }
}

fn installation(app: &Octocrab, id: u64) -> Result<Arc<Octocrab>, GitHubError> {
    app.installation(id.into())
        .map(Arc::new)
        .map_err(|e| GitHubError::Build {
            reason: format!("installation {id}: {}", first_line(&e.to_string())),
        })
}

fn build(
    opts: &BuildOptions<'_>,
    token: Option<&Secret>,
    app: Option<(u64, octocrab::EncodingKey)>,
) -> Result<Octocrab, GitHubError> {
    let url = opts.base_url.trim_end_matches('/');
    let bad = |reason: &str| GitHubError::BaseUrl {
        url: opts.base_url.into(),
        reason: reason.into(),
    };
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(bad("expected an http:// or https:// url"));
    }
    if axum::http::HeaderValue::from_str(opts.user_agent).is_err() {
        return Err(GitHubError::Build {
            reason: format!("invalid user agent {:?}", opts.user_agent),
        });
    }
    let mut builder = Octocrab::builder()
        .base_uri(url)
        .map_err(|_| bad("not a valid url"))?
        .add_retry_config(RetryConfig::None)
        .set_connect_timeout(Some(opts.timeout))
        .set_read_timeout(Some(opts.timeout))
        .set_write_timeout(Some(opts.timeout))
        .add_header(axum::http::header::USER_AGENT, opts.user_agent.to_string());
    if let Some(token) = token {
        builder = builder.personal_token(token.expose().to_string());
    }
    if let Some((app_id, key)) = app {
        builder = builder.app(app_id.into(), key);
    }
    builder.build().map_err(|e| GitHubError::Build {
        reason: first_line(&e.to_string()),
    })
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_string()
}
