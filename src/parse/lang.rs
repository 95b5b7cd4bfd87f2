//! Language detection: which [`Lang`] a repository path holds, and the
//! tree-sitter grammar plus bundled tag query for the languages that have one.

use serde::{Deserialize, Serialize};

/// Languages the indexer distinguishes. Those with a grammar
/// ([`Lang::has_grammar`]) get definitions, references and imports; the
/// others get lexical treatment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Lang {
    Rust,
    Python,
    Markdown,
    Toml,
    Yaml,
    Json,
    /// JavaScript, with JSX.
    JavaScript,
    TypeScript,
    /// TypeScript with JSX (`.tsx`), parsed with the TSX grammar.
    Tsx,
    Shell,
    /// C sources (`.c`); headers are [`Lang::Cpp`] unless they read as C.
    C,
    Cpp,
    Go,
    Java,
    Kotlin,
    CSharp,
    Ruby,
    Php,
    Swift,
    Other,
}

/// Every [`Lang`], in declaration order.
pub const ALL_LANGS: [Lang; 20] = [
    Lang::Rust,
    Lang::Python,
    Lang::Markdown,
    Lang::Toml,
    Lang::Yaml,
    Lang::Json,
    Lang::JavaScript,
    Lang::TypeScript,
    Lang::Tsx,
    Lang::Shell,
    Lang::C,
    Lang::Cpp,
    Lang::Go,
    Lang::Java,
    Lang::Kotlin,
    Lang::CSharp,
    Lang::Ruby,
    Lang::Php,
    Lang::Swift,
    Lang::Other,
];

impl Lang {
    /// Stable lower-case name (`"rust"`, `"python"`, `"javascript"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Python => "python",
            Lang::Markdown => "markdown",
            Lang::Toml => "toml",
            Lang::Yaml => "yaml",
            Lang::Json => "json",
            Lang::JavaScript => "javascript",
            Lang::TypeScript => "typescript",
            Lang::Tsx => "tsx",
            Lang::Shell => "shell",
            Lang::C => "c",
            Lang::Cpp => "cpp",
            Lang::Go => "go",
            Lang::Java => "java",
            Lang::Kotlin => "kotlin",
            Lang::CSharp => "csharp",
            Lang::Ruby => "ruby",
            Lang::Php => "php",
            Lang::Swift => "swift",
            Lang::Other => "other",
        }
    }

    /// Inverse of [`Lang::as_str`], case-insensitive, also accepting common
    /// aliases (`rs`, `py`, `md`, `yml`, `js`, `ts`, `sh`, `bash`, `c++`,
    /// `cs`, `rb`, `kt`...). Unknown names give [`Lang::Other`].
    pub fn from_str_lossy(s: &str) -> Lang {
        match s.trim().to_ascii_lowercase().as_str() {
            "rust" | "rs" => Lang::Rust,
            "python" | "py" | "python3" => Lang::Python,
            "markdown" | "md" => Lang::Markdown,
            "toml" => Lang::Toml,
            "yaml" | "yml" => Lang::Yaml,
            "json" => Lang::Json,
            "javascript" | "js" | "jsx" | "node" => Lang::JavaScript,
            "typescript" | "ts" => Lang::TypeScript,
            "tsx" => Lang::Tsx,
            "shell" | "sh" | "bash" | "zsh" => Lang::Shell,
            "c" | "h" => Lang::C,
            "cpp" | "c++" | "cxx" | "hpp" => Lang::Cpp,
            "go" | "golang" => Lang::Go,
            "java" => Lang::Java,
            "kotlin" | "kt" | "kts" => Lang::Kotlin,
            "csharp" | "cs" | "c#" => Lang::CSharp,
            "ruby" | "rb" => Lang::Ruby,
            "php" => Lang::Php,
            "swift" => Lang::Swift,
            _ => Lang::Other,
        }
    }

    /// Whether [`crate::parse::parse`] runs tree-sitter for this language.
    pub fn has_grammar(self) -> bool {
        self.grammar().is_some()
    }

    /// The tree-sitter grammar, for languages that have one.
    pub(crate) fn grammar(self) -> Option<tree_sitter::Language> {
        Some(match self {
            Lang::Rust => tree_sitter_rust::LANGUAGE.into(),
            Lang::Python => tree_sitter_python::LANGUAGE.into(),
            Lang::JavaScript => tree_sitter_javascript::LANGUAGE.into(),
            Lang::TypeScript => tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
            Lang::Tsx => tree_sitter_typescript::LANGUAGE_TSX.into(),
            Lang::C => tree_sitter_c::LANGUAGE.into(),
            Lang::Cpp => tree_sitter_cpp::LANGUAGE.into(),
            Lang::Go => tree_sitter_go::LANGUAGE.into(),
            Lang::Java => tree_sitter_java::LANGUAGE.into(),
            Lang::Kotlin => tree_sitter_kotlin_ng::LANGUAGE.into(),
            Lang::CSharp => tree_sitter_c_sharp::LANGUAGE.into(),
            Lang::Ruby => tree_sitter_ruby::LANGUAGE.into(),
            Lang::Php => tree_sitter_php::LANGUAGE_PHP.into(),
            Lang::Swift => tree_sitter_swift::LANGUAGE.into(),
            Lang::Markdown | Lang::Toml | Lang::Yaml | Lang::Json | Lang::Shell | Lang::Other => {
                return None;
            }
        })
    }

    /// The bundled tag query (`queries/<lang>/tags.scm`); TSX's is
    /// TypeScript's followed by `queries/tsx/tags.scm`.
    pub(crate) fn tags_query_source(self) -> Option<&'static str> {
        macro_rules! query {
            ($dir:literal) => {
                include_str!(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/queries/",
                    $dir,
                    "/tags.scm"
                ))
            };
        }
        Some(match self {
            Lang::Rust => query!("rust"),
            Lang::Python => query!("python"),
            Lang::JavaScript => query!("javascript"),
            Lang::TypeScript => query!("typescript"),
            Lang::Tsx => concat!(query!("typescript"), "\n", query!("tsx")),
            Lang::C => query!("c"),
            Lang::Cpp => query!("cpp"),
            Lang::Go => query!("go"),
            Lang::Java => query!("java"),
            Lang::Kotlin => query!("kotlin"),
            Lang::CSharp => query!("csharp"),
            Lang::Ruby => query!("ruby"),
            Lang::Php => query!("php"),
            Lang::Swift => query!("swift"),
            _ => return None,
        })
    }
}

/// Language of a repository path, by extension or well-known file name
/// (`Cargo.toml`/`Cargo.lock`/`Pipfile` → Toml, `README`/`CHANGELOG` without
/// extension → Markdown, `Makefile`-like names → Other). A `.h` header is
/// [`Lang::Cpp`] here; [`detect_lang_in`] reads its text.
pub fn detect_lang(path: &str) -> Lang {
    let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
    let lower = name.to_ascii_lowercase();
    match lower.as_str() {
        "cargo.lock" | "pipfile" | "poetry.lock" | "uv.lock" => return Lang::Toml,
        "readme" | "changelog" | "contributing" | "authors" | "history" => return Lang::Markdown,
        ".bashrc" | ".profile" | ".zshrc" => return Lang::Shell,
        "rakefile" | "gemfile" | "guardfile" | "podfile" | "vagrantfile" => return Lang::Ruby,
        _ => {}
    }
    let Some((stem, ext)) = lower.rsplit_once('.') else {
        return Lang::Other;
    };
    if stem.is_empty() {
        // Dot-files such as `.gitignore`.
        return Lang::Other;
    }
    match ext {
        "rs" => Lang::Rust,
        "py" | "pyi" | "pyw" => Lang::Python,
        "md" | "markdown" | "mdx" | "mdown" => Lang::Markdown,
        "toml" => Lang::Toml,
        "yml" | "yaml" => Lang::Yaml,
        "json" | "jsonc" | "json5" => Lang::Json,
        "js" | "mjs" | "cjs" | "jsx" => Lang::JavaScript,
        "ts" | "mts" | "cts" => Lang::TypeScript,
        "tsx" => Lang::Tsx,
        "sh" | "bash" | "zsh" | "ksh" => Lang::Shell,
        "c" => Lang::C,
        "h" | "cc" | "cpp" | "cxx" | "c++" | "hpp" | "hh" | "hxx" | "h++" | "ipp" | "tpp"
        | "inl" => Lang::Cpp,
        "go" => Lang::Go,
        "java" => Lang::Java,
        "kt" | "kts" => Lang::Kotlin,
        "cs" => Lang::CSharp,
        "rb" | "rake" | "gemspec" | "ru" => Lang::Ruby,
        "php" | "phtml" => Lang::Php,
        "swift" => Lang::Swift,
        _ => Lang::Other,
    }
}

/// [`detect_lang`], refined by the text: a file without a known extension
/// takes the language its shebang names (`#!/usr/bin/env node`,
/// `#!/bin/bash`, `#!/usr/bin/python3 -u`), and a `.h` header with no C++
/// construct in it is [`Lang::C`].
pub fn detect_lang_in(path: &str, text: &str) -> Lang {
    let by_path = detect_lang(path);
    match by_path {
        Lang::Other => shebang_lang(text).unwrap_or(Lang::Other),
        Lang::Cpp if path.to_ascii_lowercase().ends_with(".h") && !reads_as_cpp(text) => Lang::C,
        lang => lang,
    }
}

/// The language a `#!` first line runs, if it names one we know.
fn shebang_lang(text: &str) -> Option<Lang> {
    let line = text.lines().next()?.strip_prefix("#!")?;
    let mut words = line.split_whitespace();
    let mut prog = words.next()?.rsplit('/').next()?;
    if prog == "env" {
        prog = words.find(|w| !w.starts_with('-'))?;
    }
    let prog = prog.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    let lang = match prog {
        "python" | "pypy" => Lang::Python,
        "node" | "nodejs" | "deno" | "bun" => Lang::JavaScript,
        "ts-node" | "tsx" => Lang::TypeScript,
        "sh" | "bash" | "zsh" | "ksh" | "dash" => Lang::Shell,
        "ruby" => Lang::Ruby,
        "php" => Lang::Php,
        "swift" => Lang::Swift,
        _ => return None,
    };
    Some(lang)
}

/// Whether a header uses C++ (classes, namespaces, templates, `::`).
fn reads_as_cpp(text: &str) -> bool {
    let head = text.get(..text.len().min(64 * 1024)).unwrap_or(text);
    [
        "namespace ",
        "template <",
        "template<",
        "class ",
        "::",
        "public:",
        "private:",
    ]
    .iter()
    .any(|k| head.contains(k))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_languages() {
        let cases = [
            ("src/parse/mod.rs", Lang::Rust),
            ("pkg/app.py", Lang::Python),
            ("typings/x.pyi", Lang::Python),
            ("Cargo.toml", Lang::Toml),
            ("Cargo.lock", Lang::Toml),
            ("README", Lang::Markdown),
            ("docs/README.md", Lang::Markdown),
            (".github/workflows/ci.yml", Lang::Yaml),
            ("package.json", Lang::Json),
            ("web/app.tsx", Lang::Tsx),
            ("web/app.ts", Lang::TypeScript),
            ("web/app.mjs", Lang::JavaScript),
            ("web/App.jsx", Lang::JavaScript),
            ("scripts/build.sh", Lang::Shell),
            ("csrc/x.c", Lang::C),
            ("csrc/x.h", Lang::Cpp),
            ("src/format.cc", Lang::Cpp),
            ("cmd/root.go", Lang::Go),
            ("src/main/java/A.java", Lang::Java),
            ("app/Main.kt", Lang::Kotlin),
            ("build.gradle.kts", Lang::Kotlin),
            ("src/Parser.cs", Lang::CSharp),
            ("lib/a.rb", Lang::Ruby),
            ("Rakefile", Lang::Ruby),
            ("src/Model.php", Lang::Php),
            ("Sources/App/main.swift", Lang::Swift),
            ("Makefile", Lang::Other),
            (".gitignore", Lang::Other),
            ("LICENSE", Lang::Other),
        ];
        for (path, lang) in cases {
            assert_eq!(detect_lang(path), lang, "{path}");
        }
    }

    #[test]
    fn shebangs_and_headers() {
        let cases = [
            (
                "bin/tool",
                "#!/usr/bin/env node\nconsole.log(1)\n",
                Lang::JavaScript,
            ),
            ("bin/run", "#!/usr/bin/env -S python3 -u\n", Lang::Python),
            ("bin/x", "#!/usr/bin/python3.11\n", Lang::Python),
            ("bin/b", "#!/bin/bash\nset -e\n", Lang::Shell),
            ("bin/r", "#!/usr/bin/env ruby\n", Lang::Ruby),
            ("bin/q", "#!/usr/bin/env perl\n", Lang::Other),
            ("bin/plain", "no shebang\n", Lang::Other),
            ("a/b.h", "int f(void);\n", Lang::C),
            ("a/b.h", "namespace x { int f(); }\n", Lang::Cpp),
            ("a/b.hpp", "int f(void);\n", Lang::Cpp),
            ("a/b.rs", "#!/usr/bin/env python\n", Lang::Rust),
        ];
        for (path, text, lang) in cases {
            assert_eq!(detect_lang_in(path, text), lang, "{path}: {text}");
        }
    }

    #[test]
    fn all_langs_lists_every_variant_at_its_index() {
        // The runner caches a compiled query per language at `lang as usize`.
        for (i, lang) in ALL_LANGS.iter().enumerate() {
            assert_eq!(*lang as usize, i, "{lang:?}");
        }
        assert_eq!(ALL_LANGS.last(), Some(&Lang::Other));
    }

    #[test]
    fn names_round_trip() {
        for lang in ALL_LANGS {
            assert_eq!(Lang::from_str_lossy(lang.as_str()), lang);
        }
        assert_eq!(Lang::from_str_lossy("PY"), Lang::Python);
        assert_eq!(Lang::from_str_lossy("klingon"), Lang::Other);
        let with_grammar: Vec<&str> = ALL_LANGS
            .iter()
            .filter(|l| l.has_grammar())
            .map(|l| l.as_str())
            .collect();
        assert_eq!(
            with_grammar,
            [
                "rust",
                "python",
                "javascript",
                "typescript",
                "tsx",
                "c",
                "cpp",
                "go",
                "java",
                "kotlin",
                "csharp",
                "ruby",
                "php",
                "swift"
            ]
        );
        for lang in ALL_LANGS {
            assert_eq!(lang.has_grammar(), lang.tags_query_source().is_some());
        }
    }
}
