//! The report's verdict in one sentence: the sleep arm against the
//! no-sleep arm over every instance — the F1 difference at each budget,
//! the test-time tokens each needs to reach the same F1, the wall-time
//! ratio, and at which budgets the difference is clear of noise (its
//! paired 95% interval leaves out zero). Pure.

use super::paired::{Paired, interval_text};
use super::report::{ALL, Row};
use super::runner::Arm;

/// The sleep arm's rows at its largest sleep budget (the one the Pareto
/// chart draws), and the no-sleep arm's rows, both by budget.
fn curves(rows: &[Row]) -> (Vec<&Row>, Vec<&Row>) {
    let all: Vec<&Row> = rows.iter().filter(|r| r.repo == ALL).collect();
    let top = all.iter().filter_map(|r| r.sleep_budget).max();
    let mut sleep: Vec<&Row> = all
        .iter()
        .copied()
        .filter(|r| r.arm == Arm::Sleep && r.sleep_budget == top)
        .collect();
    let mut base: Vec<&Row> = all
        .iter()
        .copied()
        .filter(|r| r.arm == Arm::NoSleep)
        .collect();
    sleep.sort_by_key(|r| r.budget);
    base.sort_by_key(|r| r.budget);
    (sleep, base)
}

/// Mean test-time tokens per query at the smallest budget whose F1
/// reaches `f1`, if one does.
fn tokens_to_reach(curve: &[&Row], f1: f64) -> Option<f64> {
    curve
        .iter()
        .find(|r| r.prf.f1 + 1e-12 >= f1)
        .map(|r| r.mean_tokens)
}

/// A ratio as people say it: "0.12×", "3.4×".
fn times(x: f64) -> String {
    if !x.is_finite() {
        "an undefined multiple of".into()
    } else if x < 0.1 {
        format!("{x:.3}×")
    } else if x < 10.0 {
        format!("{x:.2}×")
    } else {
        format!("{x:.0}×")
    }
}

/// The overall pairing of the sleep arm at `sleep_budget` with the
/// no-sleep arm at `budget`.
fn pairing(paired: &[Paired], sleep_budget: Option<usize>, budget: u64) -> Option<&Paired> {
    paired
        .iter()
        .find(|p| p.repo == ALL && p.sleep_budget == sleep_budget && p.budget == budget)
}

/// Which budgets' differences stand clear of noise, in words.
fn clarity(clear: &[(u64, Option<bool>)]) -> String {
    let ahead: Vec<String> = clear
        .iter()
        .filter(|c| c.1 == Some(true))
        .map(|c| c.0.to_string())
        .collect();
    let behind: Vec<String> = clear
        .iter()
        .filter(|c| c.1 == Some(false))
        .map(|c| c.0.to_string())
        .collect();
    let at = |v: &[String]| {
        if v.len() == clear.len() && v.len() > 1 {
            "every budget".to_string()
        } else {
            v.join(", ")
        }
    };
    match (ahead.is_empty(), behind.is_empty()) {
        (true, true) => {
            "no difference is clear of noise on these instances (each 95% interval holds 0)".into()
        }
        (false, true) => format!("the sleep arm is ahead clear of noise at {}", at(&ahead)),
        (true, false) => format!("the sleep arm is behind clear of noise at {}", at(&behind)),
        (false, false) => format!(
            "the sleep arm is ahead clear of noise at {} and behind at {}",
            at(&ahead),
            at(&behind)
        ),
    }
}

/// The verdict sentence (a Markdown paragraph).
pub fn sentence(rows: &[Row], paired: &[Paired]) -> String {
    let (sleep, base) = curves(rows);
    if sleep.is_empty() || base.is_empty() {
        let only = if sleep.is_empty() {
            "no-sleep"
        } else {
            "sleep"
        };
        return format!(
            "**Verdict:** only the {only} arm ran, so there is nothing to compare it with.\n\n"
        );
    }
    let mut diffs = Vec::new();
    let mut clear = Vec::new();
    let mut wall_sleep = 0.0;
    let mut wall_base = 0.0;
    for s in &sleep {
        if let Some(b) = base.iter().find(|b| b.budget == s.budget) {
            let p = pairing(paired, s.sleep_budget, s.budget);
            diffs.push(match p {
                Some(p) => format!(
                    "{:+.3} at {} (95% interval of the paired difference {})",
                    s.prf.f1 - b.prf.f1,
                    s.budget,
                    interval_text(p)
                ),
                None => format!("{:+.3} at {}", s.prf.f1 - b.prf.f1, s.budget),
            });
            if let Some(p) = p {
                clear.push((s.budget, p.clear()));
            }
            wall_sleep += s.mean_wall_ms;
            wall_base += b.mean_wall_ms;
        }
    }
    if diffs.is_empty() {
        return "**Verdict:** the two arms ran at no common budget, so there is nothing to compare.\n\n".into();
    }
    let best = |c: &[&Row]| c.iter().map(|r| r.prf.f1).fold(0.0, f64::max);
    let (best_sleep, best_base) = (best(&sleep), best(&base));
    let target = best_sleep.min(best_base);
    let reach = match (
        tokens_to_reach(&sleep, target),
        tokens_to_reach(&base, target),
    ) {
        _ if target <= 0.0 => "neither arm found any file right".to_string(),
        (Some(s), Some(b)) => format!(
            "to reach F1 {target:.3} (the {} arm's best) the sleep arm spends {s:.0} test-time tokens per query against {b:.0}, {} as many",
            if best_base <= best_sleep {
                "no-sleep"
            } else {
                "sleep"
            },
            times(s / b.max(1.0))
        ),
        _ => format!("neither arm reaches F1 {target:.3} at its budgets"),
    };
    let wall = if wall_base > 0.0 {
        format!(
            "it answers in {} the no-sleep arm's wall time",
            times(wall_sleep / wall_base)
        )
    } else {
        "the no-sleep arm took no measurable wall time".into()
    };
    let better = if best_sleep > best_base {
        "better than"
    } else if best_sleep < best_base {
        "worse than"
    } else {
        "as good as"
    };
    let noise = if clear.is_empty() {
        String::new()
    } else {
        format!("; {}", clarity(&clear))
    };
    format!(
        "**Verdict:** the sleep arm is {better} the no-sleep arm (best macro F1 {best_sleep:.3} against {best_base:.3}); its F1 differs by {} (budget in test-time tokens){noise}; {reach}; {wall}.\n\n",
        diffs.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::score::Prf;

    fn row(arm: Arm, budget: u64, f1: f64, tokens: f64, wall: f64) -> Row {
        Row {
            repo: ALL.into(),
            arm,
            sleep_budget: (arm == Arm::Sleep).then_some(0),
            budget,
            instances: 4,
            prf: Prf {
                precision: f1,
                recall: f1,
                f1,
            },
            mean_tokens: tokens,
            mean_steps: 1.0,
            mean_wall_ms: wall,
            model: None,
        }
    }

    #[test]
    fn says_the_difference_the_token_ratio_and_the_wall_time() {
        let rows = vec![
            row(Arm::Sleep, 500, 0.30, 400.0, 2.0),
            row(Arm::Sleep, 2000, 0.40, 1200.0, 2.0),
            row(Arm::NoSleep, 500, 0.10, 480.0, 10.0),
            row(Arm::NoSleep, 2000, 0.25, 1900.0, 30.0),
        ];
        let s = sentence(&rows, &[]);
        assert!(s.contains("better than the no-sleep arm"), "{s}");
        assert!(s.contains("+0.200 at 500, +0.150 at 2000"), "{s}");
        // F1 0.25 is reached by the sleep arm at 500 (400 tokens) and by
        // the no-sleep arm at 2000 (1900 tokens).
        assert!(s.contains("to reach F1 0.250"), "{s}");
        assert!(
            s.contains("400 test-time tokens per query against 1900, 0.21×"),
            "{s}"
        );
        assert!(s.contains("0.10× the no-sleep arm's wall time"), "{s}");
    }

    #[test]
    fn one_arm_is_no_comparison() {
        let rows = vec![row(Arm::Sleep, 500, 0.3, 400.0, 2.0)];
        assert!(sentence(&rows, &[]).contains("only the sleep arm ran"));
    }

    fn pairing_at(budget: u64, mean: f64, low: f64, high: f64) -> Paired {
        Paired {
            repo: ALL.into(),
            sleep_budget: Some(0),
            budget,
            pairs: 20,
            mean_diff: mean,
            low,
            high,
            wins: 10,
            ties: 0,
            losses: 10,
        }
    }

    #[test]
    fn says_which_differences_are_clear_of_noise() {
        let rows = vec![
            row(Arm::Sleep, 1000, 0.50, 900.0, 2.0),
            row(Arm::Sleep, 4000, 0.52, 3000.0, 2.0),
            row(Arm::NoSleep, 1000, 0.40, 900.0, 10.0),
            row(Arm::NoSleep, 4000, 0.49, 3900.0, 30.0),
        ];
        let paired = vec![
            pairing_at(1000, 0.10, 0.04, 0.16),
            pairing_at(4000, 0.03, -0.02, 0.08),
        ];
        let s = sentence(&rows, &paired);
        assert!(
            s.contains("+0.100 at 1000 (95% interval of the paired difference +0.040 to +0.160)"),
            "{s}"
        );
        assert!(
            s.contains("+0.030 at 4000 (95% interval of the paired difference -0.020 to +0.080)"),
            "{s}"
        );
        assert!(
            s.contains("the sleep arm is ahead clear of noise at 1000;"),
            "{s}"
        );
        let unclear = vec![
            pairing_at(1000, 0.10, -0.01, 0.2),
            pairing_at(4000, 0.03, -0.02, 0.08),
        ];
        assert!(
            sentence(&rows, &unclear).contains("no difference is clear of noise"),
            "{}",
            sentence(&rows, &unclear)
        );
        let both = vec![
            pairing_at(1000, 0.10, 0.01, 0.2),
            pairing_at(4000, 0.03, 0.01, 0.08),
        ];
        assert!(sentence(&rows, &both).contains("ahead clear of noise at every budget"));
    }
}
