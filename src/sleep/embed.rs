//! The embedding pass: every file of the snapshot (its path, docs and
//! names, within the token cap) and every past pull request of its
//! history (title and body) becomes a vector in the notebook, keyed by
//! blob id and path or by commit id and by the model. Only what has no
//! vector yet is embedded, in batches, files first, then PRs newest
//! first, until the pass's time budget runs out; the next sleep resumes.
//! A replay notebook first copies what the main notebook already holds.
//!
//! Runs after the snapshot switch and never fails it: a model that cannot
//! be loaded is an error of this pass alone.

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::config::Config;
use crate::embed::{self, EmbedError, Embedder};
use crate::notebook::embed_store::Vector;
use crate::notebook::{Notebook, Progress, Store, StoreError};

/// Texts embedded and written together (a batch of the model is 32).
const CHUNK: usize = 128;

#[derive(Debug, thiserror::Error)]
pub enum EmbedPassError {
    #[error(transparent)]
    Model(#[from] EmbedError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What one embedding pass did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EmbedReport {
    /// The model's key (model files and token cap).
    pub model: String,
    /// Files and past PRs of the snapshot.
    pub files: usize,
    pub prs: usize,
    /// Embedded now.
    pub files_embedded: usize,
    pub prs_embedded: usize,
    /// Copied from another notebook's cache (replay).
    pub copied: usize,
    /// Left for the next sleep (the time budget ran out).
    pub pending: usize,
    /// Model tokens embedded now.
    pub tokens: u64,
    pub seconds: f64,
}

/// Where the pass may look for vectors before embedding (a replay
/// notebook's main notebook).
pub struct Seed<'a> {
    pub state_dir: &'a Path,
}

/// Embeds what the snapshot in `state_dir` lacks; `None` when embeddings
/// are off or there is no notebook. A sleep with nothing new to embed
/// writes nothing.
pub fn embed(
    state_dir: &Path,
    cfg: &Config,
    seed: Option<Seed<'_>>,
    progress: &dyn Progress,
) -> Result<Option<EmbedReport>, EmbedPassError> {
    let Some(dir) = cfg.embeddings.model_dir() else {
        return Ok(None);
    };
    let started = Instant::now();
    let embedder = Embedder::shared(&dir, cfg.embeddings.max_tokens)?;
    let Some(nb) = Notebook::open(state_dir)? else {
        return Ok(None);
    };
    let (key, dim) = (embedder.key().to_string(), embedder.dim());
    let files = nb.embedding_file_texts()?;
    let prs = nb.embedding_pr_texts(cfg.history.max_commit_files)?;
    let mut report = EmbedReport {
        model: key.clone(),
        files: files.len(),
        prs: prs.len(),
        ..EmbedReport::default()
    };
    let mut store = Store::open(state_dir)?;
    let have_files = store.embedded_files(&key, dim)?;
    let have_prs = store.embedded_prs(&key, dim)?;
    let mut files: Vec<_> = files
        .into_iter()
        .filter(|f| !have_files.contains(&(f.blob_oid.clone(), f.path.clone())))
        .collect();
    let mut prs: Vec<_> = prs
        .into_iter()
        .filter(|p| !have_prs.contains(&p.commit_oid))
        .collect();
    if files.is_empty() && prs.is_empty() {
        report.seconds = started.elapsed().as_secs_f64();
        return Ok(Some(report));
    }
    store.ensure_embeddings()?;
    if let Some(seed) = seed
        && let Some(main) = Store::open_existing(seed.state_dir)?
    {
        let keys: Vec<(String, String)> = files
            .iter()
            .map(|f| (f.blob_oid.clone(), f.path.clone()))
            .collect();
        let found = main.file_vectors_for(&key, dim, &keys)?;
        if !found.is_empty() {
            let rows: Vec<_> = found.into_iter().collect();
            store.put_file_vectors(&key, &rows)?;
            report.copied += rows.len();
            let done: HashSet<(String, String)> = rows.into_iter().map(|(k, _)| k).collect();
            files.retain(|f| !done.contains(&(f.blob_oid.clone(), f.path.clone())));
        }
        let commits: Vec<String> = prs.iter().map(|p| p.commit_oid.clone()).collect();
        let found = main.pr_vectors_for(&key, dim, &commits)?;
        if !found.is_empty() {
            let rows: Vec<_> = found.into_iter().collect();
            store.put_pr_vectors(&key, &rows)?;
            report.copied += rows.len();
            let done: HashSet<String> = rows.into_iter().map(|(k, _)| k).collect();
            prs.retain(|p| !done.contains(&p.commit_oid));
        }
    }
    let budget = match cfg.embeddings.sleep_seconds {
        0 => None,
        s => Some(Duration::from_secs(s)),
    };
    let out_of_time = || budget.is_some_and(|b| started.elapsed() >= b);
    let total = files.len() + prs.len();
    if total > 0 {
        progress.start("embedding files and past pull requests", total as u64);
    }
    let mut done = 0;
    for chunk in files.chunks(CHUNK) {
        if out_of_time() {
            break;
        }
        let texts: Vec<&str> = chunk.iter().map(|f| f.text.as_str()).collect();
        let vecs = embedder.embed_counted(&texts)?;
        let rows: Vec<((String, String), Vector)> = chunk
            .iter()
            .zip(vecs)
            .map(|(f, (v, tokens))| {
                report.tokens += tokens as u64;
                (
                    (f.blob_oid.clone(), f.path.clone()),
                    Vector {
                        tokens,
                        vec: embed::to_bytes(&v),
                    },
                )
            })
            .collect();
        store.put_file_vectors(&key, &rows)?;
        report.files_embedded += rows.len();
        done += rows.len();
        progress.inc(rows.len() as u64);
    }
    for chunk in prs.chunks(CHUNK) {
        if out_of_time() {
            break;
        }
        let texts: Vec<&str> = chunk.iter().map(|p| p.text.as_str()).collect();
        let vecs = embedder.embed_counted(&texts)?;
        let rows: Vec<(String, Vector)> = chunk
            .iter()
            .zip(vecs)
            .map(|(p, (v, tokens))| {
                report.tokens += tokens as u64;
                (
                    p.commit_oid.clone(),
                    Vector {
                        tokens,
                        vec: embed::to_bytes(&v),
                    },
                )
            })
            .collect();
        store.put_pr_vectors(&key, &rows)?;
        report.prs_embedded += rows.len();
        done += rows.len();
        progress.inc(rows.len() as u64);
    }
    if total > 0 {
        progress.finish();
    }
    if report.copied + report.files_embedded + report.prs_embedded > 0 {
        store.bump_embeddings_generation()?;
    }
    report.pending = total - done;
    report.seconds = started.elapsed().as_secs_f64();
    if report.pending > 0 {
        tracing::info!(
            pending = report.pending,
            "the embedding budget ran out; the next sleep continues"
        );
    }
    Ok(Some(report))
}
