//! Secrets (API keys, GitHub tokens, private keys, webhook secrets): read
//! from an environment variable or a file that the configuration names,
//! never from the configuration text itself, and never printed.
//!
//! [`Secret`] has no `Display`, and its `Debug` prints `Secret(<redacted>)`,
//! so a secret cannot reach a log line, an error message or `status` output
//! by accident; [`Secret::expose`] is the one way to read it, at the point of
//! use. A secret file readable by group or others gets a warning.
//!
//! Depends on nothing else in the crate.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A secret value. Its `Debug` is redacted and it has no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Where a secret comes from, as configured: the name of an environment
/// variable, or a file. Configuration holds these, never the value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecretSource {
    /// Read the secret from this environment variable.
    pub env: Option<String>,
    /// Read the secret from this file (surrounding whitespace trimmed).
    pub file: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("{what}: the environment variable {var} is not set")]
    MissingEnv { what: String, var: String },
    #[error("{what}: the environment variable {var} is empty")]
    EmptyEnv { what: String, var: String },
    #[error("{what}: cannot read the secret file {}: {source}", path.display())]
    File {
        what: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{what}: the secret file {} is empty", path.display())]
    EmptyFile { what: String, path: PathBuf },
    #[error("{what}: set either `env` or `file`, not both")]
    Both { what: String },
}

impl SecretSource {
    pub fn from_env(var: &str) -> SecretSource {
        SecretSource {
            env: Some(var.to_string()),
            file: None,
        }
    }

    pub fn from_file(path: impl Into<PathBuf>) -> SecretSource {
        SecretSource {
            env: None,
            file: Some(path.into()),
        }
    }

    pub fn is_set(&self) -> bool {
        self.env.is_some() || self.file.is_some()
    }

    /// Reads the secret; `what` names it in errors ("github.token"). Returns
    /// `Ok(None)` when no source is configured.
    pub fn load(&self, what: &str) -> Result<Option<Secret>, SecretError> {
        self.load_with(what, |var| std::env::var(var).ok())
    }

    /// [`SecretSource::load`] with the environment passed in (tests use this).
    pub fn load_with(
        &self,
        what: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Secret>, SecretError> {
        match (&self.env, &self.file) {
            (Some(_), Some(_)) => Err(SecretError::Both { what: what.into() }),
            (Some(var), None) => match env(var) {
                None => Err(SecretError::MissingEnv {
                    what: what.into(),
                    var: var.clone(),
                }),
                Some(v) if v.trim().is_empty() => Err(SecretError::EmptyEnv {
                    what: what.into(),
                    var: var.clone(),
                }),
                Some(v) => Ok(Some(Secret(v.trim().to_string()))),
            },
            (None, Some(path)) => read_file(what, path).map(Some),
            (None, None) => Ok(None),
        }
    }
}

fn read_file(what: &str, path: &Path) -> Result<Secret, SecretError> {
    let err = |source| SecretError::File {
        what: what.into(),
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(err)?;
    if readable_by_others(&meta) {
        tracing::warn!(
            "{what}: the secret file {} can be read by other users; run chmod 600 on it",
            path.display()
        );
    }
    let text = std::fs::read_to_string(path).map_err(err)?;
    let value = text.trim();
    if value.is_empty() {
        return Err(SecretError::EmptyFile {
            what: what.into(),
            path: path.to_path_buf(),
        });
    }
    Ok(Secret(value.to_string()))
}

#[cfg(unix)]
fn readable_by_others(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o077 != 0
}

#[cfg(not(unix))]
fn readable_by_others(_meta: &std::fs::Metadata) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn env_source() {
        let src = SecretSource::from_env("TOKEN_X");
        let got = src
            .load_with("github.token", |v| {
                (v == "TOKEN_X").then(|| " abc \n".into())
            })
            .expect("loads");
        assert_eq!(got.expect("set").expose(), "abc");
        let err = src.load_with("github.token", |_| None).expect_err("unset");
        assert!(err.to_string().contains("TOKEN_X"), "{err}");
        assert!(err.to_string().contains("github.token"), "{err}");
        let err = src
            .load_with("github.token", |_| Some("  ".into()))
            .expect_err("empty");
        assert!(err.to_string().contains("empty"), "{err}");
    }

    #[test]
    fn file_source_and_errors_never_hold_the_value() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("secret");
        std::fs::write(&p, "s3cr3t-value\n").expect("write");
        let got = SecretSource::from_file(&p)
            .load("webhook secret")
            .expect("loads")
            .expect("set");
        assert_eq!(got.expose(), "s3cr3t-value");
        std::fs::write(&p, "\n").expect("write");
        let err = SecretSource::from_file(&p)
            .load("webhook secret")
            .expect_err("empty file");
        assert!(err.to_string().contains("empty"), "{err}");
        let missing = dir.path().join("nope");
        let err = SecretSource::from_file(&missing)
            .load("webhook secret")
            .expect_err("missing");
        assert!(err.to_string().contains("nope"), "{err}");
    }

    #[test]
    fn none_and_both() {
        assert!(
            SecretSource::default()
                .load("x")
                .expect("no source")
                .is_none()
        );
        let both = SecretSource {
            env: Some("A".into()),
            file: Some("b".into()),
        };
        assert!(both.load("x").is_err());
    }
}
