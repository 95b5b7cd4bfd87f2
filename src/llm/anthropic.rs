//! Anthropic's Messages API: `POST {base}/v1/messages` with `tool_use` and
//! `tool_result` content blocks, `x-api-key` and `anthropic-version:
//! 2023-06-01`, non-streaming. `cache_control` marks the stable prefix (the
//! tools and the system prompt) and the conversation so far, so each turn
//! reads the previous turns from the cache. Pure.

use serde_json::{Value, json};

use super::message::{ChatRequest, Message, ToolChoice, ToolUse, Usage};

pub const PATH: &str = "/v1/messages";
pub const VERSION: &str = "2023-06-01";

/// The request body for `req`; `extra` fields are merged in last.
pub fn encode(req: &ChatRequest, model: &str, extra: &serde_json::Map<String, Value>) -> Value {
    // Tool results travel in a user turn, and turns must alternate: merge
    // consecutive user-side messages into one turn of several blocks.
    let mut turns: Vec<(&str, Vec<Value>)> = Vec::new();
    for m in &req.messages {
        let (role, blocks): (&str, Vec<Value>) = match m {
            Message::User(text) => ("user", vec![json!({"type": "text", "text": text})]),
            Message::Assistant {
                text, tool_calls, ..
            } => {
                let mut b = Vec::new();
                if !text.is_empty() {
                    b.push(json!({"type": "text", "text": text}));
                }
                for c in tool_calls {
                    let input: Value = serde_json::from_str(&c.arguments)
                        .ok()
                        .filter(Value::is_object)
                        .unwrap_or_else(|| json!({}));
                    b.push(json!({"type": "tool_use", "id": c.id, "name": c.name, "input": input}));
                }
                ("assistant", b)
            }
            Message::ToolResults(results) => (
                "user",
                results
                    .iter()
                    .map(|r| {
                        let mut v = json!({"type": "tool_result", "tool_use_id": r.id, "content": r.content});
                        if r.is_error {
                            v["is_error"] = json!(true);
                        }
                        v
                    })
                    .collect(),
            ),
        };
        match turns.last_mut() {
            Some((last, b)) if *last == role => b.extend(blocks),
            _ => turns.push((role, blocks)),
        }
    }
    // Cache the conversation up to its last block: the next turn reads it.
    if let Some(block) = turns.last_mut().and_then(|(_, blocks)| blocks.last_mut()) {
        block["cache_control"] = json!({"type": "ephemeral"});
    }
    let messages: Vec<Value> = turns
        .into_iter()
        .map(|(role, content)| json!({"role": role, "content": content}))
        .collect();
    let mut body = json!({
        "model": model,
        "max_tokens": req.max_tokens,
        "system": [{"type": "text", "text": req.system, "cache_control": {"type": "ephemeral"}}],
        "messages": messages,
    });
    if !req.tools.is_empty() {
        body["tools"] = req
            .tools
            .iter()
            .map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.parameters}))
            .collect();
        body["tool_choice"] = match &req.tool_choice {
            ToolChoice::Auto => json!({"type": "auto"}),
            ToolChoice::Required => json!({"type": "any"}),
            ToolChoice::Tool(name) => json!({"type": "tool", "name": name}),
        };
    }
    if let Value::Object(map) = &mut body {
        for (k, v) in extra {
            map.insert(k.clone(), v.clone());
        }
    }
    body
}

/// The reply's text, tool calls, usage and stop reason.
pub fn decode(body: &Value) -> Result<(String, Vec<ToolUse>, Usage, String), String> {
    let content = body
        .get("content")
        .and_then(Value::as_array)
        .ok_or("no `content` array in the reply")?;
    let mut text = String::new();
    let mut calls = Vec::new();
    for (i, b) in content.iter().enumerate() {
        match b.get("type").and_then(Value::as_str) {
            Some("text") => text.push_str(b.get("text").and_then(Value::as_str).unwrap_or("")),
            Some("tool_use") => calls.push(ToolUse {
                id: b
                    .get("id")
                    .and_then(Value::as_str)
                    .map_or_else(|| format!("toolu_{i}"), str::to_string),
                name: b
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                arguments: b.get("input").cloned().unwrap_or(json!({})).to_string(),
            }),
            _ => {}
        }
    }
    let u = body.get("usage").cloned().unwrap_or(Value::Null);
    let n = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
    let usage = Usage {
        input: n("input_tokens"),
        output: n("output_tokens"),
        cache_read: n("cache_read_input_tokens"),
        cache_write: n("cache_creation_input_tokens"),
    };
    let stop = body
        .get("stop_reason")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    Ok((text, calls, usage, stop))
}

#[cfg(test)]
mod tests {
    use super::super::message::ToolResult;
    use super::*;

    #[test]
    fn tool_results_and_a_note_share_one_user_turn() {
        let req = ChatRequest {
            system: "sys".into(),
            tools: vec![],
            messages: vec![
                Message::User("q".into()),
                Message::Assistant {
                    text: "looking".into(),
                    tool_calls: vec![ToolUse {
                        id: "t1".into(),
                        name: "card".into(),
                        arguments: "{\"path\":\"a.rs\"}".into(),
                    }],
                    calls_in_text: false,
                },
                Message::ToolResults(vec![ToolResult {
                    id: "t1".into(),
                    content: "card".into(),
                    is_error: true,
                }]),
                Message::User("submit now".into()),
            ],
            tool_choice: ToolChoice::Auto,
            max_tokens: 10,
        };
        let b = encode(&req, "claude", &serde_json::Map::new());
        let m = b["messages"].as_array().expect("messages");
        assert_eq!(m.len(), 3);
        assert_eq!(m[1]["content"][1]["input"]["path"], "a.rs");
        assert_eq!(m[2]["content"][0]["type"], "tool_result");
        assert_eq!(m[2]["content"][0]["is_error"], true);
        assert_eq!(m[2]["content"][1]["cache_control"]["type"], "ephemeral");
        assert_eq!(b["system"][0]["cache_control"]["type"], "ephemeral");
        assert!(b.get("tools").is_none());
        let reply = json!({"id": "msg_1", "type": "message", "role": "assistant",
            "content": [{"type": "text", "text": "ok"}, {"type": "tool_use", "id": "t2", "name": "submit", "input": {"files": ["a.rs"]}}],
            "stop_reason": "tool_use",
            "usage": {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 90, "cache_creation_input_tokens": 7}});
        let (text, calls, usage, stop) = decode(&reply).expect("decodes");
        assert_eq!(text, "ok");
        assert_eq!(calls[0].arguments, "{\"files\":[\"a.rs\"]}");
        assert_eq!(usage.prompt(), 107);
        assert_eq!(stop, "tool_use");
    }
}
