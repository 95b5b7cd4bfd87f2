//! [`PgQueue`]: the delivery queue and the results in PostgreSQL, shared by
//! every `serve` process. A delivery is committed before the webhook
//! answers; a job is claimed with `FOR UPDATE SKIP LOCKED`, and only for a
//! repository this process holds the lease of ([`super::leases`]), so one
//! repository's jobs run in one process at a time. Jobs another process
//! left `running` go back to `queued` when its lease is taken over.
//!
//! The [`JobQueue`] methods block: each runs its statements on the
//! runtime the queue was opened on (callers are on blocking threads).

use std::future::Future;

use deadpool_postgres::Pool;
use tokio::runtime::Handle;

use crate::github::events::{Job, TargetKind};
use crate::github::job_queue::{DeliveryRow, JobQueue};
use crate::github::queue::{
    Claimed, PRUNE_DELIVERIES, PRUNE_RESULTS, Pruned, QueueCounts, QueueError, Recorded,
    StoredResult, now_ms,
};

/// How often a worker with nothing due looks again (deliveries may arrive
/// at other processes).
const POLL_MS: i64 = 250;

/// The queue of one `serve` process (`worker` is its lease owner name).
#[derive(Clone)]
pub struct PgQueue {
    pool: Pool,
    runtime: Handle,
    worker: String,
}

impl std::fmt::Debug for PgQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgQueue")
            .field("worker", &self.worker)
            .finish_non_exhaustive()
    }
}

fn db(what: &str, source: impl std::error::Error + Send + Sync + 'static) -> QueueError {
    QueueError::Database {
        what: what.to_string(),
        source: Box::new(source),
    }
}

fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn uint(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl PgQueue {
    /// The queue on `pool`, for the worker named `worker`; its statements
    /// run on `runtime`.
    pub fn new(pool: Pool, runtime: Handle, worker: String) -> PgQueue {
        PgQueue {
            pool,
            runtime,
            worker,
        }
    }

    fn run<T>(&self, f: impl Future<Output = Result<T, QueueError>>) -> Result<T, QueueError> {
        self.runtime.block_on(f)
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, QueueError> {
        self.pool.get().await.map_err(|e| db("connect", e))
    }

    async fn execute(
        &self,
        what: &str,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<u64, QueueError> {
        let c = self.client().await?;
        c.execute(sql, params).await.map_err(|e| db(what, e))
    }
}

fn stored(r: &tokio_postgres::Row) -> StoredResult {
    let text: String = r.get(4);
    StoredResult {
        repo: r.get(0),
        number: uint(r.get(1)),
        kind: r.get(2),
        comment_id: r.get::<_, Option<i64>>(3).map(uint),
        prediction: serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        notebook_commit: r.get(5),
        delivery: r.get(6),
        updated_at: r.get(7),
    }
}

const RESULT_COLUMNS: &str =
    "repo, number, kind, comment_id, prediction, notebook_commit, delivery, updated_at";

impl JobQueue for PgQueue {
    fn record(
        &self,
        delivery: &str,
        event: &str,
        job: Option<&Job>,
        note: &str,
    ) -> Result<Recorded, QueueError> {
        let row = DeliveryRow::new(event, job);
        let repo = job.map(|j| j.repo().to_string());
        self.run(async {
            let n = self
                .execute(
                    "record",
                    "INSERT INTO deliveries (id, event, received_at, state, job, repo, note, target)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING",
                    &[
                        &delivery, &event, &now_ms(), &row.state, &row.job, &repo, &note, &row.target,
                    ],
                )
                .await?;
            Ok(if n == 1 {
                Recorded::New
            } else {
                Recorded::Duplicate
            })
        })
    }

    fn claim(&self, now: i64) -> Result<Option<Claimed>, QueueError> {
        self.run(async {
            let c = self.client().await?;
            let superseded = c
                .execute(
                    "UPDATE deliveries SET state = 'done', note = 'superseded by a newer delivery'
                     WHERE state = 'queued' AND target IS NOT NULL
                       AND repo IN (SELECT repo FROM leases WHERE owner = $1 AND until_ms > $2)
                       AND EXISTS (SELECT 1 FROM deliveries newer
                                   WHERE newer.target = deliveries.target AND newer.state = 'queued'
                                     AND (newer.received_at > deliveries.received_at
                                          OR (newer.received_at = deliveries.received_at
                                              AND newer.seq > deliveries.seq)))",
                    &[&self.worker, &now],
                )
                .await
                .map_err(|e| db("supersede", e))?;
            if superseded > 0 {
                tracing::info!("{superseded} queued prediction(s) superseded by newer deliveries");
            }
            let row = c
                .query_opt(
                    "UPDATE deliveries SET state = 'running', claimed_by = $1, runs = runs + 1
                     WHERE id = (SELECT d.id FROM deliveries d
                                 JOIN leases l ON l.repo = d.repo AND l.owner = $1 AND l.until_ms > $2
                                 WHERE d.state = 'queued' AND d.next_at <= $2
                                 ORDER BY d.received_at, d.seq LIMIT 1
                                 FOR UPDATE OF d SKIP LOCKED)
                     RETURNING id, job, attempts",
                    &[&self.worker, &now],
                )
                .await
                .map_err(|e| db("claim", e))?;
            let Some(row) = row else { return Ok(None) };
            let (delivery, job, attempts): (String, Option<String>, i32) =
                (row.get(0), row.get(1), row.get(2));
            match serde_json::from_str(job.as_deref().unwrap_or_default()) {
                Ok(job) => Ok(Some(Claimed {
                    delivery,
                    job,
                    attempts: u32::try_from(attempts).unwrap_or(0),
                })),
                Err(source) => {
                    c.execute(
                        "UPDATE deliveries SET state = 'failed', note = 'unreadable job' WHERE id = $1",
                        &[&delivery],
                    )
                    .await
                    .map_err(|e| db("fail an unreadable job", e))?;
                    Err(QueueError::Database {
                        what: format!("job {delivery} is not valid JSON"),
                        source: Box::new(source),
                    })
                }
            }
        })
    }

    fn finish(&self, delivery: &str, note: &str) -> Result<(), QueueError> {
        self.run(async {
            self.execute(
                "finish",
                "UPDATE deliveries SET state = 'done', note = $2, finished = finished + 1 WHERE id = $1",
                &[&delivery, &note],
            )
            .await
            .map(drop)
        })
    }

    fn fail(&self, delivery: &str, error: &str, retry_at: Option<i64>) -> Result<(), QueueError> {
        self.run(async {
            match retry_at {
                Some(at) => self.execute(
                    "fail",
                    "UPDATE deliveries SET state = 'queued', attempts = attempts + 1, next_at = $2, note = $3 WHERE id = $1",
                    &[&delivery, &at, &error],
                ).await,
                None => self.execute(
                    "fail",
                    "UPDATE deliveries SET state = 'failed', attempts = attempts + 1, note = $2 WHERE id = $1",
                    &[&delivery, &error],
                ).await,
            }
            .map(drop)
        })
    }

    fn postpone(&self, delivery: &str, at: i64, note: &str) -> Result<(), QueueError> {
        self.run(async {
            self.execute(
                "postpone",
                "UPDATE deliveries SET state = 'queued', next_at = $2, note = $3 WHERE id = $1",
                &[&delivery, &at, &note],
            )
            .await
            .map(drop)
        })
    }

    /// The next due job of a leased repository, but never later than a
    /// short poll from now: other processes take deliveries too.
    fn next_due(&self) -> Result<Option<i64>, QueueError> {
        let now = now_ms();
        self.run(async {
            let c = self.client().await?;
            let row = c
                .query_one(
                    "SELECT MIN(d.next_at) FROM deliveries d
                     JOIN leases l ON l.repo = d.repo AND l.owner = $1
                     WHERE d.state = 'queued'",
                    &[&self.worker],
                )
                .await
                .map_err(|e| db("next due", e))?;
            let due: Option<i64> = row.get(0);
            Ok(Some(due.map_or(now + POLL_MS, |d| d.min(now + POLL_MS))))
        })
    }

    fn counts(&self) -> Result<QueueCounts, QueueError> {
        self.run(async {
            let c = self.client().await?;
            let rows = c
                .query("SELECT state, COUNT(*) FROM deliveries GROUP BY state", &[])
                .await
                .map_err(|e| db("counts", e))?;
            let mut out = QueueCounts::default();
            for r in rows {
                let (state, n): (String, i64) = (r.get(0), r.get(1));
                out.add(&state, uint(n));
            }
            Ok(out)
        })
    }

    fn delivery_state(
        &self,
        delivery: &str,
    ) -> Result<Option<(String, Option<String>)>, QueueError> {
        self.run(async {
            let c = self.client().await?;
            let row = c
                .query_opt(
                    "SELECT state, note FROM deliveries WHERE id = $1",
                    &[&delivery],
                )
                .await
                .map_err(|e| db("delivery state", e))?;
            Ok(row.map(|r| (r.get(0), r.get(1))))
        })
    }

    fn result(&self, repo: &str, number: u64) -> Result<Option<StoredResult>, QueueError> {
        self.run(async {
            let c = self.client().await?;
            let row = c
                .query_opt(
                    &format!(
                        "SELECT {RESULT_COLUMNS} FROM results WHERE repo = $1 AND number = $2"
                    ),
                    &[&repo, &int(number)],
                )
                .await
                .map_err(|e| db("result", e))?;
            Ok(row.as_ref().map(stored))
        })
    }

    fn recent_results(&self, limit: usize) -> Result<Vec<StoredResult>, QueueError> {
        self.run(async {
            let c = self.client().await?;
            let rows = c
                .query(
                    &format!(
                        "SELECT {RESULT_COLUMNS} FROM results ORDER BY updated_at DESC, number DESC LIMIT $1"
                    ),
                    &[&int(limit as u64)],
                )
                .await
                .map_err(|e| db("recent results", e))?;
            Ok(rows.iter().map(stored).collect())
        })
    }

    fn store_result(
        &self,
        repo: &str,
        number: u64,
        kind: TargetKind,
        prediction: &serde_json::Value,
        notebook_commit: Option<&str>,
        delivery: &str,
    ) -> Result<(), QueueError> {
        let kind = kind.as_str();
        let prediction = prediction.to_string();
        self.run(async {
            self.execute(
                "store result",
                "INSERT INTO results (repo, number, kind, prediction, notebook_commit, delivery, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (repo, number) DO UPDATE SET kind = $3, prediction = $4,
                     notebook_commit = $5, delivery = $6, updated_at = $7",
                &[&repo, &int(number), &kind, &prediction, &notebook_commit, &delivery, &now_ms()],
            )
            .await
            .map(drop)
        })
    }

    fn set_comment_id(&self, repo: &str, number: u64, id: u64) -> Result<(), QueueError> {
        self.run(async {
            self.execute(
                "set comment id",
                "UPDATE results SET comment_id = $3 WHERE repo = $1 AND number = $2",
                &[&repo, &int(number), &int(id)],
            )
            .await
            .map(drop)
        })
    }

    fn prune(&self, max_age_ms: i64) -> Result<Pruned, QueueError> {
        let before = now_ms() - max_age_ms;
        self.run(async {
            let mut c = self.client().await?;
            let tx = c.transaction().await.map_err(|e| db("prune", e))?;
            let deliveries = tx
                .execute(PRUNE_DELIVERIES, &[&before])
                .await
                .map_err(|e| db("prune deliveries", e))?;
            let results = tx
                .execute(PRUNE_RESULTS, &[&before])
                .await
                .map_err(|e| db("prune results", e))?;
            tx.commit().await.map_err(|e| db("prune", e))?;
            let n = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
            Ok(Pruned {
                deliveries: n(deliveries),
                results: n(results),
            })
        })
    }
}
