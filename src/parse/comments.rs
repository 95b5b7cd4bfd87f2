//! Doc comments of definitions in the languages whose docs are comments
//! written before the definition (every grammar but Rust's, read in
//! `tags.rs`, and Python's docstrings): which comments count as docs in
//! each language, their text without markers, and one iterative walk that
//! gives each definition the docs right before it.

use super::Lang;
use super::doc::{is_directive, node_text, summary};
use std::collections::HashMap;
use tree_sitter::Node;

/// Definition node id → summary of the doc comments right before it.
///
/// Comments are collected per sibling list; a named node that is not a
/// definition hands what it collected down to its first named child and
/// then clears it, so a doc before a wrapper (`export`, a Go `type (...)`
/// group, a C++ `template <...>`, a Ruby class body) reaches the
/// definition inside. Comments that are not docs clear what was collected.
pub(crate) fn preceding_docs(
    lang: Lang,
    root: Node<'_>,
    text: &str,
    defs: &HashMap<usize, usize>,
) -> HashMap<usize, String> {
    let mut out = HashMap::new();
    let mut cursor = root.walk();
    let mut pending: Vec<Vec<String>> = vec![Vec::new()];
    loop {
        let node = cursor.node();
        let here = pending.last_mut().expect("pending is never empty");
        let mut carried = Vec::new();
        if node.is_named() {
            if node.kind().contains("comment") {
                match doc_text(lang, node_text(node, text)) {
                    Some(doc) => here.push(doc),
                    None => here.clear(),
                }
            } else if defs.contains_key(&node.id()) {
                if let Some(doc) = summary(&here.join("\n")) {
                    out.insert(node.id(), doc);
                }
                here.clear();
            } else {
                carried = std::mem::take(here);
            }
        }
        if cursor.goto_first_child() {
            pending.push(carried);
            continue;
        }
        loop {
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return out;
            }
            pending.pop();
        }
    }
}

/// The prose of one comment if it is a doc comment in `lang`: `/** */`
/// and `///` everywhere; in Go, C, C++ and Ruby, where plain comments
/// before a definition are its docs by convention, any comment but a tool
/// directive. Markers, leading `*`, XML tags (C#) and `@tag` lines are
/// removed.
pub(crate) fn doc_text(lang: Lang, raw: &str) -> Option<String> {
    let t = raw.trim();
    let plain_ok = matches!(lang, Lang::Go | Lang::C | Lang::Cpp | Lang::Ruby);
    let lines: Vec<&str> = if let Some(body) = t.strip_prefix("/**") {
        if body.starts_with('*') || body.starts_with('/') {
            return None;
        }
        block_lines(body)
    } else if t.starts_with("///") || t.starts_with("//!") {
        t.lines().map(|l| l.trim().get(3..).unwrap_or("")).collect()
    } else if plain_ok && t.starts_with("/*") {
        block_lines(&t[2..])
    } else if plain_ok && t.starts_with("//") {
        t.lines()
            .map(|l| l.trim().trim_start_matches('/'))
            .collect()
    } else if lang == Lang::Ruby && t.starts_with('#') && !t.starts_with("#!") {
        t.lines()
            .map(|l| l.trim().trim_start_matches('#'))
            .collect()
    } else {
        return None;
    };
    let kept: Vec<String> = lines
        .iter()
        .map(|l| strip_xml_tags(l.trim()))
        .filter(|l| !l.starts_with('@') && !is_directive(l))
        .collect();
    let joined = kept.join("\n").trim().to_string();
    (!joined.is_empty()).then_some(joined)
}

/// Lines of a block comment body (after `/*` or `/**`), without the
/// closing `*/` and the leading `*` of each line.
fn block_lines(body: &str) -> Vec<&str> {
    let body = body.strip_suffix("*/").unwrap_or(body);
    body.lines()
        .map(|l| l.trim().trim_start_matches('*'))
        .collect()
}

/// `<summary>Runs it.</summary>` → `Runs it.`; text without `<` is kept.
fn strip_xml_tags(line: &str) -> String {
    if !line.contains('<') {
        return line.to_string();
    }
    let mut out = String::with_capacity(line.len());
    let mut in_tag = false;
    for c in line.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doc_markers_per_language() {
        let d = |lang, raw| doc_text(lang, raw);
        assert_eq!(
            d(Lang::Java, "/**\n * Creates it.\n * @param x the x\n */").as_deref(),
            Some("Creates it.")
        );
        assert_eq!(
            d(Lang::CSharp, "/// <summary>Runs it.</summary>").as_deref(),
            Some("Runs it.")
        );
        assert_eq!(d(Lang::Java, "// plain"), None);
        assert_eq!(d(Lang::TypeScript, "/* plain */"), None);
        assert_eq!(d(Lang::TypeScript, "/***/"), None);
        assert_eq!(
            d(Lang::Go, "// Serve starts.").as_deref(),
            Some("Serve starts.")
        );
        assert_eq!(d(Lang::Go, "//go:generate stringer"), None);
        assert_eq!(d(Lang::C, "/* A point. */").as_deref(), Some("A point."));
        assert_eq!(d(Lang::Ruby, "# Adds it.").as_deref(), Some("Adds it."));
        assert_eq!(d(Lang::Ruby, "# frozen_string_literal: true"), None);
        assert_eq!(d(Lang::Php, "# plain"), None);
        assert_eq!(
            d(Lang::Swift, "/// Launches.").as_deref(),
            Some("Launches.")
        );
    }
}
