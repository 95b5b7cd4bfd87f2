//! Who may use the API, checked before any route runs ([`guard`]):
//!
//! 1. `Host` must be one the daemon answers to ([`AllowedHosts`]): 403;
//! 2. with an access token, every route but `/healthz` needs
//!    `Authorization: Bearer <token>`, or the token as the password of
//!    HTTP Basic authentication (any user name: how a browser opens the
//!    page, [`super::page`]), compared in constant time: 401;
//! 3. a `POST` body must be `Content-Type: application/json`, so a web
//!    page cannot send one without a CORS preflight: 415;
//! 4. the body is read under a size cap and a deadline ([`super::body`]).
//!
//! `/github/webhook` is left to its own gate ([`super::webhook_gate`]):
//! GitHub signs every delivery, and a reverse proxy in front of the daemon
//! forwards the public host name.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::secret::Secret;

use super::hosts::AllowedHosts;
use super::refusal::Refusal;

/// The webhook's path, which this guard leaves alone.
pub const WEBHOOK_PATH: &str = "/github/webhook";

/// The one route open without the token.
const OPEN_PATH: &str = "/healthz";

/// The page a browser opens.
const PAGE_PATH: &str = "/";

/// The access rules of one daemon.
#[derive(Debug)]
pub struct Access {
    token: Option<Secret>,
    hosts: AllowedHosts,
    body_limit: usize,
    body_timeout: Duration,
}

impl Access {
    pub fn new(
        token: Option<Secret>,
        hosts: AllowedHosts,
        body_limit: usize,
        body_timeout: Duration,
    ) -> Access {
        Access {
            token,
            hosts,
            body_limit,
            body_timeout,
        }
    }

    /// Steps 1 to 3 of the module's list.
    fn check(&self, req: &Request) -> Result<(), Refusal> {
        let headers = req.headers();
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .or_else(|| req.uri().authority().map(|a| a.as_str()))
            .unwrap_or("");
        if !self.hosts.allows(host) {
            return Err(Refusal::new(
                StatusCode::FORBIDDEN,
                "host",
                format!(
                    "the Host header {host:?} is not one this daemon answers to ({}; more in daemon.allowed_hosts)",
                    self.hosts.describe()
                ),
            ));
        }
        if let Some(token) = &self.token
            && req.uri().path() != OPEN_PATH
            && !token_matches(headers, token)
        {
            // The page asks a browser for the token (its password prompt);
            // API clients are told to send it as a bearer token.
            let challenge = if req.uri().path() == PAGE_PATH {
                "Basic realm=\"swe-sleep daemon: the password is the token of daemon.token\", charset=\"UTF-8\""
            } else {
                "Bearer"
            };
            return Err(Refusal::new(
                StatusCode::UNAUTHORIZED,
                "token",
                "this daemon needs `Authorization: Bearer <token>` with the token of daemon.token (a browser: the token as the password)",
            )
            .with_header(header::WWW_AUTHENTICATE, challenge));
        }
        if req.method() == Method::POST && !is_json(headers) {
            return Err(Refusal::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "content_type",
                "a POST body must be sent as Content-Type: application/json",
            ));
        }
        Ok(())
    }
}

/// The layer: refuses, or reads the body and passes the request on.
pub async fn guard(State(access): State<Arc<Access>>, req: Request, next: Next) -> Response {
    if req.uri().path() == WEBHOOK_PATH {
        return next.run(req).await;
    }
    if let Err(refusal) = access.check(&req) {
        return refusal.into_response();
    }
    let req = if req.method() == Method::POST {
        match super::body::buffer(req, access.body_limit, access.body_timeout).await {
            Ok(req) => req,
            Err(refusal) => return refusal.into_response(),
        }
    } else {
        req
    };
    next.run(req).await
}

/// Whether the request carries the token: `Authorization: Bearer <token>`,
/// or `Basic` with the token as the password. Both sides are hashed first,
/// so the comparison takes the same time whatever the lengths, and is
/// constant-time over the digests.
fn token_matches(headers: &HeaderMap, token: &Secret) -> bool {
    let Some((scheme, rest)) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
    else {
        return false;
    };
    let given = if scheme.eq_ignore_ascii_case("bearer") {
        rest.trim().to_string()
    } else if scheme.eq_ignore_ascii_case("basic") {
        let Some(password) = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|pair| pair.split_once(':').map(|(_, p)| p.to_string()))
        else {
            return false;
        };
        password
    } else {
        return false;
    };
    let a = Sha256::digest(given.as_bytes());
    let b = Sha256::digest(token.expose().as_bytes());
    let diff = a
        .iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// `application/json`, with or without parameters (`; charset=utf-8`).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn bearer_and_content_type() {
        let token = Secret::new("s3cret-token");
        let mut h = HeaderMap::new();
        assert!(!token_matches(&h, &token));
        for (value, ok) in [
            ("Bearer s3cret-token", true),
            ("bearer   s3cret-token ", true),
            ("Bearer s3cret-toke", false),
            ("Bearer s3cret-token2", false),
            ("Basic s3cret-token", false),
            ("s3cret-token", false),
            // user:s3cret-token and user:wrong, as a browser sends them
            ("Basic dXNlcjpzM2NyZXQtdG9rZW4=", true),
            ("basic dXNlcjpzM2NyZXQtdG9rZW4=", true),
            ("Basic dXNlcjp3cm9uZw==", false),
            ("Basic not-base64!", false),
        ] {
            h.insert(header::AUTHORIZATION, HeaderValue::from_static(value));
            assert_eq!(token_matches(&h, &token), ok, "{value}");
        }
        for (value, ok) in [
            ("application/json", true),
            ("Application/JSON; charset=utf-8", true),
            ("text/plain", false),
            ("application/x-www-form-urlencoded", false),
            ("application/jsonp", false),
        ] {
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(value));
            assert_eq!(is_json(&h), ok, "{value}");
        }
    }
}
