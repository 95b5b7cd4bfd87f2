//! Import resolution: which files of one repository snapshot the
//! [`Import`]s of a file refer to. Only in-repository targets are returned;
//! std, third-party crates and packages resolve to nothing. Rust and Python
//! are resolved here, the other languages in `resolve_langs.rs`.

use super::{Import, Manifests};
use std::collections::{HashMap, HashSet};

/// What import resolution needs to know about one snapshot of the repository.
#[derive(Debug, Clone, Default)]
pub struct ModuleMap {
    pub(super) files: HashSet<String>,
    /// Directory → its files, in path order.
    pub(super) by_dir: HashMap<String, Vec<String>>,
    /// Last segment of a directory → the directories ending with it.
    pub(super) dirs_by_name: HashMap<String, Vec<String>>,
    /// File name without its extension → the files of that stem.
    pub(super) by_stem: HashMap<String, Vec<String>>,
    /// Swift module (a directory under `Sources/`) → its files.
    pub(super) swift_modules: HashMap<String, Vec<String>>,
    pub(super) manifests: Manifests,
    /// Rust crate name (with `_`) → its `src` directory.
    crates: HashMap<String, String>,
    /// Python dotted module name → files defining it.
    py_modules: HashMap<String, Vec<String>>,
    /// Every dotted path suffix of at least two segments of every Python
    /// file (`src/pkg/a.py` → `pkg.a`, `src.pkg.a`), for namespace packages.
    py_suffixes: HashMap<String, Vec<String>>,
}

/// Directory part of a '/'-separated path ("" at the root).
pub(super) fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(d, _)| d)
}

pub(super) fn file_name(path: &str) -> &str {
    path.rsplit_once('/').map_or(path, |(_, f)| f)
}

pub(super) fn join(dir: &str, rest: &str) -> String {
    if dir.is_empty() {
        rest.to_string()
    } else if rest.is_empty() {
        dir.to_string()
    } else {
        format!("{dir}/{rest}")
    }
}

impl ModuleMap {
    /// `paths`: every file path in the snapshot ('/'-separated, relative to
    /// the repo root). `manifests`: what the snapshot's `Cargo.toml`,
    /// `go.mod` and tsconfig files say.
    pub fn new(paths: &[String], manifests: &Manifests) -> ModuleMap {
        let files: HashSet<String> = paths.iter().cloned().collect();
        let crates = manifests
            .rust_crates
            .iter()
            .map(|(name, root)| (name.clone(), join(root, "src")))
            .collect();
        let packages: HashSet<&str> = paths
            .iter()
            .filter(|p| file_name(p) == "__init__.py")
            .map(|p| parent(p))
            .filter(|d| !d.is_empty())
            .collect();
        let mut py_modules: HashMap<String, Vec<String>> = HashMap::new();
        let mut py_suffixes: HashMap<String, Vec<String>> = HashMap::new();
        for path in paths {
            let Some(stem) = path
                .strip_suffix(".py")
                .or_else(|| path.strip_suffix(".pyi"))
            else {
                continue;
            };
            let mut dir = parent(path);
            let mut parts: Vec<&str> = Vec::new();
            let base = file_name(stem);
            if base != "__init__" {
                parts.push(base);
            }
            while !dir.is_empty() && packages.contains(dir) {
                parts.push(file_name(dir));
                dir = parent(dir);
            }
            if !parts.is_empty() {
                parts.reverse();
                py_modules
                    .entry(parts.join("."))
                    .or_default()
                    .push(path.clone());
            }
            let segs: Vec<&str> = stem.split('/').filter(|s| *s != "__init__").collect();
            for start in 0..segs.len().saturating_sub(1) {
                let key = segs[start..].join(".");
                py_suffixes.entry(key).or_default().push(path.clone());
            }
        }
        let mut map = ModuleMap {
            files,
            crates,
            py_modules,
            py_suffixes,
            manifests: manifests.clone(),
            ..ModuleMap::default()
        };
        map.index_paths(paths);
        map
    }

    /// Files (existing in `paths`) that `imports` of file `from` refer to,
    /// deduplicated, never `from` itself.
    pub fn resolve(&self, from: &str, imports: &[Import]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for import in imports {
            let found = match import {
                Import::RustMod { name } => self.rust_mod(from, name).into_iter().collect(),
                Import::RustUse { path } => self.rust_use(from, path).into_iter().collect(),
                Import::Python {
                    module,
                    level,
                    names,
                } => self.python(from, module, *level, names),
                other => self.resolve_other(from, other),
            };
            for f in found {
                if f != from && !out.contains(&f) {
                    out.push(f);
                }
            }
        }
        out
    }

    fn exists(&self, path: &str) -> Option<String> {
        self.files.contains(path).then(|| path.to_string())
    }

    /// Directory holding the child modules of the Rust file `from`.
    fn rust_children_dir(from: &str) -> String {
        let dir = parent(from);
        match file_name(from) {
            "lib.rs" | "main.rs" | "mod.rs" => dir.to_string(),
            f => join(dir, f.strip_suffix(".rs").unwrap_or(f)),
        }
    }

    /// `dir/name.rs` or `dir/name/mod.rs`.
    fn rust_module_file(&self, dir: &str, name: &str) -> Option<String> {
        self.exists(&join(dir, &format!("{name}.rs")))
            .or_else(|| self.exists(&join(dir, &format!("{name}/mod.rs"))))
    }

    fn rust_mod(&self, from: &str, name: &str) -> Option<String> {
        self.rust_module_file(&Self::rust_children_dir(from), name)
    }

    /// Nearest ancestor directory of `from` holding `lib.rs` or `main.rs`.
    fn rust_crate_root(&self, from: &str) -> Option<String> {
        let mut dir = parent(from);
        loop {
            if self.files.contains(&join(dir, "lib.rs"))
                || self.files.contains(&join(dir, "main.rs"))
            {
                return Some(dir.to_string());
            }
            if dir.is_empty() {
                return None;
            }
            dir = parent(dir);
        }
    }

    /// Longest prefix of `segs` naming a module file under `dir`.
    fn rust_longest(&self, dir: &str, segs: &[String]) -> Option<String> {
        (1..=segs.len()).rev().find_map(|k| {
            let (last, init) = segs[..k].split_last()?;
            self.rust_module_file(&join(dir, &init.join("/")), last)
        })
    }

    fn rust_use(&self, from: &str, path: &[String]) -> Option<String> {
        let mut segs: Vec<String> = path.to_vec();
        while segs.last().is_some_and(|s| s == "*" || s == "self") {
            segs.pop();
        }
        let first = segs.first()?.as_str();
        match first {
            "crate" => self.rust_longest(&self.rust_crate_root(from)?, &segs[1..]),
            "self" | "super" => {
                let mut dir = Self::rust_children_dir(from);
                let supers = segs.iter().take_while(|s| *s == "super").count();
                let rest = if first == "self" {
                    &segs[1..]
                } else {
                    &segs[supers..]
                };
                for _ in 0..supers {
                    if dir.is_empty() {
                        return None;
                    }
                    dir = parent(&dir).to_string();
                }
                if let Some(found) = self.rust_longest(&dir, rest) {
                    return Some(found);
                }
                // The module itself, unless it is the crate root.
                if dir.is_empty() || self.rust_crate_root(from).as_deref() == Some(dir.as_str()) {
                    return None;
                }
                self.rust_module_file(parent(&dir), file_name(&dir))
            }
            name => {
                if let Some(src) = self.crates.get(name) {
                    return self.rust_longest(src, &segs[1..]);
                }
                // A child module used without `self::` (2018 paths).
                let dir = Self::rust_children_dir(from);
                self.rust_module_file(&dir, name)?;
                self.rust_longest(&dir, &segs)
            }
        }
    }

    /// Files defining the dotted Python module `module`; when several do,
    /// those sharing the longest directory prefix with `from`.
    fn py_lookup(&self, from: &str, module: &str) -> Vec<String> {
        let cands = self.py_modules.get(module).or_else(|| {
            module
                .contains('.')
                .then(|| self.py_suffixes.get(module))
                .flatten()
        });
        let Some(cands) = cands else {
            return Vec::new();
        };
        let shared = |p: &str| {
            p.split('/')
                .zip(from.split('/'))
                .take_while(|(a, b)| a == b)
                .count()
        };
        let best = cands.iter().map(|c| shared(c)).max().unwrap_or(0);
        cands
            .iter()
            .filter(|c| shared(c) == best)
            .cloned()
            .collect()
    }

    /// Longest dotted prefix of `module` that names a file.
    fn py_longest(&self, from: &str, module: &str) -> Vec<String> {
        let segs: Vec<&str> = module.split('.').filter(|s| !s.is_empty()).collect();
        (1..=segs.len())
            .rev()
            .map(|k| self.py_lookup(from, &segs[..k].join(".")))
            .find(|v| !v.is_empty())
            .unwrap_or_default()
    }

    /// `dir/rel.py`, `dir/rel/__init__.py` or `dir/rel.pyi`.
    fn py_file(&self, dir: &str, rel: &str) -> Option<String> {
        if rel.is_empty() {
            return self.exists(&join(dir, "__init__.py"));
        }
        self.exists(&join(dir, &format!("{rel}.py")))
            .or_else(|| self.exists(&join(dir, &format!("{rel}/__init__.py"))))
            .or_else(|| self.exists(&join(dir, &format!("{rel}.pyi"))))
    }

    fn python(&self, from: &str, module: &str, level: u32, names: &[String]) -> Vec<String> {
        let mut out = Vec::new();
        if level == 0 {
            let mut need_module = names.is_empty();
            for name in names {
                let sub = if name == "*" {
                    Vec::new()
                } else {
                    self.py_lookup(from, &format!("{module}.{name}"))
                };
                need_module |= sub.is_empty();
                out.extend(sub);
            }
            if need_module {
                out.extend(self.py_longest(from, module));
            }
            return out;
        }
        let mut dir = parent(from).to_string();
        for _ in 1..level {
            if dir.is_empty() {
                return out;
            }
            dir = parent(&dir).to_string();
        }
        let rel = module.replace('.', "/");
        let mut need_module = names.is_empty();
        for name in names {
            let sub = (name != "*")
                .then(|| self.py_file(&join(&dir, &rel), name))
                .flatten();
            need_module |= sub.is_none();
            out.extend(sub);
        }
        if need_module {
            out.extend(self.py_file(&dir, &rel));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(paths: &[&str], crates: &[(&str, &str)]) -> ModuleMap {
        let paths: Vec<String> = paths.iter().map(|s| s.to_string()).collect();
        let crates: Vec<(String, String)> = crates
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        let mut manifests = Manifests::default();
        for (name, dir) in crates {
            manifests.add_rust_crate(&name, &dir);
        }
        ModuleMap::new(&paths, &manifests)
    }

    fn use_(path: &[&str]) -> Import {
        Import::RustUse {
            path: path.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn md(name: &str) -> Import {
        Import::RustMod { name: name.into() }
    }

    fn py(module: &str, level: u32, names: &[&str]) -> Import {
        Import::Python {
            module: module.into(),
            level,
            names: names.iter().map(|s| s.to_string()).collect(),
        }
    }

    const RUST_TREE: &[&str] = &[
        "Cargo.toml",
        "src/lib.rs",
        "src/a.rs",
        "src/a/b.rs",
        "src/a/b/deep.rs",
        "src/c/mod.rs",
        "src/c/d.rs",
        "helix-core/src/lib.rs",
        "helix-core/src/rope.rs",
        "helix-core/tests/it.rs",
    ];

    #[test]
    fn rust_mod_declarations() {
        let m = map(RUST_TREE, &[]);
        assert_eq!(
            m.resolve("src/lib.rs", &[md("a"), md("c"), md("zz")]),
            ["src/a.rs", "src/c/mod.rs"]
        );
        assert_eq!(m.resolve("src/a.rs", &[md("b")]), ["src/a/b.rs"]);
        assert_eq!(m.resolve("src/a/b.rs", &[md("deep")]), ["src/a/b/deep.rs"]);
        assert_eq!(m.resolve("src/c/mod.rs", &[md("d")]), ["src/c/d.rs"]);
    }

    #[test]
    fn rust_use_crate_self_super() {
        let m = map(RUST_TREE, &[]);
        let from = "src/c/d.rs";
        let imports = [
            use_(&["crate", "a", "b", "Thing"]),
            use_(&["crate", "a", "b", "deep", "f"]),
            use_(&["crate", "a", "Item"]),
            use_(&["crate", "Root"]),
            use_(&["super", "Shared"]),
            use_(&["std", "fmt"]),
            use_(&["self", "Local"]),
        ];
        assert_eq!(
            m.resolve(from, &imports),
            ["src/a/b.rs", "src/a/b/deep.rs", "src/a.rs", "src/c/mod.rs"]
        );
        // `super` of a file directly under the crate root is the crate root:
        // nothing; `super::a` from there is a sibling module.
        assert!(m.resolve("src/a.rs", &[use_(&["super", "X"])]).is_empty());
        assert_eq!(
            m.resolve("src/c/mod.rs", &[use_(&["super", "a", "*"])]),
            ["src/a.rs"]
        );
        assert_eq!(
            m.resolve("src/a/b/deep.rs", &[use_(&["super", "super", "X"])]),
            ["src/a.rs"]
        );
        // 2018 path to a child module without `self::`.
        assert_eq!(
            m.resolve("src/lib.rs", &[use_(&["c", "d", "X"])]),
            ["src/c/d.rs"]
        );
        // Never the file itself.
        assert!(
            m.resolve("src/a.rs", &[use_(&["crate", "a", "X"])])
                .is_empty()
        );
    }

    #[test]
    fn rust_workspace_crates() {
        let m = map(RUST_TREE, &[("helix_core", "helix-core"), ("root", ".")]);
        let imports = [
            use_(&["helix_core", "rope", "Rope"]),
            use_(&["helix_core", "Tendril"]),
        ];
        assert_eq!(m.resolve("src/a.rs", &imports), ["helix-core/src/rope.rs"]);
        assert_eq!(
            m.resolve("helix-core/tests/it.rs", &[use_(&["root", "c", "d"])]),
            ["src/c/d.rs"]
        );
        assert_eq!(
            m.resolve(
                "helix-core/src/lib.rs",
                &[use_(&["crate", "rope"]), md("rope")]
            ),
            ["helix-core/src/rope.rs"]
        );
        let dashed = map(RUST_TREE, &[("helix-core", "helix-core")]);
        assert_eq!(
            dashed.resolve("src/a.rs", &imports[..1]),
            ["helix-core/src/rope.rs"]
        );
    }

    const PY_TREE: &[&str] = &[
        "setup.py",
        "src/flask/__init__.py",
        "src/flask/app.py",
        "src/flask/json/__init__.py",
        "src/flask/json/provider.py",
        "src/flask/sansio/scaffold.py",
        "src/flask/sansio/__init__.py",
        "tests/conftest.py",
        "tests/test_app.py",
        "scripts/util.py",
        "scripts/run.py",
        "ns/pkg/mod.py",
    ];

    #[test]
    fn python_absolute_imports() {
        let m = map(PY_TREE, &[]);
        let imports = [
            py("flask.app", 0, &[]),
            py("flask.json.provider.Thing", 0, &[]),
            py("os.path", 0, &[]),
            py("setup", 0, &[]),
        ];
        assert_eq!(
            m.resolve("tests/test_app.py", &imports),
            ["src/flask/app.py", "src/flask/json/provider.py", "setup.py"]
        );
        assert_eq!(
            m.resolve("tests/test_app.py", &[py("conftest", 0, &[])]),
            ["tests/conftest.py"]
        );
        assert_eq!(
            m.resolve("scripts/run.py", &[py("util", 0, &[])]),
            ["scripts/util.py"]
        );
        assert_eq!(
            m.resolve("x.py", &[py("ns.pkg.mod", 0, &[])]),
            ["ns/pkg/mod.py"]
        );
    }

    #[test]
    fn python_from_imports() {
        let m = map(PY_TREE, &[]);
        let imports = [
            py("flask", 0, &["json", "Flask"]),
            py("flask.sansio", 0, &["scaffold"]),
            py("flask", 0, &["*"]),
            py("requests", 0, &["get"]),
        ];
        assert_eq!(
            m.resolve("tests/test_app.py", &imports),
            [
                "src/flask/json/__init__.py",
                "src/flask/__init__.py",
                "src/flask/sansio/scaffold.py"
            ]
        );
    }

    #[test]
    fn python_relative_imports() {
        let m = map(PY_TREE, &[]);
        let from = "src/flask/sansio/scaffold.py";
        let imports = [
            py("", 2, &["app", "helpers"]),
            py("json.provider", 2, &["DefaultJSONProvider"]),
            py("", 1, &["scaffold"]),
            py("", 5, &["x"]),
        ];
        assert_eq!(
            m.resolve(from, &imports),
            [
                "src/flask/app.py",
                "src/flask/__init__.py",
                "src/flask/json/provider.py"
            ]
        );
        assert_eq!(
            m.resolve("src/flask/json/provider.py", &[py("", 1, &["x"])]),
            ["src/flask/json/__init__.py"]
        );
    }
}
