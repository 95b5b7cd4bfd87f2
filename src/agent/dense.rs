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

    /// The two lists for a request vector, `depth` files each: files by
    /// cosine (matched: the similarity), and files changed by the most
    /// similar past PRs, each PR voting its squared similarity (matched:
    /// the PRs similar enough to name).
    pub fn lists(&self, q: &[f32], depth: usize) -> (List, List) {
        let mut files: Vec<(String, f64, Vec<String>)> = self
            .files
            .iter()
            .map(|(p, v)| {
                let s = embed::dot(q, v) as f64;
                (p.clone(), s, vec![format!("{s:.2}")])
            })
            .collect();
        files.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        files.truncate(depth);
        let mut prs: Vec<(f32, &PrVector)> = self
            .prs
            .iter()
            .map(|p| (embed::dot(q, &p.vec), p))
            .filter(|(s, p)| *s >= PR_FLOOR && !p.files.is_empty() && p.files.len() <= MAX_PR_FILES)
            .collect();
        prs.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.commit.cmp(&b.1.commit)));
        prs.truncate(TOP_PRS);
        let mut votes: HashMap<&str, (f64, Vec<String>)> = HashMap::new();
        for (s, p) in &prs {
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
        (files, by_prs)
    }
}
