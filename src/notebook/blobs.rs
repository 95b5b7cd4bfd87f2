//! Blob-keyed facts: for each file content the notebook has not seen, read
//! it once, parse it, split it into index terms, count its tokens, and store
//! the result under the blob id. Parallel readers, one writer.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::mpsc;

use rusqlite::params;

use crate::git::{Entry, Oid, Repo, looks_binary};
use crate::parse::{self, FileFacts, Lang};

use super::store::{Store, StoreError, TermCache};

/// Why a file's content is not in the notebook, or `Parsed` when it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobStatus {
    Parsed,
    Binary,
    TooLarge,
    Unreadable,
}

impl BlobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            BlobStatus::Parsed => "parsed",
            BlobStatus::Binary => "binary",
            BlobStatus::TooLarge => "too_large",
            BlobStatus::Unreadable => "unreadable",
        }
    }
}

/// Where the content of the entries comes from.
#[derive(Debug, Clone, Copy)]
pub enum ContentSource<'a> {
    /// The object database (a commit's tree).
    Odb,
    /// Files under this work-tree root.
    WorkTree(&'a std::path::Path),
}

/// What one worker produced for one blob.
struct Analysed {
    oid: Oid,
    lang: Lang,
    size: u64,
    status: BlobStatus,
    facts: Option<FileFacts>,
    terms: Vec<(String, u32)>,
    term_total: u32,
    tokens: u64,
}

/// Totals of one ingest, for the sleep summary.
#[derive(Debug, Default, Clone, Copy)]
pub struct IngestStats {
    pub analysed: usize,
    pub bytes: u64,
    pub tokens: u64,
    pub skipped: usize,
}

/// Ids of the blobs among `oids` that the notebook already has.
pub fn known_blobs(store: &Store) -> Result<HashMap<Oid, i64>, StoreError> {
    let mut stmt = store
        .conn
        .prepare("SELECT id, oid FROM blobs")
        .map_err(|e| store.err(e))?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
        .map_err(|e| store.err(e))?;
    let mut out = HashMap::new();
    for row in rows {
        let (id, oid) = row.map_err(|e| store.err(e))?;
        if let Ok(oid) = Oid::from_str(&oid) {
            out.insert(oid, id);
        }
    }
    Ok(out)
}

/// Analyses `todo` (entries whose blobs are new) with `threads` readers and
/// stores each result; commits every `batch` blobs so an interrupted sleep
/// keeps its finished work. `progress` is called after each stored blob.
pub fn ingest(
    store: &mut Store,
    repo: &Repo,
    source: ContentSource<'_>,
    todo: &[&Entry],
    max_bytes: u64,
    threads: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<(IngestStats, HashMap<Oid, i64>), StoreError> {
    let queue = Mutex::new(todo.iter());
    let (tx, rx) = mpsc::sync_channel::<Analysed>(256);
    let mut stats = IngestStats::default();
    let mut ids = HashMap::new();
    std::thread::scope(|scope| -> Result<(), StoreError> {
        for _ in 0..threads.max(1) {
            let tx = tx.clone();
            let queue = &queue;
            let worker_repo = match source {
                ContentSource::Odb => repo.reopen().ok(),
                ContentSource::WorkTree(_) => None,
            };
            scope.spawn(move || {
                loop {
                    let next = queue.lock().expect("queue lock is never poisoned").next();
                    let Some(entry) = next else { break };
                    let result = analyse(entry, worker_repo.as_ref(), source, max_bytes);
                    if tx.send(result).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let t = std::time::Instant::now();
        let mut terms = TermCache::for_work(&store.conn, todo.len()).map_err(|e| store.err(e))?;
        tracing::debug!(secs = t.elapsed().as_secs_f64(), "term cache ready");
        let mut pending = 0usize;
        let mut postings: Vec<(i64, i64, u32)> = Vec::new();
        store
            .conn
            .execute_batch("BEGIN")
            .map_err(|e| store.err(e))?;
        let mut busy = std::time::Duration::ZERO;
        for a in rx {
            let t_one = std::time::Instant::now();
            stats.analysed += 1;
            // Content over the size limit, or unreadable, was never read.
            if matches!(a.status, BlobStatus::Parsed | BlobStatus::Binary) {
                stats.bytes += a.size;
            }
            stats.tokens += a.tokens;
            if a.status != BlobStatus::Parsed {
                stats.skipped += 1;
            }
            let id = store_one(store, &mut terms, &a, &mut postings).map_err(|e| store.err(e))?;
            ids.insert(a.oid, id);
            progress(1);
            pending += 1;
            if pending >= 200 {
                write_postings(store, &mut postings).map_err(|e| store.err(e))?;
                store
                    .conn
                    .execute_batch("COMMIT; BEGIN")
                    .map_err(|e| store.err(e))?;
                pending = 0;
            }
            busy += t_one.elapsed();
        }
        write_postings(store, &mut postings).map_err(|e| store.err(e))?;
        store
            .conn
            .execute_batch("COMMIT")
            .map_err(|e| store.err(e))?;
        tracing::debug!(
            total = t.elapsed().as_secs_f64(),
            writing = busy.as_secs_f64(),
            blobs = stats.analysed,
            "blobs analysed and stored"
        );
        Ok(())
    })?;
    Ok((stats, ids))
}

/// Stores one blob's row; its postings (term id, blob id, tf) are added
/// to `postings`, written by [`write_postings`] with the batch.
fn store_one(
    store: &Store,
    terms: &mut TermCache,
    a: &Analysed,
    postings: &mut Vec<(i64, i64, u32)>,
) -> rusqlite::Result<i64> {
    let conn = &store.conn;
    let facts = a
        .facts
        .as_ref()
        .map(|f| serde_json::to_string(f).expect("facts serialize"));
    conn.prepare_cached(
        "INSERT OR REPLACE INTO blobs (oid, lang, size, status, facts, terms, tokens)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        a.oid.to_string(),
        a.lang.as_str(),
        a.size as i64,
        a.status.as_str(),
        facts,
        a.term_total,
        a.tokens as i64
    ])?;
    let id = conn.last_insert_rowid();
    for (term, tf) in &a.terms {
        postings.push((terms.id(conn, term)?, id, *tf));
    }
    Ok(id)
}

/// Writes a batch of postings in key order (term, blob): the index of
/// `blob_terms` is then filled page by page instead of at random.
fn write_postings(store: &Store, postings: &mut Vec<(i64, i64, u32)>) -> rusqlite::Result<()> {
    postings.sort_unstable();
    let mut insert = store
        .conn
        .prepare_cached("INSERT OR REPLACE INTO blob_terms (term, blob, tf) VALUES (?1, ?2, ?3)")?;
    for (term, blob, tf) in postings.drain(..) {
        insert.execute(params![term, blob, tf])?;
    }
    Ok(())
}

fn analyse(
    entry: &Entry,
    repo: Option<&Repo>,
    source: ContentSource<'_>,
    max_bytes: u64,
) -> Analysed {
    let lang = parse::detect_lang(&entry.path);
    let mut out = Analysed {
        oid: entry.oid,
        lang,
        size: entry.size,
        status: BlobStatus::Parsed,
        facts: None,
        terms: Vec::new(),
        term_total: 0,
        tokens: 0,
    };
    if entry.size > max_bytes {
        tracing::debug!(path = %entry.path, size = entry.size, "content not read: over the size limit");
        out.status = BlobStatus::TooLarge;
        return out;
    }
    let bytes = match source {
        ContentSource::Odb => repo
            .ok_or(())
            .and_then(|r| r.read_blob(entry.oid).map_err(|_| ())),
        ContentSource::WorkTree(root) => crate::git::read_confined(root, &entry.path, max_bytes)
            .map_err(|e| {
                tracing::debug!(error = %e, "work-tree file not read");
            }),
    };
    let Ok(bytes) = bytes else {
        tracing::debug!(path = %entry.path, "content not read: unreadable");
        out.status = BlobStatus::Unreadable;
        return out;
    };
    if looks_binary(&bytes) {
        tracing::debug!(path = %entry.path, "content not read: binary");
        out.status = BlobStatus::Binary;
        return out;
    }
    let text = String::from_utf8_lossy(&bytes);
    let facts = parse::parse(&entry.path, &text);
    // The text may refine the language (a shebang, a C header).
    out.lang = facts.lang.unwrap_or(lang);
    let (terms, total) = crate::text::term_counts(&text);
    out.terms = terms;
    out.term_total = total;
    out.tokens = crate::tokens::count(&text);
    out.facts = Some(facts);
    out
}
