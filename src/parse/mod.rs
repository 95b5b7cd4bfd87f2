//! Per-file facts for the notebook: language, purpose (doc), definitions,
//! references and imports, plus resolution of imports to repository files.
//!
//! * [`parse`] turns one file's text into [`FileFacts`]. Rust, Python,
//!   TypeScript/TSX, JavaScript, Go, Java, Kotlin, C, C++, C#, Ruby, PHP and
//!   Swift are parsed with tree-sitter and the tag queries in
//!   `queries/<lang>/tags.scm` (see their headers for the capture names), all
//!   through one runner (`tags.rs`); doc comments come from `comments.rs` and
//!   import statements are decoded by `imports.rs`. Every other language only
//!   gets a lexical [`FileFacts::doc`]. It never fails and never panics: broken code
//!   yields what could be read and `had_errors = true`; traversal never
//!   recurses on the Rust stack, so pathological nesting is safe.
//! * Limits: files over [`MAX_PARSE_BYTES`] skip tree-sitter (doc only);
//!   parsing and querying each stop after [`PARSE_TIMEOUT`] (then the facts
//!   gathered so far are kept and `had_errors` is set); `refs` hold at most
//!   [`MAX_REFS`] names and `imports` at most [`MAX_IMPORTS`] entries.
//! * [`ModuleMap`] maps [`Import`]s back to files of one repository snapshot,
//!   with what [`Manifests`] (`Cargo.toml`, `go.mod`, `tsconfig.json`) say.

mod comments;
mod doc;
mod imports;
mod lang;
mod manifest;
mod resolve;
mod resolve_langs;
mod tags;

use serde::{Deserialize, Serialize};
use std::time::Duration;

pub use lang::{ALL_LANGS, Lang, detect_lang, detect_lang_in};
pub use manifest::{Manifests, cargo_package_name};
pub use resolve::ModuleMap;

/// Files larger than this are not given to tree-sitter.
pub const MAX_PARSE_BYTES: usize = 2 * 1024 * 1024;
/// Wall-clock budget for tree-sitter parsing, and separately for querying.
pub const PARSE_TIMEOUT: Duration = Duration::from_secs(3);
/// Cap on [`FileFacts::refs`].
pub const MAX_REFS: usize = 2000;
/// Cap on [`FileFacts::imports`].
pub const MAX_IMPORTS: usize = 5000;
/// Cap (in chars) on [`FileFacts::doc`].
pub const MAX_FILE_DOC_CHARS: usize = 400;
/// Cap (in chars) on [`Def::doc`].
pub const MAX_DEF_DOC_CHARS: usize = 200;

/// What a definition is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum DefKind {
    Function,
    Method,
    Struct,
    Enum,
    Trait,
    Impl,
    Class,
    /// An interface, a protocol (Swift) or a Java annotation type.
    Interface,
    Module,
    Constant,
    Type,
    Macro,
    Field,
    Variant,
}

/// One definition found in a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Def {
    /// Defined name; for a Rust `impl` block, the implemented type.
    pub name: String,
    pub kind: DefKind,
    /// 1-based line of the defining node (for Python decorated functions,
    /// the `def` line).
    pub line: u32,
    /// First sentence of its doc comment or docstring, at most
    /// [`MAX_DEF_DOC_CHARS`] chars.
    pub doc: Option<String>,
}

/// One import statement (or one leaf of a Rust `use` tree).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Import {
    /// `use a::b::{c, d::e}` expanded into one entry per leaf: `["a","b","c"]`,
    /// `["a","b","d","e"]`; `self`/`super`/`crate` kept as segments; a glob
    /// keeps its path and ends with `"*"`; a `self` leaf (`a::{self}`) is
    /// `["a"]`; `as` aliases are dropped. Inside inline `mod m { ... }` blocks
    /// paths are rewritten relative to the file's module (`super::x` in an
    /// inline `mod tests` becomes `self::x`, `self::x` becomes `self::m::x`).
    RustUse { path: Vec<String> },
    /// `mod foo;` (declaration without a body). One nested in an inline
    /// `mod a { mod foo; }` is resolved as if it were at the file's top level.
    RustMod { name: String },
    /// `import a.b` → module "a.b", level 0, names []; `from ..x import y, z`
    /// → module "x", level 2, names ["y","z"]; `from a import *` → names ["*"].
    /// `import a, b` gives one entry per module; aliases are dropped.
    Python {
        module: String,
        level: u32,
        names: Vec<String>,
    },
    /// JavaScript/TypeScript: the specifier of `import ... from "spec"`,
    /// `export ... from "spec"`, `require("spec")` or `import("spec")`, as
    /// written (`./util`, `@lib/config`, `react`).
    EsModule { spec: String },
    /// Go: an import path (`example.com/mod/internal/store`).
    GoPackage { path: String },
    /// Java and Kotlin: the dotted name an import names
    /// (`com.acme.util.Strings`, `static` dropped, aliases dropped);
    /// `wildcard` for `com.acme.util.*` (the name is then the package).
    Qualified { name: String, wildcard: bool },
    /// C and C++: `#include "path"` (`system: false`) or `#include <path>`.
    Include { path: String, system: bool },
    /// Ruby: `require "feature"` or (`relative: true`) `require_relative`.
    Require { feature: String, relative: bool },
    /// C#: the namespace a `using` directive names (`Acme.Core.Models`).
    Using { namespace: String },
    /// PHP: one fully qualified name a `use` declaration imports
    /// (`App\Models\User`; a group use gives one entry per member).
    PhpUse { name: String },
    /// Swift: the module an `import` names.
    SwiftImport { module: String },
}

/// Everything the notebook learns from one file's text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileFacts {
    /// Always `Some` when produced by [`parse`]: by path, then by text
    /// ([`detect_lang_in`]: shebangs, C headers).
    pub lang: Option<Lang>,
    /// Purpose: module doc (`//!` lines, Python module docstring), else the
    /// first comment block, else (Markdown) first heading + first paragraph;
    /// trimmed, at most [`MAX_FILE_DOC_CHARS`] chars.
    pub doc: Option<String>,
    /// Definitions in source order.
    pub defs: Vec<Def>,
    /// Identifiers referenced (calls, type uses, macro invocations, attribute
    /// accesses), deduplicated, first-appearance order, capped at [`MAX_REFS`].
    /// Definition names are not references (except a Rust `impl`'s type);
    /// single capital letters (generic parameters) are left out.
    pub refs: Vec<String>,
    pub imports: Vec<Import>,
    /// The tree had ERROR/MISSING nodes, or tree-sitter timed out.
    pub had_errors: bool,
}

/// Facts about one file. Never fails, never panics, whatever the input
/// (broken code, deep nesting, NUL bytes, huge lines). Files whose [`Lang`]
/// has no grammar (or that exceed [`MAX_PARSE_BYTES`]) get `doc` only.
pub fn parse(path: &str, text: &str) -> FileFacts {
    let lang = detect_lang_in(path, text);
    let mut facts = FileFacts {
        lang: Some(lang),
        ..FileFacts::default()
    };
    let mut tree_doc = None;
    if lang.has_grammar() {
        if text.len() > MAX_PARSE_BYTES {
            tracing::debug!(path, bytes = text.len(), "file too large for tree-sitter");
        } else if let Some(tagged) = tags::extract(lang, text) {
            facts.defs = tagged.defs;
            facts.refs = tagged.refs;
            facts.imports = tagged.imports;
            facts.had_errors = tagged.had_errors;
            tree_doc = tagged.module_doc;
        } else {
            tracing::debug!(path, "tree-sitter gave up");
            facts.had_errors = true;
        }
    }
    facts.doc = tree_doc
        .or_else(|| doc::file_doc(lang, text))
        .map(|d| doc::truncate_chars(&d, MAX_FILE_DOC_CHARS))
        .filter(|d| !d.is_empty());
    facts
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUST_SAMPLE: &str = r#"//! Sample module.
//!
//! Second paragraph.

use std::collections::HashMap;
use crate::a::{b, c::D as E, self};
use super::*;

mod child;

/// A widget. With more text.
#[derive(Debug)]
pub struct Widget {
    /// Its size.
    pub size: u32,
}

pub enum Shape {
    Circle,
    Square(u32),
}

pub trait Draw {
    fn draw(&self);
}

impl Draw for Widget {
    /// Draws it.
    fn draw(&self) {
        let m: HashMap<u32, Shape> = HashMap::new();
        helper(self.size);
        println!("{}", compute(1));
    }
}

pub const LIMIT: usize = 3;
macro_rules! mk {
    () => {};
}
type Alias<T> = Vec<T>;
fn helper(x: u32) -> u32 {
    x
}

mod tests {
    use super::helper;
}
"#;

    const PY_SAMPLE: &str = r#""""Sample module.

Longer description.
"""
import os.path
import json as j, sys
from . import sibling
from ..pkg.sub import thing, other as o
from flask import *

__all__ = ["Api"]
MAX_SIZE = 10
lower = 3

class Api(Base, mixins.Helper):
    """An API. Second sentence."""

    @property
    def name(self) -> str:
        """Name of it."""
        return self._name.upper()

    def run(self, x: Config):
        helper(x)
        os.path.join("a", "b")

def helper(arg):
    def inner():
        pass
    return inner()
"#;

    fn def(name: &str, kind: DefKind, line: u32, doc: Option<&str>) -> Def {
        Def {
            name: name.to_string(),
            kind,
            line,
            doc: doc.map(str::to_string),
        }
    }

    fn strs(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn use_(v: &[&str]) -> Import {
        Import::RustUse { path: strs(v) }
    }

    #[test]
    fn rust_sample() {
        use DefKind::*;
        let f = parse("src/x.rs", RUST_SAMPLE);
        assert_eq!(f.lang, Some(Lang::Rust));
        assert_eq!(
            f.doc.as_deref(),
            Some("Sample module.\n\nSecond paragraph.")
        );
        assert!(!f.had_errors);
        let expected = vec![
            def("child", Module, 9, None),
            def("Widget", Struct, 13, Some("A widget.")),
            def("size", Field, 15, Some("Its size.")),
            def("Shape", Enum, 18, None),
            def("Circle", Variant, 19, None),
            def("Square", Variant, 20, None),
            def("Draw", Trait, 23, None),
            def("draw", Method, 24, None),
            def("Widget", Impl, 27, None),
            def("draw", Method, 29, Some("Draws it.")),
            def("LIMIT", Constant, 36, None),
            def("mk", Macro, 37, None),
            def("Alias", Type, 40, None),
            def("helper", Function, 41, None),
            def("tests", Module, 45, None),
        ];
        assert_eq!(f.defs, expected);
        let refs = [
            "HashMap", "Debug", "Draw", "Widget", "Shape", "new", "helper", "size", "println",
            "compute", "Vec",
        ];
        assert_eq!(f.refs, strs(&refs));
        let imports = vec![
            use_(&["std", "collections", "HashMap"]),
            use_(&["crate", "a", "b"]),
            use_(&["crate", "a", "c", "D"]),
            use_(&["crate", "a"]),
            use_(&["super", "*"]),
            Import::RustMod {
                name: "child".into(),
            },
            use_(&["self", "helper"]),
        ];
        assert_eq!(f.imports, imports);
    }

    #[test]
    fn rust_nested_use_trees() {
        let src = "use a::{b::{c, d::{e as f, *}}, g::h, self};\nmod m { mod n { use super::super::x; use self::y; } }\n";
        let f = parse("src/lib.rs", src);
        let imports = vec![
            use_(&["a", "b", "c"]),
            use_(&["a", "b", "d", "e"]),
            use_(&["a", "b", "d", "*"]),
            use_(&["a", "g", "h"]),
            use_(&["a"]),
            use_(&["self", "x"]),
            use_(&["self", "m", "n", "y"]),
        ];
        assert_eq!(f.imports, imports);
    }

    #[test]
    fn python_sample() {
        use DefKind::*;
        let f = parse("pkg/api.py", PY_SAMPLE);
        assert_eq!(f.lang, Some(Lang::Python));
        assert_eq!(
            f.doc.as_deref(),
            Some("Sample module.\n\nLonger description.")
        );
        assert!(!f.had_errors);
        let expected = vec![
            def("__all__", Constant, 11, None),
            def("MAX_SIZE", Constant, 12, None),
            def("Api", Class, 15, Some("An API.")),
            def("name", Method, 19, Some("Name of it.")),
            def("run", Method, 23, None),
            def("helper", Function, 27, None),
            def("inner", Function, 28, None),
        ];
        assert_eq!(f.defs, expected);
        let refs = [
            "Base", "Helper", "property", "str", "_name", "upper", "Config", "helper", "path",
            "join", "inner",
        ];
        assert_eq!(f.refs, strs(&refs));
        let py = |module: &str, level: u32, names: &[&str]| Import::Python {
            module: module.into(),
            level,
            names: strs(names),
        };
        let imports = vec![
            py("os.path", 0, &[]),
            py("json", 0, &[]),
            py("sys", 0, &[]),
            py("", 1, &["sibling"]),
            py("pkg.sub", 2, &["thing", "other"]),
            py("flask", 0, &["*"]),
        ];
        assert_eq!(f.imports, imports);
    }

    #[test]
    fn broken_code_keeps_readable_defs() {
        let rust = "/// Kept.\nfn good() {}\nstruct S { a: u32\nfn bad( {\n@@@ ### garbage\n";
        let f = parse("src/broken.rs", rust);
        assert!(f.had_errors);
        assert_eq!(
            f.defs.first(),
            Some(&def("good", DefKind::Function, 2, Some("Kept.")))
        );
        assert!(f.defs.iter().any(|d| d.name == "S"));
        let py = "def ok():\n    pass\n\nclass C(:\n    def m(self\n$$$ ???\n";
        let f = parse("broken.py", py);
        assert!(f.had_errors);
        assert_eq!(f.defs.first(), Some(&def("ok", DefKind::Function, 1, None)));
    }

    /// Runs `f` on a thread with a deliberately small stack.
    fn small_stack(f: impl FnOnce() + Send + 'static) {
        std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(f)
            .expect("spawn")
            .join()
            .expect("no panic or overflow");
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        small_stack(|| {
            let rust = format!(
                "fn f() {{ let x = {}; }}\nfn g() {{}}\n",
                "(".repeat(50_000)
            );
            let f = parse("src/deep.rs", &rust);
            assert!(f.had_errors);
            let py = format!("x = {}\ndef g():\n    pass\n", "(".repeat(50_000));
            let f = parse("deep.py", &py);
            assert!(f.had_errors);
            let closed = format!("x = {}1{}\n", "(".repeat(50_000), ")".repeat(50_000));
            let _ = parse("deep2.py", &closed);
            let closed = format!(
                "const X: u8 = {}1{};\n",
                "[".repeat(50_000),
                "]".repeat(50_000)
            );
            let _ = parse("src/deep2.rs", &closed);
        });
    }

    #[test]
    fn odd_inputs_are_sane() {
        for path in ["src/a.rs", "a.py", "README.md", "x.toml", "x.bin"] {
            let f = parse(path, "");
            assert_eq!(f.lang, Some(detect_lang(path)));
            assert!(f.defs.is_empty() && f.refs.is_empty() && f.imports.is_empty());
            assert_eq!(f.doc, None);
            assert!(!f.had_errors);
        }
        let bytes = b"fn a() {}\n\0\0\xff\xfe garbage \x00 fn b() {}\ndef c():\n\0 pass\n";
        let text = String::from_utf8_lossy(bytes).into_owned();
        for path in ["src/nul.rs", "nul.py"] {
            let f = parse(path, &text);
            assert!(f.had_errors, "{path}");
        }
        let f = parse("src/nul.rs", &text);
        assert_eq!(f.defs.first().map(|d| d.name.as_str()), Some("a"));
        let long_line = format!("X = \"{}\"\n", "é".repeat(100_000));
        let f = parse("long.py", &long_line);
        assert_eq!(f.defs.len(), 1);
    }

    #[test]
    fn non_grammar_files_get_doc_only() {
        let f = parse("docs/README.md", "# Title\n\nSome text\nhere.\n\n## Next\n");
        assert_eq!(f.lang, Some(Lang::Markdown));
        assert_eq!(f.doc.as_deref(), Some("Title\nSome text here."));
        assert!(f.defs.is_empty());
        let f = parse("Cargo.toml", "# Workspace manifest.\n[workspace]\n");
        assert_eq!(f.doc.as_deref(), Some("Workspace manifest."));
        let long_doc = format!("//! {}\nfn main() {{}}\n", "word ".repeat(200));
        let f = parse("src/main.rs", &long_doc);
        assert_eq!(f.doc.map(|d| d.chars().count()), Some(MAX_FILE_DOC_CHARS));
        let huge = format!(
            "//! Big.\n{}",
            "fn f() {}\n".repeat(MAX_PARSE_BYTES / 10 + 1)
        );
        let f = parse("src/huge.rs", &huge);
        assert_eq!(f.doc.as_deref(), Some("Big."));
        assert!(f.defs.is_empty() && !f.had_errors);
    }

    #[test]
    fn refs_are_capped() {
        let src: String = (0..3000).map(|i| format!("f{i}();\n")).collect();
        let f = parse("many.py", &src);
        assert_eq!(f.refs.len(), MAX_REFS);
        assert_eq!(f.refs[0], "f0");
    }
}
