//! Dense similarity, the sleep arm's two embedding lists: files whose
//! embedded text (path, docs, names) reads like the request, and files
//! changed by past pull requests whose title and body read like it. Sleep
//! time embedded every file and past PR of the snapshot
//! (`sleep::embed`); test time embeds only the request (milliseconds) and
//! compares. The no-sleep arm never has them: embedding a repository at
//! test time would take minutes.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::config::EmbeddingsConfig;
use crate::embed::{self, EmbedError, Embedder};
use crate::notebook::embed_store::PrVector;
use crate::notebook::{Notebook, StoreError};

use super::fused_search::List;

/// Past PRs whose files the PR list votes for.
const TOP_PRS: usize = 20;
/// A PR less similar than this votes for nothing.
const PR_FLOOR: f32 = 0.25;
/// A PR at least this similar is named in its files' evidence
/// (all-MiniLM-L6-v2 gives unrelated texts 0.1-0.3).
const PR_NAMED: f32 = 0.35;
/// Files of one PR larger than this say little about any one file.
const MAX_PR_FILES: usize = 30;

/// Why dense similarity is not available for a notebook.
#[derive(Debug, thiserror::Error)]
pub enum DenseError {
    #[error(transparent)]
    Model(#[from] EmbedError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The vectors of one snapshot and the model that made them.
pub struct DenseIndex {
    embedder: Arc<Embedder>,
    /// The snapshot they were read from.
    pub snapshot: (u64, u64),
    files: Vec<(String, Vec<f32>)>,
    prs: Vec<PrVector>,
    /// The last request embedded, and its vector (a run searches with the
    /// same text more than once).
    last: Mutex<Option<(String, Vec<f32>)>>,
}

impl std::fmt::Debug for DenseIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DenseIndex")
            .field("model", &self.embedder.key())
            .field("files", &self.files.len())
            .field("prs", &self.prs.len())
            .finish_non_exhaustive()
    }
}

impl DenseIndex {
    /// The vectors `nb`'s snapshot has for the configured model; `None`
    /// when embeddings are off or the snapshot has none yet. A model
    /// directory that cannot be loaded is an error naming what is wrong.
    pub fn load(
        nb: &Notebook,
        cfg: &EmbeddingsConfig,
        max_pr_files: usize,
    ) -> Result<Option<DenseIndex>, DenseError> {
        let Some(dir) = cfg.model_dir() else {
            return Ok(None);
        };
        Self::load_from(nb, &dir, cfg.max_tokens, max_pr_files)
    }

    fn load_from(
        nb: &Notebook,
        dir: &Path,
        max_tokens: usize,
        max_pr_files: usize,
    ) -> Result<Option<DenseIndex>, DenseError> {
        let embedder = Embedder::shared(dir, max_tokens)?;
        let (key, dim) = (embedder.key().to_string(), embedder.dim());
        let files = nb.file_vectors(&key, dim)?;
        let prs = nb.pr_vectors(&key, dim, max_pr_files)?;
        if files.is_empty() && prs.is_empty() {
            return Ok(None);
        }
        Ok(Some(DenseIndex {
            embedder,
            snapshot: nb.info.snapshot_id(),
            files,
            prs,
            last: Mutex::new(None),
        }))
    }

    /// Files and past PRs with a vector.
    pub fn counts(&self) -> (usize, usize) {
        (self.files.len(), self.prs.len())
    }

    /// The request's vector (the last one is kept).
    pub fn query_vector(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        let mut last = self.last.lock().expect("dense query cache");
        if let Some((t, v)) = last.as_ref()
            && t == text
        {
            return Ok(v.clone());
        }
        let v = self.embedder.embed_one(text)?;
        *last = Some((text.to_string(), v.clone()));
        Ok(v)
    }

    /// The two lists for a request vector, `depth` files each ([`rank`]).
    pub fn lists(&self, q: &[f32], depth: usize) -> (List, List) {
        rank(&self.files, &self.prs, q, depth)
    }
}

/// The two dense lists over `files` and `prs` for a request vector,
/// `depth` files each: files by cosine (matched: the similarity), and files
/// changed by the most similar past PRs, each PR voting its squared
/// similarity (matched: the PRs similar enough to name). Pure.
pub fn rank(
    files: &[(String, Vec<f32>)],
    prs: &[PrVector],
    q: &[f32],
    depth: usize,
) -> (List, List) {
    let mut by_file: List = files
        .iter()
        .map(|(p, v)| {
            let s = embed::dot(q, v) as f64;
            (p.clone(), s, vec![format!("{s:.2}")])
        })
        .collect();
    by_file.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    by_file.truncate(depth);
    let mut close: Vec<(f32, &PrVector)> = prs
        .iter()
        .map(|p| (embed::dot(q, &p.vec), p))
        .filter(|(s, p)| *s >= PR_FLOOR && !p.files.is_empty() && p.files.len() <= MAX_PR_FILES)
        .collect();
    close.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.commit.cmp(&b.1.commit)));
    close.truncate(TOP_PRS);
    let mut votes: HashMap<&str, (f64, Vec<String>)> = HashMap::new();
    for (s, p) in &close {
        let name =
            p.pr.map_or_else(|| p.commit.chars().take(8).collect(), |n| format!("#{n}"));
        for f in &p.files {
            let e = votes.entry(f.as_str()).or_default();
            e.0 += (*s as f64) * (*s as f64);
            if *s >= PR_NAMED {
                e.1.push(name.clone());
            }
        }
    }
    let mut by_prs: List = votes
        .into_iter()
        .map(|(p, (s, names))| (p.to_string(), s, names))
        .collect();
    by_prs.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    by_prs.truncate(depth);
    (by_file, by_prs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(v: &[f32]) -> Vec<f32> {
        embed::normalise(v.to_vec())
    }

    fn pr(n: u64, v: &[f32], files: &[&str]) -> PrVector {
        PrVector {
            commit: format!("{n:040}"),
            pr: Some(n),
            title: format!("PR {n}"),
            files: files.iter().map(|f| f.to_string()).collect(),
            vec: unit(v),
        }
    }

    #[test]
    fn files_by_cosine_and_files_of_close_prs_by_their_votes() {
        let q = unit(&[1.0, 0.0, 0.0]);
        let files = vec![
            ("a.rs".to_string(), unit(&[0.9, 0.1, 0.0])),
            ("b.rs".to_string(), unit(&[0.0, 1.0, 0.0])),
            ("c.rs".to_string(), unit(&[0.5, 0.5, 0.0])),
        ];
        let prs = vec![
            pr(1, &[1.0, 0.05, 0.0], &["b.rs", "c.rs"]),
            pr(2, &[0.3, 1.0, 0.0], &["c.rs"]),
            // Unrelated: no vote.
            pr(3, &[0.0, 0.0, 1.0], &["a.rs"]),
        ];
        let (by_file, by_prs) = rank(&files, &prs, &q, 10);
        let names: Vec<&str> = by_file.iter().map(|x| x.0.as_str()).collect();
        assert_eq!(names, ["a.rs", "c.rs", "b.rs"]);
        assert_eq!(by_file[0].2, ["0.99"]);
        let names: Vec<&str> = by_prs.iter().map(|x| x.0.as_str()).collect();
        assert_eq!(names, ["c.rs", "b.rs"], "{by_prs:?}");
        // #1 is close enough to name; #2 (cosine 0.29) votes unnamed.
        assert_eq!(by_prs[0].2, ["#1"]);
        assert!(by_prs[0].1 > by_prs[1].1);
        let (few, _) = rank(&files, &prs, &q, 1);
        assert_eq!(few.len(), 1);
    }
}
