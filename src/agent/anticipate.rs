//! Anticipated requests, the agent's part. At sleep time
//! ([`crate::sleep::anticipate`]) a model writes a few likely next requests
//! for a snapshot, and each one's files are predicted by the offline policy
//! over that same snapshot's notebook and stored with it. At test time, a request very close in wording to one of them (cosine
//! over the notebook's tokenizer, [`crate::text::terms`], above a
//! conservative threshold) is given the precomputed files as context: a
//! section headed `## Anticipated at sleep time`, read and charged like
//! any context, which the offline policy weighs as one modest, labelled
//! kind of evidence. Rows are keyed by the snapshot, so a prediction only
//! ever sees anticipations computed from the snapshot it reads.

use std::collections::HashSet;

use crate::notebook::Notebook;
use crate::notebook::card::one_line;

/// The heading of the context section, and its per-file line prefix.
pub const HEADING: &str = "## Anticipated at sleep time";
pub const LINE: &str = "anticipated: ";
/// A request matches an anticipated one at this cosine or above, sharing at
/// least this many distinct terms.
pub const MIN_SIMILARITY: f64 = 0.5;
pub const MIN_SHARED: usize = 3;

/// An anticipated request that matches the request at hand.
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    pub request: String,
    pub files: Vec<String>,
    pub model: String,
    pub similarity: f64,
}

impl Match {
    /// The context section that hands the files to the policy.
    pub fn context(&self) -> String {
        let mut s = format!(
            "{HEADING} (a likely request written by {} for this snapshot, similarity {:.2}; its files were predicted offline then):\n{}\n",
            self.model,
            self.similarity,
            one_line(&self.request, 200)
        );
        for f in &self.files {
            s.push_str(&format!("{LINE}{f}\n"));
        }
        s
    }

    /// The note a prediction carries when it was given this match.
    pub fn note(&self) -> String {
        format!(
            "anticipated at sleep time: \"{}\" (similarity {:.2}); its {} precomputed files were given as context",
            one_line(&self.request, 120),
            self.similarity,
            self.files.len()
        )
    }
}

/// The anticipated request of `nb`'s snapshot that `request` matches best,
/// if any passes the threshold.
pub fn lookup(nb: &Notebook, request: &str) -> Option<Match> {
    let stored = match nb.anticipated() {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("cannot read anticipated requests: {e}");
            return None;
        }
    };
    let asked = distinct_terms(request);
    stored
        .into_iter()
        .filter(|a| !a.files.is_empty())
        .filter_map(|a| {
            let (sim, shared) = cosine(&asked, &distinct_terms(&a.request));
            (sim >= MIN_SIMILARITY && shared >= MIN_SHARED).then_some(Match {
                request: a.request,
                files: a.files,
                model: a.model,
                similarity: sim,
            })
        })
        .max_by(|a, b| a.similarity.total_cmp(&b.similarity))
}

/// The context to read before `request` in the sleep arm: the matching
/// anticipation's section, then `context`; and the match.
pub fn with_context(nb: &Notebook, request: &str, context: &str) -> (String, Option<Match>) {
    match lookup(nb, request) {
        Some(m) => (format!("{}{context}", m.context()), Some(m)),
        None => (context.to_string(), None),
    }
}

fn distinct_terms(text: &str) -> HashSet<String> {
    crate::text::terms(text).into_iter().collect()
}

/// Cosine of two term sets (binary weights) and the terms they share.
fn cosine(a: &HashSet<String>, b: &HashSet<String>) -> (f64, usize) {
    if a.is_empty() || b.is_empty() {
        return (0.0, 0);
    }
    let shared = a.intersection(b).count();
    (shared as f64 / ((a.len() * b.len()) as f64).sqrt(), shared)
}

/// Files the anticipated section of a context names, with its similarity.
pub fn context_files(context: &str) -> Option<(f64, Vec<String>)> {
    let mut lines = context.lines().skip_while(|l| !l.starts_with(HEADING));
    let head = lines.next()?;
    let sim = head
        .split("similarity ")
        .nth(1)
        .and_then(|r| r.split(';').next())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or(MIN_SIMILARITY);
    let files = lines
        .take_while(|l| !l.starts_with("## "))
        .filter_map(|l| l.strip_prefix(LINE))
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect();
    Some((sim, files))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_context_section_round_trips_and_similarity_is_conservative() {
        let m = Match {
            request: "Support YAML export: export recipes as YAML".into(),
            files: vec!["src/export.rs".into(), "src/lib.rs".into()],
            model: "small".into(),
            similarity: 0.8125,
        };
        let ctx = format!("{}## PR #3: x\nfile: src/a.rs (modified)\n", m.context());
        let (sim, files) = context_files(&ctx).expect("a section");
        assert!((sim - 0.81).abs() < 1e-9);
        assert_eq!(files, ["src/export.rs", "src/lib.rs"]);
        assert!(context_files("## PR #3: x\n").is_none());
        let t = |s: &str| distinct_terms(s);
        let (same, _) = cosine(
            &t("Export recipes as YAML files"),
            &t("export recipe yaml file"),
        );
        assert!(same > 0.99, "{same}");
        let (far, shared) = cosine(
            &t("Add a pantry with shelves"),
            &t("Support YAML export: export recipes as YAML"),
        );
        assert!(far < MIN_SIMILARITY && shared == 0, "{far}");
    }
}
