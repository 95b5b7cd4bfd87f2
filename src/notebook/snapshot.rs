//! Writes the current snapshot: the files of the revision, import edges,
//! the symbol index, history per file, co-change, cards and `meta`, all in
//! one transaction so that readers see the old notebook or the new one.

use std::collections::{HashMap, HashSet};

use rusqlite::params;

use crate::config::HistoryConfig;
use crate::parse::{FileFacts, Manifests, ModuleMap};

use super::card::{self, CardInput, OFFLINE_CARD_VERSION};
use super::derive::{self, FileHistory};
use super::history::ChainCommit;
use super::store::{SNAPSHOT_TABLES, Store, StoreError};

/// One file of the snapshot with what the blob store knows of it.
pub struct SnapFile {
    pub path: String,
    pub blob: Option<i64>,
    pub status: String,
    pub lang: String,
    pub size: u64,
    pub facts: Option<FileFacts>,
}

/// Counts of what the snapshot holds.
#[derive(Debug, Default, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct SnapCounts {
    pub files: usize,
    pub parsed: usize,
    pub symbols: usize,
    pub import_edges: usize,
    pub cochange_edges: usize,
    pub commits: usize,
    pub prs: usize,
}

/// Status, language and (for parsed blobs) facts of one blob.
pub type BlobFacts = (String, String, Option<FileFacts>);

/// Loads status, language and facts of the blobs `ids`.
pub fn load_blob_facts(
    store: &Store,
    ids: &HashSet<i64>,
) -> Result<HashMap<i64, BlobFacts>, StoreError> {
    let mut out = HashMap::with_capacity(ids.len());
    let mut stmt = store
        .conn
        .prepare_cached("SELECT status, lang, facts FROM blobs WHERE id = ?1")
        .map_err(|e| store.err(e))?;
    for id in ids {
        let row: (String, Option<String>, Option<String>) = stmt
            .query_row(params![id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(|e| store.err(e))?;
        let facts =
            match row.2 {
                Some(json) => Some(serde_json::from_str::<FileFacts>(&json).map_err(|e| {
                    StoreError::Corrupt {
                        path: store.path().to_path_buf(),
                        message: format!("facts of blob {id}: {e}"),
                    }
                })?),
                None => None,
            };
        out.insert(*id, (row.0, row.1.unwrap_or_default(), facts));
    }
    Ok(out)
}

/// Replaces the snapshot with `files` and `chain`, and writes `meta`.
pub fn write(
    store: &mut Store,
    files: &[SnapFile],
    manifests: &Manifests,
    chain: &[ChainCommit],
    history_cfg: &HistoryConfig,
    meta: &[(&str, String)],
) -> Result<SnapCounts, StoreError> {
    let t = std::time::Instant::now();
    let paths: Vec<String> = files.iter().map(|f| f.path.clone()).collect();
    let path_set: HashSet<&str> = paths.iter().map(String::as_str).collect();
    let modules = ModuleMap::new(&paths, manifests);
    let mut imports: HashMap<&str, Vec<String>> = HashMap::new();
    let mut imported_by: HashMap<String, Vec<&str>> = HashMap::new();
    for f in files {
        if let Some(facts) = &f.facts {
            let targets = modules.resolve(&f.path, &facts.imports);
            for t in &targets {
                imported_by.entry(t.clone()).or_default().push(&f.path);
            }
            imports.insert(&f.path, targets);
        }
    }
    tracing::debug!(secs = t.elapsed().as_secs_f64(), "imports resolved");
    let (stats, cochange) = derive::derive(chain, &path_set, history_cfg);
    tracing::debug!(secs = t.elapsed().as_secs_f64(), "history derived");
    let mut partners: HashMap<&str, Vec<(&str, u32)>> = HashMap::new();
    for e in &cochange {
        partners.entry(&e.a).or_default().push((&e.b, e.count));
    }
    let mut counts = SnapCounts {
        files: files.len(),
        commits: chain.len(),
        ..Default::default()
    };
    counts.prs = chain.iter().filter(|c| c.pr.is_some()).count();
    counts.cochange_edges = cochange.len();

    let conn = &store.conn;
    let tx = conn.unchecked_transaction().map_err(|e| store.err(e))?;
    let mut run = || -> rusqlite::Result<()> {
        let old_blobs: HashSet<i64> = tx
            .prepare("SELECT blob FROM snap_files WHERE blob IS NOT NULL")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let new_blobs: HashSet<i64> = files.iter().filter_map(|f| f.blob).collect();
        let generation: i64 = tx
            .query_row(
                "SELECT coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'generation'), 0)",
                [],
                |r| r.get(0),
            )?;
        super::gc::note_switch(&tx, &old_blobs, &new_blobs, generation + 1)?;
        for t in SNAPSHOT_TABLES {
            tx.execute(&format!("DELETE FROM {t}"), [])?;
        }
        tx.execute("DELETE FROM cards WHERE source = 'offline'", [])?;
        let mut ins_file = tx.prepare(
            "INSERT INTO snap_files (path, blob, status, lang, size) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        let mut ins_sym = tx
            .prepare("INSERT INTO snap_symbols (name, path, kind, line) VALUES (?1, ?2, ?3, ?4)")?;
        let mut ins_imp =
            tx.prepare("INSERT OR IGNORE INTO snap_imports (src, dst) VALUES (?1, ?2)")?;
        let mut ins_card = tx.prepare("INSERT INTO cards (path, source, version, blob, text) VALUES (?1, 'offline', ?2, ?3, ?4)")?;
        let no_history = FileHistory::default();
        for f in files {
            ins_file.execute(params![f.path, f.blob, f.status, f.lang, f.size as i64])?;
            if let Some(facts) = &f.facts {
                counts.parsed += 1;
                for d in &facts.defs {
                    ins_sym.execute(params![
                        d.name,
                        f.path,
                        format!("{:?}", d.kind).to_lowercase(),
                        d.line
                    ])?;
                    counts.symbols += 1;
                }
            }
            let imps: Vec<&str> = imports
                .get(f.path.as_str())
                .map(|v| v.iter().map(String::as_str).collect())
                .unwrap_or_default();
            for dst in &imps {
                ins_imp.execute(params![f.path, dst])?;
                counts.import_edges += 1;
            }
            let by: Vec<&str> = imported_by.get(&f.path).cloned().unwrap_or_default();
            let with: Vec<(&str, u32)> = partners.get(f.path.as_str()).cloned().unwrap_or_default();
            let hist = stats.get(&f.path);
            let text = card::render(&CardInput {
                path: &f.path,
                lang: &f.lang,
                status: &f.status,
                facts: f.facts.as_ref(),
                imports: &imps,
                imported_by: &by,
                changes_with: &with,
                history: hist.filter(|h| **h != no_history),
            });
            ins_card.execute(params![f.path, OFFLINE_CARD_VERSION, f.blob, text])?;
        }
        let mut ins_commit =
            tx.prepare("INSERT INTO snap_commits (ord, commit_id) VALUES (?1, ?2)")?;
        for (i, c) in chain.iter().enumerate() {
            ins_commit.execute(params![i as i64, c.id])?;
        }
        let mut ins_co =
            tx.prepare("INSERT INTO snap_cochange (a, b, weight, count) VALUES (?1, ?2, ?3, ?4)")?;
        for e in &cochange {
            ins_co.execute(params![e.a, e.b, e.weight, e.count])?;
        }
        let mut ins_stat = tx.prepare("INSERT INTO snap_filestats (path, changes, decayed, last_time, prs) VALUES (?1, ?2, ?3, ?4, ?5)")?;
        for (path, s) in &stats {
            let prs = serde_json::to_string(&s.prs).expect("pr list serializes");
            ins_stat.execute(params![path, s.changes, s.decayed, s.last_time, prs])?;
        }
        let mut ins_meta =
            tx.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)")?;
        for (k, v) in meta {
            ins_meta.execute(params![k, v])?;
        }
        ins_meta.execute(params![
            "counts",
            serde_json::to_string(&counts).expect("counts serialize")
        ])?;
        // Counts snapshots: `built_at` has whole seconds, and two sleeps can
        // finish within one; readers that cache per snapshot compare both.
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('generation', '1')
             ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
            [],
        )?;
        Ok(())
    };
    run().map_err(|e| store.err(e))?;
    tracing::debug!(secs = t.elapsed().as_secs_f64(), "snapshot rows written");
    tx.commit().map_err(|e| store.err(e))?;
    tracing::debug!(secs = t.elapsed().as_secs_f64(), "snapshot committed");
    Ok(counts)
}
