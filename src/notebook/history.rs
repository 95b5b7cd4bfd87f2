//! Commit-keyed history: mines the first-parent chain from a commit, storing
//! each commit once (message, pull request, changed files, index terms) and
//! reusing what earlier sleeps stored. An interrupted walk resumes: stored
//! commits remember their parent, so the walk skips over them.

use std::collections::HashMap;

use rusqlite::params;

use crate::git::{self, CommitKind, MinedCommit, Oid, Repo};

use super::store::{Store, StoreError, TermCache};

/// One commit of the chain, as the snapshot derivations need it.
#[derive(Debug, Clone)]
pub struct ChainCommit {
    pub id: i64,
    pub oid: String,
    pub time: i64,
    pub kind: CommitKind,
    pub pr: Option<u64>,
    pub title: String,
    pub files: Vec<(String, char)>,
    pub file_count: usize,
}

#[derive(Debug, Default)]
pub struct HistoryUpdate {
    /// Newest first.
    pub chain: Vec<ChainCommit>,
    pub mined: usize,
    pub reused: usize,
    /// Set when history stops at a commit whose parent this clone lacks.
    pub shallow_boundary: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Git(#[from] git::GitError),
}

struct Known {
    id: i64,
    parent: Option<String>,
    truncated: bool,
}

/// Brings the stored history up to `tip` and returns its first-parent chain.
pub fn update(
    store: &mut Store,
    repo: &Repo,
    tip: Oid,
    max_commits: usize,
    threads: usize,
    progress: &dyn Fn(u64),
) -> Result<HistoryUpdate, HistoryError> {
    let mut known = load_known(store)?;
    let todo = plan(repo, tip, &known, max_commits);
    let mut terms = TermCache::for_work(&store.conn, todo.len()).map_err(|e| store.err(e))?;
    let mut prefetched = prefetch(repo, &todo, threads);
    let mut out = HistoryUpdate::default();
    let mut chain_ids = Vec::new();
    let mut cur = Some(tip.to_string());
    let mut pending = 0;
    store
        .conn
        .execute_batch("BEGIN")
        .map_err(|e| store.err(e))?;
    while let Some(oid) = cur.take() {
        if max_commits > 0 && chain_ids.len() >= max_commits {
            break;
        }
        match known.get(&oid) {
            Some(k) if !k.truncated => {
                chain_ids.push(k.id);
                out.reused += 1;
                cur = k.parent.clone();
            }
            _ => {
                let parsed = Oid::from_str(&oid).map_err(|e| StoreError::Corrupt {
                    path: store.path().to_path_buf(),
                    message: format!("bad commit id {oid}: {e}"),
                })?;
                let mined = match prefetched.remove(&oid) {
                    Some(m) => m,
                    None => git::mine_commit(repo, parsed)?,
                };
                let id = insert(store, &mut terms, &mined, known.contains_key(&oid))
                    .map_err(|e| store.err(e))?;
                chain_ids.push(id);
                out.mined += 1;
                if mined.truncated {
                    out.shallow_boundary = Some(oid.clone());
                }
                cur = mined.parent.map(|p| p.to_string());
                known.insert(
                    oid,
                    Known {
                        id,
                        parent: cur.clone(),
                        truncated: mined.truncated,
                    },
                );
                pending += 1;
                if pending >= 500 {
                    store
                        .conn
                        .execute_batch("COMMIT; BEGIN")
                        .map_err(|e| store.err(e))?;
                    pending = 0;
                }
            }
        }
        progress(1);
    }
    store
        .conn
        .execute_batch("COMMIT")
        .map_err(|e| store.err(e))?;
    if out.shallow_boundary.is_none()
        && let Some(last) = chain_ids.last()
        && known.values().any(|k| k.id == *last && k.truncated)
    {
        out.shallow_boundary = known
            .iter()
            .find(|(_, k)| k.id == *last)
            .map(|(o, _)| o.clone());
    }
    out.chain = load_chain(store, &chain_ids)?;
    Ok(out)
}

/// The commits of the first-parent chain from `tip` that are not stored
/// yet, found by following parent links (stored ones, or git's) without
/// diffing anything.
fn plan(repo: &Repo, tip: Oid, known: &HashMap<String, Known>, max_commits: usize) -> Vec<Oid> {
    let mut todo = Vec::new();
    let mut cur = Some(tip);
    let mut steps = 0;
    while let Some(oid) = cur.take() {
        if max_commits > 0 && steps >= max_commits {
            break;
        }
        steps += 1;
        match known.get(&oid.to_string()) {
            Some(k) if !k.truncated => {
                cur = k.parent.as_deref().and_then(|p| Oid::from_str(p).ok())
            }
            _ => {
                todo.push(oid);
                cur = repo
                    .raw()
                    .find_commit(oid)
                    .ok()
                    .and_then(|c| c.parent_id(0).ok());
            }
        }
    }
    todo
}

/// Mines `oids` on `threads` threads (one libgit2 handle each). Commits that
/// fail here are left out; the sequential walk mines them again and reports
/// the error.
fn prefetch(repo: &Repo, oids: &[Oid], threads: usize) -> HashMap<String, MinedCommit> {
    if oids.len() < 64 || threads < 2 {
        return HashMap::new();
    }
    let chunk = oids.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = oids
            .chunks(chunk)
            .map(|part| {
                let handle = repo.reopen().ok();
                s.spawn(move || {
                    let Some(r) = handle else { return Vec::new() };
                    part.iter()
                        .filter_map(|o| git::mine_commit(&r, *o).ok())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .map(|m| (m.oid.to_string(), m))
            .collect()
    })
}

fn load_known(store: &Store) -> Result<HashMap<String, Known>, StoreError> {
    let mut stmt = store
        .conn
        .prepare("SELECT id, oid, parent, truncated FROM commits")
        .map_err(|e| store.err(e))?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(1)?,
                Known {
                    id: r.get(0)?,
                    parent: r.get(2)?,
                    truncated: r.get::<_, i64>(3)? != 0,
                },
            ))
        })
        .map_err(|e| store.err(e))?;
    rows.collect::<rusqlite::Result<_>>()
        .map_err(|e| store.err(e))
}

/// Stores `c`; `replacing` when the commit is stored already (mined at a
/// shallow boundary and now deepened): it keeps its id, so the current
/// snapshot's references stay valid, and loses its old files and terms.
fn insert(
    store: &Store,
    terms: &mut TermCache,
    c: &MinedCommit,
    replacing: bool,
) -> rusqlite::Result<i64> {
    let conn = &store.conn;
    let text = format!("{}\n{}", c.title, c.body);
    let mut counts: HashMap<String, u32> = HashMap::new();
    let mut total = 0u32;
    crate::text::for_each_term(&text, |t| {
        total += 1;
        *counts.entry(t.to_string()).or_default() += 1;
    });
    let sql = "INSERT INTO commits (oid, parent, truncated, time, kind, pr, title, body, file_count, terms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (oid) DO UPDATE SET parent = excluded.parent, truncated = excluded.truncated,
             time = excluded.time, kind = excluded.kind, pr = excluded.pr, title = excluded.title,
             body = excluded.body, file_count = excluded.file_count, terms = excluded.terms
         RETURNING id";
    let values = params![
        c.oid.to_string(),
        c.parent.map(|p| p.to_string()),
        c.truncated as i64,
        c.time,
        c.kind.as_str(),
        c.pr.map(|n| n as i64),
        c.title,
        c.body,
        c.file_count as i64,
        total
    ];
    let id: i64 = conn.prepare_cached(sql)?.query_row(values, |r| r.get(0))?;
    if replacing {
        conn.prepare_cached("DELETE FROM commit_files WHERE commit_id = ?1")?
            .execute(params![id])?;
        conn.prepare_cached("DELETE FROM commit_terms WHERE commit_id = ?1")?
            .execute(params![id])?;
    }
    let mut files = conn.prepare_cached(
        "INSERT OR REPLACE INTO commit_files (commit_id, path, status) VALUES (?1, ?2, ?3)",
    )?;
    for (path, status) in &c.files {
        files.execute(params![id, path, status.to_string()])?;
    }
    let mut ins = conn.prepare_cached(
        "INSERT OR REPLACE INTO commit_terms (term, commit_id, tf) VALUES (?1, ?2, ?3)",
    )?;
    for (term, tf) in counts {
        ins.execute(params![terms.id(conn, &term)?, id, tf])?;
    }
    Ok(id)
}

/// Loads the commits `ids` (in that order) with their files.
pub fn load_chain(store: &Store, ids: &[i64]) -> Result<Vec<ChainCommit>, StoreError> {
    let wanted: std::collections::HashSet<i64> = ids.iter().copied().collect();
    let mut by_id: HashMap<i64, ChainCommit> = HashMap::with_capacity(ids.len());
    {
        let mut stmt = store
            .conn
            .prepare("SELECT id, oid, time, kind, pr, title, file_count FROM commits")
            .map_err(|e| store.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(ChainCommit {
                    id: r.get(0)?,
                    oid: r.get(1)?,
                    time: r.get(2)?,
                    kind: CommitKind::parse(&r.get::<_, String>(3)?),
                    pr: r.get::<_, Option<i64>>(4)?.map(|n| n as u64),
                    title: r.get(5)?,
                    files: Vec::new(),
                    file_count: r.get::<_, i64>(6)? as usize,
                })
            })
            .map_err(|e| store.err(e))?;
        for row in rows {
            let c = row.map_err(|e| store.err(e))?;
            if wanted.contains(&c.id) {
                by_id.insert(c.id, c);
            }
        }
    }
    let mut stmt = store
        .conn
        .prepare("SELECT commit_id, path, status FROM commit_files")
        .map_err(|e| store.err(e))?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })
        .map_err(|e| store.err(e))?;
    for row in rows {
        let (id, path, status) = row.map_err(|e| store.err(e))?;
        if let Some(c) = by_id.get_mut(&id) {
            c.files.push((path, status.chars().next().unwrap_or('M')));
        }
    }
    Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
}
