//! The agent's tools: what a policy may call, what it gets back, and the
//! rendering of results into the text a policy reads (and pays for).
//!
//! A toolbox answers a call with what it found ([`Found`]: items, text or a
//! refusal); rendering is separate and shared. A result is text plus the
//! structured items the text lists. The text is what is charged; when it
//! must be cut to fit the budget, whole items are dropped from the end, so
//! the items never say more than the text did.

use serde::{Deserialize, Serialize};

use crate::tokens;

pub use super::found::Found;

/// One call a policy can make.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "tool", rename_all = "snake_case")]
pub enum ToolCall {
    /// Ranked files for a text: lexical over code, cards, paths and symbols.
    /// `brief` lists paths and scores only (a third of the tokens).
    Search {
        query: String,
        k: usize,
        #[serde(default)]
        brief: bool,
    },
    /// A file's card.
    Card { path: String },
    /// Lines `start..=end` (1-based) of a file.
    Read { path: String, start: u32, end: u32 },
    /// Entries of a directory ("" for the root).
    List { dir: String },
    /// Where a symbol is defined and which files use it.
    Symbol { name: String },
    /// Files that change together with a file.
    Cochange { path: String },
    /// Past pull requests whose text resembles `text`, with the files they
    /// modified; `brief` shortens titles and lists at most 5 files each.
    SimilarPrs {
        text: String,
        k: usize,
        #[serde(default)]
        brief: bool,
    },
    /// The final answer.
    Submit { files: Vec<String> },
}

impl ToolCall {
    /// Whether the call asks for the short form of its answer.
    pub fn brief(&self) -> bool {
        match self {
            ToolCall::Search { brief, .. } | ToolCall::SimilarPrs { brief, .. } => *brief,
            _ => false,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            ToolCall::Search { .. } => "search",
            ToolCall::Card { .. } => "card",
            ToolCall::Read { .. } => "read",
            ToolCall::List { .. } => "list",
            ToolCall::Symbol { .. } => "symbol",
            ToolCall::Cochange { .. } => "cochange",
            ToolCall::SimilarPrs { .. } => "similar_prs",
            ToolCall::Submit { .. } => "submit",
        }
    }
}

/// A ranked file in a result, with the evidence the text shows for it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileItem {
    pub path: String,
    pub score: f64,
    pub evidence: String,
}

impl FileItem {
    pub fn new(path: impl Into<String>, score: f64, evidence: impl Into<String>) -> FileItem {
        FileItem {
            path: path.into(),
            score,
            evidence: evidence.into(),
        }
    }
}

/// A past change in a result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrItem {
    pub pr: Option<u64>,
    pub title: String,
    pub score: f64,
    pub files: Vec<String>,
    /// Days between the change and the snapshot's commit.
    pub age_days: u32,
}

/// The structured side of a result.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ToolData {
    Files { items: Vec<FileItem> },
    Prs { items: Vec<PrItem> },
    Card { path: String, text: String },
    Text,
    Error { message: String },
}

/// What a call returns.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolOutput {
    pub text: String,
    pub data: ToolData,
    /// cl100k tokens of `text`.
    pub tokens: u64,
    /// True when the result was cut to fit the budget.
    pub truncated: bool,
}

impl ToolOutput {
    pub fn error(message: impl Into<String>, max_tokens: u64) -> ToolOutput {
        let message = message.into();
        let full = format!("error: {message}");
        let (text, tokens) = tokens::truncate(&full, max_tokens);
        ToolOutput {
            text: text.to_string(),
            data: ToolData::Error { message },
            tokens,
            truncated: false,
        }
    }

    pub fn text(text: &str, max_tokens: u64) -> ToolOutput {
        let (cut, tokens) = tokens::truncate(text, max_tokens);
        ToolOutput {
            text: cut.to_string(),
            data: ToolData::Text,
            tokens,
            truncated: cut.len() < text.len(),
        }
    }
}

/// Checks a path a caller (a policy, a model) gave a tool: the refusal
/// names the rule it broke and shows the path escaped on one line. Passing
/// says only that the path is well formed; membership in the snapshot is
/// each toolbox's own second test.
pub fn path_refusal(path: &str) -> Option<String> {
    crate::git::path::check(path).err().map(|rule| {
        format!(
            "`{}` is not a file of this snapshot: {rule}",
            crate::git::path::display(path)
        )
    })
}

/// [`path_refusal`] for a directory (the root may be `""` or `"."`).
pub fn dir_refusal(dir: &str) -> Option<String> {
    crate::git::path::check_dir(dir).err().map(|rule| {
        format!(
            "`{}` is not a directory of this snapshot: {rule}",
            crate::git::path::display(dir)
        )
    })
}

/// [`path_refusal`] as the error result a caller reads.
pub fn check_path(path: &str, max_tokens: u64) -> Result<(), ToolOutput> {
    match path_refusal(path) {
        Some(refusal) => Err(ToolOutput::error(refusal, max_tokens)),
        None => Ok(()),
    }
}

/// The tools of one arm.
pub trait Toolbox {
    /// "sleep" or "no-sleep".
    fn arm(&self) -> &'static str;
    /// What `call` finds, before it is rendered.
    fn find(&mut self, call: &ToolCall) -> Found;
    /// Runs `call`; the text returned costs at most `max_tokens`. Every
    /// toolbox renders the same way ([`Found::render`]).
    fn call(&mut self, call: &ToolCall, max_tokens: u64) -> ToolOutput {
        self.find(call).render(max_tokens, call.brief())
    }
    /// Whether `path` is a file of the snapshot (to validate submissions).
    fn exists(&self, path: &str) -> bool;
    /// The search ranking learned at sleep time for this snapshot (the
    /// sleep arm orders its searches by it). Ignored by default.
    fn set_search_ranker(&mut self, _ranker: std::sync::Arc<crate::learn::search::SearchRanker>) {}
}

/// Joins a header and one block per item, keeping the longest prefix of
/// items that fits `max_tokens`. Returns the text, how many items were kept,
/// and its token count.
pub fn render_blocks(header: &str, blocks: &[String], max_tokens: u64) -> (String, usize, u64) {
    let mut text = String::new();
    let head_tokens = tokens::count(header);
    if head_tokens > max_tokens {
        // Not even the header fits: a cut header would be noise.
        return (String::new(), 0, 0);
    }
    let head = header;
    text.push_str(head);
    let mut used = head_tokens;
    let mut kept = 0;
    for b in blocks {
        let cost = tokens::count(b);
        if used + cost > max_tokens {
            break;
        }
        text.push_str(b);
        used += cost;
        kept += 1;
    }
    // Token counts of concatenations can differ slightly from the sum of
    // parts; recount and drop items until the whole fits.
    let mut total = tokens::count(&text);
    while total > max_tokens && kept > 0 {
        kept -= 1;
        text = format!("{head}{}", blocks[..kept].concat());
        total = tokens::count(&text);
    }
    if total > max_tokens {
        return (String::new(), 0, 0);
    }
    (text, kept, total)
}

/// Renders ranked files: one line each, `path (score): evidence`.
pub fn files_output(header: &str, items: Vec<FileItem>, max_tokens: u64) -> ToolOutput {
    files_output_with(header, items, max_tokens, false)
}

/// [`files_output`], optionally without the evidence.
pub fn files_output_with(
    header: &str,
    mut items: Vec<FileItem>,
    max_tokens: u64,
    brief: bool,
) -> ToolOutput {
    if brief {
        for it in &mut items {
            it.evidence.clear();
        }
    }
    let blocks: Vec<String> = items
        .iter()
        .enumerate()
        .map(|(i, it)| {
            format!(
                "{}. {} ({:.2}){}\n",
                i + 1,
                it.path,
                it.score,
                evidence_suffix(&it.evidence)
            )
        })
        .collect();
    fit_items(header, &blocks, items, max_tokens, |items| {
        ToolData::Files { items }
    })
}

fn evidence_suffix(e: &str) -> String {
    if e.is_empty() {
        String::new()
    } else {
        format!(": {e}")
    }
}

/// Renders past changes: `#N title (score): files`.
pub fn prs_output(
    header: &str,
    mut items: Vec<PrItem>,
    max_tokens: u64,
    brief: bool,
) -> ToolOutput {
    if brief {
        for p in &mut items {
            p.files.truncate(5);
        }
    }
    let title_len = if brief { 50 } else { 90 };
    let blocks: Vec<String> = items
        .iter()
        .map(|p| {
            let id =
                p.pr.map_or_else(|| "commit".to_string(), |n| format!("#{n}"));
            format!(
                "{id} {} ({:.2}, {}d ago): {}\n",
                crate::notebook::card::one_line(&p.title, title_len),
                p.score,
                p.age_days,
                p.files.join(", ")
            )
        })
        .collect();
    fit_items(header, &blocks, items, max_tokens, |items| ToolData::Prs {
        items,
    })
}

/// Renders `blocks` (one per item) under `header` within `max_tokens`, and
/// keeps exactly the items whose blocks made it into the text.
fn fit_items<T>(
    header: &str,
    blocks: &[String],
    mut items: Vec<T>,
    max_tokens: u64,
    data: impl FnOnce(Vec<T>) -> ToolData,
) -> ToolOutput {
    let (text, kept, tokens) = render_blocks(header, blocks, max_tokens);
    let truncated = kept < items.len();
    items.truncate(kept);
    ToolOutput {
        text,
        data: data(items),
        tokens,
        truncated,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_results_never_exceed_the_budget_and_keep_whole_items() {
        let items: Vec<FileItem> = (0..50)
            .map(|i| {
                FileItem::new(
                    format!("src/module_{i}.rs"),
                    1.0 / (i + 1) as f64,
                    "code: parse, recipe",
                )
            })
            .collect();
        for max in [0, 5, 20, 57, 200, 10_000] {
            let out = files_output("search results:\n", items.clone(), max);
            assert!(out.tokens <= max, "{} > {max}", out.tokens);
            assert_eq!(out.tokens, tokens::count(&out.text));
            let ToolData::Files { items: kept } = &out.data else {
                panic!("files")
            };
            for it in kept {
                assert!(out.text.contains(&it.path));
            }
            assert_eq!(out.truncated, kept.len() < 50);
        }
    }
}
