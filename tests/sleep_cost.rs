//! What a sleep costs when little or nothing changed: a sleep that would
//! write the same snapshot writes nothing at all (the database file stays
//! byte for byte), anything that changes the snapshot (another commit, a
//! configuration the derivations read) is not taken for nothing; and blob
//! versions no snapshot uses are dropped past `index.keep_unused_blobs`,
//! with every answer of the current snapshot unchanged.

mod support;

use std::path::Path;

use serde_json::Value;
use swe_sleep::notebook::Notebook;
use swe_sleep::text::terms;

use support::cli::{ok, one_json_object, p, swe_sleep};
use support::{fixture, temp_dir};

fn sleep(repo: &Path, state: &Path, rev: &str, env: &[(&str, &str)]) -> Value {
    let args = [
        "sleep",
        "--json",
        "--quiet",
        "--repo",
        p(repo),
        "--state-dir",
        p(state),
        "--rev",
        rev,
    ];
    let mut cmd = swe_sleep();
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    one_json_object(&ok(cmd.output().expect("swe-sleep runs"), &args.join(" ")))
}

fn db_bytes(state: &Path) -> Vec<u8> {
    std::fs::read(state.join("notebook.sqlite")).expect("the notebook exists")
}

fn count(state: &Path, sql: &str) -> i64 {
    let c = rusqlite::Connection::open(state.join("notebook.sqlite")).expect("open");
    c.query_row(sql, [], |r| r.get(0)).expect("count")
}

/// Everything the current snapshot answers, as text.
fn answers(state: &Path) -> String {
    let nb = Notebook::open(state).expect("opens").expect("a notebook");
    let mut out = String::new();
    for f in nb.files() {
        out.push_str(&format!("{} {} {} {}\n", f.path, f.status, f.lang, f.size));
        out.push_str(&format!("{:?}\n", nb.card(&f.path).expect("card")));
    }
    for q in [
        "parse ingredient quantities",
        "unit conversion",
        "recipe search cli",
    ] {
        let t = terms(q);
        let hits = nb.search_code(&t, 20).expect("search code");
        out.push_str(&format!(
            "{:?}\n",
            hits.iter().map(|h| (&h.path, h.score)).collect::<Vec<_>>()
        ));
        let past = nb.search_history(&t, 5).expect("search history");
        out.push_str(&format!(
            "{:?}\n",
            past.iter()
                .map(|c| (&c.commit, c.score))
                .collect::<Vec<_>>()
        ));
    }
    out
}

#[test]
fn a_sleep_with_nothing_new_writes_nothing() {
    let repo = fixture("cookbook");
    let state = temp_dir("noop-");
    let first = sleep(&repo, state.path(), "HEAD", &[]);
    assert_eq!(first["unchanged"], false, "{first}");
    let before = db_bytes(state.path());
    let again = sleep(&repo, state.path(), "HEAD", &[]);
    assert_eq!(again["unchanged"], true, "{again}");
    assert_eq!(
        db_bytes(state.path()),
        before,
        "a no-op sleep wrote to the notebook"
    );
    for key in [
        "counts",
        "skipped_content",
        "commit",
        "blobs_missing",
        "skipped_vendored",
    ] {
        assert_eq!(again[key], first[key], "{key}: {again} vs {first}");
    }
    assert_eq!(again["blobs_reused"], first["blobs_new"]);
    assert_eq!(again["commits_reused"], first["commits_mined"]);
    assert_eq!(again["blobs_new"], 0);
    assert_eq!(again["sleep_tokens"], 0);

    // Another commit, or a configuration the snapshot depends on, is work.
    let older = sleep(&repo, state.path(), "HEAD~3", &[]);
    assert_eq!(older["unchanged"], false, "{older}");
    let back = sleep(&repo, state.path(), "HEAD", &[]);
    assert_eq!(back["unchanged"], false, "{back}");
    assert_eq!(back["commits_mined"], 0, "{back}");
    assert_eq!(back["blobs_new"], 0, "{back}");
    let config = sleep(
        &repo,
        state.path(),
        "HEAD",
        &[("SWE_SLEEP_HISTORY_MAX_COMMIT_FILES", "5")],
    );
    assert_eq!(config["unchanged"], false, "{config}");
    assert_ne!(
        config["counts"]["cochange_edges"],
        first["counts"]["cochange_edges"]
    );
}

#[test]
fn unused_blob_versions_are_collected_and_answers_stay() {
    let repo = fixture("cookbook");
    let fresh = temp_dir("gc-fresh-");
    sleep(&repo, fresh.path(), "HEAD", &[]);
    let expected = answers(fresh.path());

    // Keeping every unused version: the store grows as history is visited.
    let kept = temp_dir("gc-kept-");
    for rev in ["HEAD~20", "HEAD~10", "HEAD~5", "HEAD"] {
        sleep(&repo, kept.path(), rev, &[]);
    }
    let unused = "SELECT count(*) FROM blobs WHERE id NOT IN (SELECT blob FROM snap_files WHERE blob IS NOT NULL)";
    assert!(count(kept.path(), unused) > 5, "older versions are kept");
    assert_eq!(answers(kept.path()), expected);

    // Keeping none: only the snapshot's blobs stay, the answers are the same.
    let collected = temp_dir("gc-none-");
    let none = [("SWE_SLEEP_INDEX_KEEP_UNUSED_BLOBS", "0")];
    let mut dropped = 0;
    for rev in ["HEAD~20", "HEAD~10", "HEAD~5", "HEAD"] {
        dropped += sleep(&repo, collected.path(), rev, &none)["blobs_collected"]
            .as_u64()
            .expect("a count");
    }
    assert!(dropped > 5, "{dropped}");
    assert_eq!(count(collected.path(), unused), 0);
    assert_eq!(
        count(
            collected.path(),
            "SELECT count(*) FROM blob_terms WHERE blob NOT IN (SELECT id FROM blobs)"
        ),
        0,
        "postings of dropped blobs are gone"
    );
    assert_eq!(answers(collected.path()), expected);

    // A bound keeps the most recently used: after HEAD~5 then HEAD, the
    // versions HEAD~5 used outlive those only HEAD~20 used.
    let some = temp_dir("gc-some-");
    let bound = [("SWE_SLEEP_INDEX_KEEP_UNUSED_BLOBS", "4")];
    for rev in ["HEAD~20", "HEAD~5", "HEAD"] {
        sleep(&repo, some.path(), rev, &bound);
    }
    assert!(count(some.path(), unused) <= 4);
    assert_eq!(answers(some.path()), expected);
    let back = sleep(&repo, some.path(), "HEAD~5", &bound);
    let far = sleep(&repo, some.path(), "HEAD~20", &bound);
    assert!(
        back["blobs_new"].as_u64() <= far["blobs_new"].as_u64(),
        "recently used versions are kept first: {back} {far}"
    );
}
