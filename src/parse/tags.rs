//! Query runner: parses every language with a grammar (one parser per
//! thread, queries compiled once per language) and turns the captures of
//! `queries/<lang>/tags.scm` into definitions, references and imports. The
//! Rust `use` trees and Python imports are decoded here, the other
//! languages' imports in `imports.rs`. All tree walks are iterative.

use super::comments::preceding_docs;
use super::doc::{node_text, python_docstring, rust_doc_comment, summary};
use super::imports::{self, ImportSyntax};
use super::lang::ALL_LANGS;
use super::{Def, DefKind, Import, Lang, MAX_IMPORTS, MAX_REFS, PARSE_TIMEOUT};
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;
use std::sync::OnceLock;
use std::time::Instant;
use tree_sitter::{
    Node, ParseOptions, ParseState, Parser, Point, Query, QueryCursor, QueryCursorOptions,
    QueryCursorState, QueryError, StreamingIterator, Tree,
};

/// What the runner extracted from one tree.
pub(crate) struct Tagged {
    pub defs: Vec<Def>,
    pub refs: Vec<String>,
    pub imports: Vec<Import>,
    pub had_errors: bool,
    /// Python module docstring (Rust module docs are read lexically).
    pub module_doc: Option<String>,
}

/// Meaning of one capture name (see the header of the `.scm` files).
#[derive(Clone, Debug)]
enum Role {
    Def(DefKind),
    Name,
    Ref,
    ImportUse,
    ImportMod,
    ImportPython,
    Import(ImportSyntax),
    Ignore,
}

/// A compiled tag query and the role of each of its captures.
pub(crate) struct Compiled {
    query: Query,
    roles: Vec<Role>,
}

fn role(capture: &str) -> Role {
    if let Some(kind) = capture.strip_prefix("definition.") {
        let kind = match kind {
            "function" => DefKind::Function,
            "method" => DefKind::Method,
            "struct" => DefKind::Struct,
            "enum" => DefKind::Enum,
            "trait" => DefKind::Trait,
            "impl" => DefKind::Impl,
            "class" => DefKind::Class,
            "interface" => DefKind::Interface,
            "module" => DefKind::Module,
            "constant" => DefKind::Constant,
            "type" => DefKind::Type,
            "macro" => DefKind::Macro,
            "field" => DefKind::Field,
            "variant" => DefKind::Variant,
            _ => return Role::Ignore,
        };
        return Role::Def(kind);
    }
    match capture {
        "name" => Role::Name,
        "import.use" => Role::ImportUse,
        "import.mod" => Role::ImportMod,
        "import.python" => Role::ImportPython,
        c if c.starts_with("reference.") => Role::Ref,
        c => match c
            .strip_prefix("import.")
            .and_then(ImportSyntax::from_capture)
        {
            Some(syntax) => Role::Import(syntax),
            None => Role::Ignore,
        },
    }
}

/// How specific a definition kind is: a node two patterns catch keeps the
/// more specific kind (a function in a class body is a method, a Go type
/// of struct type a struct, a Java `static final` field a constant).
fn specificity(kind: &DefKind) -> u8 {
    match kind {
        DefKind::Type => 0,
        DefKind::Class | DefKind::Function | DefKind::Field => 1,
        _ => 2,
    }
}

/// Whether a capture name means something to the runner (names starting
/// with `_` only feed predicates).
#[cfg(test)]
fn understood(capture: &str) -> bool {
    capture.starts_with('_') || !matches!(role(capture), Role::Ignore)
}

/// Compile the bundled tag query of `lang` (`None` if it has no grammar).
pub(crate) fn compile(lang: Lang) -> Option<Result<Compiled, QueryError>> {
    let grammar = lang.grammar()?;
    let source = lang.tags_query_source()?;
    Some(Query::new(&grammar, source).map(|query| {
        let roles = query.capture_names().iter().map(|c| role(c)).collect();
        Compiled { query, roles }
    }))
}

fn compiled(lang: Lang) -> Option<&'static Compiled> {
    static CELLS: [OnceLock<Option<Compiled>>; ALL_LANGS.len()] =
        [const { OnceLock::new() }; ALL_LANGS.len()];
    let cell = CELLS.get(lang as usize)?;
    cell.get_or_init(|| match compile(lang)? {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::error!(lang = lang.as_str(), error = %e, "bundled tag query does not compile");
            None
        }
    })
    .as_ref()
}

thread_local! {
    static PARSER: RefCell<Option<Parser>> = const { RefCell::new(None) };
}

/// Parse `text`, giving up after [`PARSE_TIMEOUT`].
fn parse_tree(lang: Lang, text: &str) -> Option<Tree> {
    let grammar = lang.grammar()?;
    let run = |parser: &mut Parser| -> Option<Tree> {
        parser.set_language(&grammar).ok()?;
        parser.reset();
        let deadline = Instant::now() + PARSE_TIMEOUT;
        let mut progress = |_: &ParseState| {
            if Instant::now() >= deadline {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        };
        let bytes = text.as_bytes();
        let mut read = |offset: usize, _: Point| bytes.get(offset..).unwrap_or_default();
        let options = ParseOptions::new().progress_callback(&mut progress);
        let tree = parser.parse_with_options(&mut read, None, Some(options));
        parser.reset();
        tree
    };
    PARSER
        .try_with(|cell| match cell.try_borrow_mut() {
            Ok(mut slot) => run(slot.get_or_insert_with(Parser::new)),
            Err(_) => run(&mut Parser::new()),
        })
        .unwrap_or_else(|_| run(&mut Parser::new()))
}

/// Parse and tag one file; `None` when tree-sitter could not produce a tree.
pub(crate) fn extract(lang: Lang, text: &str) -> Option<Tagged> {
    let compiled = compiled(lang)?;
    let tree = parse_tree(lang, text)?;
    let root = tree.root_node();

    // (definition node, kind, name node); `def_index`: definition node id -> index
    let mut defs: Vec<(Node, DefKind, Node)> = Vec::new();
    let mut def_index: HashMap<usize, usize> = HashMap::new();
    let mut refs: Vec<Node> = Vec::new();
    let mut imports: Vec<(Node, Role)> = Vec::new();

    let deadline = Instant::now() + PARSE_TIMEOUT;
    let timed_out = Cell::new(false);
    let mut progress = |_: &QueryCursorState| {
        if Instant::now() >= deadline {
            timed_out.set(true);
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let mut cursor = QueryCursor::new();
    cursor.set_match_limit(2048);
    let options = QueryCursorOptions::new().progress_callback(&mut progress);
    let mut matches = cursor.matches_with_options(&compiled.query, root, text.as_bytes(), options);
    while let Some(m) = matches.next() {
        let mut def: Option<(Node, DefKind)> = None;
        let mut name: Option<Node> = None;
        for cap in m.captures() {
            let node = cap.node;
            match compiled
                .roles
                .get(cap.index as usize)
                .unwrap_or(&Role::Ignore)
            {
                Role::Def(kind) => def = Some((node, kind.clone())),
                Role::Name => name = Some(node),
                Role::Ref => refs.push(node),
                r @ (Role::ImportUse | Role::ImportMod | Role::ImportPython | Role::Import(_)) => {
                    imports.push((node, r.clone()));
                }
                Role::Ignore => {}
            }
        }
        if let (Some((node, kind)), Some(name)) = (def, name) {
            match def_index.get(&node.id()) {
                Some(&i) => {
                    if specificity(&kind) > specificity(&defs[i].1) {
                        defs[i].1 = kind;
                    }
                }
                None => {
                    def_index.insert(node.id(), defs.len());
                    defs.push((node, kind, name));
                }
            }
        }
    }
    drop(matches);

    defs.sort_by_key(|(node, _, _)| node.start_byte());
    let name_nodes: HashSet<usize> = defs
        .iter()
        .filter(|(_, kind, _)| *kind != DefKind::Impl)
        .map(|(_, _, name)| name.id())
        .collect();
    let mut walk = match lang {
        Lang::Rust => rust_walk(root, text, &def_index),
        _ => RustContext::default(),
    };
    let mut comment_docs = match lang {
        Lang::Rust | Lang::Python => HashMap::new(),
        _ => preceding_docs(lang, root, text, &def_index),
    };
    let out_defs = defs
        .iter()
        .map(|&(node, ref kind, name)| Def {
            name: node_text(name, text).to_string(),
            kind: kind.clone(),
            line: u32::try_from(node.start_position().row + 1).unwrap_or(u32::MAX),
            doc: match lang {
                Lang::Rust => walk.docs.remove(&node.id()),
                Lang::Python => python_docstring(node, text).and_then(|d| summary(&d)),
                _ => comment_docs.remove(&node.id()),
            },
        })
        .collect();

    refs.sort_by_key(|n| n.start_byte());
    let mut seen = HashSet::new();
    let mut out_refs = Vec::new();
    for node in refs {
        if out_refs.len() >= MAX_REFS {
            break;
        }
        let name = node_text(node, text);
        if name_nodes.contains(&node.id()) || name.is_empty() || is_type_param_like(name) {
            continue;
        }
        if seen.insert(name) {
            out_refs.push(name.to_string());
        }
    }

    imports.sort_by_key(|(n, _)| n.start_byte());
    imports.dedup_by_key(|(n, _)| n.id());
    let mut out_imports = Vec::new();
    for (node, role) in imports {
        match role {
            Role::ImportUse => {
                let inline = walk.inline_mods.get(&node.id()).map_or(&[][..], |v| &v[..]);
                rust_use(node, text, inline, &mut out_imports);
            }
            Role::ImportMod => {
                if let Some(name) = node.child_by_field_name("name") {
                    out_imports.push(Import::RustMod {
                        name: node_text(name, text).to_string(),
                    });
                }
            }
            Role::ImportPython => python_import(node, text, &mut out_imports),
            Role::Import(syntax) => imports::decode(syntax, node, text, &mut out_imports),
            _ => {}
        }
        if out_imports.len() >= MAX_IMPORTS {
            out_imports.truncate(MAX_IMPORTS);
            break;
        }
    }

    Some(Tagged {
        defs: out_defs,
        refs: out_refs,
        imports: out_imports,
        had_errors: root.has_error() || timed_out.get(),
        module_doc: match lang {
            Lang::Python => python_docstring(root, text),
            _ => None,
        },
    })
}

/// Single capital letters (`T`, `E`) are generic parameters, not references.
fn is_type_param_like(name: &str) -> bool {
    name.len() == 1 && name.as_bytes()[0].is_ascii_uppercase()
}

/// Segments of a Rust path node (`a::b::c`, `crate`, `self`, ...), walking
/// the left-nested `scoped_identifier` chain without recursion.
fn rust_path(node: Node<'_>, text: &str) -> Vec<String> {
    let mut segs = Vec::new();
    let mut cur = Some(node);
    while let Some(n) = cur {
        match n.kind() {
            "scoped_identifier" => {
                if let Some(name) = n.child_by_field_name("name") {
                    segs.push(node_text(name, text).to_string());
                }
                cur = n.child_by_field_name("path");
            }
            "identifier" | "crate" | "self" | "super" | "metavariable" => {
                segs.push(node_text(n, text).to_string());
                cur = None;
            }
            _ => cur = None,
        }
    }
    segs.reverse();
    segs
}

/// Expand the argument of a `use` declaration into one path per leaf.
fn rust_use(arg: Node<'_>, text: &str, inline_mods: &[String], out: &mut Vec<Import>) {
    let mut stack: Vec<(Node, Vec<String>)> = vec![(arg, Vec::new())];
    let mut emit = |path: Vec<String>| {
        if !path.is_empty() {
            out.push(Import::RustUse {
                path: relative_to_file(path, inline_mods),
            });
        }
    };
    while let Some((node, prefix)) = stack.pop() {
        match node.kind() {
            "scoped_use_list" => {
                let mut p = prefix;
                if let Some(path) = node.child_by_field_name("path") {
                    p.extend(rust_path(path, text));
                }
                if let Some(list) = node.child_by_field_name("list") {
                    push_children_rev(list, &p, &mut stack);
                }
            }
            "use_list" => push_children_rev(node, &prefix, &mut stack),
            "use_as_clause" => {
                if let Some(path) = node.child_by_field_name("path") {
                    emit(join(prefix, rust_path(path, text)));
                }
            }
            "use_wildcard" => {
                let mut p = prefix;
                if let Some(path) = node.named_child(0) {
                    p.extend(rust_path(path, text));
                }
                p.push("*".to_string());
                emit(p);
            }
            "self" if !prefix.is_empty() => emit(prefix),
            "scoped_identifier" | "identifier" | "crate" | "self" | "super" | "metavariable" => {
                emit(join(prefix, rust_path(node, text)));
            }
            _ => {}
        }
    }
}

fn join(mut a: Vec<String>, b: Vec<String>) -> Vec<String> {
    a.extend(b);
    a
}

fn push_children_rev<'t>(
    list: Node<'t>,
    prefix: &[String],
    stack: &mut Vec<(Node<'t>, Vec<String>)>,
) {
    let mut cursor = list.walk();
    let children: Vec<Node> = list.named_children(&mut cursor).collect();
    for child in children.into_iter().rev() {
        stack.push((child, prefix.to_vec()));
    }
}

/// What one pass over a Rust tree learns about context that would otherwise
/// need `Node::parent`/`prev_sibling` (both linear in depth or width).
#[derive(Default)]
struct RustContext {
    /// Definition node id → summary of the doc comments right before it.
    docs: HashMap<usize, String>,
    /// `use` argument node id → enclosing inline module names, outermost first.
    inline_mods: HashMap<usize, Vec<String>>,
}

/// Iterative depth-first walk with a [`tree_sitter::TreeCursor`].
fn rust_walk(root: Node<'_>, text: &str, defs: &HashMap<usize, usize>) -> RustContext {
    let mut ctx = RustContext::default();
    let mut cursor = root.walk();
    // Doc comments seen since the last other sibling, one list per depth.
    let mut pending: Vec<Vec<String>> = vec![Vec::new()];
    // (depth of the `mod_item`, its name) for inline modules being visited.
    let mut mods: Vec<(usize, String)> = Vec::new();
    loop {
        let node = cursor.node();
        let depth = pending.len() - 1;
        let here = pending.last_mut().expect("pending is never empty");
        match node.kind() {
            "attribute_item" => {}
            "line_comment" | "block_comment" => match rust_doc_comment(node, text) {
                Some(doc) => here.push(doc),
                None => here.clear(),
            },
            kind => {
                if defs.contains_key(&node.id()) && !here.is_empty() {
                    if let Some(doc) = summary(&here.join("\n")) {
                        ctx.docs.insert(node.id(), doc);
                    }
                }
                here.clear();
                if kind == "use_declaration" && !mods.is_empty() {
                    if let Some(arg) = node.child_by_field_name("argument") {
                        let chain = mods.iter().map(|(_, m)| m.clone()).collect();
                        ctx.inline_mods.insert(arg.id(), chain);
                    }
                }
                if kind == "mod_item" && node.child_by_field_name("body").is_some() {
                    if let Some(name) = node.child_by_field_name("name") {
                        mods.push((depth, node_text(name, text).to_string()));
                    }
                }
            }
        }
        if cursor.goto_first_child() {
            pending.push(Vec::new());
            continue;
        }
        loop {
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return ctx;
            }
            pending.pop();
            let depth = pending.len() - 1;
            while mods.last().is_some_and(|(d, _)| *d >= depth) {
                mods.pop();
            }
        }
    }
}

/// Rewrite a `self::`/`super::` path written inside inline modules so it is
/// relative to the file's own module.
fn relative_to_file(path: Vec<String>, inline: &[String]) -> Vec<String> {
    if inline.is_empty() {
        return path;
    }
    let supers = path.iter().take_while(|s| *s == "super").count();
    if path.first().is_some_and(|s| s == "self") {
        let mut p = vec!["self".to_string()];
        p.extend(inline.iter().cloned());
        p.extend(path.into_iter().skip(1));
        p
    } else if supers > 0 && supers <= inline.len() {
        let mut p = vec!["self".to_string()];
        p.extend(inline[..inline.len() - supers].iter().cloned());
        p.extend(path.into_iter().skip(supers));
        p
    } else if supers > inline.len() {
        path.into_iter().skip(inline.len()).collect()
    } else {
        path
    }
}

/// Dotted name text without whitespace (`a . b` → `a.b`).
fn dotted(node: Node<'_>, text: &str) -> String {
    node_text(node, text).split_whitespace().collect()
}

/// Decode an `import` / `from ... import` statement.
fn python_import(node: Node<'_>, text: &str, out: &mut Vec<Import>) {
    let mut cursor = node.walk();
    let targets: Vec<String> = node
        .children_by_field_name("name", &mut cursor)
        .filter_map(|n| match n.kind() {
            "aliased_import" => n.child_by_field_name("name"),
            _ => Some(n),
        })
        .map(|n| dotted(n, text))
        .collect();
    if node.kind() == "import_statement" {
        for module in targets {
            out.push(Import::Python {
                module,
                level: 0,
                names: Vec::new(),
            });
        }
        return;
    }
    let Some(module_node) = node.child_by_field_name("module_name") else {
        return;
    };
    let (module, level) = if module_node.kind() == "relative_import" {
        let mut c = module_node.walk();
        let mut module = String::new();
        let mut level = 0;
        for child in module_node.named_children(&mut c) {
            match child.kind() {
                "import_prefix" => {
                    level = node_text(child, text).chars().filter(|&c| c == '.').count();
                }
                "dotted_name" => module = dotted(child, text),
                _ => {}
            }
        }
        (module, u32::try_from(level).unwrap_or(u32::MAX))
    } else {
        (dotted(module_node, text), 0)
    };
    let mut names = targets;
    let mut c = node.walk();
    if node
        .named_children(&mut c)
        .any(|n| n.kind() == "wildcard_import")
    {
        names.push("*".to_string());
    }
    out.push(Import::Python {
        module,
        level,
        names,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_query_compiles_and_every_capture_is_understood() {
        for lang in ALL_LANGS {
            let Some(compiled) = compile(lang) else {
                assert!(!lang.has_grammar(), "{lang:?} has a grammar but no query");
                continue;
            };
            let c = compiled.unwrap_or_else(|e| panic!("{} query: {e}", lang.as_str()));
            for name in c.query.capture_names() {
                assert!(understood(name), "{}: capture @{name}", lang.as_str());
            }
            assert!(
                c.roles.iter().any(|r| matches!(r, Role::Def(_))),
                "{lang:?} defines nothing"
            );
            assert!(c.roles.iter().any(|r| matches!(r, Role::Ref)), "{lang:?}");
            assert!(
                c.roles
                    .iter()
                    .any(|r| matches!(r, Role::ImportUse | Role::ImportPython | Role::Import(_))),
                "{lang:?} imports nothing"
            );
        }
        assert!(compile(Lang::Markdown).is_none());
    }

    #[test]
    fn more_specific_kinds_win() {
        assert!(specificity(&DefKind::Method) > specificity(&DefKind::Function));
        assert!(specificity(&DefKind::Struct) > specificity(&DefKind::Type));
        assert!(specificity(&DefKind::Interface) > specificity(&DefKind::Class));
        assert!(specificity(&DefKind::Constant) > specificity(&DefKind::Field));
    }

    #[test]
    fn inline_mod_paths_are_file_relative() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let inline = s(&["tests"]);
        assert_eq!(
            relative_to_file(s(&["super", "*"]), &inline),
            s(&["self", "*"])
        );
        assert_eq!(
            relative_to_file(s(&["self", "x"]), &inline),
            s(&["self", "tests", "x"])
        );
        assert_eq!(
            relative_to_file(s(&["super", "super", "x"]), &inline),
            s(&["super", "x"])
        );
        assert_eq!(
            relative_to_file(s(&["crate", "x"]), &inline),
            s(&["crate", "x"])
        );
        assert_eq!(
            relative_to_file(s(&["super", "x"]), &[]),
            s(&["super", "x"])
        );
    }
}
