//! The `[embeddings]` section: dense vectors of every file and past pull
//! request, computed at sleep time by a local sentence encoder, and the
//! request's at test time. Off unless `model_dir` names a model.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The `[embeddings]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmbeddingsConfig {
    /// A directory with `config.json`, `tokenizer.json` and
    /// `model.safetensors` of a BERT-family sentence encoder
    /// (all-MiniLM-L6-v2; `install.sh --with-embeddings` puts one in
    /// place). Empty: embeddings are off.
    pub model_dir: String,
    /// Model tokens one text (a file's path, docs and names; a PR's title
    /// and body; a request) is cut to. Changing it embeds everything again.
    pub max_tokens: usize,
    /// Seconds one sleep spends embedding at most; the rest waits for the
    /// next sleep, which resumes (0: no limit).
    pub sleep_seconds: u64,
}

impl Default for EmbeddingsConfig {
    fn default() -> Self {
        EmbeddingsConfig {
            model_dir: String::new(),
            max_tokens: 128,
            sleep_seconds: 600,
        }
    }
}

impl EmbeddingsConfig {
    /// The model directory when embeddings are on.
    pub fn model_dir(&self) -> Option<PathBuf> {
        let d = self.model_dir.trim();
        (!d.is_empty()).then(|| PathBuf::from(d))
    }
}
