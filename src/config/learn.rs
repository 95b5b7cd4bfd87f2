//! The `[learn]` section: how much sleep time goes into learning this
//! repository's ranker from its own past pull requests.

use serde::{Deserialize, Serialize};

/// The `[learn]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LearnConfig {
    /// The sleep budget: past pull requests replayed (most recent first)
    /// and trained on, counting only PRs like the requests answered (see
    /// `min_modified`, `min_source`). 0 turns learning off. Each costs one
    /// incremental sleep at the PR's base and one offline run per replay
    /// budget, once: later sleeps reuse them.
    pub replay_prs: usize,
    /// Test-time budgets each past PR is replayed at (the ranker sees the
    /// budget, so it learns how evidence changes with it).
    pub replay_budgets: Vec<u64>,
    /// Fewer replayed PRs than this: no ranker, the default calibration.
    pub min_prs: usize,
    /// The largest set the learned ranker predicts.
    pub max_files: usize,
    /// Train on past PRs like the requests answered: at least this many
    /// existing files modified and this many source files changed.
    pub min_modified: usize,
    pub min_source: usize,
    /// Learn the search ranking (the notebook's fused search orders files
    /// by it); learn the final choice of the set.
    pub search: bool,
    pub choose: bool,
}

impl Default for LearnConfig {
    fn default() -> Self {
        LearnConfig {
            replay_prs: 200,
            replay_budgets: vec![1000, 4000],
            min_prs: 20,
            max_files: 12,
            min_modified: 2,
            min_source: 3,
            search: true,
            choose: true,
        }
    }
}
