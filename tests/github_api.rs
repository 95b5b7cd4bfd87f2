//! The GitHub client against a loopback stand-in that plays GitHub's REST
//! API from recorded shapes (`fixtures/http/github/`): auth headers, rate
//! limits, retries, the comment that is updated rather than duplicated,
//! permissions, conditional listings, write pacing, GitHub App tokens, and
//! secrets kept out of `Debug`, errors and logs.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use swe_sleep::github::{
    ClientOptions, Conditional, GitHubAuth, GitHubClient, GitHubError, Permission, RepoRef,
};
use swe_sleep::secret::Secret;

use support::github::{CommentStore, Reply, Seen, StandIn, fixture, rfc3339, unix_now};

const TOKEN: &str = "ghp_testtoken0123456789abcdef";
const MARKER: &str = "<!-- swe-sleep:prediction -->";
const REPO: &str = "octocat/Hello-World";
const APP_ID: u64 = 12345;

fn repo() -> RepoRef {
    REPO.parse().expect("valid repo")
}

/// Options for tests: short backoff, three attempts, waits capped at 3 s.
fn options(base_url: String) -> ClientOptions {
    ClientOptions {
        min_write_interval: Duration::from_millis(10),
        max_attempts: 3,
        max_wait: Duration::from_secs(3),
        retry_base: Duration::from_millis(20),
        user_agent: "swe-sleep-test/1".into(),
        ..ClientOptions::with_base_url(base_url)
    }
}

fn token_client(stand_in: &StandIn) -> GitHubClient {
    GitHubClient::new(
        GitHubAuth::Token(Secret::new(TOKEN)),
        options(stand_in.url()),
    )
    .expect("client builds")
}

const PERMISSION: &str = "/repos/octocat/Hello-World/collaborators/octocat/permission";

#[tokio::test]
async fn token_is_sent_as_bearer_with_our_user_agent() {
    let gh = StandIn::start(|_, _| Reply::fixture(200, "collaborator-permission-write.json")).await;
    let p = token_client(&gh)
        .permission(&repo(), "octocat")
        .await
        .expect("permission");
    assert_eq!(p, Permission::Write);
    let seen = &gh.requests()[0];
    assert_eq!(seen.route(), PERMISSION);
    assert_eq!(
        seen.header("authorization"),
        Some(&*format!("Bearer {TOKEN}"))
    );
    let agents = &seen.headers["user-agent"];
    assert!(agents.iter().any(|a| a == "swe-sleep-test/1"), "{agents:?}");
}

#[tokio::test]
async fn waits_for_the_rate_limit_reset_then_succeeds() {
    // The reset is one second after the first request arrives (not after
    // the test starts: a loaded machine may take longer than that to send it).
    let reset = std::sync::OnceLock::new();
    let gh = StandIn::start(move |_, _| {
        let reset = *reset.get_or_init(|| unix_now() + 1);
        if unix_now() < reset {
            Reply::error(403, "API rate limit exceeded for user ID 1.")
                .header("x-ratelimit-limit", "5000")
                .header("x-ratelimit-remaining", "0")
                .header("x-ratelimit-used", "5000")
                .header("x-ratelimit-reset", reset.to_string())
                .header("x-ratelimit-resource", "core")
        } else {
            Reply::fixture(200, "collaborator-permission-write.json")
        }
    })
    .await;
    let p = token_client(&gh)
        .permission(&repo(), "octocat")
        .await
        .expect("succeeds after the reset");
    assert_eq!(p, Permission::Write);
    assert_eq!(gh.count("GET", PERMISSION), 2, "one wait, one retry");
}

#[tokio::test]
async fn obeys_retry_after_on_429() {
    let gh = StandIn::start(|_, earlier: &[Seen]| {
        if earlier.is_empty() {
            Reply::error(429, "You have exceeded a secondary rate limit.")
                .header("retry-after", "1")
        } else {
            Reply::fixture(200, "collaborator-permission-write.json")
        }
    })
    .await;
    token_client(&gh)
        .permission(&repo(), "octocat")
        .await
        .expect("succeeds after retry-after");
    let seen = gh.requests();
    assert_eq!(seen.len(), 2);
    let gap = seen[1].at - seen[0].at;
    assert!(gap >= Duration::from_millis(950), "waited only {gap:?}");
}

#[tokio::test]
async fn a_rate_limit_longer_than_max_wait_is_an_error_naming_the_reset() {
    let reset = unix_now() + 3600;
    let gh = StandIn::start(move |_, _| {
        Reply::error(403, "API rate limit exceeded")
            .header("x-ratelimit-remaining", "0")
            .header("x-ratelimit-reset", reset.to_string())
    })
    .await;
    let started = Instant::now();
    let err = token_client(&gh)
        .permission(&repo(), "octocat")
        .await
        .expect_err("too long to wait");
    assert!(started.elapsed() < Duration::from_secs(1), "did not wait");
    assert!(matches!(err, GitHubError::RateLimited { resets_at, .. } if resets_at == reset));
    let text = err.to_string();
    assert!(
        text.contains(&reset.to_string()) && text.contains(PERMISSION),
        "{text}"
    );
    assert_eq!(gh.requests().len(), 1);
}

#[tokio::test]
async fn a_plain_403_is_a_permission_error_not_retried() {
    let gh =
        StandIn::start(|_, _| Reply::error(403, "Resource not accessible by integration")).await;
    let err = token_client(&gh)
        .permission(&repo(), "octocat")
        .await
        .expect_err("forbidden");
    assert_eq!(err.status(), Some(403));
    assert!(err.to_string().contains("not accessible"), "{err}");
    assert_eq!(gh.requests().len(), 1, "not retried");
}

#[tokio::test]
async fn a_500_is_retried() {
    let gh = StandIn::start(|_, earlier: &[Seen]| {
        if earlier.is_empty() {
            Reply::error(500, "Server Error")
        } else {
            Reply::fixture(200, "collaborator-permission-read.json")
        }
    })
    .await;
    let p = token_client(&gh)
        .permission(&repo(), "octocat")
        .await
        .expect("retried");
    assert_eq!(p, Permission::Read);
    assert_eq!(gh.requests().len(), 2);
}

#[tokio::test]
async fn a_persistent_500_fails_after_max_attempts_naming_the_path() {
    let gh = StandIn::start(|_, _| Reply::error(502, "Server Error")).await;
    let err = token_client(&gh)
        .permission(&repo(), "octocat")
        .await
        .expect_err("gives up");
    assert_eq!(gh.requests().len(), 3, "max_attempts");
    assert!(
        matches!(err, GitHubError::Exhausted { attempts: 3, .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&format!("GET {PERMISSION}")) && text.contains("502"),
        "{text}"
    );
}

#[tokio::test]
async fn permissions_write_read_and_none() {
    let gh = StandIn::start(|seen, _| match seen.route() {
        "/repos/octocat/Hello-World/collaborators/octocat/permission" => {
            Reply::fixture(200, "collaborator-permission-write.json")
        }
        "/repos/octocat/Hello-World/collaborators/monalisa/permission" => {
            Reply::fixture(200, "collaborator-permission-read.json")
        }
        _ => Reply::fixture(404, "not-found.json"),
    })
    .await;
    let client = token_client(&gh);
    let write = client.permission(&repo(), "octocat").await.expect("write");
    let read = client.permission(&repo(), "monalisa").await.expect("read");
    let none = client
        .permission(&repo(), "dependabot[bot]")
        .await
        .expect("404");
    assert_eq!(
        (write, read, none),
        (Permission::Write, Permission::Read, Permission::None)
    );
    assert!(write.can_write() && !read.can_write() && !none.can_write());
    let last = gh.requests().pop().expect("three requests");
    assert_eq!(
        last.route(),
        "/repos/octocat/Hello-World/collaborators/dependabot%5Bbot%5D/permission"
    );
}

/// A stand-in whose only issue (#1347) keeps its comments in `store`.
async fn comment_stand_in(store: Arc<CommentStore>) -> StandIn {
    StandIn::start(move |seen, _| {
        store
            .answer(seen, REPO, 1347)
            .unwrap_or_else(|| Reply::fixture(404, "not-found.json"))
    })
    .await
}

#[tokio::test]
async fn the_comment_is_created_once_then_updated_in_place() {
    let store = Arc::new(CommentStore::with(vec![(1001, "Would love this.".into())]));
    let gh = comment_stand_in(store.clone()).await;
    let client = token_client(&gh);
    let first = client
        .upsert_comment(&repo(), 1347, None, MARKER, &format!("{MARKER}\nfirst"))
        .await
        .expect("posts");
    assert!(first.created);
    assert!(
        first
            .html_url
            .contains(&format!("issuecomment-{}", first.id))
    );
    // Without the id, the marker finds it; with the id, it is patched directly.
    let second = client
        .upsert_comment(&repo(), 1347, None, MARKER, &format!("{MARKER}\nsecond"))
        .await
        .expect("updates");
    let third = client
        .upsert_comment(&repo(), 1347, Some(first.id), MARKER, "third, marker added")
        .await
        .expect("updates by id");
    assert!(!second.created && !third.created);
    assert_eq!((second.id, third.id), (first.id, first.id));
    let comments_route = "/repos/octocat/Hello-World/issues/1347/comments";
    assert_eq!(gh.count("POST", comments_route), 1, "never a duplicate");
    assert_eq!(gh.count("GET", comments_route), 2, "the id needs no search");
    let bodies = store.bodies();
    assert_eq!(bodies.len(), 2);
    assert_eq!(bodies[1].1, format!("{MARKER}\nthird, marker added"));
}

#[tokio::test]
async fn upsert_finds_an_existing_marker_comment() {
    let gh = StandIn::start(|seen, _| match (seen.method.as_str(), seen.route()) {
        ("GET", "/repos/octocat/Hello-World/issues/1347/comments") => {
            Reply::fixture(200, "issue-comments.json")
        }
        ("PATCH", "/repos/octocat/Hello-World/issues/comments/1002") => Reply::new(
            200,
            support::github::comment(1002, seen.json()["body"].as_str().expect("body")).to_string(),
        ),
        _ => Reply::fixture(404, "not-found.json"),
    })
    .await;
    let got = token_client(&gh)
        .upsert_comment(
            &repo(),
            1347,
            None,
            MARKER,
            &format!("{MARKER}\nnew prediction"),
        )
        .await
        .expect("updates 1002");
    assert_eq!((got.id, got.created), (1002, false));
    assert!(gh.requests().iter().all(|s| s.method != "POST"));
}

#[tokio::test]
async fn a_known_id_that_is_gone_falls_back_to_the_search() {
    let store = Arc::new(CommentStore::with(vec![
        (1001, "Would love this.".into()),
        (1002, format!("{MARKER}\nold prediction")),
    ]));
    let gh = comment_stand_in(store.clone()).await;
    let got = token_client(&gh)
        .upsert_comment(&repo(), 1347, Some(999), MARKER, &format!("{MARKER}\nnew"))
        .await
        .expect("falls back");
    assert_eq!((got.id, got.created), (1002, false));
    let patched: Vec<String> = gh
        .requests()
        .iter()
        .filter(|s| s.method == "PATCH")
        .map(|s| s.route().to_string())
        .collect();
    assert_eq!(
        patched,
        [
            "/repos/octocat/Hello-World/issues/comments/999",
            "/repos/octocat/Hello-World/issues/comments/1002"
        ]
    );
    assert_eq!(store.bodies()[1].1, format!("{MARKER}\nnew"));
}

#[tokio::test]
async fn a_post_that_fails_but_landed_is_not_posted_again() {
    // GitHub created the comment but answered 502: the client must search
    // again, find it, and PATCH rather than POST a second time.
    let store = Arc::new(CommentStore::default());
    let inner = store.clone();
    let gh = StandIn::start(move |seen, _| {
        if seen.method == "POST" {
            inner.add(seen.json()["body"].as_str().expect("body"));
            return Reply::error(502, "Server Error");
        }
        inner
            .answer(seen, REPO, 1347)
            .unwrap_or_else(|| Reply::fixture(404, "not-found.json"))
    })
    .await;
    let got = token_client(&gh)
        .upsert_comment(&repo(), 1347, None, MARKER, &format!("{MARKER}\nbody"))
        .await
        .expect("recovers");
    assert!(!got.created);
    assert_eq!(store.bodies().len(), 1, "one comment");
    assert_eq!(
        gh.count("POST", "/repos/octocat/Hello-World/issues/1347/comments"),
        1
    );
}

#[tokio::test]
async fn writes_are_spaced_by_min_write_interval() {
    let store = Arc::new(CommentStore::with(vec![(1002, MARKER.to_string())]));
    let gh = comment_stand_in(store).await;
    let interval = Duration::from_millis(200);
    let client = GitHubClient::new(
        GitHubAuth::Token(Secret::new(TOKEN)),
        ClientOptions {
            min_write_interval: interval,
            ..options(gh.url())
        },
    )
    .expect("client");
    let (a, b) = (client.clone(), client.clone());
    let r = repo();
    let (x, y, z) = tokio::join!(
        a.upsert_comment(&r, 1347, Some(1002), MARKER, "one"),
        b.upsert_comment(&r, 1347, Some(1002), MARKER, "two"),
        client.upsert_comment(&r, 1347, Some(1002), MARKER, "three"),
    );
    for got in [x, y, z] {
        assert_eq!(got.expect("patched").id, 1002);
    }
    let writes: Vec<Instant> = gh
        .requests()
        .iter()
        .filter(|s| s.method == "PATCH")
        .map(|s| s.at)
        .collect();
    assert_eq!(writes.len(), 3);
    for pair in writes.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap >= interval - Duration::from_millis(5),
            "writes {gap:?} apart"
        );
    }
}

#[tokio::test]
async fn listings_are_conditional_on_the_etag() {
    const ETAG: &str = "W/\"7a3f9c1e5b\"";
    let gh = StandIn::start(|seen, _| {
        if seen.header("if-none-match") == Some(ETAG) {
            return Reply::new(304, "").header("etag", ETAG);
        }
        match seen.route() {
            "/repos/octocat/Hello-World/pulls" => {
                Reply::fixture(200, "pulls.json").header("etag", ETAG)
            }
            "/repos/octocat/Hello-World/issues" if seen.path.contains("page=2") => {
                Reply::new(200, "[]")
            }
            "/repos/octocat/Hello-World/issues" => Reply::fixture(200, "issues.json").header(
                "link",
                "<http://127.0.0.1/repos/octocat/Hello-World/issues?state=open&per_page=100&page=2>; \
                 rel=\"next\", <http://127.0.0.1/repos/octocat/Hello-World/issues?page=2>; rel=\"last\"",
            ),
            _ => Reply::fixture(404, "not-found.json"),
        }
    })
    .await;
    let client = token_client(&gh);
    let Conditional::Fresh { value: pulls, etag } =
        client.open_pulls(&repo(), None).await.expect("pulls")
    else {
        panic!("first call is fresh");
    };
    assert_eq!(etag.as_deref(), Some(ETAG));
    assert_eq!(pulls.len(), 2);
    assert_eq!(pulls[0].number, 1347);
    assert_eq!(pulls[0].base_ref, "main");
    assert_eq!(
        pulls[0].head_sha,
        "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"
    );
    assert!(!pulls[0].draft && pulls[1].draft);
    assert_eq!(pulls[1].body, None);
    let again = client
        .open_pulls(&repo(), etag.as_deref())
        .await
        .expect("304");
    assert_eq!(again, Conditional::NotModified);

    let Conditional::Fresh {
        value: issues,
        etag,
    } = client.open_issues(&repo(), None).await.expect("issues")
    else {
        panic!("fresh issues");
    };
    assert_eq!(etag, None);
    let numbers: Vec<u64> = issues.iter().map(|i| i.number).collect();
    assert_eq!(numbers, [1345, 1339], "the pull request entry is filtered");
    assert_eq!(issues[0].labels, ["enhancement", "swe-sleep"]);
    assert!(
        gh.requests().iter().any(|s| s.path.contains("page=2")),
        "second page read"
    );
}

#[tokio::test]
async fn an_enterprise_base_url_keeps_its_path() {
    let gh = StandIn::start(|seen, _| {
        if seen.route() == format!("/api/v3{PERMISSION}") {
            Reply::fixture(200, "collaborator-permission-write.json")
        } else {
            Reply::fixture(404, "not-found.json")
        }
    })
    .await;
    let client = GitHubClient::new(
        GitHubAuth::Token(Secret::new(TOKEN)),
        options(format!("{}/api/v3/", gh.url())),
    )
    .expect("client");
    let p = client
        .permission(&repo(), "octocat")
        .await
        .expect("permission");
    assert_eq!(p, Permission::Write);
}

/// Checks the App JWT the way GitHub would: RS256, signed by the test key,
/// `iss` the app id, not expired.
fn check_app_jwt(seen: &Seen) -> Result<(), String> {
    use octocrab::jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
    #[derive(serde::Deserialize)]
    struct Claims {
        iss: u64,
        iat: u64,
        exp: u64,
    }
    let jwt = seen
        .header("authorization")
        .and_then(|a| a.strip_prefix("Bearer "))
        .ok_or("no bearer")?;
    let header = decode_header(jwt).map_err(|e| e.to_string())?;
    if header.alg != Algorithm::RS256 {
        return Err(format!("alg {:?}", header.alg));
    }
    let public = support::github::fixture("test-app-key.pub.pem");
    let key = DecodingKey::from_rsa_pem(public.as_bytes()).map_err(|e| e.to_string())?;
    let data = decode::<Claims>(jwt, &key, &Validation::new(Algorithm::RS256))
        .map_err(|e| e.to_string())?;
    let c = data.claims;
    if c.iss != APP_ID || c.exp <= c.iat || c.exp > unix_now() + 600 {
        return Err(format!("claims iss {} iat {} exp {}", c.iss, c.iat, c.exp));
    }
    Ok(())
}

/// A stand-in for a GitHub App: the installation lookup and token endpoint
/// check the JWT; the API checks the installation token. Tokens expire
/// `token_life` seconds after they are issued.
async fn app_stand_in(token_life: u64, jwt_errors: Arc<Mutex<Vec<String>>>) -> StandIn {
    let installation_token: serde_json::Value =
        serde_json::from_str(&fixture("installation-token.json")).expect("fixture");
    let token = installation_token["token"]
        .as_str()
        .expect("token")
        .to_string();
    StandIn::start(move |seen, _| {
        let check = || {
            if let Err(e) = check_app_jwt(seen) {
                jwt_errors.lock().expect("lock").push(e);
                return false;
            }
            true
        };
        match (seen.method.as_str(), seen.route()) {
            ("GET", "/repos/octocat/Hello-World/installation") => {
                if !check() {
                    return Reply::error(401, "A JSON web token could not be decoded");
                }
                Reply::fixture(200, "installation.json")
            }
            ("POST", "/app/installations/4242/access_tokens") => {
                if !check() {
                    return Reply::error(401, "A JSON web token could not be decoded");
                }
                let mut t = installation_token.clone();
                t["expires_at"] = serde_json::json!(rfc3339(unix_now() + token_life));
                Reply::new(201, t.to_string())
            }
            ("GET", PERMISSION) => {
                if seen.header("authorization") == Some(&*format!("Bearer {token}")) {
                    Reply::fixture(200, "collaborator-permission-write.json")
                } else {
                    Reply::error(401, "Bad credentials")
                }
            }
            _ => Reply::fixture(404, "not-found.json"),
        }
    })
    .await
}

fn app_client(gh: &StandIn, installation_id: Option<u64>) -> GitHubClient {
    GitHubClient::new(
        GitHubAuth::App {
            app_id: APP_ID,
            private_key_pem: Secret::new(fixture("test-app-key.pem")),
            installation_id,
        },
        options(gh.url()),
    )
    .expect("app client builds")
}

#[tokio::test]
async fn app_auth_fetches_an_installation_token_once_while_it_is_valid() {
    let errors = Arc::new(Mutex::new(Vec::new()));
    let gh = app_stand_in(3600, errors.clone()).await;
    let client = app_client(&gh, Some(4242));
    for _ in 0..2 {
        let p = client
            .permission(&repo(), "octocat")
            .await
            .expect("as installation");
        assert_eq!(p, Permission::Write);
    }
    assert_eq!(*errors.lock().expect("lock"), Vec::<String>::new());
    assert_eq!(gh.count("POST", "/app/installations/4242/access_tokens"), 1);
    assert_eq!(gh.count("GET", PERMISSION), 2);
}

#[tokio::test]
async fn app_auth_looks_up_the_installation_and_refreshes_expiring_tokens() {
    let errors = Arc::new(Mutex::new(Vec::new()));
    // Tokens that expire within octocrab's 30 s margin are fetched anew.
    let gh = app_stand_in(20, errors.clone()).await;
    let client = app_client(&gh, None);
    for _ in 0..2 {
        client
            .permission(&repo(), "octocat")
            .await
            .expect("as installation");
    }
    assert_eq!(*errors.lock().expect("lock"), Vec::<String>::new());
    assert_eq!(
        gh.count("GET", "/repos/octocat/Hello-World/installation"),
        1,
        "remembered"
    );
    assert_eq!(
        gh.count("POST", "/app/installations/4242/access_tokens"),
        2,
        "refreshed"
    );
}

#[tokio::test]
async fn a_bad_private_key_is_an_error_without_the_key() {
    let pem = "-----BEGIN RSA PRIVATE KEY-----\nbm90IGEga2V5\n-----END RSA PRIVATE KEY-----\n";
    let err = GitHubClient::new(
        GitHubAuth::App {
            app_id: APP_ID,
            private_key_pem: Secret::new(pem),
            installation_id: None,
        },
        ClientOptions::default(),
    )
    .expect_err("not a key");
    assert!(err.to_string().contains("private key"), "{err}");
    assert!(!err.to_string().contains("bm90IGEga2V5"), "{err}");
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_token_never_reaches_debug_errors_or_logs() {
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let gh = StandIn::start(|seen, _| match seen.route() {
        "/repos/octocat/Hello-World/pulls" => Reply::error(500, "Server Error"),
        "/repos/octocat/Hello-World/issues" => Reply::error(401, "Bad credentials"),
        _ => Reply::error(403, "Must have admin rights to Repository."),
    })
    .await;
    let client = token_client(&gh);
    let mut texts = vec![
        format!("{client:?}"),
        format!("{:?}", GitHubAuth::Token(Secret::new(TOKEN))),
    ];
    texts.push(
        client
            .open_pulls(&repo(), None)
            .await
            .expect_err("500")
            .to_string(),
    );
    texts.push(
        client
            .open_issues(&repo(), None)
            .await
            .expect_err("401")
            .to_string(),
    );
    texts.push(
        client
            .upsert_comment(&repo(), 1, None, MARKER, "x")
            .await
            .expect_err("403")
            .to_string(),
    );
    // A closed port: connection errors, retried, then reported.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let offline = GitHubClient::new(
        GitHubAuth::Token(Secret::new(TOKEN)),
        options(format!("http://{closed}")),
    )
    .expect("client");
    let err = offline
        .permission(&repo(), "octocat")
        .await
        .expect_err("refused");
    assert!(
        matches!(err, GitHubError::Exhausted { attempts: 3, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains(PERMISSION), "{err}");
    texts.push(err.to_string());
    texts.push(format!("{err:?}"));
    texts.push(String::from_utf8_lossy(&logs.0.lock().expect("lock")).into_owned());
    for text in &texts {
        assert!(!text.contains(TOKEN), "token leaked: {text}");
        assert!(!text.contains("testtoken"), "token leaked: {text}");
    }
    assert!(
        texts.last().is_some_and(|l| l.contains("retrying")),
        "logs were captured"
    );
}

#[tokio::test]
async fn error_text_from_github_is_redacted_before_it_is_logged_or_returned() {
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    // A server (or a proxy in front of it) that echoes credentials: the
    // client's own token, an installation token, a JWT, an auth header.
    const INSTALLATION: &str = "ghs_InstallationTokenEchoed0123456789";
    const JWT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiIxMjM0NSJ9.c2lnbmF0dXJlLXRleHQ";
    let echo = format!(
        "Bad credentials: {TOKEN} (also {INSTALLATION}, {JWT}, Authorization: Bearer {TOKEN})"
    );
    let gh = StandIn::start(move |seen, _| match seen.route() {
        "/repos/octocat/Hello-World/pulls" => Reply::error(502, &echo),
        _ => Reply::error(401, &echo),
    })
    .await;
    let client = token_client(&gh);
    let mut texts = Vec::new();
    let err = client.open_issues(&repo(), None).await.expect_err("401");
    assert_eq!(err.status(), Some(401));
    texts.push(err.to_string());
    texts.push(format!("{err:?}"));
    let err = client
        .open_pulls(&repo(), None)
        .await
        .expect_err("502, retried, then given up");
    texts.push(err.to_string());
    texts.push(String::from_utf8_lossy(&logs.0.lock().expect("lock")).into_owned());
    for text in &texts {
        for secret in [
            TOKEN,
            "testtoken",
            INSTALLATION,
            JWT,
            "eyJhbGciOiJSUzI1NiJ9",
        ] {
            assert!(!text.contains(secret), "{secret} in: {text}");
        }
        assert!(text.contains("[redacted]"), "{text}");
    }
    assert!(
        texts[0].contains("Bad credentials"),
        "the message stays: {}",
        texts[0]
    );
    assert!(
        texts.last().is_some_and(|l| l.contains("retrying")),
        "the retries were logged"
    );
}
