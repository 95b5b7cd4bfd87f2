//! GitHub's error text is stored (a job's last error) and logged, and it is
//! not ours: an API, a proxy or a misconfigured Enterprise server may echo
//! what it was sent. Before any of it is kept, [`Redactor`] replaces the
//! secrets the client holds (its token, the lines of its App key) and
//! anything shaped like a credential: GitHub tokens (`ghp_`, `gho_`, `ghu_`,
//! `ghs_`, `ghr_`, `github_pat_`), JSON web tokens, the word after `Bearer`
//! or `token`, and PEM private keys.

use super::error::GitHubError;

/// What a secret is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Known values shorter than this are not looked for (they would match
/// ordinary words); the shapes still are.
const MIN_KNOWN_LEN: usize = 8;

/// Removes secrets from text.
#[derive(Clone, Default)]
pub struct Redactor {
    /// Known secret values, longest first.
    known: Vec<String>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field("known", &self.known.len())
            .finish()
    }
}

impl Redactor {
    /// A redactor for these values (a token, a PEM key: each of its lines
    /// counts on its own) as well as the shapes.
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Redactor {
        let mut known: Vec<String> = secrets
            .into_iter()
            .flat_map(|s| std::iter::once(s.trim()).chain(s.lines().map(str::trim)))
            .filter(|s| s.len() >= MIN_KNOWN_LEN && !s.starts_with("-----"))
            .map(str::to_string)
            .collect();
        known.sort_by_key(|s| std::cmp::Reverse(s.len()));
        known.dedup();
        Redactor { known }
    }

    /// `text` without secrets.
    pub fn redact(&self, text: &str) -> String {
        let mut out = strip_pem(text);
        for secret in &self.known {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), REDACTED);
            }
        }
        redact_shapes(&out)
    }

    /// The error with every text GitHub (or the network) supplied redacted.
    pub fn error(&self, e: GitHubError) -> GitHubError {
        match e {
            GitHubError::Status {
                method,
                path,
                status,
                message,
            } => GitHubError::Status {
                method,
                path,
                status,
                message: self.redact(&message),
            },
            GitHubError::Exhausted {
                method,
                path,
                attempts,
                last,
            } => GitHubError::Exhausted {
                method,
                path,
                attempts,
                last: self.redact(&last),
            },
            GitHubError::Request {
                method,
                path,
                message,
            } => GitHubError::Request {
                method,
                path,
                message: self.redact(&message),
            },
            GitHubError::Build { reason } => GitHubError::Build {
                reason: self.redact(&reason),
            },
            other => other,
        }
    }
}

/// Replaces `-----BEGIN ...-----` to the matching `-----END ...-----` (or
/// the end of the text).
fn strip_pem(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        out.push_str(&rest[..start]);
        out.push_str(REDACTED);
        let after = &rest[start + 11..];
        rest = match after.find("-----END ") {
            Some(end) => {
                let tail = &after[end + 9..];
                // Past the END line's closing dashes.
                match tail.find("-----") {
                    Some(close) => &tail[close + 5..],
                    None => "",
                }
            }
            None => "",
        };
    }
    out.push_str(rest);
    out
}

/// Characters a credential is made of.
fn is_cred_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '+' | '/' | '=')
}

/// Replaces credential-shaped words.
fn redact_shapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut after_scheme = false;
    let mut rest = text;
    while !rest.is_empty() {
        let start = rest.find(is_cred_char).unwrap_or(rest.len());
        let gap = &rest[..start];
        out.push_str(gap);
        rest = &rest[start..];
        if rest.is_empty() {
            break;
        }
        let end = rest.find(|c: char| !is_cred_char(c)).unwrap_or(rest.len());
        let word = &rest[..end];
        rest = &rest[end..];
        // The word after `Bearer ` / `token ` (one space or tab between).
        let scheme_follows = after_scheme && !gap.is_empty() && gap.trim().is_empty();
        if (scheme_follows && word.len() >= MIN_KNOWN_LEN) || looks_like_credential(word) {
            out.push_str(REDACTED);
        } else {
            out.push_str(word);
        }
        after_scheme = word.eq_ignore_ascii_case("bearer") || word.eq_ignore_ascii_case("token");
    }
    out
}

/// A GitHub token or a JSON web token.
fn looks_like_credential(word: &str) -> bool {
    let body_after = |prefix: &str| {
        word.strip_prefix(prefix).is_some_and(|b| {
            b.len() >= 16 && b.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
    };
    if ["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"]
        .iter()
        .any(|p| body_after(p))
    {
        return true;
    }
    let parts: Vec<&str> = word.split('.').collect();
    parts.len() == 3 && parts[0].starts_with("eyJ") && parts[1].len() >= 4
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values_and_shapes_are_replaced() {
        let r = Redactor::new(["my-private-token-value", "short"]);
        let text = "Bad credentials for my-private-token-value; also ghs_16charactersormore0001 \
                    and github_pat_11ABCDEFG0123456789_abcdefghijkl, \
                    eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOjEyMzQ1fQ.c2lnbmF0dXJl, \
                    Authorization: Bearer abcdefgh12345678 and token 0123456789abcdef; short stays";
        let out = r.redact(text);
        for secret in [
            "my-private-token-value",
            "ghs_16charactersormore0001",
            "github_pat_11ABCDEFG",
            "eyJhbGciOiJSUzI1NiJ9",
            "abcdefgh12345678",
            "0123456789abcdef",
        ] {
            assert!(!out.contains(secret), "{secret} in {out}");
        }
        assert!(out.contains("Bad credentials for [redacted]"), "{out}");
        assert!(out.contains("short stays"), "{out}");
        assert!(out.contains("Authorization: Bearer [redacted]"), "{out}");
    }

    #[test]
    fn ordinary_text_is_left_alone() {
        let r = Redactor::default();
        for text in [
            "Must have admin rights to Repository.",
            "API rate limit exceeded for user ID 1.",
            "error sending request for url (http://127.0.0.1:1/repos/o/r/pulls?state=open&per_page=100)",
            "Not Found",
            "the token is invalid",
        ] {
            assert_eq!(r.redact(text), text);
        }
    }

    #[test]
    fn pem_keys_are_replaced_whole_and_by_line() {
        let key = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAsecretline0001\nQWERTYUIOPsecretline0002\n-----END RSA PRIVATE KEY-----\n";
        let r = Redactor::new([key]);
        let out = r.redact(&format!(
            "before {key} after; echoed QWERTYUIOPsecretline0002"
        ));
        assert!(!out.contains("secretline"), "{out}");
        assert!(out.starts_with("before [redacted]"), "{out}");
        assert!(out.contains("after"), "{out}");
    }
}
