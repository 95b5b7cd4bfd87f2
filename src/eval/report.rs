//! Aggregates run records into the report: macro P/R/F1 per repository,
//! arm and budget; test-time tokens and wall time; sleep-time cost; the
//! amortized cost per query as in the paper; and the Pareto charts. Pure
//! except for the writers at the bottom.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Serialize;

use super::runner::{Arm, RunRecord, SleepRecord};
use super::score::{Prf, macro_avg};

/// Label of the row that averages every instance.
pub const ALL: &str = "all";

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub repo: String,
    pub arm: Arm,
    /// The sleep arm's sleep budget (past PRs replayed and learned from).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sleep_budget: Option<usize>,
    pub budget: u64,
    pub instances: usize,
    #[serde(flatten)]
    pub prf: Prf,
    pub mean_tokens: f64,
    pub mean_steps: f64,
    pub mean_wall_ms: f64,
    /// Model calls and billed tokens per query (model-driven policies).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelMeans>,
}

/// Means per query of the model's calls and billed tokens (`usage`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ModelMeans {
    pub calls: f64,
    pub input: f64,
    pub output: f64,
    pub cache_read: f64,
    pub cache_write: f64,
    /// Share of runs that fell back to the offline choice.
    pub fallback: f64,
}

fn model_means(rs: &[&RunRecord]) -> Option<ModelMeans> {
    let used: Vec<_> = rs.iter().filter_map(|r| r.model.as_ref()).collect();
    if used.is_empty() {
        return None;
    }
    let n = rs.len().max(1) as f64;
    let sum =
        |f: &dyn Fn(&crate::agent::ModelUse) -> f64| used.iter().map(|m| f(m)).sum::<f64>() / n;
    Some(ModelMeans {
        calls: sum(&|m| m.calls as f64),
        input: sum(&|m| m.usage.input as f64),
        output: sum(&|m| m.usage.output as f64),
        cache_read: sum(&|m| m.usage.cache_read as f64),
        cache_write: sum(&|m| m.usage.cache_write as f64),
        fallback: sum(&|m| f64::from(u8::from(m.fallback))),
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct SleepCost {
    pub repo: String,
    pub sleeps: usize,
    /// Tokens read by the first (cold) sleep: the cost of one context.
    pub cold_tokens: u64,
    pub cold_seconds: f64,
    /// All sleeps of the run (cold plus incremental).
    pub total_tokens: u64,
    pub total_seconds: f64,
    /// Past PRs replayed over the whole run (each once), and what the
    /// replay cost: tokens read by replay sleeps and replayed runs.
    pub replayed: usize,
    pub replay_tokens: u64,
    pub replay_seconds: f64,
}

impl SleepCost {
    /// Sleep-time tokens of one context learned with `sleep_budget` past
    /// PRs: the cold index plus that many PRs at the run's mean replay
    /// cost per PR.
    pub fn context_tokens(&self, sleep_budget: Option<usize>) -> f64 {
        let per_pr = if self.replayed > 0 {
            self.replay_tokens as f64 / self.replayed as f64
        } else {
            0.0
        };
        self.cold_tokens as f64 + per_pr * sleep_budget.unwrap_or(0) as f64
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Amortized {
    pub repo: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sleep_budget: Option<usize>,
    pub budget: u64,
    /// Queries sharing one context.
    pub queries: usize,
    pub sleep_cost: f64,
    pub no_sleep_cost: f64,
    /// sleep / no-sleep (below 1: sleeping pays).
    pub ratio: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub rows: Vec<Row>,
    pub sleep: Vec<SleepCost>,
    /// Test-time tokens priced at `t` times sleep-time tokens.
    pub t: f64,
    pub amortized: Vec<Amortized>,
    /// The sleep arm against the no-sleep arm, instance by instance.
    pub paired: Vec<super::paired::Paired>,
    /// Each sleep budget against the smallest, instance by instance.
    pub sleep_paired: Vec<super::paired::Paired>,
}

pub fn build(records: &[RunRecord], sleeps: &[SleepRecord], t: f64) -> Report {
    type Key = (String, String, Option<usize>, u64);
    let mut groups: BTreeMap<Key, Vec<&RunRecord>> = BTreeMap::new();
    for r in records {
        let arm = r.arm.as_str().to_string();
        groups
            .entry((r.repo.clone(), arm.clone(), r.sleep_budget, r.budget))
            .or_default()
            .push(r);
        groups
            .entry((ALL.to_string(), arm, r.sleep_budget, r.budget))
            .or_default()
            .push(r);
    }
    let rows: Vec<Row> = groups
        .into_iter()
        .map(|((repo, arm, sleep_budget, budget), rs)| {
            let n = rs.len().max(1) as f64;
            Row {
                repo,
                arm: Arm::parse(&arm).expect("arm names round-trip"),
                sleep_budget,
                budget,
                instances: rs.len(),
                prf: macro_avg(&rs.iter().map(|r| r.prf).collect::<Vec<_>>()),
                mean_tokens: rs.iter().map(|r| r.tokens as f64).sum::<f64>() / n,
                mean_steps: rs.iter().map(|r| r.steps as f64).sum::<f64>() / n,
                mean_wall_ms: rs.iter().map(|r| r.wall_ms).sum::<f64>() / n,
                model: model_means(&rs),
            }
        })
        .collect();
    let mut by_repo: BTreeMap<&str, Vec<&SleepRecord>> = BTreeMap::new();
    for s in sleeps {
        by_repo.entry(&s.repo).or_default().push(s);
    }
    let sleep: Vec<SleepCost> = by_repo
        .into_iter()
        .map(|(repo, ss)| SleepCost {
            repo: repo.to_string(),
            sleeps: ss.len(),
            cold_tokens: ss.first().map_or(0, |s| s.sleep_tokens),
            cold_seconds: ss.first().map_or(0.0, |s| s.sleep_seconds),
            total_tokens: ss.iter().map(|s| s.sleep_tokens).sum(),
            total_seconds: ss.iter().map(|s| s.sleep_seconds).sum(),
            replayed: ss.iter().map(|s| s.replayed).sum(),
            replay_tokens: ss.iter().map(|s| s.replay_tokens).sum(),
            replay_seconds: ss.iter().map(|s| s.replay_seconds).sum(),
        })
        .collect();
    let amortized = amortize(&rows, &sleep, t);
    Report {
        rows,
        sleep,
        t,
        amortized,
        paired: super::paired::arms(records),
        sleep_paired: super::paired::sleep_budgets(records),
    }
}

/// Cost per query = sleep tokens / N + t × test-time tokens, against the
/// no-sleep arm at the same budget (which pays no sleep). The sleep tokens
/// of a context count the replay its sleep budget paid for.
fn amortize(rows: &[Row], sleep: &[SleepCost], t: f64) -> Vec<Amortized> {
    let mut out = Vec::new();
    for s in sleep {
        let actual = rows
            .iter()
            .filter(|r| r.repo == s.repo)
            .map(|r| r.instances)
            .max()
            .unwrap_or(0);
        let mut ns: BTreeSet<usize> = [1, 2, 5, 10].into_iter().collect();
        if actual > 0 {
            ns.insert(actual);
        }
        for r in rows
            .iter()
            .filter(|r| r.repo == s.repo && r.arm == Arm::Sleep)
        {
            let Some(base) = rows
                .iter()
                .find(|b| b.repo == s.repo && b.arm == Arm::NoSleep && b.budget == r.budget)
            else {
                continue;
            };
            for n in &ns {
                let sleep_cost = s.context_tokens(r.sleep_budget) / *n as f64 + t * r.mean_tokens;
                let no_sleep_cost = t * base.mean_tokens;
                out.push(Amortized {
                    repo: s.repo.clone(),
                    sleep_budget: r.sleep_budget,
                    budget: r.budget,
                    queries: *n,
                    sleep_cost,
                    no_sleep_cost,
                    ratio: if no_sleep_cost > 0.0 {
                        sleep_cost / no_sleep_cost
                    } else {
                        f64::NAN
                    },
                });
            }
        }
    }
    out
}

/// The repositories of the report, sorted (the `all` rows left out).
pub fn repositories(r: &Report) -> Vec<&str> {
    let mut repos: Vec<&str> = r
        .rows
        .iter()
        .map(|x| x.repo.as_str())
        .filter(|x| *x != ALL)
        .collect();
    repos.sort();
    repos.dedup();
    repos
}

/// Instances behind the `all` rows (the most any of them covers).
pub fn instances(r: &Report) -> usize {
    r.rows
        .iter()
        .filter(|x| x.repo == ALL)
        .map(|x| x.instances)
        .max()
        .unwrap_or(0)
}

/// What the report covers, for chart titles: "n = 12, cook/book" or
/// "n = 40, 5 repositories: a/b, c/d, ...".
pub fn coverage_line(r: &Report) -> String {
    let repos = repositories(r);
    let n = instances(r);
    match repos.len() {
        0 => format!("n = {n}"),
        1 => format!("n = {n}, {}", repos[0]),
        k if k <= 3 => format!("n = {n}, {k} repositories: {}", repos.join(", ")),
        k => format!("n = {n}, {k} repositories: {}, ...", repos[..2].join(", ")),
    }
}

/// The report as Markdown: the verdict, one table per repository, and one
/// over every instance when there is more than one repository.
pub fn markdown(r: &Report) -> String {
    let mut out = String::from("# swe-sleep eval\n\n");
    let mut repos = repositories(r);
    out.push_str(&format!(
        "{} instances, {} {}.\n\n",
        instances(r),
        repos.len(),
        if repos.len() == 1 {
            "repository"
        } else {
            "repositories"
        }
    ));
    out.push_str(&super::verdict::sentence(&r.rows, &r.paired));
    if repos.len() != 1 {
        repos.push(ALL);
    }
    for repo in repos {
        out.push_str(&format!(
            "## {}\n\n",
            if repo == ALL { "Overall" } else { repo }
        ));
        out.push_str("| arm | sleep budget (PRs) | budget | n | P | R | F1 | test tokens/query | steps | wall ms/query |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for row in r.rows.iter().filter(|x| x.repo == repo) {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {:.3} | {:.3} | {:.3} | {:.0} | {:.1} | {:.1} |\n",
                row.arm.as_str(),
                row.sleep_budget.map_or("-".to_string(), |b| b.to_string()),
                row.budget,
                row.instances,
                row.prf.precision,
                row.prf.recall,
                row.prf.f1,
                row.mean_tokens,
                row.mean_steps,
                row.mean_wall_ms
            ));
        }
        let with_model: Vec<&Row> = r
            .rows
            .iter()
            .filter(|x| x.repo == repo && x.model.is_some())
            .collect();
        if !with_model.is_empty() {
            out.push_str("\nModel usage per query (billed by the provider's `usage`):\n\n| arm | budget | calls | input | cache read | cache write | output | fallback |\n|---|---:|---:|---:|---:|---:|---:|---:|\n");
            for row in with_model {
                let m = row.model.as_ref().expect("filtered");
                out.push_str(&format!(
                    "| {} | {} | {:.1} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0}% |\n",
                    row.arm.as_str(),
                    row.budget,
                    m.calls,
                    m.input,
                    m.cache_read,
                    m.cache_write,
                    m.output,
                    m.fallback * 100.0
                ));
            }
        }
        if let Some(s) = r.sleep.iter().find(|s| s.repo == repo) {
            out.push_str(&format!(
                "\nSleep time: cold {} tokens in {:.2}s; {} sleeps in all, {} tokens, {:.2}s.\n",
                s.cold_tokens, s.cold_seconds, s.sleeps, s.total_tokens, s.total_seconds
            ));
            if s.replayed > 0 {
                out.push_str(&format!(
                    "Replay: {} past pull requests in {:.1}s ({:.2}s each), {} tokens.\n",
                    s.replayed,
                    s.replay_seconds,
                    s.replay_seconds / s.replayed as f64,
                    s.replay_tokens
                ));
            }
        }
        out.push('\n');
    }
    out.push_str(&super::paired::markdown(
        &r.paired,
        repositories(r).len() == 1,
    ));
    out.push_str(&super::scaling::markdown(r));
    if !r.amortized.is_empty() {
        out.push_str(&format!(
            "## Amortized cost per query\n\nCost of one query when N queries share one sleep, in sleep-time tokens: the sleep arm pays its sleep (cold index plus the replay its sleep budget asks for) divided by N, plus t × its test-time tokens; the no-sleep arm pays t × its test-time tokens. A test-time token is priced at t = {} sleep-time tokens. Lower is better; a ratio below 1 means sleeping is cheaper.\n\n| repo | sleep budget (PRs) | budget (tokens) | N queries | sleep arm (tokens) | no-sleep arm (tokens) | ratio sleep / no-sleep |\n|---|---:|---:|---:|---:|---:|---:|\n",
            r.t
        ));
        for a in &r.amortized {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {:.0} | {:.0} | {:.2} |\n",
                a.repo,
                a.sleep_budget.map_or("-".to_string(), |b| b.to_string()),
                a.budget,
                a.queries,
                a.sleep_cost,
                a.no_sleep_cost,
                a.ratio
            ));
        }
    }
    out
}

/// Text safe inside SVG or HTML.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Which axis a Pareto chart uses.
#[derive(Debug, Clone, Copy)]
pub enum Axis {
    Tokens,
    WallMs,
}

/// F1 against mean test-time cost, one curve per arm, budgets labelled.
pub fn pareto_svg(r: &Report, axis: Axis) -> String {
    let (w, h, ml, mr, mt, mb) = (720.0, 470.0, 70.0, 30.0, 50.0, 60.0);
    let rows: Vec<&Row> = r.rows.iter().filter(|x| x.repo == ALL).collect();
    let xval = |row: &Row| match axis {
        Axis::Tokens => row.mean_tokens.max(1.0),
        Axis::WallMs => row.mean_wall_ms.max(0.01),
    };
    let (xmin, xmax) = rows.iter().fold((f64::MAX, f64::MIN), |(a, b), r| {
        (a.min(xval(r)), b.max(xval(r)))
    });
    let (xmin, xmax) = if rows.is_empty() {
        (1.0, 10.0)
    } else {
        (xmin / 1.3, xmax * 1.3)
    };
    // A round top, ticks every 0.05 or 0.1.
    let top = rows.iter().map(|r| r.prf.f1).fold(0.0, f64::max).max(0.1) * 1.1;
    let step = if top <= 0.4 { 0.05 } else { 0.1 };
    let ymax = (top / step).ceil() * step;
    let lx = |x: f64| ml + (x.ln() - xmin.ln()) / (xmax.ln() - xmin.ln()).max(1e-9) * (w - ml - mr);
    let ly = |y: f64| h - mb - y / ymax * (h - mt - mb);
    let xlabel = match axis {
        Axis::Tokens => "mean test-time tokens per query (log scale)",
        Axis::WallMs => "mean wall time per query, ms (log scale)",
    };
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"{}\" y=\"20\" text-anchor=\"middle\" font-size=\"15\">{}</text>\n<text x=\"{}\" y=\"36\" text-anchor=\"middle\" font-size=\"11\" fill=\"#555\">{}</text>\n",
        w / 2.0,
        match axis {
            Axis::Tokens => "Macro F1 against test-time tokens per query",
            Axis::WallMs => "Macro F1 against wall time per query",
        },
        w / 2.0,
        escape(&coverage_line(r))
    );
    s.push_str(&format!(
        "<line x1=\"{ml}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/>\n<line x1=\"{ml}\" y1=\"{mt}\" x2=\"{ml}\" y2=\"{}\" stroke=\"black\"/>\n",
        h - mb,
        w - mr,
        h - mb,
        h - mb
    ));
    for i in 0..=((ymax / step).round() as usize) {
        let y = step * i as f64;
        s.push_str(&format!(
            "<line x1=\"{}\" y1=\"{:.1}\" x2=\"{}\" y2=\"{:.1}\" stroke=\"#ddd\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{y:.2}</text>\n",
            ml,
            ly(y),
            w - mr,
            ly(y),
            ml - 6.0,
            ly(y) + 4.0
        ));
    }
    let mut tick = 10f64.powf(xmin.log10().floor());
    while tick <= xmax {
        for m in [1.0, 2.0, 5.0] {
            let x = tick * m;
            if x >= xmin && x <= xmax {
                s.push_str(&format!(
                    "<line x1=\"{:.1}\" y1=\"{}\" x2=\"{:.1}\" y2=\"{}\" stroke=\"#eee\"/><text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
                    lx(x),
                    mt,
                    lx(x),
                    h - mb,
                    lx(x),
                    h - mb + 16.0,
                    x
                ));
            }
        }
        tick *= 10.0;
    }
    s.push_str(&format!(
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{xlabel}</text>\n",
        (ml + w - mr) / 2.0,
        h - 18.0
    ));
    s.push_str(&format!(
        "<text transform=\"translate(18 {}) rotate(-90)\" text-anchor=\"middle\">macro F1</text>\n",
        (mt + h - mb) / 2.0
    ));
    let mut placed: Vec<(f64, f64)> = Vec::new();
    for (i, (arm, color)) in [(Arm::Sleep, "#1f77b4"), (Arm::NoSleep, "#d62728")]
        .into_iter()
        .enumerate()
    {
        // The sleep arm at its largest sleep budget (the scaling chart
        // shows the others).
        let top_sleep = rows.iter().filter_map(|r| r.sleep_budget).max();
        let mut pts: Vec<&&Row> = rows
            .iter()
            .filter(|r| r.arm == arm && (arm == Arm::NoSleep || r.sleep_budget == top_sleep))
            .collect();
        if pts.is_empty() {
            continue;
        }
        pts.sort_by_key(|r| r.budget);
        let poly: Vec<String> = pts
            .iter()
            .map(|r| format!("{:.1},{:.1}", lx(xval(r)), ly(r.prf.f1)))
            .collect();
        s.push_str(&format!(
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>\n",
            poly.join(" ")
        ));
        for r in &pts {
            let (x, y) = (lx(xval(r)), ly(r.prf.f1));
            // Labels move down until they clear every label placed so far.
            let mut label_y = y - 6.0 + 14.0 * i as f64;
            while placed.iter().any(|(px, py): &(f64, f64)| {
                (px - (x + 5.0)).abs() < 30.0 && (py - label_y).abs() < 10.0
            }) {
                label_y += 11.0;
            }
            placed.push((x + 5.0, label_y));
            s.push_str(&format!(
                "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"4\" fill=\"{color}\"/><text x=\"{:.1}\" y=\"{:.1}\" fill=\"{color}\" font-size=\"10\">{}</text>\n",
                x + 5.0,
                label_y,
                r.budget
            ));
        }
        let ly0 = mt + 8.0 + 18.0 * i as f64;
        s.push_str(&format!(
            "<line x1=\"{}\" y1=\"{ly0}\" x2=\"{}\" y2=\"{ly0}\" stroke=\"{color}\" stroke-width=\"2\"/><text x=\"{}\" y=\"{}\">{} arm (labels: budget)</text>\n",
            w - mr - 200.0,
            w - mr - 175.0,
            w - mr - 170.0,
            ly0 + 4.0,
            arm.as_str()
        ));
    }
    s.push_str("</svg>\n");
    s
}

/// Writes report.json, report.md, pareto.svg and pareto-time.svg into `dir`.
pub fn write_all(r: &Report, dir: &Path) -> std::io::Result<()> {
    std::fs::write(
        dir.join("report.json"),
        serde_json::to_string_pretty(r).map_err(std::io::Error::other)?,
    )?;
    std::fs::write(dir.join("report.md"), markdown(r))?;
    std::fs::write(dir.join("pareto.svg"), pareto_svg(r, Axis::Tokens))?;
    std::fs::write(dir.join("pareto-time.svg"), pareto_svg(r, Axis::WallMs))?;
    if let Some(svg) = super::scaling::scaling_svg(r) {
        std::fs::write(dir.join("scaling.svg"), svg)?;
    }
    Ok(())
}
