//! A loopback stand-in for GitHub's REST API (axum on 127.0.0.1:0): each
//! test passes a handler that answers from the fixtures under
//! `fixtures/http/github/`; every request is logged with its arrival time.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// One request as the stand-in saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// Path and query.
    pub path: String,
    pub headers: HashMap<String, Vec<String>>,
    pub body: String,
    pub at: Instant,
}

impl Seen {
    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .and_then(|v| v.first())
            .map(String::as_str)
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("request body is json")
    }

    /// The path without its query.
    pub fn route(&self) -> &str {
        self.path.split('?').next().unwrap_or_default()
    }
}

/// What the stand-in answers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn new(status: u16, body: impl Into<String>) -> Reply {
        Reply {
            status,
            headers: vec![(
                "content-type".into(),
                "application/json; charset=utf-8".into(),
            )],
            body: body.into(),
        }
    }

    /// A fixture file as the body.
    pub fn fixture(status: u16, name: &str) -> Reply {
        Reply::new(status, fixture(name))
    }

    /// GitHub's error shape.
    pub fn error(status: u16, message: &str) -> Reply {
        Reply::new(
            status,
            json!({ "message": message, "documentation_url": "https://docs.github.com/rest" })
                .to_string(),
        )
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }
}

type Handler = dyn Fn(&Seen, &[Seen]) -> Reply + Send + Sync;

struct Shared {
    log: Mutex<Vec<Seen>>,
    handler: Box<Handler>,
}

/// The running stand-in; stops when dropped.
pub struct StandIn {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl StandIn {
    /// Serves `handler(request, earlier requests)` for every request.
    pub async fn start(
        handler: impl Fn(&Seen, &[Seen]) -> Reply + Send + Sync + 'static,
    ) -> StandIn {
        let shared = Arc::new(Shared {
            log: Mutex::new(Vec::new()),
            handler: Box::new(handler),
        });
        let app = axum::Router::new()
            .fallback(serve)
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("stand-in serves");
        });
        StandIn { addr, shared, task }
    }

    /// The base URL to give the client.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.shared.log.lock().expect("log lock").clone()
    }

    /// Requests with this method whose path (without query) is `route`.
    pub fn count(&self, method: &str, route: &str) -> usize {
        self.requests()
            .iter()
            .filter(|s| s.method == method && s.route() == route)
            .count()
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for (name, value) in &headers {
        map.entry(name.as_str().to_string())
            .or_default()
            .push(value.to_str().unwrap_or_default().to_string());
    }
    let seen = Seen {
        method: method.to_string(),
        path: uri
            .path_and_query()
            .map(|pq| pq.as_str().to_string())
            .unwrap_or_default(),
        headers: map,
        body: String::from_utf8_lossy(&body).into_owned(),
        at: Instant::now(),
    };
    let reply = {
        let mut log = shared.log.lock().expect("log lock");
        let reply = (shared.handler)(&seen, &log);
        log.push(seen);
        reply
    };
    let mut response = (
        axum::http::StatusCode::from_u16(reply.status).expect("valid status"),
        reply.body,
    )
        .into_response();
    for (name, value) in reply.headers {
        response.headers_mut().insert(
            axum::http::HeaderName::from_bytes(name.as_bytes()).expect("header name"),
            value.parse().expect("header value"),
        );
    }
    response
}

pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/http/github")
        .join(name)
}

pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(fixture_path(name)).expect("fixture exists")
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// `2024-06-01T12:00:00Z` for unix seconds.
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The comments of one issue, as GitHub keeps them: `GET` lists, `POST`
/// adds, `PATCH /repos/o/r/issues/comments/{id}` edits.
#[derive(Default)]
pub struct CommentStore {
    comments: Mutex<Vec<(u64, String)>>,
}

impl CommentStore {
    pub fn with(comments: Vec<(u64, String)>) -> CommentStore {
        CommentStore {
            comments: Mutex::new(comments),
        }
    }

    pub fn bodies(&self) -> Vec<(u64, String)> {
        self.comments.lock().expect("store lock").clone()
    }

    /// Adds a comment as if GitHub had taken a POST (a POST that answered 5xx
    /// but landed).
    pub fn add(&self, body: &str) -> u64 {
        let mut c = self.comments.lock().expect("store lock");
        let id = 5000 + c.len() as u64;
        c.push((id, body.to_string()));
        id
    }

    /// Answers the comment routes of `owner/name` issue `number`; `None` for
    /// any other request.
    pub fn answer(&self, seen: &Seen, repo: &str, number: u64) -> Option<Reply> {
        let list = format!("/repos/{repo}/issues/{number}/comments");
        let one = format!("/repos/{repo}/issues/comments/");
        if seen.route() == list && seen.method == "GET" {
            let all: Vec<Value> = self
                .bodies()
                .iter()
                .map(|(id, b)| comment(*id, b))
                .collect();
            return Some(Reply::new(200, Value::Array(all).to_string()));
        }
        if seen.route() == list && seen.method == "POST" {
            let body = seen.json()["body"].as_str().expect("body").to_string();
            let id = self.add(&body);
            return Some(Reply::new(201, comment(id, &body).to_string()));
        }
        if let Some(id) = seen.route().strip_prefix(&one) {
            if seen.method != "PATCH" {
                return None;
            }
            let id: u64 = id.parse().expect("comment id");
            let body = seen.json()["body"].as_str().expect("body").to_string();
            let mut c = self.comments.lock().expect("store lock");
            return Some(match c.iter_mut().find(|(i, _)| *i == id) {
                Some(entry) => {
                    entry.1 = body.clone();
                    Reply::new(200, comment(id, &body).to_string())
                }
                None => Reply::fixture(404, "not-found.json"),
            });
        }
        None
    }
}

/// The fixture comment with another id and body.
pub fn comment(id: u64, body: &str) -> Value {
    let mut c: Value = serde_json::from_str(&fixture("issue-comment.json")).expect("fixture json");
    c["id"] = json!(id);
    c["html_url"] = json!(format!(
        "https://github.com/octocat/Hello-World/issues/1347#issuecomment-{id}"
    ));
    c["body"] = json!(body);
    c
}
