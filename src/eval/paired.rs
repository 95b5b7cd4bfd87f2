//! How sure a difference is: two sets of answers paired instance by
//! instance (the sleep arm against the no-sleep arm of one eval, or one
//! eval against another: [`arms`], [`runs`]), at each budget, with a 95%
//! bootstrap interval of the mean F1 difference and the count of instances
//! each side won. A
//! benchmark of twenty instances can move a macro F1 by a few hundredths
//! on noise alone; the interval says which differences stand clear of it.
//! Pure and deterministic (a fixed-seed generator), so a report is the same
//! every time it is written from the same records.

use std::collections::BTreeMap;

use serde::Serialize;

use super::report::ALL;
use super::runner::{Arm, RunRecord};

/// Resamples of the bootstrap: enough for a stable 2.5th/97.5th
/// percentile to the third decimal.
const RESAMPLES: usize = 2000;

/// One side against the other (the sleep arm, at one sleep budget, against
/// the no-sleep arm; or a later eval against an earlier one) on the
/// instances both answered at one budget.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Paired {
    pub repo: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sleep_budget: Option<usize>,
    pub budget: u64,
    /// Instances answered by both arms.
    pub pairs: usize,
    /// Mean of (this side's F1 − the other's) over the pairs.
    pub mean_diff: f64,
    /// 95% percentile bootstrap interval of `mean_diff`.
    pub low: f64,
    pub high: f64,
    /// Instances where this side scored higher, the same, lower.
    pub wins: usize,
    pub ties: usize,
    pub losses: usize,
}

impl Paired {
    /// Whether the interval leaves out zero: above it (`Some(true)`),
    /// below it (`Some(false)`), or not clear of noise (`None`).
    pub fn clear(&self) -> Option<bool> {
        if self.low > 0.0 {
            Some(true)
        } else if self.high < 0.0 {
            Some(false)
        } else {
            None
        }
    }
}

/// Pairs' F1 differences by (repository or [`ALL`], sleep budget, budget).
type Diffs = BTreeMap<(String, Option<usize>, u64), Vec<f64>>;

/// The sleep arm against the no-sleep arm of one eval: per repository and
/// for all of them, per sleep budget of the sleep arm and per budget.
pub fn arms(records: &[RunRecord]) -> Vec<Paired> {
    let mut base: BTreeMap<(&str, &str, u64), f64> = BTreeMap::new();
    for r in records.iter().filter(|r| r.arm == Arm::NoSleep) {
        base.insert((&r.repo, &r.instance_id, r.budget), r.prf.f1);
    }
    let mut diffs = Diffs::new();
    for r in records.iter().filter(|r| r.arm == Arm::Sleep) {
        if let Some(b) = base.get(&(r.repo.as_str(), r.instance_id.as_str(), r.budget)) {
            push(&mut diffs, r, r.prf.f1 - b);
        }
    }
    summarise(diffs)
}

/// A later eval (`after`) against an earlier one (`before`) on one arm:
/// each record of `after` is paired with the record of `before` for the
/// same instance, arm, budget and sleep budget.
pub fn runs(before: &[RunRecord], after: &[RunRecord], arm: Arm) -> Vec<Paired> {
    type Key<'a> = (&'a str, &'a str, u64, Option<usize>);
    let mut base: BTreeMap<Key, f64> = BTreeMap::new();
    for r in before.iter().filter(|r| r.arm == arm) {
        base.insert(
            (&r.repo, &r.instance_id, r.budget, r.sleep_budget),
            r.prf.f1,
        );
    }
    let mut diffs = Diffs::new();
    for r in after.iter().filter(|r| r.arm == arm) {
        let key = (
            r.repo.as_str(),
            r.instance_id.as_str(),
            r.budget,
            r.sleep_budget,
        );
        if let Some(b) = base.get(&key) {
            push(&mut diffs, r, r.prf.f1 - b);
        }
    }
    summarise(diffs)
}

/// More sleep against the least: each sleep budget of the sleep arm
/// against the smallest one the records hold (usually 0, no learning), on
/// the same instances and budgets. Empty with fewer than two sleep budgets.
pub fn sleep_budgets(records: &[RunRecord]) -> Vec<Paired> {
    let sleep: Vec<&RunRecord> = records.iter().filter(|r| r.arm == Arm::Sleep).collect();
    let Some(least) = sleep.iter().filter_map(|r| r.sleep_budget).min() else {
        return Vec::new();
    };
    let mut base: BTreeMap<(&str, &str, u64), f64> = BTreeMap::new();
    for r in sleep.iter().filter(|r| r.sleep_budget == Some(least)) {
        base.insert((&r.repo, &r.instance_id, r.budget), r.prf.f1);
    }
    let mut diffs = Diffs::new();
    for r in sleep
        .iter()
        .filter(|r| r.sleep_budget.is_some_and(|s| s > least))
    {
        if let Some(b) = base.get(&(r.repo.as_str(), r.instance_id.as_str(), r.budget)) {
            push(&mut diffs, r, r.prf.f1 - b);
        }
    }
    summarise(diffs)
}

fn push(diffs: &mut Diffs, r: &RunRecord, d: f64) {
    for repo in [r.repo.as_str(), ALL] {
        diffs
            .entry((repo.to_string(), r.sleep_budget, r.budget))
            .or_default()
            .push(d);
    }
}

fn summarise(diffs: Diffs) -> Vec<Paired> {
    diffs
        .into_iter()
        .map(|((repo, sleep_budget, budget), d)| {
            let (low, high) = interval(&d);
            Paired {
                repo,
                sleep_budget,
                budget,
                pairs: d.len(),
                mean_diff: mean(&d),
                low,
                high,
                wins: d.iter().filter(|x| **x > 1e-12).count(),
                ties: d.iter().filter(|x| x.abs() <= 1e-12).count(),
                losses: d.iter().filter(|x| **x < -1e-12).count(),
            }
        })
        .collect()
}

fn mean(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        0.0
    } else {
        xs.iter().sum::<f64>() / xs.len() as f64
    }
}

/// 95% percentile bootstrap interval of the mean of `xs`.
fn interval(xs: &[f64]) -> (f64, f64) {
    if xs.len() < 2 {
        let m = mean(xs);
        return (m, m);
    }
    let mut rng = SplitMix(0x5eed_0ff1 ^ xs.len() as u64);
    let mut means: Vec<f64> = (0..RESAMPLES)
        .map(|_| {
            let sum: f64 = (0..xs.len())
                .map(|_| xs[rng.below(xs.len() as u64) as usize])
                .sum();
            sum / xs.len() as f64
        })
        .collect();
    means.sort_by(f64::total_cmp);
    let at = |q: f64| means[((RESAMPLES - 1) as f64 * q).round() as usize];
    (at(0.025), at(0.975))
}

/// SplitMix64: a small, well-mixed generator; a fixed seed keeps every
/// report reproducible.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n` > 0), by rejection so no value is favoured.
    fn below(&mut self, n: u64) -> u64 {
        let zone = u64::MAX - u64::MAX % n;
        loop {
            let x = self.next();
            if x < zone {
                return x % n;
            }
        }
    }
}

/// "−0.031 to +0.094".
pub fn interval_text(p: &Paired) -> String {
    format!("{:+.3} to {:+.3}", p.low, p.high)
}

/// The report's section: the sleep arm against the no-sleep arm, one line
/// per repository, sleep budget and budget.
pub fn markdown(paired: &[Paired], one_repo: bool) -> String {
    if paired.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "## Sleep against no-sleep, instance by instance\n\nThe sleep arm's F1 minus the no-sleep arm's on each instance both answered, averaged, with a 95% bootstrap interval (2,000 resamples): a difference whose interval holds 0 is not clear of noise on this many instances.\n\n",
    );
    out.push_str(&table(paired, one_repo, "sleep"));
    out.push('\n');
    out
}

/// The table of pairings, `side` naming the side whose F1 comes first
/// ("sleep", "after").
pub fn table(paired: &[Paired], one_repo: bool, side: &str) -> String {
    let mut out = format!(
        "| repo | sleep budget (PRs) | budget | pairs | F1 difference | 95% interval | clear? | {side} better / same / worse |\n|---|---:|---:|---:|---:|---:|---|---:|\n"
    );
    let mut rows: Vec<&Paired> = paired
        .iter()
        .filter(|p| !(one_repo && p.repo == ALL))
        .collect();
    rows.sort_by(|a, b| {
        (a.repo == ALL)
            .cmp(&(b.repo == ALL))
            .then_with(|| a.repo.cmp(&b.repo))
            .then(a.sleep_budget.cmp(&b.sleep_budget))
            .then(a.budget.cmp(&b.budget))
    });
    for p in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {:+.3} | {} | {} | {} / {} / {} |\n",
            p.repo,
            p.sleep_budget.map_or("-".to_string(), |b| b.to_string()),
            p.budget,
            p.pairs,
            p.mean_diff,
            interval_text(p),
            match p.clear() {
                Some(true) => format!("{side} ahead"),
                Some(false) => format!("{side} behind"),
                None => "no".to_string(),
            },
            p.wins,
            p.ties,
            p.losses
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str, arm: Arm, budget: u64, f1: f64) -> RunRecord {
        RunRecord::scored(id, arm, budget, f1)
    }

    #[test]
    fn a_steady_gain_is_clear_and_a_coin_flip_is_not() {
        let mut rs = Vec::new();
        for i in 0..40 {
            let id = format!("i{i}");
            // At 1000 the sleep arm gains 0.10 to 0.14 everywhere.
            rs.push(rec(&id, Arm::NoSleep, 1000, 0.3));
            rs.push(rec(&id, Arm::Sleep, 1000, 0.4 + (i % 5) as f64 * 0.01));
            // At 4000 it wins half the instances by 0.5 and loses half by 0.5.
            rs.push(rec(&id, Arm::NoSleep, 4000, 0.5));
            rs.push(rec(
                &id,
                Arm::Sleep,
                4000,
                if i % 2 == 0 { 1.0 } else { 0.0 },
            ));
        }
        let p = arms(&rs);
        let at = |b: u64| {
            p.iter()
                .find(|x| x.repo == "o/r" && x.budget == b)
                .expect("paired")
        };
        let steady = at(1000);
        assert_eq!(steady.pairs, 40);
        assert!((steady.mean_diff - 0.12).abs() < 1e-9, "{steady:?}");
        assert!(steady.low > 0.10 && steady.high < 0.14, "{steady:?}");
        assert_eq!(steady.clear(), Some(true));
        assert_eq!((steady.wins, steady.ties, steady.losses), (40, 0, 0));
        let flip = at(4000);
        assert!(flip.mean_diff.abs() < 1e-9, "{flip:?}");
        assert!(flip.low < -0.1 && flip.high > 0.1, "{flip:?}");
        assert_eq!(flip.clear(), None);
        assert_eq!((flip.wins, flip.ties, flip.losses), (20, 0, 20));
        // The overall rows pair the same instances.
        assert!(
            p.iter()
                .any(|x| x.repo == ALL && x.budget == 1000 && x.pairs == 40)
        );
        // Deterministic: the same records, the same intervals.
        assert_eq!(p, arms(&rs));
    }

    #[test]
    fn only_instances_both_arms_answered_are_paired() {
        let rs = vec![
            rec("a", Arm::Sleep, 1000, 0.5),
            rec("a", Arm::NoSleep, 1000, 0.25),
            rec("b", Arm::Sleep, 1000, 0.9),
            rec("c", Arm::NoSleep, 1000, 0.1),
            rec("a", Arm::Sleep, 4000, 0.5),
        ];
        let p = arms(&rs);
        let one = p
            .iter()
            .find(|x| x.repo == "o/r" && x.budget == 1000)
            .expect("paired");
        assert_eq!(one.pairs, 1);
        assert!((one.mean_diff - 0.25).abs() < 1e-12);
        assert_eq!((one.low, one.high), (0.25, 0.25));
        assert!(
            !p.iter().any(|x| x.budget == 4000),
            "no no-sleep run at 4000"
        );
    }

    #[test]
    fn each_sleep_budget_is_paired_with_the_least() {
        let mut rs = Vec::new();
        for i in 0..10 {
            let id = format!("i{i}");
            for (sb, f1) in [(0, 0.3), (50, 0.35), (200, 0.5)] {
                let mut r = rec(&id, Arm::Sleep, 1000, f1);
                r.sleep_budget = Some(sb);
                rs.push(r);
            }
            rs.push(rec(&id, Arm::NoSleep, 1000, 0.9));
        }
        let p = sleep_budgets(&rs);
        let at = |sb: usize| {
            p.iter()
                .find(|x| x.repo == "o/r" && x.sleep_budget == Some(sb))
                .expect("paired")
        };
        assert!((at(50).mean_diff - 0.05).abs() < 1e-9);
        assert!((at(200).mean_diff - 0.2).abs() < 1e-9);
        assert_eq!(at(200).pairs, 10);
        assert!(
            !p.iter().any(|x| x.sleep_budget == Some(0)),
            "the least is the baseline"
        );
        // One sleep budget: nothing to pair.
        let one: Vec<RunRecord> = rs
            .into_iter()
            .filter(|r| r.sleep_budget != Some(50) && r.sleep_budget != Some(200))
            .collect();
        assert!(sleep_budgets(&one).is_empty());
    }

    #[test]
    fn the_section_says_which_differences_are_clear() {
        let mut rs = Vec::new();
        for i in 0..30 {
            let id = format!("i{i}");
            rs.push(rec(&id, Arm::NoSleep, 1000, 0.2));
            rs.push(rec(&id, Arm::Sleep, 1000, 0.6));
        }
        let md = markdown(&arms(&rs), true);
        assert!(
            md.contains(
                "| o/r | 0 | 1000 | 30 | +0.400 | +0.400 to +0.400 | sleep ahead | 30 / 0 / 0 |"
            ),
            "{md}"
        );
        assert!(
            !md.contains("| all |"),
            "one repository: no overall line\n{md}"
        );
    }
}
