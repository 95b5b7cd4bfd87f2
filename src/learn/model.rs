//! The per-repository ranker: training examples replayed from the
//! repository's own past pull requests, the fit (with a held-out check
//! against the default calibration on the most recent ones), and the
//! choice of a set at test time. Pure.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::features::{self, Candidate, FEATURE_VERSION, NAMES, Query};
use super::logistic::{FitOptions, Logistic};
use super::set_select;

/// One replayed pull request at one budget: what the offline policy read
/// at the PR's base commit (history only from before it), and the answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Example {
    pub pr: Option<u64>,
    /// The PR's merge or squash commit.
    pub commit: String,
    /// The commit the replay read the repository at: the PR's first parent.
    #[serde(default)]
    pub base: String,
    /// Its commit time.
    pub time: i64,
    pub query: Query,
    pub candidates: Vec<Candidate>,
    /// Files the PR modified that existed at its base.
    pub gold: Vec<String>,
    /// What the default calibration predicted.
    pub default_choice: Vec<String>,
}

impl Example {
    fn labels(&self) -> Vec<bool> {
        let gold: HashSet<&str> = self.gold.iter().map(String::as_str).collect();
        self.candidates
            .iter()
            .map(|c| gold.contains(c.path.as_str()))
            .collect()
    }

    /// Gold files no candidate names.
    fn uncovered(&self) -> usize {
        let named: HashSet<&str> = self.candidates.iter().map(|c| c.path.as_str()).collect();
        self.gold
            .iter()
            .filter(|g| !named.contains(g.as_str()))
            .count()
    }
}

/// How training goes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrainOptions {
    /// Fewer distinct replayed PRs than this: no model (the default
    /// calibration stays, and says why).
    pub min_prs: usize,
    /// Share of the most recent PRs held out to compare with the default.
    pub holdout_share: f64,
    /// At least this many PRs held out (when there are enough).
    pub min_holdout: usize,
    /// The largest set the ranker predicts.
    pub max_files: usize,
    pub l2: f64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            min_prs: 20,
            holdout_share: 0.2,
            min_holdout: 8,
            max_files: 12,
            l2: 1e-2,
        }
    }
}

/// What a fit found; `status` shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FitReport {
    /// Distinct pull requests and examples (PR × budget) trained on.
    pub prs: usize,
    pub examples: usize,
    pub rows: usize,
    pub positives: usize,
    /// PRs held out, and the macro F1 there of the learned ranker (fitted
    /// without them) and of the default calibration.
    pub holdout_prs: usize,
    pub holdout_f1_learned: f64,
    pub holdout_f1_default: f64,
    /// Whether predictions use the learned ranker.
    pub used: bool,
    /// Why, in words.
    pub reason: String,
    /// The final fit's weights on standardised features, largest first.
    pub weights: Vec<(String, f64)>,
}

/// A fitted ranker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ranker {
    pub version: u32,
    pub logistic: Logistic,
    /// Expected gold files outside the candidates (from training).
    pub outside: f64,
    pub max_files: usize,
    pub report: FitReport,
}

impl Ranker {
    /// Every candidate with its probability, most likely first (ties by
    /// the default ranking).
    pub fn rank(&self, cands: &[Candidate], q: &Query) -> Vec<(usize, f64)> {
        let mut out: Vec<(usize, f64)> = cands
            .iter()
            .enumerate()
            .map(|(i, c)| (i, self.logistic.prob(&features::features(c, q))))
            .collect();
        out.sort_by(|a, b| {
            b.1.total_cmp(&a.1)
                .then(cands[a.0].rank.cmp(&cands[b.0].rank))
                .then(cands[a.0].path.cmp(&cands[b.0].path))
        });
        out
    }

    /// The set that maximises expected F1: indexes into `cands` with their
    /// probabilities, most likely first.
    pub fn choose(&self, cands: &[Candidate], q: &Query) -> Vec<(usize, f64)> {
        let ranked = self.rank(cands, q);
        let probs: Vec<f64> = ranked.iter().map(|r| r.1).collect();
        let (k, _) = set_select::best_size(&probs, self.outside, self.max_files);
        ranked.into_iter().take(k).collect()
    }
}

/// Trains on `examples` (any order). Returns the ranker when it should be
/// used, and always the report saying what happened.
pub fn train(examples: &[Example], opts: &TrainOptions) -> (Option<Ranker>, FitReport) {
    let mut report = FitReport {
        examples: examples.len(),
        ..FitReport::default()
    };
    // PRs newest first; every budget of a PR goes to the same side.
    let mut prs: Vec<(&str, i64)> = examples
        .iter()
        .map(|e| (e.commit.as_str(), e.time))
        .collect();
    prs.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    prs.dedup_by(|a, b| a.0 == b.0);
    report.prs = prs.len();
    if prs.len() < opts.min_prs {
        report.reason = format!(
            "too little history: {} replayed pull requests, {} needed; the default calibration is used",
            prs.len(),
            opts.min_prs
        );
        return (None, report);
    }
    let holdout_n = ((prs.len() as f64 * opts.holdout_share).round() as usize)
        .max(opts.min_holdout)
        .min(prs.len() / 2);
    let held: HashSet<&str> = prs[..holdout_n].iter().map(|p| p.0).collect();
    let (test, train_set): (Vec<&Example>, Vec<&Example>) = examples
        .iter()
        .partition(|e| held.contains(e.commit.as_str()));
    let trial = fit(&train_set, opts, FitReport::default());
    let f1 = |choice: &dyn Fn(&Example) -> Vec<String>| -> f64 {
        if test.is_empty() {
            return 0.0;
        }
        test.iter().map(|e| f1_of(&choice(e), &e.gold)).sum::<f64>() / test.len() as f64
    };
    report.holdout_prs = holdout_n;
    report.holdout_f1_learned = f1(&|e: &Example| {
        trial
            .choose(&e.candidates, &e.query)
            .into_iter()
            .map(|(i, _)| e.candidates[i].path.clone())
            .collect()
    });
    report.holdout_f1_default = f1(&|e: &Example| e.default_choice.clone());
    let all: Vec<&Example> = examples.iter().collect();
    let mut ranker = fit(&all, opts, report.clone());
    let used = report.holdout_f1_learned + 1e-9 >= report.holdout_f1_default;
    ranker.report.used = used;
    ranker.report.reason = if used {
        format!(
            "learned from {} pull requests: held-out F1 {:.3} on the {} most recent, against {:.3} for the default calibration",
            prs.len(),
            report.holdout_f1_learned,
            holdout_n,
            report.holdout_f1_default
        )
    } else {
        format!(
            "the learned ranker did worse on the {} most recent pull requests (F1 {:.3} against {:.3}); the default calibration is used",
            holdout_n, report.holdout_f1_learned, report.holdout_f1_default
        )
    };
    let report = ranker.report.clone();
    (used.then_some(ranker), report)
}

fn fit(examples: &[&Example], opts: &TrainOptions, mut report: FitReport) -> Ranker {
    let mut x = Vec::new();
    let mut y = Vec::new();
    let mut uncovered = 0usize;
    for e in examples {
        for (c, label) in e.candidates.iter().zip(e.labels()) {
            x.push(features::features(c, &e.query));
            y.push(label);
        }
        uncovered += e.uncovered();
    }
    let logistic = Logistic::fit(
        &x,
        &y,
        &[],
        FitOptions {
            l2: opts.l2,
            ..FitOptions::default()
        },
    );
    report.rows = x.len();
    report.positives = y.iter().filter(|v| **v).count();
    let mut weights: Vec<(String, f64)> = NAMES
        .iter()
        .zip(&logistic.weights)
        .map(|(n, w)| (n.to_string(), *w))
        .collect();
    weights.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then(a.0.cmp(&b.0)));
    report.weights = weights;
    Ranker {
        version: FEATURE_VERSION,
        logistic,
        outside: uncovered as f64 / examples.len().max(1) as f64,
        max_files: opts.max_files,
        report,
    }
}

/// F1 of `predicted` against `gold` (0 when either is empty).
pub fn f1_of(predicted: &[String], gold: &[String]) -> f64 {
    if predicted.is_empty() || gold.is_empty() {
        return 0.0;
    }
    let g: HashSet<&str> = gold.iter().map(String::as_str).collect();
    let tp = predicted.iter().filter(|p| g.contains(p.as_str())).count() as f64;
    if tp == 0.0 {
        return 0.0;
    }
    let p = tp / predicted.len() as f64;
    let r = tp / gold.len() as f64;
    2.0 * p * r / (p + r)
}
