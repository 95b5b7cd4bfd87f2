//! The agent's tools as a model sees them: one JSON schema per
//! [`ToolCall`] variant (sorted by name, so the prompt prefix is
//! byte-stable), and the parsing of a model's call back into a
//! [`ToolCall`]. A call that does not parse (unknown tool, arguments that
//! are not JSON or miss a field) becomes an error text for the model; it
//! never runs anything.

use serde_json::{Value, json};

use crate::llm::{ToolSpec, ToolUse};

use super::tools::ToolCall;

/// Largest `k` a model may ask for (results are cut to the budget anyway).
const MAX_K: usize = 50;

/// One argument: name, JSON type, required, description.
type Arg = (&'static str, &'static str, bool, &'static str);

/// Each tool: name, description, arguments. A test checks this table
/// against [`ToolCall`], so the two cannot drift apart.
const TOOLS: &[(&str, &str, &[Arg])] = &[
    (
        "card",
        "A file's card: what it is for, its main symbols, imports and history.",
        &[("path", "string", true, "file path as the tools print it")],
    ),
    (
        "cochange",
        "Files that changed together with a file in past commits.",
        &[("path", "string", true, "file path")],
    ),
    (
        "list",
        "Entries of a directory (\"\" for the repository root).",
        &[("dir", "string", true, "directory path")],
    ),
    (
        "read",
        "Lines start..=end (1-based) of a file.",
        &[
            ("path", "string", true, "file path"),
            ("start", "integer", true, "first line, from 1"),
            ("end", "integer", true, "last line"),
        ],
    ),
    (
        "search",
        "Files ranked for a text: lexical search over code, cards, paths and symbols.",
        &[
            ("query", "string", true, "what to look for"),
            ("k", "integer", true, "how many files (1 to 50)"),
            (
                "brief",
                "boolean",
                false,
                "paths and scores only (a third of the tokens)",
            ),
        ],
    ),
    (
        "similar_prs",
        "Past pull requests whose text resembles a text, with the files each modified.",
        &[
            (
                "text",
                "string",
                true,
                "what to compare with, usually the request",
            ),
            ("k", "integer", true, "how many pull requests (1 to 50)"),
            (
                "brief",
                "boolean",
                false,
                "short titles and at most 5 files each",
            ),
        ],
    ),
    (
        "submit",
        "The final answer: the existing files the request will modify, most likely first.",
        &[("files", "array", true, "file paths")],
    ),
    (
        "symbol",
        "Where a symbol (function, type, ...) is defined and which files use it.",
        &[("name", "string", true, "the symbol's name")],
    ),
];

/// The tool specs, sorted by name.
pub fn specs() -> Vec<ToolSpec> {
    TOOLS
        .iter()
        .map(|(name, description, args)| spec(name, description, args))
        .collect()
}

/// The spec of the `submit` tool alone.
pub fn submit_spec() -> ToolSpec {
    specs()
        .into_iter()
        .find(|s| s.name == "submit")
        .expect("submit is in the table")
}

fn spec(name: &str, description: &str, args: &[Arg]) -> ToolSpec {
    let mut props = serde_json::Map::new();
    let mut required = Vec::new();
    for (arg, ty, req, desc) in args {
        let mut p = json!({"type": ty, "description": desc});
        if *ty == "array" {
            p["items"] = json!({"type": "string"});
        }
        props.insert(arg.to_string(), p);
        if *req {
            required.push(*arg);
        }
    }
    ToolSpec {
        name: name.to_string(),
        description: description.to_string(),
        parameters: json!({
            "type": "object",
            "properties": props,
            "required": required,
            "additionalProperties": false,
        }),
    }
}

/// The [`ToolCall`] a model's call stands for, or the error to tell it.
pub fn parse(call: &ToolUse) -> Result<ToolCall, String> {
    if !TOOLS.iter().any(|(n, _, _)| *n == call.name) {
        let names: Vec<&str> = TOOLS.iter().map(|t| t.0).collect();
        return Err(format!(
            "unknown tool `{}`: the tools are {}",
            call.name,
            names.join(", ")
        ));
    }
    let args = if call.arguments.trim().is_empty() {
        json!({})
    } else {
        serde_json::from_str::<Value>(&call.arguments).map_err(|e| {
            format!(
                "the arguments of `{}` are not valid JSON ({e}); send one JSON object",
                call.name
            )
        })?
    };
    let Value::Object(mut map) = args else {
        return Err(format!(
            "the arguments of `{}` must be a JSON object",
            call.name
        ));
    };
    // Models often send numbers as strings; accept what is clearly meant.
    for key in ["k", "start", "end"] {
        if let Some(Value::String(s)) = map.get(key)
            && let Ok(n) = s.trim().parse::<u64>()
        {
            map.insert(key.to_string(), json!(n));
        }
    }
    map.insert("tool".into(), json!(call.name));
    let parsed: ToolCall = serde_json::from_value(Value::Object(map))
        .map_err(|e| format!("bad arguments for `{}`: {e}", call.name))?;
    Ok(match parsed {
        ToolCall::Search { query, k, brief } => ToolCall::Search {
            query,
            k: k.clamp(1, MAX_K),
            brief,
        },
        ToolCall::SimilarPrs { text, k, brief } => ToolCall::SimilarPrs {
            text,
            k: k.clamp(1, MAX_K),
            brief,
        },
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn use_of(name: &str, args: &str) -> ToolUse {
        ToolUse {
            id: "c".into(),
            name: name.into(),
            arguments: args.into(),
        }
    }

    /// Every tool of the table parses from its required arguments into the
    /// variant of that name, and every variant has a row.
    #[test]
    fn the_table_matches_tool_call() {
        let mut names = Vec::new();
        for s in specs() {
            let mut args = serde_json::Map::new();
            for r in s.parameters["required"].as_array().expect("required") {
                let key = r.as_str().expect("name");
                let ty = s.parameters["properties"][key]["type"]
                    .as_str()
                    .expect("type");
                args.insert(
                    key.into(),
                    match ty {
                        "string" => json!("x"),
                        "integer" => json!(3),
                        "array" => json!(["a.rs"]),
                        other => panic!("type {other}"),
                    },
                );
            }
            let call = parse(&use_of(&s.name, &Value::Object(args).to_string()))
                .unwrap_or_else(|e| panic!("{}: {e}", s.name));
            assert_eq!(call.name(), s.name);
            names.push(s.name);
        }
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted, "specs are sorted by name");
        assert_eq!(names.len(), 8);
    }

    #[test]
    fn bad_calls_become_errors_for_the_model() {
        let e = parse(&use_of("shell", "{\"cmd\":\"rm -rf /\"}")).expect_err("unknown");
        assert!(e.contains("unknown tool `shell`"), "{e}");
        let e = parse(&use_of("search", "{\"query\": \"x\", \"k\": ")).expect_err("bad json");
        assert!(e.contains("not valid JSON"), "{e}");
        let e = parse(&use_of("read", "{\"path\": \"a.rs\"}")).expect_err("missing field");
        assert!(e.contains("start"), "{e}");
        let e = parse(&use_of("card", "[1]")).expect_err("not an object");
        assert!(e.contains("object"), "{e}");
        let ok = parse(&use_of("search", "{\"query\": \"x\", \"k\": \"500\"}")).expect("lenient");
        assert_eq!(
            ok,
            ToolCall::Search {
                query: "x".into(),
                k: MAX_K,
                brief: false
            }
        );
    }
}
