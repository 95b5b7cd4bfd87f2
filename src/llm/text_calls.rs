//! Tool calls written as text. Many local models and servers (llama.cpp
//! with some chat templates, Ollama, LM Studio) return a call inside the
//! reply's `content` instead of as native `tool_calls`: in `<tool_call>`
//! tags (Qwen, Hermes), in a fenced JSON block, or as a bare JSON object
//! with `name` and `arguments`. [`extract`] reads them back; a call that is
//! recognisably one but malformed is kept with its raw text as arguments,
//! so the policy answers it with the parse error, as for native calls.
//!
//! [`textual`] rewrites a conversation for a server that should see no
//! native tool protocol at all (`tool_calls = "text"`), or only for the
//! turns whose calls came as text (`"auto"`): such an assistant turn is
//! sent as the text it wrote, and the answers to its calls as a user turn.
//! Pure.

use serde_json::{Value, json};

use super::message::{ChatRequest, Message, ToolChoice, ToolResult, ToolSpec, ToolUse};

/// The calls written in `text`, in order: tagged ones if any, else fenced
/// blocks, else bare JSON objects. Ids are `text_call_N`.
pub fn extract(text: &str) -> Vec<ToolUse> {
    let mut bodies = tagged(text);
    if bodies.is_empty() {
        bodies = fenced(text);
    }
    if bodies.is_empty() {
        bodies = bare(text);
    }
    let mut calls = Vec::new();
    for body in bodies {
        match serde_json::from_str::<Value>(body.trim()) {
            Ok(Value::Array(items)) => calls.extend(items.iter().filter_map(call_of)),
            Ok(v) => calls.extend(call_of(&v)),
            // Recognisably a call but not JSON: the model hears why.
            Err(_) => calls.push(ToolUse {
                id: String::new(),
                name: name_in(body).unwrap_or_default(),
                arguments: body.trim().to_string(),
            }),
        }
    }
    for (i, c) in calls.iter_mut().enumerate() {
        c.id = format!("text_call_{i}");
    }
    calls
}

/// Inside `<tool_call>…</tool_call>`; an unclosed last tag runs to the end.
fn tagged(text: &str) -> Vec<&str> {
    const OPEN: &str = "<tool_call>";
    const CLOSE: &str = "</tool_call>";
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        let after = &rest[start + OPEN.len()..];
        let (inner, next) = match after.find(CLOSE) {
            Some(end) => (&after[..end], &after[end + CLOSE.len()..]),
            None => (after, ""),
        };
        out.push(unfence(inner));
        rest = next;
    }
    out
}

/// The bodies of fenced code blocks that hold a call (a `name` key).
fn fenced(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("```") {
        let after = &rest[start + 3..];
        let Some(end) = after.find("```") else { break };
        let block = &after[..end];
        // Drop the info string (`json`, `tool_call`): the first line when
        // the block does not start with JSON.
        let body = match block.find('\n') {
            Some(nl) if !block.trim_start().starts_with(['{', '[']) => &block[nl + 1..],
            _ => block,
        };
        if body.contains("\"name\"") {
            out.push(body);
        }
        rest = &after[end + 3..];
    }
    out
}

/// `inner` without a surrounding code fence, if it has one.
fn unfence(inner: &str) -> &str {
    let t = inner.trim();
    if let Some(body) = t.strip_prefix("```")
        && let Some(body) = body.strip_suffix("```")
    {
        return match body.find('\n') {
            Some(nl) if !body.trim_start().starts_with(['{', '[']) => &body[nl + 1..],
            _ => body,
        };
    }
    t
}

/// Top-level JSON objects in prose that parse and name a tool.
fn bare(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(off) = text[at..].find('{') {
        let start = at + off;
        let mut stream = serde_json::Deserializer::from_str(&text[start..]).into_iter::<Value>();
        match stream.next() {
            Some(Ok(v)) => {
                let end = start + stream.byte_offset();
                if call_of(&v).is_some() {
                    out.push(&text[start..end]);
                }
                at = end;
            }
            _ => at = start + 1,
        }
    }
    out
}

/// A call from `{"name", "arguments"}` (or `parameters`, `args`, `input`),
/// also wrapped as `{"function": {...}}`; `None` without a name.
fn call_of(v: &Value) -> Option<ToolUse> {
    let obj = v.get("function").filter(|f| f.is_object()).unwrap_or(v);
    let name = obj.get("name")?.as_str()?.trim();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return None;
    }
    let args = ["arguments", "parameters", "args", "input"]
        .iter()
        .find_map(|k| obj.get(*k));
    let arguments = match args {
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
        None => "{}".to_string(),
    };
    Some(ToolUse {
        id: String::new(),
        name: name.to_string(),
        arguments,
    })
}

/// The value of a `"name": "..."` pair in text that is not valid JSON.
fn name_in(body: &str) -> Option<String> {
    let at = body.find("\"name\"")?;
    let rest = body[at + 6..].trim_start().strip_prefix(':')?.trim_start();
    let rest = rest.strip_prefix('"')?;
    let end = rest.find('"')?;
    Some(rest[..end].to_string())
}

/// `req` for a server that reads calls as text. With `all`, every turn and
/// the tools themselves: no native `tools` or `tool_choice` are sent, the
/// system prompt describes the tools and how to write a call, and a forced
/// tool becomes an instruction. Without it, only the assistant turns whose
/// calls were written as text (and the answers to them).
pub fn textual(req: &ChatRequest, all: bool) -> ChatRequest {
    let mut out = req.clone();
    if all && !req.tools.is_empty() {
        out.system = format!("{}\n\n{}", req.system, describe_tools(&req.tools));
        out.tools = Vec::new();
        out.tool_choice = ToolChoice::Auto;
    }
    let mut messages: Vec<Message> = Vec::new();
    let mut last_was_text = false;
    for m in &req.messages {
        let m = match m {
            Message::Assistant {
                text,
                tool_calls,
                calls_in_text,
            } if all || *calls_in_text => {
                last_was_text = true;
                let text = if text.trim().is_empty() {
                    tool_calls
                        .iter()
                        .map(write_call)
                        .collect::<Vec<_>>()
                        .join("\n")
                } else {
                    text.clone()
                };
                Message::Assistant {
                    text,
                    tool_calls: Vec::new(),
                    calls_in_text: true,
                }
            }
            Message::Assistant { .. } => {
                last_was_text = false;
                m.clone()
            }
            Message::ToolResults(results) if last_was_text => {
                Message::User(results_text(results, &req.messages))
            }
            other => other.clone(),
        };
        push_merged(&mut messages, m);
    }
    if all && let ToolChoice::Tool(name) = &req.tool_choice {
        push_merged(
            &mut messages,
            Message::User(format!(
                "Now call the `{name}` tool: reply with only <tool_call>{{\"name\": \"{name}\", \"arguments\": {{...}}}}</tool_call>."
            )),
        );
    }
    out.messages = messages;
    out
}

/// Appends `m`, merging it into a user turn just before it: some chat
/// templates refuse two user turns in a row.
fn push_merged(messages: &mut Vec<Message>, m: Message) {
    if let (Some(Message::User(prev)), Message::User(text)) = (messages.last_mut(), &m) {
        prev.push_str("\n\n");
        prev.push_str(text);
        return;
    }
    messages.push(m);
}

/// A call as the model is asked to write one.
fn write_call(c: &ToolUse) -> String {
    let args: Value = serde_json::from_str(&c.arguments).unwrap_or_else(|_| json!(c.arguments));
    format!(
        "<tool_call>{}</tool_call>",
        json!({"name": c.name, "arguments": args})
    )
}

/// The answers to text calls, as the user turn that follows them.
fn results_text(results: &[ToolResult], messages: &[Message]) -> String {
    let name_of = |id: &str| {
        messages.iter().rev().find_map(|m| match m {
            Message::Assistant { tool_calls, .. } => tool_calls
                .iter()
                .find(|c| c.id == id)
                .map(|c| c.name.clone()),
            _ => None,
        })
    };
    results
        .iter()
        .map(|r| {
            let name = name_of(&r.id).unwrap_or_else(|| "tool".into());
            let kind = if r.is_error { "error" } else { "result" };
            format!(
                "<tool_{kind} name=\"{name}\">\n{}\n</tool_{kind}>",
                r.content
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The tools and how to call them, for the system prompt.
fn describe_tools(tools: &[ToolSpec]) -> String {
    let mut s = String::from(
        "# Tools\n\nTo call a tool, reply with one JSON object inside <tool_call></tool_call> tags and nothing after it, for example:\n<tool_call>{\"name\": \"search\", \"arguments\": {\"query\": \"retry backoff\"}}</tool_call>\nThe answer comes back in <tool_result> tags. The tools, with the JSON schema of their arguments:\n",
    );
    for t in tools {
        s.push_str(&format!(
            "\n- {}: {}\n  arguments: {}",
            t.name, t.description, t.parameters
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(calls: &[ToolUse]) -> Vec<(&str, &str)> {
        calls
            .iter()
            .map(|c| (c.name.as_str(), c.arguments.as_str()))
            .collect()
    }

    #[test]
    fn tagged_calls_as_qwen_writes_them() {
        let text = "I will search.\n<tool_call>\n{\"name\": \"search\", \"arguments\": {\"query\": \"hidden dirs\"}}\n</tool_call>\n<tool_call>{\"name\": \"card\", \"arguments\": {\"path\": \"src/walk.rs\"}}</tool_call>";
        let calls = extract(text);
        assert_eq!(
            names(&calls),
            vec![
                ("search", r#"{"query":"hidden dirs"}"#),
                ("card", r#"{"path":"src/walk.rs"}"#)
            ]
        );
        assert_eq!(calls[0].id, "text_call_0");
        assert_eq!(calls[1].id, "text_call_1");
        // Unclosed at the end (a reply cut by max_tokens), and fenced inside.
        let calls = extract(
            "<tool_call>```json\n{\"name\": \"submit\", \"arguments\": {\"files\": [\"a.rs\"]}}\n```",
        );
        assert_eq!(names(&calls), vec![("submit", r#"{"files":["a.rs"]}"#)]);
    }

    #[test]
    fn fenced_and_bare_calls_and_their_spellings() {
        let text = "Let me look.\n```json\n{\"name\": \"search\", \"parameters\": {\"query\": \"x\"}}\n```\nThen decide.";
        assert_eq!(names(&extract(text)), vec![("search", r#"{"query":"x"}"#)]);
        let text = "```\n[{\"function\": {\"name\": \"card\", \"arguments\": \"{\\\"path\\\": \\\"a.rs\\\"}\"}}]\n```";
        assert_eq!(names(&extract(text)), vec![("card", r#"{"path": "a.rs"}"#)]);
        let text = "Sure: {\"name\": \"submit\", \"arguments\": {\"files\": [\"src/a.rs\", \"src/b.rs\"]}} done {\"other\": 1}";
        assert_eq!(
            names(&extract(text)),
            vec![("submit", r#"{"files":["src/a.rs","src/b.rs"]}"#)]
        );
        // No arguments at all: an empty object.
        assert_eq!(
            names(&extract("<tool_call>{\"name\": \"status\"}</tool_call>")),
            vec![("status", "{}")]
        );
    }

    #[test]
    fn prose_and_code_are_not_calls() {
        for text in [
            "Here's a more user-friendly way:\n```\ndef search_hidden_dirs(fn):\n    return fn\n```",
            "The config is {\"files\": 3} and {broken",
            "{\"name\": \"has spaces in it\", \"arguments\": {}}",
            "",
        ] {
            assert!(extract(text).is_empty(), "{text}");
        }
    }

    #[test]
    fn malformed_calls_keep_their_text_for_the_error() {
        let calls =
            extract("<tool_call>{\"name\": \"search\", \"arguments\": {\"query\": }</tool_call>");
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].name, "search");
        assert_eq!(
            calls[0].arguments,
            r#"{"name": "search", "arguments": {"query": }"#
        );
        assert!(serde_json::from_str::<Value>(&calls[0].arguments).is_err());
    }

    fn request() -> ChatRequest {
        ChatRequest {
            system: "Find the files.".into(),
            tools: vec![ToolSpec {
                name: "search".into(),
                description: "Search the code.".into(),
                parameters: json!({"type": "object", "properties": {"query": {"type": "string"}}}),
            }],
            messages: vec![
                Message::User("Add a flag".into()),
                Message::Assistant {
                    text: "<tool_call>{\"name\": \"search\", \"arguments\": {\"query\": \"flag\"}}</tool_call>".into(),
                    tool_calls: vec![ToolUse {
                        id: "text_call_0".into(),
                        name: "search".into(),
                        arguments: r#"{"query":"flag"}"#.into(),
                    }],
                    calls_in_text: true,
                },
                Message::ToolResults(vec![ToolResult {
                    id: "text_call_0".into(),
                    content: "src/cli.rs".into(),
                    is_error: false,
                }]),
                Message::User("Submit now.".into()),
            ],
            tool_choice: ToolChoice::Tool("submit".into()),
            max_tokens: 100,
        }
    }

    #[test]
    fn a_text_conversation_has_no_native_tool_protocol() {
        let t = textual(&request(), true);
        assert!(t.tools.is_empty());
        assert_eq!(t.tool_choice, ToolChoice::Auto);
        assert!(
            t.system.starts_with("Find the files.\n\n# Tools"),
            "{}",
            t.system
        );
        assert!(
            t.system.contains("- search: Search the code."),
            "{}",
            t.system
        );
        assert_eq!(t.messages.len(), 3, "{:?}", t.messages);
        match &t.messages[1] {
            Message::Assistant {
                text, tool_calls, ..
            } => {
                assert!(tool_calls.is_empty());
                assert!(text.starts_with("<tool_call>"));
            }
            m => panic!("{m:?}"),
        }
        // The results, the policy's turn and the forced tool: one user turn.
        match &t.messages[2] {
            Message::User(text) => {
                assert!(
                    text.starts_with("<tool_result name=\"search\">\nsrc/cli.rs\n</tool_result>"),
                    "{text}"
                );
                assert!(text.contains("Submit now."), "{text}");
                assert!(text.contains("Now call the `submit` tool"), "{text}");
            }
            m => panic!("{m:?}"),
        }
    }

    #[test]
    fn auto_rewrites_only_the_turns_written_as_text() {
        let mut req = request();
        let t = textual(&req, false);
        assert_eq!(t.tools, req.tools, "native tools stay");
        assert_eq!(t.tool_choice, req.tool_choice);
        assert!(matches!(&t.messages[2], Message::User(s) if s.contains("<tool_result")));
        // A native turn stays native.
        if let Message::Assistant { calls_in_text, .. } = &mut req.messages[1] {
            *calls_in_text = false;
        }
        let t = textual(&req, false);
        assert_eq!(t.messages, req.messages);
    }
}
