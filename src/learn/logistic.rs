//! L2-regularised logistic regression, fitted by Newton's method on
//! standardised features. Small and exact: a few dozen features and tens
//! of thousands of rows fit in milliseconds. Pure.

// Matrix code reads best with explicit indexes.
#![allow(clippy::needless_range_loop)]

use serde::{Deserialize, Serialize};

/// A fitted model: `p(x) = σ(b + Σ w_j (x_j - mean_j) / scale_j)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Logistic {
    pub weights: Vec<f64>,
    pub bias: f64,
    pub mean: Vec<f64>,
    pub scale: Vec<f64>,
}

/// Fit settings.
#[derive(Debug, Clone, Copy)]
pub struct FitOptions {
    /// L2 penalty on the standardised weights (not the bias), per row.
    pub l2: f64,
    pub max_iter: usize,
    /// Stop when the largest Newton step is smaller than this.
    pub tol: f64,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            l2: 1e-2,
            max_iter: 50,
            tol: 1e-8,
        }
    }
}

impl Logistic {
    /// Probability of the positive class for `x`.
    pub fn prob(&self, x: &[f64]) -> f64 {
        sigmoid(self.margin(x))
    }

    /// The log-odds for `x`.
    pub fn margin(&self, x: &[f64]) -> f64 {
        let mut z = self.bias;
        for (j, v) in x.iter().enumerate().take(self.weights.len()) {
            z += self.weights[j] * (v - self.mean[j]) / self.scale[j];
        }
        z
    }

    /// Fits rows `x` with labels `y` and per-row weights `w` (all 1.0 when
    /// empty). Rows with fewer features than the first are padded with 0.
    /// An empty or one-class sample gives the constant model of its rate.
    pub fn fit(x: &[Vec<f64>], y: &[bool], w: &[f64], opts: FitOptions) -> Logistic {
        let d = x.first().map_or(0, Vec::len);
        let n = x.len();
        let wt = |i: usize| if w.is_empty() { 1.0 } else { w[i] };
        let total: f64 = (0..n).map(wt).sum::<f64>().max(1e-12);
        let mut mean = vec![0.0; d];
        for (i, row) in x.iter().enumerate() {
            for j in 0..d {
                mean[j] += wt(i) * row.get(j).copied().unwrap_or(0.0);
            }
        }
        for m in &mut mean {
            *m /= total;
        }
        let mut scale = vec![0.0; d];
        for (i, row) in x.iter().enumerate() {
            for j in 0..d {
                let dv = row.get(j).copied().unwrap_or(0.0) - mean[j];
                scale[j] += wt(i) * dv * dv;
            }
        }
        for s in &mut scale {
            *s = (*s / total).sqrt();
            if !s.is_finite() || *s < 1e-9 {
                *s = 1.0;
            }
        }
        let pos: f64 = (0..n).filter(|&i| y[i]).map(wt).sum();
        let rate = ((pos + 0.5) / (total + 1.0)).clamp(1e-6, 1.0 - 1e-6);
        let mut model = Logistic {
            weights: vec![0.0; d],
            bias: (rate / (1.0 - rate)).ln(),
            mean,
            scale,
        };
        if n == 0 || pos == 0.0 || pos == total {
            return model;
        }
        // Newton on θ = (w, b) over standardised features z.
        let z: Vec<Vec<f64>> = x
            .iter()
            .map(|row| {
                (0..d)
                    .map(|j| (row.get(j).copied().unwrap_or(0.0) - model.mean[j]) / model.scale[j])
                    .collect()
            })
            .collect();
        let k = d + 1;
        let lambda = opts.l2 * total;
        // The penalised negative log-likelihood at (weights, bias).
        let objective = |w: &[f64], b: f64| -> f64 {
            let mut loss = 0.0;
            for i in 0..n {
                let mut m = b;
                for j in 0..d {
                    m += w[j] * z[i][j];
                }
                // log(1 + e^m) - y m, computed stably.
                let softplus = if m > 0.0 {
                    m + (-m).exp().ln_1p()
                } else {
                    m.exp().ln_1p()
                };
                loss += wt(i) * (softplus - if y[i] { m } else { 0.0 });
            }
            loss + 0.5 * lambda * w.iter().map(|v| v * v).sum::<f64>()
        };
        let mut current = objective(&model.weights, model.bias);
        for _ in 0..opts.max_iter {
            let mut grad = vec![0.0; k];
            let mut hess = vec![0.0; k * k];
            for i in 0..n {
                let zi = &z[i];
                let mut m = model.bias;
                for j in 0..d {
                    m += model.weights[j] * zi[j];
                }
                let p = sigmoid(m);
                let r = wt(i) * (p - if y[i] { 1.0 } else { 0.0 });
                let h = wt(i) * (p * (1.0 - p)).max(1e-12);
                for a in 0..k {
                    let za = if a < d { zi[a] } else { 1.0 };
                    grad[a] += r * za;
                    for b in a..k {
                        let zb = if b < d { zi[b] } else { 1.0 };
                        hess[a * k + b] += h * za * zb;
                    }
                }
            }
            for a in 0..k {
                for b in 0..a {
                    hess[a * k + b] = hess[b * k + a];
                }
            }
            for j in 0..d {
                grad[j] += lambda * model.weights[j];
                hess[j * k + j] += lambda;
            }
            hess[d * k + d] += 1e-9;
            let Some(step) = solve_spd(&hess, &grad, k) else {
                break;
            };
            // Backtracking: take the longest of 1, 1/2, 1/4, ... of the
            // Newton step that lowers the objective.
            let mut t = 1.0;
            let mut accepted = false;
            for _ in 0..30 {
                let w: Vec<f64> = (0..d).map(|j| model.weights[j] - t * step[j]).collect();
                let b = model.bias - t * step[d];
                let next = objective(&w, b);
                if next.is_finite() && next <= current {
                    model.weights = w;
                    model.bias = b;
                    current = next;
                    accepted = true;
                    break;
                }
                t *= 0.5;
            }
            let biggest = step.iter().fold(0.0f64, |m, v| m.max((t * v).abs()));
            if !accepted || biggest < opts.tol {
                break;
            }
        }
        model
    }
}

pub fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// Solves `A x = b` for a symmetric positive definite `A` (k × k, row
/// major) by Cholesky; `None` when `A` is not positive definite.
fn solve_spd(a: &[f64], b: &[f64], k: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; k * k];
    for i in 0..k {
        for j in 0..=i {
            let mut s = a[i * k + j];
            for m in 0..j {
                s -= l[i * k + m] * l[j * k + m];
            }
            if i == j {
                if s <= 0.0 || !s.is_finite() {
                    return None;
                }
                l[i * k + i] = s.sqrt();
            } else {
                l[i * k + j] = s / l[j * k + j];
            }
        }
    }
    let mut y = vec![0.0; k];
    for i in 0..k {
        let mut s = b[i];
        for m in 0..i {
            s -= l[i * k + m] * y[m];
        }
        y[i] = s / l[i * k + i];
    }
    let mut x = vec![0.0; k];
    for i in (0..k).rev() {
        let mut s = y[i];
        for m in i + 1..k {
            s -= l[m * k + i] * x[m];
        }
        x[i] = s / l[i * k + i];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic pseudo-random sequence in [0, 1).
    fn lcg(seed: &mut u64) -> f64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (*seed >> 11) as f64 / (1u64 << 53) as f64
    }

    #[test]
    fn recovers_the_direction_and_calibration_of_a_known_model() {
        // y ~ Bernoulli(σ(2 a - 1.5 b + 0.5)), c is noise.
        let mut seed = 7;
        let mut x = Vec::new();
        let mut y = Vec::new();
        for _ in 0..4000 {
            let (a, b, c) = (
                lcg(&mut seed) * 2.0 - 1.0,
                lcg(&mut seed) * 2.0 - 1.0,
                lcg(&mut seed),
            );
            let p = sigmoid(2.0 * a - 1.5 * b + 0.5);
            x.push(vec![a, b, c]);
            y.push(lcg(&mut seed) < p);
        }
        let m = Logistic::fit(
            &x,
            &y,
            &[],
            FitOptions {
                l2: 1e-4,
                ..Default::default()
            },
        );
        let raw: Vec<f64> = (0..3).map(|j| m.weights[j] / m.scale[j]).collect();
        assert!((raw[0] - 2.0).abs() < 0.3, "{raw:?}");
        assert!((raw[1] + 1.5).abs() < 0.3, "{raw:?}");
        assert!(raw[2].abs() < 0.4, "{raw:?}");
        // Calibrated: mean predicted probability equals the positive rate.
        let mean_p: f64 = x.iter().map(|r| m.prob(r)).sum::<f64>() / x.len() as f64;
        let rate = y.iter().filter(|v| **v).count() as f64 / y.len() as f64;
        assert!((mean_p - rate).abs() < 0.01, "{mean_p} vs {rate}");
    }

    #[test]
    fn separable_data_stays_finite_and_one_class_is_a_constant() {
        let x: Vec<Vec<f64>> = (0..20).map(|i| vec![i as f64]).collect();
        let y: Vec<bool> = (0..20).map(|i| i >= 10).collect();
        let m = Logistic::fit(&x, &y, &[], FitOptions::default());
        assert!(m.weights[0].is_finite() && m.weights[0] > 0.0);
        assert!(m.prob(&[19.0]) > 0.9 && m.prob(&[0.0]) < 0.1);
        let all = Logistic::fit(&x, &[true; 20], &[], FitOptions::default());
        assert_eq!(all.weights, vec![0.0]);
        assert!(all.prob(&[3.0]) > 0.9);
        let none = Logistic::fit(&[], &[], &[], FitOptions::default());
        assert!(none.weights.is_empty());
    }

    #[test]
    fn row_weights_count_like_repeated_rows() {
        let x = vec![vec![0.0], vec![1.0], vec![0.0], vec![1.0]];
        let y = vec![false, true, true, true];
        let weighted = Logistic::fit(&x, &y, &[3.0, 1.0, 1.0, 1.0], FitOptions::default());
        let x2 = vec![
            vec![0.0],
            vec![0.0],
            vec![0.0],
            vec![1.0],
            vec![0.0],
            vec![1.0],
        ];
        let y2 = vec![false, false, false, true, true, true];
        let repeated = Logistic::fit(&x2, &y2, &[], FitOptions::default());
        assert!((weighted.prob(&[0.0]) - repeated.prob(&[0.0])).abs() < 1e-6);
    }
}
