//! Paper setting with a sleep-time model (`[llm.sleep]`): a digest of each
//! related pull request (what it asked for, which files it changed and how
//! they work), written with `prompts/pr_digest.md` the way the paper's
//! sleep-time agent wrote one. Digests are stored in `llm_digests` keyed by
//! the SHA-256 of the filled prompt (template, PR text, patch) and the
//! model, so the same PR is never asked about twice; every call is in the
//! cost ledger (purpose `digest`) and is made only inside the sleep-time
//! budgets. A PR whose digest cannot be written keeps its offline digest.

use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::notebook::Store;
use crate::notebook::card::one_line;
use crate::tokens;

use super::cards::over_budget;
use crate::llm::Usage;
use crate::llm::error::LlmError;
use crate::llm::ledger::{self, Ledger};
use crate::llm::prompt::{PrDigestPrompt, Template};
use crate::llm::session::{Session, text_request};

/// Words asked for per digest, and the reply cap in tokens.
const DIGEST_WORDS: usize = 150;
const DIGEST_OUTPUT: u64 = 400;
/// Most of a patch shown to the model, in cl100k tokens.
const PATCH_TOKENS: u64 = 4000;
/// Consecutive failed calls after which the pass stops asking.
const MAX_FAILURES: usize = 3;

/// One related pull request as the model is shown it.
#[derive(Debug, Clone)]
pub struct PrInput {
    pub number: u64,
    pub title: String,
    pub body: String,
    /// (path, status) of every changed file.
    pub files: Vec<(String, String)>,
    /// `git diff base head`, or a note saying why it is unavailable.
    pub patch: String,
}

/// What the model did for one set of related PRs.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DigestReport {
    pub model: String,
    pub written: usize,
    /// PRs whose digest for this exact prompt and model was stored already.
    pub cached: usize,
    pub failed: usize,
    /// Why it stopped before the last PR, if it did.
    pub stopped: Option<String>,
    pub usage: Usage,
}

/// The model's digests of a list of PRs, and what it took.
#[derive(Debug, Clone)]
pub struct Digests {
    /// One per PR, in order; `None` where none was written.
    pub texts: Vec<Option<String>>,
    pub report: DigestReport,
}

/// The model's digest of each of `prs` (same order; `None` where there is
/// none), written now or read from the store in `state_dir`. `None` when no
/// sleep-time model is configured.
pub fn digest_prs(
    state_dir: &Path,
    cfg: &Config,
    prs: &[PrInput],
) -> Result<Option<Digests>, LlmError> {
    let Some(model) = &cfg.llm.sleep else {
        return Ok(None);
    };
    let template = Template::load("pr_digest", Some(state_dir))?;
    let store = Store::open(state_dir)?;
    store.ensure_llm_digests()?;
    let mut report = DigestReport {
        model: model.model.clone(),
        ..DigestReport::default()
    };
    let mut out = Vec::with_capacity(prs.len());
    let mut session: Option<Session> = None;
    let mut failures = 0;
    for pr in prs {
        let rendered = template.render(&PrDigestPrompt {
            number: pr.number,
            title: pr.title.clone(),
            body: pr.body.trim().to_string(),
            files: pr
                .files
                .iter()
                .map(|(p, s)| format!("{p} ({s})"))
                .collect::<Vec<_>>()
                .join("\n"),
            patch: tokens::truncate(&pr.patch, PATCH_TOKENS).0.to_string(),
            max_words: DIGEST_WORDS,
        })?;
        let key = content_key(&rendered.system, &rendered.user);
        if let Some(text) = stored(&store, &key, &model.model)? {
            report.cached += 1;
            out.push(Some(text));
            continue;
        }
        if report.stopped.is_some() {
            out.push(None);
            continue;
        }
        let session = match &mut session {
            Some(s) => s,
            None => session.insert(Session::new(
                crate::llm::connect(model, "llm.sleep")?,
                Some(Ledger::open(state_dir)?),
                "digest",
                &template,
            )),
        };
        let max = DIGEST_OUTPUT.min(model.max_output_tokens as u64);
        let (req, estimate) = text_request(rendered, max);
        if let Some(why) = over_budget(session.ledger(), cfg, estimate)? {
            report.stopped = Some(why);
            out.push(None);
            continue;
        }
        match session.call(&req) {
            Ok(resp) if !resp.text.trim().is_empty() => {
                failures = 0;
                let text = resp.text.trim().to_string();
                store.put_llm_digest(&key, &model.model, &template.hash, &text, ledger::now())?;
                report.written += 1;
                out.push(Some(text));
            }
            Ok(_) => {
                report.failed += 1;
                tracing::warn!("llm digests: the model wrote nothing for PR #{}", pr.number);
                out.push(None);
            }
            Err(e) => {
                report.failed += 1;
                failures += 1;
                tracing::warn!("llm digests: PR #{}: {e}", pr.number);
                if failures >= MAX_FAILURES {
                    report.stopped = Some(format!("{MAX_FAILURES} calls failed in a row: {e}"));
                }
                out.push(None);
            }
        }
    }
    if let Some(s) = &session {
        report.usage = s.usage;
    }
    Ok(Some(Digests { texts: out, report }))
}

/// First 32 hex digits of the SHA-256 of a filled prompt.
fn content_key(system: &str, user: &str) -> String {
    let mut h = Sha256::new();
    h.update(system.as_bytes());
    h.update([0u8]);
    h.update(user.as_bytes());
    format!("{:x}", h.finalize())[..32].to_string()
}

fn stored(store: &Store, key: &str, model: &str) -> Result<Option<String>, LlmError> {
    Ok(store.llm_digest(key, model)?)
}

/// A model's digest of `pr` as context lines: its lines as written, except
/// that a `file:` line is kept only when it names a file the PR really
/// changed, and every changed file the model left out gets the line
/// `offline(path, status)` gives it. So the files a digest names are
/// exactly the PR's, whatever the model wrote.
pub fn digest_lines(
    text: &str,
    files: &[(String, String)],
    offline: impl Fn(&str, &str) -> String,
) -> String {
    let mut out = String::new();
    let mut named: Vec<&str> = Vec::new();
    let mut asked = false;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let line = line.trim_start_matches(['-', '*', ' ']);
        if let Some(rest) = line.strip_prefix("file:") {
            let (token, what) = rest
                .trim()
                .split_once(char::is_whitespace)
                .unwrap_or((rest.trim(), ""));
            let path = token.trim_matches(['`', ':', ',']);
            let Some((p, s)) = files.iter().find(|(p, _)| p == path) else {
                continue;
            };
            if named.contains(&p.as_str()) {
                continue;
            }
            named.push(p);
            let what = one_line(what.trim().trim_start_matches(['—', '-', ':', ' ']), 200);
            if what.is_empty() {
                out.push_str(&offline(p, s));
            } else {
                out.push_str(&format!("file: {p} — {what} ({s})\n"));
            }
        } else if !asked {
            asked = true;
            out.push_str(&format!("asked: {}\n", one_line(line, 240)));
        } else if out.lines().count() < files.len() + 3 {
            out.push_str(&format!("{}\n", one_line(line, 240)));
        }
    }
    for (p, s) in files {
        if !named.contains(&p.as_str()) {
            out.push_str(&offline(p, s));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_lines_keep_only_the_prs_files() {
        let files = vec![
            ("src/a.rs".to_string(), "modified".to_string()),
            ("src/b.rs".to_string(), "added".to_string()),
        ];
        let text = "Asked for YAML export.\n\nfile: `src/a.rs` — exporter, gains a YAML writer\n- file: src/evil.rs — not in the PR\nfile: src/a.rs — twice\n";
        let got = digest_lines(text, &files, |p, s| format!("file: {p} ({s})\n"));
        assert_eq!(
            got,
            "asked: Asked for YAML export.\nfile: src/a.rs — exporter, gains a YAML writer (modified)\nfile: src/b.rs (added)\n"
        );
        assert_eq!(content_key("a", "b").len(), 32);
        assert_ne!(content_key("a", "b"), content_key("ab", ""));
    }
}
