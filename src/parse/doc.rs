//! Doc extraction: a file's purpose ([`file_doc`], lexical, for every
//! language) and item-doc helpers for tree-sitter nodes ([`rust_doc_comment`],
//! [`python_docstring`]). Nothing here recurses over the tree.

use super::{Lang, MAX_DEF_DOC_CHARS};
use tree_sitter::Node;

/// At most `max` chars of `s` (trimmed); a cut string ends with `…`.
pub(crate) fn truncate_chars(s: &str, max: usize) -> String {
    let s = s.trim();
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.truncate(out.trim_end().len());
    out.push('…');
    out
}

/// First sentence of the first paragraph of `doc`, on one line, capped at
/// [`MAX_DEF_DOC_CHARS`]. `None` when there is no text.
pub(crate) fn summary(doc: &str) -> Option<String> {
    let para: Vec<&str> = doc
        .lines()
        .map(str::trim)
        .skip_while(|l| l.is_empty())
        .take_while(|l| !l.is_empty())
        .collect();
    let joined = para.join(" ");
    let end = joined.find(". ").map_or(joined.len(), |i| i + 1);
    let first = truncate_chars(&joined[..end], MAX_DEF_DOC_CHARS);
    (!first.is_empty()).then_some(first)
}

/// Text of `node` in `text`, empty if the range is somehow invalid.
pub(crate) fn node_text<'a>(node: Node<'_>, text: &'a str) -> &'a str {
    text.get(node.byte_range()).unwrap_or("")
}

/// Text of a Rust outer doc comment node (`///`, `/** */`) without its
/// markers; `None` for any other node.
pub(crate) fn rust_doc_comment(node: Node<'_>, text: &str) -> Option<String> {
    let t = node_text(node, text).trim();
    match node.kind() {
        "line_comment" if t.starts_with("///") && !t.starts_with("////") => {
            Some(t[3..].trim().to_string())
        }
        "block_comment" if t.starts_with("/**") && !t.starts_with("/***") && t.len() > 4 => {
            let body = t.trim_start_matches("/**").trim_end_matches("*/");
            let cleaned: Vec<&str> = body
                .lines()
                .map(|l| l.trim().trim_start_matches('*').trim())
                .collect();
            Some(cleaned.join("\n"))
        }
        _ => None,
    }
}

/// The full docstring of a Python `function_definition`/`class_definition`
/// (first statement of its body) or of a `module` node, dedented.
pub(crate) fn python_docstring(node: Node<'_>, text: &str) -> Option<String> {
    let body = if node.kind() == "module" {
        node
    } else {
        node.child_by_field_name("body")?
    };
    let mut cursor = body.walk();
    let first = body
        .named_children(&mut cursor)
        .find(|c| c.kind() != "comment")?;
    if first.kind() != "expression_statement" || first.named_child_count() != 1 {
        return None;
    }
    let string = first.named_child(0)?;
    if string.kind() != "string" {
        return None;
    }
    let cleaned = strip_python_string(node_text(string, text))?;
    let cleaned = dedent(&cleaned);
    (!cleaned.is_empty()).then_some(cleaned)
}

/// Contents of a Python string literal, without prefix and quotes.
fn strip_python_string(raw: &str) -> Option<String> {
    let raw = raw.trim_start_matches(|c: char| "rRuUbBfF".contains(c));
    for q in ["\"\"\"", "'''", "\"", "'"] {
        if let Some(rest) = raw.strip_prefix(q) {
            let inner = rest.strip_suffix(q).unwrap_or(rest);
            return Some(inner.to_string());
        }
    }
    None
}

/// Trim, and remove the common indentation of all lines but the first.
fn dedent(s: &str) -> String {
    let lines: Vec<&str> = s.trim().lines().collect();
    let indent = lines
        .iter()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    let mut out = Vec::with_capacity(lines.len());
    for (i, l) in lines.iter().enumerate() {
        let l = if i == 0 {
            l.trim()
        } else {
            l.get(indent..).unwrap_or(l.trim())
        };
        out.push(l.trim_end());
    }
    out.join("\n").trim().to_string()
}

/// Lexical purpose of a file (no tree needed): Rust module doc, else the
/// first non-license comment block; Markdown first heading + paragraph.
pub(crate) fn file_doc(lang: Lang, text: &str) -> Option<String> {
    let doc = match lang {
        Lang::Rust => rust_module_doc(text).or_else(|| comment_block(text, false, true)),
        Lang::Markdown => markdown_doc(text),
        Lang::Python | Lang::Toml | Lang::Yaml | Lang::Shell => comment_block(text, true, false),
        Lang::C
        | Lang::Cpp
        | Lang::JavaScript
        | Lang::TypeScript
        | Lang::Tsx
        | Lang::Go
        | Lang::Java
        | Lang::Kotlin
        | Lang::CSharp
        | Lang::Swift => comment_block(text, false, true),
        Lang::Ruby => comment_block(text, true, false),
        Lang::Php => comment_block(php_body(text), true, true),
        Lang::Other => comment_block(text, true, true),
        Lang::Json => None,
    }?;
    let doc = doc.trim().to_string();
    (!doc.is_empty()).then_some(doc)
}

/// A PHP file after its opening `<?php` tag.
fn php_body(text: &str) -> &str {
    let t = text.trim_start();
    t.strip_prefix("<?php").unwrap_or(t)
}

/// Leading `//!` lines and `/*! */` blocks, after blank lines, plain
/// comments and single-line inner attributes.
fn rust_module_doc(text: &str) -> Option<String> {
    let mut out: Vec<String> = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("//!") {
            out.push(
                rest.strip_prefix(' ')
                    .unwrap_or(rest)
                    .trim_end()
                    .to_string(),
            );
        } else if t.starts_with("/*") {
            let doc = t.starts_with("/*!");
            let mut body = vec![t.trim_start_matches("/*!").trim_start_matches("/*")];
            let mut closed = t.len() > 2 && t.ends_with("*/");
            while !closed {
                let Some(next) = lines.next() else { break };
                closed = next.contains("*/");
                body.push(next);
            }
            if doc {
                for l in body {
                    let l = l.trim().trim_end_matches("*/").trim_start_matches('*');
                    out.push(l.trim().to_string());
                }
            }
        } else if !(t.is_empty() || t.starts_with("//") || t.starts_with("#!")) {
            break;
        }
    }
    let joined = out.join("\n");
    let joined = joined.trim();
    (!joined.is_empty()).then(|| joined.to_string())
}

/// Whether a comment line is license/copyright boilerplate.
fn is_boilerplate(line: &str) -> bool {
    let l = line.to_ascii_lowercase();
    [
        "copyright",
        "spdx",
        "license",
        "licence",
        "all rights reserved",
    ]
    .iter()
    .any(|k| l.contains(k))
}

/// Whether a comment line is a tool directive rather than prose
/// (`//go:build`, `# frozen_string_literal: true`, `// eslint-disable`...).
pub(crate) fn is_directive(line: &str) -> bool {
    let l = line.trim();
    [
        "go:",
        "+build",
        "frozen_string_literal",
        "eslint",
        "@ts-",
        "prettier-ignore",
        "swift-tools-version",
        "nolint",
        "rubocop:",
        "typed:",
        "jshint",
        "global ",
    ]
    .iter()
    .any(|k| l.starts_with(k))
}

/// First comment block at the top of the file (`#` lines when `hash`,
/// `//` lines and `/* */` blocks when `slash`). Shebangs, encoding lines and
/// decoration-only lines are skipped; paragraphs (split at empty comment
/// lines) holding license boilerplate are dropped, and a block holding
/// nothing else does not count, so the next block is tried.
fn comment_block(text: &str, hash: bool, slash: bool) -> Option<String> {
    let mut paras: Vec<Vec<String>> = vec![Vec::new()];
    let kept = |paras: &[Vec<String>]| -> Vec<String> {
        paras
            .iter()
            .filter(|p| !p.is_empty() && !p.iter().any(|l| is_boilerplate(l)))
            .map(|p| p.join("\n"))
            .collect()
    };
    let mut in_block = false;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        let content = if in_block {
            in_block = !t.contains("*/");
            t.split("*/").next().unwrap_or("").trim_start_matches('*')
        } else if slash && t.starts_with("/*") {
            in_block = !t[2..].contains("*/");
            let body = t.trim_start_matches('/').trim_start_matches(['*', '!']);
            body.split("*/").next().unwrap_or("")
        } else if slash && t.starts_with("//") {
            t.trim_start_matches('/').trim_start_matches('!')
        } else if hash && t.starts_with('#') {
            if (i == 0 && t.starts_with("#!")) || t.contains("-*-") || t.starts_with("# vim:") {
                continue;
            }
            t.trim_start_matches('#')
        } else if t.is_empty() {
            if !kept(&paras).is_empty() {
                break;
            }
            paras.push(Vec::new());
            continue;
        } else {
            break;
        };
        let content = content.trim();
        if is_directive(content) {
            continue;
        }
        if content.chars().any(char::is_alphanumeric) {
            let last = paras.last_mut().expect("paras is never empty");
            last.push(content.to_string());
        } else {
            paras.push(Vec::new());
        }
    }
    let joined = kept(&paras).join("\n\n");
    (!joined.is_empty()).then_some(joined)
}

/// Markdown: first heading text and first paragraph after it (badges, HTML
/// lines, code fences and YAML front matter are skipped).
fn markdown_doc(text: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    if lines.first().is_some_and(|l| l.trim() == "---") {
        i = 1;
        while i < lines.len() && lines[i].trim() != "---" {
            i += 1;
        }
        i += 1;
    }
    let mut heading: Option<String> = None;
    let mut para: Vec<&str> = Vec::new();
    let mut in_fence = false;
    while i < lines.len() {
        let t = lines[i].trim();
        let next = lines.get(i + 1).map(|l| l.trim()).unwrap_or("");
        i += 1;
        if t.starts_with("```") || t.starts_with("~~~") {
            in_fence = !in_fence;
            continue;
        }
        let skip = in_fence || t.starts_with('<') || t.starts_with("[![") || t.starts_with("![");
        let setext = !t.is_empty()
            && !next.is_empty()
            && (next.chars().all(|c| c == '=') || next.chars().all(|c| c == '-'));
        let atx = t.starts_with('#') && t.trim_start_matches('#').starts_with([' ', '\t']);
        if !para.is_empty() && (t.is_empty() || atx || setext || skip) {
            break;
        }
        if skip || t.is_empty() {
            continue;
        }
        if atx || setext {
            if setext {
                i += 1;
            }
            if heading.is_none() {
                let h = if atx { t.trim_matches('#').trim() } else { t };
                heading = Some(h.to_string());
            }
            continue;
        }
        para.push(t);
    }
    let para = para.join(" ");
    match (heading, para.is_empty()) {
        (Some(h), false) => Some(format!("{h}\n{para}")),
        (Some(h), true) => Some(h),
        (None, false) => Some(para),
        (None, true) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_takes_first_sentence() {
        assert_eq!(
            summary("\n  Does a thing. And more.\nsecond line\n\nOther para").as_deref(),
            Some("Does a thing.")
        );
        assert_eq!(summary("one\ntwo\n\nthree").as_deref(), Some("one two"));
        assert_eq!(summary("  \n "), None);
        let long = "x".repeat(500);
        assert_eq!(
            summary(&long).map(|s| s.chars().count()),
            Some(MAX_DEF_DOC_CHARS)
        );
    }

    #[test]
    fn rust_module_doc_after_license_comment() {
        let src = "// Copyright 2024 X\n#![allow(dead_code)]\n//! Top doc.\n//!\n//! More.\nuse x;\n//! late\n";
        assert_eq!(
            file_doc(Lang::Rust, src).as_deref(),
            Some("Top doc.\n\nMore.")
        );
        let block = "/*!\n * Block doc.\n */\nfn main() {}\n";
        assert_eq!(file_doc(Lang::Rust, block).as_deref(), Some("Block doc."));
    }

    #[test]
    fn comment_block_skips_shebang_and_license() {
        let py = "#!/usr/bin/env python\n# -*- coding: utf-8 -*-\n# Copyright (c) 2020 ACME\n# SPDX-License-Identifier: MIT\n#\n# Tool that frobs widgets.\n# Second line.\n\nimport os\n";
        assert_eq!(
            file_doc(Lang::Python, py).as_deref(),
            Some("Tool that frobs widgets.\nSecond line.")
        );
        let c = "/*\n * Copyright 2019 Foo\n * Licensed under MIT.\n */\n\n// Hash table helpers.\nint x;\n";
        assert_eq!(file_doc(Lang::C, c).as_deref(), Some("Hash table helpers."));
        assert_eq!(file_doc(Lang::Shell, "echo hi\n# later\n"), None);
        assert_eq!(
            file_doc(Lang::Toml, "# only license: MIT License\n[a]\n"),
            None
        );
    }

    #[test]
    fn markdown_heading_and_paragraph() {
        let md = "---\ntitle: x\n---\n<p align=center>logo</p>\n\n# My Tool\n\n[![ci](b)](c)\n\nMy Tool does\nthings fast.\n\nMore.\n";
        assert_eq!(
            file_doc(Lang::Markdown, md).as_deref(),
            Some("My Tool\nMy Tool does things fast.")
        );
        let setext = "Title\n=====\n\n```\ncode\n```\nBody text.\n";
        assert_eq!(
            file_doc(Lang::Markdown, setext).as_deref(),
            Some("Title\nBody text.")
        );
        assert_eq!(file_doc(Lang::Markdown, ""), None);
    }

    #[test]
    fn truncation_is_char_safe() {
        let s = "é".repeat(1000);
        let t = truncate_chars(&s, 400);
        assert_eq!(t.chars().count(), 400);
        assert!(t.ends_with('…'));
        assert_eq!(truncate_chars("  short ", 400), "short");
    }
}
