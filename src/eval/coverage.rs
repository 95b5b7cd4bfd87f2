//! What an eval covers, and whether an output directory holds only that:
//! the instances chosen from the benchmark (per repository, the earliest
//! by `created_at`, up to `--limit`), the arms, budgets and sleep budgets.
//! The report is built from everything the directory holds, so a run that
//! asks for less than the directory already holds is refused before it
//! starts; one that asks for more extends it. Pure.

use std::collections::{BTreeMap, BTreeSet};

use super::instance::Instance;
use super::runner::{Arm, RunRecord};

/// The instances an eval runs: per repository in time order (then by id),
/// the first `limit` of each. The runner orders them the same way.
pub fn select(instances: &[Instance], limit: Option<usize>) -> Vec<Instance> {
    let mut by_repo: BTreeMap<&str, Vec<&Instance>> = BTreeMap::new();
    for i in instances {
        by_repo.entry(i.repo.as_str()).or_default().push(i);
    }
    let mut out = Vec::new();
    for list in by_repo.values_mut() {
        list.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then(a.instance_id.cmp(&b.instance_id))
        });
        let n = limit.unwrap_or(list.len()).min(list.len());
        out.extend(list[..n].iter().map(|i| (*i).clone()));
    }
    out
}

/// What one eval asks for.
#[derive(Debug, Clone)]
pub struct Selection {
    pub instances: BTreeSet<String>,
    pub arms: Vec<Arm>,
    pub budgets: Vec<u64>,
    /// The sleep arm's sleep budgets.
    pub sleep_budgets: Vec<usize>,
}

impl Selection {
    /// Whether `r` is one of the runs this selection asks for.
    pub fn covers(&self, r: &RunRecord) -> bool {
        self.instances.contains(&r.instance_id)
            && self.arms.contains(&r.arm)
            && self.budgets.contains(&r.budget)
            && match r.arm {
                Arm::Sleep => r
                    .sleep_budget
                    .is_none_or(|b| self.sleep_budgets.contains(&b)),
                Arm::NoSleep => true,
            }
    }

    /// `None` when every record is one this selection asks for; else what
    /// the records hold beyond it, in words ("budgets 8000; 3 instances
    /// not selected, e.g. o__r-7").
    pub fn beyond(&self, records: &[RunRecord]) -> Option<String> {
        let extra: Vec<&RunRecord> = records.iter().filter(|r| !self.covers(r)).collect();
        if extra.is_empty() {
            return None;
        }
        let mut parts = Vec::new();
        let ids: BTreeSet<&str> = extra
            .iter()
            .map(|r| r.instance_id.as_str())
            .filter(|id| !self.instances.contains(*id))
            .collect();
        if let Some(first) = ids.first() {
            parts.push(format!(
                "{} instance{} this run does not select (e.g. {first}; `--limit` takes the earliest of each repository)",
                ids.len(),
                if ids.len() == 1 { "" } else { "s" }
            ));
        }
        let arms: BTreeSet<&str> = extra
            .iter()
            .filter(|r| !self.arms.contains(&r.arm))
            .map(|r| r.arm.as_str())
            .collect();
        if !arms.is_empty() {
            parts.push(format!("arms {}", join(&arms)));
        }
        let budgets: BTreeSet<u64> = extra
            .iter()
            .filter(|r| !self.budgets.contains(&r.budget))
            .map(|r| r.budget)
            .collect();
        if !budgets.is_empty() {
            parts.push(format!("budgets {}", join(&budgets)));
        }
        let sleep_budgets: BTreeSet<usize> = extra
            .iter()
            .filter(|r| r.arm == Arm::Sleep)
            .filter_map(|r| r.sleep_budget)
            .filter(|b| !self.sleep_budgets.contains(b))
            .collect();
        if !sleep_budgets.is_empty() {
            parts.push(format!("sleep budgets {}", join(&sleep_budgets)));
        }
        Some(parts.join("; "))
    }
}

fn join<T: std::fmt::Display>(items: &BTreeSet<T>) -> String {
    items
        .iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::score::Prf;

    fn inst(id: &str, repo: &str, at: &str) -> Instance {
        Instance {
            instance_id: id.into(),
            repo: repo.into(),
            pr_number: 1,
            title: "Add x".into(),
            body: String::new(),
            created_at: at.into(),
            base_commit: "0".repeat(40),
            head_commit: "1".repeat(40),
            changed_files: Vec::new(),
            context_prs: Vec::new(),
        }
    }

    fn rec(id: &str, arm: Arm, budget: u64, sb: Option<usize>) -> RunRecord {
        RunRecord {
            instance_id: id.into(),
            repo: "o/r".into(),
            arm,
            budget,
            predicted: Vec::new(),
            gold: Vec::new(),
            prf: Prf::default(),
            tokens: 0,
            steps: 0,
            wall_ms: 0.0,
            model: None,
            sleep_budget: sb,
            learned: false,
        }
    }

    #[test]
    fn limit_takes_the_earliest_of_each_repository() {
        let list = [
            inst("a-3", "o/a", "2024-03-01"),
            inst("a-1", "o/a", "2024-01-01"),
            inst("b-2", "o/b", "2024-02-01"),
            inst("a-2", "o/a", "2024-02-01"),
            inst("b-1", "o/b", "2024-01-01"),
        ];
        let ids: Vec<String> = select(&list, Some(2))
            .into_iter()
            .map(|i| i.instance_id)
            .collect();
        assert_eq!(ids, ["a-1", "a-2", "b-1", "b-2"]);
        assert_eq!(select(&list, None).len(), 5);
    }

    #[test]
    fn records_beyond_the_selection_are_named() {
        let sel = Selection {
            instances: ["i1".to_string()].into(),
            arms: vec![Arm::Sleep, Arm::NoSleep],
            budgets: vec![500],
            sleep_budgets: vec![0],
        };
        let inside = [
            rec("i1", Arm::Sleep, 500, Some(0)),
            rec("i1", Arm::NoSleep, 500, None),
            rec("i1", Arm::Sleep, 500, None),
        ];
        assert_eq!(sel.beyond(&inside), None);
        let outside = [
            rec("i1", Arm::Sleep, 500, Some(0)),
            rec("i2", Arm::Sleep, 500, Some(0)),
            rec("i1", Arm::NoSleep, 8000, None),
            rec("i1", Arm::Sleep, 500, Some(20)),
        ];
        let why = sel.beyond(&outside).expect("a mismatch");
        assert!(
            why.contains("1 instance this run does not select (e.g. i2"),
            "{why}"
        );
        assert!(why.contains("budgets 8000"), "{why}");
        assert!(why.contains("sleep budgets 20"), "{why}");
    }
}
