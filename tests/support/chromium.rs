//! A headless Chromium driven through the DevTools protocol over a pipe
//! (`--remote-debugging-pipe`: JSON messages ended by NUL on file
//! descriptors 3 and 4), so tests click, type and take screenshots of a
//! real browser with no WebDriver and no WebSocket library.
//!
//! Chromium comes from Debian's `chromium` package, which `.ci/run`
//! installs. Without it the tests that need it fail and say how to install
//! it, unless `SKIP_BROWSER_TESTS=1` asks for a loud skip (what
//! `.ci/run` sets only where it cannot install a browser).

#![allow(dead_code)]

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// How long one protocol answer or awaited event may take.
const ANSWER: Duration = Duration::from_secs(60);

/// The browser binary: `CHROMIUM_BIN`, else `chromium` (Debian),
/// `chromium-browser` or `google-chrome` on `PATH`. `None` means the test
/// returns early after a loud skip; a missing browser without
/// `SKIP_BROWSER_TESTS=1` panics with how to install one.
pub fn find() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CHROMIUM_BIN") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    if std::env::var_os("SKIP_BROWSER_TESTS").is_some_and(|v| v == "1") {
        eprintln!(
            "\n*** SKIPPED: no Chromium, and SKIP_BROWSER_TESTS=1: the page's browser test did not run ***\n"
        );
        return None;
    }
    panic!(
        "this test drives a headless Chromium and found none: install it (Debian: `apt-get install -y chromium`, as .ci/run does), point CHROMIUM_BIN at one, or set SKIP_BROWSER_TESTS=1 to skip it loudly"
    );
}

/// Basic credentials the browser gives when a page asks for them, as a
/// person would type them into its password prompt.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

/// One browser with one page (tab) attached.
pub struct Browser {
    child: Child,
    to_browser: File,
    from_browser: Receiver<Value>,
    next_id: u64,
    session: String,
    /// Events seen so far (console and log entries, among others).
    pub events: Vec<Value>,
    credentials: Option<Credentials>,
    _profile: tempfile::TempDir,
}

fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    let r = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(r, 0, "pipe2: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors were just opened and are owned here.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

impl Browser {
    /// Starts `binary` headless with a fresh profile and a 1280 × 900 page.
    pub fn start(binary: &std::path::Path) -> Browser {
        let profile = tempfile::Builder::new()
            .prefix("swe-sleep-chromium-")
            .tempdir()
            .expect("a profile directory");
        let (cmd_read, cmd_write) = pipe();
        let (out_read, out_write) = pipe();
        let (cr, ow) = (cmd_read.as_raw_fd(), out_write.as_raw_fd());
        let mut command = Command::new(binary);
        command
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--hide-scrollbars",
                "--remote-debugging-pipe",
                "--window-size=1280,900",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: only async-signal-safe calls (fcntl, dup2) between fork
        // and exec. The copies above 10 keep 3 and 4 free of the originals;
        // dup2 clears close-on-exec on the descriptors Chromium reads.
        unsafe {
            command.pre_exec(move || {
                let a = libc::fcntl(cr, libc::F_DUPFD_CLOEXEC, 10);
                let b = libc::fcntl(ow, libc::F_DUPFD_CLOEXEC, 10);
                if a < 0 || b < 0 || libc::dup2(a, 3) < 0 || libc::dup2(b, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().expect("chromium starts");
        drop(cmd_read);
        drop(out_write);
        let (tx, rx) = channel();
        let reader = File::from(out_read);
        std::thread::spawn(move || {
            let mut reader = BufReader::new(reader);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match reader.read_until(0, &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if buf.last() == Some(&0) {
                            buf.pop();
                        }
                        if let Ok(v) = serde_json::from_slice::<Value>(&buf)
                            && tx.send(v).is_err()
                        {
                            break;
                        }
                    }
                }
            }
        });
        let mut b = Browser {
            child,
            to_browser: File::from(cmd_write),
            from_browser: rx,
            next_id: 0,
            session: String::new(),
            events: Vec::new(),
            credentials: None,
            _profile: profile,
        };
        let target = b.browser_call("Target.createTarget", json!({ "url": "about:blank" }));
        let target_id = target["targetId"]
            .as_str()
            .expect("a target id")
            .to_string();
        let attached = b.browser_call(
            "Target.attachToTarget",
            json!({ "targetId": target_id, "flatten": true }),
        );
        b.session = attached["sessionId"]
            .as_str()
            .expect("a session id")
            .to_string();
        for domain in ["Page.enable", "Runtime.enable", "Log.enable"] {
            b.call(domain, json!({}));
        }
        b.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": false }),
        );
        b
    }

    /// Answers the page's password prompts with `creds` (through the
    /// `Fetch` domain, which then sees every request).
    pub fn answer_password_prompts(&mut self, creds: Credentials) {
        self.credentials = Some(creds);
        self.call("Fetch.enable", json!({ "handleAuthRequests": true }));
    }

    fn send(&mut self, session: bool, method: &str, params: Value) -> u64 {
        self.next_id += 1;
        let mut msg = json!({ "id": self.next_id, "method": method, "params": params });
        if session {
            msg["sessionId"] = json!(self.session);
        }
        let mut bytes = serde_json::to_vec(&msg).expect("JSON");
        bytes.push(0);
        self.to_browser
            .write_all(&bytes)
            .expect("the browser reads its pipe");
        self.next_id
    }

    /// The next message, or a panic naming what was awaited.
    fn next(&mut self, what: &str, until: Instant) -> Value {
        let left = until.saturating_duration_since(Instant::now());
        match self.from_browser.recv_timeout(left) {
            Ok(v) => v,
            Err(RecvTimeoutError::Timeout) => panic!("chromium never sent {what}"),
            Err(RecvTimeoutError::Disconnected) => panic!("chromium exited while awaiting {what}"),
        }
    }

    /// Answers what the browser waits on (paused requests, password
    /// prompts) and keeps every event.
    fn on_event(&mut self, v: Value) {
        match v["method"].as_str() {
            Some("Fetch.requestPaused") => {
                let id = v["params"]["requestId"].clone();
                self.send(true, "Fetch.continueRequest", json!({ "requestId": id }));
            }
            Some("Fetch.authRequired") => {
                let id = v["params"]["requestId"].clone();
                let response = match &self.credentials {
                    Some(c) => json!({
                        "response": "ProvideCredentials",
                        "username": c.user,
                        "password": c.password
                    }),
                    None => json!({ "response": "CancelAuth" }),
                };
                self.send(
                    true,
                    "Fetch.continueWithAuth",
                    json!({ "requestId": id, "authChallengeResponse": response }),
                );
            }
            _ => {}
        }
        self.events.push(v);
    }

    fn await_result(&mut self, id: u64, method: &str) -> Value {
        let until = Instant::now() + ANSWER;
        loop {
            let v = self.next(&format!("an answer to {method}"), until);
            if v["id"].as_u64() == Some(id) {
                if let Some(e) = v.get("error") {
                    panic!("{method} failed: {e}");
                }
                return v["result"].clone();
            }
            if v.get("method").is_some() {
                self.on_event(v);
            }
        }
    }

    fn browser_call(&mut self, method: &str, params: Value) -> Value {
        let id = self.send(false, method, params);
        self.await_result(id, method)
    }

    /// A command to the page; its result.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.send(true, method, params);
        self.await_result(id, method)
    }

    /// Waits for an event of the page named `method`.
    pub fn wait_event(&mut self, method: &str) -> Value {
        if let Some(i) = self
            .events
            .iter()
            .position(|e| e["method"] == method && e["sessionId"] == self.session.as_str())
        {
            return self.events.remove(i);
        }
        let until = Instant::now() + ANSWER;
        loop {
            let v = self.next(method, until);
            if v["method"] == method {
                return v;
            }
            if v.get("method").is_some() {
                self.on_event(v);
            }
        }
    }

    /// Opens `url` and waits for its load event.
    pub fn open(&mut self, url: &str) {
        self.events.retain(|e| e["method"] != "Page.loadEventFired");
        let r = self.call("Page.navigate", json!({ "url": url }));
        if let Some(e) = r.get("errorText") {
            panic!("opening {url} failed: {e}");
        }
        self.wait_event("Page.loadEventFired");
    }

    /// The value of a JavaScript expression (promises awaited).
    pub fn eval(&mut self, expression: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
        );
        if let Some(e) = r.get("exceptionDetails") {
            panic!("{expression} threw: {e}");
        }
        r["result"]["value"].clone()
    }

    /// Evaluates `condition` until it is true (at most a minute); the
    /// browser's own work between checks is what is waited for.
    pub fn wait_until(&mut self, condition: &str) {
        let until = Instant::now() + ANSWER;
        while self.eval(condition) != json!(true) {
            assert!(
                Instant::now() < until,
                "never true in the page: {condition}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The centre of the first element matching `selector`, in CSS pixels.
    pub fn centre(&mut self, selector: &str) -> (f64, f64) {
        let v = self.eval(&format!(
            "(() => {{ const e = document.querySelector({sel}); if (!e) return null; e.scrollIntoView({{block: 'center'}}); const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }})()",
            sel = json!(selector)
        ));
        let xy = v
            .as_array()
            .unwrap_or_else(|| panic!("no element {selector} on the page"));
        (xy[0].as_f64().expect("x"), xy[1].as_f64().expect("y"))
    }

    /// A left click on the element, as a mouse gives it.
    pub fn click(&mut self, selector: &str) {
        let (x, y) = self.centre(selector);
        for kind in ["mouseMoved", "mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({ "type": kind, "x": x, "y": y, "button": "left", "clickCount": 1 }),
            );
        }
    }

    /// Types `text` where the focus is.
    pub fn type_text(&mut self, text: &str) {
        self.call("Input.insertText", json!({ "text": text }));
    }

    /// A PNG of the whole page (the viewport grown to its height).
    pub fn screenshot(&mut self) -> Vec<u8> {
        self.eval("window.scrollTo(0, 0)");
        let height = self
            .eval("Math.ceil(document.documentElement.scrollHeight)")
            .as_f64()
            .expect("a height");
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": 1280, "height": height, "deviceScaleFactor": 1, "mobile": false }),
        );
        let shot = self.call("Page.captureScreenshot", json!({ "format": "png" }));
        base64_decode(shot["data"].as_str().expect("base64 data"))
    }

    /// Messages the page logged as errors (CSP violations among them).
    pub fn errors(&self) -> Vec<String> {
        self.events
            .iter()
            .filter(|e| {
                (e["method"] == "Log.entryAdded" && e["params"]["entry"]["level"] == "error")
                    || e["method"] == "Runtime.exceptionThrown"
            })
            .map(|e| e["params"].to_string())
            .collect()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Standard base64 (the protocol's binary data).
pub fn base64_decode(s: &str) -> Vec<u8> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes() {
        let Some(v) = value(c) else { continue };
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}
