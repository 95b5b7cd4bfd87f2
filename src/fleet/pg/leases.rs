//! Repository leases in PostgreSQL: each repository is worked on (slept,
//! predicted for, commented on) by one `serve` process at a time, the
//! holder of its lease. Every process beats every `ttl / 3`: it renews its
//! leases, counts the live processes (those that beat within `ttl`), takes
//! free or expired leases up to its fair share (the repositories over the
//! live processes, rounded up) and gives back the surplus that has no job
//! running. A process that dies stops beating; its leases expire and the
//! others take them over, putting the jobs it left `running` back in the
//! queue in the same transaction.

use std::collections::BTreeSet;
use std::sync::RwLock;
use std::time::Duration;

use deadpool_postgres::Pool;

use crate::github::queue::now_ms;

use super::PgError;

/// This process's leases.
#[derive(Debug)]
pub struct Leases {
    pool: Pool,
    worker: String,
    ttl: Duration,
    held: RwLock<BTreeSet<String>>,
}

/// What one beat did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Beat {
    pub held: usize,
    pub taken: Vec<String>,
    pub released: Vec<String>,
    pub live_workers: usize,
}

fn st(what: &'static str) -> impl FnOnce(tokio_postgres::Error) -> PgError {
    move |source| PgError::Statement { what, source }
}

impl Leases {
    pub fn new(pool: Pool, worker: String, ttl: Duration) -> Leases {
        Leases {
            pool,
            worker,
            ttl,
            held: RwLock::new(BTreeSet::new()),
        }
    }

    pub fn worker(&self) -> &str {
        &self.worker
    }

    /// How often to beat.
    pub fn interval(&self) -> Duration {
        (self.ttl / 3).max(Duration::from_millis(100))
    }

    /// Whether this process holds `repo`'s lease (as of the last beat).
    pub fn holds(&self, repo: &str) -> bool {
        self.held
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains(repo)
    }

    pub fn held(&self) -> BTreeSet<String> {
        self.held.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// One beat over the repositories this process holds (`wanted`).
    pub async fn beat(&self, wanted: &[String]) -> Result<Beat, PgError> {
        let now = now_ms();
        let ttl = i64::try_from(self.ttl.as_millis()).unwrap_or(i64::MAX / 4);
        let until = now + ttl;
        let mut client = self.pool.get().await.map_err(PgError::Connect)?;
        client
            .execute(
                "INSERT INTO workers (id, seen_ms) VALUES ($1, $2)
                 ON CONFLICT (id) DO UPDATE SET seen_ms = $2",
                &[&self.worker, &now],
            )
            .await
            .map_err(st("worker beat"))?;
        let mut mine: BTreeSet<String> = client
            .query(
                "UPDATE leases SET until_ms = $2 WHERE owner = $1 RETURNING repo",
                &[&self.worker, &until],
            )
            .await
            .map_err(st("renew leases"))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let live: i64 = client
            .query_one(
                "SELECT COUNT(*) FROM workers WHERE seen_ms > $1",
                &[&(now - ttl)],
            )
            .await
            .map_err(st("live workers"))?
            .get(0);
        let live = usize::try_from(live).unwrap_or(1).max(1);
        let share = wanted.len().div_ceil(live);
        let mut beat = Beat {
            live_workers: live,
            ..Beat::default()
        };
        // Give back what is over the share, when idle (newest names first).
        let surplus: Vec<String> = mine
            .iter()
            .rev()
            .take(mine.len().saturating_sub(share))
            .cloned()
            .collect();
        for repo in surplus {
            let n = client
                .execute(
                    "DELETE FROM leases WHERE repo = $1 AND owner = $2 AND NOT EXISTS (
                         SELECT 1 FROM deliveries WHERE repo = $1 AND state = 'running')",
                    &[&repo, &self.worker],
                )
                .await
                .map_err(st("release a lease"))?;
            if n == 1 {
                mine.remove(&repo);
                beat.released.push(repo);
            }
        }
        // Take free or expired leases up to the share, starting at a place
        // of this worker's own so that processes do not all contend for
        // the same names.
        if mine.len() < share {
            let busy: BTreeSet<String> = client
                .query("SELECT repo FROM leases WHERE until_ms > $1", &[&now])
                .await
                .map_err(st("read leases"))?
                .iter()
                .map(|r| r.get(0))
                .collect();
            let mut free: Vec<&String> = wanted.iter().filter(|r| !busy.contains(*r)).collect();
            let start = offset(&self.worker, free.len());
            free.rotate_left(start);
            for repo in free {
                if mine.len() >= share {
                    break;
                }
                if self.take(&mut client, repo, now, until).await? {
                    mine.insert(repo.clone());
                    beat.taken.push(repo.clone());
                }
            }
        }
        beat.held = mine.len();
        *self.held.write().unwrap_or_else(|e| e.into_inner()) = mine;
        Ok(beat)
    }

    /// Takes `repo`'s lease if it is free or expired; the jobs its former
    /// holder left running are queued again.
    async fn take(
        &self,
        client: &mut deadpool_postgres::Object,
        repo: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, PgError> {
        let tx = client.transaction().await.map_err(st("begin a takeover"))?;
        let row = tx
            .query_opt(
                "SELECT owner, until_ms FROM leases WHERE repo = $1 FOR UPDATE",
                &[&repo],
            )
            .await
            .map_err(st("read a lease"))?;
        let took = match row {
            Some(r) if r.get::<_, i64>(1) > now => false,
            Some(r) => {
                let former: String = r.get(0);
                tx.execute(
                    "UPDATE leases SET owner = $2, until_ms = $3 WHERE repo = $1",
                    &[&repo, &self.worker, &until],
                )
                .await
                .map_err(st("take over a lease"))?;
                tracing::info!("{repo}: lease taken over from {former}");
                true
            }
            None => {
                tx.execute(
                    "INSERT INTO leases (repo, owner, until_ms) VALUES ($1, $2, $3)
                     ON CONFLICT (repo) DO NOTHING",
                    &[&repo, &self.worker, &until],
                )
                .await
                .map_err(st("take a lease"))?
                    == 1
            }
        };
        if took {
            let requeued = tx
                .execute(
                    "UPDATE deliveries SET state = 'queued', requeued = requeued + 1
                     WHERE repo = $1 AND state = 'running'",
                    &[&repo],
                )
                .await
                .map_err(st("requeue a former holder's jobs"))?;
            if requeued > 0 {
                tracing::warn!(
                    "{repo}: {requeued} job(s) its former holder left running run again"
                );
            }
        }
        tx.commit().await.map_err(st("commit a takeover"))?;
        Ok(took)
    }

    /// Gives every lease back (a clean stop), queueing again the jobs this
    /// process left running.
    pub async fn release_all(&self) -> Result<(), PgError> {
        let client = self.pool.get().await.map_err(PgError::Connect)?;
        client
            .execute(
                "UPDATE deliveries SET state = 'queued', requeued = requeued + 1
                 WHERE claimed_by = $1 AND state = 'running'",
                &[&self.worker],
            )
            .await
            .map_err(st("requeue on stop"))?;
        client
            .execute("DELETE FROM leases WHERE owner = $1", &[&self.worker])
            .await
            .map_err(st("release leases"))?;
        client
            .execute("DELETE FROM workers WHERE id = $1", &[&self.worker])
            .await
            .map_err(st("leave"))?;
        self.held.write().unwrap_or_else(|e| e.into_inner()).clear();
        Ok(())
    }
}

/// A start position in `0..n` that depends on the worker's name.
fn offset(worker: &str, n: usize) -> usize {
    if n == 0 {
        return 0;
    }
    let h = worker.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    usize::try_from(h % n as u64).unwrap_or(0)
}
