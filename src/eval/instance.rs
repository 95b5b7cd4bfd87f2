//! Benchmark instances: the SWE-Features fields plus `instance_id`,
//! `head_commit`, `created_at` and `context_prs`, one JSON object per line
//! (schema: `docs/instance.schema.json`). Every line is validated on load.

use std::path::Path;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangedFile {
    pub filename: String,
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContextPr {
    pub pr_number: u64,
    pub title: String,
    #[serde(default)]
    pub body: String,
    pub base_commit: String,
    pub head_commit: String,
    pub changed_files: Vec<ChangedFile>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    pub instance_id: String,
    pub repo: String,
    pub pr_number: u64,
    pub title: String,
    #[serde(default)]
    pub body: String,
    pub created_at: String,
    pub base_commit: String,
    pub head_commit: String,
    pub changed_files: Vec<ChangedFile>,
    #[serde(default)]
    pub context_prs: Vec<ContextPr>,
}

impl Instance {
    /// The query `q`: title, a blank line, body.
    pub fn query(&self) -> String {
        crate::agent::request::request_text(&self.title, &self.body)
    }

    /// The gold set: files the PR modified (existing at `base_commit`).
    pub fn gold(&self) -> Vec<String> {
        let mut g: Vec<String> = self
            .changed_files
            .iter()
            .filter(|f| f.status == "modified")
            .map(|f| f.filename.clone())
            .collect();
        g.sort();
        g.dedup();
        g
    }
}

#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    #[error("cannot read benchmark {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Invalid {
        path: String,
        line: usize,
        message: String,
    },
}

/// Loads a `.jsonl` file. Invalid lines are errors unless `skip_invalid`,
/// in which case they are returned as warnings and the others are kept.
pub fn load(
    path: &Path,
    skip_invalid: bool,
) -> Result<(Vec<Instance>, Vec<InstanceError>), InstanceError> {
    let text = std::fs::read_to_string(path).map_err(|source| InstanceError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match parse_line(line) {
            Ok(inst) => out.push(inst),
            Err(message) => {
                let e = InstanceError::Invalid {
                    path: path.display().to_string(),
                    line: i + 1,
                    message,
                };
                if skip_invalid {
                    skipped.push(e);
                } else {
                    return Err(e);
                }
            }
        }
    }
    Ok((out, skipped))
}

/// Parses and validates one line; the error names the field.
pub fn parse_line(line: &str) -> Result<Instance, String> {
    let inst: Instance =
        serde_json::from_str(line).map_err(|e| format!("invalid instance: {e}"))?;
    let hex40 = |s: &str| s.len() == 40 && s.chars().all(|c| c.is_ascii_hexdigit());
    if inst.instance_id.trim().is_empty() {
        return Err("field `instance_id` is empty".into());
    }
    if !inst.repo.contains('/') {
        return Err(format!(
            "field `repo` must be owner/name, got `{}`",
            inst.repo
        ));
    }
    for (name, v) in [
        ("base_commit", &inst.base_commit),
        ("head_commit", &inst.head_commit),
    ] {
        if !hex40(v) {
            return Err(format!(
                "field `{name}` must be a 40-hex commit id, got `{v}`"
            ));
        }
    }
    if inst.title.trim().is_empty() {
        return Err("field `title` is empty".into());
    }
    if inst.created_at.len() < 10 {
        return Err(format!(
            "field `created_at` is not an ISO-8601 time: `{}`",
            inst.created_at
        ));
    }
    for f in &inst.changed_files {
        if !matches!(
            f.status.as_str(),
            "modified" | "added" | "removed" | "renamed"
        ) {
            return Err(format!(
                "field `changed_files` has status `{}` for {} (expected modified, added, removed or renamed)",
                f.status, f.filename
            ));
        }
    }
    for (i, c) in inst.context_prs.iter().enumerate() {
        if !hex40(&c.base_commit) || !hex40(&c.head_commit) {
            return Err(format!(
                "field `context_prs[{i}]` has a commit that is not a 40-hex id"
            ));
        }
    }
    Ok(inst)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"instance_id":"o__r-1","repo":"o/r","pr_number":1,"title":"Add x","body":"","created_at":"2024-01-01T00:00:00Z","base_commit":"0123456789012345678901234567890123456789","head_commit":"abcdefabcdefabcdefabcdefabcdefabcdefabcd","changed_files":[{"filename":"a.rs","status":"modified"},{"filename":"b.rs","status":"added"}],"context_prs":[]}"#;

    #[test]
    fn gold_is_modified_files() {
        let i = parse_line(GOOD).expect("valid");
        assert_eq!(i.gold(), ["a.rs"]);
        assert_eq!(i.query(), "Add x");
    }

    #[test]
    fn bad_lines_name_the_field() {
        let bad = GOOD.replace("0123456789012345678901234567890123456789", "xyz");
        assert!(parse_line(&bad).expect_err("bad").contains("base_commit"));
        let bad = GOOD.replace(r#""title":"Add x","#, "");
        assert!(parse_line(&bad).expect_err("bad").contains("title"));
        let bad = GOOD.replace(r#""status":"added""#, r#""status":"copied""#);
        assert!(parse_line(&bad).expect_err("bad").contains("changed_files"));
    }

    #[test]
    fn load_reports_line_numbers_and_can_skip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("b.jsonl");
        std::fs::write(&p, format!("{GOOD}\nnot json\n{GOOD}\n")).expect("write");
        let err = load(&p, false).expect_err("invalid line");
        assert!(err.to_string().contains(":2:"), "{err}");
        let (ok, skipped) = load(&p, true).expect("skips");
        assert_eq!(ok.len(), 2);
        assert_eq!(skipped.len(), 1);
    }
}
