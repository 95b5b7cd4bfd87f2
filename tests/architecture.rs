//! The rules ARCHITECTURE.md states, checked so they cannot drift: which
//! top-level module may use which (the table between the
//! `dependency-rules` markers), and that only the CLI prints to stdout.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The rules table: module -> modules it may use.
fn rules() -> BTreeMap<String, BTreeSet<String>> {
    let text = std::fs::read_to_string(root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let start = text
        .find("<!-- dependency-rules -->")
        .expect("ARCHITECTURE.md has a dependency-rules table");
    let end = text[start..]
        .find("<!-- /dependency-rules -->")
        .expect("the table is closed")
        + start;
    let mut out = BTreeMap::new();
    for line in text[start..end].lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let names = |cell: &str| -> BTreeSet<String> {
            cell.split(',')
                .map(|n| n.trim().trim_matches('`').to_string())
                .filter(|n| !n.is_empty() && n != "—")
                .collect()
        };
        for module in names(cells[1]) {
            out.insert(module, names(cells[2]));
        }
    }
    out
}

/// Top-level modules declared in src/lib.rs.
fn modules() -> BTreeSet<String> {
    std::fs::read_to_string(root().join("src/lib.rs"))
        .expect("lib.rs")
        .lines()
        .filter_map(|l| l.strip_prefix("pub mod "))
        .map(|l| l.trim_end_matches(';').to_string())
        .collect()
}

fn rust_files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        for e in std::fs::read_dir(path).expect("read_dir").flatten() {
            rust_files(&e.path(), out);
        }
    } else if path.extension().is_some_and(|e| e == "rs") {
        out.push(path.to_path_buf());
    }
}

/// The code of a file without comments and string literals (roughly: good
/// enough to find `crate::x` paths and macro calls in code).
fn code_of(text: &str) -> String {
    let mut out = String::new();
    // Unit tests sit at the end of a file and may hold code as data.
    for line in text.lines().take_while(|l| l.trim() != "#[cfg(test)]") {
        let mut in_str = false;
        let mut prev = ' ';
        let mut kept = String::new();
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if !in_str && c == '/' && chars.get(i + 1) == Some(&'/') {
                break;
            }
            if c == '"' && prev != '\\' && !(prev == '\'' && chars.get(i + 1) == Some(&'\'')) {
                in_str = !in_str;
            } else if !in_str {
                kept.push(c);
            }
            prev = if prev == '\\' && c == '\\' { ' ' } else { c };
            i += 1;
        }
        out.push_str(&kept);
        out.push('\n');
    }
    out
}

/// Files of a top-level module: `src/<m>.rs` and everything in `src/<m>/`.
fn files_of(module: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let src = root().join("src");
    rust_files(&src.join(module), &mut files);
    let single = src.join(format!("{module}.rs"));
    if single.is_file() {
        files.push(single);
    }
    files
}

#[test]
fn every_module_uses_only_what_architecture_md_allows() {
    let rules = rules();
    let modules = modules();
    for m in &modules {
        assert!(
            rules.contains_key(m),
            "ARCHITECTURE.md has no dependency rule for `{m}`"
        );
    }
    let mut broken = Vec::new();
    for (module, allowed) in &rules {
        assert!(
            modules.contains(module),
            "ARCHITECTURE.md names `{module}`, which src/lib.rs does not declare"
        );
        for file in files_of(module) {
            let code = code_of(&std::fs::read_to_string(&file).expect("read"));
            for (at, _) in code.match_indices("crate::") {
                let used: String = code[at + 7..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if used != *module && modules.contains(&used) && !allowed.contains(&used) {
                    broken.push(format!("{} uses `{used}`", file.display()));
                }
            }
        }
    }
    broken.sort();
    broken.dedup();
    assert!(
        broken.is_empty(),
        "dependency rules broken:\n{}",
        broken.join("\n")
    );
}

#[test]
fn only_the_cli_prints_to_stdout() {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    let mut printing = Vec::new();
    for file in files {
        let rel = file
            .strip_prefix(root())
            .expect("inside")
            .to_string_lossy()
            .into_owned();
        if rel.starts_with("src/cli/") || rel == "src/main.rs" {
            continue;
        }
        let code = code_of(&std::fs::read_to_string(&file).expect("read"));
        for (n, line) in code.lines().enumerate() {
            let bare = line.replace("eprintln!", "").replace("eprint!", "");
            if bare.contains("println!") || bare.contains("print!(") {
                printing.push(format!("{rel}:{}", n + 1));
            }
        }
    }
    assert!(printing.is_empty(), "stdout is the CLI's: {printing:?}");
}

/// The notebook owns every SQL statement on its database; the GitHub
/// queue keeps a database of its own (`github.sqlite`).
#[test]
fn only_the_notebook_and_the_github_queue_speak_sql() {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    let mut speaking = Vec::new();
    for file in files {
        let rel = file
            .strip_prefix(root())
            .expect("inside")
            .to_string_lossy()
            .into_owned();
        if rel.starts_with("src/notebook/") || rel == "src/github/queue.rs" {
            continue;
        }
        let code = code_of(&std::fs::read_to_string(&file).expect("read"));
        if code.contains("rusqlite") || code.contains(".conn.") || code.contains(".conn\n") {
            speaking.push(rel);
        }
    }
    assert!(
        speaking.is_empty(),
        "SQL outside the notebook: {speaking:?}"
    );
}
