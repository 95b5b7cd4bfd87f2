//! Choosing the predicted set from probabilities: the prefix of the
//! candidates (best first) that maximises the expected F1, treating each
//! candidate's label as an independent Bernoulli draw (Jansche 2007; Ye,
//! Chai, Lee and Chieu 2012, "Optimizing F-measures: a tale of two
//! approaches"). Gold files the candidates do not hold at all enter as a
//! fixed expected count. Pure.

/// The number of top candidates (sorted by `probs`, best first) to predict
/// to maximise expected F1, with `outside` expected gold files among no
/// candidate; and that expected F1. At least one when any probability is
/// positive; at most `max`.
pub fn best_size(probs: &[f64], outside: f64, max: usize) -> (usize, f64) {
    let n = probs.len();
    if n == 0 || max == 0 {
        return (0, 0.0);
    }
    let p: Vec<f64> = probs.iter().map(|v| v.clamp(0.0, 1.0)).collect();
    // suffix[k]: distribution of the number of positives among p[k..].
    let mut suffix: Vec<Vec<f64>> = vec![Vec::new(); n + 1];
    suffix[n] = vec![1.0];
    for k in (0..n).rev() {
        suffix[k] = add_bernoulli(&suffix[k + 1], p[k]);
    }
    let outside = outside.max(0.0);
    let mut prefix = vec![1.0];
    let mut best = (1, f64::MIN);
    for k in 1..=n.min(max) {
        prefix = add_bernoulli(&prefix, p[k - 1]);
        let rest = &suffix[k];
        let mut e = 0.0;
        for (tp, pa) in prefix.iter().enumerate() {
            if tp == 0 || *pa == 0.0 {
                continue;
            }
            for (fn_, pb) in rest.iter().enumerate() {
                if *pb == 0.0 {
                    continue;
                }
                let gold = (tp + fn_) as f64 + outside;
                e += pa * pb * 2.0 * tp as f64 / (k as f64 + gold);
            }
        }
        if e > best.1 + 1e-12 {
            best = (k, e);
        }
    }
    (best.0, best.1.max(0.0))
}

/// The distribution of a count after one more Bernoulli(`p`) draw.
fn add_bernoulli(dist: &[f64], p: f64) -> Vec<f64> {
    let mut out = vec![0.0; dist.len() + 1];
    for (i, v) in dist.iter().enumerate() {
        out[i] += v * (1.0 - p);
        out[i + 1] += v * p;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected F1 of predicting the first `k` by brute force over every
    /// labelling (small n only).
    fn brute(p: &[f64], k: usize, outside: f64) -> f64 {
        let n = p.len();
        let mut e = 0.0;
        for mask in 0u32..(1 << n) {
            let mut prob = 1.0;
            for (i, pi) in p.iter().enumerate() {
                prob *= if mask & (1 << i) != 0 { *pi } else { 1.0 - pi };
            }
            let tp = (0..k).filter(|i| mask & (1 << i) != 0).count() as f64;
            let gold = mask.count_ones() as f64 + outside;
            if tp > 0.0 {
                e += prob * 2.0 * tp / (k as f64 + gold);
            }
        }
        e
    }

    #[test]
    fn matches_brute_force_expectation() {
        let p = [0.9, 0.7, 0.45, 0.3, 0.1, 0.05];
        for outside in [0.0, 0.8] {
            let (k, e) = best_size(&p, outside, 10);
            let by_brute: Vec<f64> = (1..=p.len()).map(|k| brute(&p, k, outside)).collect();
            let best = by_brute.iter().cloned().fold(f64::MIN, f64::max);
            assert!((e - best).abs() < 1e-9, "{e} vs {best}");
            assert!((by_brute[k - 1] - best).abs() < 1e-9);
        }
    }

    #[test]
    fn confident_candidates_are_all_taken_and_weak_ones_left() {
        assert_eq!(best_size(&[0.95, 0.9, 0.92, 0.02, 0.01], 0.0, 10).0, 3);
        assert_eq!(best_size(&[0.3, 0.05], 0.0, 10).0, 1, "at least one");
        assert_eq!(best_size(&[0.9; 8], 0.0, 5).0, 5, "capped");
        assert_eq!(best_size(&[], 0.0, 5).0, 0);
    }

    #[test]
    fn more_missing_gold_favours_larger_sets() {
        let p = [0.8, 0.5, 0.35, 0.3, 0.25, 0.2];
        let small = best_size(&p, 0.0, 10).0;
        let large = best_size(&p, 4.0, 10).0;
        assert!(large >= small, "{small} {large}");
    }
}
