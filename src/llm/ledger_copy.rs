//! Where a ledger's rows are written besides the notebook: `swe-sleep
//! serve` with PostgreSQL registers a [`LedgerCopy`] for each held
//! repository's notebook directory, and every [`super::Ledger`] opened on
//! that directory (the sleep-time passes, the model-driven policies) also
//! appends each row there, so the service's spend outlives a worker and is
//! visible to every process. Without a registration (the CLI, the daemon)
//! the notebook's ledger is the only one.
//!
//! The registration is process-wide and keyed by the directory exactly as
//! given, so the notebook's callers need no new parameter; it lasts as
//! long as the [`CopyRegistration`] it returns.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};

use crate::notebook::llm_store::LedgerRow;

/// A second place for ledger rows. `append` blocks; it is called where
/// model calls are made, on blocking threads.
pub trait LedgerCopy: Send + Sync {
    fn append(&self, row: &LedgerRow) -> Result<(), Box<dyn std::error::Error + Send + Sync>>;
    /// Tokens (prompt, output and cache, as the notebook's
    /// `ledger_tokens_since`) the copy holds for `purposes` since `since`
    /// (unix seconds): for a service, every process's calls for the
    /// repository, so a budget outlives the notebook that was counting.
    fn tokens_since(
        &self,
        purposes: &[&str],
        since: i64,
    ) -> Result<u64, Box<dyn std::error::Error + Send + Sync>>;
}

type Copies = HashMap<PathBuf, Arc<dyn LedgerCopy>>;

static COPIES: LazyLock<Mutex<Copies>> = LazyLock::new(|| Mutex::new(HashMap::new()));

fn copies() -> MutexGuard<'static, Copies> {
    COPIES.lock().unwrap_or_else(|e| e.into_inner())
}

/// Ledgers opened on `state_dir` also write to `copy` until the returned
/// registration is dropped (a later registration of the same directory
/// replaces this one).
#[must_use = "the copy stops when the registration is dropped"]
pub fn register(state_dir: &Path, copy: Arc<dyn LedgerCopy>) -> CopyRegistration {
    copies().insert(state_dir.to_path_buf(), copy.clone());
    CopyRegistration {
        dir: state_dir.to_path_buf(),
        copy,
    }
}

/// The copy registered for `state_dir`, if any.
pub fn registered(state_dir: &Path) -> Option<Arc<dyn LedgerCopy>> {
    copies().get(state_dir).cloned()
}

/// Keeps a [`register`]ed copy in place.
pub struct CopyRegistration {
    dir: PathBuf,
    copy: Arc<dyn LedgerCopy>,
}

impl std::fmt::Debug for CopyRegistration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CopyRegistration")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Drop for CopyRegistration {
    fn drop(&mut self) {
        let mut all = copies();
        if all
            .get(&self.dir)
            .is_some_and(|c| Arc::ptr_eq(c, &self.copy))
        {
            all.remove(&self.dir);
        }
    }
}
