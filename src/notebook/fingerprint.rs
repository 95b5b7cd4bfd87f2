//! What a snapshot was built from, as one hash: the tip commit, every
//! listed entry (path, content id, kind, size), the configuration the
//! derivations read, the shallow boundary, and the versions of the schema
//! and of the offline cards. A sleep whose fingerprint equals the stored
//! one would write the same snapshot again, so it writes nothing (the
//! notebook stays byte for byte as it was).
//!
//! A change to what a snapshot derives from the same inputs must bump
//! [`SNAPSHOT_FORMAT`] (or the schema, or the card version), or notebooks
//! built before it keep their old snapshot until the next change.

use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::git::{Entry, EntryKind, Listing, Repo};

/// The `meta` key the fingerprint of the current snapshot is stored under.
pub const META_KEY: &str = "fingerprint";

/// Bump when the snapshot derived from the same repository, commit and
/// configuration changes (a new derivation, a fixed bug).
pub const SNAPSHOT_FORMAT: u32 = 1;

/// The fingerprint of the snapshot `listing` at `tip` would give.
pub fn of(repo: &Repo, listing: &Listing, tip: Option<&str>, cfg: &Config) -> String {
    let mut h = Sha256::new();
    let mut put = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    put(format!(
        "format {SNAPSHOT_FORMAT} schema {} cards {} version {}",
        super::store::SCHEMA_VERSION,
        super::card::OFFLINE_CARD_VERSION,
        env!("CARGO_PKG_VERSION")
    )
    .as_bytes());
    put(repo.display_path().to_string_lossy().as_bytes());
    put(tip.unwrap_or("").as_bytes());
    put(if listing.commit.is_some() {
        b"commit"
    } else {
        b"worktree"
    });
    // A shallow clone's boundary moves when it is deepened; the tip does not.
    let shallow = std::fs::read(repo.git_dir().join("shallow")).unwrap_or_default();
    put(&shallow);
    let index = &cfg.index;
    put(format!(
        "{} {:?} {:?} {}",
        index.max_file_bytes, index.skip_globs, index.generated_globs, index.structure
    )
    .as_bytes());
    put(format!("{:?}", cfg.history).as_bytes());
    put(format!("{} {}", listing.unsafe_names, listing.nested_repos).as_bytes());
    for e in &listing.entries {
        put_entry(&mut put, e);
    }
    h.finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()
}

fn put_entry(put: &mut impl FnMut(&[u8]), e: &Entry) {
    put(e.path.as_bytes());
    put(e.oid.as_bytes());
    let kind: &[u8] = match e.kind {
        EntryKind::File => b"f",
        EntryKind::Symlink => b"l",
        EntryKind::Submodule => b"s",
    };
    put(kind);
    put(&e.size.to_le_bytes());
    put(&[e.missing as u8]);
}
