//! The per-repository ranker: training examples replayed from the
//! repository's own past pull requests, the fit (with a held-out check
//! against the default calibration on the most recent ones), and the
//! choice of a set at test time. Pure.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::features::{self, Candidate, FEATURE_VERSION, NAMES, Query};
use super::logistic::{FitOptions, Logistic};
use super::search::{self, SearchExample, SearchRanker};
use super::set_select;

/// How fits are made and used; a stored fit of another version is made
/// again from the stored examples (no replay needed). 2: the learned choice
/// is decided per replayed budget.
pub const MODEL_VERSION: u32 = 2;

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
    /// Source files the PR changed (any status).
    #[serde(default)]
    pub source_changed: usize,
    /// What the fused search knew about every file it found for the
    /// request (once per PR; the same at every budget).
    #[serde(default)]
    pub search: Option<SearchExample>,
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
    /// Training queries are PRs like the requests answered: at least this
    /// many modified files and this many source files changed (the
    /// SWE-Features definition: new functionality across several files).
    pub min_modified: usize,
    pub min_source: usize,
    /// Fit the search ranking; fit the final choice.
    pub search: bool,
    pub choose: bool,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            min_prs: 20,
            holdout_share: 0.2,
            min_holdout: 8,
            max_files: 12,
            l2: 1e-2,
            min_modified: 2,
            min_source: 3,
            search: true,
            choose: true,
        }
    }
}

/// What training produced: the parts that beat the defaults, and the report.
#[derive(Debug, Clone, Default)]
pub struct Trained {
    pub ranker: Option<Ranker>,
    pub search: Option<SearchRanker>,
    pub report: FitReport,
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
    /// Replayed PRs left out of training: smaller than the requests
    /// answered (see [`TrainOptions::min_modified`]).
    #[serde(default)]
    pub skipped_small: usize,
    /// The search ranking: held-out recall of the first 10 files, learned
    /// and default fusion; whether searches use it.
    #[serde(default)]
    pub search_recall_learned: f64,
    #[serde(default)]
    pub search_recall_default: f64,
    #[serde(default)]
    pub search_used: bool,
    /// The held-out check at each replayed budget: the learned choice is
    /// used at a budget only where it did at least as well there (a set
    /// size that suits 1,000 tokens of evidence need not suit 4,000).
    #[serde(default)]
    pub per_budget: Vec<BudgetFit>,
    /// [`MODEL_VERSION`] when fitted (0: before versions were kept).
    #[serde(default)]
    pub model_version: u32,
}

/// The held-out check at one replayed budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BudgetFit {
    pub budget: u64,
    pub prs: usize,
    pub f1_learned: f64,
    pub f1_default: f64,
    pub used: bool,
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

    /// Whether the learned choice is used for a run of `budget` tokens: as
    /// decided at the replayed budget nearest to it (by ratio). A model
    /// without per-budget checks is used at every budget.
    pub fn used_at(&self, budget: u64) -> bool {
        let budget = budget.max(1) as f64;
        self.report
            .per_budget
            .iter()
            .min_by(|a, b| {
                let d = |f: &BudgetFit| (f.budget.max(1) as f64 / budget).ln().abs();
                d(a).total_cmp(&d(b)).then(a.budget.cmp(&b.budget))
            })
            .is_none_or(|f| f.used)
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

/// Trains on `examples` (any order): the search ranking and the final
/// choice, each checked on the most recent PRs against its default and
/// kept only when it does at least as well.
pub fn train(examples: &[Example], opts: &TrainOptions) -> Trained {
    let mut report = FitReport {
        model_version: MODEL_VERSION,
        ..FitReport::default()
    };
    let kept: Vec<&Example> = examples
        .iter()
        .filter(|e| e.gold.len() >= opts.min_modified && e.source_changed >= opts.min_source)
        .collect();
    // PRs newest first; every budget of a PR goes to the same side.
    let prs_of = |list: &[&Example]| -> Vec<(String, i64)> {
        let mut prs: Vec<(String, i64)> = list.iter().map(|e| (e.commit.clone(), e.time)).collect();
        prs.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        prs.dedup_by(|a, b| a.0 == b.0);
        prs
    };
    let all: Vec<&Example> = examples.iter().collect();
    report.skipped_small = prs_of(&all).len() - prs_of(&kept).len();
    let prs = prs_of(&kept);
    report.examples = kept.len();
    report.prs = prs.len();
    if prs.len() < opts.min_prs {
        report.reason = format!(
            "too little history: {} replayed pull requests like the requests answered ({} smaller ones left out), {} needed; the default calibration is used",
            prs.len(),
            report.skipped_small,
            opts.min_prs
        );
        return Trained {
            report,
            ..Trained::default()
        };
    }
    let holdout_n = ((prs.len() as f64 * opts.holdout_share).round() as usize)
        .max(opts.min_holdout)
        .min(prs.len() / 2);
    let held: HashSet<&str> = prs[..holdout_n].iter().map(|p| p.0.as_str()).collect();
    let (test, train_set): (Vec<&Example>, Vec<&Example>) =
        kept.iter().partition(|e| held.contains(e.commit.as_str()));
    report.holdout_prs = holdout_n;

    // The search ranking: one search per PR.
    let searches = |list: &[&Example]| -> Vec<(SearchExample, Vec<String>)> {
        let mut seen = HashSet::new();
        list.iter()
            .filter(|e| seen.insert(e.commit.clone()))
            .filter_map(|e| e.search.clone().map(|s| (s, e.gold.clone())))
            .collect()
    };
    let mut search_ranker = None;
    if opts.search {
        let (tr, te) = (searches(&train_set), searches(&test));
        let tr_refs: Vec<(&SearchExample, &[String])> =
            tr.iter().map(|(e, g)| (e, g.as_slice())).collect();
        let te_refs: Vec<(&SearchExample, &[String])> =
            te.iter().map(|(e, g)| (e, g.as_slice())).collect();
        if !tr_refs.is_empty() && !te_refs.is_empty() {
            let trial = search::fit_search(&tr_refs, opts.l2);
            report.search_recall_learned = search::recall_at(&te_refs, 10, &|e| {
                trial
                    .rank(&e.candidates, e.terms)
                    .into_iter()
                    .map(|x| x.0)
                    .collect()
            });
            report.search_recall_default =
                search::recall_at(&te_refs, 10, &|e| (0..e.candidates.len()).collect());
            if report.search_recall_learned + 1e-9 >= report.search_recall_default {
                let everything = searches(&kept);
                let refs: Vec<(&SearchExample, &[String])> =
                    everything.iter().map(|(e, g)| (e, g.as_slice())).collect();
                search_ranker = Some(search::fit_search(&refs, opts.l2));
                report.search_used = true;
            }
        }
    }

    let trial = fit(&train_set, opts, FitReport::default());
    let f1 = |choice: &dyn Fn(&Example) -> Vec<String>| -> f64 {
        if test.is_empty() {
            return 0.0;
        }
        test.iter().map(|e| f1_of(&choice(e), &e.gold)).sum::<f64>() / test.len() as f64
    };
    report.holdout_f1_learned = f1(&|e: &Example| {
        trial
            .choose(&e.candidates, &e.query)
            .into_iter()
            .map(|(i, _)| e.candidates[i].path.clone())
            .collect()
    });
    report.holdout_f1_default = f1(&|e: &Example| e.default_choice.clone());
    let mut budgets: Vec<u64> = test.iter().map(|e| e.query.budget).collect();
    budgets.sort_unstable();
    budgets.dedup();
    for budget in budgets {
        let at: Vec<&&Example> = test.iter().filter(|e| e.query.budget == budget).collect();
        let mean = |choice: &dyn Fn(&Example) -> Vec<String>| -> f64 {
            at.iter().map(|e| f1_of(&choice(e), &e.gold)).sum::<f64>() / at.len() as f64
        };
        let f1_learned = mean(&|e: &Example| {
            trial
                .choose(&e.candidates, &e.query)
                .into_iter()
                .map(|(i, _)| e.candidates[i].path.clone())
                .collect()
        });
        let f1_default = mean(&|e: &Example| e.default_choice.clone());
        report.per_budget.push(BudgetFit {
            budget,
            prs: at.len(),
            f1_learned,
            f1_default,
            used: opts.choose && f1_learned + 1e-9 >= f1_default,
        });
    }
    let mut ranker = fit(&kept, opts, report.clone());
    let used = opts.choose && report.per_budget.iter().any(|b| b.used);
    ranker.report.used = used;
    let search_words = if report.search_used {
        format!(
            "; searches use the learned ranking (held-out recall of the first 10 files {:.3} against {:.3})",
            report.search_recall_learned, report.search_recall_default
        )
    } else {
        String::new()
    };
    let budget_words = if report.per_budget.iter().all(|b| b.used) {
        String::new()
    } else {
        let kept_at: Vec<String> = report
            .per_budget
            .iter()
            .filter(|b| b.used)
            .map(|b| b.budget.to_string())
            .collect();
        format!(" (used near {} tokens only)", kept_at.join(" and "))
    };
    ranker.report.reason = if used {
        format!(
            "learned from {} pull requests: held-out F1 {:.3} on the {} most recent, against {:.3} for the default calibration{budget_words}{search_words}",
            prs.len(),
            report.holdout_f1_learned,
            holdout_n,
            report.holdout_f1_default
        )
    } else {
        format!(
            "learned from {} pull requests; the default calibration chooses the set (held-out F1 {:.3} for the learned choice against {:.3}){search_words}",
            prs.len(),
            report.holdout_f1_learned,
            report.holdout_f1_default
        )
    };
    let report = ranker.report.clone();
    Trained {
        ranker: used.then_some(ranker),
        search: search_ranker,
        report,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// 40 PRs replayed at 1,000 and 4,000 tokens. Gold files are the ones
    /// with strong co-change, plus one no candidate names. At 1,000
    /// tokens the default calibration chose a wrong file; at 4,000 it chose
    /// exactly the gold set, which the learned choice cannot match.
    fn examples() -> Vec<Example> {
        let mut out = Vec::new();
        for pr in 0..40u64 {
            for budget in [1000u64, 4000] {
                let mut candidates = Vec::new();
                let mut gold = Vec::new();
                for f in 0..6usize {
                    let strong = (f + pr as usize) % 3 == 0;
                    let path = format!("src/f{f}.rs");
                    if strong {
                        gold.push(path.clone());
                    }
                    candidates.push(Candidate {
                        path,
                        fused: 1.0 - f as f64 * 0.1,
                        rank: f,
                        cochange: if strong { 0.9 } else { 0.05 },
                        ..Default::default()
                    });
                }
                gold.push("src/hidden.rs".to_string());
                let default_choice = if budget == 1000 {
                    vec!["src/none.rs".to_string()]
                } else {
                    gold.clone()
                };
                out.push(Example {
                    pr: Some(pr),
                    commit: format!("{pr:040x}"),
                    base: String::new(),
                    time: pr as i64,
                    query: Query {
                        terms: 4,
                        candidates: 6,
                        budget,
                    },
                    candidates,
                    gold,
                    default_choice,
                    source_changed: 3,
                    search: None,
                });
            }
        }
        out
    }

    #[test]
    fn the_learned_choice_is_decided_per_budget() {
        let trained = train(&examples(), &TrainOptions::default());
        let report = &trained.report;
        assert_eq!(report.model_version, MODEL_VERSION);
        let at: Vec<(u64, bool)> = report
            .per_budget
            .iter()
            .map(|b| (b.budget, b.used))
            .collect();
        assert_eq!(at, vec![(1000, true), (4000, false)], "{report:?}");
        assert!(
            report.reason.contains("used near 1000 tokens only"),
            "{}",
            report.reason
        );
        let ranker = trained.ranker.expect("used at one budget");
        assert!(ranker.used_at(1000));
        assert!(ranker.used_at(700));
        assert!(!ranker.used_at(4000));
        assert!(!ranker.used_at(2500), "2,500 is nearer 4,000 by ratio");
        assert!(!ranker.used_at(8000));
    }

    #[test]
    fn a_fit_without_per_budget_checks_is_used_everywhere() {
        let mut ranker = train(&examples(), &TrainOptions::default())
            .ranker
            .expect("a ranker");
        ranker.report.per_budget.clear();
        assert!(ranker.used_at(1000) && ranker.used_at(4000) && ranker.used_at(u64::MAX));
    }
}
