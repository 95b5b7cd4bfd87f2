//! When to try a call again and how long to wait: 429, 408 and 5xx answers
//! and connection errors are retried with exponential backoff, or after the
//! delay the server asked for (`retry-after` in seconds, or OpenAI's
//! `retry-after-ms`), up to a hard cap on attempts. Pure.

use std::time::Duration;

/// Longest wait between two attempts, whatever the server asks.
pub const MAX_DELAY: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1).
    pub max_attempts: u32,
    /// Wait before the second attempt; doubles each time.
    pub base: Duration,
}

impl RetryPolicy {
    /// The wait before attempt `next` (2 for the first retry).
    pub fn delay(&self, next: u32, asked: Option<Duration>) -> Duration {
        let backoff = self
            .base
            .saturating_mul(1u32 << next.saturating_sub(2).min(16));
        asked.unwrap_or(backoff).min(MAX_DELAY)
    }
}

/// Whether an HTTP status is worth another attempt.
pub fn retryable(status: u16) -> bool {
    status == 429 || status == 408 || status == 529 || (500..600).contains(&status)
}

/// The delay a server asked for: `retry-after-ms` (milliseconds) or
/// `retry-after` (seconds; an HTTP date is ignored and backoff used).
pub fn asked_delay(retry_after: Option<&str>, retry_after_ms: Option<&str>) -> Option<Duration> {
    if let Some(ms) = retry_after_ms.and_then(|v| v.trim().parse::<f64>().ok())
        && ms.is_finite()
        && ms >= 0.0
    {
        return Some(Duration::from_millis(ms as u64));
    }
    let secs = retry_after?.trim().parse::<f64>().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_millis((secs * 1000.0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_honours_the_server() {
        let p = RetryPolicy {
            max_attempts: 5,
            base: Duration::from_millis(100),
        };
        assert_eq!(p.delay(2, None), Duration::from_millis(100));
        assert_eq!(p.delay(3, None), Duration::from_millis(200));
        assert_eq!(p.delay(4, None), Duration::from_millis(400));
        assert_eq!(
            p.delay(2, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
        assert_eq!(p.delay(2, Some(Duration::from_secs(3600))), MAX_DELAY);
        assert_eq!(p.delay(40, None), MAX_DELAY);
    }

    #[test]
    fn statuses_and_headers() {
        for s in [429, 408, 500, 502, 503, 529] {
            assert!(retryable(s), "{s}");
        }
        for s in [200, 400, 401, 403, 404, 422] {
            assert!(!retryable(s), "{s}");
        }
        assert_eq!(asked_delay(Some("2"), None), Some(Duration::from_secs(2)));
        assert_eq!(
            asked_delay(Some("0.5"), None),
            Some(Duration::from_millis(500))
        );
        assert_eq!(
            asked_delay(Some("9"), Some("20")),
            Some(Duration::from_millis(20))
        );
        assert_eq!(
            asked_delay(Some("Wed, 21 Oct 2015 07:28:00 GMT"), None),
            None
        );
        assert_eq!(asked_delay(Some("-1"), None), None);
        assert_eq!(asked_delay(None, None), None);
    }
}
