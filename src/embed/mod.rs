//! Sentence embeddings: a BERT-family encoder (all-MiniLM-L6-v2 and its
//! kin) loaded from a local directory (`config.json`, `tokenizer.json`,
//! `model.safetensors`) and run on the CPU in pure Rust (candle's BERT,
//! Hugging Face's tokenizer). A text becomes one unit-length vector: the
//! encoder's last hidden states averaged over the attention mask, then
//! L2-normalised, so the dot product of two vectors is their cosine.
//!
//! Nothing is downloaded, ever: a missing or damaged model directory is an
//! [`EmbedError`] naming the file and what was wrong with it. Uses nothing
//! else of the crate; the notebook stores the vectors as bytes
//! ([`to_bytes`], [`from_bytes`]) and never loads a model.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config as BertConfig};
use sha2::{Digest, Sha256};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

/// Texts encoded together: long enough to keep the matrix products busy,
/// short enough that padding to the longest of a batch wastes little
/// (texts are sorted by length before batching).
const BATCH: usize = 32;

/// The files a model directory must hold.
pub const CONFIG_FILE: &str = "config.json";
pub const TOKENIZER_FILE: &str = "tokenizer.json";
pub const WEIGHTS_FILE: &str = "model.safetensors";

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error(
        "the embedding model directory {dir} has no {file} (expected {CONFIG_FILE}, {TOKENIZER_FILE} and {WEIGHTS_FILE}; `install.sh --with-embeddings` puts them there)"
    )]
    Missing { dir: PathBuf, file: &'static str },
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a BERT model configuration")]
    Config {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path} is not a tokenizer this build can load")]
    Tokenizer {
        path: PathBuf,
        #[source]
        source: tokenizers::Error,
    },
    #[error("the weights in {path} do not fit the model {config} describes")]
    Weights {
        path: PathBuf,
        config: PathBuf,
        #[source]
        source: Box<candle_core::Error>,
    },
    #[error("tokenizing a text for the embedding model failed")]
    Encode {
        #[source]
        source: tokenizers::Error,
    },
    #[error("running the embedding model failed")]
    Run {
        #[source]
        source: Box<candle_core::Error>,
    },
}

/// A loaded sentence encoder.
pub struct Embedder {
    model: BertModel,
    tokenizer: Tokenizer,
    dim: usize,
    max_tokens: usize,
    key: String,
    dir: PathBuf,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder")
            .field("dir", &self.dir)
            .field("key", &self.key)
            .field("dim", &self.dim)
            .finish_non_exhaustive()
    }
}

fn read(path: &Path) -> Result<Vec<u8>, EmbedError> {
    std::fs::read(path).map_err(|source| EmbedError::Read {
        path: path.to_path_buf(),
        source,
    })
}

impl Embedder {
    /// Loads the model in `dir`; each text is cut to `max_tokens` model
    /// tokens (special tokens included; at least 8, at most what the
    /// model's positions allow).
    pub fn load(dir: &Path, max_tokens: usize) -> Result<Embedder, EmbedError> {
        let file = |name: &'static str| -> Result<PathBuf, EmbedError> {
            let p = dir.join(name);
            if p.is_file() {
                Ok(p)
            } else {
                Err(EmbedError::Missing {
                    dir: dir.to_path_buf(),
                    file: name,
                })
            }
        };
        let (config_path, tokenizer_path, weights_path) = (
            file(CONFIG_FILE)?,
            file(TOKENIZER_FILE)?,
            file(WEIGHTS_FILE)?,
        );
        let config_bytes = read(&config_path)?;
        let config: BertConfig =
            serde_json::from_slice(&config_bytes).map_err(|source| EmbedError::Config {
                path: config_path.clone(),
                source,
            })?;
        let tokenizer_bytes = read(&tokenizer_path)?;
        let mut tokenizer =
            Tokenizer::from_bytes(&tokenizer_bytes).map_err(|source| EmbedError::Tokenizer {
                path: tokenizer_path.clone(),
                source,
            })?;
        let max_tokens = max_tokens.clamp(8, config.max_position_embeddings.max(8));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: max_tokens,
                ..TruncationParams::default()
            }))
            .map_err(|source| EmbedError::Tokenizer {
                path: tokenizer_path.clone(),
                source,
            })?;
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            pad_id: config.pad_token_id as u32,
            ..PaddingParams::default()
        }));
        let weights = read(&weights_path)?;
        let weights_err = |source| EmbedError::Weights {
            path: weights_path.clone(),
            config: config_path.clone(),
            source: Box::new(source),
        };
        // What the vectors depend on: the configuration, the tokenizer, the
        // weights and the cap. Vectors stored under another key are not
        // this model's.
        let mut h = Sha256::new();
        h.update(&config_bytes);
        h.update(&tokenizer_bytes);
        h.update(&weights);
        let digest = h.finalize();
        let key = format!(
            "bert{}-{}-t{max_tokens}",
            config.hidden_size,
            digest[..6]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &Device::Cpu)
            .map_err(weights_err)?;
        let model = BertModel::load(vb, &config).map_err(weights_err)?;
        Ok(Embedder {
            model,
            tokenizer,
            dim: config.hidden_size,
            max_tokens,
            key,
            dir: dir.to_path_buf(),
        })
    }

    /// One loaded model per directory and cap for the whole process (a
    /// daemon or an eval embeds many requests; loading costs a tenth of a
    /// second and 90 MB).
    pub fn shared(dir: &Path, max_tokens: usize) -> Result<Arc<Embedder>, EmbedError> {
        type Cache = Mutex<HashMap<(PathBuf, usize), Arc<Embedder>>>;
        static CACHE: OnceLock<Cache> = OnceLock::new();
        let cache = CACHE.get_or_init(Default::default);
        let k = (dir.to_path_buf(), max_tokens);
        if let Some(e) = cache.lock().expect("embedder cache lock").get(&k) {
            return Ok(e.clone());
        }
        let e = Arc::new(Embedder::load(dir, max_tokens)?);
        cache
            .lock()
            .expect("embedder cache lock")
            .insert(k, e.clone());
        Ok(e)
    }

    /// What the vectors depend on (model files and cap), e.g.
    /// `bert384-53aa51172d14-t128`; stored vectors are keyed by it.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The length of every vector.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The most model tokens one text is cut to.
    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    /// Model tokens of `text` after the cut (what embedding it costs).
    pub fn count_tokens(&self, text: &str) -> Result<usize, EmbedError> {
        let enc = self
            .tokenizer
            .encode(text, true)
            .map_err(|source| EmbedError::Encode { source })?;
        Ok(enc.get_attention_mask().iter().filter(|m| **m != 0).count())
    }

    /// One unit vector per text, in order, with the model tokens each took.
    pub fn embed_counted(&self, texts: &[&str]) -> Result<Vec<(Vec<f32>, usize)>, EmbedError> {
        let mut order: Vec<usize> = (0..texts.len()).collect();
        // Sorting by length makes each batch's padding small.
        order.sort_by_key(|&i| texts[i].len());
        let mut out: Vec<Option<(Vec<f32>, usize)>> = vec![None; texts.len()];
        for chunk in order.chunks(BATCH) {
            let batch: Vec<&str> = chunk.iter().map(|&i| texts[i]).collect();
            for (&i, v) in chunk.iter().zip(self.embed_batch(&batch)?) {
                out[i] = Some(v);
            }
        }
        Ok(out
            .into_iter()
            .map(|v| v.expect("every text embedded"))
            .collect())
    }

    /// One unit vector per text, in order.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        Ok(self
            .embed_counted(texts)?
            .into_iter()
            .map(|(v, _)| v)
            .collect())
    }

    /// The vector of one text.
    pub fn embed_one(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        Ok(self.embed(&[text])?.pop().expect("one text, one vector"))
    }

    fn embed_batch(&self, texts: &[&str]) -> Result<Vec<(Vec<f32>, usize)>, EmbedError> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|source| EmbedError::Encode { source })?;
        let len = encodings.first().map_or(0, |e| e.get_ids().len());
        let n = encodings.len();
        let mut ids = Vec::with_capacity(n * len);
        let mut types = Vec::with_capacity(n * len);
        let mut mask = Vec::with_capacity(n * len);
        let mut counts = Vec::with_capacity(n);
        for e in &encodings {
            ids.extend_from_slice(e.get_ids());
            types.extend_from_slice(e.get_type_ids());
            mask.extend_from_slice(e.get_attention_mask());
            counts.push(e.get_attention_mask().iter().filter(|m| **m != 0).count());
        }
        let run = |source| EmbedError::Run {
            source: Box::new(source),
        };
        let dev = &self.model.device;
        let ids = Tensor::from_vec(ids, (n, len), dev).map_err(run)?;
        let types = Tensor::from_vec(types, (n, len), dev).map_err(run)?;
        let mask = Tensor::from_vec(mask, (n, len), dev).map_err(run)?;
        let hidden = self.model.forward(&ids, &types, Some(&mask)).map_err(run)?;
        // Mean over the tokens the mask keeps, then unit length.
        let m = mask
            .to_dtype(DType::F32)
            .map_err(run)?
            .unsqueeze(2)
            .map_err(run)?;
        let summed = hidden
            .broadcast_mul(&m)
            .and_then(|t| t.sum(1))
            .map_err(run)?;
        let kept = m
            .sum(1)
            .and_then(|t| t.clamp(1e-9f32, f32::MAX))
            .map_err(run)?;
        let mean = summed.broadcast_div(&kept).map_err(run)?;
        let rows: Vec<Vec<f32>> = mean.to_vec2().map_err(run)?;
        Ok(rows.into_iter().map(normalise).zip(counts).collect())
    }
}

/// `v` scaled to unit length (a zero vector stays zero).
pub fn normalise(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

/// The dot product: the cosine of two unit vectors.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// A vector as stored: little-endian half-precision floats (a cosine
/// moves by less than 0.001; half the bytes of `f32`).
pub fn to_bytes(v: &[f32]) -> Vec<u8> {
    v.iter()
        .flat_map(|x| half::f16::from_f32(*x).to_le_bytes())
        .collect()
}

/// A stored vector read back, at unit length again; `None` unless it is
/// `dim` finite values of about unit length (a damaged row is embedded
/// again).
pub fn from_bytes(bytes: &[u8], dim: usize) -> Option<Vec<f32>> {
    if bytes.len() != dim * 2 {
        return None;
    }
    let v: Vec<f32> = bytes
        .chunks_exact(2)
        .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
        .collect();
    let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    (v.iter().all(|x| x.is_finite()) && (norm - 1.0).abs() < 1e-2).then(|| normalise(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip_and_damage_is_refused() {
        let v = normalise(vec![3.0, 4.0, 0.0]);
        assert_eq!(v, vec![0.6, 0.8, 0.0]);
        let b = to_bytes(&v);
        assert_eq!(b.len(), 6);
        let back = from_bytes(&b, 3).expect("sound");
        assert!((dot(&back, &v) - 1.0).abs() < 1e-4, "{back:?}");
        assert!((dot(&back, &back) - 1.0).abs() < 1e-6);
        assert_eq!(from_bytes(&b[..4], 3), None, "short row");
        assert_eq!(from_bytes(&b, 4), None, "another dimension");
        assert_eq!(
            from_bytes(&to_bytes(&[1.0, 1.0, 0.0]), 3),
            None,
            "not unit length"
        );
        assert_eq!(from_bytes(&to_bytes(&[f32::NAN, 0.0, 1.0]), 3), None);
    }

    #[test]
    fn a_missing_directory_names_what_is_missing() {
        let dir = std::env::temp_dir().join("swe-sleep-no-such-model-dir");
        let err = Embedder::load(&dir, 128).expect_err("no model there");
        let msg = err.to_string();
        assert!(msg.contains("config.json"), "{msg}");
        assert!(msg.contains("swe-sleep-no-such-model-dir"), "{msg}");
    }
}
