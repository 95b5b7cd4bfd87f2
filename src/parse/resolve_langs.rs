//! Import resolution for the languages after Rust and Python, each by its
//! own convention: ES module specifiers (relative, with extension and
//! `index` rules, and tsconfig aliases), Go packages through `go.mod`,
//! Java and Kotlin names to paths, C and C++ includes against the including
//! file's directory and include roots, Ruby `require_relative` and
//! `lib/` requires, C# namespaces and Swift modules to directories, PHP
//! names to files by PSR-4's directory convention. What no rule finds is
//! left out.

use super::Import;
use super::manifest::normalize_join;
use super::resolve::{ModuleMap, file_name, join, parent};

/// At most this many files stand for one package, namespace or module
/// import (Go, C#, Swift, Java wildcards), in path order.
pub const MAX_PACKAGE_FILES: usize = 16;

/// Extensions an extensionless ES specifier may name, in the order tsc and
/// bundlers try them.
const ES_EXTENSIONS: &[&str] = &[
    "ts", "tsx", "d.ts", "js", "jsx", "mjs", "cjs", "mts", "cts", "vue", "svelte",
];

/// Extension of a path's file name (`""` when none).
fn extension(path: &str) -> &str {
    let name = file_name(path);
    name.rsplit_once('.').map_or("", |(_, e)| e)
}

/// File name without its (last) extension.
fn stem(path: &str) -> &str {
    let name = file_name(path);
    name.rsplit_once('.').map_or(name, |(s, _)| s)
}

impl ModuleMap {
    /// Indexes directories, directory names, stems and Swift modules.
    pub(super) fn index_paths(&mut self, paths: &[String]) {
        let mut sorted: Vec<&String> = paths.iter().collect();
        sorted.sort();
        for path in sorted {
            let dir = parent(path).to_string();
            self.by_dir.entry(dir).or_default().push(path.clone());
            self.by_stem
                .entry(stem(path).to_string())
                .or_default()
                .push(path.clone());
            if extension(path) == "swift"
                && let Some(module) = swift_module(path)
            {
                self.swift_modules
                    .entry(module.to_string())
                    .or_default()
                    .push(path.clone());
            }
        }
        for dir in self.by_dir.keys() {
            let mut d = dir.as_str();
            // Every ancestor too: a directory may hold only directories.
            while !d.is_empty() {
                let names = self
                    .dirs_by_name
                    .entry(file_name(d).to_string())
                    .or_default();
                if !names.iter().any(|n| n == d) {
                    names.push(d.to_string());
                }
                d = parent(d);
            }
        }
    }

    /// Files an import of a language other than Rust and Python refers to.
    pub(super) fn resolve_other(&self, from: &str, import: &Import) -> Vec<String> {
        match import {
            Import::EsModule { spec } => self.es_module(from, spec).into_iter().collect(),
            Import::GoPackage { path } => self.go_package(path),
            Import::Qualified { name, wildcard } => self.qualified(from, name, *wildcard),
            Import::Include { path, system } => {
                self.include(from, path, *system).into_iter().collect()
            }
            Import::Require { feature, relative } => {
                self.require(from, feature, *relative).into_iter().collect()
            }
            Import::Using { namespace } => self.namespace_dirs(namespace, "cs"),
            Import::PhpUse { name } => self.php_use(name),
            Import::SwiftImport { module } => self
                .swift_modules
                .get(module)
                .map(|files| files.iter().take(MAX_PACKAGE_FILES).cloned().collect())
                .unwrap_or_default(),
            Import::RustUse { .. } | Import::RustMod { .. } | Import::Python { .. } => Vec::new(),
        }
    }

    /// Files of directory `dir` with extension `ext` (all when `None`),
    /// at most [`MAX_PACKAGE_FILES`], leaving Go tests out.
    fn dir_files(&self, dir: &str, ext: &str) -> Vec<String> {
        self.by_dir
            .get(dir)
            .map(|files| {
                files
                    .iter()
                    .filter(|f| extension(f) == ext && !f.ends_with("_test.go"))
                    .take(MAX_PACKAGE_FILES)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Directories whose path is `suffix` or ends with `/suffix`.
    fn dirs_ending_with(&self, suffix: &str) -> Vec<&str> {
        let Some(candidates) = self.dirs_by_name.get(file_name(suffix)) else {
            return Vec::new();
        };
        let mut dirs: Vec<&str> = candidates
            .iter()
            .map(String::as_str)
            .filter(|d| *d == suffix || d.ends_with(&format!("/{suffix}")))
            .collect();
        dirs.sort_unstable();
        dirs
    }

    // ------------------------------------------------------------ ES modules

    fn es_module(&self, from: &str, spec: &str) -> Option<String> {
        if spec.starts_with("./") || spec.starts_with("../") || spec == "." || spec == ".." {
            return self.es_file(&normalize_join(parent(from), spec)?);
        }
        if spec.starts_with('/') || spec.contains(':') {
            return None;
        }
        let aliases = self.manifests.ts_aliases(parent(from))?;
        for (pattern, targets) in &aliases.paths {
            let Some(captured) = match_alias(pattern, spec) else {
                continue;
            };
            for target in targets {
                let path = target.replacen('*', captured, 1);
                if let Some(found) = normalize_join("", &path).and_then(|p| self.es_file(&p)) {
                    return Some(found);
                }
            }
        }
        let base = aliases.base_url.as_deref()?;
        self.es_file(&normalize_join(base, spec)?)
    }

    /// The file an ES path names: itself, a TypeScript source for a `.js`
    /// specifier (ESM style), the path with an extension, or its `index`.
    fn es_file(&self, base: &str) -> Option<String> {
        if base.is_empty() {
            return self.es_index("");
        }
        if self.files.contains(base) {
            return Some(base.to_string());
        }
        if let Some(stripped) = ["js", "jsx", "mjs", "cjs"]
            .iter()
            .find_map(|e| base.strip_suffix(&format!(".{e}")))
            && let Some(found) = ["ts", "tsx", "mts", "cts"]
                .iter()
                .map(|e| format!("{stripped}.{e}"))
                .find(|p| self.files.contains(p))
        {
            return Some(found);
        }
        ES_EXTENSIONS
            .iter()
            .map(|e| format!("{base}.{e}"))
            .find(|p| self.files.contains(p))
            .or_else(|| self.es_index(base))
    }

    fn es_index(&self, dir: &str) -> Option<String> {
        ES_EXTENSIONS
            .iter()
            .map(|e| join(dir, &format!("index.{e}")))
            .find(|p| self.files.contains(p))
    }

    // -------------------------------------------------------------------- Go

    /// The package directory of an import path under the `go.mod` whose
    /// module path is its longest prefix.
    fn go_package(&self, path: &str) -> Vec<String> {
        let best = self
            .manifests
            .go_modules
            .iter()
            .filter_map(|(module, dir)| {
                let rest = path.strip_prefix(module.as_str())?;
                (rest.is_empty() || rest.starts_with('/'))
                    .then(|| (module.len(), join(dir, rest.trim_start_matches('/'))))
            })
            .max_by_key(|(len, _)| *len);
        best.map(|(_, dir)| self.dir_files(&dir, "go"))
            .unwrap_or_default()
    }

    // --------------------------------------------------------- Java, Kotlin

    /// `a.b.C` → the `C.java` or `C.kt` under a path ending `a/b`; a
    /// member import (`a.b.C.m`) → `C`'s file; a Kotlin top-level import
    /// or a wildcard → the files of the package directory.
    fn qualified(&self, from: &str, name: &str, wildcard: bool) -> Vec<String> {
        let segs: Vec<&str> = name.split('.').filter(|s| !s.is_empty()).collect();
        let ext = match extension(from) {
            "kt" | "kts" => "kt",
            _ => "java",
        };
        if wildcard {
            return self.package_files(&segs.join("/"), ext);
        }
        for k in (1..=segs.len()).rev().take(2) {
            let found = self.class_files(&segs[..k]);
            if !found.is_empty() {
                return found;
            }
        }
        match segs.split_last() {
            Some((_, package)) if ext == "kt" && !package.is_empty() => {
                self.package_files(&package.join("/"), "kt")
            }
            _ => Vec::new(),
        }
    }

    /// `.java`/`.kt` files named `segs[last]` under a path ending with the
    /// other segments.
    fn class_files(&self, segs: &[&str]) -> Vec<String> {
        let Some((class, _)) = segs.split_last() else {
            return Vec::new();
        };
        let tail = segs.join("/");
        self.by_stem
            .get(*class)
            .map(|files| {
                files
                    .iter()
                    .filter(|f| matches!(extension(f), "java" | "kt"))
                    .filter(|f| {
                        let no_ext = &f[..f.len() - extension(f).len() - 1];
                        no_ext == tail || no_ext.ends_with(&format!("/{tail}"))
                    })
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    fn package_files(&self, dir_suffix: &str, ext: &str) -> Vec<String> {
        let mut out = Vec::new();
        for dir in self.dirs_ending_with(dir_suffix) {
            out.extend(self.dir_files(dir, ext));
        }
        out.truncate(MAX_PACKAGE_FILES);
        out
    }

    // ------------------------------------------------------------- C, C++

    /// `#include "p"`: the including file's directory, then `include/`,
    /// `src/` and the directory itself at each ancestor up to the root;
    /// `#include <p>`: only the `include/` directories.
    fn include(&self, from: &str, path: &str, system: bool) -> Option<String> {
        let here = parent(from);
        if !system
            && let Some(found) = normalize_join(here, path).filter(|p| self.files.contains(p))
        {
            return Some(found);
        }
        let mut dir = here;
        loop {
            let roots: &[&str] = if system {
                &["include"]
            } else {
                &["include", "src", ""]
            };
            for root in roots {
                if let Some(found) =
                    normalize_join(&join(dir, root), path).filter(|p| self.files.contains(p))
                {
                    return Some(found);
                }
            }
            if dir.is_empty() {
                return None;
            }
            dir = parent(dir);
        }
    }

    // ------------------------------------------------------------------ Ruby

    /// `require_relative "p"` from the file's directory; `require "a/b"`
    /// as `lib/a/b.rb` at the root or under any directory's `lib/`.
    fn require(&self, from: &str, feature: &str, relative: bool) -> Option<String> {
        let with_ext = if feature.ends_with(".rb") {
            feature.to_string()
        } else {
            format!("{feature}.rb")
        };
        if relative {
            return normalize_join(parent(from), &with_ext).filter(|p| self.files.contains(p));
        }
        let at_root = format!("lib/{with_ext}");
        if self.files.contains(&at_root) {
            return Some(at_root);
        }
        let suffix = format!("/lib/{with_ext}");
        self.by_stem
            .get(stem(&with_ext))?
            .iter()
            .filter(|f| f.ends_with(&suffix))
            .min_by_key(|f| f.len())
            .cloned()
    }

    // ------------------------------------------------------- C#, namespaces

    /// The files of the directories a namespace maps to by convention: its
    /// segments as nested directories (`Acme/Core/Models`), or a project
    /// directory named by a dotted prefix holding the rest
    /// (`Acme.Core/Models`).
    fn namespace_dirs(&self, namespace: &str, ext: &str) -> Vec<String> {
        let segs: Vec<&str> = namespace.split('.').filter(|s| !s.is_empty()).collect();
        let mut out: Vec<String> = Vec::new();
        for k in 1..=segs.len() {
            let suffix = join(&segs[..k].join("."), &segs[k..].join("/"));
            for dir in self.dirs_ending_with(&suffix) {
                for f in self.dir_files(dir, ext) {
                    if !out.contains(&f) {
                        out.push(f);
                    }
                }
            }
        }
        out.truncate(MAX_PACKAGE_FILES);
        out
    }

    // ------------------------------------------------------------------- PHP

    /// `App\Models\User` → a `User.php` whose directories end with the
    /// namespace's segments after its vendor prefix (`.../Models/User.php`,
    /// case-insensitively, as PSR-4 maps `App\` to `src/` or `app/`); the
    /// ones matching the most segments.
    fn php_use(&self, name: &str) -> Vec<String> {
        let written: Vec<&str> = name.split('\\').filter(|s| !s.is_empty()).collect();
        let Some((class, namespace)) = written.split_last() else {
            return Vec::new();
        };
        let namespace: Vec<String> = namespace.iter().map(|s| s.to_ascii_lowercase()).collect();
        let Some(files) = self.by_stem.get(*class) else {
            return Vec::new();
        };
        let matched = |f: &str| -> Option<usize> {
            let dirs: Vec<String> = parent(f)
                .split('/')
                .filter(|s| !s.is_empty())
                .map(str::to_ascii_lowercase)
                .collect();
            let shared = dirs
                .iter()
                .rev()
                .zip(namespace.iter().rev())
                .take_while(|(a, b)| a == b)
                .count();
            (shared + 1 >= namespace.len() || shared == dirs.len()).then_some(shared)
        };
        let scored: Vec<(usize, &String)> = files
            .iter()
            .filter(|f| extension(f) == "php")
            .filter_map(|f| matched(f).map(|s| (s, f)))
            .collect();
        let best = scored.iter().map(|(s, _)| *s).max().unwrap_or(0);
        scored
            .into_iter()
            .filter(|(s, _)| *s == best)
            .map(|(_, f)| f.clone())
            .collect()
    }
}

/// What `*` stands for when `spec` matches a tsconfig `paths` pattern
/// (`""` for a pattern without `*` that equals `spec`).
fn match_alias<'s>(pattern: &str, spec: &'s str) -> Option<&'s str> {
    match pattern.split_once('*') {
        Some((prefix, suffix)) => spec
            .strip_prefix(prefix)?
            .strip_suffix(suffix)
            .filter(|_| spec.len() >= prefix.len() + suffix.len()),
        None => (pattern == spec).then_some(""),
    }
}

/// The SwiftPM module of a file: the directory right under `Sources/`.
fn swift_module(path: &str) -> Option<&str> {
    let mut segs = path.split('/');
    segs.by_ref().find(|s| *s == "Sources")?;
    let module = segs.next()?;
    // A file directly in `Sources/` belongs to no module.
    segs.next().map(|_| module)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_patterns() {
        assert_eq!(match_alias("@lib/*", "@lib/config"), Some("config"));
        assert_eq!(match_alias("@lib/*", "@other/x"), None);
        assert_eq!(match_alias("*.js", "a.js"), Some("a"));
        assert_eq!(match_alias("config", "config"), Some(""));
        assert_eq!(match_alias("a*a", "a"), None);
    }

    #[test]
    fn swift_modules_are_directories_under_sources() {
        assert_eq!(swift_module("Sources/Core/Store.swift"), Some("Core"));
        assert_eq!(swift_module("pkg/Sources/App/ui/V.swift"), Some("App"));
        assert_eq!(swift_module("Sources/main.swift"), None);
        assert_eq!(swift_module("Tests/CoreTests/T.swift"), None);
    }
}
