//! File-set precision, recall and F1, as in SWE-Features. Pure.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Prf {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

/// Scores a predicted set against the gold set. An empty prediction scores
/// 0; an empty gold set scores 0 too (nothing can be found).
pub fn score(predicted: &[String], gold: &[String]) -> Prf {
    let p: HashSet<&str> = predicted.iter().map(String::as_str).collect();
    let g: HashSet<&str> = gold.iter().map(String::as_str).collect();
    if p.is_empty() || g.is_empty() {
        return Prf::default();
    }
    let hits = p.intersection(&g).count() as f64;
    let precision = hits / p.len() as f64;
    let recall = hits / g.len() as f64;
    let f1 = if hits == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    };
    Prf {
        precision,
        recall,
        f1,
    }
}

/// Macro average over instances.
pub fn macro_avg(scores: &[Prf]) -> Prf {
    if scores.is_empty() {
        return Prf::default();
    }
    let n = scores.len() as f64;
    Prf {
        precision: scores.iter().map(|s| s.precision).sum::<f64>() / n,
        recall: scores.iter().map(|s| s.recall).sum::<f64>() / n,
        f1: scores.iter().map(|s| s.f1).sum::<f64>() / n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn exact_scores() {
        assert_eq!(
            score(&v(&["a", "b"]), &v(&["a", "b"])),
            Prf {
                precision: 1.0,
                recall: 1.0,
                f1: 1.0
            }
        );
        let s = score(&v(&["a", "x", "y", "z"]), &v(&["a", "b"]));
        assert_eq!(s.precision, 0.25);
        assert_eq!(s.recall, 0.5);
        assert!((s.f1 - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(score(&[], &v(&["a"])), Prf::default());
        assert_eq!(score(&v(&["x"]), &v(&["a"])), Prf::default());
        assert_eq!(score(&v(&["a", "a"]), &v(&["a"])).precision, 1.0);
    }

    #[test]
    fn macro_average() {
        let m = macro_avg(&[
            Prf {
                precision: 1.0,
                recall: 0.5,
                f1: 0.6,
            },
            Prf::default(),
        ]);
        assert_eq!(
            m,
            Prf {
                precision: 0.5,
                recall: 0.25,
                f1: 0.3
            }
        );
    }
}
