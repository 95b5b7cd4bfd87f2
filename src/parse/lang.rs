//! Language detection: which [`Lang`] a repository path holds, and the
//! tree-sitter grammar plus bundled tag query for the languages that have one.

use serde::{Deserialize, Serialize};

/// Languages the indexer distinguishes. Only [`Lang::Rust`] and
/// [`Lang::Python`] have a grammar; the others get lexical treatment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Lang {
    Rust,
    Python,
    Markdown,
    Toml,
    Yaml,
    Json,
    JavaScript,
    TypeScript,
    Shell,
    /// C and C++ sources and headers.
    C,
    Other,
}

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
            Lang::Shell => "shell",
            Lang::C => "c",
            Lang::Other => "other",
        }
    }

    /// Inverse of [`Lang::as_str`], case-insensitive, also accepting common
    /// aliases (`rs`, `py`, `md`, `yml`, `js`, `ts`, `sh`, `bash`, `cpp`...).
    /// Unknown names give [`Lang::Other`].
    pub fn from_str_lossy(s: &str) -> Lang {
        match s.trim().to_ascii_lowercase().as_str() {
            "rust" | "rs" => Lang::Rust,
            "python" | "py" | "python3" => Lang::Python,
            "markdown" | "md" => Lang::Markdown,
            "toml" => Lang::Toml,
            "yaml" | "yml" => Lang::Yaml,
            "json" => Lang::Json,
            "javascript" | "js" => Lang::JavaScript,
            "typescript" | "ts" => Lang::TypeScript,
            "shell" | "sh" | "bash" | "zsh" => Lang::Shell,
            "c" | "cpp" | "c++" | "h" => Lang::C,
            _ => Lang::Other,
        }
    }

    /// Whether [`crate::parse::parse`] runs tree-sitter for this language.
    pub fn has_grammar(self) -> bool {
        matches!(self, Lang::Rust | Lang::Python)
    }

    /// The tree-sitter grammar, for languages that have one.
    pub(crate) fn grammar(self) -> Option<tree_sitter::Language> {
        match self {
            Lang::Rust => Some(tree_sitter_rust::LANGUAGE.into()),
            Lang::Python => Some(tree_sitter_python::LANGUAGE.into()),
            _ => None,
        }
    }

    /// The bundled tag query (`queries/<lang>/tags.scm`).
    pub(crate) fn tags_query_source(self) -> Option<&'static str> {
        match self {
            Lang::Rust => Some(include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/queries/rust/tags.scm"
            ))),
            Lang::Python => Some(include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/queries/python/tags.scm"
            ))),
            _ => None,
        }
    }
}

/// Language of a repository path, by extension or well-known file name
/// (`Cargo.toml`/`Cargo.lock`/`Pipfile` → Toml, `README`/`CHANGELOG` without
/// extension → Markdown, `Makefile`-like names → Other, `.h`/`.cpp` → C).
pub fn detect_lang(path: &str) -> Lang {
    let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
    let lower = name.to_ascii_lowercase();
    match lower.as_str() {
        "cargo.lock" | "pipfile" | "poetry.lock" | "uv.lock" => return Lang::Toml,
        "readme" | "changelog" | "contributing" | "authors" | "history" => return Lang::Markdown,
        ".bashrc" | ".profile" | ".zshrc" => return Lang::Shell,
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
        "ts" | "tsx" | "mts" | "cts" => Lang::TypeScript,
        "sh" | "bash" | "zsh" | "ksh" => Lang::Shell,
        "c" | "h" | "cc" | "cpp" | "cxx" | "hpp" | "hh" | "hxx" => Lang::C,
        _ => Lang::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_languages() {
        assert_eq!(detect_lang("src/parse/mod.rs"), Lang::Rust);
        assert_eq!(detect_lang("pkg/app.py"), Lang::Python);
        assert_eq!(detect_lang("typings/x.pyi"), Lang::Python);
        assert_eq!(detect_lang("Cargo.toml"), Lang::Toml);
        assert_eq!(detect_lang("Cargo.lock"), Lang::Toml);
        assert_eq!(detect_lang("README"), Lang::Markdown);
        assert_eq!(detect_lang("docs/README.md"), Lang::Markdown);
        assert_eq!(detect_lang(".github/workflows/ci.yml"), Lang::Yaml);
        assert_eq!(detect_lang("package.json"), Lang::Json);
        assert_eq!(detect_lang("web/app.tsx"), Lang::TypeScript);
        assert_eq!(detect_lang("web/app.mjs"), Lang::JavaScript);
        assert_eq!(detect_lang("scripts/build.sh"), Lang::Shell);
        assert_eq!(detect_lang("csrc/x.h"), Lang::C);
        assert_eq!(detect_lang("Makefile"), Lang::Other);
        assert_eq!(detect_lang(".gitignore"), Lang::Other);
        assert_eq!(detect_lang("LICENSE"), Lang::Other);
    }

    #[test]
    fn names_round_trip() {
        let all = [
            Lang::Rust,
            Lang::Python,
            Lang::Markdown,
            Lang::Toml,
            Lang::Yaml,
            Lang::Json,
            Lang::JavaScript,
            Lang::TypeScript,
            Lang::Shell,
            Lang::C,
            Lang::Other,
        ];
        for lang in all {
            assert_eq!(Lang::from_str_lossy(lang.as_str()), lang);
        }
        assert_eq!(Lang::from_str_lossy("PY"), Lang::Python);
        assert_eq!(Lang::from_str_lossy("klingon"), Lang::Other);
        assert!(Lang::Rust.has_grammar() && Lang::Python.has_grammar());
        assert!(!Lang::Markdown.has_grammar());
    }
}
