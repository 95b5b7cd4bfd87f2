//! Sleep-time learning, the pure part: each repository's own ranker.
//!
//! Every merged pull request of a repository's history is a request with a
//! known answer at a known commit. Sleep time replays them (`crate::sleep`)
//! and records, for each, what the offline policy read about every
//! candidate ([`features::Candidate`]) and which candidates the PR
//! modified ([`model::Example`]). From those this module fits a logistic
//! ranker with calibrated probabilities ([`logistic`]), checks it on the
//! most recent PRs against the default calibration, and chooses each
//! predicted set by maximising the expected F1 under its probabilities
//! ([`set_select`]).
//!
//! Pure: no IO, no dependency on anything else in the crate.

pub mod features;
pub mod logistic;
pub mod model;
pub mod search;
pub mod set_select;

pub use features::{Candidate, FEATURE_VERSION, Lists, Query};
pub use model::MODEL_VERSION;
pub use model::{Example, FitReport, Ranker, TrainOptions, Trained, train};
