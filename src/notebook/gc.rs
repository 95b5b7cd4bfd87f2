//! Dropping blob versions no snapshot uses. The blob store keeps every
//! version a sleep read, so that going back to an older commit or another
//! branch reads nothing again; without a bound it grows with every sleep
//! (2.1x the blobs of helix after 11 sleeps across 2,000 commits).
//!
//! `blob_unused` records when each blob left the current snapshot (the
//! snapshot generation of that switch; created on first use, like the
//! other tables added since schema 2). Past `index.keep_unused_blobs`
//! unused blobs, those unused the longest (then the oldest ingested) are
//! deleted with their postings, down to three quarters of the bound, so
//! the scan of the postings this takes happens once per many sleeps.
//! Blobs of the current snapshot are never touched, so test-time answers
//! do not change; a dropped version is read again if a later snapshot
//! needs it. Model-written cards are keyed by blob id text and kept.

use std::collections::HashSet;

use rusqlite::params;

use super::store::{Store, StoreError};

pub(crate) const UNUSED_DDL: &str = "CREATE TABLE IF NOT EXISTS blob_unused (
    blob INTEGER PRIMARY KEY,
    since INTEGER NOT NULL   -- the snapshot generation it left the snapshot at
);";

/// Records, inside the snapshot switch's transaction, which blobs left the
/// snapshot (`old` minus `new`) and which came back into it.
pub(crate) fn note_switch(
    conn: &rusqlite::Connection,
    old: &HashSet<i64>,
    new: &HashSet<i64>,
    generation: i64,
) -> rusqlite::Result<()> {
    conn.execute_batch(UNUSED_DDL)?;
    let mut left =
        conn.prepare_cached("INSERT OR REPLACE INTO blob_unused (blob, since) VALUES (?1, ?2)")?;
    for b in old.difference(new) {
        left.execute(params![b, generation])?;
    }
    let mut back = conn.prepare_cached("DELETE FROM blob_unused WHERE blob = ?1")?;
    for b in new.difference(old) {
        back.execute(params![b])?;
    }
    Ok(())
}

/// Drops unused blobs past `keep`; returns how many were dropped.
pub(crate) fn collect(store: &mut Store, keep: usize) -> Result<usize, StoreError> {
    let unused: i64 = store
        .conn
        .query_row(
            "SELECT count(*) FROM blobs WHERE id NOT IN (SELECT blob FROM snap_files WHERE blob IS NOT NULL)",
            [],
            |r| r.get(0),
        )
        .map_err(|e| store.err(e))?;
    let unused = unused as usize;
    if unused <= keep {
        return Ok(0);
    }
    let drop = unused - keep * 3 / 4;
    let t = std::time::Instant::now();
    let tx = store
        .conn
        .unchecked_transaction()
        .map_err(|e| store.err(e))?;
    let run = || -> rusqlite::Result<usize> {
        tx.execute_batch(UNUSED_DDL)?;
        tx.execute_batch(
            "CREATE TEMP TABLE IF NOT EXISTS gc_victims (blob INTEGER PRIMARY KEY); DELETE FROM gc_victims;",
        )?;
        let n = tx.execute(
            "INSERT INTO gc_victims (blob)
             SELECT b.id FROM blobs b LEFT JOIN blob_unused u ON u.blob = b.id
             WHERE b.id NOT IN (SELECT blob FROM snap_files WHERE blob IS NOT NULL)
             ORDER BY coalesce(u.since, 0), b.id LIMIT ?1",
            params![drop as i64],
        )?;
        tx.execute_batch(
            "DELETE FROM blob_terms WHERE blob IN (SELECT blob FROM gc_victims);
             DELETE FROM blobs WHERE id IN (SELECT blob FROM gc_victims);
             DELETE FROM blob_unused WHERE blob IN (SELECT blob FROM gc_victims);
             DELETE FROM gc_victims;",
        )?;
        Ok(n)
    };
    let n = run().map_err(|e| store.err(e))?;
    tx.commit().map_err(|e| store.err(e))?;
    tracing::debug!(
        dropped = n,
        unused,
        keep,
        secs = t.elapsed().as_secs_f64(),
        "unused blob versions collected"
    );
    Ok(n)
}
