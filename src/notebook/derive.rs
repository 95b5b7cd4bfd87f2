//! What history says about each file of a snapshot: how often and how
//! recently it changed, which pull requests touched it, and which files
//! change with it (co-change, decayed with age). Pure.

use std::collections::{HashMap, HashSet};

use crate::config::HistoryConfig;

use super::history::ChainCommit;

/// Pull requests remembered per file on its card.
pub const PRS_PER_FILE: usize = 8;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileHistory {
    pub changes: u32,
    /// Sum over changes of `0.5^(age / half_life)`.
    pub decayed: f64,
    pub last_time: i64,
    /// (number, title), newest first.
    pub prs: Vec<(u64, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CoChange {
    pub a: String,
    pub b: String,
    /// Decayed co-change weight; each commit of n files adds `decay / (n-1)`.
    pub weight: f64,
    pub count: u32,
}

/// Derives per-file history and the co-change graph over the `paths` of the
/// snapshot from its first-parent `chain` (newest first).
pub fn derive(
    chain: &[ChainCommit],
    paths: &HashSet<&str>,
    cfg: &HistoryConfig,
) -> (HashMap<String, FileHistory>, Vec<CoChange>) {
    let tip_time = chain.first().map_or(0, |c| c.time);
    let half_life = (cfg.half_life_days.max(1.0)) * 86_400.0;
    let mut stats: HashMap<String, FileHistory> = HashMap::new();
    let mut pairs: HashMap<(&str, &str), (f64, u32)> = HashMap::new();
    for c in chain {
        let age = (tip_time - c.time).max(0) as f64;
        let decay = 0.5f64.powf(age / half_life);
        let live: Vec<&str> = c
            .files
            .iter()
            .filter(|(_, s)| *s != 'D')
            .map(|(p, _)| p.as_str())
            .filter(|p| paths.contains(p))
            .collect();
        for p in &live {
            let s = stats.entry(p.to_string()).or_default();
            s.changes += 1;
            s.decayed += decay;
            s.last_time = s.last_time.max(c.time);
            if let Some(n) = c.pr
                && s.prs.len() < PRS_PER_FILE
            {
                s.prs.push((n, c.title.clone()));
            }
        }
        if c.file_count < 2 || c.file_count > cfg.max_commit_files || live.len() < 2 {
            continue;
        }
        let w = decay / (live.len() - 1) as f64;
        for (i, a) in live.iter().enumerate() {
            for b in &live[i + 1..] {
                let key = if a < b { (*a, *b) } else { (*b, *a) };
                let e = pairs.entry(key).or_default();
                e.0 += w;
                e.1 += 1;
            }
        }
    }
    let mut by_file: HashMap<&str, Vec<(&str, f64, u32)>> = HashMap::new();
    for ((a, b), (w, n)) in &pairs {
        by_file.entry(a).or_default().push((b, *w, *n));
        by_file.entry(b).or_default().push((a, *w, *n));
    }
    let mut edges = Vec::new();
    for (a, mut list) in by_file {
        list.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(y.0)));
        list.truncate(cfg.cochange_neighbors);
        for (b, w, n) in list {
            edges.push(CoChange {
                a: a.to_string(),
                b: b.to_string(),
                weight: w,
                count: n,
            });
        }
    }
    edges.sort_by(|x, y| {
        x.a.cmp(&y.a)
            .then(y.weight.total_cmp(&x.weight))
            .then(x.b.cmp(&y.b))
    });
    (stats, edges)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::CommitKind;

    fn commit(time: i64, pr: Option<u64>, files: &[&str]) -> ChainCommit {
        ChainCommit {
            id: time,
            oid: format!("{time:040}"),
            time,
            kind: if pr.is_some() {
                CommitKind::Squash
            } else {
                CommitKind::Plain
            },
            pr,
            title: format!("change {time}"),
            files: files.iter().map(|f| (f.to_string(), 'M')).collect(),
            file_count: files.len(),
        }
    }

    #[test]
    fn co_change_counts_and_ignores_huge_commits() {
        let big: Vec<String> = (0..40).map(|i| format!("x{i}")).collect();
        let mut big_files: Vec<&str> = big.iter().map(String::as_str).collect();
        big_files.push("a");
        big_files.push("b");
        let chain = vec![
            commit(300, Some(3), &["a", "b"]),
            commit(200, Some(2), &["a", "b", "c"]),
            commit(100, None, &big_files),
        ];
        let mut paths: HashSet<&str> = ["a", "b", "c"].into_iter().collect();
        paths.extend(big_files.iter().copied());
        let cfg = HistoryConfig {
            half_life_days: 1e9,
            ..HistoryConfig::default()
        };
        let (stats, edges) = derive(&chain, &paths, &cfg);
        assert_eq!(stats["a"].changes, 3);
        assert_eq!(
            stats["a"].prs,
            vec![(3, "change 300".into()), (2, "change 200".into())]
        );
        let ab = edges
            .iter()
            .find(|e| e.a == "a" && e.b == "b")
            .expect("a-b edge");
        assert_eq!(ab.count, 2);
        assert!((ab.weight - 1.5).abs() < 1e-6, "{}", ab.weight);
        assert!(
            !edges
                .iter()
                .any(|e| e.a.starts_with('x') || e.b.starts_with('x'))
        );
    }

    #[test]
    fn older_changes_weigh_less() {
        let day = 86_400;
        let chain = vec![
            commit(730 * day, None, &["a", "b"]),
            commit(0, None, &["a", "c"]),
        ];
        let paths: HashSet<&str> = ["a", "b", "c"].into_iter().collect();
        let (_, edges) = derive(&chain, &paths, &HistoryConfig::default());
        let w = |x: &str| {
            edges
                .iter()
                .find(|e| e.a == "a" && e.b == x)
                .expect("edge")
                .weight
        };
        assert!((w("b") - 1.0).abs() < 1e-9);
        assert!((w("c") - 0.25).abs() < 1e-9);
    }
}
