//! The daemon's page, `GET /`, end to end: a daemon in process beside the
//! cookbook fixture, and a real headless Chromium (Debian's package, see
//! `support::chromium`) that opens the page, types a request into its form,
//! clicks Predict and reads the answer; the screenshot must show each key
//! element (pixels drawn inside its box, and the element on top there).
//! With an access token the browser gets in only with the token as its
//! password; without one, raw HTTP shows the refusal. The page escapes
//! what it shows and carries a strict Content-Security-Policy.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use swe_sleep::secret::SecretSource;

use support::chromium::{self, Browser, Credentials};
use support::daemon::{Running, config};
use support::http::json as http_json;
use support::{fixture_copy, git, temp_dir};

const TOKEN: &str = "swe-sleep-page-token-0123456789";

/// A daemon beside `repo`, with `token` as its access token.
fn start(repo: &Path, state: &Path, token: Option<&Path>) -> Running {
    start_with(repo, state, token, None)
}

/// With `webhook_secret`, the GitHub side runs (its queue in `state`).
fn start_with(
    repo: &Path,
    state: &Path,
    token: Option<&Path>,
    webhook_secret: Option<&Path>,
) -> Running {
    let mut cfg = config(repo, state);
    if let Some(s) = webhook_secret {
        cfg.config.github.webhook_secret = SecretSource::from_file(s);
        cfg.config.github.repo = "cook/book".into();
    }
    if let Some(t) = token {
        cfg.config.daemon.token = SecretSource::from_file(t);
    }
    Running::start(cfg)
}

/// One raw GET with extra headers; the whole answer's head and body.
fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("a read timeout");
    let mut text = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        text.push_str(&format!("{k}: {v}\r\n"));
    }
    text.push_str("\r\n");
    s.write_all(text.as_bytes()).expect("send");
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = answer.split_once("\r\n\r\n").expect("a header block");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("a status");
    (status, head.to_ascii_lowercase(), body.to_string())
}

/// Waits until the daemon's first sleep is done (its notebook at HEAD).
fn wait_for_notebook(addr: SocketAddr, auth: &[(&str, &str)], head: &str) {
    let until = Instant::now() + Duration::from_secs(120);
    loop {
        let (code, v) = support::http::request(addr, "GET", "/status", auth, b"");
        let v: Value = serde_json::from_str(&v).unwrap_or(Value::Null);
        if code == 200 && v["commit"] == head && v["sleeps_total"].as_u64() >= Some(1) {
            return;
        }
        assert!(Instant::now() < until, "no notebook: {code} {v}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Checks the screenshot shows `selector`: the element is on top at its
/// centre, and its box in the PNG holds more than one colour.
fn shows(browser: &mut Browser, png: &image::Image, selector: &str) {
    let v = browser.eval(&format!(
        "(() => {{ const e = document.querySelector({sel}); if (!e) return null; const r = e.getBoundingClientRect(); const top = document.elementFromPoint(r.x + r.width / 2, r.y + Math.min(r.height / 2, 8)); return {{x: r.x + window.scrollX, y: r.y + window.scrollY, w: r.width, h: r.height, onTop: !!top && (e === top || e.contains(top)), visible: getComputedStyle(e).visibility !== 'hidden' && !e.hidden}}; }})()",
        sel = json!(selector)
    ));
    assert!(v.is_object(), "{selector} is not on the page");
    assert_eq!(v["visible"], true, "{selector} is hidden: {v}");
    assert_eq!(v["onTop"], true, "{selector} is covered: {v}");
    let (x, y, w, h) = (
        v["x"].as_f64().expect("x"),
        v["y"].as_f64().expect("y"),
        v["w"].as_f64().expect("w"),
        v["h"].as_f64().expect("h"),
    );
    assert!(w >= 20.0 && h >= 10.0, "{selector} is too small: {v}");
    let colours = png.colours_in(x as u32, y as u32, w as u32, h as u32);
    assert!(
        colours >= 2,
        "{selector} draws nothing in the screenshot ({colours} colour in {v})"
    );
}

/// What every page test checks in the browser: the sections, the sleep
/// and prediction the daemon already made, the form's answer, the
/// screenshot, and no error in the console (a CSP violation is one).
fn check_page_in(browser: &mut Browser, url: &str, shot: &str) {
    browser.open(url);
    let title = browser.eval("document.title");
    assert!(
        title.as_str().unwrap_or("").starts_with("swe-sleep · "),
        "{title}"
    );
    let text = browser.eval("document.body.innerText");
    let text = text.as_str().expect("text");
    for needle in [
        "Describes the work tree at",
        "Up to date with HEAD",
        "Last sleeps",
        "Sleep-time learning",
        "Recent predictions (API)",
        "Add unit conversion for teaspoons",
        "src/units.rs",
        "GitHub",
        "cook/book #7",
        "pull request",
    ] {
        assert!(
            text.contains(needle),
            "{needle:?} missing from the page:\n{text}"
        );
    }
    assert!(
        browser
            .eval("document.querySelectorAll('#sleep-table tbody tr').length")
            .as_u64()
            >= Some(1)
    );

    // A person types a request and clicks Predict.
    browser.click("#request");
    browser.type_text("Scale a recipe to a number of servings\n\nservings in the cli");
    browser.click("#predict-button");
    browser.wait_until("document.body.dataset.answered !== undefined");
    assert_eq!(
        browser.eval("document.body.dataset.answered"),
        "yes",
        "the form's answer: {}",
        browser.eval("document.getElementById('answer-error').textContent")
    );
    let rows = browser.eval(
        "Array.from(document.querySelectorAll('#answer tbody tr')).map(r => Array.from(r.cells).map(c => c.textContent))",
    );
    let rows = rows.as_array().expect("rows");
    assert!(!rows.is_empty(), "no files in the answer");
    assert!(
        rows.iter().any(|r| r[2] == "src/recipe.rs"),
        "src/recipe.rs not among {rows:?}"
    );
    for r in rows {
        assert!(
            !r[3].as_str().unwrap_or("").is_empty(),
            "a file without a reason: {r:?}"
        );
    }
    let meta = browser.eval("document.getElementById('answer-meta').textContent");
    assert!(meta.as_str().unwrap_or("").contains("tokens"), "{meta}");

    let png = browser.screenshot();
    let path = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(shot);
    std::fs::write(&path, &png).expect("write the screenshot");
    eprintln!("screenshot: {}", path.display());
    let image = image::Image::decode(&png);
    assert_eq!(image.width, 1280);
    for selector in [
        "header h1",
        "#health",
        "#request",
        "#predict-button",
        "#answer",
        "#notebook-state",
        "#sleep-table",
        "#learning-state",
        "#predictions .prediction",
        "#github",
    ] {
        shows(browser, &image, selector);
    }
    let errors = browser.errors();
    assert!(errors.is_empty(), "errors in the page: {errors:#?}");
}

#[test]
fn the_page_shows_the_notebook_and_answers_its_form_in_chromium() {
    let Some(binary) = chromium::find() else {
        return;
    };
    let repo = fixture_copy("cookbook");
    let repo_dir = repo.path().to_path_buf();
    let state = temp_dir("page-state-");
    // A pull request the GitHub worker predicted for before.
    let queue = swe_sleep::github::queue::Queue::open(state.path()).expect("the queue");
    queue
        .store_result(
            "cook/book",
            7,
            swe_sleep::github::events::TargetKind::PullRequest,
            &json!({"files": [{"path": "src/cli.rs", "score": 0.9, "reason": "usually changes with src/main.rs"}]}),
            None,
            "delivery-1",
        )
        .expect("a stored result");
    drop(queue);
    let secrets = temp_dir("page-secret-");
    let secret = secrets.path().join("webhook");
    std::fs::write(&secret, "a-webhook-secret").expect("write the secret");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    let d = start_with(&repo_dir, state.path(), None, Some(&secret));
    let head = git(&repo_dir, &["rev-parse", "HEAD"]).trim().to_string();
    wait_for_notebook(d.addr, &[], &head);
    // A request whose text would be markup if it were not escaped.
    let (code, p) = http_json(
        d.addr,
        "POST",
        "/predict",
        Some(r#"{"request": "Add unit conversion for teaspoons <img src=x onerror=alert(1)>"}"#),
    );
    assert_eq!(code, 200, "{p}");

    let (code, head_text, body) = get(d.addr, "/", &[]);
    assert_eq!(code, 200, "{body}");
    assert!(
        head_text.contains("content-type: text/html; charset=utf-8"),
        "{head_text}"
    );
    assert!(
        head_text.contains("content-security-policy: default-src 'none'; script-src 'sha256-"),
        "{head_text}"
    );
    assert!(head_text.contains("x-frame-options: deny"), "{head_text}");
    assert!(
        body.contains("teaspoons &lt;img src=x onerror=alert(1)&gt;"),
        "not escaped"
    );
    assert!(
        !body.contains("<img"),
        "markup from a request reached the page"
    );
    assert!(
        !body.contains("http://") || !body.contains("src=\"http"),
        "nothing is loaded from elsewhere"
    );

    let mut browser = Browser::start(&binary);
    check_page_in(&mut browser, &format!("http://{}/", d.addr), "page.png");
    let link = browser.eval(
        "Array.from(document.querySelectorAll('#github a')).map(a => [a.href, a.textContent])",
    );
    assert_eq!(
        link,
        json!([["https://github.com/cook/book/pull/7", "cook/book #7"]]),
        "a link to the pull request"
    );
    let github = browser.eval("document.getElementById('github').innerText");
    assert!(
        github
            .as_str()
            .unwrap_or("")
            .contains("usually changes with src/main.rs"),
        "{github}"
    );
    // The form's prediction is now among the recent ones.
    browser.open(&format!("http://{}/", d.addr));
    let recent = browser.eval("document.getElementById('predictions').innerText");
    assert!(
        recent
            .as_str()
            .unwrap_or("")
            .contains("Scale a recipe to a number of servings"),
        "{recent}"
    );
}

#[test]
fn with_a_token_the_page_needs_it_as_the_browsers_password() {
    let Some(binary) = chromium::find() else {
        return;
    };
    let repo = fixture_copy("cookbook");
    let repo_dir = repo.path().to_path_buf();
    let state = temp_dir("page-token-state-");
    let secrets = temp_dir("page-token-secret-");
    let token_path = secrets.path().join("token");
    std::fs::write(&token_path, TOKEN).expect("write the token");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&token_path, std::fs::Permissions::from_mode(0o600))
            .expect("chmod");
    }
    let d = start(&repo_dir, state.path(), Some(&token_path));
    let bearer = format!("Bearer {TOKEN}");
    let auth = [("Authorization", bearer.as_str())];
    let head = git(&repo_dir, &["rev-parse", "HEAD"]).trim().to_string();
    wait_for_notebook(d.addr, &auth, &head);
    let (code, _) = support::http::request(
        d.addr,
        "POST",
        "/predict",
        &[auth[0], ("Content-Type", "application/json")],
        br#"{"request": "Add unit conversion for teaspoons"}"#,
    );
    assert_eq!(code, 200);

    // No token, or a wrong one: refused, and a browser is asked for it.
    let (code, head_text, body) = get(d.addr, "/", &[]);
    assert_eq!(code, 401, "{body}");
    assert!(
        head_text.contains("www-authenticate: basic realm="),
        "{head_text}"
    );
    assert!(!body.contains(TOKEN));
    let wrong = "Basic bWU6bm90LXRoZS10b2tlbg=="; // me:not-the-token
    assert_eq!(get(d.addr, "/", &[("Authorization", wrong)]).0, 401);
    let (code, _, body) = get(d.addr, "/", &[("Authorization", &bearer)]);
    assert_eq!(code, 200, "{body}");

    // A browser whose user types the token into the password prompt.
    let mut browser = Browser::start(&binary);
    browser.answer_password_prompts(Credentials {
        user: "me".into(),
        password: TOKEN.into(),
    });
    let url = format!("http://{}/", d.addr);
    check_page_in_token(&mut browser, &url);
}

/// The page behind a token: its sections, and the form's answer (the
/// browser sends the password it was given with the form's request too).
fn check_page_in_token(browser: &mut Browser, url: &str) {
    browser.open(url);
    let text = browser.eval("document.body.innerText");
    assert!(
        text.as_str().unwrap_or("").contains("Try a request"),
        "{text}"
    );
    browser.click("#request");
    browser.type_text("Add unit conversion for cups");
    browser.click("#predict-button");
    browser.wait_until("document.body.dataset.answered !== undefined");
    assert_eq!(
        browser.eval("document.body.dataset.answered"),
        "yes",
        "{}",
        browser.eval("document.getElementById('answer-error').textContent")
    );
    let errors = browser.errors();
    assert!(errors.is_empty(), "errors in the page: {errors:#?}");
}

/// A screenshot's pixels, read with the `png` crate (a dev-dependency).
mod image {
    pub struct Image {
        pub width: u32,
        pub height: u32,
        channels: usize,
        pixels: Vec<u8>,
    }

    impl Image {
        pub fn decode(bytes: &[u8]) -> Image {
            let d = png::Decoder::new(std::io::Cursor::new(bytes));
            let mut r = d.read_info().expect("a PNG");
            let mut buf = vec![0; r.output_buffer_size().expect("a size")];
            let info = r.next_frame(&mut buf).expect("a frame");
            assert_eq!(info.bit_depth, png::BitDepth::Eight);
            let channels = match info.color_type {
                png::ColorType::Rgb => 3,
                png::ColorType::Rgba => 4,
                other => panic!("unexpected colour type {other:?}"),
            };
            buf.truncate(info.buffer_size());
            Image {
                width: info.width,
                height: info.height,
                channels,
                pixels: buf,
            }
        }

        /// Distinct colours in the box (clipped to the image).
        pub fn colours_in(&self, x: u32, y: u32, w: u32, h: u32) -> usize {
            let mut seen = std::collections::HashSet::new();
            for yy in y..(y + h).min(self.height) {
                for xx in x..(x + w).min(self.width) {
                    let i = (yy as usize * self.width as usize + xx as usize) * self.channels;
                    seen.insert(&self.pixels[i..i + 3]);
                    if seen.len() > 1 {
                        return seen.len();
                    }
                }
            }
            seen.len()
        }
    }
}
