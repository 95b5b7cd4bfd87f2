//! What `/status` and `/metrics` say about the service: each held
//! repository and the whole (repositories, sleeping, queue depth, sleeps,
//! predictions, failures, model calls and their cost).

use serde::Serialize;

use crate::github::queue::{QueueCounts, now_ms};

use super::held::HeldStatus;
use super::registry::Registry;
use super::schedule::Pacing;
use super::spend::{self, Spend, Spends};

/// The service as a whole.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceStatus {
    pub repositories: usize,
    pub sleeping: usize,
    pub backing_off: usize,
    pub concurrency: usize,
    pub sleeps: u64,
    pub sleep_failures: u64,
    pub fetch_failures: u64,
    pub predictions: u64,
    pub queue: Option<QueueCounts>,
    /// With PostgreSQL: this process's name and how many leases it holds.
    pub worker: Option<String>,
    pub leased: Option<usize>,
    /// Model calls of every repository and what they cost (with
    /// PostgreSQL, by every process, repositories no longer held
    /// included); `None` with `model_error` when it could not be read.
    pub model: Option<Spend>,
    pub model_error: Option<String>,
}

/// `/status`: the service and each repository.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub service: ServiceStatus,
    pub repositories: Vec<HeldStatus>,
}

impl Report {
    pub fn gather(
        registry: &Registry,
        pacing: &Pacing,
        concurrency: usize,
        queue: Option<QueueCounts>,
    ) -> Report {
        let now = now_ms();
        let repositories: Vec<HeldStatus> = registry
            .list()
            .iter()
            .map(|h| h.status(pacing, now))
            .collect();
        let sum = |f: fn(&HeldStatus) -> u64| repositories.iter().map(f).sum::<u64>();
        Report {
            service: ServiceStatus {
                repositories: repositories.len(),
                sleeping: repositories
                    .iter()
                    .filter(|r| r.state == "sleeping")
                    .count(),
                backing_off: repositories
                    .iter()
                    .filter(|r| r.state == "backing_off")
                    .count(),
                concurrency,
                sleeps: sum(|r| r.sleeps),
                sleep_failures: sum(|r| r.sleep_failures),
                fetch_failures: sum(|r| r.fetch_failures),
                predictions: sum(|r| r.predictions),
                queue,
                worker: None,
                leased: None,
                model: None,
                model_error: None,
            },
            repositories,
        }
    }

    /// Marks which repositories this process holds the lease of.
    pub fn with_leases(&mut self, worker: &str, held: &std::collections::BTreeSet<String>) {
        self.service.worker = Some(worker.to_string());
        self.service.leased = Some(held.len());
        for r in &mut self.repositories {
            r.leased = Some(held.contains(&r.repo));
        }
    }

    /// Adds the model spend: each held repository's, and the total.
    pub fn with_spend(&mut self, spends: Result<Spends, String>) {
        match spends {
            Ok(spends) => {
                let mut total = Spend::default();
                for s in spends.values() {
                    total.add(s);
                }
                for r in &mut self.repositories {
                    r.model = Some(spends.get(&r.repo).cloned().unwrap_or_default());
                }
                self.service.model = Some(total);
            }
            Err(why) => {
                tracing::warn!("cannot read the model spend: {why}");
                self.service.model_error = Some(why);
            }
        }
    }

    /// Prometheus text: service-wide gauges and counters, then the same
    /// per repository, labelled `repo="owner/name"`.
    pub fn metrics(&self) -> String {
        let s = &self.service;
        let mut out = String::new();
        let mut family = |name: &str, kind: &str, help: &str, lines: Vec<(String, u64)>| {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
            for (labels, v) in lines {
                out.push_str(&format!("{name}{labels} {v}\n"));
            }
        };
        let one = |v: u64| vec![(String::new(), v)];
        let per = |f: fn(&HeldStatus) -> u64| -> Vec<(String, u64)> {
            self.repositories
                .iter()
                .map(|r| (format!("{{repo=\"{}\"}}", r.repo), f(r)))
                .collect()
        };
        family(
            "swe_sleep_service_repositories",
            "gauge",
            "Repositories held.",
            one(s.repositories as u64),
        );
        if let Some(n) = s.leased {
            family(
                "swe_sleep_service_leases",
                "gauge",
                "Repositories whose lease this process holds.",
                one(n as u64),
            );
        }
        family(
            "swe_sleep_service_sleeping",
            "gauge",
            "Repositories fetching or sleeping now.",
            one(s.sleeping as u64),
        );
        family(
            "swe_sleep_service_backing_off",
            "gauge",
            "Repositories waiting after failures.",
            one(s.backing_off as u64),
        );
        family(
            "swe_sleep_service_queue_depth",
            "gauge",
            "Jobs queued for the worker.",
            one(s.queue.as_ref().map_or(0, |q| q.queued + q.running)),
        );
        family(
            "swe_sleep_service_sleeps_total",
            "counter",
            "Successful fetches and sleeps, all repositories.",
            one(s.sleeps),
        );
        family(
            "swe_sleep_service_failures_total",
            "counter",
            "Failed fetches and sleeps, all repositories.",
            one(s.sleep_failures + s.fetch_failures),
        );
        family(
            "swe_sleep_service_predictions_total",
            "counter",
            "Predictions made, all repositories.",
            one(s.predictions),
        );
        family(
            "swe_sleep_repo_sleeps_total",
            "counter",
            "Successful fetches and sleeps of a repository.",
            per(|r| r.sleeps),
        );
        family(
            "swe_sleep_repo_failures_total",
            "counter",
            "Failed fetches and sleeps of a repository.",
            per(|r| r.sleep_failures + r.fetch_failures),
        );
        family(
            "swe_sleep_repo_failures_in_a_row",
            "gauge",
            "Failures since the last success (the backoff grows with it).",
            per(|r| u64::from(r.failures_in_a_row)),
        );
        family(
            "swe_sleep_repo_predictions_total",
            "counter",
            "Predictions made for a repository.",
            per(|r| r.predictions),
        );
        family(
            "swe_sleep_repo_deliveries_last_hour",
            "gauge",
            "Deliveries admitted for a repository in the last hour.",
            per(|r| r.deliveries_last_hour as u64),
        );
        if let Some(total) = &s.model {
            let per: Vec<(&str, &Spend)> = self
                .repositories
                .iter()
                .filter_map(|r| Some((r.repo.as_str(), r.model.as_ref()?)))
                .collect();
            out.push_str(&spend::metrics(total, &per));
        }
        out
    }
}
