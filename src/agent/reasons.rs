//! Reasons a person reads: why a file was predicted, in the request's own
//! words and plain names for each kind of evidence ("its code mentions
//! “recipes”", "changed in 3 similar PRs: #3531 Add `[script]`…",
//! "usually changes with src/recipe.rs"). Evidence every predicted file
//! shares says nothing about any one of them and is left out.
//!
//! Only the final answer's reasons are written here: the tools' evidence
//! text, which the offline policy and the learned rankings read, keeps its
//! terse form (`code:`, `path:`, `defines `, `card:`, `past PRs:`). Pure.

use std::collections::{BTreeSet, HashMap};

/// Characters of a PR title shown in a reason.
const TITLE_CHARS: usize = 48;

/// The request's words by index term ([`crate::text::surface_forms`]).
#[derive(Debug, Clone, Default)]
pub struct Words(HashMap<String, String>);

impl Words {
    pub fn of(request: &str) -> Words {
        Words(crate::text::surface_forms(request))
    }

    /// `terms` as the request wrote them, quoted, each once.
    fn quote<'a>(&self, terms: impl Iterator<Item = &'a str>) -> String {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for t in terms {
            let t = t.trim();
            if t.is_empty() {
                continue;
            }
            let shown = self.0.get(t).map_or(t, String::as_str);
            if seen.insert(shown.to_lowercase()) {
                out.push(format!("“{shown}”"));
            }
        }
        out.join(", ")
    }
}

/// What was found about one file, as the policy read it.
#[derive(Debug, Clone, Default)]
pub struct Facts<'a> {
    /// The search tool's evidence (`code: a b; path: c; ...`).
    pub search: Option<&'a str>,
    /// Similar past PRs that changed the file: number and title.
    pub prs: Vec<(u64, &'a str)>,
    /// Similar past commits (not PRs) that changed it.
    pub commits: usize,
    /// The leading candidates it changes with.
    pub cochange_with: &'a [String],
    /// Request terms its card mentions.
    pub card_hits: &'a [String],
    /// Related PRs of the context (paper setting) that changed it.
    pub context: f64,
    /// Similarity of the anticipated request that listed it (0: none).
    pub anticipated: f64,
    /// The learned ranker's probability, when it chose the set.
    pub learned: Option<f64>,
}

/// The reasons for one file, most telling first.
pub fn phrases(f: &Facts<'_>, words: &Words) -> Vec<String> {
    let mut out = Vec::new();
    let mut card_words: Vec<&str> = f.card_hits.iter().map(String::as_str).collect();
    if let Some(ev) = f.search {
        for part in ev.split("; ") {
            if let Some(rest) = part.strip_prefix("code: ") {
                out.push(format!(
                    "its code mentions {}",
                    words.quote(rest.split(' '))
                ));
            } else if let Some(rest) = part.strip_prefix("path: ") {
                out.push(format!("its path matches {}", words.quote(rest.split(' '))));
            } else if let Some(rest) = part.strip_prefix("defines ") {
                out.push(format!(
                    "defines names like {}",
                    words.quote(rest.split(", "))
                ));
            } else if let Some(rest) = part.strip_prefix("card: ") {
                card_words.extend(rest.split(' '));
            } else if let Some(rest) = part.strip_prefix("past PRs: ") {
                out.push(format!(
                    "PRs that changed it spoke of {}",
                    words.quote(rest.split(' '))
                ));
            } else if let Some(rest) = part.strip_prefix("meaning: ") {
                out.push(format!(
                    "what it is about reads like the request (embedding similarity {rest})"
                ));
            } else if let Some(rest) = part.strip_prefix("like PRs: ") {
                out.push(format!(
                    "changed by past PRs whose descriptions read like the request ({})",
                    rest.split(' ').collect::<Vec<_>>().join(", ")
                ));
            } else if !part.trim().is_empty() {
                out.push(part.to_string());
            }
        }
    }
    if !f.prs.is_empty() {
        let mut prs = f.prs.clone();
        prs.sort_by_key(|b| std::cmp::Reverse(b.0));
        prs.dedup_by_key(|p| p.0);
        let shown: Vec<String> = prs
            .iter()
            .take(2)
            .map(|(n, title)| format!("#{n} {}", cut(title, TITLE_CHARS)))
            .collect();
        let more = if prs.len() > 2 {
            format!(" and {} more", prs.len() - 2)
        } else {
            String::new()
        };
        out.push(format!(
            "changed in {} similar PR{}: {}{more}",
            prs.len(),
            if prs.len() == 1 { "" } else { "s" },
            shown.join(", ")
        ));
    } else if f.commits > 0 {
        out.push("changed by similar past commits".into());
    }
    if !f.cochange_with.is_empty() {
        let mut with: Vec<&str> = f.cochange_with.iter().map(String::as_str).collect();
        with.dedup();
        out.push(format!("usually changes with {}", with.join(", ")));
    }
    if !card_words.is_empty() {
        out.push(format!(
            "its notebook card mentions {}",
            words.quote(card_words.into_iter().take(6))
        ));
    }
    if f.context > 0.0 {
        let n = f.context.round() as u64;
        out.push(format!(
            "changed by {n} related PR{}",
            if n == 1 { "" } else { "s" }
        ));
    }
    if f.anticipated > 0.0 {
        out.push(format!(
            "anticipated at sleep time for a similar request (similarity {:.2})",
            f.anticipated
        ));
    }
    if let Some(p) = f.learned {
        out.push(format!(
            "{:.0}% likely by this repository's learned ranking",
            p * 100.0
        ));
    }
    out
}

/// Drops the reasons every file shares (when there are two files or
/// more), unless that would leave a file with none.
pub fn drop_shared(all: &mut [Vec<String>]) {
    if all.len() < 2 {
        return;
    }
    let shared: Vec<String> = all[0]
        .iter()
        .filter(|r| all[1..].iter().all(|other| other.contains(r)))
        .cloned()
        .collect();
    for reasons in all.iter_mut() {
        if reasons.iter().any(|r| !shared.contains(r)) {
            reasons.retain(|r| !shared.contains(r));
        }
    }
}

fn cut(s: &str, n: usize) -> String {
    let s = s.trim();
    if s.chars().count() <= n {
        return s.to_string();
    }
    let kept: String = s.chars().take(n - 1).collect();
    format!("{}…", kept.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_words_for_each_kind_of_evidence() {
        let words = Words::of("Scale recipes by `servings` with Themes");
        let with = ["src/recipe.rs".to_string()];
        let card = ["servings".to_string()];
        let f = Facts {
            search: Some(
                "code: recip scal; path: recip; defines them; past PRs: scal; card: serving",
            ),
            prs: vec![
                (12, "Add a scale command"),
                (
                    31,
                    "Scale to servings in the CLI, with a much longer title than fits",
                ),
                (3, "x"),
            ],
            commits: 0,
            cochange_with: &with,
            card_hits: &card,
            context: 0.0,
            anticipated: 0.0,
            learned: Some(0.62),
        };
        let p = phrases(&f, &words);
        assert_eq!(
            p,
            [
                "its code mentions “recipes”, “Scale”",
                "its path matches “recipes”",
                "defines names like “Themes”",
                "PRs that changed it spoke of “Scale”",
                "changed in 3 similar PRs: #31 Scale to servings in the CLI, with a much longe…, #12 Add a scale command and 1 more",
                "usually changes with src/recipe.rs",
                "its notebook card mentions “servings”",
                "62% likely by this repository's learned ranking",
            ]
        );
    }

    #[test]
    fn the_dense_evidence_in_plain_words() {
        let words = Words::of("Show how much energy a dish contains");
        let f = Facts {
            search: Some("meaning: 0.50; like PRs: #8 #3"),
            ..Facts::default()
        };
        assert_eq!(
            phrases(&f, &words),
            [
                "what it is about reads like the request (embedding similarity 0.50)",
                "changed by past PRs whose descriptions read like the request (#8, #3)",
            ]
        );
    }

    #[test]
    fn shared_reasons_are_dropped_unless_nothing_would_be_left() {
        let mut all = vec![
            vec!["its path matches “httpx”".to_string(), "a".to_string()],
            vec!["its path matches “httpx”".to_string(), "b".to_string()],
            vec!["its path matches “httpx”".to_string()],
        ];
        drop_shared(&mut all);
        assert_eq!(all[0], ["a"]);
        assert_eq!(all[1], ["b"]);
        assert_eq!(all[2], ["its path matches “httpx”"]);
        let mut one = vec![vec!["x".to_string()]];
        drop_shared(&mut one);
        assert_eq!(one[0], ["x"]);
    }
}
