//! Words out of code and prose: identifier splitting, stop words and a light
//! stemmer, shared by everything that indexes or queries text so that both
//! sides of a match see the same terms.
//!
//! Pure: no IO, never fails.

/// Longest term kept; longer runs are hashes, base64 or minified code.
const MAX_TERM_LEN: usize = 40;

/// Splits one identifier-like word into lower-case parts:
/// `parseRecipe` → `parse`, `recipe`; `HTTPServer` → `http`, `server`;
/// `snake_case-word` → `snake`, `case`, `word`.
pub fn split_identifier(word: &str) -> Vec<String> {
    let mut parts = Vec::new();
    for chunk in word.split(|c: char| !c.is_alphanumeric()) {
        split_case(chunk, &mut parts);
    }
    parts
}

fn split_case(chunk: &str, out: &mut Vec<String>) {
    let chars: Vec<char> = chunk.chars().collect();
    let mut start = 0;
    for i in 1..chars.len() {
        let (prev, cur) = (chars[i - 1], chars[i]);
        let next_lower = chars.get(i + 1).is_some_and(|c| c.is_lowercase());
        let boundary = (prev.is_lowercase() && cur.is_uppercase())
            || (prev.is_uppercase() && cur.is_uppercase() && next_lower)
            || (prev.is_alphabetic() && cur.is_ascii_digit() && !is_version_like(&chars[start..i]))
            || (prev.is_ascii_digit() && cur.is_alphabetic() && i - start > 1);
        if boundary {
            push_part(&chars[start..i], out);
            start = i;
        }
    }
    if start < chars.len() {
        push_part(&chars[start..], out);
    }
}

/// Keeps `utf8`, `sha256`, `http2` whole: short letter runs followed by digits.
fn is_version_like(letters: &[char]) -> bool {
    letters.len() <= 4
}

fn push_part(chars: &[char], out: &mut Vec<String>) {
    if chars.is_empty() {
        return;
    }
    let s: String = chars.iter().flat_map(|c| c.to_lowercase()).collect();
    out.push(s);
}

/// The index terms of a text: every identifier-like word, split into its
/// parts, stop words dropped, stemmed. A compound identifier also yields
/// itself whole (`parse_recipe`), so exact identifier matches score higher.
pub fn terms(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for_each_term(text, |t| out.push(t.to_string()));
    out
}

/// Like [`terms`] but calls `f` for each term, without collecting.
pub fn for_each_term(text: &str, mut f: impl FnMut(&str)) {
    for word in text.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
        if word.is_empty() || word.len() > MAX_TERM_LEN * 2 {
            continue;
        }
        let parts = split_identifier(word);
        if parts.len() > 1 {
            let whole = word.trim_matches('_').to_lowercase();
            if whole.len() <= MAX_TERM_LEN && !whole.is_empty() {
                f(&whole);
            }
        }
        for p in &parts {
            if let Some(t) = normalize(p) {
                f(&t);
            }
        }
    }
}

/// The words of `text` as written, by the term each indexes as: every term
/// of [`terms`] maps to its first occurrence (a compound identifier whole,
/// a plain word in its own case, a part of a compound in lower case), so
/// what is shown to a person can use the request's own words.
pub fn surface_forms(text: &str) -> std::collections::HashMap<String, String> {
    let mut out = std::collections::HashMap::new();
    for word in text.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
        if word.is_empty() || word.len() > MAX_TERM_LEN * 2 {
            continue;
        }
        let parts = split_identifier(word);
        let whole = word.trim_matches('_');
        if parts.len() > 1 {
            let lower = whole.to_lowercase();
            if lower.len() <= MAX_TERM_LEN && !lower.is_empty() {
                out.entry(lower).or_insert_with(|| whole.to_string());
            }
        }
        for p in &parts {
            if let Some(t) = normalize(p) {
                let shown = if parts.len() == 1 { whole } else { p.as_str() };
                out.entry(t).or_insert_with(|| shown.to_string());
            }
        }
    }
    out
}

/// The index terms of a text with how often each occurs, and their total
/// ([`for_each_term`]'s terms, counted). Each distinct word is split once:
/// code repeats its words, so this is several times cheaper than splitting
/// every occurrence, and the counts are the same.
pub fn term_counts(text: &str) -> (Vec<(String, u32)>, u32) {
    let mut words: rustc_hash::FxHashMap<&str, u32> = rustc_hash::FxHashMap::default();
    for word in text.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
        if !word.is_empty() && word.len() <= MAX_TERM_LEN * 2 {
            *words.entry(word).or_default() += 1;
        }
    }
    let mut counts: rustc_hash::FxHashMap<String, u32> = rustc_hash::FxHashMap::default();
    let mut total = 0u32;
    for (word, times) in words {
        for_each_term(word, |t| {
            total += times;
            match counts.get_mut(t) {
                Some(n) => *n += times,
                None => {
                    counts.insert(t.to_string(), times);
                }
            }
        });
    }
    (counts.into_iter().collect(), total)
}

/// Lower-cased, stemmed, or `None` for stop words, numbers and noise.
pub fn normalize(part: &str) -> Option<String> {
    if part.len() < 2 || part.len() > MAX_TERM_LEN || part.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let lower = part.to_lowercase();
    if is_stop_word(&lower) {
        return None;
    }
    Some(stem(&lower))
}

/// A deliberately light stemmer: plural and a few verb endings, so that
/// `recipes`/`recipe` and `parsing`/`parse` meet without Porter's surprises.
pub fn stem(word: &str) -> String {
    let s = strip_suffixes(word);
    match s.strip_suffix('e') {
        Some(base) if s.len() >= 4 && s.is_ascii() => base.to_string(),
        _ => s,
    }
}

fn strip_suffixes(word: &str) -> String {
    let w = word;
    if !w.is_ascii() || w.len() <= 3 {
        return w.to_string();
    }
    if let Some(base) = w.strip_suffix("ies")
        && base.len() >= 2
    {
        return format!("{base}y");
    }
    if w.ends_with("sses") || w.ends_with("xes") || w.ends_with("ches") || w.ends_with("shes") {
        return w[..w.len() - 2].to_string();
    }
    if let Some(base) = w.strip_suffix('s')
        && !(base.ends_with('s') || base.ends_with('u') || base.ends_with('i'))
    {
        return base.to_string();
    }
    if let Some(base) = w.strip_suffix("ing")
        && base.len() >= 3
    {
        return undouble(base);
    }
    if let Some(base) = w.strip_suffix("ed")
        && base.len() >= 3
    {
        return undouble(base);
    }
    w.to_string()
}

fn undouble(base: &str) -> String {
    let b = base.as_bytes();
    let n = b.len();
    if n >= 2 && b[n - 1] == b[n - 2] && !matches!(b[n - 1], b'l' | b's' | b'z') {
        return base[..n - 1].to_string();
    }
    base.to_string()
}

/// English function words and the keywords of the languages we parse: terms
/// that occur everywhere and so say nothing about where a change goes.
pub fn is_stop_word(w: &str) -> bool {
    STOP_WORDS.binary_search(&w).is_ok()
}

// Sorted (a test checks it).
const STOP_WORDS: &[&str] = &[
    "a", "about", "above", "after", "again", "all", "also", "am", "an", "and", "any", "are", "as",
    "at", "be", "because", "been", "before", "being", "below", "between", "both", "but", "by",
    "can", "could", "did", "do", "does", "doing", "done", "down", "during", "each", "else", "etc",
    "few", "fn", "for", "from", "further", "get", "had", "has", "have", "having", "he", "her",
    "here", "hers", "him", "his", "how", "i", "if", "impl", "in", "into", "is", "it", "its",
    "itself", "just", "let", "like", "may", "me", "might", "more", "most", "must", "mut", "my",
    "no", "nor", "not", "now", "of", "off", "on", "once", "only", "or", "other", "our", "ours",
    "out", "over", "own", "pr", "pub", "same", "self", "she", "should", "so", "some", "such",
    "than", "that", "the", "their", "theirs", "them", "then", "there", "these", "they", "this",
    "those", "through", "to", "too", "under", "until", "up", "us", "use", "very", "via", "was",
    "way", "we", "were", "what", "when", "where", "which", "while", "who", "whom", "why", "will",
    "with", "would", "you", "your", "yours",
];

/// Path terms: every segment of a path split like identifiers, plus the file
/// stem whole (`src/commands/typed.rs` → `src`, `command`, `typed`, ...).
pub fn path_terms(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    for seg in path.split('/') {
        let seg = seg.rsplit_once('.').map_or(seg, |(stem, _)| stem);
        for_each_term(seg, |t| out.push(t.to_string()));
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_words_are_sorted() {
        let mut sorted = STOP_WORDS.to_vec();
        sorted.sort();
        assert_eq!(sorted, STOP_WORDS);
    }

    #[test]
    fn splits_identifiers() {
        assert_eq!(split_identifier("parseRecipe"), ["parse", "recipe"]);
        assert_eq!(split_identifier("HTTPServer"), ["http", "server"]);
        assert_eq!(
            split_identifier("snake_case-word"),
            ["snake", "case", "word"]
        );
        assert_eq!(split_identifier("utf8_decode"), ["utf8", "decode"]);
        assert_eq!(split_identifier("Base64Encoder"), ["base64", "encoder"]);
    }

    #[test]
    fn terms_keep_compounds_and_drop_stop_words() {
        let t = terms("Add parse_recipe to the Recipes module");
        assert_eq!(
            t,
            ["add", "parse_recipe", "pars", "recip", "recip", "modul"]
        );
    }

    #[test]
    fn stems_lightly() {
        assert_eq!(stem("recipes"), stem("recipe"));
        assert_eq!(stem("entries"), "entry");
        assert_eq!(stem("parsing"), stem("parse"));
        assert_eq!(stem("parsed"), stem("parse"));
        assert_eq!(stem("sizes"), stem("size"));
        assert_eq!(stem("status"), "status");
        assert_eq!(stem("running"), "run");
        assert_eq!(stem("boxes"), "box");
    }

    #[test]
    fn path_terms_split_segments() {
        assert_eq!(
            path_terms("helix-term/src/commands/typed.rs"),
            ["command", "helix", "src", "term", "typ"]
        );
    }

    #[test]
    fn term_counts_count_every_term() {
        let text =
            "fn parse_recipe() { parse_recipe(); Recipe::new(parseRecipe) } // the recipes 12 x";
        let mut expected: std::collections::HashMap<String, u32> = Default::default();
        let mut total = 0;
        for_each_term(text, |t| {
            total += 1;
            *expected.entry(t.to_string()).or_default() += 1;
        });
        let (counts, n) = term_counts(text);
        assert_eq!(n, total);
        assert_eq!(
            counts
                .into_iter()
                .collect::<std::collections::HashMap<_, _>>(),
            expected
        );
    }

    #[test]
    fn never_panics_on_odd_text() {
        let odd = "\u{0}\u{feff}ÄÖÜ ß 日本語 a\u{301}b 12345 x".repeat(100);
        let _ = terms(&odd);
        let _ = path_terms("///..//");
    }

    #[test]
    fn surface_forms_keep_the_words_as_written() {
        let f = surface_forms("Add a `parse_recipe` for Themes and recipes; scaling Recipes");
        assert_eq!(f["them"], "Themes");
        assert_eq!(f["recip"], "recipe");
        assert_eq!(f["parse_recipe"], "parse_recipe");
        assert_eq!(f["scal"], "scaling");
        for t in terms("Add a `parse_recipe` for Themes and recipes; scaling Recipes") {
            assert!(f.contains_key(&t), "{t}");
        }
    }
}
