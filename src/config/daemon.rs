//! The `[daemon]` section: who may use the daemon's HTTP API.
//!
//! Without a token the daemon listens on loopback only and answers any
//! local process that names it correctly in `Host`. With a token (read from
//! an environment variable or a file, like every secret) every route but
//! `/healthz` and `/github/webhook` needs `Authorization: Bearer <token>`,
//! and `--listen` may name a non-loopback address.

use serde::{Deserialize, Serialize};

use crate::secret::SecretSource;

/// The `[daemon]` section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DaemonSettings {
    /// The API's access token: `{ env = "VAR" }` or `{ file = "path" }`.
    pub token: SecretSource,
    /// Host names (or `host:port`) accepted in the `Host` header besides the
    /// listen address and `localhost`, e.g. the machine's name when
    /// `--listen 0.0.0.0:7878`. A name without a port matches any port.
    pub allowed_hosts: Vec<String>,
}
