//! The OpenAI-compatible wire format: `POST {base}/v1/chat/completions`
//! with `tools` and `tool_calls`, non-streaming. Spoken by OpenAI, Ollama,
//! vLLM, llama.cpp's server, LM Studio and OpenRouter. Pure: bodies in,
//! bodies out.

use serde_json::{Value, json};

use super::message::{ChatRequest, Message, ToolChoice, ToolUse, Usage};

pub const PATH: &str = "/v1/chat/completions";

/// The request body for `req`; `extra` fields are merged in last.
pub fn encode(req: &ChatRequest, model: &str, extra: &serde_json::Map<String, Value>) -> Value {
    let mut messages = vec![json!({"role": "system", "content": req.system})];
    for m in &req.messages {
        match m {
            Message::User(text) => messages.push(json!({"role": "user", "content": text})),
            Message::Assistant {
                text, tool_calls, ..
            } => {
                let mut msg = json!({
                    "role": "assistant",
                    // "" rather than null: some servers (llama-cpp-python)
                    // refuse an assistant message whose content is null.
                    "content": text,
                });
                if !tool_calls.is_empty() {
                    msg["tool_calls"] = tool_calls
                        .iter()
                        .map(|c| {
                            json!({
                                "id": c.id,
                                "type": "function",
                                "function": {"name": c.name, "arguments": c.arguments},
                            })
                        })
                        .collect();
                }
                messages.push(msg);
            }
            Message::ToolResults(results) => {
                for r in results {
                    messages.push(json!({
                        "role": "tool",
                        "tool_call_id": r.id,
                        "content": r.content,
                    }));
                }
            }
        }
    }
    let mut body = json!({
        "model": model,
        "messages": messages,
        "max_tokens": req.max_tokens,
        "stream": false,
    });
    if !req.tools.is_empty() {
        body["tools"] = req
            .tools
            .iter()
            .map(|t| {
                json!({
                    "type": "function",
                    "function": {
                        "name": t.name,
                        "description": t.description,
                        "parameters": t.parameters,
                    },
                })
            })
            .collect();
        body["tool_choice"] = match &req.tool_choice {
            ToolChoice::Auto => json!("auto"),
            ToolChoice::Required => json!("required"),
            ToolChoice::Tool(name) => json!({"type": "function", "function": {"name": name}}),
        };
    }
    if let Value::Object(map) = &mut body {
        for (k, v) in extra {
            map.insert(k.clone(), v.clone());
        }
    }
    body
}

/// The reply's text, tool calls, usage and finish reason.
pub fn decode(body: &Value) -> Result<(String, Vec<ToolUse>, Usage, String), String> {
    let choice = body
        .get("choices")
        .and_then(|c| c.get(0))
        .ok_or("no `choices[0]` in the reply")?;
    let msg = choice
        .get("message")
        .ok_or("no `message` in `choices[0]`")?;
    let text = msg
        .get("content")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let mut calls = Vec::new();
    for (i, c) in msg
        .get("tool_calls")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let f = c.get("function").ok_or("a tool call without `function`")?;
        let arguments = match f.get("arguments") {
            Some(Value::String(s)) => s.clone(),
            // Some servers send the arguments as an object.
            Some(v @ Value::Object(_)) => v.to_string(),
            _ => String::new(),
        };
        calls.push(ToolUse {
            id: c
                .get("id")
                .and_then(Value::as_str)
                .map_or_else(|| format!("call_{i}"), str::to_string),
            name: f
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            arguments,
        });
    }
    let u = body.get("usage").cloned().unwrap_or(Value::Null);
    let n = |v: Option<&Value>| v.and_then(Value::as_u64).unwrap_or(0);
    let prompt = n(u.get("prompt_tokens"));
    let cached = n(u.pointer("/prompt_tokens_details/cached_tokens"));
    let usage = Usage {
        input: prompt.saturating_sub(cached),
        output: n(u.get("completion_tokens")),
        cache_read: cached.min(prompt),
        cache_write: 0,
    };
    let stop = choice
        .get("finish_reason")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    Ok((text, calls, usage, stop))
}

#[cfg(test)]
mod tests {
    use super::super::message::{ToolResult, ToolSpec};
    use super::*;

    #[test]
    fn round_trip_of_a_tool_turn() {
        let req = ChatRequest {
            system: "sys".into(),
            tools: vec![ToolSpec {
                name: "search".into(),
                description: "d".into(),
                parameters: json!({"type": "object"}),
            }],
            messages: vec![
                Message::User("find it".into()),
                Message::Assistant {
                    text: String::new(),
                    tool_calls: vec![ToolUse {
                        id: "c1".into(),
                        name: "search".into(),
                        arguments: "{\"query\":\"x\",\"k\":3}".into(),
                    }],
                    calls_in_text: false,
                },
                Message::ToolResults(vec![ToolResult {
                    id: "c1".into(),
                    content: "a.rs".into(),
                    is_error: false,
                }]),
            ],
            tool_choice: ToolChoice::Tool("submit".into()),
            max_tokens: 100,
        };
        let mut extra = serde_json::Map::new();
        extra.insert("temperature".into(), json!(0));
        let b = encode(&req, "m", &extra);
        assert_eq!(b["messages"][0]["role"], "system");
        // "" and never null: llama-cpp-python rejects a null content.
        assert_eq!(b["messages"][2]["content"], "");
        assert_eq!(
            b["messages"][2]["tool_calls"][0]["function"]["name"],
            "search"
        );
        assert_eq!(b["messages"][3]["role"], "tool");
        assert_eq!(b["messages"][3]["tool_call_id"], "c1");
        assert_eq!(b["tool_choice"]["function"]["name"], "submit");
        assert_eq!(b["temperature"], 0);
        assert_eq!(b["stream"], false);
        let reply = json!({
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                "role": "assistant", "content": null,
                "tool_calls": [{"id": "c2", "type": "function", "function": {"name": "submit", "arguments": "{\"files\":[\"a.rs\"]}"}}]}}],
            "usage": {"prompt_tokens": 120, "completion_tokens": 9, "total_tokens": 129,
                      "prompt_tokens_details": {"cached_tokens": 100}}
        });
        let (text, calls, usage, stop) = decode(&reply).expect("decodes");
        assert_eq!(text, "");
        assert_eq!(calls[0].name, "submit");
        assert_eq!(usage.input, 20);
        assert_eq!(usage.cache_read, 100);
        assert_eq!(usage.prompt(), 120);
        assert_eq!(stop, "tool_calls");
        assert!(decode(&json!({"error": "x"})).is_err());
    }
}
