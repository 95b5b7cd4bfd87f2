//! The paper setting's context: the related pull requests an instance
//! carries (`context_prs`), as each arm receives them. The no-sleep arm
//! reads them raw at test time (title, body and patch); the sleep arm reads
//! the notebook's digest, written at sleep time (what each PR asked for and
//! which files it changed, with what each file is for): the sleep-time
//! model's digest ([`crate::sleep::digest`]) when one was written, the
//! offline digest otherwise.

use crate::git::{self, Oid, Repo};
use crate::notebook::Notebook;
use crate::notebook::card::one_line;
use crate::sleep::digest::{PrInput, digest_lines};

use super::instance::{ContextPr, Instance};

/// Longest patch kept per related PR.
const MAX_PATCH_BYTES: usize = 200_000;

/// The raw context: every related PR's title, body and patch.
pub fn raw_context(repo: &Repo, inst: &Instance) -> String {
    raw_context_of(&pr_inputs(repo, inst))
}

/// The raw context of PRs read by [`pr_inputs`].
pub fn raw_context_of(prs: &[PrInput]) -> String {
    let mut out = String::new();
    for pr in prs {
        out.push_str(&format!("## PR #{}: {}\n", pr.number, pr.title));
        if !pr.body.trim().is_empty() {
            out.push_str(pr.body.trim());
            out.push('\n');
        }
        out.push_str(&pr.patch);
        out.push('\n');
    }
    out
}

/// Each related PR with its patch (or why the patch is unavailable).
pub fn pr_inputs(repo: &Repo, inst: &Instance) -> Vec<PrInput> {
    inst.context_prs
        .iter()
        .map(|pr| PrInput {
            number: pr.pr_number,
            title: pr.title.clone(),
            body: pr.body.clone(),
            files: pr
                .changed_files
                .iter()
                .map(|f| (f.filename.clone(), f.status.clone()))
                .collect(),
            patch: patch_of(repo, pr).unwrap_or_else(|e| format!("(patch unavailable: {e})\n")),
        })
        .collect()
}

fn patch_of(repo: &Repo, pr: &ContextPr) -> Result<String, git::GitError> {
    let id = |s: &str| {
        Oid::from_str(s).map_err(|_| git::GitError::UnknownRevision {
            rev: s.to_string(),
            repo: repo.display_path().to_path_buf(),
        })
    };
    git::patch(
        repo,
        id(&pr.base_commit)?,
        id(&pr.head_commit)?,
        MAX_PATCH_BYTES,
    )
}

/// The notebook's offline digest of the related PRs: the request in a
/// line, then one `file:` line per changed file with the purpose its card
/// gives.
pub fn digest_context(nb: &Notebook, inst: &Instance) -> String {
    digest_context_with(nb, inst, &[])
}

/// [`digest_context`], where `model[i]`, when present, is the sleep-time
/// model's digest of the i-th related PR: its lines replace the offline
/// ones for that PR (headed `digest by the sleep-time model`), with the
/// `file:` lines checked against the PR's changed files.
pub fn digest_context_with(nb: &Notebook, inst: &Instance, model: &[Option<String>]) -> String {
    let offline_line = |path: &str, status: &str| {
        let purpose = nb.card(path).ok().flatten().and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("purpose: ").map(|p| one_line(p, 80)))
        });
        match purpose {
            Some(p) => format!("file: {path} — {p} ({status})\n"),
            None => format!("file: {path} ({status})\n"),
        }
    };
    let mut out = String::new();
    for (i, pr) in inst.context_prs.iter().enumerate() {
        out.push_str(&format!(
            "## PR #{}: {}\n",
            pr.pr_number,
            one_line(&pr.title, 100)
        ));
        let files: Vec<(String, String)> = pr
            .changed_files
            .iter()
            .map(|f| (f.filename.clone(), f.status.clone()))
            .collect();
        if let Some(Some(text)) = model.get(i) {
            out.push_str("(digest by the sleep-time model)\n");
            out.push_str(&digest_lines(text, &files, offline_line));
            continue;
        }
        if !pr.body.trim().is_empty() {
            out.push_str(&format!("asked: {}\n", one_line(&pr.body, 160)));
        }
        for (path, status) in &files {
            out.push_str(&offline_line(path, status));
        }
    }
    out
}
