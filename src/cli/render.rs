//! Text a person reads for a prediction: the terminal rendering of a
//! [`Prediction`] and of a daemon's JSON answer.

use swe_sleep::agent::Prediction;

/// [`describe`] for a daemon's JSON answer.
pub fn describe_answer(v: &serde_json::Value) -> String {
    let mut out = String::new();
    let files = v["files"].as_array().cloned().unwrap_or_default();
    if files.is_empty() {
        out.push_str("No files predicted.\n");
    }
    for f in &files {
        out.push_str(&format!(
            "{:.3}  {}  ({})\n",
            f["score"].as_f64().unwrap_or(0.0),
            f["path"].as_str().unwrap_or("?"),
            f["reason"].as_str().unwrap_or("")
        ));
    }
    out.push_str(&format!(
        "-- {} arm, {} policy: {} of {} tokens, {} of {} steps (answered by the daemon; notebook at {}{})\n",
        v["arm"].as_str().unwrap_or("?"),
        v["policy"].as_str().unwrap_or("?"),
        v["tokens_used"],
        v["budget"],
        v["steps"],
        v["max_steps"],
        v["notebook_commit"].as_str().map_or("the work tree", |c| &c[..12.min(c.len())]),
        if v["stale"] == true { ", stale: it catches up while idle" } else { "" }
    ));
    for n in v["notes"].as_array().into_iter().flatten() {
        out.push_str(&format!("note: {}\n", n.as_str().unwrap_or("")));
    }
    out
}

pub fn describe(p: &Prediction) -> String {
    let mut out = String::new();
    if p.files.is_empty() {
        out.push_str("No files predicted.\n");
    }
    for f in &p.files {
        out.push_str(&format!("{:.3}  {}  ({})\n", f.score, f.path, f.reason));
    }
    out.push_str(&format!(
        "-- {} arm, {} policy: {} of {} tokens, {} of {} steps\n",
        p.arm, p.policy, p.tokens_used, p.budget, p.steps, p.max_steps
    ));
    if let Some(m) = &p.model {
        out.push_str(&format!(
            "-- model {} ({}): {} calls, {} input + {} cached + {} output tokens billed\n",
            m.model,
            m.provider,
            m.calls,
            m.usage.input + m.usage.cache_write,
            m.usage.cache_read,
            m.usage.output
        ));
    }
    for n in &p.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    out
}
