//! Sleep-time scaling: macro F1 of the sleep arm against its sleep budget
//! (past pull requests replayed and learned from), at each test-time
//! budget, as a table and a chart. Pure.

use std::collections::BTreeSet;

use super::report::{ALL, Report, Row};
use super::runner::Arm;

/// The sleep budgets the report holds (none when fewer than two: no curve).
fn sleep_budgets(r: &Report) -> Vec<usize> {
    let set: BTreeSet<usize> = r.rows.iter().filter_map(|x| x.sleep_budget).collect();
    if set.len() < 2 {
        return Vec::new();
    }
    set.into_iter().collect()
}

fn row<'a>(r: &'a Report, repo: &str, budget: u64, sb: usize) -> Option<&'a Row> {
    r.rows.iter().find(|x| {
        x.repo == repo && x.arm == Arm::Sleep && x.budget == budget && x.sleep_budget == Some(sb)
    })
}

/// The scaling table: one row per repository and test budget, one column
/// per sleep budget, with the no-sleep arm beside it.
pub fn markdown(r: &Report) -> String {
    let sbs = sleep_budgets(r);
    if sbs.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "## Sleep-time scaling (macro F1 of the sleep arm by sleep budget, in past PRs replayed)\n\n| repo | budget | ",
    );
    out.push_str(
        &sbs.iter()
            .map(|b| b.to_string())
            .collect::<Vec<_>>()
            .join(" | "),
    );
    out.push_str(" | no-sleep |\n|---|---:|");
    out.push_str(&"---:|".repeat(sbs.len() + 1));
    out.push('\n');
    let mut keys: Vec<(String, u64)> = r
        .rows
        .iter()
        .filter(|x| x.arm == Arm::Sleep)
        .map(|x| (x.repo.clone(), x.budget))
        .collect();
    keys.sort_by(|a, b| (a.0 == ALL).cmp(&(b.0 == ALL)).then(a.cmp(b)));
    keys.dedup();
    if super::report::repositories(r).len() == 1 {
        // One repository: its rows are the overall ones.
        keys.retain(|(repo, _)| repo != ALL);
    }
    for (repo, budget) in keys {
        let cells: Vec<String> = sbs
            .iter()
            .map(|sb| row(r, &repo, budget, *sb).map_or("-".into(), |x| format!("{:.3}", x.prf.f1)))
            .collect();
        let base = r
            .rows
            .iter()
            .find(|x| x.repo == repo && x.arm == Arm::NoSleep && x.budget == budget)
            .map_or("-".into(), |x| format!("{:.3}", x.prf.f1));
        out.push_str(&format!(
            "| {} | {budget} | {} | {base} |\n",
            if repo == ALL { "all" } else { &repo },
            cells.join(" | ")
        ));
    }
    out.push('\n');
    if !r.sleep_paired.is_empty() {
        out.push_str(&format!(
            "Each sleep budget against {} past PRs, instance by instance (the sleep arm's F1 with more replay minus its F1 with the least, 95% bootstrap interval):\n\n",
            sbs[0]
        ));
        out.push_str(&super::paired::table(
            &r.sleep_paired,
            super::report::repositories(r).len() == 1,
            "more sleep",
        ));
        out.push('\n');
    }
    out
}

/// F1 (all repositories) against sleep budget, one line per test budget;
/// `None` without at least two sleep budgets.
pub fn scaling_svg(r: &Report) -> Option<String> {
    let sbs = sleep_budgets(r);
    if sbs.is_empty() {
        return None;
    }
    let budgets: BTreeSet<u64> = r
        .rows
        .iter()
        .filter(|x| x.repo == ALL && x.arm == Arm::Sleep)
        .map(|x| x.budget)
        .collect();
    let (w, h, ml, mr, mt, mb) = (720.0, 470.0, 70.0, 150.0, 50.0, 60.0);
    let top = r
        .rows
        .iter()
        .filter(|x| x.repo == ALL)
        .map(|x| x.prf.f1)
        .fold(0.0, f64::max)
        .max(0.1)
        * 1.1;
    let step = if top <= 0.4 { 0.05 } else { 0.1 };
    let ymax = (top / step).ceil() * step;
    // Square-root x axis: 0 stays on the chart and small budgets spread.
    let xmax = (*sbs.last().expect("two or more") as f64).sqrt().max(1.0);
    let lx = |sb: usize| ml + (sb as f64).sqrt() / xmax * (w - ml - mr);
    let ly = |y: f64| h - mb - y / ymax * (h - mt - mb);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"{}\" y=\"20\" text-anchor=\"middle\" font-size=\"15\">Macro F1 of the sleep arm against past PRs learned from</text>\n<text x=\"{}\" y=\"36\" text-anchor=\"middle\" font-size=\"11\" fill=\"#555\">{}</text>\n",
        (ml + w - mr) / 2.0,
        (ml + w - mr) / 2.0,
        super::report::escape(&super::report::coverage_line(r))
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
            "<line x1=\"{ml}\" y1=\"{:.1}\" x2=\"{}\" y2=\"{:.1}\" stroke=\"#ddd\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{y:.2}</text>\n",
            ly(y),
            w - mr,
            ly(y),
            ml - 6.0,
            ly(y) + 4.0
        ));
    }
    for sb in &sbs {
        s.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{sb}</text>\n",
            lx(*sb),
            h - mb + 16.0
        ));
    }
    s.push_str(&format!(
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">past pull requests replayed and learned from (square-root scale)</text>\n<text transform=\"translate(18 {}) rotate(-90)\" text-anchor=\"middle\">macro F1</text>\n",
        (ml + w - mr) / 2.0,
        h - 18.0,
        (mt + h - mb) / 2.0
    ));
    let colors = [
        "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2",
    ];
    for (i, budget) in budgets.iter().enumerate() {
        let color = colors[i % colors.len()];
        let pts: Vec<String> = sbs
            .iter()
            .filter_map(|sb| {
                row(r, ALL, *budget, *sb).map(|x| format!("{:.1},{:.1}", lx(*sb), ly(x.prf.f1)))
            })
            .collect();
        s.push_str(&format!(
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>\n",
            pts.join(" ")
        ));
        for p in &pts {
            let (x, y) = p.split_once(',').expect("formatted above");
            s.push_str(&format!(
                "<circle cx=\"{x}\" cy=\"{y}\" r=\"3.5\" fill=\"{color}\"/>\n"
            ));
        }
        if let Some(base) = r
            .rows
            .iter()
            .find(|x| x.repo == ALL && x.arm == Arm::NoSleep && x.budget == *budget)
        {
            s.push_str(&format!(
                "<line x1=\"{ml}\" y1=\"{:.1}\" x2=\"{}\" y2=\"{:.1}\" stroke=\"{color}\" stroke-dasharray=\"4 4\"/>\n",
                ly(base.prf.f1),
                w - mr,
                ly(base.prf.f1)
            ));
        }
        let y0 = mt + 10.0 + 18.0 * i as f64;
        s.push_str(&format!(
            "<line x1=\"{}\" y1=\"{y0}\" x2=\"{}\" y2=\"{y0}\" stroke=\"{color}\" stroke-width=\"2\"/><text x=\"{}\" y=\"{}\">{budget} tokens</text>\n",
            w - mr + 10.0,
            w - mr + 35.0,
            w - mr + 40.0,
            y0 + 4.0
        ));
    }
    s.push_str(&format!(
        "<text x=\"{}\" y=\"{}\" font-size=\"10\">dashed: no-sleep arm</text>\n</svg>\n",
        w - mr + 10.0,
        mt + 14.0 + 18.0 * budgets.len() as f64
    ));
    Some(s)
}
