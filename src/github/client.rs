//! [`GitHubClient`]: the few GitHub REST calls swe-sleep makes (the
//! prediction comment, a commenter's permission, open pulls and issues for
//! `--poll`), through octocrab and the rules of the `request` module.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::Mutex;

use super::auth::{BuildOptions, GitHubAuth, Identity};
use super::error::GitHubError;
use super::redact::Redactor;
use super::request::{Policy, Request, Transport, Verb};
use super::types::{CommentRef, Conditional, IssueSummary, Permission, PullSummary, RepoRef, wire};

/// How the client talks to GitHub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOptions {
    /// `https://api.github.com`; GitHub Enterprise: `https://HOST/api/v3`.
    pub base_url: String,
    /// The least time between two writes (POST, PATCH, PUT, DELETE).
    pub min_write_interval: Duration,
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// The longest single wait for a rate limit or a backoff; a rate limit
    /// that needs longer is an error naming when it resets.
    pub max_wait: Duration,
    pub user_agent: String,
    /// The first backoff after a 5xx or connection error; doubles each time.
    pub retry_base: Duration,
    /// Connect and read timeout of one attempt.
    pub timeout: Duration,
    /// The most pages (of 100) one listing reads.
    pub max_pages: u32,
}

impl Default for ClientOptions {
    fn default() -> ClientOptions {
        ClientOptions {
            base_url: "https://api.github.com".into(),
            min_write_interval: Duration::from_secs(1),
            max_attempts: 4,
            max_wait: Duration::from_secs(60),
            user_agent: format!("swe-sleep/{}", env!("CARGO_PKG_VERSION")),
            retry_base: Duration::from_millis(500),
            timeout: Duration::from_secs(30),
            max_pages: 10,
        }
    }
}

impl ClientOptions {
    /// The defaults against another base URL (GitHub Enterprise, tests).
    pub fn with_base_url(base_url: impl Into<String>) -> ClientOptions {
        ClientOptions {
            base_url: base_url.into(),
            ..ClientOptions::default()
        }
    }
}

/// A GitHub REST client. Cheap to clone; clones share the write pacing,
/// the installation tokens and the comment lock.
#[derive(Clone)]
pub struct GitHubClient {
    inner: Arc<Inner>,
}

struct Inner {
    identity: Identity,
    transport: Transport,
    auth_kind: String,
    base_url: String,
    max_pages: u32,
    max_attempts: u32,
    /// Held through a whole upsert, so two upserts never both post.
    upserts: Mutex<()>,
}

impl std::fmt::Debug for GitHubClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHubClient")
            .field("base_url", &self.inner.base_url)
            .field("auth", &self.inner.auth_kind)
            .finish_non_exhaustive()
    }
}

impl GitHubClient {
    /// Builds the client. Must be called inside a tokio runtime (octocrab
    /// spawns its request buffer there); outside one it is an error.
    pub fn new(auth: GitHubAuth, opts: ClientOptions) -> Result<GitHubClient, GitHubError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(GitHubError::Build {
                reason: "the github client must be created inside a tokio runtime".into(),
            });
        }
        let identity = Identity::new(
            &auth,
            &BuildOptions {
                base_url: &opts.base_url,
                user_agent: &opts.user_agent,
                timeout: opts.timeout,
            },
        )?;
        let held = match &auth {
            GitHubAuth::Token(token) => token.expose(),
            GitHubAuth::App {
                private_key_pem, ..
            } => private_key_pem.expose(),
        };
        let transport = Transport::new(Policy {
            min_write_interval: opts.min_write_interval,
            max_attempts: opts.max_attempts.max(1),
            max_wait: opts.max_wait,
            retry_base: opts.retry_base,
        })
        .with_redactor(Redactor::new([held]));
        Ok(GitHubClient {
            inner: Arc::new(Inner {
                identity,
                transport,
                auth_kind: auth.kind(),
                base_url: opts.base_url.trim_end_matches('/').to_string(),
                max_pages: opts.max_pages.max(1),
                max_attempts: opts.max_attempts.max(1),
                upserts: Mutex::new(()),
            }),
        })
    }

    /// A client with a token against api.github.com.
    pub fn with_token(token: crate::secret::Secret) -> Result<GitHubClient, GitHubError> {
        GitHubClient::new(GitHubAuth::Token(token), ClientOptions::default())
    }

    /// What the installation endpoints need: the identity, the transport
    /// and the page cap.
    pub(super) fn parts(&self) -> (&Identity, &Transport, u32) {
        (
            &self.inner.identity,
            &self.inner.transport,
            self.inner.max_pages,
        )
    }

    async fn send(
        &self,
        repo: &RepoRef,
        req: &Request<'_>,
    ) -> Result<super::request::Response, GitHubError> {
        let crab = self
            .inner
            .identity
            .for_repo(&self.inner.transport, repo)
            .await?;
        self.inner.transport.send(&crab, req).await
    }

    /// Creates or updates the one swe-sleep comment on an issue or pull
    /// request. With `known_id`, PATCHes that comment (if it is gone, falls
    /// back to searching). Otherwise updates the first comment whose body
    /// contains `marker` (an HTML comment such as
    /// `<!-- swe-sleep:prediction -->`), and only when there is none POSTs a
    /// new one. The marker is prepended to `body` when missing, so the
    /// comment is found next time. A POST that fails without an answer may
    /// have landed, so it is retried only after searching again: never a
    /// duplicate from this client.
    pub async fn upsert_comment(
        &self,
        repo: &RepoRef,
        number: u64,
        known_id: Option<u64>,
        marker: &str,
        body: &str,
    ) -> Result<CommentRef, GitHubError> {
        let _one_at_a_time = self.inner.upserts.lock().await;
        let body = if body.contains(marker) {
            body.to_string()
        } else {
            format!("{marker}\n{body}")
        };
        let payload = json!({ "body": body });
        if let Some(id) = known_id {
            match self.patch_comment(repo, id, &payload).await {
                Ok(comment) => return Ok(comment),
                Err(e) if e.is_not_found() => {
                    tracing::info!(
                        "{repo}#{number}: comment {id} is gone; searching for the marker"
                    );
                }
                Err(e) => return Err(e),
            }
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            if let Some(id) = self.find_comment(repo, number, marker).await? {
                return self.patch_comment(repo, id, &payload).await;
            }
            let path = format!(
                "/repos/{}/{}/issues/{number}/comments",
                repo.owner, repo.name
            );
            let mut req = Request::write(Verb::Post, path.clone(), &payload);
            req.retry_errors = false;
            match self.send(repo, &req).await {
                Ok(response) => {
                    let c: wire::Comment = response.json(Verb::Post, &path)?;
                    return Ok(CommentRef {
                        id: c.id,
                        html_url: c.html_url,
                        created: true,
                    });
                }
                Err(GitHubError::Exhausted { last, .. }) if attempt < self.inner.max_attempts => {
                    tracing::warn!("POST {path}: {last}; searching again before another attempt");
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn patch_comment(
        &self,
        repo: &RepoRef,
        id: u64,
        payload: &serde_json::Value,
    ) -> Result<CommentRef, GitHubError> {
        let path = format!("/repos/{}/{}/issues/comments/{id}", repo.owner, repo.name);
        let req = Request::write(Verb::Patch, path.clone(), payload);
        let c: wire::Comment = self.send(repo, &req).await?.json(Verb::Patch, &path)?;
        Ok(CommentRef {
            id: c.id,
            html_url: c.html_url,
            created: false,
        })
    }

    /// The id of the first comment on the issue whose body holds `marker`.
    async fn find_comment(
        &self,
        repo: &RepoRef,
        number: u64,
        marker: &str,
    ) -> Result<Option<u64>, GitHubError> {
        let mut path = format!(
            "/repos/{}/{}/issues/{number}/comments?per_page=100",
            repo.owner, repo.name
        );
        for _ in 0..self.inner.max_pages {
            let response = self.send(repo, &Request::get(path.clone())).await?;
            let comments: Vec<wire::Comment> = response.json(Verb::Get, &path)?;
            if let Some(c) = comments
                .iter()
                .find(|c| c.body.as_deref().is_some_and(|b| b.contains(marker)))
            {
                return Ok(Some(c.id));
            }
            match response.next {
                Some(next) => path = next,
                None => break,
            }
        }
        Ok(None)
    }

    /// A user's role on the repository (`GET
    /// /repos/{o}/{r}/collaborators/{user}/permission`); 404 (not a
    /// collaborator, or no such user) is [`Permission::None`].
    pub async fn permission(&self, repo: &RepoRef, user: &str) -> Result<Permission, GitHubError> {
        let path = format!(
            "/repos/{}/{}/collaborators/{}/permission",
            repo.owner,
            repo.name,
            path_segment(user)
        );
        match self.send(repo, &Request::get(path.clone())).await {
            Ok(response) => {
                let p: wire::CollaboratorPermission = response.json(Verb::Get, &path)?;
                Ok(Permission::from_wire(p.role_name.as_deref(), &p.permission))
            }
            Err(e) if e.is_not_found() => Ok(Permission::None),
            Err(e) => Err(e),
        }
    }

    /// Open pull requests, most recently updated first. With `etag` (from
    /// the last `Fresh`), a 304 is [`Conditional::NotModified`]. The ETag
    /// covers the first page; later pages are read when it changed.
    pub async fn open_pulls(
        &self,
        repo: &RepoRef,
        etag: Option<&str>,
    ) -> Result<Conditional<Vec<PullSummary>>, GitHubError> {
        let path = format!(
            "/repos/{}/{}/pulls?state=open&sort=updated&direction=desc&per_page=100",
            repo.owner, repo.name
        );
        let pages = self.list::<wire::Pull>(repo, path, etag).await?;
        Ok(pages.map(|pulls| pulls.into_iter().map(PullSummary::from).collect()))
    }

    /// Open issues, most recently updated first, without the entries that
    /// are pull requests; conditional like [`GitHubClient::open_pulls`].
    pub async fn open_issues(
        &self,
        repo: &RepoRef,
        etag: Option<&str>,
    ) -> Result<Conditional<Vec<IssueSummary>>, GitHubError> {
        let path = format!(
            "/repos/{}/{}/issues?state=open&sort=updated&direction=desc&per_page=100",
            repo.owner, repo.name
        );
        let pages = self.list::<wire::Issue>(repo, path, etag).await?;
        Ok(pages.map(|issues| {
            issues
                .into_iter()
                .filter_map(wire::Issue::into_summary)
                .collect()
        }))
    }

    /// A listing: the first page conditional on `etag`, then up to
    /// `max_pages` pages through the `Link` header.
    async fn list<T: serde::de::DeserializeOwned>(
        &self,
        repo: &RepoRef,
        first: String,
        etag: Option<&str>,
    ) -> Result<Conditional<Vec<T>>, GitHubError> {
        let mut req = Request::get(first.clone());
        req.etag = etag;
        let response = self.send(repo, &req).await?;
        if response.status == 304 {
            return Ok(Conditional::NotModified);
        }
        let new_etag = response.etag.clone();
        let mut items: Vec<T> = response.json(Verb::Get, &first)?;
        let mut next = response.next;
        let mut pages = 1;
        while let Some(path) = next.take() {
            if pages >= self.inner.max_pages {
                tracing::warn!("{repo}: listing stopped after {pages} pages");
                break;
            }
            let response = self.send(repo, &Request::get(path.clone())).await?;
            items.extend(response.json::<Vec<T>>(Verb::Get, &path)?);
            next = response.next;
            pages += 1;
        }
        Ok(Conditional::Fresh {
            value: items,
            etag: new_etag,
        })
    }
}

impl<T> Conditional<T> {
    /// Maps the fresh value.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Conditional<U> {
        match self {
            Conditional::NotModified => Conditional::NotModified,
            Conditional::Fresh { value, etag } => Conditional::Fresh {
                value: f(value),
                etag,
            },
        }
    }
}

/// Percent-encodes what a login may hold beyond `[A-Za-z0-9-_.]`
/// (`dependabot[bot]`).
fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_are_encoded() {
        assert_eq!(path_segment("dependabot[bot]"), "dependabot%5Bbot%5D");
        assert_eq!(path_segment("octo-cat"), "octo-cat");
    }

    #[test]
    fn outside_a_runtime_is_an_error_not_a_panic() {
        let err =
            GitHubClient::with_token(crate::secret::Secret::new("t")).expect_err("no runtime");
        assert!(err.to_string().contains("tokio runtime"), "{err}");
    }

    #[tokio::test]
    async fn debug_shows_no_secret() {
        let client = GitHubClient::new(
            GitHubAuth::Token(crate::secret::Secret::new("ghp_verysecret")),
            ClientOptions::default(),
        )
        .expect("builds");
        let text = format!("{client:?}");
        assert!(!text.contains("verysecret"), "{text}");
        assert!(text.contains("token"), "{text}");
    }
}
