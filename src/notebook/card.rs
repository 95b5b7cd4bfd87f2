//! A file's card: the few lines the test-time agent reads instead of the
//! file. Rendered from blob facts and snapshot history; pure.

use crate::parse::{DefKind, FileFacts};

use super::derive::FileHistory;

/// Version of the offline card format; cards of another version are
/// rewritten at the next sleep.
pub const OFFLINE_CARD_VERSION: i64 = 1;

/// Symbols listed on a card.
const MAX_SYMBOLS: usize = 14;
const MAX_LINKS: usize = 6;

/// Everything a card shows about one file.
pub struct CardInput<'a> {
    pub path: &'a str,
    pub lang: &'a str,
    pub status: &'a str,
    pub facts: Option<&'a FileFacts>,
    pub imports: &'a [&'a str],
    pub imported_by: &'a [&'a str],
    /// (partner, commits in common), strongest first.
    pub changes_with: &'a [(&'a str, u32)],
    pub history: Option<&'a FileHistory>,
}

pub fn render(c: &CardInput<'_>) -> String {
    let mut out = format!("## {} [{}]", c.path, c.lang);
    if c.status != "parsed" {
        out.push_str(&format!(
            " (content not indexed: {})",
            c.status.replace('_', " ")
        ));
    }
    out.push('\n');
    if let Some(f) = c.facts {
        if let Some(doc) = &f.doc {
            out.push_str(&format!("purpose: {}\n", one_line(doc, 200)));
        }
        let syms = main_symbols(f);
        if !syms.is_empty() {
            out.push_str(&format!("symbols: {}\n", syms.join(", ")));
        }
    }
    push_list(&mut out, "imports", c.imports);
    push_list(&mut out, "imported by", c.imported_by);
    if !c.changes_with.is_empty() {
        let items: Vec<String> = c
            .changes_with
            .iter()
            .take(MAX_LINKS)
            .map(|(p, n)| format!("{p} ({n})"))
            .collect();
        out.push_str(&format!("changes with: {}\n", items.join(", ")));
    }
    if let Some(h) = c.history {
        out.push_str(&format!("history: {} changes", h.changes));
        if !h.prs.is_empty() {
            let prs: Vec<String> = h
                .prs
                .iter()
                .take(4)
                .map(|(n, t)| format!("#{n} {}", one_line(t, 70)))
                .collect();
            out.push_str(&format!("; PRs: {}", prs.join("; ")));
        }
        out.push('\n');
    }
    out
}

fn push_list(out: &mut String, label: &str, items: &[&str]) {
    if items.is_empty() {
        return;
    }
    let shown: Vec<&str> = items.iter().take(MAX_LINKS).copied().collect();
    out.push_str(&format!("{label}: {}", shown.join(", ")));
    if items.len() > MAX_LINKS {
        out.push_str(&format!(" (+{})", items.len() - MAX_LINKS));
    }
    out.push('\n');
}

/// The symbols worth naming: types and free functions before methods,
/// fields and variants; in source order within a rank.
pub fn main_symbols(f: &FileFacts) -> Vec<String> {
    let rank = |k: &DefKind| match k {
        DefKind::Struct
        | DefKind::Enum
        | DefKind::Trait
        | DefKind::Class
        | DefKind::Interface
        | DefKind::Type => 0,
        DefKind::Function | DefKind::Macro | DefKind::Module => 1,
        DefKind::Constant | DefKind::Impl => 2,
        DefKind::Method => 3,
        DefKind::Field | DefKind::Variant => 4,
    };
    let mut defs: Vec<(usize, usize, &str, &DefKind)> = f
        .defs
        .iter()
        .enumerate()
        .filter(|(_, d)| !matches!(d.kind, DefKind::Impl))
        .map(|(i, d)| (rank(&d.kind), i, d.name.as_str(), &d.kind))
        .collect();
    defs.sort();
    let mut seen = std::collections::HashSet::new();
    defs.into_iter()
        .filter(|(_, _, name, _)| seen.insert(*name))
        .take(MAX_SYMBOLS)
        .map(|(_, _, name, kind)| format!("{} {name}", kind_word(kind)))
        .collect()
}

fn kind_word(k: &DefKind) -> &'static str {
    match k {
        DefKind::Function => "fn",
        DefKind::Method => "method",
        DefKind::Struct => "struct",
        DefKind::Enum => "enum",
        DefKind::Trait => "trait",
        DefKind::Impl => "impl",
        DefKind::Class => "class",
        DefKind::Interface => "interface",
        DefKind::Module => "mod",
        DefKind::Constant => "const",
        DefKind::Type => "type",
        DefKind::Macro => "macro",
        DefKind::Field => "field",
        DefKind::Variant => "variant",
    }
}

/// `text` on one line, at most `max` chars, with an ellipsis when cut.
pub fn one_line(text: &str, max: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        return flat;
    }
    let cut: String = flat.chars().take(max.saturating_sub(1)).collect();
    format!("{cut}…")
}
