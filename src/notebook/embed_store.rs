//! Stored embeddings (`embedded_files`, `embedded_prs`): one vector per file version (blob id and path: the
//! text embedded names the path) and per past pull request (commit id),
//! each under the key of the model that made it (model files and token
//! cap, see `embed::Embedder::key`). Keyed by git object ids, never row
//! ids, like `llm_cards`: they outlive snapshots and garbage collection,
//! so a later sleep embeds only new blobs and PRs, and a replay notebook
//! copies what the main one already holds.
//!
//! The texts embedded are built here from the notebook's own facts
//! ([`file_text`], [`pr_text`]); what reads a vector back checks its
//! length and norm, and a damaged row counts as missing (the next sleep
//! embeds it again). The tables are created by the first sleep that
//! embeds; a notebook without them has no embeddings.

use std::collections::{HashMap, HashSet};

use rusqlite::{OptionalExtension, params};

use super::read::Notebook;
use super::store::{Store, StoreError};
use crate::parse::FileFacts;

/// Rowid tables: a vector (768 bytes) is too large a row for a
/// `WITHOUT ROWID` b-tree (helix's 6,000 vectors took 28 MB that way).
const DDL: &str = "
CREATE TABLE IF NOT EXISTS embedded_files (
    id INTEGER PRIMARY KEY,
    model TEXT NOT NULL,
    blob_oid TEXT NOT NULL,
    path TEXT NOT NULL,
    tokens INTEGER NOT NULL,       -- model tokens embedded (after the cap)
    vec BLOB NOT NULL,             -- little-endian f16, unit length
    UNIQUE (model, blob_oid, path)
);
CREATE TABLE IF NOT EXISTS embedded_prs (
    id INTEGER PRIMARY KEY,
    model TEXT NOT NULL,
    commit_oid TEXT NOT NULL,
    tokens INTEGER NOT NULL,
    vec BLOB NOT NULL,
    UNIQUE (model, commit_oid)
);";

/// Symbols and referenced names a file's text lists at most.
const MAX_NAMES: usize = 40;

/// A file of the snapshot to embed: its key and its text.
#[derive(Debug, Clone)]
pub struct FileText {
    pub path: String,
    pub blob_oid: String,
    pub text: String,
}

/// A past pull request of the snapshot to embed.
#[derive(Debug, Clone)]
pub struct PrText {
    pub commit_oid: String,
    pub text: String,
}

/// A stored vector to write.
#[derive(Debug, Clone)]
pub struct Vector {
    pub tokens: usize,
    pub vec: Vec<u8>,
}

/// A past pull request's vector with what the dense PR list needs.
#[derive(Debug, Clone)]
pub struct PrVector {
    pub commit: String,
    pub pr: Option<u64>,
    pub title: String,
    /// Files it added or modified that the snapshot still has.
    pub files: Vec<String>,
    pub vec: Vec<f32>,
}

/// A past PR's row with its vector: commit row id, commit id, number,
/// title, vector bytes.
type PrRow = (i64, String, Option<i64>, String, Vec<u8>);

/// How many vectors a notebook holds for a model, and for its snapshot.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct EmbeddingCounts {
    pub files: usize,
    pub prs: usize,
    pub snapshot_files: usize,
    pub snapshot_prs: usize,
}

/// The text a file is embedded as: its path (and the path's words), its
/// leading documentation, the names it defines and the names it uses.
/// Everything comes from the blob and the path, so the vector is keyed by
/// them.
pub fn file_text(path: &str, facts: Option<&FileFacts>) -> String {
    let words: Vec<String> = crate::text::split_identifier(path)
        .into_iter()
        .filter(|w| w.len() > 1)
        .collect();
    let mut out = format!("{path} ({})", words.join(" "));
    if let Some(f) = facts {
        if let Some(doc) = &f.doc {
            out.push_str(". ");
            out.push_str(doc.trim());
        }
        let mut seen = HashSet::new();
        let defs: Vec<&str> = f
            .defs
            .iter()
            .map(|d| d.name.as_str())
            .filter(|n| seen.insert(*n))
            .take(MAX_NAMES)
            .collect();
        if !defs.is_empty() {
            out.push_str(". defines ");
            out.push_str(&defs.join(", "));
        }
        let refs: Vec<&str> = f
            .refs
            .iter()
            .map(String::as_str)
            .filter(|n| seen.insert(*n))
            .take(MAX_NAMES / 2)
            .collect();
        if !refs.is_empty() {
            out.push_str(". uses ");
            out.push_str(&refs.join(", "));
        }
    }
    out
}

/// The text a past pull request is embedded as: its title and body.
pub fn pr_text(title: &str, body: &str) -> String {
    if body.trim().is_empty() {
        title.to_string()
    } else {
        format!("{title}\n\n{}", body.trim())
    }
}

impl Store {
    /// Creates the embedding tables when missing (a write: only the
    /// sleep-time embedding pass calls it).
    pub fn ensure_embeddings(&self) -> Result<(), StoreError> {
        self.conn.execute_batch(DDL).map_err(|e| self.err(e))
    }

    fn has_embeddings(&self) -> Result<bool, StoreError> {
        self.has_table("embedded_files")
    }

    /// The (blob id, path) keys with a sound vector for `model`.
    pub fn embedded_files(
        &self,
        model: &str,
        dim: usize,
    ) -> Result<HashSet<(String, String)>, StoreError> {
        if !self.has_embeddings()? {
            return Ok(HashSet::new());
        }
        let rows: Vec<(String, String, Vec<u8>)> = self
            .conn
            .prepare("SELECT blob_oid, path, vec FROM embedded_files WHERE model = ?1")
            .and_then(|mut s| {
                s.query_map(params![model], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect()
            })
            .map_err(|e| self.err(e))?;
        Ok(rows
            .into_iter()
            .filter(|(_, _, v)| crate::embed::from_bytes(v, dim).is_some())
            .map(|(b, p, _)| (b, p))
            .collect())
    }

    /// The commit ids with a sound vector for `model`.
    pub fn embedded_prs(&self, model: &str, dim: usize) -> Result<HashSet<String>, StoreError> {
        if !self.has_embeddings()? {
            return Ok(HashSet::new());
        }
        let rows: Vec<(String, Vec<u8>)> = self
            .conn
            .prepare("SELECT commit_oid, vec FROM embedded_prs WHERE model = ?1")
            .and_then(|mut s| {
                s.query_map(params![model], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect()
            })
            .map_err(|e| self.err(e))?;
        Ok(rows
            .into_iter()
            .filter(|(_, v)| crate::embed::from_bytes(v, dim).is_some())
            .map(|(c, _)| c)
            .collect())
    }

    /// Stored vectors of the given files, where sound (to copy into a
    /// replay notebook).
    pub fn file_vectors_for(
        &self,
        model: &str,
        dim: usize,
        keys: &[(String, String)],
    ) -> Result<HashMap<(String, String), Vector>, StoreError> {
        let mut out = HashMap::new();
        if !self.has_embeddings()? {
            return Ok(out);
        }
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT tokens, vec FROM embedded_files WHERE model = ?1 AND blob_oid = ?2 AND path = ?3",
            )
            .map_err(|e| self.err(e))?;
        for (blob, path) in keys {
            let row: Option<(i64, Vec<u8>)> = stmt
                .query_row(params![model, blob, path], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
                .map_err(|e| self.err(e))?;
            if let Some((tokens, vec)) = row
                && crate::embed::from_bytes(&vec, dim).is_some()
            {
                out.insert(
                    (blob.clone(), path.clone()),
                    Vector {
                        tokens: tokens.max(0) as usize,
                        vec,
                    },
                );
            }
        }
        Ok(out)
    }

    /// Stored vectors of the given pull requests, where sound.
    pub fn pr_vectors_for(
        &self,
        model: &str,
        dim: usize,
        commits: &[String],
    ) -> Result<HashMap<String, Vector>, StoreError> {
        let mut out = HashMap::new();
        if !self.has_embeddings()? {
            return Ok(out);
        }
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT tokens, vec FROM embedded_prs WHERE model = ?1 AND commit_oid = ?2",
            )
            .map_err(|e| self.err(e))?;
        for c in commits {
            let row: Option<(i64, Vec<u8>)> = stmt
                .query_row(params![model, c], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
                .map_err(|e| self.err(e))?;
            if let Some((tokens, vec)) = row
                && crate::embed::from_bytes(&vec, dim).is_some()
            {
                out.insert(
                    c.clone(),
                    Vector {
                        tokens: tokens.max(0) as usize,
                        vec,
                    },
                );
            }
        }
        Ok(out)
    }

    /// Writes file vectors in one transaction (replacing damaged rows).
    pub fn put_file_vectors(
        &mut self,
        model: &str,
        rows: &[((String, String), Vector)],
    ) -> Result<(), StoreError> {
        self.replace_all(
            "INSERT OR REPLACE INTO embedded_files (model, blob_oid, path, tokens, vec) VALUES (?1, ?2, ?3, ?4, ?5)",
            rows,
            |stmt, ((blob, path), v)| stmt.execute(params![model, blob, path, v.tokens as i64, v.vec]),
        )
    }

    /// Writes pull-request vectors in one transaction.
    pub fn put_pr_vectors(
        &mut self,
        model: &str,
        rows: &[(String, Vector)],
    ) -> Result<(), StoreError> {
        self.replace_all(
            "INSERT OR REPLACE INTO embedded_prs (model, commit_oid, tokens, vec) VALUES (?1, ?2, ?3, ?4)",
            rows,
            |stmt, (commit, v)| stmt.execute(params![model, commit, v.tokens as i64, v.vec]),
        )
    }

    /// Runs `insert` once per row, all in one transaction: every row is
    /// written, or none is.
    fn replace_all<T>(
        &mut self,
        insert: &str,
        rows: &[T],
        bind: impl Fn(&mut rusqlite::CachedStatement<'_>, &T) -> rusqlite::Result<usize>,
    ) -> Result<(), StoreError> {
        let path = self.path().to_path_buf();
        let sql = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(sql)?;
        {
            let mut stmt = tx.prepare_cached(insert).map_err(sql)?;
            for row in rows {
                bind(&mut stmt, row).map_err(sql)?;
            }
        }
        tx.commit().map_err(sql)
    }
}

/// The `meta` key counting embedding passes that wrote something: a
/// process that keeps a snapshot's vectors in memory reads them again
/// when it moves.
const GENERATION_KEY: &str = "embeddings_generation";

impl Store {
    /// Marks that vectors were written (after a pass that wrote some).
    pub fn bump_embeddings_generation(&self) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO meta (key, value) VALUES (?1, '1')
                 ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
                params![GENERATION_KEY],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }
}

impl Notebook {
    /// How many embedding passes wrote vectors into this notebook (0: none).
    pub fn embeddings_generation(&self) -> Result<u64, StoreError> {
        Ok(self
            .store()
            .meta(GENERATION_KEY)?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }

    /// The database file (identifies the notebook in caches).
    pub fn db_path(&self) -> &std::path::Path {
        self.store().path()
    }

    /// Every file of the snapshot whose content was read, with the text it
    /// is embedded as.
    pub fn embedding_file_texts(&self) -> Result<Vec<FileText>, StoreError> {
        let store = self.store();
        let rows: Vec<(String, String, Option<String>)> = store
            .conn
            .prepare(
                "SELECT f.path, b.oid, b.facts FROM snap_files f JOIN blobs b ON b.id = f.blob
                 WHERE f.status = 'parsed' ORDER BY f.path",
            )
            .and_then(|mut s| {
                s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect()
            })
            .map_err(|e| store.err(e))?;
        Ok(rows
            .into_iter()
            .map(|(path, blob_oid, facts)| {
                let facts: Option<FileFacts> = facts.and_then(|f| serde_json::from_str(&f).ok());
                FileText {
                    text: file_text(&path, facts.as_ref()),
                    path,
                    blob_oid,
                }
            })
            .collect())
    }

    /// The snapshot's past pull requests (numbered, 1 to `max_files`
    /// files), newest first, with the text each is embedded as.
    pub fn embedding_pr_texts(&self, max_files: usize) -> Result<Vec<PrText>, StoreError> {
        let store = self.store();
        let rows: Vec<(String, String, String)> = store
            .conn
            .prepare(
                "SELECT c.oid, c.title, c.body FROM snap_commits s JOIN commits c ON c.id = s.commit_id
                 WHERE c.pr IS NOT NULL AND c.file_count BETWEEN 1 AND ?1 ORDER BY s.ord",
            )
            .and_then(|mut s| {
                s.query_map(params![max_files as i64], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect()
            })
            .map_err(|e| store.err(e))?;
        Ok(rows
            .into_iter()
            .map(|(commit_oid, title, body)| PrText {
                commit_oid,
                text: pr_text(&title, &body),
            })
            .collect())
    }

    /// The snapshot's files with a sound vector for `model`.
    pub fn file_vectors(
        &self,
        model: &str,
        dim: usize,
    ) -> Result<Vec<(String, Vec<f32>)>, StoreError> {
        let store = self.store();
        if !store.has_embeddings()? {
            return Ok(Vec::new());
        }
        let rows: Vec<(String, Vec<u8>)> = store
            .conn
            .prepare_cached(
                "SELECT f.path, e.vec FROM snap_files f JOIN blobs b ON b.id = f.blob
                 JOIN embedded_files e ON e.model = ?1 AND e.blob_oid = b.oid AND e.path = f.path
                 ORDER BY f.path",
            )
            .and_then(|mut s| {
                s.query_map(params![model], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect()
            })
            .map_err(|e| store.err(e))?;
        Ok(rows
            .into_iter()
            .filter_map(|(p, v)| crate::embed::from_bytes(&v, dim).map(|v| (p, v)))
            .collect())
    }

    /// The snapshot's past pull requests with a sound vector for `model`
    /// (1 to `max_files` files each), with the files of the snapshot each
    /// added or modified.
    pub fn pr_vectors(
        &self,
        model: &str,
        dim: usize,
        max_files: usize,
    ) -> Result<Vec<PrVector>, StoreError> {
        let store = self.store();
        if !store.has_embeddings()? {
            return Ok(Vec::new());
        }
        let rows: Vec<PrRow> = store
            .conn
            .prepare_cached(
                "SELECT c.id, c.oid, c.pr, c.title, e.vec FROM snap_commits s JOIN commits c ON c.id = s.commit_id
                 JOIN embedded_prs e ON e.model = ?1 AND e.commit_oid = c.oid
                 WHERE c.file_count BETWEEN 1 AND ?2 ORDER BY s.ord",
            )
            .and_then(|mut s| {
                s.query_map(params![model, max_files as i64], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })?
                .collect()
            })
            .map_err(|e| store.err(e))?;
        let mut files_of = store
            .conn
            .prepare_cached("SELECT path FROM commit_files WHERE commit_id = ?1 AND status != 'D'")
            .map_err(|e| store.err(e))?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, commit, pr, title, vec) in rows {
            let Some(vec) = crate::embed::from_bytes(&vec, dim) else {
                continue;
            };
            let files: Vec<String> = files_of
                .query_map(params![id], |r| r.get(0))
                .and_then(|rows| rows.collect::<rusqlite::Result<Vec<String>>>())
                .map_err(|e| store.err(e))?
                .into_iter()
                .filter(|p| self.file(p).is_some())
                .collect();
            out.push(PrVector {
                commit,
                pr: pr.map(|n| n.max(0) as u64),
                title,
                files,
                vec,
            });
        }
        Ok(out)
    }

    /// What the notebook holds for `model`: vectors in all, and for the
    /// snapshot.
    pub fn embedding_counts(
        &self,
        model: &str,
        dim: usize,
        max_files: usize,
    ) -> Result<EmbeddingCounts, StoreError> {
        let store = self.store();
        Ok(EmbeddingCounts {
            files: store.embedded_files(model, dim)?.len(),
            prs: store.embedded_prs(model, dim)?.len(),
            snapshot_files: self.file_vectors(model, dim)?.len(),
            snapshot_prs: self.pr_vectors(model, dim, max_files)?.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_text_names_the_path_its_docs_and_its_symbols() {
        let facts = crate::parse::parse(
            "src/ui/picker.rs",
            "//! The fuzzy file picker.\npub fn open_picker() {}\nfn score_match() { open_picker(); }\n",
        );
        let t = file_text("src/ui/picker.rs", Some(&facts));
        assert!(t.starts_with("src/ui/picker.rs (src ui picker rs)"), "{t}");
        assert!(t.contains("The fuzzy file picker."), "{t}");
        assert!(t.contains("defines open_picker, score_match"), "{t}");
        assert_eq!(file_text("a/b.txt", None), "a/b.txt (txt)");
        assert_eq!(pr_text("Add a thing", "  "), "Add a thing");
        assert_eq!(
            pr_text("Add a thing", "Because.\n"),
            "Add a thing\n\nBecause."
        );
    }
}
