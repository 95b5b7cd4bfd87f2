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
    tracing::debug!(
        secs = t.elapsed().as_secs_f64(),
        todo = todo.len(),
        known = known.len(),
        "history planned"
    );
    let mut terms = TermCache::for_work(&store.conn, todo.len()).map_err(|e| store.err(e))?;
    let mut out = HistoryUpdate::default();
    let mut chain_ids = Vec::new();
    std::thread::scope(|scope| -> Result<(), HistoryError> {
        let mut miner = start_miner(scope, repo, &todo, threads);
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
        // The worker stops at its next send; the scope then waits for it.
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
    let mut waiting = std::time::Duration::ZERO;
    let mut flushing = std::time::Duration::ZERO;
    let mut postings: Vec<(i64, i64, u32)> = Vec::new();
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
                let t_wait = std::time::Instant::now();
                let next = miner.next();
                waiting += t_wait.elapsed();
                let mined = match next {
                    Some(Ok(m)) if m.commit.oid == parsed => m,
                    Some(Err(e)) => return Err(e.into()),
                    // The plan and the walk disagree (the notebook changed
                    // under us?): mine this one here.
                    _ => mine(repo, parsed)?,
                };
                let t_ins = std::time::Instant::now();
                let id = insert(
                    store,
                    terms,
                    &mined,
                    known.contains_key(&oid),
                    &mut postings,
                )
                .map_err(|e| store.err(e))?;
                busy += t_ins.elapsed();
                let mined = mined.commit;
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
                    let t_flush = std::time::Instant::now();
                    write_postings(store, &mut postings).map_err(|e| store.err(e))?;
                    store
                        .conn
                        .execute_batch("COMMIT; BEGIN")
                        .map_err(|e| store.err(e))?;
                    flushing += t_flush.elapsed();
                    pending = 0;
                }
            }
        }
        progress(1);
    }
    write_postings(store, &mut postings).map_err(|e| store.err(e))?;
    store
        .conn
        .execute_batch("COMMIT")
        .map_err(|e| store.err(e))?;
    tracing::debug!(
        writing = busy.as_secs_f64(),
        flushing = flushing.as_secs_f64(),
        waiting = waiting.as_secs_f64(),
        "history stored"
    );
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

/// A mined commit with the index terms of its message, counted on the
/// mining thread.
struct Mined {
    commit: MinedCommit,
    terms: Vec<(String, u32)>,
    term_total: u32,
}

type MineResult = Result<Mined, git::GitError>;

fn mine(repo: &Repo, oid: Oid) -> MineResult {
    let commit = git::mine_commit(repo, oid)?;
    let (terms, term_total) =
        crate::text::term_counts(&format!("{}\n{}", commit.title, commit.body));
    Ok(Mined {
        commit,
        terms,
        term_total,
    })
}

/// Mines `oids` in order for the walk, which stores each commit while the
/// next ones are mined: with `threads` of 2 or more, one worker thread
/// mines (its own libgit2 handle) and the caller's thread writes, so the
/// two halves of the work run side by side and end together. One miner,
/// not one per core: libgit2 serialises reads of a pack behind its own
/// locks, and two handles mining the same history took longer than one
/// (ruff, 16.9k commits: 1.2 s with one thread, 1.5 s with two, however
/// the commits were dealt out).
struct Miner<'a> {
    repo: &'a Repo,
    oids: &'a [Oid],
    next: usize,
    rx: Option<std::sync::mpsc::Receiver<MineResult>>,
}

impl Miner<'_> {
    /// The next commit of `oids`, mined (`None` after the last).
    fn next(&mut self) -> Option<MineResult> {
        let oid = *self.oids.get(self.next)?;
        self.next += 1;
        if let Some(rx) = &self.rx
            && let Ok(mined) = rx.recv()
        {
            return Some(mined);
        }
        // No worker (few commits, one thread), or it could not open the
        // repository: mine here.
        self.rx = None;
        Some(mine(self.repo, oid))
    }
}

/// Commits mined ahead of the writer, at most.
const MINED_AHEAD: usize = 1024;

/// Starts [`Miner`]'s worker in `scope` when it is worth a thread.
fn start_miner<'scope, 'env: 'scope>(
    scope: &'scope std::thread::Scope<'scope, 'env>,
    repo: &'env Repo,
    oids: &'env [Oid],
    threads: usize,
) -> Miner<'env> {
    let mut miner = Miner {
        repo,
        oids,
        next: 0,
        rx: None,
    };
    if oids.len() < 64 || threads < 2 {
        return miner;
    }
    let Ok(handle) = repo.reopen() else {
        return miner;
    };
    let (tx, rx) = std::sync::mpsc::sync_channel(MINED_AHEAD);
    scope.spawn(move || {
        for oid in oids {
            // The walk stopped early (an error, `max_commits`): stop too.
            if tx.send(mine(&handle, *oid)).is_err() {
                break;
            }
        }
    });
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

/// Stores `m`; `replacing` when the commit is stored already (mined at a
/// shallow boundary and now deepened): it keeps its id, so the current
/// snapshot's references stay valid, and loses its old files and terms.
/// Its postings (term id, commit id, tf) are added to `postings`, written
/// with the batch by [`write_postings`].
fn insert(
    store: &Store,
    terms: &mut TermCache,
    m: &Mined,
    replacing: bool,
    postings: &mut Vec<(i64, i64, u32)>,
) -> rusqlite::Result<i64> {
    let conn = &store.conn;
    let c = &m.commit;
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
        m.term_total
    ];
    let id: i64 = conn.prepare_cached(sql)?.query_row(values, |r| r.get(0))?;
    if replacing {
        // The batch's postings of this commit are not written yet: none.
        conn.prepare_cached("DELETE FROM commit_files WHERE commit_id = ?1")?
            .execute(params![id])?;
        conn.prepare_cached("DELETE FROM commit_terms WHERE commit_id = ?1")?
            .execute(params![id])?;
    }
    let mut files = conn.prepare_cached(
        "INSERT OR REPLACE INTO commit_files (commit_id, path, status) VALUES (?1, ?2, ?3)",
    )?;
    let mut status = [0u8; 4];
    for (path, s) in &c.files {
        files.execute(params![id, path, &*s.encode_utf8(&mut status)])?;
    }
    for (term, tf) in &m.terms {
        postings.push((terms.id(conn, term)?, id, *tf));
    }
    Ok(id)
}

/// Writes a batch of postings in key order (term, commit): the index of
/// `commit_terms` is then filled page by page instead of at random.
fn write_postings(store: &Store, postings: &mut Vec<(i64, i64, u32)>) -> rusqlite::Result<()> {
    postings.sort_unstable();
    let mut insert = store.conn.prepare_cached(
        "INSERT OR REPLACE INTO commit_terms (term, commit_id, tf) VALUES (?1, ?2, ?3)",
    )?;
    for (term, commit, tf) in postings.drain(..) {
        insert.execute(params![term, commit, tf])?;
    }
    Ok(())
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
