//! Configuration: built-in defaults, then `swe-sleep.toml` (repository root
//! or `--config`), then `SWE_SLEEP_<SECTION>_<KEY>` environment variables.
//!
//! Defaults live in one place, the `Default` impls below (and in `config/llm.rs` for
//! the `[llm]` section, `config/daemon.rs` for `[daemon]`, `config/service.rs` for `[service]`). Unknown keys, in the file or in the environment, are
//! an error that names the key. Nested tables (`[llm.test]`, `[llm.sleep]`)
//! are read from the file only.

mod daemon;
mod embeddings;
mod learn;
mod llm;
mod service;

pub use daemon::DaemonSettings;
pub use embeddings::EmbeddingsConfig;
pub use learn::LearnConfig;
pub use llm::{LlmConfig, ModelConfig, Price, ProviderKind, ToolCallMode};
pub use service::ServiceConfig;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::secret::SecretSource;

/// Environment variables with the `SWE_SLEEP_` prefix that are not settings.
const RESERVED_ENV: &[&str] = &["SWE_SLEEP_LOG"];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config in {origin}: {message}")]
    Invalid { origin: String, message: String },
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub index: IndexConfig,
    pub history: HistoryConfig,
    pub agent: AgentConfig,
    pub github: GithubConfig,
    pub llm: LlmConfig,
    pub daemon: DaemonSettings,
    pub learn: LearnConfig,
    pub service: ServiceConfig,
    pub embeddings: EmbeddingsConfig,
}

/// What the notebook reads from a tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IndexConfig {
    /// Files larger than this are listed by path only, their content unread.
    pub max_file_bytes: u64,
    /// Vendored or generated trees, skipped entirely (glob syntax, matched
    /// against the path from the repository root).
    pub skip_globs: Vec<String>,
    /// Generated files and lock files: files of the snapshot (paths,
    /// history, co-change) whose content is never read, so they stay out
    /// of the code index, symbols and imports (glob syntax, as `skip_globs`).
    pub generated_globs: Vec<String>,
    /// Whether definitions, references and imports go into the snapshot
    /// (symbols, import edges, cards); `false` keeps text and paths only,
    /// to measure what structure adds.
    pub structure: bool,
    /// Worker threads for parsing; 0 means one per core.
    pub threads: usize,
    /// Notebooks kept for `predict --rev` besides the main one (each a
    /// state directory of its own under `revs/`; least recently used go).
    pub keep_revisions: usize,
    /// Blob versions the current snapshot does not use that the notebook
    /// keeps for later sleeps (another branch, an older commit); past it,
    /// those unused the longest are dropped.
    pub keep_unused_blobs: usize,
}

impl Default for IndexConfig {
    fn default() -> Self {
        IndexConfig {
            max_file_bytes: 1024 * 1024,
            skip_globs: [
                "vendor/**",
                "**/vendor/**",
                "third_party/**",
                "**/third_party/**",
                "node_modules/**",
                "**/node_modules/**",
                "**/*.min.js",
                "**/*.min.css",
                "**/*_pb2.py",
                "**/*.pb.go",
            ]
            .map(String::from)
            .to_vec(),
            generated_globs: [
                "dist/**",
                "**/dist/**",
                "**/*.min.js",
                "**/*.min.css",
                "**/*.map",
                "**/*.bundle.js",
                "**/*.generated.*",
                "**/*.g.cs",
                "**/*.designer.cs",
                "**/*.Designer.cs",
                "**/*.pb.h",
                "**/*.pb.cc",
                "**/package-lock.json",
                "**/npm-shrinkwrap.json",
                "**/yarn.lock",
                "**/pnpm-lock.yaml",
                "**/bun.lock",
                "**/Cargo.lock",
                "**/go.sum",
                "**/poetry.lock",
                "**/uv.lock",
                "**/Pipfile.lock",
                "**/Gemfile.lock",
                "**/composer.lock",
                "**/Podfile.lock",
                "**/Package.resolved",
                "**/gradle.lockfile",
                "**/packages.lock.json",
            ]
            .map(String::from)
            .to_vec(),
            structure: true,
            threads: 0,
            keep_revisions: 4,
            keep_unused_blobs: 20_000,
        }
    }
}

/// How history is mined.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HistoryConfig {
    /// Commits touching more files than this are left out of co-change:
    /// mass renames and reformatting say nothing about what goes together.
    pub max_commit_files: usize,
    /// Age at which a past change counts half as much as a fresh one.
    pub half_life_days: f64,
    /// Stop after this many first-parent commits (0: the whole history).
    pub max_commits: usize,
    /// Co-change partners kept per file in the notebook.
    pub cochange_neighbors: usize,
}

impl Default for HistoryConfig {
    fn default() -> Self {
        HistoryConfig {
            max_commit_files: 30,
            half_life_days: 365.0,
            max_commits: 0,
            cochange_neighbors: 24,
        }
    }
}

/// Test-time defaults for `predict`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentConfig {
    /// Test-time token budget of one run.
    pub budget: u64,
    /// Step cap of one run.
    pub steps: u32,
    /// Tokens a tool's answer may take when its caller sets no limit (an
    /// MCP client's `max_tokens`): a coding agent pays for what it reads.
    pub tool_tokens: u64,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            budget: 4000,
            steps: 12,
            tool_tokens: 2000,
        }
    }
}

/// The GitHub service: webhooks, the API client, comments, polling.
/// Secrets are never written here: each names an environment variable or a
/// file (`token = { env = "GITHUB_TOKEN" }`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GithubConfig {
    /// The repository served, `owner/name`; deliveries for another are
    /// ignored. Empty: any (and `--poll` refuses to start).
    pub repo: String,
    /// The REST API root (`https://HOST/api/v3` for GitHub Enterprise).
    pub api_url: String,
    /// A personal or fine-grained token, for local use.
    pub token: SecretSource,
    /// A GitHub App (for the service): its id, private key and, if known,
    /// the installation id (0: looked up from the repository).
    pub app_id: u64,
    pub app_key: SecretSource,
    pub installation_id: u64,
    /// The webhook secret; without it `POST /github/webhook` is not served.
    pub webhook_secret: SecretSource,
    /// Post (and update in place) one comment with the prediction.
    pub comments: bool,
    /// Issues trigger when opened with, or labelled with, this label;
    /// empty: every opened issue triggers.
    pub issue_label: String,
    /// The comment command, honoured only from users with write access.
    pub command: String,
    /// `--poll`: seconds between two polls of open pull requests and issues.
    pub poll_interval_secs: u64,
    /// Run `git fetch --prune origin` when the default branch moves (a
    /// `push` delivery, or each poll), so the notebook follows GitHub. Needs
    /// git on PATH and credentials for the remote (git's own).
    pub fetch: bool,
    /// Attempts per job before it is marked failed.
    pub max_attempts: u32,
    /// The least time between two writes to the API (comments), in
    /// milliseconds.
    pub min_write_interval_ms: u64,
}

impl Default for GithubConfig {
    fn default() -> Self {
        GithubConfig {
            repo: String::new(),
            api_url: "https://api.github.com".into(),
            token: SecretSource::default(),
            app_id: 0,
            app_key: SecretSource::default(),
            installation_id: 0,
            webhook_secret: SecretSource::default(),
            comments: false,
            issue_label: String::new(),
            command: "/swe-sleep predict".into(),
            poll_interval_secs: 60,
            fetch: false,
            max_attempts: 5,
            min_write_interval_ms: 1000,
        }
    }
}

impl Config {
    /// Loads defaults, then the file (if `explicit` is given it must exist;
    /// otherwise `<repo_root>/swe-sleep.toml` is read when present), then the
    /// process environment.
    pub fn load(explicit: Option<&Path>, repo_root: Option<&Path>) -> Result<Config, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        Self::load_from(explicit, repo_root, &env)
    }

    /// [`Config::load`] with the environment passed in (tests use this).
    pub fn load_from(
        explicit: Option<&Path>,
        repo_root: Option<&Path>,
        env: &[(String, String)],
    ) -> Result<Config, ConfigError> {
        let (text, origin) = match (explicit, repo_root) {
            (Some(p), _) => (read(p)?, p.display().to_string()),
            (None, Some(root)) if root.join("swe-sleep.toml").is_file() => {
                let p = root.join("swe-sleep.toml");
                (read(&p)?, p.display().to_string())
            }
            _ => (String::new(), "defaults".to_string()),
        };
        let mut table: toml::Table = toml::from_str(&text).map_err(|e| ConfigError::Invalid {
            origin: origin.clone(),
            message: e.to_string(),
        })?;
        refuse_secret_values(&table, &origin)?;
        let from_env = apply_env(&mut table, env)?;
        Config::deserialize(toml::Value::Table(table)).map_err(|e| ConfigError::Invalid {
            origin: match (from_env.is_empty(), text.is_empty()) {
                (true, _) => origin,
                (false, true) => format!("environment {}", from_env.join(", ")),
                (false, false) => format!("{origin} or environment {}", from_env.join(", ")),
            },
            message: e.to_string(),
        })
    }
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// A key whose default is a table (a [`SecretSource`]) must be a table in
/// the file too, and so must `api_key` in every `[llm.*]` model. Checked
/// before serde sees it, because serde's error would quote the value, and
/// the value is likely the secret itself.
fn refuse_secret_values(table: &toml::Table, origin: &str) -> Result<(), ConfigError> {
    let refuse = |path: String, key: &str| ConfigError::Invalid {
        origin: origin.to_string(),
        message: format!(
            "`{path}` says where a secret is read from, not the secret: write {key} = {{ env = \"VAR\" }} or {key} = {{ file = \"path\" }}"
        ),
    };
    let defaults = toml::Table::try_from(Config::default()).expect("defaults serialize");
    for (section, keys) in defaults
        .iter()
        .filter_map(|(s, v)| Some((s, v.as_table()?)))
    {
        let Some(given) = table.get(section).and_then(toml::Value::as_table) else {
            continue;
        };
        for (key, _) in keys.iter().filter(|(_, v)| v.is_table()) {
            if given.get(key).is_some_and(|v| !v.is_table()) {
                return Err(refuse(format!("{section}.{key}"), key));
            }
        }
    }
    // The models (`[llm.test]`, `[llm.sleep]`) are absent from the defaults.
    let models = table
        .get("llm")
        .and_then(toml::Value::as_table)
        .into_iter()
        .flatten()
        .filter_map(|(name, v)| Some((name, v.as_table()?)));
    for (model, keys) in models {
        if keys.get("api_key").is_some_and(|v| !v.is_table()) {
            return Err(refuse(format!("llm.{model}.api_key"), "api_key"));
        }
    }
    Ok(())
}

/// `SWE_SLEEP_INDEX_MAX_FILE_BYTES=5000` sets `index.max_file_bytes`. The
/// value is read as a TOML value (number, bool, array) or else as a string.
/// Returns the names of the variables applied.
fn apply_env(
    table: &mut toml::Table,
    env: &[(String, String)],
) -> Result<Vec<String>, ConfigError> {
    const SECTIONS: &[&str] = &[
        "index",
        "history",
        "agent",
        "github",
        "llm",
        "daemon",
        "learn",
        "service",
        "embeddings",
    ];
    let defaults = toml::Table::try_from(Config::default()).expect("defaults serialize");
    let mut applied = Vec::new();
    for (name, value) in env {
        let Some(rest) = name.strip_prefix("SWE_SLEEP_") else {
            continue;
        };
        if RESERVED_ENV.contains(&name.as_str()) {
            continue;
        }
        let lower = rest.to_lowercase();
        let Some((section, key)) = SECTIONS
            .iter()
            .find_map(|s| lower.strip_prefix(&format!("{s}_")).map(|k| (*s, k)))
        else {
            return Err(ConfigError::Invalid {
                origin: format!("environment variable {name}"),
                message: format!(
                    "unknown setting `{lower}` (expected SWE_SLEEP_<SECTION>_<KEY> with a section of {})",
                    SECTIONS.join(", ")
                ),
            });
        };
        // Only flat keys: nested tables (`llm.test`) are file-only.
        let known: Vec<&String> = defaults
            .get(section)
            .and_then(toml::Value::as_table)
            .map(|t| {
                t.iter()
                    .filter(|(_, v)| !v.is_table())
                    .map(|(k, _)| k)
                    .collect()
            })
            .unwrap_or_default();
        if !known.iter().any(|k| k.as_str() == key) {
            return Err(ConfigError::Invalid {
                origin: format!("environment variable {name}"),
                message: format!(
                    "unknown setting `{section}.{key}` (expected one of {})",
                    known
                        .iter()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        let is_secret_source = defaults
            .get(section)
            .and_then(|t| t.get(key))
            .is_some_and(toml::Value::is_table);
        if is_secret_source {
            // Never echo the value: it may well be the secret itself.
            return Err(ConfigError::Invalid {
                origin: format!("environment variable {name}"),
                message: format!(
                    "`{section}.{key}` says where a secret is read from, not the secret; set it in swe-sleep.toml as {{ env = \"VAR\" }} or {{ file = \"path\" }}"
                ),
            });
        }
        let parsed = toml::from_str::<toml::Table>(&format!("v = {value}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(value.clone()));
        let section_table = table
            .entry(section)
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let toml::Value::Table(section_table) = section_table else {
            return Err(ConfigError::Invalid {
                origin: format!("environment variable {name}"),
                message: format!("`{section}` is not a table in the config file"),
            });
        };
        section_table.insert(key.to_string(), parsed);
        applied.push(name.clone());
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_without_file() {
        let c = Config::load_from(None, None, &[]).expect("defaults load");
        assert_eq!(c, Config::default());
        assert_eq!(c.index.max_file_bytes, 1024 * 1024);
    }

    #[test]
    fn file_then_env() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("swe-sleep.toml"),
            "[index]\nmax_file_bytes = 10\n[history]\nhalf_life_days = 30.0\n",
        )
        .expect("write config");
        let c = Config::load_from(
            None,
            Some(dir.path()),
            &env(&[
                ("SWE_SLEEP_INDEX_MAX_FILE_BYTES", "20"),
                ("SWE_SLEEP_LOG", "debug"),
            ]),
        )
        .expect("config loads");
        assert_eq!(c.index.max_file_bytes, 20);
        assert_eq!(c.history.half_life_days, 30.0);
    }

    #[test]
    fn unknown_key_in_file_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "[index]\nmax_file_bites = 10\n").expect("write config");
        let err = Config::load_from(Some(&p), None, &[]).expect_err("unknown key");
        assert!(err.to_string().contains("max_file_bites"), "{err}");
    }

    #[test]
    fn unknown_env_is_named() {
        let err = Config::load_from(None, None, &env(&[("SWE_SLEEP_INDEX_SPEED", "1")]))
            .expect_err("unknown key");
        assert!(err.to_string().contains("speed"), "{err}");
        assert!(err.to_string().contains("SWE_SLEEP_INDEX_SPEED"), "{err}");
        assert!(!err.to_string().contains("defaults"), "{err}");
        let err = Config::load_from(None, None, &env(&[("SWE_SLEEP_BOGUS", "1")]))
            .expect_err("unknown section");
        assert!(err.to_string().contains("SWE_SLEEP_BOGUS"), "{err}");
    }

    #[test]
    fn wrong_type_is_an_error() {
        let err = Config::load_from(None, None, &env(&[("SWE_SLEEP_AGENT_BUDGET", "lots")]))
            .expect_err("bad type");
        assert!(err.to_string().contains("budget"), "{err}");
    }

    #[test]
    fn secrets_are_named_never_given() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("c.toml");
        std::fs::write(
            &p,
            "[github]\nrepo = \"o/r\"\ntoken = { env = \"GH_TOKEN\" }\nwebhook_secret = { file = \"/run/secret\" }\n",
        )
        .expect("write config");
        let c = Config::load_from(Some(&p), None, &[]).expect("loads");
        assert_eq!(c.github.token, SecretSource::from_env("GH_TOKEN"));
        assert_eq!(
            c.github.webhook_secret,
            SecretSource::from_file("/run/secret")
        );
        // A secret given as a value is refused without echoing it.
        std::fs::write(&p, "[github]\ntoken = \"ghp_abcdef\"\n").expect("write config");
        let err = Config::load_from(Some(&p), None, &[]).expect_err("a value");
        assert!(err.to_string().contains("github.token"), "{err}");
        assert!(!err.to_string().contains("ghp_abcdef"), "{err}");
        let err = Config::load_from(
            None,
            None,
            &env(&[("SWE_SLEEP_GITHUB_TOKEN", "ghp_abcdef")]),
        )
        .expect_err("a value in the environment");
        assert!(err.to_string().contains("github.token"), "{err}");
        assert!(!err.to_string().contains("ghp_abcdef"), "{err}");
    }

    #[test]
    fn the_daemon_token_is_a_secret_source() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("c.toml");
        std::fs::write(
            &p,
            "[daemon]\ntoken = { file = \"/run/t\" }\nallowed_hosts = [\"box.lan\"]\n",
        )
        .expect("write config");
        let c = Config::load_from(Some(&p), None, &[]).expect("loads");
        assert_eq!(c.daemon.token, SecretSource::from_file("/run/t"));
        assert_eq!(c.daemon.allowed_hosts, ["box.lan"]);
        std::fs::write(&p, "[daemon]\ntoken = \"hunter2-daemon\"\n").expect("write config");
        let err = Config::load_from(Some(&p), None, &[]).expect_err("a value");
        assert!(err.to_string().contains("daemon.token"), "{err}");
        assert!(!err.to_string().contains("hunter2-daemon"), "{err}");
        let err = Config::load_from(
            None,
            None,
            &env(&[("SWE_SLEEP_DAEMON_TOKEN", "hunter2-daemon")]),
        )
        .expect_err("a value in the environment");
        assert!(!err.to_string().contains("hunter2-daemon"), "{err}");
    }

    #[test]
    fn llm_models_from_the_file_and_flat_keys_from_the_environment() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("c.toml");
        std::fs::write(
            &p,
            "[llm]\ncards_per_sleep = 5\n[llm.test]\nprovider = \"anthropic\"\nmodel = \"claude-x\"\napi_key = { env = \"ANTHROPIC_API_KEY\" }\n[llm.test.price]\ninput = 3.0\n[llm.sleep]\nprovider = \"openai\"\nmodel = \"qwen\"\nbase_url = \"http://localhost:11434/\"\n[llm.sleep.extra]\noptions = { num_ctx = 8192 }\n",
        )
        .expect("write config");
        let c = Config::load_from(
            Some(&p),
            None,
            &env(&[("SWE_SLEEP_LLM_SLEEP_TOKENS_PER_HOUR", "99")]),
        )
        .expect("config loads");
        let test = c.llm.test.expect("test model");
        assert_eq!(test.provider, ProviderKind::Anthropic);
        assert_eq!(test.base_url(), "https://api.anthropic.com");
        assert_eq!(test.api_key.env.as_deref(), Some("ANTHROPIC_API_KEY"));
        assert_eq!(test.price.expect("price").input, 3.0);
        let sleep = c.llm.sleep.expect("sleep model");
        assert_eq!(sleep.base_url(), "http://localhost:11434");
        assert!(sleep.extra.contains_key("options"));
        assert_eq!(c.llm.cards_per_sleep, 5);
        assert_eq!(c.llm.sleep_tokens_per_hour, 99);
        std::fs::write(
            &p,
            "[llm.test]\nprovider = \"openai\"\nmodel = \"m\"\napi_key = \"sk-in-the-file\"\n",
        )
        .expect("write config");
        let err = Config::load_from(Some(&p), None, &[]).expect_err("a key in the text");
        assert!(err.to_string().contains("llm.test.api_key"), "{err}");
        assert!(!err.to_string().contains("sk-in-the-file"), "{err}");
        std::fs::write(
            &p,
            "[llm.sleep]\nprovider = \"openai\"\nmodel = \"m\"\napi_key = 12345678\n",
        )
        .expect("write config");
        let err = Config::load_from(Some(&p), None, &[]).expect_err("a number as the key");
        assert!(err.to_string().contains("llm.sleep.api_key"), "{err}");
        assert!(!err.to_string().contains("12345678"), "{err}");
        std::fs::write(
            &p,
            "[llm.test]\nprovider = \"openai\"\nmodel = \"m\"\ntemprature = 0\n",
        )
        .expect("write config");
        let err = Config::load_from(Some(&p), None, &[]).expect_err("unknown key");
        assert!(err.to_string().contains("temprature"), "{err}");
        let err = Config::load_from(None, None, &env(&[("SWE_SLEEP_LLM_TEST_MODEL", "x")]))
            .expect_err("nested keys are file-only");
        assert!(
            err.to_string().contains("SWE_SLEEP_LLM_TEST_MODEL"),
            "{err}"
        );
    }

    #[test]
    fn missing_explicit_file_is_an_error() {
        let err = Config::load_from(Some(Path::new("/nonexistent/x.toml")), None, &[])
            .expect_err("missing file");
        assert!(err.to_string().contains("/nonexistent/x.toml"), "{err}");
    }
}
