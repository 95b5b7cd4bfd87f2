//! A GitHub App stand-in for `swe-sleep serve`: one installation
//! granting repositories the test changes, installation tokens, write
//! permission for everyone, and a comment store per pull request; and the
//! fixture repositories it grants, published for [`super::git_http`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::git_http::GitServer;
use super::github::{CommentStore, Reply, Seen, StandIn, fixture, rfc3339, unix_now};
use super::{fixture as built_fixture, git};

pub const SECRET: &str = "It's a Secret to Everybody";
pub const APP_ID: u64 = 12345;
pub const INSTALLATION: u64 = 4242;
pub const ORG: &str = "octo-org";

pub fn token() -> String {
    let t: Value = serde_json::from_str(&fixture("installation-token.json")).expect("fixture");
    t["token"].as_str().expect("a token").to_string()
}

pub fn write_secret(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write a secret");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    p
}

/// GitHub as the service sees it: the App's one installation, the
/// repositories it grants (changed by the test), tokens, permissions and
/// one comment store per repository (pull request #2).
pub struct App {
    granted: Arc<Mutex<Vec<String>>>,
    comments: Arc<Mutex<BTreeMap<String, Arc<CommentStore>>>>,
    /// Pull request numbers whose comment listing takes a second (a job
    /// that is surely running when a test looks).
    slow: Arc<Mutex<std::collections::BTreeSet<u64>>>,
    pub stand_in: StandIn,
}

impl App {
    pub async fn start(git: &GitServer, granted: &[&str]) -> App {
        let granted = Arc::new(Mutex::new(
            granted.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        ));
        let comments: Arc<Mutex<BTreeMap<String, Arc<CommentStore>>>> = Arc::default();
        let slow: Arc<Mutex<std::collections::BTreeSet<u64>>> = Arc::default();
        let (g, c, s, git_base) = (
            granted.clone(),
            comments.clone(),
            slow.clone(),
            format!("http://{}", git.addr),
        );
        let stand_in = StandIn::start(move |seen: &Seen, _| {
            match (seen.method.as_str(), seen.route()) {
                ("GET", "/app/installations") => {
                    return Reply::new(
                        200,
                        json!([{ "id": INSTALLATION, "account": { "login": ORG } }]).to_string(),
                    );
                }
                ("POST", "/app/installations/4242/access_tokens") => {
                    let mut t: Value =
                        serde_json::from_str(&fixture("installation-token.json")).expect("json");
                    t["expires_at"] = json!(rfc3339(unix_now() + 3600));
                    return Reply::new(201, t.to_string());
                }
                ("GET", "/installation/repositories") => {
                    let repos: Vec<Value> = g
                        .lock()
                        .expect("lock")
                        .iter()
                        .map(|name| {
                            json!({
                                "full_name": name,
                                "clone_url": format!("{git_base}/{name}.git"),
                                "default_branch": "main",
                            })
                        })
                        .collect();
                    return Reply::new(
                        200,
                        json!({ "total_count": repos.len(), "repositories": repos }).to_string(),
                    );
                }
                _ => {}
            }
            if seen.route().ends_with("/permission") {
                return Reply::fixture(200, "collaborator-permission-write.json");
            }
            // /repos/{o}/{r}/issues/{n}/comments, or a comment's own route,
            // which the store of any number of that repository answers.
            let parts: Vec<&str> = seen.route().split('/').collect();
            let (repo, number) = match parts.as_slice() {
                ["", "repos", o, r, "issues", n, "comments"] => {
                    let n = n.parse::<u64>().unwrap_or(0);
                    if s.lock().expect("lock").contains(&n) {
                        std::thread::sleep(std::time::Duration::from_secs(1));
                    }
                    (format!("{o}/{r}"), n)
                }
                ["", "repos", o, r, "issues", "comments", id] => {
                    let id: u64 = id.parse().unwrap_or(0);
                    let repo = format!("{o}/{r}");
                    let found = c.lock().expect("lock").iter().find_map(|(k, s)| {
                        let (kr, kn) = k.rsplit_once('#')?;
                        (kr == repo && s.bodies().iter().any(|(i, _)| *i == id))
                            .then(|| kn.parse::<u64>().unwrap_or(0))
                    });
                    (repo, found.unwrap_or(0))
                }
                _ => return Reply::fixture(404, "not-found.json"),
            };
            let store = c
                .lock()
                .expect("lock")
                .entry(format!("{repo}#{number}"))
                .or_default()
                .clone();
            store
                .answer(seen, &repo, number)
                .unwrap_or_else(|| Reply::fixture(404, "not-found.json"))
        })
        .await;
        App {
            granted,
            comments,
            slow,
            stand_in,
        }
    }

    /// Makes the comment listing of pull request `number` take a second.
    pub fn slow_down(&self, number: u64) {
        self.slow.lock().expect("lock").insert(number);
    }

    pub fn grant(&self, repo: &str) {
        self.granted.lock().expect("lock").push(repo.to_string());
    }

    pub fn revoke(&self, repo: &str) {
        self.granted.lock().expect("lock").retain(|r| r != repo);
    }

    /// The comments on pull request `number` of `repo`.
    pub fn comments_on(&self, repo: &str, number: u64) -> Vec<(u64, String)> {
        self.comments
            .lock()
            .expect("lock")
            .get(&format!("{repo}#{number}"))
            .map(|s| s.bodies())
            .unwrap_or_default()
    }
}

/// GitHub on loopback as `serve` sees it: `names` published as bare copies
/// of the cookbook under `octo-org`, served by git behind the installation
/// token, and the App granting `granted`; both run on `rt`.
pub struct Github {
    pub git: GitServer,
    pub app: App,
    _root: tempfile::TempDir,
}

impl Github {
    pub fn start(rt: &tokio::runtime::Runtime, names: &[&str], granted: &[&str]) -> Github {
        let root = super::temp_dir("github-git-");
        publish(root.path(), names);
        let git = rt.block_on(GitServer::start(root.path(), &token()));
        let app = rt.block_on(App::start(&git, granted));
        Github {
            git,
            app,
            _root: root,
        }
    }
}

/// Bare copies of the cookbook fixture as `<root>/octo-org/<name>.git`,
/// ready for the dumb protocol.
pub fn publish(root: &Path, names: &[&str]) {
    for name in names {
        let dest = root.join(ORG).join(format!("{name}.git"));
        std::fs::create_dir_all(dest.parent().expect("parent")).expect("mkdir");
        let src = built_fixture("cookbook");
        git(
            root,
            &[
                "clone",
                "--bare",
                "--quiet",
                src.to_str().expect("utf-8"),
                dest.to_str().expect("utf-8"),
            ],
        );
        git(&dest, &["symbolic-ref", "HEAD", "refs/heads/main"]);
        let head = git(&src, &["rev-parse", "HEAD"]);
        git(&dest, &["update-ref", "refs/heads/main", head.trim()]);
        git(&dest, &["update-server-info"]);
    }
}

/// GitHub's example `pull_request` opened delivery, for pull request
/// `number` of `repo` (base `main`) titled `title`, from the installation.
pub fn pull_request(repo: &str, number: u64, title: &str) -> Vec<u8> {
    let p =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/webhooks/pull_request.opened.json");
    let mut v: Value = serde_json::from_slice(&std::fs::read(p).expect("fixture")).expect("json");
    v["number"] = json!(number);
    v["pull_request"]["number"] = json!(number);
    v["repository"]["full_name"] = json!(repo);
    v["pull_request"]["base"]["ref"] = json!("main");
    v["pull_request"]["title"] = json!(title);
    v["installation"] = json!({ "id": INSTALLATION });
    serde_json::to_vec(&v).expect("json")
}
