//! A sleep on a small repository in several languages (the TypeScript, Go,
//! Java and C fixtures of `tests/data/langs/` side by side, with a lock
//! file and a built bundle): symbols and import edges reach the notebook,
//! its cards and its symbol search; generated files are listed but kept
//! out of the code index; `index.structure = false` keeps text and paths
//! only.

mod support;

use std::path::Path;

use swe_sleep::config::Config;
use swe_sleep::git::Repo;
use swe_sleep::notebook::{self, NoProgress, Notebook, Target};
use swe_sleep::text::terms;

use support::{copy_tree, git, temp_dir};

/// A repository with `web/` (TypeScript), `svc/` (Go), `jvm/` (Java) and
/// `native/` (C), one commit.
fn polyglot_repo(root: &Path) {
    let langs = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/langs");
    for (lang, dir) in [
        ("typescript", "web"),
        ("go", "svc"),
        ("java", "jvm"),
        ("c", "native"),
    ] {
        let to = root.join(dir);
        std::fs::create_dir_all(&to).expect("create the language directory");
        copy_tree(&langs.join(lang), &to);
    }
    std::fs::write(
        root.join("web/package-lock.json"),
        "{\"name\": \"web\", \"lockfileVersion\": 3, \"zanzibarpackage\": {}}\n",
    )
    .expect("write the lock file");
    std::fs::create_dir_all(root.join("web/dist")).expect("create dist");
    std::fs::write(
        root.join("web/dist/bundle.js"),
        "function zanzibarbundle(){}\n",
    )
    .expect("write the bundle");
    git(root, &["init", "-q"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "Polyglot fixture"]);
}

fn sleep(repo: &Path, state: &Path, cfg: &Config) -> Notebook {
    let generated = if cfg.index.generated_globs.is_empty() {
        0
    } else {
        2
    };
    let r = Repo::open(repo).expect("open the fixture repository");
    let report =
        notebook::sleep(&r, state, &Target::Rev("HEAD".into()), cfg, &NoProgress).expect("sleep");
    assert_eq!(
        report.generated_files, generated,
        "the lock file and the bundle"
    );
    Notebook::open(state)
        .expect("open the notebook")
        .expect("a notebook after a sleep")
}

fn paths(hits: Vec<(String, String, u32)>) -> Vec<(String, String)> {
    hits.into_iter().map(|(p, k, _)| (p, k)).collect()
}

fn pair(a: &str, b: &str) -> (String, String) {
    (a.to_string(), b.to_string())
}

#[test]
fn structure_of_every_language_reaches_the_notebook() {
    let repo = temp_dir("polyglot");
    polyglot_repo(repo.path());
    let state = temp_dir("polyglot-state");
    let nb = sleep(repo.path(), state.path(), &Config::default());

    assert_eq!(
        paths(nb.symbol_defs("Widget").expect("symbols")),
        [pair("web/src/app.ts", "class")]
    );
    assert_eq!(
        paths(nb.symbol_defs("Serve").expect("symbols")),
        [pair("svc/cmd/tool/main.go", "method")]
    );
    assert_eq!(
        paths(nb.symbol_defs("Strings").expect("symbols")),
        [pair(
            "jvm/src/main/java/com/acme/util/Strings.java",
            "class"
        )]
    );
    assert_eq!(
        paths(nb.symbol_defs("util_run").expect("symbols")),
        [pair("native/src/util.h", "function")]
    );

    assert_eq!(
        nb.imports("web/src/app.ts").expect("imports"),
        [
            "web/src/format.ts",
            "web/src/legacy/index.js",
            "web/src/lib/config.ts",
            "web/src/util.ts"
        ]
    );
    assert_eq!(
        nb.imports("svc/cmd/tool/main.go").expect("imports"),
        ["svc/internal/store/store.go"]
    );
    assert_eq!(
        nb.imported_by("native/include/mylib/api.h")
            .expect("imported by"),
        ["native/src/main.c"]
    );
    let card = nb
        .card("web/src/app.ts")
        .expect("card")
        .expect("app.ts has a card");
    assert!(card.contains("purpose: The application entry."), "{card}");
    assert!(
        card.contains("symbols: class Widget, interface Drawable"),
        "{card}"
    );
    assert!(card.contains("imports: web/src/"), "{card}");
    assert!(card.contains("web/src/util.ts"), "{card}");
    let card = nb
        .card("jvm/src/main/java/com/acme/util/Strings.java")
        .expect("card")
        .expect("Strings.java has a card");
    assert!(
        card.contains("imported by: jvm/src/main/java/com/acme/app/App.java"),
        "{card}"
    );

    // Generated files are files of the snapshot, but not of the code index.
    let lock = nb
        .file("web/package-lock.json")
        .expect("the lock file is listed");
    assert_eq!(lock.status, "generated");
    assert_eq!(
        nb.file("web/dist/bundle.js").expect("listed").status,
        "generated"
    );
    for term in ["zanzibarpackage", "zanzibarbundle"] {
        let hits = nb.search_code(&terms(term), 10).expect("search");
        assert!(hits.is_empty(), "{term}: {hits:?}");
    }
}

#[test]
fn without_structure_only_text_and_paths_remain() {
    let repo = temp_dir("polyglot-flat");
    polyglot_repo(repo.path());
    let state = temp_dir("polyglot-flat-state");
    let mut cfg = Config::default();
    cfg.index.structure = false;
    let nb = sleep(repo.path(), state.path(), &cfg);
    assert!(nb.all_symbols().expect("symbols").is_empty());
    assert!(nb.imports("web/src/app.ts").expect("imports").is_empty());
    let hits = nb.search_code(&terms("Drawable"), 10).expect("search");
    let found: Vec<&str> = hits.iter().map(|h| h.path.as_str()).collect();
    assert_eq!(found, ["web/src/app.ts"]);
}

#[test]
fn generated_globs_decide_what_stays_out() {
    let repo = temp_dir("polyglot-all");
    polyglot_repo(repo.path());
    let state = temp_dir("polyglot-all-state");
    let mut cfg = Config::default();
    cfg.index.generated_globs.clear();
    let nb = sleep(repo.path(), state.path(), &cfg);
    let lock = nb.file("web/package-lock.json").expect("listed");
    assert_eq!(lock.status, "parsed");
    let hits = nb
        .search_code(&terms("zanzibarpackage"), 10)
        .expect("search");
    let found: Vec<&str> = hits.iter().map(|h| h.path.as_str()).collect();
    assert_eq!(found, ["web/package-lock.json"]);
}
