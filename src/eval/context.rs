//! The paper setting's context: the related pull requests an instance
//! carries (`context_prs`), as each arm receives them. The no-sleep arm
//! reads them raw at test time (title, body and patch); the sleep arm reads
//! the notebook's digest, written at sleep time (what each PR asked for and
//! which files it changed, with what each file is for).

use crate::git::{self, Oid, Repo};
use crate::notebook::Notebook;
use crate::notebook::card::one_line;

use super::instance::{ContextPr, Instance};

/// Longest patch kept per related PR.
const MAX_PATCH_BYTES: usize = 200_000;

/// The raw context: every related PR's title, body and patch.
pub fn raw_context(repo: &Repo, inst: &Instance) -> String {
    let mut out = String::new();
    for pr in &inst.context_prs {
        out.push_str(&format!("## PR #{}: {}\n", pr.pr_number, pr.title));
        if !pr.body.trim().is_empty() {
            out.push_str(pr.body.trim());
            out.push('\n');
        }
        match patch_of(repo, pr) {
            Ok(p) => out.push_str(&p),
            Err(e) => out.push_str(&format!("(patch unavailable: {e})\n")),
        }
        out.push('\n');
    }
    out
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

/// The notebook's digest of the related PRs: the request in a line, then
/// one `file:` line per changed file with the purpose its card gives.
pub fn digest_context(nb: &Notebook, inst: &Instance) -> String {
    let mut out = String::new();
    for pr in &inst.context_prs {
        out.push_str(&format!(
            "## PR #{}: {}\n",
            pr.pr_number,
            one_line(&pr.title, 100)
        ));
        if !pr.body.trim().is_empty() {
            out.push_str(&format!("asked: {}\n", one_line(&pr.body, 160)));
        }
        for f in &pr.changed_files {
            let purpose = nb.card(&f.filename).ok().flatten().and_then(|c| {
                c.lines()
                    .find_map(|l| l.strip_prefix("purpose: ").map(|p| one_line(p, 80)))
            });
            match purpose {
                Some(p) => out.push_str(&format!("file: {} — {} ({})\n", f.filename, p, f.status)),
                None => out.push_str(&format!("file: {} ({})\n", f.filename, f.status)),
            }
        }
    }
    out
}
