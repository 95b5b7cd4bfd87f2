//! The measuring instrument: SWE-Features-style benchmarks ([`instance`]),
//! mined from a repository's history ([`mine`]), file-set scoring
//! ([`score`]), the runner over repositories, arms and budgets ([`runner`]),
//! and the reports ([`report`]), with how sure each difference is
//! ([`paired`]), and two evals compared ([`compare`]).
//!
//! Honest use: the predictor sees only the query, the repository at
//! `base_commit` and history reachable from it; never `head_commit`,
//! `changed_files` or anything later.

pub mod compare;
pub mod context;
pub mod coverage;
pub mod instance;
pub mod mine;
pub mod paired;
pub mod report;
pub mod runner;
pub mod scaling;
pub mod score;
pub mod verdict;

pub use instance::Instance;
pub use runner::{Arm, EvalOptions, RunRecord, SleepRecord};
