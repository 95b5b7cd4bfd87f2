//! What the learned ranker sees of one candidate file: the evidence the
//! offline policy read about it (its tools' text, nothing else), the
//! file's kind from its path, and a little about the request. Pure.

use serde::{Deserialize, Serialize};

/// Bump when [`Candidate`] or [`features`] change meaning, or what a
/// replayed request asks: stored examples of another version are replayed
/// again. 3: replayed requests leave out bodies that list the branch's
/// commits.
pub const FEATURE_VERSION: u32 = 3;

/// Extensions of source files (tests count as source; documentation,
/// configuration and data do not), as the SWE-Features definition counts
/// them: training queries, like benchmark instances, change several.
pub const SOURCE_EXTS: &str = "rs,py,pyi,pyx,js,jsx,mjs,cjs,ts,tsx,mts,cts,go,c,h,cc,cpp,cxx,hpp,hh,hxx,java,kt,kts,scala,groovy,rb,php,cs,fs,swift,m,mm,dart,lua,pl,pm,r,jl,ex,exs,erl,hrl,hs,ml,mli,clj,cljs,elm,zig,nim,v,vue,svelte,sh,bash,zsh,fish,ps1,sql";

/// Whether `path` names a source file (by [`SOURCE_EXTS`]).
pub fn is_source(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => {
            let ext = ext.to_ascii_lowercase();
            SOURCE_EXTS.split(',').any(|e| e == ext)
        }
        _ => false,
    }
}

/// Which lists of the fused search named a file (from its evidence).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Lists {
    pub code: bool,
    pub path: bool,
    pub symbol: bool,
    pub card: bool,
    pub history: bool,
    /// The dense lists (sleep-time embeddings): the file's own text, and
    /// past PRs that changed it, read like the request.
    #[serde(default)]
    pub meaning: bool,
    #[serde(default)]
    pub like_prs: bool,
}

/// One candidate as the offline policy saw it (scores relative to the
/// best candidate of the same request, so requests compare).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub path: String,
    /// The default calibration's fused score, relative to the top one.
    pub fused: f64,
    /// 0-based place in the default ranking.
    pub rank: usize,
    /// 0-based place in the search results, when the search listed it.
    pub search_rank: Option<usize>,
    /// Search score relative to the best search score.
    pub search_score: f64,
    pub lists: Lists,
    /// Votes of similar past PRs, relative to the best-voted file.
    pub history: f64,
    pub votes: usize,
    /// The best similarity (relative to the most similar PR) among its votes.
    pub vote_best: f64,
    /// Days since the most recent similar PR that modified it.
    pub vote_age_days: Option<u32>,
    /// Co-change with the leading candidates, relative to the strongest.
    pub cochange: f64,
    pub cochange_seeds: usize,
    pub card_read: bool,
    /// Share of the request's distinct terms found on its card.
    pub card_hits: f64,
    /// Related PRs given as context that changed it, relative (paper setting).
    pub context: f64,
    /// Similarity of a matching anticipated request listing it (0: none).
    pub anticipated: f64,
}

/// What the ranker knows of the request as a whole.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Query {
    /// Distinct terms of the request.
    pub terms: usize,
    /// Candidates the policy read about.
    pub candidates: usize,
    /// The run's token budget.
    pub budget: u64,
}

/// Names of the features, in the order [`features`] returns them.
pub const NAMES: &[&str] = &[
    "fused",
    "fused_sq",
    "rank_inv",
    "rank_log",
    "search",
    "search_rank_inv",
    "search_score",
    "list_code",
    "list_path",
    "list_symbol",
    "list_card",
    "list_history",
    "history",
    "votes_log",
    "vote_best",
    "vote_recent",
    "cochange",
    "cochange_seeds_log",
    "card_read",
    "card_hits",
    "context",
    "anticipated",
    "kind_test",
    "kind_docs",
    "kind_changelog",
    "kind_config",
    "kind_example",
    "depth",
    "query_terms_log",
    "query_candidates_log",
    "budget_log",
    // Appended, so rankers fitted before them keep their meaning.
    "list_meaning",
    "list_like_prs",
];

/// The feature vector of `c` for the request `q`.
pub fn features(c: &Candidate, q: &Query) -> Vec<f64> {
    let b = |v: bool| if v { 1.0 } else { 0.0 };
    let kind = Kind::of(&c.path);
    let v = vec![
        c.fused,
        c.fused * c.fused,
        1.0 / (1.0 + c.rank as f64),
        (1.0 + c.rank as f64).ln(),
        b(c.search_rank.is_some()),
        c.search_rank.map_or(0.0, |r| 1.0 / (1.0 + r as f64)),
        c.search_score,
        b(c.lists.code),
        b(c.lists.path),
        b(c.lists.symbol),
        b(c.lists.card),
        b(c.lists.history),
        c.history,
        (1.0 + c.votes as f64).ln(),
        c.vote_best,
        c.vote_age_days.map_or(0.0, |d| (-(d as f64) / 365.0).exp()),
        c.cochange,
        (1.0 + c.cochange_seeds as f64).ln(),
        b(c.card_read),
        c.card_hits,
        c.context,
        c.anticipated,
        b(kind == Kind::Test),
        b(kind == Kind::Docs),
        b(kind == Kind::Changelog),
        b(kind == Kind::Config),
        b(kind == Kind::Example),
        c.path.matches('/').count() as f64 / 4.0,
        (1.0 + q.terms as f64).ln(),
        (1.0 + q.candidates as f64).ln(),
        (q.budget.max(1) as f64 / 1000.0).ln(),
        b(c.lists.meaning),
        b(c.lists.like_prs),
    ];
    debug_assert_eq!(v.len(), NAMES.len());
    v
}

/// What kind of file a path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Source,
    Test,
    Docs,
    Changelog,
    Config,
    Example,
}

impl Kind {
    pub fn of(path: &str) -> Kind {
        let lower = path.to_lowercase();
        let name = lower.rsplit('/').next().unwrap_or(&lower);
        let segments: Vec<&str> = lower.split('/').collect();
        let dirs = &segments[..segments.len() - 1];
        if name.starts_with("changelog")
            || name.starts_with("changes")
            || name.starts_with("history.")
            || name == "news.md"
        {
            return Kind::Changelog;
        }
        if dirs
            .iter()
            .any(|d| matches!(*d, "test" | "tests" | "testing" | "spec" | "__tests__"))
            || name.starts_with("test_")
            || name.ends_with("_test.rs")
            || name.ends_with("_test.py")
            || name.ends_with("_test.go")
            || name.contains(".test.")
            || name.contains(".spec.")
        {
            return Kind::Test;
        }
        if dirs.iter().any(|d| {
            matches!(
                *d,
                "examples" | "example" | "benches" | "bench" | "benchmarks"
            )
        }) {
            return Kind::Example;
        }
        let ext = name.rsplit_once('.').map_or("", |(_, e)| e);
        if dirs
            .iter()
            .any(|d| matches!(*d, "doc" | "docs" | "book" | "documentation"))
            || matches!(ext, "md" | "rst" | "txt" | "adoc")
        {
            return Kind::Docs;
        }
        if matches!(
            name,
            "cargo.toml"
                | "cargo.lock"
                | "pyproject.toml"
                | "setup.py"
                | "setup.cfg"
                | "package.json"
                | "tox.ini"
                | "requirements.txt"
                | "go.mod"
                | "makefile"
        ) || matches!(
            ext,
            "toml" | "yml" | "yaml" | "cfg" | "ini" | "lock" | "json"
        ) {
            return Kind::Config;
        }
        Kind::Source
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_of_common_paths() {
        for (p, k) in [
            ("src/app.rs", Kind::Source),
            ("helix-term/src/commands.rs", Kind::Source),
            ("tests/test_routing.py", Kind::Test),
            ("axum/src/routing/tests/mod.rs", Kind::Test),
            ("CHANGELOG.md", Kind::Changelog),
            ("axum/CHANGELOG.md", Kind::Changelog),
            ("docs/index.md", Kind::Docs),
            ("book/src/keymap.md", Kind::Docs),
            ("README.md", Kind::Docs),
            ("Cargo.toml", Kind::Config),
            ("languages.toml", Kind::Config),
            ("examples/hello/main.rs", Kind::Example),
        ] {
            assert_eq!(Kind::of(p), k, "{p}");
        }
    }

    #[test]
    fn one_value_per_name() {
        let c = Candidate {
            path: "src/a.rs".into(),
            fused: 1.0,
            search_rank: Some(0),
            vote_age_days: Some(10),
            ..Default::default()
        };
        let q = Query {
            terms: 5,
            candidates: 20,
            budget: 4000,
        };
        let f = features(&c, &q);
        assert_eq!(f.len(), NAMES.len());
        assert!(f.iter().all(|v| v.is_finite()));
    }
}
