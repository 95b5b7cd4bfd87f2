//! The learned search: what the notebook's fused search knows about each
//! file it found for a request (its place and score in every list: code,
//! path, symbol, card, per-file history; its change history), and a
//! ranking fitted on replayed pull requests instead of fixed reciprocal-
//! rank weights. Pure.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::features::Kind;
use super::logistic::{FitOptions, Logistic};

/// A file's place in one ranked list: 0-based rank, score relative to the
/// list's best.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ListHit {
    pub rank: usize,
    pub rel: f64,
}

/// One file found by the fused search, with everything the search knows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchCandidate {
    pub path: String,
    pub code: Option<ListHit>,
    pub path_match: Option<ListHit>,
    pub symbol: Option<ListHit>,
    pub card: Option<ListHit>,
    pub history: Option<ListHit>,
    /// The dense lists (sleep-time embeddings): by the file's own
    /// similarity, and by similar past PRs that changed it. `None` without
    /// embeddings (and in examples replayed before they existed).
    #[serde(default)]
    pub dense: Option<ListHit>,
    #[serde(default)]
    pub dense_prs: Option<ListHit>,
    /// Place and relative score in the default (reciprocal-rank) fusion.
    pub fused: ListHit,
    /// Share of the request's distinct terms its code matched.
    pub code_terms: f64,
    /// Its history in the snapshot: first-parent commits that changed it,
    /// their decayed sum, days since the last one, pull requests among them.
    pub changes: u32,
    pub decayed: f64,
    pub last_age_days: Option<u32>,
    pub prs: u32,
}

/// Feature names of [`search_features`], in order.
pub const SEARCH_NAMES: &[&str] = &[
    "code",
    "code_rank_inv",
    "code_rel",
    "path",
    "path_rank_inv",
    "path_rel",
    "symbol",
    "symbol_rank_inv",
    "symbol_rel",
    "card",
    "card_rank_inv",
    "card_rel",
    "history",
    "history_rank_inv",
    "history_rel",
    "lists",
    "fused_rank_inv",
    "fused_rank_log",
    "fused_rel",
    "code_terms",
    "changes_log",
    "decayed_log",
    "recency",
    "prs_log",
    "kind_test",
    "kind_docs",
    "kind_changelog",
    "kind_config",
    "kind_example",
    "depth",
    "query_terms_log",
    // Appended, so rankers fitted before them keep their meaning.
    "dense",
    "dense_rank_inv",
    "dense_rel",
    "dense_prs",
    "dense_prs_rank_inv",
    "dense_prs_rel",
];

/// The feature vector of one candidate of a request with `terms` distinct terms.
pub fn search_features(c: &SearchCandidate, terms: usize) -> Vec<f64> {
    let mut v = Vec::with_capacity(SEARCH_NAMES.len());
    let mut lists = 0.0;
    for hit in [&c.code, &c.path_match, &c.symbol, &c.card, &c.history] {
        match hit {
            Some(h) => {
                lists += 1.0;
                v.extend([1.0, 1.0 / (1.0 + h.rank as f64), h.rel]);
            }
            None => v.extend([0.0, 0.0, 0.0]),
        }
    }
    let kind = Kind::of(&c.path);
    let b = |x: bool| if x { 1.0 } else { 0.0 };
    v.extend([
        lists,
        1.0 / (1.0 + c.fused.rank as f64),
        (1.0 + c.fused.rank as f64).ln(),
        c.fused.rel,
        c.code_terms,
        (1.0 + c.changes as f64).ln(),
        (1.0 + c.decayed).ln(),
        c.last_age_days.map_or(0.0, |d| (-(d as f64) / 365.0).exp()),
        (1.0 + c.prs as f64).ln(),
        b(kind == Kind::Test),
        b(kind == Kind::Docs),
        b(kind == Kind::Changelog),
        b(kind == Kind::Config),
        b(kind == Kind::Example),
        c.path.matches('/').count() as f64 / 4.0,
        (1.0 + terms as f64).ln(),
    ]);
    for hit in [&c.dense, &c.dense_prs] {
        match hit {
            Some(h) => v.extend([1.0, 1.0 / (1.0 + h.rank as f64), h.rel]),
            None => v.extend([0.0, 0.0, 0.0]),
        }
    }
    debug_assert_eq!(v.len(), SEARCH_NAMES.len());
    v
}

/// A replayed request's search: its candidates and the files it modified.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchExample {
    pub terms: usize,
    pub candidates: Vec<SearchCandidate>,
}

/// The fitted search ranking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchRanker {
    pub logistic: Logistic,
}

impl SearchRanker {
    /// Indexes of `cands` with their probabilities, most likely first
    /// (ties by the default fusion).
    pub fn rank(&self, cands: &[SearchCandidate], terms: usize) -> Vec<(usize, f64)> {
        let mut out: Vec<(usize, f64)> = cands
            .iter()
            .enumerate()
            .map(|(i, c)| (i, self.logistic.prob(&search_features(c, terms))))
            .collect();
        out.sort_by(|a, b| {
            b.1.total_cmp(&a.1)
                .then(cands[a.0].fused.rank.cmp(&cands[b.0].fused.rank))
                .then(cands[a.0].path.cmp(&cands[b.0].path))
        });
        out
    }
}

/// Fits the search ranking on `(example, gold)` pairs.
pub fn fit_search(examples: &[(&SearchExample, &[String])], l2: f64) -> SearchRanker {
    let mut x = Vec::new();
    let mut y = Vec::new();
    for (e, gold) in examples {
        let g: HashSet<&str> = gold.iter().map(String::as_str).collect();
        for c in &e.candidates {
            x.push(search_features(c, e.terms));
            y.push(g.contains(c.path.as_str()));
        }
    }
    SearchRanker {
        logistic: Logistic::fit(
            &x,
            &y,
            &[],
            FitOptions {
                l2,
                ..FitOptions::default()
            },
        ),
    }
}

/// Mean recall of the top `k` of each ranking over `examples`: the share
/// of each request's gold files among its first `k` candidates.
pub fn recall_at(
    examples: &[(&SearchExample, &[String])],
    k: usize,
    order: &dyn Fn(&SearchExample) -> Vec<usize>,
) -> f64 {
    let scored: Vec<f64> = examples
        .iter()
        .filter(|(_, g)| !g.is_empty())
        .map(|(e, gold)| {
            let g: HashSet<&str> = gold.iter().map(String::as_str).collect();
            let hit = order(e)
                .into_iter()
                .take(k)
                .filter(|i| g.contains(e.candidates[*i].path.as_str()))
                .count();
            hit as f64 / gold.len() as f64
        })
        .collect();
    if scored.is_empty() {
        0.0
    } else {
        scored.iter().sum::<f64>() / scored.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_value_per_name() {
        let c = SearchCandidate {
            path: "src/a.rs".into(),
            code: Some(ListHit { rank: 0, rel: 1.0 }),
            last_age_days: Some(3),
            ..Default::default()
        };
        let f = search_features(&c, 4);
        assert_eq!(f.len(), SEARCH_NAMES.len());
        assert!(f.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn learns_which_list_matters() {
        // Gold files are the path matches, whatever the code list says.
        let mut examples = Vec::new();
        let mut golds = Vec::new();
        for i in 0..40 {
            let mut cands = Vec::new();
            for j in 0..10 {
                cands.push(SearchCandidate {
                    path: format!("f{i}_{j}"),
                    code: Some(ListHit {
                        rank: j,
                        rel: 1.0 - j as f64 / 10.0,
                    }),
                    path_match: (j == 7).then_some(ListHit { rank: 0, rel: 1.0 }),
                    fused: ListHit {
                        rank: j,
                        rel: 1.0 - j as f64 / 10.0,
                    },
                    ..Default::default()
                });
            }
            examples.push(SearchExample {
                terms: 3,
                candidates: cands,
            });
            golds.push(vec![format!("f{i}_7")]);
        }
        let pairs: Vec<(&SearchExample, &[String])> = examples
            .iter()
            .zip(golds.iter().map(|g| g.as_slice()))
            .collect();
        let r = fit_search(&pairs, 1e-3);
        let learned = recall_at(&pairs, 1, &|e| {
            r.rank(&e.candidates, e.terms)
                .into_iter()
                .map(|x| x.0)
                .collect()
        });
        let default = recall_at(&pairs, 1, &|e| (0..e.candidates.len()).collect());
        assert_eq!(learned, 1.0);
        assert_eq!(default, 0.0);
    }
}
