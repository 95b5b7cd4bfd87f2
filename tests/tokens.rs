//! `tokens::count` is tiktoken-rs's count, exactly: over every text file of
//! the fixture repositories, and over pseudo-random text drawn from the
//! characters that decide where cl100k's pieces end.
//!
//! `SWE_SLEEP_TOKEN_REPOS=/path/a:/path/b` adds every blob of HEAD of
//! repositories of your own (a manual check over real code).

mod support;

use std::path::Path;

use swe_sleep::tokens::{count, count_reference};

/// Compares the two counts over every blob of HEAD; returns how many texts
/// were compared.
fn compare_head(path: &Path) -> usize {
    let repo = git2::Repository::open(path).expect("open the repository");
    let tree = repo
        .head()
        .and_then(|h| h.peel_to_tree())
        .expect("HEAD has a tree");
    let mut texts = 0;
    tree.walk(git2::TreeWalkMode::PreOrder, |dir, e| {
        if e.kind() != Some(git2::ObjectType::Blob) {
            return git2::TreeWalkResult::Ok;
        }
        let Ok(blob) = repo.find_blob(e.id()) else {
            return git2::TreeWalkResult::Ok;
        };
        let text = String::from_utf8_lossy(blob.content());
        let name = format!("{dir}{}", e.name().unwrap_or("?"));
        assert_eq!(
            count(&text),
            count_reference(&text),
            "{}: {name}",
            path.display()
        );
        texts += 1;
        git2::TreeWalkResult::Ok
    })
    .expect("walk the tree");
    texts
}

#[test]
fn same_count_as_tiktoken_over_fixture_files() {
    for name in ["cookbook", "hostile", "escape"] {
        assert!(compare_head(&support::fixture(name)) > 3, "{name}");
    }
    let extra = std::env::var("SWE_SLEEP_TOKEN_REPOS").unwrap_or_default();
    for path in extra.split(':').filter(|p| !p.is_empty()) {
        let n = compare_head(Path::new(path));
        eprintln!("{path}: {n} blobs, same counts as tiktoken");
    }
}

#[test]
fn same_count_as_tiktoken_over_random_text() {
    let alphabet: Vec<char> = "aZs'lLvVeErRdDmMtT ſ1٣Ⅻ \t\n\r\u{a0}\u{3000}\u{2028}\u{85}!?{}()=_-.,;:\"é\u{301}日本🎉\u{0}\u{feff}"
        .chars()
        .collect();
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        // xorshift64: deterministic, no dependency.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..3000 {
        let len = (next() % 40) as usize;
        let text: String = (0..len)
            .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
            .collect();
        assert_eq!(count(&text), count_reference(&text), "{text:?}");
    }
}
