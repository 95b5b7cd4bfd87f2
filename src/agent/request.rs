//! What a request says, read without a model: its index terms, the code
//! identifiers it names, and the paths it quotes. Pure.

use crate::text;

/// Longest request text the agent reads; longer text is cut (and said so).
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// A pull request's title and body as the one request text the agent
/// reads: the title, a blank line, the body; the title alone when the body
/// is empty.
pub fn request_text(title: &str, body: &str) -> String {
    if body.trim().is_empty() {
        title.to_string()
    } else {
        format!("{title}\n\n{body}")
    }
}

#[derive(Debug, Clone, Default)]
pub struct Request {
    pub text: String,
    /// Index terms of title and body (title terms repeated: they say most).
    pub terms: Vec<String>,
    /// Code-like words: backticked, snake_case, camelCase, `--flags`, `a::b`.
    pub identifiers: Vec<String>,
    /// Path-like words (`src/app.rs`, `docs/config.rst`).
    pub paths: Vec<String>,
}

impl Request {
    pub fn new(text: &str) -> Request {
        let text = if text.len() > MAX_REQUEST_BYTES {
            let mut cut = MAX_REQUEST_BYTES;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            &text[..cut]
        } else {
            text
        };
        let title = text.lines().next().unwrap_or("");
        let mut terms = text::terms(title);
        terms.extend(text::terms(title));
        terms.extend(text::terms(text));
        Request {
            text: text.to_string(),
            terms,
            identifiers: identifiers(text),
            paths: paths(text),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.text.trim().is_empty()
    }
}

fn identifiers(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |w: &str| {
        let w = w.trim_matches(|c: char| !(c.is_alphanumeric() || c == '_'));
        if w.len() >= 3 && !out.iter().any(|o| o == w) {
            out.push(w.to_string());
        }
    };
    // Backticked spans: every identifier inside.
    for (i, span) in text.split('`').enumerate() {
        if i % 2 == 1 && span.len() < 200 {
            for w in span.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
                push(w);
            }
        }
    }
    for word in text.split(|c: char| c.is_whitespace() || ",;()[]{}<>\"'`".contains(c)) {
        let w = word.trim_end_matches(['.', ':', '!', '?']);
        let flag = w.strip_prefix("--").filter(|f| f.len() > 2);
        if let Some(f) = flag {
            push(&f.replace('-', "_"));
            continue;
        }
        for part in w.split("::") {
            let core = part.trim_matches(|c: char| !(c.is_alphanumeric() || c == '_'));
            let has_lower = core.chars().any(|c| c.is_lowercase());
            let inner_upper = core.chars().skip(1).any(|c| c.is_uppercase());
            let snake = core.contains('_') && core.chars().any(|c| c.is_alphabetic());
            if snake || (has_lower && inner_upper) {
                push(core);
            }
        }
    }
    out
}

fn paths(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for word in text.split(|c: char| c.is_whitespace() || ",;()[]{}<>\"'`".contains(c)) {
        let w = word
            .trim_end_matches(['.', ':', '!', '?'])
            .trim_start_matches("./");
        let looks_path = (w.contains('/') && !w.contains("://") && !w.starts_with('/'))
            || w.rsplit_once('.').is_some_and(|(stem, ext)| {
                !stem.is_empty()
                    && matches!(
                        ext,
                        "rs" | "py"
                            | "md"
                            | "toml"
                            | "rst"
                            | "txt"
                            | "yml"
                            | "yaml"
                            | "json"
                            | "cfg"
                            | "ini"
                            | "js"
                            | "ts"
                            | "sh"
                    )
            });
        if looks_path && w.len() < 200 && !out.iter().any(|o| o == w) {
            out.push(w.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_identifiers_and_paths() {
        let r = Request::new(
            "Add `parse_recipe` support\n\nThe RecipeParser in src/parser.rs should accept --dry-run, see crate::units::convert_units.",
        );
        assert!(
            r.identifiers.contains(&"parse_recipe".to_string()),
            "{:?}",
            r.identifiers
        );
        assert!(
            r.identifiers.contains(&"RecipeParser".to_string()),
            "{:?}",
            r.identifiers
        );
        assert!(
            r.identifiers.contains(&"dry_run".to_string()),
            "{:?}",
            r.identifiers
        );
        assert!(
            r.identifiers.contains(&"convert_units".to_string()),
            "{:?}",
            r.identifiers
        );
        assert_eq!(r.paths, ["src/parser.rs"]);
        assert!(r.terms.iter().filter(|t| *t == "parse_recipe").count() >= 2);
    }

    #[test]
    fn huge_and_empty_requests() {
        assert!(Request::new("  \n ").is_empty());
        let big = "é".repeat(MAX_REQUEST_BYTES);
        let r = Request::new(&big);
        assert!(r.text.len() <= MAX_REQUEST_BYTES);
    }
}
