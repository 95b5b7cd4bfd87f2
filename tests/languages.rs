//! Facts per language: every fixture tree under `tests/data/langs/<lang>/`
//! is parsed file by file and its imports resolved against the tree (with
//! its `go.mod`, `tsconfig.json`, ...), and what came out is compared,
//! exactly, with `tests/data/langs/<lang>.facts`: each definition's kind,
//! name, line and doc, the references, the decoded imports, the files they
//! resolve to (unresolvable ones are absent) and whether the tree had
//! errors. Each tree has a broken file too.
//!
//! After a deliberate change, `SWE_SLEEP_BLESS=1 cargo test --test
//! languages` rewrites the `.facts` files; the diff is then the review.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use swe_sleep::parse::{Import, Lang, Manifests, ModuleMap, parse};

fn langs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/langs")
}

/// Every file under `dir`, as sorted '/'-separated relative paths.
fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("fixture directory is readable") {
            let path = entry.expect("fixture entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).expect("under the fixture");
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out.sort();
    out
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn import_text(import: &Import) -> String {
    match import {
        Import::EsModule { spec } => format!("es {spec}"),
        Import::GoPackage { path } => format!("go {path}"),
        Import::Qualified { name, wildcard } => {
            format!("qualified {name}{}", if *wildcard { ".*" } else { "" })
        }
        Import::Include { path, system } => {
            format!(
                "include {}",
                if *system {
                    format!("<{path}>")
                } else {
                    format!("\"{path}\"")
                }
            )
        }
        Import::Require { feature, relative } => {
            format!(
                "{} {feature}",
                if *relative {
                    "require_relative"
                } else {
                    "require"
                }
            )
        }
        Import::Using { namespace } => format!("using {namespace}"),
        Import::PhpUse { name } => format!("use {name}"),
        Import::SwiftImport { module } => format!("import {module}"),
        other => format!("{other:?}"),
    }
}

/// What the fixture tree of one language gives, as text.
fn render(lang_dir: &Path) -> String {
    let paths = files(lang_dir);
    let mut manifests = Manifests::default();
    for p in paths.iter().filter(|p| Manifests::is_manifest(p)) {
        manifests.add(p, &read(&lang_dir.join(p)));
    }
    let modules = ModuleMap::new(&paths, &manifests);
    let mut out = String::new();
    for p in &paths {
        let facts = parse(p, &read(&lang_dir.join(p)));
        let lang = facts.lang.unwrap_or(Lang::Other);
        if !lang.has_grammar() {
            continue;
        }
        let w = &mut out;
        writeln!(
            w,
            "== {p} [{}]{}",
            lang.as_str(),
            if facts.had_errors { " had errors" } else { "" }
        )
        .unwrap();
        if let Some(doc) = &facts.doc {
            writeln!(w, "doc: {doc}").unwrap();
        }
        for d in &facts.defs {
            let kind = format!("{:?}", d.kind).to_lowercase();
            write!(w, "def {kind} {} :{}", d.name, d.line).unwrap();
            if let Some(doc) = &d.doc {
                write!(w, " -- {doc}").unwrap();
            }
            writeln!(w).unwrap();
        }
        if !facts.refs.is_empty() {
            writeln!(w, "refs: {}", facts.refs.join(" ")).unwrap();
        }
        for import in &facts.imports {
            writeln!(w, "import {}", import_text(import)).unwrap();
        }
        for target in modules.resolve(p, &facts.imports) {
            writeln!(w, "-> {target}").unwrap();
        }
    }
    out
}

fn check(lang: &str) {
    let dir = langs_dir().join(lang);
    let actual = render(&dir);
    let expected_path = langs_dir().join(format!("{lang}.facts"));
    if std::env::var_os("SWE_SLEEP_BLESS").is_some() {
        std::fs::write(&expected_path, &actual).expect("write the blessed facts");
        return;
    }
    let expected = read(&expected_path);
    if actual != expected {
        let first = actual
            .lines()
            .zip(expected.lines())
            .position(|(a, e)| a != e)
            .unwrap_or(actual.lines().count().min(expected.lines().count()));
        panic!(
            "{lang}: facts differ from {} at line {}\n--- actual ---\n{actual}",
            expected_path.display(),
            first + 1
        );
    }
}

/// Every fixture tree has its expectations, and each has a broken file
/// whose readable part is still read.
#[test]
fn every_language_has_fixtures_with_broken_code() {
    let mut langs: Vec<String> = std::fs::read_dir(langs_dir())
        .expect("langs dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    langs.sort();
    assert_eq!(
        langs,
        [
            "c",
            "cpp",
            "csharp",
            "go",
            "java",
            "javascript",
            "kotlin",
            "php",
            "ruby",
            "swift",
            "typescript"
        ]
    );
    for lang in &langs {
        let rendered = render(&langs_dir().join(lang));
        let broken: Vec<&str> = rendered
            .split("== ")
            .filter(|section| {
                section
                    .lines()
                    .next()
                    .is_some_and(|l| l.ends_with("had errors"))
            })
            .collect();
        assert_eq!(broken.len(), 1, "{lang}: one broken file");
        assert!(
            broken[0].lines().any(|l| l.starts_with("def ")),
            "{lang}: the broken file's good part is read"
        );
    }
}

#[test]
fn typescript_and_tsx() {
    check("typescript");
}

#[test]
fn javascript() {
    check("javascript");
}

#[test]
fn go() {
    check("go");
}

#[test]
fn java() {
    check("java");
}

#[test]
fn kotlin() {
    check("kotlin");
}

#[test]
fn c() {
    check("c");
}

#[test]
fn cpp() {
    check("cpp");
}

#[test]
fn csharp() {
    check("csharp");
}

#[test]
fn ruby() {
    check("ruby");
}

#[test]
fn php() {
    check("php");
}

#[test]
fn swift() {
    check("swift");
}

/// A pathological file of every grammar stays within the parse budget and
/// never fails: deep nesting, NUL bytes, a huge line.
#[test]
fn pathological_inputs_never_fail() {
    let cases = [
        ("a.ts", "let x = "),
        ("a.js", "f("),
        ("a.go", "var x = "),
        ("A.java", "int x = "),
        ("a.kt", "val x = "),
        ("a.c", "int x = "),
        ("a.cpp", "int x = "),
        ("a.cs", "var x = "),
        ("a.rb", "x = "),
        ("a.php", "<?php $x = "),
        ("a.swift", "let x = "),
        ("a.tsx", "<a>"),
    ];
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            for (path, head) in cases {
                let deep = format!("{head}{}\n", "(".repeat(50_000));
                let f = parse(path, &deep);
                assert!(f.had_errors, "{path}");
                let nul = format!("{head}1;\n\0\0\u{fffd} garbage\n");
                assert!(parse(path, &nul).had_errors, "{path}");
                let _ = parse(path, &format!("{head}\"{}\";\n", "é".repeat(200_000)));
            }
        })
        .expect("spawn")
        .join()
        .expect("no panic or stack overflow");
}
