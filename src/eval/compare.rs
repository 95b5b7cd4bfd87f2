//! `bench compare`: what a change bought, instance by instance. Two eval
//! output directories (the same benchmark run before and after a change
//! of configuration or of code) are paired on each instance, arm, budget
//! and sleep budget both hold, and each difference gets its 95% interval
//! ([`super::paired`]). Instances only one side holds are counted, never
//! silently dropped.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::paired::{self, Paired};
use super::report::ALL;
use super::runner::{Arm, RunRecord};

/// The predictions file of an eval output directory.
const PREDICTIONS: &str = "predictions.jsonl";

#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error("{}: not an eval output directory (no {PREDICTIONS} in it)", dir.display())]
    NotAnEval { dir: PathBuf },
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: line {line} is not a prediction record", path.display())]
    BadLine {
        path: PathBuf,
        line: usize,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "the two evals share no instance of the {arm} arm at a common budget and sleep budget: nothing to compare"
    )]
    NothingShared { arm: &'static str },
}

/// The comparison: pairings per repository and budget, and what could not
/// be paired.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub arm: Arm,
    pub before: PathBuf,
    pub after: PathBuf,
    pub paired: Vec<Paired>,
    /// Runs of the arm only the earlier eval holds, and only the later.
    pub before_only: usize,
    pub after_only: usize,
}

/// Reads every record of an eval output directory. A line cut short by a
/// killed eval (the last one, unterminated) is skipped as the eval itself
/// skips it; any other line that does not parse is an error.
pub fn read_records(dir: &Path) -> Result<Vec<RunRecord>, CompareError> {
    let path = dir.join(PREDICTIONS);
    if !path.is_file() {
        return Err(CompareError::NotAnEval {
            dir: dir.to_path_buf(),
        });
    }
    let text = std::fs::read_to_string(&path).map_err(|source| CompareError::Read {
        path: path.clone(),
        source,
    })?;
    let cut_short = !text.is_empty() && !text.ends_with('\n');
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(line) {
            Ok(r) => out.push(r),
            Err(_) if cut_short && i + 1 == lines.len() => {}
            Err(source) => {
                return Err(CompareError::BadLine {
                    path,
                    line: i + 1,
                    source,
                });
            }
        }
    }
    Ok(out)
}

/// Pairs the `arm` runs of `after` with those of `before`.
pub fn compare(before: &Path, after: &Path, arm: Arm) -> Result<Comparison, CompareError> {
    let b = read_records(before)?;
    let a = read_records(after)?;
    let paired = paired::runs(&b, &a, arm);
    if paired.is_empty() {
        return Err(CompareError::NothingShared { arm: arm.as_str() });
    }
    let keys = |rs: &[RunRecord]| -> BTreeSet<(String, String, u64, Option<usize>)> {
        rs.iter()
            .filter(|r| r.arm == arm)
            .map(|r| {
                (
                    r.repo.clone(),
                    r.instance_id.clone(),
                    r.budget,
                    r.sleep_budget,
                )
            })
            .collect()
    };
    let (kb, ka) = (keys(&b), keys(&a));
    Ok(Comparison {
        arm,
        before: before.to_path_buf(),
        after: after.to_path_buf(),
        paired,
        before_only: kb.difference(&ka).count(),
        after_only: ka.difference(&kb).count(),
    })
}

/// The comparison as Markdown: a sentence per budget overall, then the
/// table.
pub fn markdown(c: &Comparison) -> String {
    let repos: BTreeSet<&str> = c
        .paired
        .iter()
        .filter(|p| p.repo != ALL)
        .map(|p| p.repo.as_str())
        .collect();
    let mut out = format!(
        "# {} against {} ({} arm)\n\nEach instance's F1 in the later eval minus its F1 in the earlier one, averaged, with a 95% bootstrap interval (2,000 resamples): a difference whose interval holds 0 is not clear of noise on this many instances.\n\n",
        c.after.display(),
        c.before.display(),
        c.arm.as_str()
    );
    for p in c.paired.iter().filter(|p| p.repo == ALL) {
        let verdict = match p.clear() {
            Some(true) => "better, clear of noise",
            Some(false) => "worse, clear of noise",
            None => "not clearly different",
        };
        out.push_str(&format!(
            "- budget {}{}: {:+.3} F1 over {} instances ({}; interval {}; better on {}, same on {}, worse on {})\n",
            p.budget,
            p.sleep_budget
                .map_or(String::new(), |s| format!(", sleep budget {s}")),
            p.mean_diff,
            p.pairs,
            verdict,
            paired::interval_text(p),
            p.wins,
            p.ties,
            p.losses
        ));
    }
    if c.before_only + c.after_only > 0 {
        out.push_str(&format!(
            "\nNot paired: {} runs only the earlier eval holds, {} only the later.\n",
            c.before_only, c.after_only
        ));
    }
    out.push('\n');
    out.push_str(&paired::table(&c.paired, repos.len() == 1, "after"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(id: &str, budget: u64, f1: f64) -> String {
        let r = RunRecord::scored(id, Arm::Sleep, budget, f1);
        serde_json::to_string(&r).expect("json") + "\n"
    }

    fn eval_dir(name: &str, lines: &[String]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "swe-sleep-compare-{}-{name}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock")
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join(PREDICTIONS), lines.concat()).expect("write");
        dir
    }

    #[test]
    fn pairs_what_both_hold_and_counts_the_rest() {
        let before = eval_dir(
            "before",
            &[
                line("a", 1000, 0.2),
                line("b", 1000, 0.4),
                line("c", 1000, 0.5),
            ],
        );
        let after = eval_dir(
            "after",
            &[
                line("a", 1000, 0.6),
                line("b", 1000, 0.4),
                line("d", 1000, 0.9),
            ],
        );
        let c = compare(&before, &after, Arm::Sleep).expect("compares");
        let all = c
            .paired
            .iter()
            .find(|p| p.repo == ALL)
            .expect("overall pairing");
        assert_eq!(all.pairs, 2);
        assert!((all.mean_diff - 0.2).abs() < 1e-12, "{all:?}");
        assert_eq!((all.wins, all.ties, all.losses), (1, 1, 0));
        assert_eq!((c.before_only, c.after_only), (1, 1));
        let md = markdown(&c);
        assert!(
            md.contains("- budget 1000, sleep budget 0: +0.200 F1 over 2 instances"),
            "{md}"
        );
        assert!(
            md.contains("Not paired: 1 runs only the earlier eval holds, 1 only the later."),
            "{md}"
        );
        assert!(md.contains("after better / same / worse"), "{md}");
        // The other arm is not there: nothing to compare, said plainly.
        let err = compare(&before, &after, Arm::NoSleep).expect_err("no no-sleep runs");
        assert!(err.to_string().contains("no-sleep arm"), "{err}");
        for d in [before, after] {
            let _ = std::fs::remove_dir_all(d);
        }
    }

    #[test]
    fn a_damaged_line_is_an_error_naming_it_and_a_cut_last_line_is_not() {
        let good = line("a", 1000, 0.2);
        let dir = eval_dir(
            "bad",
            &[good.clone(), "{\"instance_id\": 3}\n".into(), good.clone()],
        );
        let err = read_records(&dir).expect_err("a bad middle line");
        assert!(
            err.to_string()
                .contains("line 2 is not a prediction record"),
            "{err}"
        );
        let cut = eval_dir("cut", &[good.clone(), good[..20].to_string()]);
        assert_eq!(read_records(&cut).expect("reads").len(), 1);
        let none = std::env::temp_dir().join("swe-sleep-compare-no-such-eval");
        let err = read_records(&none).expect_err("no directory");
        assert!(
            err.to_string().contains("not an eval output directory"),
            "{err}"
        );
        for d in [dir, cut] {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}
