//! The notebook's one SQLite database: schema, opening, and the small helpers
//! every writer shares.
//!
//! Tables fall in three groups:
//! - blob-keyed (`blobs`, `blob_terms`): derived from file content, keyed by
//!   the blob id, kept across snapshots so unchanged files are never re-read;
//! - commit-keyed (`commits`, `commit_files`, `commit_terms`): derived from
//!   history, keyed by commit id, likewise kept;
//! - the current snapshot (`snap_*`, `cards`, `meta`): rewritten in a single
//!   transaction at the end of a sleep, so readers see either the old
//!   notebook or the new one, never a mix;
//! - model-written and model-spent (`llm_cards` keyed by blob id and model,
//!   `llm_digests` keyed by a content hash and model, `llm_anticipated`
//!   keyed by snapshot, `llm_ledger`, the cost ledger): written by
//!   `crate::llm`, kept across snapshots.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};

/// Bump when the schema or the meaning of stored data changes; an older
/// notebook is then rebuilt from scratch (everything in it is derived).
pub const SCHEMA_VERSION: i64 = 3;

pub const DB_FILE: &str = "notebook.sqlite";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("notebook database {path}: {source}")]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("cannot create state directory {path}: {source}")]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("corrupt notebook data in {path}: {message}")]
    Corrupt { path: PathBuf, message: String },
    #[error("cannot set the damaged notebook {path} aside: {source}")]
    SetAside {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl StoreError {
    /// Whether the database file itself is damaged (not a database, or a
    /// malformed one): the cure is to set it aside and rebuild.
    pub fn is_damage(&self) -> bool {
        match self {
            StoreError::Sqlite { source, .. } => matches!(
                source.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
            ),
            StoreError::Corrupt { .. } => true,
            _ => false,
        }
    }
}

/// Moves a damaged notebook database (and its WAL and shared-memory files)
/// aside as `notebook.sqlite.damaged-<unix seconds>`, so the next open
/// starts a new one; returns where it went. Everything in it is derived
/// from the repository and can be rebuilt; the damaged file is kept for
/// inspection.
pub fn set_aside(state_dir: &Path) -> Result<PathBuf, StoreError> {
    let path = state_dir.join(DB_FILE);
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let aside = state_dir.join(format!("{DB_FILE}.damaged-{stamp}"));
    std::fs::rename(&path, &aside).map_err(|source| StoreError::SetAside {
        path: path.clone(),
        source,
    })?;
    for suffix in ["-wal", "-shm"] {
        let side = state_dir.join(format!("{DB_FILE}{suffix}"));
        if side.exists() {
            let _ = std::fs::rename(
                &side,
                state_dir.join(format!("{DB_FILE}.damaged-{stamp}{suffix}")),
            );
        }
    }
    tracing::warn!(
        "the notebook database {} was damaged; it was set aside as {} and a new one is built (everything in it is derived from the repository)",
        path.display(),
        aside.display()
    );
    Ok(aside)
}

/// An open notebook database.
pub struct Store {
    pub(crate) conn: Connection,
    path: PathBuf,
    healed: Option<PathBuf>,
}

/// The table of model-written digests of pull requests (paper setting),
/// keyed by a content hash of the filled prompt and the model. Added after
/// schema 2 was released, so it is created on first use
/// ([`Store::ensure_llm_digests`]) rather than by rebuilding notebooks.
const LLM_DIGESTS_DDL: &str = "CREATE TABLE IF NOT EXISTS llm_digests (
    key TEXT NOT NULL,
    model TEXT NOT NULL,
    template_hash TEXT NOT NULL,
    text TEXT NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (key, model)
) WITHOUT ROWID;";

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blobs (
    id INTEGER PRIMARY KEY,
    oid TEXT NOT NULL UNIQUE,
    lang TEXT,
    size INTEGER NOT NULL,
    status TEXT NOT NULL,          -- parsed | binary | too_large | unreadable
    facts TEXT,                    -- JSON FileFacts (parsed only)
    terms INTEGER NOT NULL DEFAULT 0,  -- number of index terms (document length)
    tokens INTEGER NOT NULL DEFAULT 0  -- cl100k tokens of the content
);
CREATE TABLE IF NOT EXISTS terms (id INTEGER PRIMARY KEY, term TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS blob_terms (
    term INTEGER NOT NULL, blob INTEGER NOT NULL, tf INTEGER NOT NULL,
    PRIMARY KEY (term, blob)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS commits (
    id INTEGER PRIMARY KEY,
    oid TEXT NOT NULL UNIQUE,
    parent TEXT,
    truncated INTEGER NOT NULL DEFAULT 0,
    time INTEGER NOT NULL,
    kind TEXT NOT NULL,
    pr INTEGER,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    file_count INTEGER NOT NULL,
    terms INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS commit_files (
    commit_id INTEGER NOT NULL, path TEXT NOT NULL, status TEXT NOT NULL,
    PRIMARY KEY (commit_id, path)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS commit_terms (
    term INTEGER NOT NULL, commit_id INTEGER NOT NULL, tf INTEGER NOT NULL,
    PRIMARY KEY (term, commit_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS snap_files (
    path TEXT PRIMARY KEY,
    blob INTEGER,                  -- NULL for symlinks
    status TEXT NOT NULL,          -- parsed | binary | too_large | symlink | unreadable | missing | generated
    lang TEXT,
    size INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS snap_files_blob ON snap_files (blob);
CREATE TABLE IF NOT EXISTS snap_commits (ord INTEGER PRIMARY KEY, commit_id INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS snap_commits_commit ON snap_commits (commit_id);
CREATE TABLE IF NOT EXISTS snap_imports (src TEXT NOT NULL, dst TEXT NOT NULL, PRIMARY KEY (src, dst)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS snap_imports_dst ON snap_imports (dst);
CREATE TABLE IF NOT EXISTS snap_symbols (name TEXT NOT NULL, path TEXT NOT NULL, kind TEXT NOT NULL, line INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS snap_symbols_path ON snap_symbols (path);
CREATE INDEX IF NOT EXISTS snap_symbols_name ON snap_symbols (name COLLATE NOCASE);
CREATE TABLE IF NOT EXISTS snap_cochange (
    a TEXT NOT NULL, b TEXT NOT NULL, weight REAL NOT NULL, count INTEGER NOT NULL,
    PRIMARY KEY (a, b)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS snap_filestats (
    path TEXT PRIMARY KEY,
    changes INTEGER NOT NULL,
    decayed REAL NOT NULL,
    last_time INTEGER NOT NULL,
    prs TEXT NOT NULL              -- JSON [[number, title], ...], newest first
);
CREATE TABLE IF NOT EXISTS cards (
    path TEXT NOT NULL,
    source TEXT NOT NULL,          -- "offline", or "llm:<model>" later
    version INTEGER NOT NULL,
    blob INTEGER,
    text TEXT NOT NULL,
    PRIMARY KEY (path, source)
);
CREATE TABLE IF NOT EXISTS llm_cards (
    blob_oid TEXT NOT NULL,
    model TEXT NOT NULL,
    template_hash TEXT NOT NULL,
    text TEXT NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (blob_oid, model)
) WITHOUT ROWID;
-- llm_digests: see LLM_DIGESTS_DDL (created on first use, no rebuild needed)
CREATE TABLE IF NOT EXISTS llm_anticipated (
    commit_oid TEXT NOT NULL,      -- the snapshot key: commit:<id> | worktree:<hash>
    request TEXT NOT NULL,
    files TEXT NOT NULL,           -- JSON [path, ...], best first
    model TEXT NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (commit_oid, request)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS llm_ledger (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,           -- unix seconds
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    purpose TEXT NOT NULL,         -- predict | rerank | card | digest | anticipate
    template TEXT NOT NULL,
    template_hash TEXT NOT NULL,
    input INTEGER NOT NULL,
    output INTEGER NOT NULL,
    cache_read INTEGER NOT NULL,
    cache_write INTEGER NOT NULL,
    latency_ms INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    ok INTEGER NOT NULL,
    cost REAL                      -- dollars, when prices are configured
);
CREATE INDEX IF NOT EXISTS llm_ledger_at ON llm_ledger (at);
"#;

/// Tables of the current snapshot, cleared and rewritten together.
pub const SNAPSHOT_TABLES: &[&str] = &[
    "snap_files",
    "snap_commits",
    "snap_imports",
    "snap_symbols",
    "snap_cochange",
    "snap_filestats",
];

impl Store {
    /// Opens (creating if needed) the notebook in `state_dir` for writing.
    /// A damaged database (not a database, malformed, or failing SQLite's
    /// `quick_check`) is set aside ([`set_aside`]) and a new one created;
    /// [`Store::healed`] then says where the old one went.
    pub fn open_healing(state_dir: &Path) -> Result<Store, StoreError> {
        let damaged = match Store::open(state_dir) {
            Ok(store) => match store.quick_check() {
                Ok(()) => return Ok(store),
                Err(e) if e.is_damage() => e,
                Err(e) => return Err(e),
            },
            Err(e) if e.is_damage() => e,
            Err(e) => return Err(e),
        };
        tracing::warn!("{damaged}");
        let aside = set_aside(state_dir)?;
        let mut store = Store::open(state_dir)?;
        store.healed = Some(aside);
        Ok(store)
    }

    /// Where a damaged database was set aside when this store was opened.
    pub fn healed(&self) -> Option<&Path> {
        self.healed.as_deref()
    }

    /// SQLite's `quick_check`: a damaged page is [`StoreError::Corrupt`].
    pub fn quick_check(&self) -> Result<(), StoreError> {
        let result: String = self
            .conn
            .query_row("PRAGMA quick_check(1)", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        if result == "ok" {
            Ok(())
        } else {
            Err(StoreError::Corrupt {
                path: self.path.clone(),
                message: format!("quick_check: {result}"),
            })
        }
    }

    /// Opens (creating if needed) the notebook in `state_dir`.
    pub fn open(state_dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(state_dir).map_err(|source| StoreError::Dir {
            path: state_dir.to_path_buf(),
            source,
        })?;
        let path = state_dir.join(DB_FILE);
        let conn = Connection::open(&path).map_err(|source| StoreError::Sqlite {
            path: path.clone(),
            source,
        })?;
        let mut store = Store {
            conn,
            path,
            healed: None,
        };
        store.init()?;
        Ok(store)
    }

    /// Opens an existing notebook read-only; `None` when there is none.
    pub fn open_existing(state_dir: &Path) -> Result<Option<Store>, StoreError> {
        let path = state_dir.join(DB_FILE);
        if !path.is_file() {
            return Ok(None);
        }
        Store::open(state_dir).map(Some)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    fn init(&mut self) -> Result<(), StoreError> {
        let conn = &self.conn;
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .and_then(|_| conn.pragma_update(None, "journal_mode", "WAL"))
            .and_then(|_| conn.pragma_update(None, "synchronous", "NORMAL"))
            .and_then(|_| conn.pragma_update(None, "wal_autocheckpoint", 20_000))
            .and_then(|_| conn.pragma_update(None, "foreign_keys", "OFF"))
            .map_err(|e| self.err(e))?;
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| self.err(e))?;
        if version == SCHEMA_VERSION {
            // Nothing to write: a reader must not wait for the write lock
            // that a running sleep holds.
            return Ok(());
        }
        if version != 0 {
            tracing::info!(
                old = version,
                new = SCHEMA_VERSION,
                "notebook schema changed; rebuilding it"
            );
            let tables: Vec<String> = {
                let mut stmt = conn
                    .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
                    .map_err(|e| self.err(e))?;
                stmt.query_map([], |r| r.get(0))
                    .and_then(|rows| rows.collect())
                    .map_err(|e| self.err(e))?
            };
            for t in tables {
                conn.execute_batch(&format!("DROP TABLE IF EXISTS \"{t}\""))
                    .map_err(|e| self.err(e))?;
            }
        }
        conn.execute_batch(SCHEMA).map_err(|e| self.err(e))?;
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Creates `llm_digests` when this notebook predates it (a write: only
    /// the sleep-time digest writer calls it).
    pub fn ensure_llm_digests(&self) -> Result<(), StoreError> {
        self.conn
            .execute_batch(LLM_DIGESTS_DDL)
            .map_err(|e| self.err(e))
    }

    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", params![key], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Number of rows in `table` (one of our own table names).
    pub fn count(&self, table: &str) -> Result<i64, StoreError> {
        self.conn
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .map_err(|e| self.err(e))
    }
}

/// Interns terms: returns the id of each, inserting new ones.
pub(crate) struct TermCache {
    ids: rustc_hash::FxHashMap<String, i64>,
    /// True when `ids` holds every stored term; otherwise misses are
    /// looked up in the table before inserting.
    complete: bool,
}

impl TermCache {
    /// Loads every term when a lot of work is coming (a cold sleep), or
    /// starts empty and looks terms up as needed (a small incremental one).
    pub fn for_work(conn: &Connection, items: usize) -> rusqlite::Result<TermCache> {
        if items >= 300 {
            return TermCache::load(conn);
        }
        Ok(TermCache {
            ids: Default::default(),
            complete: false,
        })
    }

    pub fn load(conn: &Connection) -> rusqlite::Result<TermCache> {
        let mut stmt = conn.prepare("SELECT id, term FROM terms")?;
        let ids = stmt
            .query_map([], |r| Ok((r.get::<_, String>(1)?, r.get::<_, i64>(0)?)))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(TermCache {
            ids,
            complete: true,
        })
    }

    pub fn id(&mut self, conn: &Connection, term: &str) -> rusqlite::Result<i64> {
        if let Some(id) = self.ids.get(term) {
            return Ok(*id);
        }
        if !self.complete
            && let Some(id) = conn
                .prepare_cached("SELECT id FROM terms WHERE term = ?1")?
                .query_row(params![term], |r| r.get::<_, i64>(0))
                .optional()?
        {
            self.ids.insert(term.to_string(), id);
            return Ok(id);
        }
        conn.prepare_cached("INSERT INTO terms (term) VALUES (?1)")?
            .execute(params![term])?;
        let id = conn.last_insert_rowid();
        self.ids.insert(term.to_string(), id);
        Ok(id)
    }
}
