//! What a tool answers: text within the caller's token budget, and whether
//! it is an error the model should read (a path outside the snapshot, a
//! failed query) rather than an answer. Notebook tools come already cut by
//! their renderer ([`crate::agent::tools`]); JSON answers are cut here by
//! leaving out whole parts, so they stay valid JSON.

use serde::Serialize;
use serde_json::Value;

use crate::agent::predict::Answer;
use crate::agent::tools::{ToolData, ToolOutput};
use crate::tokens;

/// One tool's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub text: String,
    pub is_error: bool,
}

impl Reply {
    pub fn ok(text: impl Into<String>) -> Reply {
        Reply {
            text: text.into(),
            is_error: false,
        }
    }

    pub fn error(text: impl Into<String>) -> Reply {
        Reply {
            text: text.into(),
            is_error: true,
        }
    }

    /// A notebook tool's output, as the sleep arm's policy reads it.
    pub fn from_tool(out: ToolOutput) -> Reply {
        let is_error = matches!(out.data, ToolData::Error { .. });
        Reply {
            text: out.text,
            is_error,
        }
    }

    /// A prediction as compact JSON within `max_tokens`: whole when it
    /// fits; else without the run's trace and the policy's own account,
    /// then without the lowest-ranked files, each cut said in `notes`.
    pub fn prediction(answer: &Answer, max_tokens: u64) -> Reply {
        let mut value = to_value(answer);
        if let Some(text) = fitting(&value, max_tokens) {
            return Reply::ok(text);
        }
        let Some(obj) = value.as_object_mut() else {
            return Reply::error("the prediction is not a JSON object");
        };
        obj.insert("trace".into(), Value::Array(Vec::new()));
        obj.remove("explain");
        let notes_before = obj
            .get("notes")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut dropped = 0usize;
        loop {
            let mut notes = notes_before.clone();
            notes.push(Value::String(cut_note(max_tokens, dropped)));
            value["notes"] = Value::Array(notes);
            if let Some(text) = fitting(&value, max_tokens) {
                return Reply::ok(text);
            }
            let files = value["files"].as_array_mut();
            match files {
                Some(files) if !files.is_empty() => {
                    files.pop();
                    dropped += 1;
                }
                _ => {
                    return Reply::error(format!(
                        "max_tokens {max_tokens} cannot hold even an empty prediction ({} tokens); ask for more",
                        tokens::count(&value.to_string())
                    ));
                }
            }
        }
    }

    /// Any JSON answer, whole, or an error saying how many tokens it needs.
    pub fn json<T: Serialize>(value: &T, max_tokens: u64) -> Reply {
        let value = to_value(value);
        match fitting(&value, max_tokens) {
            Some(text) => Reply::ok(text),
            None => Reply::error(format!(
                "the answer takes {} tokens, more than max_tokens {max_tokens}; ask for more",
                tokens::count(&value.to_string())
            )),
        }
    }
}

fn to_value<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v)
        .unwrap_or_else(|e| Value::String(format!("the answer cannot be written as JSON: {e}")))
}

/// The compact JSON text of `value` when it fits `max_tokens`. A token
/// covers at least one byte, so a text no longer in bytes than the budget
/// fits without being counted.
fn fitting(value: &Value, max_tokens: u64) -> Option<String> {
    let text = value.to_string();
    (text.len() as u64 <= max_tokens || tokens::count(&text) <= max_tokens).then_some(text)
}

fn cut_note(max_tokens: u64, dropped: usize) -> String {
    let files = match dropped {
        0 => String::new(),
        1 => ", and the lowest-ranked file".to_string(),
        n => format!(", and the {n} lowest-ranked files"),
    };
    format!(
        "cut to max_tokens {max_tokens}: the trace and the policy's account were left out{files}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::{Prediction, Scored};

    fn answer(files: usize, trace_words: usize) -> Answer {
        let files = (0..files)
            .map(|i| Scored {
                path: format!("src/module_{i}.rs"),
                score: 1.0 / (i + 1) as f64,
                reason: "the request's words: parse, config".into(),
            })
            .collect();
        let prediction = Prediction {
            policy: "offline".into(),
            arm: "sleep".into(),
            files,
            budget: 4000,
            max_steps: 12,
            tokens_used: 900,
            request_tokens: 10,
            context_tokens: 0,
            steps: 3,
            trace: Vec::new(),
            notes: vec!["a note".into()],
            explain: serde_json::json!({ "words": "lorem ".repeat(trace_words) }),
            model: None,
        };
        Answer::new(prediction, Some("abc".into()), Some("abc".into()))
    }

    #[test]
    fn a_text_fits_when_its_bytes_do() {
        for text in [
            "",
            "a",
            "fn main() {}",
            "ünïcödé ✓ 漢字",
            &"word ".repeat(300),
        ] {
            assert!(tokens::count(text) <= text.len() as u64, "{text}");
        }
    }

    #[test]
    fn a_prediction_that_fits_is_whole() {
        let a = answer(3, 5);
        let r = Reply::prediction(&a, 10_000);
        assert!(!r.is_error);
        let v: Value = serde_json::from_str(&r.text).expect("JSON");
        assert_eq!(v, serde_json::to_value(&a).expect("JSON"));
    }

    #[test]
    fn cuts_leave_valid_json_within_the_budget_and_say_so() {
        let a = answer(40, 2000);
        for max in [120, 300, 600, 1500] {
            let r = Reply::prediction(&a, max);
            assert!(!r.is_error, "{max}: {}", r.text);
            assert!(tokens::count(&r.text) <= max, "{max}");
            let v: Value = serde_json::from_str(&r.text).expect("valid JSON");
            assert!(v.get("explain").is_none());
            let notes = v["notes"].as_array().expect("notes");
            assert_eq!(notes[0], "a note");
            let last = notes.last().and_then(Value::as_str).expect("a note");
            assert!(last.contains(&format!("max_tokens {max}")), "{last}");
            // The best files stay; the smaller the budget, the fewer.
            let kept = v["files"].as_array().expect("files").len();
            assert!(kept >= 1, "{max}");
            assert_eq!(kept < 40, max <= 600, "{max}: {kept}");
            assert_eq!(v["files"][0]["path"], "src/module_0.rs");
        }
        let r = Reply::prediction(&a, 5);
        assert!(r.is_error);
        assert!(r.text.contains("max_tokens 5"), "{}", r.text);
    }
}
