//! The sleep arm's `search`: five ranked lists from the notebook (BM25 over
//! code, path matches, symbol definitions, card terms, per-file PR
//! history), and, when sleep time embedded the snapshot, two dense ones
//! (files whose embedded text reads like the request; files changed by past
//! PRs that read like it: [`super::dense`]), fused into one ranking. By default the fusion is reciprocal-
//! rank with fixed weights; when sleep time fitted a search ranking for
//! this snapshot ([`crate::learn::search`]), the files are ordered by its
//! probabilities instead. Either way each file's evidence says which lists
//! found it and for which words. Pure: the lists come in, the ranking goes out.

use std::collections::{HashMap, HashSet};

use crate::learn::search::{ListHit, SearchCandidate, SearchRanker};
use crate::notebook::read::FileStat;

use super::rank;
use super::request::Request;
use super::tools::FileItem;

/// RRF weights of the lists. Code and paths carry most; cards add purposes;
/// symbols add exact identifier hits; history adds the words of past PRs.
const W_CODE: f64 = 1.0;
const W_PATH: f64 = 1.0;
const W_SYMBOL: f64 = 0.8;
const W_CARD: f64 = 0.8;
const W_HISTORY: f64 = 1.0;
/// The dense lists (empty without embeddings, then the fusion is exactly
/// the five lists'): meaning where words differ.
const W_DENSE: f64 = 1.0;
const W_DENSE_PRS: f64 = 0.8;

/// One ranked list: (path, score, matched words), best first.
pub type List = Vec<(String, f64, Vec<String>)>;

/// The lists of one request.
#[derive(Debug, Default)]
pub struct Lists {
    pub code: List,
    pub path: List,
    pub symbol: List,
    pub card: List,
    pub history: List,
    /// Files by the cosine of their embedding with the request's (matched:
    /// the similarity); empty without embeddings.
    pub dense: List,
    /// Files changed by the past PRs most like the request by embedding
    /// (matched: those PRs); empty without embeddings.
    pub dense_prs: List,
}

impl Lists {
    /// Each file's evidence: which lists found it and with which words.
    pub fn evidence(&self) -> HashMap<String, Vec<String>> {
        let mut evidence: HashMap<String, Vec<String>> = HashMap::new();
        let mut add = |p: &str, e: String| evidence.entry(p.to_string()).or_default().push(e);
        let words = |m: &[String], n: usize| m.iter().take(n).cloned().collect::<Vec<_>>();
        for (p, _, m) in &self.code {
            add(p, format!("code: {}", words(m, 4).join(" ")));
        }
        for (p, _, m) in &self.path {
            add(p, format!("path: {}", m.join(" ")));
        }
        for (p, _, m) in &self.symbol {
            add(p, format!("defines {}", words(m, 3).join(", ")));
        }
        for (p, _, m) in &self.card {
            add(p, format!("card: {}", words(m, 4).join(" ")));
        }
        for (p, _, m) in &self.history {
            add(p, format!("past PRs: {}", words(m, 3).join(" ")));
        }
        // Only the leading dense hits are worth a word: every file has
        // some similarity.
        for (p, score, m) in self.dense.iter().take(DENSE_EVIDENCE) {
            if *score >= DENSE_EVIDENCE_MIN {
                add(p, format!("meaning: {}", words(m, 1).join("")));
            }
        }
        for (p, _, m) in self.dense_prs.iter().take(DENSE_EVIDENCE) {
            if !m.is_empty() {
                add(p, format!("like PRs: {}", words(m, 3).join(" ")));
            }
        }
        evidence
    }

    /// The default fusion: weighted reciprocal rank, best first.
    pub fn rrf(&self) -> Vec<(String, f64)> {
        let names = |l: &List| l.iter().map(|x| x.0.clone()).collect::<Vec<_>>();
        let (c, p, s, d, h) = (
            names(&self.code),
            names(&self.path),
            names(&self.symbol),
            names(&self.card),
            names(&self.history),
        );
        let mut lists: Vec<(&[String], f64)> = vec![
            (&c, W_CODE),
            (&p, W_PATH),
            (&s, W_SYMBOL),
            (&d, W_CARD),
            (&h, W_HISTORY),
        ];
        let (e, ep) = (names(&self.dense), names(&self.dense_prs));
        if !e.is_empty() {
            lists.push((&e, W_DENSE));
        }
        if !ep.is_empty() {
            lists.push((&ep, W_DENSE_PRS));
        }
        rank::rrf(&lists)
    }

    /// Every file of any list, as the learned search sees it, in the order
    /// of the default fusion.
    pub fn candidates(
        &self,
        req: &Request,
        stats: &HashMap<String, FileStat>,
        now: i64,
    ) -> Vec<SearchCandidate> {
        let fused = self.rrf();
        let top = fused.first().map_or(1.0, |f| f.1).max(1e-12);
        let hit = |list: &List, path: &str| -> Option<ListHit> {
            let best = list.first().map_or(1.0, |x| x.1).max(1e-12);
            list.iter().position(|x| x.0 == path).map(|rank| ListHit {
                rank,
                rel: list[rank].1 / best,
            })
        };
        let distinct: HashSet<&str> = req.terms.iter().map(String::as_str).collect();
        fused
            .iter()
            .enumerate()
            .map(|(rank, (path, score))| {
                let code = hit(&self.code, path);
                let code_terms = code.map_or(0.0, |h| {
                    self.code[h.rank].2.len() as f64 / distinct.len().max(1) as f64
                });
                let st = stats.get(path);
                SearchCandidate {
                    path: path.clone(),
                    code,
                    path_match: hit(&self.path, path),
                    symbol: hit(&self.symbol, path),
                    card: hit(&self.card, path),
                    history: hit(&self.history, path),
                    dense: hit(&self.dense, path),
                    dense_prs: hit(&self.dense_prs, path),
                    fused: ListHit {
                        rank,
                        rel: score / top,
                    },
                    code_terms: code_terms.min(1.0),
                    changes: st.map_or(0, |s| s.changes),
                    decayed: st.map_or(0.0, |s| s.decayed),
                    last_age_days: st
                        .filter(|s| s.last_time > 0)
                        .map(|s| ((now - s.last_time).max(0) / 86_400) as u32),
                    prs: st.map_or(0, |s| s.prs.len() as u32),
                }
            })
            .collect()
    }
}

/// Dense hits per list that carry evidence (and so reasons), and the
/// least cosine a file's own text needs for it (all-MiniLM-L6-v2 gives
/// unrelated texts 0.1-0.3).
const DENSE_EVIDENCE: usize = 10;
const DENSE_EVIDENCE_MIN: f64 = 0.35;

/// The search result: the first `k` files of `ranked` (path, score) with
/// their evidence. A file found by several lists does not repeat its card
/// words (cards restate the code).
pub fn items(
    ranked: Vec<(String, f64)>,
    mut evidence: HashMap<String, Vec<String>>,
    k: usize,
) -> Vec<FileItem> {
    ranked
        .into_iter()
        .take(k)
        .map(|(path, score)| {
            let mut parts = evidence.remove(&path).unwrap_or_default();
            if parts.len() > 1 {
                parts.retain(|p| !p.starts_with("card:"));
            }
            FileItem {
                evidence: parts.join("; "),
                path,
                score,
            }
        })
        .collect()
}

/// The ranking the learned search gives `cands`: (path, probability × 100).
pub fn learned_ranking(
    ranker: &SearchRanker,
    cands: &[SearchCandidate],
    terms: usize,
) -> Vec<(String, f64)> {
    ranker
        .rank(cands, terms)
        .into_iter()
        .map(|(i, p)| (cands[i].path.clone(), p * 100.0))
        .collect()
}

/// The number of distinct terms of a request.
pub fn distinct_terms(req: &Request) -> usize {
    req.terms.iter().collect::<HashSet<_>>().len()
}
