//! Import statements of the languages added after Rust and Python, decoded
//! from the node a tag query captured (`@import.<syntax>`) into
//! [`Import`]s. Decoding reads the node's text; nothing here walks a tree.

use super::Import;
use super::doc::node_text;
use tree_sitter::Node;

/// What an `@import.<syntax>` capture holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ImportSyntax {
    /// An ES module specifier, without quotes (`import.module`).
    EsModule,
    /// A Go import path, without quotes (`import.go`).
    Go,
    /// A whole Java or Kotlin import declaration (`import.qualified`).
    Qualified,
    /// The path of `#include "..."`, without quotes (`import.include`).
    Include,
    /// The path of `#include <...>`, with brackets (`import.include_system`).
    IncludeSystem,
    /// The feature of `require "..."` (`import.require`).
    Require,
    /// The path of `require_relative "..."` (`import.require_relative`).
    RequireRelative,
    /// The name a C# `using` directive names (`import.namespace`).
    Using,
    /// A whole PHP `use` declaration (`import.php_use`).
    PhpUse,
    /// The module of a Swift `import` (`import.swift`).
    Swift,
}

impl ImportSyntax {
    /// The syntax of capture `import.<name>`, if it is one of these.
    pub(crate) fn from_capture(name: &str) -> Option<ImportSyntax> {
        Some(match name {
            "module" => ImportSyntax::EsModule,
            "go" => ImportSyntax::Go,
            "qualified" => ImportSyntax::Qualified,
            "include" => ImportSyntax::Include,
            "include_system" => ImportSyntax::IncludeSystem,
            "require" => ImportSyntax::Require,
            "require_relative" => ImportSyntax::RequireRelative,
            "namespace" => ImportSyntax::Using,
            "php_use" => ImportSyntax::PhpUse,
            "swift" => ImportSyntax::Swift,
            _ => return None,
        })
    }
}

/// Decode one captured node into `out` (nothing when it names nothing).
pub(crate) fn decode(syntax: ImportSyntax, node: Node<'_>, text: &str, out: &mut Vec<Import>) {
    let raw = node_text(node, text).trim();
    let owned = |s: &str| s.trim().to_string();
    let import = match syntax {
        ImportSyntax::EsModule => Import::EsModule { spec: owned(raw) },
        ImportSyntax::Go => Import::GoPackage { path: owned(raw) },
        ImportSyntax::Qualified => match qualified(raw) {
            Some((name, wildcard)) => Import::Qualified { name, wildcard },
            None => return,
        },
        ImportSyntax::Include => Import::Include {
            path: owned(raw),
            system: false,
        },
        ImportSyntax::IncludeSystem => Import::Include {
            path: owned(raw.trim_start_matches('<').trim_end_matches('>')),
            system: true,
        },
        ImportSyntax::Require => Import::Require {
            feature: owned(raw),
            relative: false,
        },
        ImportSyntax::RequireRelative => Import::Require {
            feature: owned(raw),
            relative: true,
        },
        ImportSyntax::Using => {
            if is_using_alias_name(node) {
                return;
            }
            Import::Using {
                namespace: raw.split_whitespace().collect(),
            }
        }
        ImportSyntax::PhpUse => {
            out.extend(php_use(raw).into_iter().map(|name| Import::PhpUse { name }));
            return;
        }
        ImportSyntax::Swift => Import::SwiftImport {
            module: raw.split_whitespace().collect(),
        },
    };
    let empty = match &import {
        Import::EsModule { spec: s }
        | Import::GoPackage { path: s }
        | Import::Include { path: s, .. }
        | Import::Require { feature: s, .. }
        | Import::Using { namespace: s }
        | Import::SwiftImport { module: s } => s.is_empty(),
        _ => false,
    };
    if !empty {
        out.push(import);
    }
}

/// In `using Alias = A.B;` the alias is a child too; it names nothing.
fn is_using_alias_name(node: Node<'_>) -> bool {
    node.parent()
        .and_then(|p| p.child_by_field_name("name"))
        .is_some_and(|alias| alias.id() == node.id())
}

/// `import static a.b.C.m;` → (`a.b.C.m`, false); `import a.b.*` →
/// (`a.b`, true); a Kotlin alias (`import a.B as C`) is dropped.
fn qualified(raw: &str) -> Option<(String, bool)> {
    let rest = raw.strip_prefix("import")?.trim_start();
    let rest = rest.strip_prefix("static ").unwrap_or(rest);
    let name: String = rest
        .split([';', '\n'])
        .next()?
        .split(" as ")
        .next()?
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '`')
        .collect();
    let (name, wildcard) = match name.strip_suffix(".*") {
        Some(pkg) => (pkg.to_string(), true),
        None => (name, false),
    };
    (!name.is_empty()).then_some((name, wildcard))
}

/// Fully qualified names of a PHP `use` declaration: `use A\B, C\D as E;`,
/// `use function A\f;`, `use A\{B, C\D};` (leading `\` dropped).
fn php_use(raw: &str) -> Vec<String> {
    let Some(rest) = raw.strip_prefix("use") else {
        return Vec::new();
    };
    let rest = rest.trim().trim_end_matches(';').trim();
    let rest = rest
        .strip_prefix("function ")
        .or_else(|| rest.strip_prefix("const "))
        .unwrap_or(rest);
    let clean = |s: &str| -> String {
        let s = s.trim();
        let s = s.split(" as ").next().unwrap_or(s).trim();
        let s = s
            .strip_prefix("function ")
            .or_else(|| s.strip_prefix("const "))
            .unwrap_or(s);
        s.trim().trim_start_matches('\\').to_string()
    };
    let names: Vec<String> = match rest.split_once('{') {
        Some((prefix, group)) => {
            let prefix = clean(prefix).trim_end_matches('\\').to_string();
            group
                .trim_end_matches('}')
                .split(',')
                .map(clean)
                .filter(|m| !m.is_empty())
                .map(|m| format!("{prefix}\\{m}"))
                .collect()
        }
        None => rest.split(',').map(clean).collect(),
    };
    names.into_iter().filter(|n| !n.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualified_names() {
        let q = |s| qualified(s);
        assert_eq!(q("import a.b.C;"), Some(("a.b.C".into(), false)));
        assert_eq!(q("import static a.b.C.m;"), Some(("a.b.C.m".into(), false)));
        assert_eq!(q("import a.b.*;"), Some(("a.b".into(), true)));
        assert_eq!(q("import a.b.C as D"), Some(("a.b.C".into(), false)));
        assert_eq!(q("import a.`when`.X"), Some(("a.when.X".into(), false)));
        assert_eq!(q("import ;"), None);
    }

    #[test]
    fn php_uses() {
        assert_eq!(php_use("use A\\B;"), ["A\\B"]);
        assert_eq!(php_use("use \\A\\B as C, D\\E;"), ["A\\B", "D\\E"]);
        assert_eq!(
            php_use("use App\\Models\\{Post, Comment as C};"),
            ["App\\Models\\Post", "App\\Models\\Comment"]
        );
        assert_eq!(php_use("use function App\\helper;"), ["App\\helper"]);
        assert!(php_use("use ;").is_empty());
    }
}
