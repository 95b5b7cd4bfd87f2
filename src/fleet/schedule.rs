//! Which held repository sleeps next: pure arithmetic over each one's
//! [`Health`], so it is tested without git or time passing.
//!
//! A repository is *due* when it has never slept, when a push asked for a
//! fetch, or when `refresh` has passed since its last sleep; one that
//! failed waits out its backoff first (`base · 2^(failures-1)`, capped).
//! Due repositories go by how long they have waited, weighted by how busy
//! they are (deliveries in the last hour, at most [`MAX_BUSY_WEIGHT`]
//! times): a busy repository goes first among equals, but the wait of the
//! others grows until it outweighs any busyness, so none is starved.

use std::time::Duration;

/// The most a repository's busyness multiplies its wait.
pub const MAX_BUSY_WEIGHT: f64 = 4.0;

/// What the scheduler knows of one repository, in milliseconds since the
/// epoch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Health {
    /// The end of the last successful sleep.
    pub last_sleep_ok: Option<i64>,
    /// A push (or an installation event) asked for a fetch at this time.
    pub fetch_asked: Option<i64>,
    /// Failures (fetch or sleep) in a row.
    pub failures: u32,
    /// When the last failure happened.
    pub last_failure_at: Option<i64>,
    /// Why the last attempt failed, while it is not followed by a success.
    pub last_error: Option<String>,
    /// Deliveries admitted in the last hour, newest last.
    pub recent_deliveries: Vec<i64>,
    pub sleeps_ok: u64,
    pub sleep_failures: u64,
    pub fetch_failures: u64,
}

/// How the scheduler paces repositories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pacing {
    pub refresh: Duration,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
}

const HOUR_MS: i64 = 3_600_000;

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The wait after `failures` failures in a row.
pub fn backoff(p: &Pacing, failures: u32) -> Duration {
    if failures == 0 {
        return Duration::ZERO;
    }
    let factor = 2u32.saturating_pow(failures.saturating_sub(1).min(30));
    p.backoff_base
        .saturating_mul(factor)
        .min(p.backoff_max.max(p.backoff_base))
}

impl Health {
    /// When the repository may be tried again after its failures; `None`
    /// when it is not backing off.
    pub fn retry_at(&self, p: &Pacing) -> Option<i64> {
        let at = self.last_failure_at? + ms(backoff(p, self.failures));
        (self.failures > 0).then_some(at)
    }

    /// Since when the repository has been due, or `None` when it is not
    /// (yet) due at `now`.
    pub fn due_since(&self, p: &Pacing, now: i64) -> Option<i64> {
        if let Some(at) = self.retry_at(p) {
            if at > now {
                return None;
            }
            return Some(at);
        }
        let since = match (self.last_sleep_ok, self.fetch_asked) {
            (None, asked) => asked.unwrap_or(0).min(now),
            // Asked during or after the last sleep: only asks older than
            // a sleep's start are cleared by it.
            (Some(_), Some(asked)) => asked,
            (Some(done), None) => done.saturating_add(ms(p.refresh)),
        };
        (since <= now).then_some(since)
    }

    /// Deliveries in the hour before `now`.
    pub fn busyness(&self, now: i64) -> usize {
        self.recent_deliveries
            .iter()
            .filter(|&&t| t > now - HOUR_MS)
            .count()
    }

    /// The order key (higher first) when due: the wait, in seconds, times
    /// a busyness weight between 1 and [`MAX_BUSY_WEIGHT`]. A repository
    /// that never slept comes before every one that has.
    pub fn priority(&self, p: &Pacing, now: i64) -> Option<f64> {
        let since = self.due_since(p, now)?;
        let waited = (now - since).max(0) as f64 / 1000.0 + 1.0;
        let weight = (1.0 + self.busyness(now) as f64 / 10.0).min(MAX_BUSY_WEIGHT);
        let first = if self.last_sleep_ok.is_none() && self.failures == 0 {
            1e12
        } else {
            0.0
        };
        Some(first + waited * weight)
    }

    /// Counts a delivery and forgets those older than an hour.
    pub fn delivered(&mut self, now: i64) {
        self.recent_deliveries.retain(|&t| t > now - HOUR_MS);
        self.recent_deliveries.push(now);
    }

    /// A fetch and a sleep succeeded; `started` is when they began (a push
    /// during the sleep keeps the repository due).
    pub fn succeeded(&mut self, started: i64, now: i64) {
        self.last_sleep_ok = Some(now);
        if self.fetch_asked.is_some_and(|a| a <= started) {
            self.fetch_asked = None;
        }
        self.failures = 0;
        self.last_failure_at = None;
        self.last_error = None;
        self.sleeps_ok += 1;
    }

    /// A fetch (`fetch` true) or a sleep failed.
    pub fn failed(&mut self, fetch: bool, why: String, now: i64) {
        self.failures = self.failures.saturating_add(1);
        self.last_failure_at = Some(now);
        self.last_error = Some(why);
        if fetch {
            self.fetch_failures += 1;
        } else {
            self.sleep_failures += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pacing() -> Pacing {
        Pacing {
            refresh: Duration::from_secs(900),
            backoff_base: Duration::from_secs(30),
            backoff_max: Duration::from_secs(3600),
        }
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = pacing();
        assert_eq!(backoff(&p, 0), Duration::ZERO);
        assert_eq!(backoff(&p, 1), Duration::from_secs(30));
        assert_eq!(backoff(&p, 2), Duration::from_secs(60));
        assert_eq!(backoff(&p, 5), Duration::from_secs(480));
        assert_eq!(backoff(&p, 8), Duration::from_secs(3600));
        assert_eq!(backoff(&p, 400), Duration::from_secs(3600));
    }

    #[test]
    fn a_failing_repository_waits_out_its_backoff() {
        let p = pacing();
        let mut h = Health::default();
        h.failed(true, "git fetch failed".into(), 1_000_000);
        h.failed(true, "git fetch failed".into(), 1_000_000);
        assert_eq!(h.retry_at(&p), Some(1_060_000));
        assert_eq!(h.priority(&p, 1_059_999), None);
        assert!(h.priority(&p, 1_060_000).is_some());
        assert_eq!(h.fetch_failures, 2);
        h.succeeded(1_060_000, 1_070_000);
        assert_eq!((h.failures, h.last_error.clone()), (0, None));
        assert_eq!(h.priority(&p, 1_070_000 + 899_999), None, "fresh");
        assert!(h.priority(&p, 1_070_000 + 900_000).is_some(), "stale");
    }

    #[test]
    fn a_push_makes_a_fresh_repository_due_and_survives_a_running_sleep() {
        let p = pacing();
        let mut h = Health::default();
        h.succeeded(0, 10_000);
        assert_eq!(h.priority(&p, 20_000), None);
        h.fetch_asked = Some(15_000);
        assert!(h.priority(&p, 20_000).is_some());
        // The push came while the sleep that started at 12 s ran.
        h.succeeded(12_000, 30_000);
        assert!(h.priority(&p, 30_000).is_some(), "still due");
        h.succeeded(30_000, 40_000);
        assert_eq!(h.priority(&p, 40_000), None);
    }

    #[test]
    fn busy_goes_first_among_equals_but_never_starves_the_others() {
        let p = pacing();
        let now = 10_000_000;
        let mut busy = Health::default();
        busy.succeeded(0, 1);
        for i in 0..100 {
            busy.delivered(now - 1000 * i);
        }
        let mut quiet = Health::default();
        quiet.succeeded(0, 1);
        busy.fetch_asked = Some(now - 10_000);
        quiet.fetch_asked = Some(now - 10_000);
        let (b, q) = (
            busy.priority(&p, now).expect("due"),
            quiet.priority(&p, now).expect("due"),
        );
        assert!(b > q, "{b} vs {q}");
        // One sleep at a time, 10 s each; the busy repository is pushed to
        // at the start of every one of its sleeps. The quiet one still gets
        // its turn within a few rounds.
        let mut t = now;
        let mut rounds = 0;
        loop {
            rounds += 1;
            assert!(rounds <= 5, "the quiet repository waited {rounds} rounds");
            let (b, q) = (busy.priority(&p, t), quiet.priority(&p, t));
            if q > b {
                break;
            }
            busy.fetch_asked = Some(t + 1);
            t += 10_000;
            busy.succeeded(t - 10_000, t);
        }
        assert!(rounds > 1, "the busy one went first");
        assert_eq!(busy.busyness(now + 3_600_000 + 1), 0, "an hour later");
        assert!(Health::default().priority(&p, now).expect("new") > 1e9);
    }
}
