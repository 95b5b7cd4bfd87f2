//! Prompts as data: the templates in `prompts/`, embedded in the binary and
//! overridable by a file of the same name in `<state dir>/prompts/`, each
//! filled from one typed struct. A template is a system part, a line
//! `=== user ===`, and a user part; variables are `{{name}}`. A variable the
//! struct lacks is an error; every call records the template's name and
//! the hash of its text.

use std::path::Path;

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::error::LlmError;

const SEPARATOR: &str = "\n=== user ===\n";

/// The built-in templates, by name.
pub const BUILTIN: &[(&str, &str)] = &[
    ("agent", include_str!("../../prompts/agent.md")),
    ("rerank", include_str!("../../prompts/rerank.md")),
    ("file_card", include_str!("../../prompts/file_card.md")),
    ("pr_digest", include_str!("../../prompts/pr_digest.md")),
    ("anticipate", include_str!("../../prompts/anticipate.md")),
];

/// The variables of one template.
pub trait PromptVars: Serialize {
    /// The template's name (`prompts/<name>.md`).
    const NAME: &'static str;
}

/// `prompts/agent.md`: the test-time agent.
#[derive(Debug, Clone, Serialize)]
pub struct AgentPrompt {
    pub typical_files: String,
    pub max_files: usize,
    /// Related pull requests with a heading and a blank line after, or "".
    pub context: String,
    pub request: String,
}

impl PromptVars for AgentPrompt {
    const NAME: &'static str = "agent";
}

/// `prompts/rerank.md`: one call that chooses among offline candidates.
#[derive(Debug, Clone, Serialize)]
pub struct RerankPrompt {
    pub typical_files: String,
    pub max_files: usize,
    pub candidates: String,
    pub request: String,
}

impl PromptVars for RerankPrompt {
    const NAME: &'static str = "rerank";
}

/// `prompts/file_card.md`: a card for one file at sleep time.
#[derive(Debug, Clone, Serialize)]
pub struct FileCardPrompt {
    pub path: String,
    pub language: String,
    pub history: String,
    pub content: String,
    pub max_words: usize,
}

impl PromptVars for FileCardPrompt {
    const NAME: &'static str = "file_card";
}

/// `prompts/pr_digest.md`: a digest of one related pull request.
#[derive(Debug, Clone, Serialize)]
pub struct PrDigestPrompt {
    pub number: u64,
    pub title: String,
    pub body: String,
    pub files: String,
    pub patch: String,
    pub max_words: usize,
}

impl PromptVars for PrDigestPrompt {
    const NAME: &'static str = "pr_digest";
}

/// `prompts/anticipate.md`: likely next requests at sleep time.
#[derive(Debug, Clone, Serialize)]
pub struct AnticipatePrompt {
    pub recent_prs: String,
    pub todos: String,
    pub count: usize,
}

impl PromptVars for AnticipatePrompt {
    const NAME: &'static str = "anticipate";
}

/// A template as loaded: built in, or overridden from the state directory.
#[derive(Debug, Clone)]
pub struct Template {
    pub name: String,
    pub text: String,
    /// First 16 hex digits of the SHA-256 of `text`.
    pub hash: String,
    pub builtin: bool,
}

/// A filled template.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub system: String,
    pub user: String,
    pub template: String,
    pub hash: String,
}

impl Template {
    /// The template `name`: `<state_dir>/prompts/<name>.md` when that file
    /// exists, else the built-in one.
    pub fn load(name: &str, state_dir: Option<&Path>) -> Result<Template, LlmError> {
        if let Some(dir) = state_dir {
            let path = dir.join("prompts").join(format!("{name}.md"));
            if path.is_file() {
                let text = std::fs::read_to_string(&path)
                    .map_err(|source| LlmError::PromptFile { path, source })?;
                return Ok(Template::new(name, text, false));
            }
        }
        let text = BUILTIN
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| *t)
            .ok_or_else(|| LlmError::Prompt {
                name: name.to_string(),
                message: "no such template".into(),
            })?;
        Ok(Template::new(name, text.to_string(), true))
    }

    pub fn new(name: &str, text: String, builtin: bool) -> Template {
        let hash = format!("{:x}", Sha256::digest(text.as_bytes()));
        Template {
            name: name.to_string(),
            hash: hash[..16].to_string(),
            text,
            builtin,
        }
    }

    /// Fills the template from `vars`. A `{{name}}` that `vars` lacks is an
    /// error; so is, for a built-in template, a field it never uses.
    pub fn render<V: PromptVars>(&self, vars: &V) -> Result<Rendered, LlmError> {
        let err = |message: String| LlmError::Prompt {
            name: self.name.clone(),
            message,
        };
        let Value::Object(map) =
            serde_json::to_value(vars).map_err(|e| err(format!("variables: {e}")))?
        else {
            return Err(err("the variables are not a struct".into()));
        };
        let mut out = String::with_capacity(self.text.len());
        let mut used = std::collections::HashSet::new();
        let mut rest = self.text.as_str();
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .ok_or_else(|| err("a `{{` without its `}}`".into()))?;
            let name = after[..end].trim();
            let value = map
                .get(name)
                .ok_or_else(|| err(format!("unknown variable `{name}`")))?;
            out.push_str(
                &as_text(value).ok_or_else(|| err(format!("variable `{name}` is not text")))?,
            );
            used.insert(name.to_string());
            rest = &after[end + 2..];
        }
        out.push_str(rest);
        if self.builtin
            && let Some(unused) = map.keys().find(|k| !used.contains(*k))
        {
            return Err(err(format!("variable `{unused}` is not used")));
        }
        let (system, user) = out.split_once(SEPARATOR).unwrap_or(("", out.as_str()));
        Ok(Rendered {
            system: system.trim_end().to_string(),
            user: user.to_string(),
            template: self.name.clone(),
            hash: self.hash.clone(),
        })
    }
}

fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Array(items) => items
            .iter()
            .map(as_text)
            .collect::<Option<Vec<_>>>()
            .map(|v| v.join("\n")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<(&'static str, Rendered)> {
        let load = |n: &str| Template::load(n, None).expect("built-in template");
        vec![
            (
                "agent",
                load("agent")
                    .render(&AgentPrompt {
                        typical_files: "1 to 4".into(),
                        max_files: 8,
                        context: "Related pull requests:\n## PR #3: add a parser\n\n".into(),
                        request: "Add a YAML exporter\n\nExport recipes as YAML.".into(),
                    })
                    .expect("renders"),
            ),
            (
                "rerank",
                load("rerank")
                    .render(&RerankPrompt {
                        typical_files: "1 to 4".into(),
                        max_files: 8,
                        candidates:
                            "src/export.rs: search rank 1\nsrc/lib.rs: changes with src/export.rs"
                                .into(),
                        request: "Add a YAML exporter".into(),
                    })
                    .expect("renders"),
            ),
            (
                "file_card",
                load("file_card")
                    .render(&FileCardPrompt {
                        path: "src/export.rs".into(),
                        language: "rust".into(),
                        history: "#12 Add JSON export; #15 Fix escaping".into(),
                        content: "pub fn export() {}".into(),
                        max_words: 120,
                    })
                    .expect("renders"),
            ),
            (
                "pr_digest",
                load("pr_digest")
                    .render(&PrDigestPrompt {
                        number: 12,
                        title: "Add JSON export".into(),
                        body: "Recipes can be exported.".into(),
                        files: "src/export.rs (added)".into(),
                        patch: "+pub fn export() {}".into(),
                        max_words: 150,
                    })
                    .expect("renders"),
            ),
            (
                "anticipate",
                load("anticipate")
                    .render(&AnticipatePrompt {
                        recent_prs: "#15 Fix escaping".into(),
                        todos: "src/export.rs: TODO support YAML".into(),
                        count: 3,
                    })
                    .expect("renders"),
            ),
        ]
    }

    /// Snapshot test: each built-in template renders to the text stored in
    /// `fixtures/prompts/<name>.txt` (`UPDATE_SNAPSHOTS=1` rewrites them).
    #[test]
    fn every_template_renders_to_its_snapshot() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/prompts");
        let samples = samples();
        assert_eq!(samples.len(), BUILTIN.len());
        for (name, r) in samples {
            assert!(!r.system.is_empty(), "{name}: no system part");
            assert!(!r.system.contains("{{"), "{name}");
            let text = format!("--- system ---\n{}\n--- user ---\n{}", r.system, r.user);
            let path = dir.join(format!("{name}.txt"));
            if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
                std::fs::create_dir_all(&dir).expect("create snapshot dir");
                std::fs::write(&path, &text).expect("write snapshot");
            }
            let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
                panic!("{}: {e} (run with UPDATE_SNAPSHOTS=1)", path.display())
            });
            assert_eq!(text, want, "{name} differs from {}", path.display());
        }
    }

    #[test]
    fn missing_and_unused_variables_are_errors() {
        #[derive(Serialize)]
        struct Vars {
            a: String,
            b: u32,
        }
        impl PromptVars for Vars {
            const NAME: &'static str = "t";
        }
        let v = Vars {
            a: "x".into(),
            b: 2,
        };
        let t = Template::new("t", "sys\n=== user ===\n{{a}} {{ b }}".into(), true);
        let r = t.render(&v).expect("renders");
        assert_eq!((r.system.as_str(), r.user.as_str()), ("sys", "x 2"));
        let err = Template::new("t", "{{a}} {{c}}".into(), true)
            .render(&v)
            .expect_err("c is missing");
        assert!(err.to_string().contains("`c`"), "{err}");
        let err = Template::new("t", "{{a}}".into(), true)
            .render(&v)
            .expect_err("b is unused");
        assert!(err.to_string().contains("`b`"), "{err}");
        assert!(Template::new("t", "{{a}}".into(), false).render(&v).is_ok());
        assert!(Template::new("t", "{{a".into(), true).render(&v).is_err());
    }

    #[test]
    fn a_file_in_the_state_dir_overrides_and_changes_the_hash() {
        let dir = tempfile::tempdir().expect("tempdir");
        let builtin = Template::load("rerank", Some(dir.path())).expect("built in");
        assert!(builtin.builtin);
        std::fs::create_dir_all(dir.path().join("prompts")).expect("mkdir");
        std::fs::write(
            dir.path().join("prompts/rerank.md"),
            "pick\n=== user ===\n{{request}}",
        )
        .expect("write");
        let t = Template::load("rerank", Some(dir.path())).expect("override");
        assert!(!t.builtin);
        assert_ne!(t.hash, builtin.hash);
        assert_eq!(t.hash.len(), 16);
        assert!(Template::load("nope", None).is_err());
    }
}
