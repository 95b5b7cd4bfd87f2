//! Ranking helpers shared by both arms' tools and by the offline policy:
//! reciprocal-rank fusion, path matching, symbol matching and an in-memory
//! BM25. Pure.

use std::collections::HashMap;

use crate::text;

/// RRF's usual damping constant.
pub const RRF_K: f64 = 60.0;

/// Fuses ranked lists (best first) with weights: `Σ w / (RRF_K + rank)`.
pub fn rrf(lists: &[(&[String], f64)]) -> Vec<(String, f64)> {
    let mut scores: HashMap<&str, f64> = HashMap::new();
    for (list, w) in lists {
        for (rank, item) in list.iter().enumerate() {
            *scores.entry(item.as_str()).or_default() += w / (RRF_K + rank as f64 + 1.0);
        }
    }
    sorted(
        scores
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

/// Sorts by score, best first, ties by name (deterministic).
pub fn sorted(mut v: Vec<(String, f64)>) -> Vec<(String, f64)> {
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    v
}

/// Paths whose segments match request terms, scored by the inverse
/// document frequency of each matched term among all paths; a path quoted
/// in the request (or a suffix of one) scores highest. Returns (path,
/// score, matched terms), best first.
pub fn path_matches(
    terms: &[String],
    quoted: &[String],
    paths: &[String],
) -> Vec<(String, f64, Vec<String>)> {
    PathIndex::new(paths.to_vec()).matches(terms, quoted)
}

/// The paths of a tree split into terms once, with each term's document
/// frequency and the paths holding it, for [`path_matches`] over many
/// requests (the daemon keeps one per notebook snapshot): a request only
/// touches the paths that share a term with it.
#[derive(Debug, Default)]
pub struct PathIndex {
    paths: Vec<String>,
    df: HashMap<String, f64>,
    /// Term → indexes of the paths holding it, ascending.
    by_term: HashMap<String, Vec<u32>>,
}

impl PathIndex {
    pub fn new(paths: Vec<String>) -> PathIndex {
        let mut df: HashMap<String, f64> = HashMap::new();
        let mut by_term: HashMap<String, Vec<u32>> = HashMap::new();
        for (i, p) in paths.iter().enumerate() {
            for t in text::path_terms(p) {
                *df.entry(t.clone()).or_default() += 1.0;
                by_term.entry(t).or_default().push(i as u32);
            }
        }
        PathIndex { paths, df, by_term }
    }

    pub fn paths(&self) -> &[String] {
        &self.paths
    }

    /// See [`path_matches`]. Each path's score adds its matched terms in
    /// sorted order, then the quote bonus, as a scan of every path would.
    pub fn matches(&self, terms: &[String], quoted: &[String]) -> Vec<(String, f64, Vec<String>)> {
        let n = self.paths.len().max(1) as f64;
        let mut wanted: Vec<&str> = terms.iter().map(String::as_str).collect();
        wanted.sort();
        wanted.dedup();
        let mut found: HashMap<u32, (f64, Vec<String>)> = HashMap::new();
        for t in &wanted {
            let Some(holders) = self.by_term.get(*t) else {
                continue;
            };
            let w = (n / self.df[*t]).ln().max(0.1);
            for &i in holders {
                let e = found.entry(i).or_insert((0.0, Vec::new()));
                e.0 += w;
                e.1.push(t.to_string());
            }
        }
        if !quoted.is_empty() {
            for (i, p) in self.paths.iter().enumerate() {
                if quoted
                    .iter()
                    .any(|q| p == q || p.ends_with(&format!("/{q}")))
                {
                    let e = found.entry(i as u32).or_insert((0.0, Vec::new()));
                    e.0 += 100.0;
                    e.1.push("quoted".into());
                }
            }
        }
        let mut out: Vec<(String, f64, Vec<String>)> = found
            .into_iter()
            .filter(|(_, (score, _))| *score > 0.0)
            .map(|(i, (score, matched))| (self.paths[i as usize].clone(), score, matched))
            .collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        out
    }
}

/// An in-memory BM25 index over small documents (cards, raw files).
pub struct Bm25 {
    docs: Vec<(String, HashMap<String, u32>, u32)>,
    df: HashMap<String, u32>,
    avg_len: f64,
}

impl Bm25 {
    pub fn new(docs: impl IntoIterator<Item = (String, String)>) -> Bm25 {
        let mut out = Vec::new();
        let mut df: HashMap<String, u32> = HashMap::new();
        let mut total = 0u64;
        for (name, body) in docs {
            let mut tf: HashMap<String, u32> = HashMap::new();
            let mut len = 0;
            text::for_each_term(&body, |t| {
                len += 1;
                *tf.entry(t.to_string()).or_default() += 1;
            });
            for t in tf.keys() {
                *df.entry(t.clone()).or_default() += 1;
            }
            total += len as u64;
            out.push((name, tf, len));
        }
        let avg_len = if out.is_empty() {
            1.0
        } else {
            total as f64 / out.len() as f64
        };
        Bm25 {
            docs: out,
            df,
            avg_len: avg_len.max(1.0),
        }
    }

    /// Documents matching `terms`, best first, with the matched terms.
    pub fn search(&self, terms: &[String], k: usize) -> Vec<(String, f64, Vec<String>)> {
        let n = self.docs.len() as f64;
        let mut wanted: Vec<&String> = terms.iter().collect();
        wanted.sort();
        wanted.dedup();
        let mut out = Vec::new();
        for (name, tf, len) in &self.docs {
            let mut score = 0.0;
            let mut matched = Vec::new();
            for t in &wanted {
                let Some(f) = tf.get(*t) else { continue };
                let df = self.df[*t] as f64;
                let idf = ((n - df + 0.5) / (df + 0.5) + 1.0).ln();
                let f = *f as f64;
                score += idf * f * 2.2 / (f + 1.2 * (0.25 + 0.75 * *len as f64 / self.avg_len));
                matched.push((*t).clone());
            }
            if score > 0.0 {
                out.push((name.clone(), score, matched));
            }
        }
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        out.truncate(k);
        out
    }
}

/// Whether a path is a test, documentation, changelog, or example: files
/// that go along with a change only when the request or history says so.
pub fn is_peripheral(path: &str) -> bool {
    let lower = path.to_lowercase();
    let name = lower.rsplit('/').next().unwrap_or(&lower);
    lower.starts_with("test")
        || lower.contains("/test")
        || name.starts_with("test_")
        || name.ends_with("_test.rs")
        || name.ends_with("_test.py")
        || lower.starts_with("doc")
        || lower.contains("/doc")
        || lower.starts_with("book/")
        || lower.contains("example")
        || lower.contains("bench")
        || name.starts_with("changelog")
        || name.starts_with("changes")
        || name.ends_with(".md")
        || name.ends_with(".rst")
        || name.ends_with(".txt")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rrf_prefers_items_on_several_lists() {
        let a: Vec<String> = ["x", "y", "z"].map(String::from).to_vec();
        let b: Vec<String> = ["y", "w"].map(String::from).to_vec();
        let fused = rrf(&[(&a, 1.0), (&b, 1.0)]);
        assert_eq!(fused[0].0, "y");
        assert_eq!(fused.len(), 4);
    }

    #[test]
    fn path_matching_uses_rare_segments() {
        let paths: Vec<String> = [
            "src/recipe.rs",
            "src/units.rs",
            "src/cli.rs",
            "tests/recipe_test.rs",
        ]
        .map(String::from)
        .to_vec();
        let terms = crate::text::terms("convert units in the recipe");
        let m = path_matches(&terms, &[], &paths);
        assert_eq!(m.len(), 3);
        assert!(m.iter().any(|(p, _, _)| p == "src/units.rs"));
        let quoted = path_matches(&[], &["cli.rs".to_string()], &paths);
        assert_eq!(quoted[0].0, "src/cli.rs");
    }

    /// The inverted path index scores exactly as a scan of every path.
    #[test]
    fn path_index_scores_as_a_scan() {
        fn scan(
            paths: &[String],
            terms: &[String],
            quoted: &[String],
        ) -> Vec<(String, f64, Vec<String>)> {
            let all: Vec<Vec<String>> = paths.iter().map(|p| text::path_terms(p)).collect();
            let mut df: HashMap<&str, f64> = HashMap::new();
            for pt in &all {
                for t in pt {
                    *df.entry(t).or_default() += 1.0;
                }
            }
            let n = paths.len().max(1) as f64;
            let mut wanted: Vec<&str> = terms.iter().map(String::as_str).collect();
            wanted.sort();
            wanted.dedup();
            let mut out = Vec::new();
            for (p, pt) in paths.iter().zip(&all) {
                let (mut score, mut matched) = (0.0, Vec::new());
                for t in &wanted {
                    if pt.iter().any(|x| x == t) {
                        score += (n / df[t]).ln().max(0.1);
                        matched.push(t.to_string());
                    }
                }
                if quoted
                    .iter()
                    .any(|q| p == q || p.ends_with(&format!("/{q}")))
                {
                    score += 100.0;
                    matched.push("quoted".into());
                }
                if score > 0.0 {
                    out.push((p.clone(), score, matched));
                }
            }
            out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            out
        }
        let paths: Vec<String> = [
            "src/recipe.rs",
            "src/units.rs",
            "src/cli.rs",
            "tests/recipe_test.rs",
            "helix-term/src/commands/typed.rs",
            "helix-view/src/editor.rs",
            "docs/units.md",
            "src/commands/mod.rs",
            "README.md",
            "src/unit_conversion/cups.rs",
        ]
        .map(String::from)
        .to_vec();
        let index = PathIndex::new(paths.clone());
        for (request, quoted) in [
            ("convert units in the recipe", vec![]),
            (
                "typed commands in the editor view",
                vec!["typed.rs".to_string()],
            ),
            ("nothing here zzz", vec![]),
            (
                "src src src tests",
                vec!["README.md".to_string(), "cli.rs".to_string()],
            ),
        ] {
            let terms = text::terms(request);
            assert_eq!(
                index.matches(&terms, &quoted),
                scan(&paths, &terms, &quoted),
                "{request}"
            );
        }
    }

    #[test]
    fn bm25_ranks_matching_docs() {
        let idx = Bm25::new([
            (
                "a".to_string(),
                "parse the recipe and its ingredients".to_string(),
            ),
            ("b".to_string(), "convert units".to_string()),
        ]);
        let hits = idx.search(&crate::text::terms("ingredients"), 5);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].0, "a");
    }

    #[test]
    fn peripheral_files() {
        for p in [
            "tests/test_basic.py",
            "CHANGELOG.md",
            "docs/config.rst",
            "helix-term/tests/test/x.rs",
            "book/src/a.md",
        ] {
            assert!(is_peripheral(p), "{p}");
        }
        for p in ["src/app.rs", "helix-view/src/editor.rs", "flask/app.py"] {
            assert!(!is_peripheral(p), "{p}");
        }
    }
}
