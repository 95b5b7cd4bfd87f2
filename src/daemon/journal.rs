//! What the daemon did lately, for its page: the last sleeps (when, how
//! long, what they read) and the last predictions `POST /predict`
//! answered (the request's first words, the files and their reasons).
//! Kept in memory, a few of each; nothing here is written to disk.

use std::collections::VecDeque;
use std::sync::Mutex;

use serde::Serialize;

/// Sleeps and predictions kept.
const KEEP: usize = 12;
/// Characters of a request kept (its first line, then cut).
const REQUEST_CHARS: usize = 200;
/// Files kept per prediction.
const FILES: usize = 8;

/// One finished (or failed) sleep.
#[derive(Debug, Clone, Serialize)]
pub struct SleepEntry {
    /// Unix seconds when it ended.
    pub at: u64,
    pub seconds: f64,
    pub ok: bool,
    /// The commit it indexed (`None`: a work tree without one, or failed).
    pub commit: Option<String>,
    pub files: usize,
    pub blobs_new: usize,
    pub commits_mined: usize,
    /// cl100k tokens of the content read (new blobs only).
    pub tokens_read: u64,
    /// Past pull requests replayed by the learning pass.
    pub replayed: usize,
    /// Why it failed.
    pub error: Option<String>,
}

/// One file of a prediction, as the page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct FileEntry {
    pub path: String,
    pub score: f64,
    pub reason: String,
}

/// One prediction answered through the API.
#[derive(Debug, Clone, Serialize)]
pub struct PredictionEntry {
    pub at: u64,
    /// The request's first line, cut to a few hundred characters.
    pub request: String,
    pub policy: String,
    pub files: Vec<FileEntry>,
    pub tokens_used: u64,
    pub budget: u64,
}

/// The last few sleeps and predictions.
#[derive(Debug, Default)]
pub struct Journal {
    sleeps: Mutex<VecDeque<SleepEntry>>,
    predictions: Mutex<VecDeque<PredictionEntry>>,
}

/// Unix seconds now.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A request's first non-empty line, cut with an ellipsis.
pub fn headline(request: &str) -> String {
    let line = request
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    if line.chars().count() <= REQUEST_CHARS {
        return line.to_string();
    }
    let cut: String = line.chars().take(REQUEST_CHARS - 1).collect();
    format!("{cut}…")
}

fn push<T>(list: &Mutex<VecDeque<T>>, item: T) {
    let mut l = list.lock().unwrap_or_else(|e| e.into_inner());
    if l.len() == KEEP {
        l.pop_back();
    }
    l.push_front(item);
}

impl SleepEntry {
    /// A sleep that failed after `took`.
    pub fn failed(took: std::time::Duration, error: String) -> SleepEntry {
        SleepEntry {
            at: now(),
            seconds: took.as_secs_f64(),
            ok: false,
            commit: None,
            files: 0,
            blobs_new: 0,
            commits_mined: 0,
            tokens_read: 0,
            replayed: 0,
            error: Some(error),
        }
    }
}

impl Journal {
    pub fn sleep(&self, entry: SleepEntry) {
        push(&self.sleeps, entry);
    }

    /// Records a prediction: the request's headline and the first files.
    pub fn prediction(
        &self,
        request: &str,
        policy: &str,
        files: impl IntoIterator<Item = FileEntry>,
        tokens_used: u64,
        budget: u64,
    ) {
        push(
            &self.predictions,
            PredictionEntry {
                at: now(),
                request: headline(request),
                policy: policy.to_string(),
                files: files.into_iter().take(FILES).collect(),
                tokens_used,
                budget,
            },
        );
    }

    /// Newest first.
    pub fn sleeps(&self) -> Vec<SleepEntry> {
        let l = self.sleeps.lock().unwrap_or_else(|e| e.into_inner());
        l.iter().cloned().collect()
    }

    /// Newest first.
    pub fn predictions(&self) -> Vec<PredictionEntry> {
        let l = self.predictions.lock().unwrap_or_else(|e| e.into_inner());
        l.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_few_and_cuts_requests() {
        let j = Journal::default();
        for i in 0..KEEP + 3 {
            j.prediction(&format!("\n  request {i}\nbody"), "offline", [], 10, 100);
        }
        let p = j.predictions();
        assert_eq!(p.len(), KEEP);
        assert_eq!(p[0].request, format!("request {}", KEEP + 2));
        let long = "x".repeat(REQUEST_CHARS + 50);
        assert_eq!(headline(&long).chars().count(), REQUEST_CHARS);
        assert!(headline(&long).ends_with('…'));
    }
}
