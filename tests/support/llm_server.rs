//! Loopback stand-ins for model servers: axum on `127.0.0.1:0`, speaking
//! the OpenAI chat completions and Anthropic Messages formats with the
//! reply bodies of `fixtures/http/llm/`, in a scripted order. Each reply's
//! `usage` is rewritten from the request actually received (cl100k tokens
//! of what was sent and returned, times `inflate`), and every exchange is
//! kept for the test to inspect.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::{Value, json};

use swe_sleep::tokens;

/// Which wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    OpenAi,
    Anthropic,
}

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl Reply {
    /// `fixtures/http/llm/<name>` with status 200.
    pub fn fixture(name: &str) -> Reply {
        Reply {
            status: 200,
            headers: Vec::new(),
            body: load(name),
        }
    }

    pub fn status(mut self, status: u16) -> Reply {
        self.status = status;
        self
    }

    pub fn header(mut self, k: &str, v: &str) -> Reply {
        self.headers.push((k.into(), v.into()));
        self
    }
}

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/http/llm")
}

pub fn load(name: &str) -> Value {
    let p = fixtures_dir().join(name);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// One request as received and the reply sent.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub request: Value,
    pub status: u16,
    pub reply: Value,
}

impl Exchange {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

type Script = Box<dyn Fn(usize, &Value) -> Reply + Send + Sync>;

struct State {
    wire: Wire,
    script: Script,
    inflate: f64,
    log: Mutex<Vec<Exchange>>,
}

/// A running stand-in; it lives until the test process ends.
pub struct StandIn {
    pub url: String,
    state: Arc<State>,
}

impl StandIn {
    /// Answers the n-th request with `replies[n]` (the last one repeats).
    pub fn scripted(wire: Wire, replies: Vec<Reply>) -> StandIn {
        assert!(!replies.is_empty());
        StandIn::with(wire, 1.0, move |i, _| {
            replies[i.min(replies.len() - 1)].clone()
        })
    }

    /// Answers with `script(n, request)`; usage is scaled by `inflate`.
    pub fn with(
        wire: Wire,
        inflate: f64,
        script: impl Fn(usize, &Value) -> Reply + Send + Sync + 'static,
    ) -> StandIn {
        let state = Arc::new(State {
            wire,
            script: Box::new(script),
            inflate,
            log: Mutex::new(Vec::new()),
        });
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.set_nonblocking(true).expect("nonblocking");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let st = state.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let app = Router::new().fallback(
                    move |uri: axum::http::Uri, headers: HeaderMap, body: Bytes| {
                        let st = st.clone();
                        async move { handle(&st, uri.path(), &headers, &body) }
                    },
                );
                axum::serve(listener, app).await.expect("serve");
            });
        });
        StandIn { url, state }
    }

    pub fn exchanges(&self) -> Vec<Exchange> {
        self.state.log.lock().expect("log").clone()
    }

    /// Sum of the usage the stand-in reported in successful replies:
    /// (prompt tokens, output tokens).
    pub fn reported(&self) -> (u64, u64) {
        let mut total = (0, 0);
        for e in self.exchanges().iter().filter(|e| e.status == 200) {
            let (p, o) = usage_of(self.state.wire, &e.reply);
            total.0 += p;
            total.1 += o;
        }
        total
    }
}

/// (whole prompt, output) of a reply's `usage`.
pub fn usage_of(wire: Wire, reply: &Value) -> (u64, u64) {
    let u = &reply["usage"];
    let n = |k: &str| u[k].as_u64().unwrap_or(0);
    match wire {
        Wire::OpenAi => (n("prompt_tokens"), n("completion_tokens")),
        Wire::Anthropic => (
            n("input_tokens") + n("cache_read_input_tokens") + n("cache_creation_input_tokens"),
            n("output_tokens"),
        ),
    }
}

fn handle(st: &State, path: &str, headers: &HeaderMap, body: &[u8]) -> axum::response::Response {
    let request: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let n = st.log.lock().expect("log").len();
    let expected = match st.wire {
        Wire::OpenAi => "/v1/chat/completions",
        Wire::Anthropic => "/v1/messages",
    };
    let mut reply = if path == expected {
        (st.script)(n, &request)
    } else {
        Reply {
            status: 404,
            headers: Vec::new(),
            body: json!({"error": {"message": format!("no route {path}")}}),
        }
    };
    if reply.status == 200 {
        set_usage(st.wire, &request, &mut reply.body, st.inflate);
    }
    st.log.lock().expect("log").push(Exchange {
        path: path.to_string(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect(),
        request,
        status: reply.status,
        reply: reply.body.clone(),
    });
    let mut resp = (
        StatusCode::from_u16(reply.status).expect("status"),
        axum::Json(reply.body),
    )
        .into_response();
    for (k, v) in reply.headers {
        resp.headers_mut().insert(
            axum::http::HeaderName::from_bytes(k.as_bytes()).expect("header name"),
            v.parse().expect("header value"),
        );
    }
    resp
}

/// Tokens of every string in `v` (keys included), a few per object.
fn count_json(v: &Value) -> u64 {
    match v {
        Value::String(s) => tokens::count(s),
        Value::Array(a) => a.iter().map(count_json).sum(),
        Value::Object(m) => {
            2 + m
                .iter()
                .map(|(k, v)| tokens::count(k) + count_json(v))
                .sum::<u64>()
        }
        _ => 1,
    }
}

fn content_tokens(request: &Value) -> u64 {
    let mut total = count_json(&request["tools"]);
    match &request["system"] {
        Value::Null => {}
        s => total += count_json(s),
    }
    for m in request["messages"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        total += 4 + count_json(&m["content"]) + count_json(&m["tool_calls"]);
    }
    total
}

fn set_usage(wire: Wire, request: &Value, reply: &mut Value, inflate: f64) {
    let prompt = (content_tokens(request) as f64 * inflate) as u64;
    let output = match wire {
        Wire::OpenAi => {
            let m = &reply["choices"][0]["message"];
            count_json(&m["content"]) + count_json(&m["tool_calls"])
        }
        Wire::Anthropic => count_json(&reply["content"]),
    };
    let output = (output as f64 * inflate) as u64;
    match wire {
        Wire::OpenAi => {
            reply["usage"] = json!({
                "prompt_tokens": prompt, "completion_tokens": output,
                "total_tokens": prompt + output,
                "prompt_tokens_details": {"cached_tokens": 0}
            });
        }
        Wire::Anthropic => {
            reply["usage"] = json!({
                "input_tokens": prompt, "output_tokens": output,
                "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0
            });
        }
    }
}
