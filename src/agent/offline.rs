//! The offline policy: a deterministic agent with no model. It searches,
//! asks history which past pull requests resemble the request, follows
//! co-change from its strongest candidates, reads the cards of the leading
//! candidates while budget remains, then fuses everything it read into one
//! score and cuts the ranking into a set (a calibrated relative threshold,
//! not a fixed k). Its knobs live in `calibration/offline.toml`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde::Deserialize;

use crate::learn::{self, Ranker};

use super::rank;
use super::request::Request;
use super::run::{Action, Policy, Scored, View};
use super::tools::{FileItem, PrItem, ToolCall, ToolData};

const CALIBRATION: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/calibration/offline.toml"
));

/// The policy's knobs; see `calibration/offline.toml` for the reasons.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calibration {
    pub search_share: f64,
    pub prs_share: f64,
    pub cochange_share: f64,
    pub search_line_tokens: f64,
    pub pr_line_tokens: f64,
    pub brief_below: f64,
    pub brief_prs_below: f64,
    pub search_line_tokens_brief: f64,
    pub pr_line_tokens_brief: f64,
    pub search_k_min: usize,
    pub search_k_max: usize,
    pub prs_k_min: usize,
    pub prs_k_max: usize,
    pub cochange_seeds: usize,
    pub pr_similarity_power: f64,
    pub pr_half_life_days: f64,
    pub pr_spread_power: f64,
    pub w_search: f64,
    pub w_history: f64,
    pub w_cochange: f64,
    pub w_card: f64,
    pub w_context: f64,
    pub w_anticipated: f64,
    pub peripheral_factor: f64,
    pub cut_ratio: f64,
    pub max_files: usize,
    pub min_files: usize,
}

impl Default for Calibration {
    fn default() -> Self {
        toml::from_str(CALIBRATION).expect("calibration/offline.toml is valid (a test checks it)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Search,
    Prs,
    Cochange,
    Cards,
    Done,
}

/// Everything the policy has read, per file.
#[derive(Debug, Default, Clone, serde::Serialize)]
struct Evidence {
    search: Option<(usize, f64, String)>,
    history: f64,
    history_prs: Vec<u64>,
    /// Titles of those PRs, by number.
    history_titles: Vec<(u64, String)>,
    /// Each vote: (similarity relative to the best PR, age in days, files it touched).
    votes: Vec<(f64, u32, usize)>,
    cochange: f64,
    cochange_with: Vec<String>,
    card_hits: Vec<String>,
    /// Context pull requests (paper setting) that changed this file.
    context: f64,
    /// Similarity of the anticipated request whose precomputed files
    /// include this one (0: none).
    anticipated: f64,
}

pub struct OfflinePolicy {
    cal: Calibration,
    phase: Phase,
    req: Option<Request>,
    files: HashMap<String, Evidence>,
    seeds: Option<Vec<String>>,
    cards_read: HashSet<String>,
    /// The run's token budget (seen on the first decision).
    budget: u64,
    /// This repository's learned ranker, when sleep time fitted one: it
    /// scores the candidates and chooses the set by expected F1 instead
    /// of the calibrated relative cut.
    ranker: Option<Arc<Ranker>>,
}

impl Default for OfflinePolicy {
    fn default() -> Self {
        OfflinePolicy::new(Calibration::default())
    }
}

impl OfflinePolicy {
    pub fn new(cal: Calibration) -> OfflinePolicy {
        OfflinePolicy {
            cal,
            phase: Phase::Search,
            req: None,
            files: HashMap::new(),
            seeds: None,
            cards_read: HashSet::new(),
            budget: 0,
            ranker: None,
        }
    }

    /// Uses `ranker` (learned at sleep time for this repository) for the
    /// final choice; the calls the policy makes do not change.
    pub fn set_ranker(&mut self, ranker: Arc<Ranker>) {
        self.ranker = Some(ranker);
    }

    /// Every candidate read about, as the learned ranker sees it, in the
    /// default ranking's order; and the request's facts.
    pub fn candidates(&self) -> (Vec<learn::Candidate>, learn::Query) {
        let ranked = self.ranking();
        let top = ranked.first().map_or(1.0, |s| s.score).max(1e-9);
        let max_search = self
            .files
            .values()
            .filter_map(|e| e.search.as_ref().map(|s| s.1))
            .fold(0.0, f64::max)
            .max(1e-9);
        let max_hist = self
            .files
            .values()
            .map(|e| e.history)
            .fold(0.0, f64::max)
            .max(1e-9);
        let max_co = self
            .files
            .values()
            .map(|e| e.cochange)
            .fold(0.0, f64::max)
            .max(1e-9);
        let max_ctx = self
            .files
            .values()
            .map(|e| e.context)
            .fold(0.0, f64::max)
            .max(1e-9);
        let n_terms = self.distinct_terms();
        let cands: Vec<learn::Candidate> = ranked
            .iter()
            .enumerate()
            .map(|(rank, s)| {
                let e = &self.files[&s.path];
                let evidence = e.search.as_ref().map_or("", |x| x.2.as_str());
                let has = |prefix: &str| evidence.split("; ").any(|part| part.starts_with(prefix));
                learn::Candidate {
                    path: s.path.clone(),
                    fused: s.score / top,
                    rank,
                    search_rank: e.search.as_ref().map(|x| x.0),
                    search_score: e.search.as_ref().map_or(0.0, |x| x.1 / max_search),
                    lists: learn::Lists {
                        code: has("code:"),
                        path: has("path:"),
                        symbol: has("defines "),
                        card: has("card:"),
                        history: has("past PRs:"),
                        meaning: has("meaning:"),
                        like_prs: has("like PRs:"),
                    },
                    history: e.history / max_hist,
                    votes: e.votes.len(),
                    vote_best: e.votes.iter().map(|v| v.0).fold(0.0, f64::max),
                    vote_age_days: e.votes.iter().map(|v| v.1).min(),
                    cochange: e.cochange / max_co,
                    cochange_seeds: e.cochange_with.len(),
                    card_read: self.cards_read.contains(&s.path),
                    card_hits: e.card_hits.len() as f64 / n_terms.max(1) as f64,
                    context: e.context / max_ctx,
                    anticipated: e.anticipated,
                }
            })
            .collect();
        let query = learn::Query {
            terms: n_terms,
            candidates: cands.len(),
            budget: self.budget,
        };
        (cands, query)
    }

    fn distinct_terms(&self) -> usize {
        self.req.as_ref().map_or(0, |r| {
            let mut t = r.terms.clone();
            t.sort();
            t.dedup();
            t.len()
        })
    }

    fn absorb(&mut self, call: &ToolCall, data: &ToolData) {
        match (call, data) {
            (ToolCall::Search { .. }, ToolData::Files { items }) => self.absorb_search(items),
            (ToolCall::SimilarPrs { .. }, ToolData::Prs { items }) => self.absorb_prs(items),
            (ToolCall::Cochange { path }, ToolData::Files { items }) => {
                self.absorb_cochange(path, items)
            }
            (ToolCall::Card { path }, ToolData::Card { text, .. }) => self.absorb_card(path, text),
            _ => {}
        }
    }

    /// Files named by the context: `diff --git a/X b/X` headers of raw
    /// patches, or `file: X` lines of the notebook's digest. Each context PR
    /// votes once for each file it changed.
    fn absorb_context(&mut self, context: &str) {
        for path in context_files(context) {
            self.files.entry(path).or_default().context += 1.0;
        }
        if let Some((sim, files)) = super::anticipate::context_files(context) {
            for path in files {
                self.files.entry(path).or_default().anticipated = sim.clamp(0.0, 1.0);
            }
        }
    }

    fn absorb_search(&mut self, items: &[FileItem]) {
        for (i, it) in items.iter().enumerate() {
            let e = self.files.entry(it.path.clone()).or_default();
            e.search = Some((i, it.score, it.evidence.clone()));
        }
    }

    /// Each similar PR votes for the files it modified, in proportion to its
    /// similarity and inversely to how many files it spread over.
    fn absorb_prs(&mut self, items: &[PrItem]) {
        let top = items.iter().map(|p| p.score).fold(0.0, f64::max);
        if top <= 0.0 {
            return;
        }
        for p in items {
            if p.files.is_empty() {
                continue;
            }
            let decay = 0.5f64.powf(p.age_days as f64 / self.cal.pr_half_life_days.max(1.0));
            let c = &self.cal;
            let w = (p.score / top).powf(c.pr_similarity_power) * decay
                / (p.files.len() as f64).powf(c.pr_spread_power);
            for f in &p.files {
                let e = self.files.entry(f.clone()).or_default();
                e.history += w;
                e.votes.push((p.score / top, p.age_days, p.files.len()));
                if let Some(n) = p.pr {
                    e.history_prs.push(n);
                    e.history_titles.push((n, p.title.clone()));
                }
            }
        }
    }

    fn absorb_cochange(&mut self, seed: &str, items: &[FileItem]) {
        let top = items.iter().map(|i| i.score).fold(0.0, f64::max);
        if top <= 0.0 {
            return;
        }
        for it in items {
            let e = self.files.entry(it.path.clone()).or_default();
            e.cochange += it.score / top;
            e.cochange_with.push(seed.to_string());
        }
    }

    fn absorb_card(&mut self, path: &str, text: &str) {
        let Some(req) = &self.req else { return };
        let card_terms: HashSet<String> = crate::text::terms(text).into_iter().collect();
        let mut wanted: Vec<&String> = req.terms.iter().collect();
        wanted.sort();
        wanted.dedup();
        let hits: Vec<String> = wanted
            .into_iter()
            .filter(|t| card_terms.contains(*t))
            .cloned()
            .collect();
        self.files.entry(path.to_string()).or_default().card_hits = hits;
    }

    /// The fused score of every file read about, best first, with reasons.
    fn ranking(&self) -> Vec<Scored> {
        let c = &self.cal;
        let max_search = self
            .files
            .values()
            .filter_map(|e| e.search.as_ref().map(|s| s.1))
            .fold(0.0, f64::max);
        let max_hist = self.files.values().map(|e| e.history).fold(0.0, f64::max);
        let max_co = self.files.values().map(|e| e.cochange).fold(0.0, f64::max);
        let max_ctx = self.files.values().map(|e| e.context).fold(0.0, f64::max);
        let n_terms = self.req.as_ref().map_or(1, |r| {
            let mut t = r.terms.clone();
            t.sort();
            t.dedup();
            t.len().max(1)
        });
        let mut out: Vec<Scored> = self
            .files
            .iter()
            .map(|(path, e)| {
                let peripheral = rank::is_peripheral(path);
                let mut s = 0.0;
                let mut reasons = Vec::new();
                if let Some((rank, score, ev)) = &e.search {
                    let mut v = c.w_search * score / max_search.max(1e-9);
                    if peripheral {
                        v *= c.peripheral_factor;
                    }
                    s += v;
                    reasons.push(if ev.is_empty() {
                        format!("search rank {}", rank + 1)
                    } else {
                        ev.clone()
                    });
                }
                if e.history > 0.0 {
                    s += c.w_history * e.history / max_hist.max(1e-9);
                    let mut prs = e.history_prs.clone();
                    prs.sort();
                    prs.dedup();
                    if prs.is_empty() {
                        reasons.push("modified by similar past commits".into());
                    } else {
                        let shown: Vec<String> =
                            prs.iter().rev().take(3).map(|n| format!("#{n}")).collect();
                        reasons.push(format!("modified by similar PRs {}", shown.join(" ")));
                    }
                }
                if e.cochange > 0.0 {
                    s += c.w_cochange * e.cochange / max_co.max(1e-9);
                    reasons.push(format!("changes with {}", e.cochange_with.join(", ")));
                }
                if e.context > 0.0 {
                    s += c.w_context * (e.context / max_ctx.max(1e-9));
                    reasons.push(format!("changed by {} related PRs", e.context));
                }
                if e.anticipated > 0.0 {
                    s += c.w_anticipated * e.anticipated;
                    reasons.push(format!(
                        "anticipated at sleep time for a similar request (similarity {:.2})",
                        e.anticipated
                    ));
                }
                if !e.card_hits.is_empty() {
                    s += c.w_card * (e.card_hits.len() as f64 / n_terms as f64).min(1.0);
                    reasons.push(format!(
                        "card mentions {}",
                        e.card_hits
                            .iter()
                            .take(4)
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(" ")
                    ));
                }
                Scored {
                    path: path.clone(),
                    score: s,
                    reason: reasons.join("; "),
                }
            })
            .filter(|s| s.score > 0.0)
            .collect();
        out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.path.cmp(&b.path)));
        out
    }

    /// The learned ranker's expected-F1 set when there is one, else the
    /// calibrated cut: a relative threshold on the fused score.
    /// The reasons are rewritten for a person ([`super::reasons`]).
    fn choose(&self) -> Vec<Scored> {
        match &self.ranker {
            Some(ranker) if ranker.used_at(self.budget) => {
                self.for_people(self.choose_learned(ranker), true)
            }
            _ => self.for_people(self.choose_default(), false),
        }
    }

    /// `chosen` with reasons in the request's words and plain names for
    /// each kind of evidence, without what every file shares.
    fn for_people(&self, chosen: Vec<Scored>, learned: bool) -> Vec<Scored> {
        let words = super::reasons::Words::of(self.req.as_ref().map_or("", |r| r.text.as_str()));
        let mut all: Vec<Vec<String>> = chosen
            .iter()
            .map(|s| {
                let Some(e) = self.files.get(&s.path) else {
                    return Vec::new();
                };
                let facts = super::reasons::Facts {
                    search: e.search.as_ref().map(|x| x.2.as_str()),
                    prs: e
                        .history_titles
                        .iter()
                        .map(|(n, t)| (*n, t.as_str()))
                        .collect(),
                    commits: if e.history > 0.0 { e.votes.len() } else { 0 },
                    cochange_with: &e.cochange_with,
                    card_hits: &e.card_hits,
                    context: e.context,
                    anticipated: e.anticipated,
                    learned: learned.then_some(s.score),
                };
                super::reasons::phrases(&facts, &words)
            })
            .collect();
        super::reasons::drop_shared(&mut all);
        chosen
            .into_iter()
            .zip(all)
            .map(|(s, reasons)| Scored {
                reason: if reasons.is_empty() {
                    s.reason
                } else {
                    reasons.join("; ")
                },
                ..s
            })
            .collect()
    }

    fn choose_learned(&self, ranker: &Ranker) -> Vec<Scored> {
        let ranked = self.ranking();
        let (cands, query) = self.candidates();
        ranker
            .choose(&cands, &query)
            .into_iter()
            .map(|(i, p)| {
                let base = &ranked[i];
                let reason = if base.reason.is_empty() {
                    format!("learned probability {p:.2}")
                } else {
                    format!("{}; learned probability {p:.2}", base.reason)
                };
                Scored {
                    path: base.path.clone(),
                    score: p,
                    reason,
                }
            })
            .collect()
    }

    /// What the default calibration would submit now (the relative cut).
    pub fn choose_default(&self) -> Vec<Scored> {
        let ranked = self.ranking();
        let Some(top) = ranked.first().map(|s| s.score) else {
            return Vec::new();
        };
        let c = &self.cal;
        ranked
            .into_iter()
            .enumerate()
            .filter(|(i, s)| *i < c.min_files || s.score >= c.cut_ratio * top)
            .take(c.max_files)
            .map(|(_, s)| s)
            .collect()
    }

    /// Reads what `view` shows (the request, the context, the last result)
    /// without deciding anything: model-driven policies keep an offline
    /// policy watching, so its ranking is their fallback.
    pub fn observe(&mut self, view: &View<'_>) {
        if self.req.is_none() {
            self.budget = view.budget.tokens;
            self.req = Some(Request::new(view.request));
            self.absorb_context(view.context);
        }
        if let Some((call, out)) = view.last {
            self.absorb(call, &out.data);
        }
    }

    /// The set the policy would submit now.
    pub fn choice(&self) -> Vec<Scored> {
        self.choose()
    }

    /// Every file read about, best first, with its reasons.
    pub fn ranked(&self) -> Vec<Scored> {
        self.ranking()
    }

    /// The next step for what has been observed ([`Self::observe`]): a
    /// policy that hands the rest of a run to this one calls it directly.
    pub fn decide(&mut self, view: &View<'_>) -> Action {
        let req_empty = self.req.as_ref().is_none_or(Request::is_empty);
        if view.must_submit || req_empty {
            return Action::Submit(self.choose());
        }
        let remaining = view.budget.remaining() as f64;
        let c = self.cal.clone();
        loop {
            match self.phase {
                Phase::Search => {
                    self.phase = Phase::Prs;
                    let brief = remaining < c.brief_below;
                    let line = if brief {
                        c.search_line_tokens_brief
                    } else {
                        c.search_line_tokens
                    };
                    let k = ((remaining * c.search_share) / line) as usize;
                    let k = k.clamp(c.search_k_min, c.search_k_max);
                    return Action::Call(ToolCall::Search {
                        query: view.request.to_string(),
                        k,
                        brief,
                    });
                }
                Phase::Prs => {
                    self.phase = Phase::Cochange;
                    let brief = remaining < c.brief_prs_below;
                    let line = if brief {
                        c.pr_line_tokens_brief
                    } else {
                        c.pr_line_tokens
                    };
                    let k = ((remaining * c.prs_share) / line) as usize;
                    if k < c.prs_k_min {
                        continue;
                    }
                    let k = k.min(c.prs_k_max);
                    return Action::Call(ToolCall::SimilarPrs {
                        text: view.request.to_string(),
                        k,
                        brief,
                    });
                }
                Phase::Cochange => {
                    let ranking = self.ranking();
                    let seeds = self.seeds.get_or_insert_with(|| {
                        let mut s: Vec<String> = ranking
                            .into_iter()
                            .filter(|s| !rank::is_peripheral(&s.path))
                            .take(c.cochange_seeds)
                            .map(|s| s.path)
                            .collect();
                        s.reverse();
                        s
                    });
                    match seeds.pop() {
                        Some(seed) if remaining * c.cochange_share > 120.0 => {
                            return Action::Call(ToolCall::Cochange { path: seed });
                        }
                        _ => self.phase = Phase::Cards,
                    }
                }
                Phase::Cards => match self.next_card() {
                    Some(path) if remaining > 150.0 => {
                        self.cards_read.insert(path.clone());
                        return Action::Call(ToolCall::Card { path });
                    }
                    _ => self.phase = Phase::Done,
                },
                Phase::Done => return Action::Submit(self.choose()),
            }
        }
    }

    fn next_card(&self) -> Option<String> {
        self.ranking()
            .into_iter()
            .take(self.cal.max_files + 4)
            .map(|s| s.path)
            .find(|p| !self.cards_read.contains(p))
    }
}

impl Policy for OfflinePolicy {
    fn name(&self) -> &'static str {
        "offline"
    }

    fn set_ranker(&mut self, ranker: Arc<Ranker>) {
        OfflinePolicy::set_ranker(self, ranker);
    }

    fn explain(&self) -> serde_json::Value {
        let mut files: Vec<(&String, &Evidence)> = self.files.iter().collect();
        files.sort_by(|a, b| a.0.cmp(b.0));
        let list: Vec<serde_json::Value> = files
            .into_iter()
            .map(|(path, e)| serde_json::json!({ "path": path, "peripheral": rank::is_peripheral(path), "evidence": e }))
            .collect();
        serde_json::json!({ "candidates": list })
    }

    fn next(&mut self, view: &View<'_>) -> Action {
        self.observe(view);
        self.decide(view)
    }
}

/// Paths a context text names as changed: one per `diff --git` header or
/// `file:` line, once per context PR section (`## PR` headings).
pub fn context_files(context: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut section: Vec<String> = Vec::new();
    for line in context.lines() {
        if line.starts_with("## PR") {
            out.append(&mut section);
            continue;
        }
        let path = if let Some(rest) = line.strip_prefix("diff --git a/") {
            rest.rsplit_once(" b/").map(|(_, b)| b.trim().to_string())
        } else {
            line.trim_start()
                .strip_prefix("file: ")
                .and_then(|r| r.split_whitespace().next())
                .map(str::to_string)
        };
        if let Some(p) = path
            && !p.is_empty()
            && !section.contains(&p)
        {
            section.push(p);
        }
    }
    out.append(&mut section);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_files_from_patches_and_digests() {
        let ctx = "## PR #1: a\ndiff --git a/src/a.rs b/src/a.rs\n+x\ndiff --git a/src/b.rs b/src/b.rs\n## PR #2: b\nfile: src/a.rs — parses things (modified)\n  file: docs/x.md (added)\n";
        assert_eq!(
            context_files(ctx),
            ["src/a.rs", "src/b.rs", "src/a.rs", "docs/x.md"]
        );
    }

    #[test]
    fn calibration_file_parses() {
        let c = Calibration::default();
        assert!(c.cut_ratio > 0.0 && c.cut_ratio < 1.0);
        assert!(c.max_files >= c.min_files);
    }
}
