//! The `[service]` section: `swe-sleep serve`, one process for every
//! repository a GitHub App's installations grant.

use serde::{Deserialize, Serialize};

use crate::secret::SecretSource;

/// The `[service]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceConfig {
    /// Where the service keeps its queue and, per repository, a bare mirror
    /// and a notebook (`repos/<owner>/<name>/`). Empty: `--state-dir`.
    pub state_dir: String,
    /// The HTTP address (loopback unless `[daemon] token` is set).
    pub listen: String,
    /// Sleeps (fetch, index, learn) running at once across every
    /// repository: the service's CPU and disk budget.
    pub concurrency: usize,
    /// Each repository is fetched and slept again after this many seconds
    /// without a push (a push to its default branch makes it due at once).
    pub refresh_secs: u64,
    /// The first wait after a repository failed to fetch or sleep; doubled
    /// per failure in a row.
    pub backoff_base_secs: u64,
    /// The longest such wait.
    pub backoff_max_secs: u64,
    /// How long one `git fetch` may take.
    pub fetch_timeout_secs: u64,
    /// PostgreSQL for deliveries, jobs, results and repository leases,
    /// shared by any number of `serve` processes: `{ env = "DATABASE_URL" }`
    /// or `{ file = "PATH" }` (a connection string may hold a password).
    /// Unset: SQLite in the state directory, one process.
    pub database: SecretSource,
    /// A PEM file of certificate authorities trusted for TLS to the
    /// database, beside the system's (a private CA, a cloud provider's).
    /// TLS itself follows the connection string's `sslmode`. Empty: the
    /// system's roots only.
    pub database_ca: String,
    /// A process that has not renewed its leases for this long is taken
    /// for dead and its repositories move to the others; renewed every
    /// third of it.
    pub lease_secs: u64,
    /// Finished deliveries and stored results (one per pull request or
    /// issue) older than this many days are deleted, at start and hourly,
    /// on SQLite and PostgreSQL alike; 0 keeps them forever. The cost
    /// ledger is kept.
    pub retention_days: u64,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            state_dir: String::new(),
            listen: "127.0.0.1:7979".into(),
            concurrency: 1,
            refresh_secs: 900,
            backoff_base_secs: 30,
            backoff_max_secs: 3600,
            fetch_timeout_secs: 600,
            database: SecretSource::default(),
            database_ca: String::new(),
            lease_secs: 30,
            retention_days: 30,
        }
    }
}
