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
    let t = std::time::Instant::now();
    let mut known = load_known(store)?;
    let todo = plan(repo, tip, &known, max_commits);
    tracing::debug!(secs = t.elapsed().as_secs_f64(), todo = todo.len(), known = known.len(), "history planned");
    let mut terms = TermCache::for_work(&store.conn, todo.len()).map_err(|e| store.err(e))?;
    let cursor = std::sync::atomic::AtomicUsize::new(0);
    let mut out = HistoryUpdate::default();
    let mut chain_ids = Vec::new();
    std::thread::scope(|scope| -> Result<(), HistoryError> {
        let mut miner = start_miner(scope, repo, &todo, threads, &cursor);
        let walked = walk(
            store,
            repo,
            tip,
            max_commits,
            &mut known,
            &mut terms,
            &mut miner,
            &mut out,
            &mut chain_ids,
            progress,
        );
        // Stop the workers (they stop at the next commit) before the scope
        // waits for them.
        cursor.store(usize::MAX / 2, std::sync::atomic::Ordering::Relaxed);
        drop(miner);
        walked
    })?;
    if out.shallow_boundary.is_none()
        && let Some(last) = chain_ids.last()
        && known.values().any(|k| k.id == *last && k.truncated)
    {
        out.shallow_boundary = known
            .iter()
            .find(|(_, k)| k.id == *last)
            .map(|(o, _)| o.clone());
    }
    tracing::debug!(secs = t.elapsed().as_secs_f64(), "history mined and stored");
    out.chain = load_chain(store, &chain_ids)?;
    tracing::debug!(secs = t.elapsed().as_secs_f64(), "history chain loaded");
    Ok(out)
}

/// Follows the first-parent chain from `tip`, reusing stored commits and
/// storing the ones `miner` mines (in the same order as [`plan`] listed
/// them), in transactions of 500.
#[allow(clippy::too_many_arguments)]
fn walk(
    store: &mut Store,
    repo: &Repo,
    tip: Oid,
    max_commits: usize,
    known: &mut HashMap<String, Known>,
    terms: &mut TermCache,
    miner: &mut Miner<'_>,
    out: &mut HistoryUpdate,
    chain_ids: &mut Vec<i64>,
    progress: &dyn Fn(u64),
) -> Result<(), HistoryError> {
    let mut cur = Some(tip.to_string());
    let mut pending = 0;
    let mut busy = std::time::Duration::ZERO;
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
                let mined = match miner.next() {
                    Some(Ok(m)) if m.oid == parsed => m,
                    Some(Err(e)) => return Err(e.into()),
                    // The plan and the walk disagree (the notebook changed
                    // under us?): mine this one here.
                    _ => git::mine_commit(repo, parsed)?,
                };
                let t_ins = std::time::Instant::now();
                let id = insert(store, terms, &mined, known.contains_key(&oid))
                    .map_err(|e| store.err(e))?;
                busy += t_ins.elapsed();
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
    tracing::debug!(writing = busy.as_secs_f64(), "history stored");
    Ok(())
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

/// Mines `oids` in order, on `threads` threads (one libgit2 handle each)
/// when there are enough of them. Workers take the next commit from a
/// shared counter, so both finish together however the cost is spread
/// over history (newer commits have bigger trees); the caller receives
/// the results in the order of `oids`, as they come, and stores them
/// while later ones are mined.
struct Miner<'a> {
    repo: &'a Repo,
    oids: &'a [Oid],
    next: usize,
    /// Results that arrived before their turn.
    early: HashMap<usize, Result<MinedCommit, git::GitError>>,
    rx: Option<std::sync::mpsc::Receiver<(usize, Result<MinedCommit, git::GitError>)>>,
}

impl<'a> Miner<'a> {
    /// The next commit of `oids`, mined (`None` after the last).
    fn next(&mut self) -> Option<Result<MinedCommit, git::GitError>> {
        let i = self.next;
        let oid = *self.oids.get(i)?;
        self.next += 1;
        let Some(rx) = &self.rx else {
            return Some(git::mine_commit(self.repo, oid));
        };
        loop {
            if let Some(r) = self.early.remove(&i) {
                return Some(r);
            }
            match rx.recv() {
                Ok((k, r)) => {
                    self.early.insert(k, r);
                }
                // A worker died (it could not open the repository):
                // mine the rest here.
                Err(_) => return Some(git::mine_commit(self.repo, oid)),
            }
        }
    }
}

/// Starts [`Miner`]'s workers in `scope`.
fn start_miner<'scope, 'env: 'scope>(
    scope: &'scope std::thread::Scope<'scope, 'env>,
    repo: &'env Repo,
    oids: &'env [Oid],
    threads: usize,
    cursor: &'env std::sync::atomic::AtomicUsize,
) -> Miner<'env> {
    let mut miner = Miner {
        repo,
        oids,
        next: 0,
        early: HashMap::new(),
        rx: None,
    };
    if oids.len() < 64 || threads < 2 {
        return miner;
    }
    let (tx, rx) = std::sync::mpsc::channel();
    for _ in 0..threads {
        let Ok(handle) = repo.reopen() else { continue };
        let tx = tx.clone();
        scope.spawn(move || {
            loop {
                let i = cursor.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(oid) = oids.get(i) else { break };
                if tx.send((i, git::mine_commit(&handle, *oid))).is_err() {
                    break;
                }
            }
        });
    }
    miner.rx = Some(rx);
    miner
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
