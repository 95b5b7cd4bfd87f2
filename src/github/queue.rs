//! The persistent delivery queue, `github.sqlite` in the state directory.
//!
//! Every delivery is stored under its `X-GitHub-Delivery` id before the
//! webhook is answered, so a redelivery (even after a restart) is recognised
//! and nothing received is lost. A job moves `queued` → `running` → `done`
//! (or back to `queued` with a later `next_at` after a transient failure,
//! or `failed` after the last attempt). At start-up, jobs left `running` by
//! a killed process go back to `queued`; the work itself is idempotent (the
//! comment is updated in place), so redoing it does nothing twice.
//!
//! The `results` table keeps the newest prediction per pull request or
//! issue, and the id of the comment that shows it.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::events::{Job, TargetKind};
use super::job_queue::DeliveryRow;

pub const QUEUE_FILE: &str = "github.sqlite";

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("the delivery queue {}: {source}", path.display())]
    Sql {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("the delivery queue {}: job {id} is not valid JSON: {source}", path.display())]
    Job {
        path: PathBuf,
        id: String,
        source: serde_json::Error,
    },
    /// The PostgreSQL queue of a fleet (`what` names the statement).
    #[error("the delivery queue in postgresql: {what}")]
    Database {
        what: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("cannot create the state directory {}: {source}", path.display())]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Whether [`Queue::record`] stored something new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    New,
    /// The delivery id was seen before; nothing was stored.
    Duplicate,
}

/// A job taken from the queue.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub delivery: String,
    pub job: Job,
    /// Attempts before this one.
    pub attempts: u32,
}

/// The stored outcome for one pull request or issue.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredResult {
    pub repo: String,
    pub number: u64,
    pub kind: String,
    pub comment_id: Option<u64>,
    pub prediction: serde_json::Value,
    pub notebook_commit: Option<String>,
    pub delivery: String,
    pub updated_at: i64,
}

/// Counts by state, for `/status` and `/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct QueueCounts {
    pub queued: u64,
    pub running: u64,
    pub done: u64,
    pub failed: u64,
    pub ignored: u64,
}

impl QueueCounts {
    /// Counts `n` deliveries in `state` (a state column's value; a state
    /// other than queued, running, done and failed counts as ignored).
    pub fn add(&mut self, state: &str, n: u64) {
        let slot = match state {
            "queued" => &mut self.queued,
            "running" => &mut self.running,
            "done" => &mut self.done,
            "failed" => &mut self.failed,
            _ => &mut self.ignored,
        };
        *slot += n;
    }
}

/// The queue; one connection behind a mutex (every statement is short).
pub struct Queue {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue").field("path", &self.path).finish()
    }
}

const SCHEMA_TABLES: &str = "
CREATE TABLE IF NOT EXISTS deliveries (
    id TEXT PRIMARY KEY,
    event TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed', 'ignored')),
    job TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at INTEGER NOT NULL DEFAULT 0,
    note TEXT,
    -- Job::supersede_key: a newer queued job with the same key supersedes this one.
    target TEXT
);
CREATE TABLE IF NOT EXISTS results (
    repo TEXT NOT NULL,
    number INTEGER NOT NULL,
    kind TEXT NOT NULL,
    comment_id INTEGER,
    prediction TEXT NOT NULL,
    notebook_commit TEXT,
    delivery TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (repo, number)
);
";

const SCHEMA_INDEXES: &str = "
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, next_at);
CREATE INDEX IF NOT EXISTS deliveries_target ON deliveries (target, state);
";

/// GitHub numbers and ids fit in SQLite's signed integers.
fn to_sql_int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn from_sql_int(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Queue {
    /// Opens (creating if needed) the queue in `state_dir`, and puts jobs a
    /// killed process left `running` back in the queue.
    pub fn open(state_dir: &Path) -> Result<Queue, QueueError> {
        std::fs::create_dir_all(state_dir).map_err(|source| QueueError::Dir {
            path: state_dir.to_path_buf(),
            source,
        })?;
        let path = state_dir.join(QUEUE_FILE);
        let sql = |source| QueueError::Sql {
            path: path.clone(),
            source,
        };
        let conn = Connection::open(&path).map_err(sql)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(sql)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sql)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(sql)?;
        conn.execute_batch(SCHEMA_TABLES).map_err(sql)?;
        let has_target: bool = conn
            .query_row(
                "SELECT count(*) FROM pragma_table_info('deliveries') WHERE name = 'target'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map_err(sql)?
            > 0;
        if !has_target {
            conn.execute_batch("ALTER TABLE deliveries ADD COLUMN target TEXT")
                .map_err(sql)?;
        }
        conn.execute_batch(SCHEMA_INDEXES).map_err(sql)?;
        let recovered = conn
            .execute(
                "UPDATE deliveries SET state = 'queued' WHERE state = 'running'",
                [],
            )
            .map_err(sql)?;
        if recovered > 0 {
            tracing::warn!("{recovered} job(s) were interrupted by a stop; they run again");
        }
        Ok(Queue {
            path,
            conn: Mutex::new(conn),
        })
    }

    fn sql(&self, source: rusqlite::Error) -> QueueError {
        QueueError::Sql {
            path: self.path.clone(),
            source,
        }
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores a delivery: with a job it is queued, without one it is kept
    /// (as `done` for a ping, `ignored` otherwise) only so that a
    /// redelivery is recognised.
    pub fn record(
        &self,
        delivery: &str,
        event: &str,
        job: Option<&Job>,
        note: &str,
    ) -> Result<Recorded, QueueError> {
        let row = DeliveryRow::new(event, job);
        let n = self
            .conn()
            .execute(
                "INSERT OR IGNORE INTO deliveries (id, event, received_at, state, job, note, target)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![delivery, event, now_ms(), row.state, row.job, note, row.target],
            )
            .map_err(|e| self.sql(e))?;
        Ok(if n == 1 {
            Recorded::New
        } else {
            Recorded::Duplicate
        })
    }

    /// Takes the oldest due job and marks it `running`. A job with a newer
    /// queued job of the same [`Job::supersede_key`] is skipped (marked
    /// done, superseded): a burst of edits costs one prediction, a burst of
    /// pushes one fetch.
    pub fn claim(&self, now: i64) -> Result<Option<Claimed>, QueueError> {
        let conn = self.conn();
        let superseded = conn
            .execute(
                "UPDATE deliveries SET state = 'done', note = 'superseded by a newer delivery'
                 WHERE state = 'queued' AND target IS NOT NULL AND EXISTS (
                     SELECT 1 FROM deliveries newer
                     WHERE newer.target = deliveries.target AND newer.state = 'queued'
                       AND (newer.received_at > deliveries.received_at
                            OR (newer.received_at = deliveries.received_at AND newer.rowid > deliveries.rowid)))",
                [],
            )
            .map_err(|e| self.sql(e))?;
        if superseded > 0 {
            tracing::info!("{superseded} queued prediction(s) superseded by newer deliveries");
        }
        let row: Option<(String, String, u32)> = conn
            .query_row(
                "UPDATE deliveries SET state = 'running'
                 WHERE id = (SELECT id FROM deliveries WHERE state = 'queued' AND next_at <= ?1
                             ORDER BY received_at, rowid LIMIT 1)
                 RETURNING id, job, attempts",
                params![now],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(|e| self.sql(e))?;
        let Some((delivery, job, attempts)) = row else {
            return Ok(None);
        };
        match serde_json::from_str(&job) {
            Ok(job) => Ok(Some(Claimed {
                delivery,
                job,
                attempts,
            })),
            Err(source) => {
                conn.execute(
                    "UPDATE deliveries SET state = 'failed', note = 'unreadable job' WHERE id = ?1",
                    params![delivery],
                )
                .map_err(|e| self.sql(e))?;
                Err(QueueError::Job {
                    path: self.path.clone(),
                    id: delivery,
                    source,
                })
            }
        }
    }

    /// The job finished (`note` says how, e.g. why it was skipped).
    pub fn finish(&self, delivery: &str, note: &str) -> Result<(), QueueError> {
        self.conn()
            .execute(
                "UPDATE deliveries SET state = 'done', note = ?2 WHERE id = ?1",
                params![delivery, note],
            )
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// The job failed; it is queued again at `retry_at` (ms), or marked
    /// `failed` when `retry_at` is `None`.
    pub fn fail(
        &self,
        delivery: &str,
        error: &str,
        retry_at: Option<i64>,
    ) -> Result<(), QueueError> {
        let conn = self.conn();
        let r = match retry_at {
            Some(at) => conn.execute(
                "UPDATE deliveries SET state = 'queued', attempts = attempts + 1, next_at = ?2, note = ?3
                 WHERE id = ?1",
                params![delivery, at, error],
            ),
            None => conn.execute(
                "UPDATE deliveries SET state = 'failed', attempts = attempts + 1, note = ?2 WHERE id = ?1",
                params![delivery, error],
            ),
        };
        r.map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// Puts a job back until `at` (ms) without counting an attempt: it
    /// could not start (no notebook yet).
    pub fn postpone(&self, delivery: &str, at: i64, note: &str) -> Result<(), QueueError> {
        self.conn()
            .execute(
                "UPDATE deliveries SET state = 'queued', next_at = ?2, note = ?3 WHERE id = ?1",
                params![delivery, at, note],
            )
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// When the next queued job is due (ms), if any.
    pub fn next_due(&self) -> Result<Option<i64>, QueueError> {
        self.conn()
            .query_row(
                "SELECT MIN(next_at) FROM deliveries WHERE state = 'queued'",
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.sql(e))
    }

    pub fn counts(&self) -> Result<QueueCounts, QueueError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached("SELECT state, COUNT(*) FROM deliveries GROUP BY state")
            .map_err(|e| self.sql(e))?;
        let mut c = QueueCounts::default();
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .map_err(|e| self.sql(e))?;
        for row in rows {
            let (state, n) = row.map_err(|e| self.sql(e))?;
            c.add(&state, u64::try_from(n).unwrap_or(0));
        }
        Ok(c)
    }

    /// The state and note of one delivery (tests and `status`).
    pub fn delivery_state(
        &self,
        delivery: &str,
    ) -> Result<Option<(String, Option<String>)>, QueueError> {
        self.conn()
            .query_row(
                "SELECT state, note FROM deliveries WHERE id = ?1",
                params![delivery],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| self.sql(e))
    }

    /// The stored result for a pull request or issue.
    pub fn result(&self, repo: &str, number: u64) -> Result<Option<StoredResult>, QueueError> {
        self.conn()
            .query_row(
                "SELECT repo, number, kind, comment_id, prediction, notebook_commit, delivery, updated_at
                 FROM results WHERE repo = ?1 AND number = ?2",
                params![repo, to_sql_int(number)],
                |r| {
                    let text: String = r.get(4)?;
                    Ok(StoredResult {
                        repo: r.get(0)?,
                        number: from_sql_int(r.get(1)?),
                        kind: r.get(2)?,
                        comment_id: r.get::<_, Option<i64>>(3)?.map(from_sql_int),
                        prediction: serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
                        notebook_commit: r.get(5)?,
                        delivery: r.get(6)?,
                        updated_at: r.get(7)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.sql(e))
    }

    /// The `limit` most recently updated results, newest first.
    pub fn recent_results(&self, limit: usize) -> Result<Vec<StoredResult>, QueueError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT repo, number, kind, comment_id, prediction, notebook_commit, delivery, updated_at
                 FROM results ORDER BY updated_at DESC, number DESC LIMIT ?1",
            )
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map(params![to_sql_int(limit as u64)], |r| {
                let text: String = r.get(4)?;
                Ok(StoredResult {
                    repo: r.get(0)?,
                    number: from_sql_int(r.get(1)?),
                    kind: r.get(2)?,
                    comment_id: r.get::<_, Option<i64>>(3)?.map(from_sql_int),
                    prediction: serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
                    notebook_commit: r.get(5)?,
                    delivery: r.get(6)?,
                    updated_at: r.get(7)?,
                })
            })
            .map_err(|e| self.sql(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.sql(e))
    }

    /// Stores the newest prediction for a pull request or issue, keeping
    /// the comment id already known unless a new one is given.
    pub fn store_result(
        &self,
        repo: &str,
        number: u64,
        kind: TargetKind,
        prediction: &serde_json::Value,
        notebook_commit: Option<&str>,
        delivery: &str,
    ) -> Result<(), QueueError> {
        let kind = kind.as_str();
        self.conn()
            .execute(
                "INSERT INTO results (repo, number, kind, prediction, notebook_commit, delivery, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (repo, number) DO UPDATE SET kind = ?3, prediction = ?4,
                     notebook_commit = ?5, delivery = ?6, updated_at = ?7",
                params![repo, to_sql_int(number), kind, prediction.to_string(), notebook_commit, delivery, now_ms()],
            )
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    pub fn set_comment_id(&self, repo: &str, number: u64, id: u64) -> Result<(), QueueError> {
        self.conn()
            .execute(
                "UPDATE results SET comment_id = ?3 WHERE repo = ?1 AND number = ?2",
                params![repo, to_sql_int(number), to_sql_int(id)],
            )
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// Forgets finished deliveries received, and results last updated,
    /// more than `max_age_ms` ago (GitHub offers redelivery for a few
    /// days; a forgotten result's comment is found again by its marker).
    /// Queued and running deliveries are kept whatever their age.
    pub fn prune(&self, max_age_ms: i64) -> Result<Pruned, QueueError> {
        let before = now_ms() - max_age_ms;
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(|e| self.sql(e))?;
        let deliveries = tx
            .execute(PRUNE_DELIVERIES, params![before])
            .map_err(|e| self.sql(e))?;
        let results = tx
            .execute(PRUNE_RESULTS, params![before])
            .map_err(|e| self.sql(e))?;
        tx.commit().map_err(|e| self.sql(e))?;
        Ok(Pruned {
            deliveries,
            results,
        })
    }
}

/// Finished deliveries received before `?1` / `$1` (ms).
pub const PRUNE_DELIVERIES: &str =
    "DELETE FROM deliveries WHERE state IN ('done', 'ignored', 'failed') AND received_at < $1";
/// Results last updated before `?1` / `$1` (ms).
pub const PRUNE_RESULTS: &str = "DELETE FROM results WHERE updated_at < $1";

/// What [`Queue::prune`] forgot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub deliveries: usize,
    pub results: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::github::events::Target;

    #[test]
    fn counts_add_up_per_state_and_unknown_states_are_ignored_ones() {
        let mut c = QueueCounts::default();
        for (state, n) in [
            ("queued", 3),
            ("running", 1),
            ("done", 7),
            ("failed", 2),
            ("ignored", 4),
            ("refused", 5),
        ] {
            c.add(state, n);
        }
        c.add("done", 1);
        assert_eq!(
            (c.queued, c.running, c.done, c.failed, c.ignored),
            (3, 1, 8, 2, 9)
        );
    }

    fn job(n: u64) -> Job {
        Job::Predict {
            target: Target {
                repo: "o/r".into(),
                number: n,
                kind: TargetKind::PullRequest,
                title: "t".into(),
                body: String::new(),
                base_ref: Some("main".into()),
                html_url: String::new(),
                installation_id: None,
            },
            why: "test".into(),
        }
    }

    #[test]
    fn dedupe_survives_reopen_and_running_jobs_come_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let q = Queue::open(dir.path()).expect("open");
        assert_eq!(
            q.record("d1", "pull_request", Some(&job(1)), "")
                .expect("record"),
            Recorded::New
        );
        assert_eq!(
            q.record("d1", "pull_request", Some(&job(1)), "")
                .expect("record"),
            Recorded::Duplicate
        );
        assert_eq!(
            q.record("p", "ping", None, "").expect("record"),
            Recorded::New
        );
        let claimed = q.claim(now_ms()).expect("claim").expect("a job");
        assert_eq!(claimed.delivery, "d1");
        assert!(q.claim(now_ms()).expect("claim").is_none(), "one job only");
        drop(q);
        // A stop while the job ran: it is queued again, and still deduplicated.
        let q = Queue::open(dir.path()).expect("reopen");
        assert_eq!(
            q.record("d1", "pull_request", Some(&job(1)), "")
                .expect("record"),
            Recorded::Duplicate
        );
        let again = q.claim(now_ms()).expect("claim").expect("recovered");
        assert_eq!(again.job, job(1));
        q.finish("d1", "ok").expect("finish");
        assert_eq!(
            q.counts().expect("counts"),
            QueueCounts {
                done: 2,
                ..QueueCounts::default()
            }
        );
    }

    #[test]
    fn a_newer_prediction_supersedes_a_queued_one_but_not_a_command() {
        let dir = tempfile::tempdir().expect("tempdir");
        let q = Queue::open(dir.path()).expect("open");
        q.record("e1", "pull_request", Some(&job(5)), "")
            .expect("record");
        q.record("e2", "pull_request", Some(&job(5)), "")
            .expect("record");
        q.record("other", "pull_request", Some(&job(6)), "")
            .expect("record");
        let command = Job::Command {
            target: job(5).target().expect("a prediction").clone(),
            user: "octocat".into(),
        };
        q.record("cmd", "issue_comment", Some(&command), "")
            .expect("record");
        q.record("e3", "pull_request", Some(&job(5)), "")
            .expect("record");
        let mut order = Vec::new();
        while let Some(c) = q.claim(now_ms()).expect("claim") {
            q.finish(&c.delivery, "ok").expect("finish");
            order.push(c.delivery);
        }
        assert_eq!(order, ["other", "cmd", "e3"]);
        let (state, note) = q.delivery_state("e1").expect("state").expect("stored");
        assert_eq!(state, "done");
        assert!(note.unwrap_or_default().contains("superseded"));
    }

    #[test]
    fn failures_retry_later_then_fail() {
        let dir = tempfile::tempdir().expect("tempdir");
        let q = Queue::open(dir.path()).expect("open");
        q.record("d", "issues", Some(&job(2)), "").expect("record");
        let c = q.claim(0).expect("claim").expect("job");
        q.fail(&c.delivery, "github said 500", Some(10_000))
            .expect("fail");
        assert!(q.claim(9_999).expect("claim").is_none(), "not due yet");
        assert_eq!(q.next_due().expect("due"), Some(10_000));
        let c = q.claim(10_000).expect("claim").expect("due now");
        assert_eq!(c.attempts, 1);
        q.fail(&c.delivery, "github said 500", None).expect("fail");
        assert_eq!(
            q.delivery_state("d").expect("state"),
            Some(("failed".into(), Some("github said 500".into())))
        );
    }

    #[test]
    fn results_keep_their_comment_id() {
        let dir = tempfile::tempdir().expect("tempdir");
        let q = Queue::open(dir.path()).expect("open");
        let v = serde_json::json!({"files": []});
        q.store_result("o/r", 3, TargetKind::Issue, &v, Some("abc"), "d1")
            .expect("store");
        q.set_comment_id("o/r", 3, 77).expect("set id");
        q.store_result("o/r", 3, TargetKind::Issue, &v, Some("def"), "d2")
            .expect("store");
        let r = q.result("o/r", 3).expect("read").expect("stored");
        assert_eq!(r.comment_id, Some(77));
        assert_eq!(r.notebook_commit.as_deref(), Some("def"));
        assert_eq!(r.delivery, "d2");
    }

    #[test]
    fn prune_forgets_old_finished_deliveries_and_old_results_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let q = Queue::open(dir.path()).expect("open");
        let v = serde_json::json!({"files": []});
        for (id, n) in [("old-done", 1), ("old-queued", 2), ("new-done", 3)] {
            q.record(id, "pull_request", Some(&job(n)), "")
                .expect("record");
            q.store_result("o/r", n, TargetKind::PullRequest, &v, None, id)
                .expect("store");
        }
        for id in ["old-done", "new-done"] {
            q.finish(id, "ok").expect("finish");
        }
        let day = 24 * 3600 * 1000;
        q.conn()
            .execute_batch(&format!(
                "UPDATE deliveries SET received_at = received_at - {} WHERE id LIKE 'old-%';
                 UPDATE results SET updated_at = updated_at - {} WHERE number IN (1, 2);",
                40 * day,
                40 * day
            ))
            .expect("backdate");
        let pruned = q.prune(30 * day).expect("prune");
        assert_eq!(
            pruned,
            Pruned {
                deliveries: 1,
                results: 2
            }
        );
        assert!(q.delivery_state("old-done").expect("read").is_none());
        assert!(
            q.delivery_state("old-queued").expect("read").is_some(),
            "queued work stays"
        );
        assert!(q.delivery_state("new-done").expect("read").is_some());
        assert!(q.result("o/r", 1).expect("read").is_none());
        assert!(q.result("o/r", 3).expect("read").is_some());
        assert_eq!(q.prune(30 * day).expect("prune"), Pruned::default());
    }
}
