//! `swe-sleep status --state-dir DIR` where `DIR` is a `swe-sleep serve`
//! state directory: the running service's `/status`, per repository and
//! for the whole (found through its lock and token files, as a daemon's).

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use swe_sleep::daemon;

use super::print_json;

/// Whether `dir` is laid out as a service's state directory (its
/// repositories under `repos/`, no notebook of its own).
pub fn is_service_dir(dir: &Path) -> bool {
    dir.join("repos").is_dir() && !dir.join(swe_sleep::notebook::store::DB_FILE).exists()
}

/// Prints the status of the service running on `dir`.
pub fn run(dir: &Path, json: bool) -> anyhow::Result<()> {
    let Some(d) = daemon::client::find(dir) else {
        anyhow::bail!(
            "no swe-sleep serve is running with the state directory {} (each repository's notebook is under repos/<owner>/<name>/notebook there, readable with `swe-sleep status --repo <its mirror.git> --state-dir <that notebook>`)",
            dir.display()
        );
    };
    let v = d.get("/status", Duration::from_secs(10))?;
    if !(v["service"].is_object() && v["repositories"].is_array()) {
        anyhow::bail!(
            "the process {} on {} is not a swe-sleep serve",
            d.pid,
            dir.display()
        );
    }
    if json {
        return print_json(&serde_json::json!({
            "pid": d.pid,
            "addr": d.addr.to_string(),
            "status": v,
        }));
    }
    print!("{}", describe(d.pid, &d.addr.to_string(), &v));
    Ok(())
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

/// The service in a few lines, then one line per repository.
fn describe(pid: u32, addr: &str, v: &Value) -> String {
    let s = &v["service"];
    let mut out = format!(
        "Service: pid {pid} at http://{addr}{}: {} repositories ({} sleeping, {} backing off), {} sleeps, {} failures, {} predictions.\n",
        s["worker"]
            .as_str()
            .map(|w| format!(" (worker {w}, {} leases)", n(&s["leased"])))
            .unwrap_or_default(),
        n(&s["repositories"]),
        n(&s["sleeping"]),
        n(&s["backing_off"]),
        n(&s["sleeps"]),
        n(&s["sleep_failures"]) + n(&s["fetch_failures"]),
        n(&s["predictions"]),
    );
    let q = &s["queue"];
    if q.is_object() {
        out.push_str(&format!(
            "Queue: {} queued, {} running, {} done, {} failed.\n",
            n(&q["queued"]),
            n(&q["running"]),
            n(&q["done"]),
            n(&q["failed"])
        ));
    }
    match (&s["model"], s["model_error"].as_str()) {
        (m, _) if m.is_object() => out.push_str(&format!(
            "Model calls: {} ({} failed), {} tokens in, {} out, ${:.4}.\n",
            n(&m["calls"]),
            n(&m["failed"]),
            n(&m["input_tokens"]),
            n(&m["output_tokens"]),
            m["cost"].as_f64().unwrap_or(0.0)
        )),
        (_, Some(why)) => out.push_str(&format!("Model calls: cannot be read: {why}\n")),
        _ => {}
    }
    let repos = v["repositories"].as_array().cloned().unwrap_or_default();
    if repos.is_empty() {
        return out;
    }
    let width = repos
        .iter()
        .filter_map(|r| r["repo"].as_str())
        .map(str::len)
        .max()
        .unwrap_or(4)
        .max(4);
    out.push_str(&format!(
        "{:width$}  {:11}  {:12}  {:>6}  {:>8}  {:>11}  {:>11}\n",
        "repo", "state", "commit", "sleeps", "failures", "predictions", "model calls"
    ));
    for r in &repos {
        let commit: String = r["notebook_commit"]
            .as_str()
            .unwrap_or("-")
            .chars()
            .take(12)
            .collect();
        let mut line = format!(
            "{:width$}  {:11}  {:12}  {:>6}  {:>8}  {:>11}  {:>11}",
            r["repo"].as_str().unwrap_or("?"),
            r["state"].as_str().unwrap_or("?"),
            commit,
            n(&r["sleeps"]),
            n(&r["sleep_failures"]) + n(&r["fetch_failures"]),
            n(&r["predictions"]),
            n(&r["model"]["calls"]),
        );
        if r["leased"] == false {
            line.push_str("  (leased by another process)");
        }
        if let Some(e) = r["last_error"].as_str() {
            let e: String = e.chars().take(120).collect();
            line.push_str(&format!("  last error: {e}"));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
