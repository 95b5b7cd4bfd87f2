//! Mining SWE-Features-style benchmark instances from a repository's own
//! first-parent history, with git alone (no forge API): every `Merge pull
//! request #N` merge and `Title (#N)` squash is a pull request; the ones whose
//! title reads as new functionality and whose size is right become
//! [`Instance`]s, each with the three most recent earlier PRs that modified
//! one of its files as `context_prs`. `docs/benchmark.md` states every rule.
//!
//! The classifiers ([`classify_title`], [`is_source`]; bodies are cleaned by
//! [`crate::git::request_body`]) and
//! the formatters are pure; [`mine`] reads the repository and never writes.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use crate::git::{GitError, MAX_RECORDED_FILES, MinedCommit, Repo, mine_commit, request_body};

use super::instance::{ChangedFile, ContextPr, Instance};

/// Words that make a title read as new functionality (matched anywhere in
/// the title, with inflections: `adds`, `added`, `adding`).
pub const DEFAULT_FEATURE_WORDS: &str =
    "add,support,implement,allow,introduce,enable,new,expose,provide,feat,feature";

/// Words that make a title read as something else when they lead it or are
/// its `type:` prefix (`Fix ...`, `docs: ...`, `chore(deps): ...`).
pub const DEFAULT_EXCLUDE_WORDS: &str = "fix,bugfix,hotfix,typo,chore,docs,doc,documentation,release,bump,revert,refactor,test,ci,deps,style,perf,cleanup,remove,drop,deprecate";

/// Extensions (lower case, no dot) of the files counted as source code.
pub const DEFAULT_SOURCE_EXTS: &str = crate::learn::features::SOURCE_EXTS;

/// Default of `--min-modified`: existing files the PR must modify.
pub const DEFAULT_MIN_MODIFIED: usize = 2;
/// Default of `--min-source`: source files the PR must change.
pub const DEFAULT_MIN_SOURCE: usize = 3;
/// Default of `--max-files`: files the PR may change in all.
pub const DEFAULT_MAX_FILES: usize = 30;
/// Default of `--context`: context PRs per instance.
pub const DEFAULT_CONTEXT: usize = 3;

/// Splits a comma-separated option value into trimmed, lower-case words.
pub fn word_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(|w| w.trim().to_lowercase())
        .filter(|w| !w.is_empty())
        .collect()
}

/// What a title reads as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TitleClass {
    /// New functionality: a feature word occurs in it.
    Feature,
    /// Led by (or `type:`-prefixed with) an excluded word, which is given.
    Excluded(String),
    /// Neither: no feature word.
    Other,
}

/// Classifies a PR title. Code spans in backticks are ignored. A leading
/// `scope: ` (one word, e.g. `tui:`, `feat(lsp):`, `fix!:`) is split off,
/// up to twice; the title is excluded when that prefix's type or the first
/// word after it is an excluded word, else it is a feature when any word of
/// the title (prefix included) is a feature word. Words are split at
/// anything not alphanumeric (`re-add` has `add`) and compared lower-cased,
/// allowing the suffixes `s`, `es`, `d`, `ed`, `ing` (and `e` → `ing`).
pub fn classify_title(title: &str, feature: &[String], exclude: &[String]) -> TitleClass {
    let text = strip_code_spans(title);
    let mut rest = text.trim();
    let mut prefix_words = Vec::new();
    for _ in 0..2 {
        let Some((head, tail)) = rest.split_once(':') else {
            break;
        };
        let head = head.trim();
        let is_scope = !head.is_empty()
            && head.len() <= 40
            && !head.contains(char::is_whitespace)
            && (tail.is_empty() || tail.starts_with(' '));
        if !is_scope {
            break;
        }
        // `feat(lsp)!` → its type `feat`.
        let kind = head.split(['(', '!']).next().unwrap_or(head);
        prefix_words.extend(words(kind));
        rest = tail.trim_start();
    }
    let body_words = words(rest);
    let leading = body_words.first().map(String::as_str);
    let hit = |list: &[String], w: &str| list.iter().find(|x| inflects(w, x)).cloned();
    for w in prefix_words.iter().map(String::as_str).chain(leading) {
        if let Some(x) = hit(exclude, w) {
            return TitleClass::Excluded(x);
        }
    }
    if prefix_words
        .iter()
        .chain(&body_words)
        .any(|w| hit(feature, w).is_some())
    {
        TitleClass::Feature
    } else {
        TitleClass::Other
    }
}

fn strip_code_spans(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut inside = false;
    for c in s.chars() {
        if c == '`' {
            inside = !inside;
            out.push(' ');
        } else if !inside {
            out.push(c);
        }
    }
    out
}

fn words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Whether `word` is `stem` or one of its regular inflections.
fn inflects(word: &str, stem: &str) -> bool {
    let Some(suffix) = word.strip_prefix(stem) else {
        return stem
            .strip_suffix('e')
            .is_some_and(|s| word.strip_prefix(s) == Some("ing"));
    };
    matches!(suffix, "" | "s" | "es" | "ed" | "ing") || (suffix == "d" && stem.ends_with('e'))
}

/// Whether `path` is source code: its extension, lower-cased, is in `exts`.
pub fn is_source(path: &str, exts: &[String]) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => {
            let ext = ext.to_lowercase();
            exts.contains(&ext)
        }
        _ => false,
    }
}

/// `seconds` since the epoch at UTC offset `offset_minutes` as ISO-8601
/// with the offset, e.g. `2024-01-15T10:00:00+00:00`.
pub fn iso8601(seconds: i64, offset_minutes: i32) -> String {
    let local = seconds + i64::from(offset_minutes) * 60;
    let (days, secs) = (local.div_euclid(86_400), local.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    let sign = if offset_minutes < 0 { '-' } else { '+' };
    let off = offset_minutes.unsigned_abs();
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}{sign}{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        off / 60,
        off % 60
    )
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Checks a `--since` value: `YYYY-MM-DD` with a plausible month and day.
pub fn parse_date(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' || !digits(0..4) || !digits(5..7) {
        return None;
    }
    if !digits(8..10) {
        return None;
    }
    let (m, d): (u32, u32) = (s[5..7].parse().ok()?, s[8..10].parse().ok()?);
    ((1..=12).contains(&m) && (1..=31).contains(&d)).then(|| s.to_string())
}

/// The `owner/name` of a repository at `path` when none is given: the
/// directory's name (without `.git`; the parent's when the directory is a
/// `.git` or `repo` directory inside it) with `+` read as `/` when it looks
/// like `owner+name`, else `local/<name>`.
pub fn default_name(path: &Path) -> String {
    let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let comps: Vec<String> = path
        .components()
        .rev()
        .filter_map(|c| c.as_os_str().to_str().map(str::to_string))
        .take(2)
        .collect();
    let owner_plus_name = |s: &str| {
        s.split_once('+')
            .filter(|(o, n)| !o.is_empty() && !n.is_empty() && !n.contains('+'))
            .map(|(o, n)| format!("{o}/{n}"))
    };
    let strip = |s: &str| s.strip_suffix(".git").unwrap_or(s).to_string();
    let mut name = comps.first().map(|s| strip(s)).unwrap_or_default();
    if (name.is_empty() || name == "repo") && comps.len() > 1 {
        if let Some(on) = owner_plus_name(&strip(&comps[1])) {
            return on;
        }
        if name.is_empty() {
            name = strip(&comps[1]);
        }
    }
    owner_plus_name(&name)
        .unwrap_or_else(|| format!("local/{}", if name.is_empty() { "repo" } else { &name }))
}

/// The filters and their defaults (see `docs/benchmark.md`).
#[derive(Debug, Clone)]
pub struct MineOptions {
    pub rev: String,
    /// `owner/name`: the `repo` field and the `instance_id` prefix.
    pub name: String,
    /// Keep PRs whose `created_at` date is on or after this `YYYY-MM-DD`.
    pub since: Option<String>,
    /// Keep only the N most recent instances.
    pub limit: Option<usize>,
    pub feature_words: Vec<String>,
    pub exclude_words: Vec<String>,
    pub min_modified: usize,
    pub min_source: usize,
    pub max_files: usize,
    pub source_exts: Vec<String>,
    /// Context PRs per instance.
    pub context: usize,
}

impl MineOptions {
    /// Every filter at its default, for the repository `name`.
    pub fn new(name: &str) -> MineOptions {
        MineOptions {
            rev: "HEAD".into(),
            name: name.to_string(),
            since: None,
            limit: None,
            feature_words: word_list(DEFAULT_FEATURE_WORDS),
            exclude_words: word_list(DEFAULT_EXCLUDE_WORDS),
            min_modified: DEFAULT_MIN_MODIFIED,
            min_source: DEFAULT_MIN_SOURCE,
            max_files: DEFAULT_MAX_FILES,
            source_exts: word_list(DEFAULT_SOURCE_EXTS),
            context: DEFAULT_CONTEXT,
        }
    }
}

/// Counts for the summary line.
#[derive(Debug, Clone, Default)]
pub struct MineReport {
    pub commits: usize,
    pub prs: usize,
    pub kept: usize,
    /// PRs dropped, by the first filter they failed.
    pub dropped: BTreeMap<&'static str, usize>,
}

impl MineReport {
    fn drop(&mut self, reason: &'static str) {
        *self.dropped.entry(reason).or_default() += 1;
    }

    /// One line: commits walked, PRs seen and kept, drops per reason.
    pub fn summary(&self) -> String {
        let drops: Vec<String> = self
            .dropped
            .iter()
            .map(|(r, n)| format!("{r} {n}"))
            .collect();
        format!(
            "{} first-parent commits, {} PRs seen, {} kept; dropped: {}",
            self.commits,
            self.prs,
            self.kept,
            if drops.is_empty() {
                "none".to_string()
            } else {
                drops.join(", ")
            }
        )
    }
}

/// A PR of the first-parent history, as mined.
struct Pr {
    mined: MinedCommit,
    created_at: String,
    changed: Vec<ChangedFile>,
    modified: HashSet<String>,
}

/// Mines the instances of `repo` (oldest first) and the counts.
pub fn mine(repo: &Repo, opts: &MineOptions) -> Result<(Vec<Instance>, MineReport), GitError> {
    let mut report = MineReport::default();
    let start = repo.resolve(&opts.rev)?;
    let raw = repo.raw();
    let git_err = |source| GitError::Git {
        repo: repo.display_path().to_path_buf(),
        source,
    };
    // Walk the first-parent chain, newest first.
    let mut chain = Vec::new();
    let mut cur = Some(raw.find_commit(start).map_err(git_err)?);
    while let Some(c) = cur {
        chain.push(c.id());
        cur = c.parent(0).ok();
    }
    report.commits = chain.len();
    chain.reverse();

    let mut prs: Vec<Pr> = Vec::new();
    for oid in chain {
        let commit = raw.find_commit(oid).map_err(git_err)?;
        let parsed = crate::git::parse_message(&String::from_utf8_lossy(commit.message_bytes()));
        if parsed.pr.is_none() {
            continue;
        }
        report.prs += 1;
        let mined = mine_commit(repo, oid)?;
        if mined.parent.is_none() || mined.truncated {
            report.drop("no-parent");
            continue;
        }
        let time = commit.time();
        prs.push(Pr {
            created_at: iso8601(time.seconds(), time.offset_minutes()),
            changed: changed_files(&mined),
            modified: mined
                .files
                .iter()
                .filter(|(_, s)| *s == 'M')
                .map(|(p, _)| p.clone())
                .collect(),
            mined,
        });
    }

    let mut keep: Vec<usize> = Vec::new();
    for (i, pr) in prs.iter().enumerate() {
        match reject(pr, opts) {
            Some(reason) => report.drop(reason),
            None => keep.push(i),
        }
    }
    // A PR number seen twice (a revert and a re-merge): the later one wins.
    let mut seen = HashSet::new();
    let mut dedup = Vec::new();
    for &i in keep.iter().rev() {
        if seen.insert(prs[i].mined.pr) {
            dedup.push(i);
        } else {
            report.drop("duplicate-pr");
        }
    }
    dedup.reverse();
    if let Some(n) = opts.limit {
        let extra = dedup.len().saturating_sub(n);
        for _ in 0..extra {
            report.drop("limit");
        }
        dedup.drain(..extra);
    }
    let repo_id = opts.name.replace('/', "__");
    let mut out = Vec::with_capacity(dedup.len());
    for i in dedup {
        let pr = &prs[i];
        let m = &pr.mined;
        let pr_number = m.pr.expect("PRs only");
        let context_prs = prs[..i]
            .iter()
            .rev()
            .filter(|c| c.mined.file_count <= MAX_RECORDED_FILES)
            .filter(|c| !c.modified.is_disjoint(&pr.modified))
            .take(opts.context)
            .map(|c| {
                Ok(ContextPr {
                    pr_number: c.mined.pr.expect("PRs only"),
                    title: c.mined.title.clone(),
                    body: request_body(repo, c.mined.oid, &c.mined.title, &c.mined.body)?,
                    base_commit: c.mined.parent.expect("has a parent").to_string(),
                    head_commit: c.mined.oid.to_string(),
                    changed_files: c.changed.clone(),
                })
            })
            .collect::<Result<Vec<_>, GitError>>()?;
        out.push(Instance {
            instance_id: format!("{repo_id}-{pr_number}"),
            repo: opts.name.clone(),
            pr_number,
            title: m.title.clone(),
            body: request_body(repo, m.oid, &m.title, &m.body)?,
            created_at: pr.created_at.clone(),
            base_commit: m.parent.expect("has a parent").to_string(),
            head_commit: m.oid.to_string(),
            changed_files: pr.changed.clone(),
            context_prs,
        });
    }
    report.kept = out.len();
    Ok((out, report))
}

/// The first filter `pr` fails, in the order of `docs/benchmark.md`.
fn reject(pr: &Pr, opts: &MineOptions) -> Option<&'static str> {
    if let Some(since) = &opts.since {
        if pr.created_at.get(..10).unwrap_or_default() < since.as_str() {
            return Some("before-since");
        }
    }
    match classify_title(&pr.mined.title, &opts.feature_words, &opts.exclude_words) {
        TitleClass::Excluded(_) => return Some("title-excluded"),
        TitleClass::Other => return Some("title-not-feature"),
        TitleClass::Feature => {}
    }
    if pr.mined.file_count > opts.max_files {
        return Some("too-many-files");
    }
    if pr.modified.len() < opts.min_modified {
        return Some("few-modified");
    }
    let sources = pr
        .changed
        .iter()
        .filter(|f| is_source(&f.filename, &opts.source_exts))
        .count();
    if sources < opts.min_source {
        return Some("few-source");
    }
    None
}

/// Changed files in the instance's shape: modified first, then added,
/// removed and renamed, each by path. Renames are not detected, so a renamed
/// file is its old path `removed` plus its new path `added`.
fn changed_files(m: &MinedCommit) -> Vec<ChangedFile> {
    let rank = |s: char| match s {
        'M' => 0,
        'A' => 1,
        'D' => 2,
        _ => 3,
    };
    let mut files: Vec<&(String, char)> = m.files.iter().collect();
    files.sort_by(|a, b| rank(a.1).cmp(&rank(b.1)).then(a.0.cmp(&b.0)));
    files
        .into_iter()
        .map(|(path, s)| ChangedFile {
            filename: path.clone(),
            status: match s {
                'M' => "modified",
                'A' => "added",
                'D' => "removed",
                _ => "renamed",
            }
            .to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(title: &str) -> TitleClass {
        classify_title(
            title,
            &word_list(DEFAULT_FEATURE_WORDS),
            &word_list(DEFAULT_EXCLUDE_WORDS),
        )
    }

    #[test]
    fn feature_titles() {
        for t in [
            "Add ingredient parser",
            "add `app.redirect` method",
            "Added support for cookie SameSite attribute",
            "tui: Allow toggling mouse capture at runtime",
            "feat(lsp): pass client_info on initialization",
            "Feat: LSP Type Hints",
            "LSP: Add request ID to request timeout message",
            "Implementing the --exec flag",
            "enable starting hx with a working directory",
            "re-add flag to skip unguarded app.run from CLI",
            "new preserve context implementation",
            "Introducing workspaces",
            "Provides a JSON provider interface",
            "WebSocket support for auth",
        ] {
            assert_eq!(class(t), TitleClass::Feature, "{t}");
        }
    }

    #[test]
    fn excluded_and_other_titles() {
        for (t, w) in [
            ("Fix typo in README", "fix"),
            ("fix: add missing null check", "fix"),
            ("docs: add a section on units", "docs"),
            ("chore(deps): bump serde", "chore"),
            ("Bump version to 0.2.0", "bump"),
            ("Revert \"Add recipe search\"", "revert"),
            ("Refactor recipe parser errors", "refactor"),
            ("Release 1.0", "release"),
            ("ci: enable caching", "ci"),
            ("Tests for the new parser", "test"),
            ("Fixed crash when adding a recipe", "fix"),
            ("Drop support for Python 3.7", "drop"),
            ("fix!: allow empty titles", "fix"),
        ] {
            assert_eq!(class(t), TitleClass::Excluded(w.into()), "{t}");
        }
        for t in [
            "Handle fractional quantities",
            "Round scaled quantities",
            "Export recipes as JSON",
            "Merge pull request #7 from bob/x",
            "Fix `add` and `new`",
            "Update `support` module",
            "Address review comments",
            "Newline handling",
        ] {
            assert_ne!(class(t), TitleClass::Feature, "{t}");
        }
        // Words inside code spans or other words do not count.
        assert_eq!(class("Update `add_new` helper"), TitleClass::Other);
        assert_eq!(class("Prefix the testing logs"), TitleClass::Other);
        // A fix mentioned later does not exclude a feature.
        assert_eq!(
            class("Add --fix flag and fix its docs"),
            TitleClass::Feature
        );
    }

    #[test]
    fn inflections() {
        assert!(inflects("adds", "add"));
        assert!(inflects("added", "add"));
        assert!(inflects("adding", "add"));
        assert!(inflects("enabled", "enable"));
        assert!(inflects("enables", "enable"));
        assert!(inflects("enabling", "enable"));
        assert!(inflects("fixes", "fix"));
        assert!(!inflects("address", "add"));
        assert!(!inflects("fixture", "fix"));
        assert!(!inflects("newline", "new"));
        assert!(!inflects("testimony", "test"));
    }

    #[test]
    fn source_files() {
        let exts = word_list(DEFAULT_SOURCE_EXTS);
        for p in [
            "src/parser.rs",
            "py/cookbook_tools/scale.py",
            "a/b.TSX",
            "x.h",
            "run.sh",
        ] {
            assert!(is_source(p, &exts), "{p}");
        }
        for p in [
            "README.md",
            "CHANGELOG.md",
            "Cargo.toml",
            "Makefile",
            ".rs",
            "docs/.py",
            "a.json",
        ] {
            assert!(!is_source(p, &exts), "{p}");
        }
    }

    #[test]
    fn dates() {
        assert_eq!(iso8601(0, 0), "1970-01-01T00:00:00+00:00");
        assert_eq!(iso8601(1_705_312_800, 0), "2024-01-15T10:00:00+00:00");
        assert_eq!(iso8601(1_495_749_603, -420), "2017-05-25T15:00:03-07:00");
        assert_eq!(iso8601(1_709_164_800, 330), "2024-02-29T05:30:00+05:30");
        assert_eq!(iso8601(-1, 0), "1969-12-31T23:59:59+00:00");
        assert_eq!(parse_date("2024-01-15").as_deref(), Some("2024-01-15"));
        for bad in [
            "2024-1-15",
            "2024-13-01",
            "20240115",
            "2024-01-15T00",
            "yyyy-mm-dd",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn names() {
        assert_eq!(default_name(Path::new("/x/pallets+flask")), "pallets/flask");
        assert_eq!(
            default_name(Path::new("/x/pallets+flask.git")),
            "pallets/flask"
        );
        assert_eq!(
            default_name(Path::new("/m/tokio-rs+axum/repo")),
            "tokio-rs/axum"
        );
        assert_eq!(default_name(Path::new("/x/cookbook")), "local/cookbook");
        assert_eq!(
            default_name(Path::new("/x/cookbook/.git")),
            "local/cookbook"
        );
        assert_eq!(default_name(Path::new("/x/a+b+c")), "local/a+b+c");
    }
}
