//! The documentation covers every flag the binary has: each subcommand's
//! usage line in the README (and `bench mine`'s in docs/benchmark.md) names
//! every long flag its `--help` lists, and the numeric defaults `--help`
//! states for the budget, the step cap and replay are the configuration's.
//! docs/predict-json.md is checked against a real answer in
//! `tests/predict.rs`. Every MCP client configuration the README shows
//! parses in its format and runs `swe-sleep mcp` with flags it has.

mod support;

use std::collections::BTreeSet;
use std::path::Path;

use support::cli::{ok, stdout, swe_sleep};

/// The long flags `swe-sleep <args> --help` lists (global ones aside).
fn flags(args: &[&str]) -> BTreeSet<String> {
    let o = ok(
        swe_sleep().args(args).arg("--help").output().expect("runs"),
        "--help",
    );
    stdout(&o)
        .lines()
        .filter_map(|l| {
            let l = l.trim_start();
            // `-v, --verbose`: the long name after the short one.
            let l = match l.as_bytes() {
                [b'-', c, b',', ..] if c.is_ascii_alphabetic() => &l[4..],
                _ => l,
            };
            let flag: String = l
                .strip_prefix("--")?
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            Some(format!("--{flag}"))
        })
        .filter(|f| !["--help", "--version", "--verbose", "--log-file"].contains(&f.as_str()))
        .collect()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).expect(path)
}

/// The backticked usage line of the README that starts with `start`.
fn usage_line<'a>(readme: &'a str, start: &str) -> &'a str {
    let at = readme
        .find(&format!("`{start}"))
        .unwrap_or_else(|| panic!("no usage line `{start}` in the README"));
    let rest = &readme[at + 1..];
    &rest[..rest.find('`').expect("the usage line ends")]
}

#[test]
fn every_flag_is_in_its_usage_line() {
    let readme = read("README.md");
    for cmd in [
        "sleep", "status", "predict", "daemon", "serve", "eval", "mcp",
    ] {
        let line = usage_line(&readme, &format!("swe-sleep {cmd} "));
        for flag in flags(&[cmd]) {
            assert!(
                line.contains(&flag),
                "README: `swe-sleep {cmd}` does not name {flag}: {line}"
            );
        }
    }
    for global in ["--log-file", "-v"] {
        assert!(readme.contains(global), "README does not name {global}");
    }
    let bench = read("docs/benchmark.md");
    for flag in flags(&["bench", "mine"]) {
        assert!(
            bench.contains(&flag),
            "docs/benchmark.md does not name {flag}"
        );
    }
}

#[test]
fn help_states_the_numeric_defaults_of_the_configuration() {
    let config = swe_sleep::config::Config::default();
    let help = |args: &[&str]| {
        stdout(&ok(
            swe_sleep().args(args).arg("--help").output().expect("runs"),
            "--help",
        ))
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
    };
    let predict = help(&["predict"]);
    assert!(
        predict.contains(&format!(
            "agent.budget from the config, {} unless set",
            config.agent.budget
        )),
        "{predict}"
    );
    assert!(
        predict.contains(&format!(
            "agent.steps from the config, {} unless set",
            config.agent.steps
        )),
        "{predict}"
    );
    let sleep = help(&["sleep"]);
    assert!(
        sleep.contains(&format!(
            "learn.replay_prs from the config, {} unless set",
            config.learn.replay_prs
        )),
        "{sleep}"
    );
}

/// The fenced code blocks of the README section under `heading`, as
/// (language, text).
fn code_blocks(readme: &str, heading: &str) -> Vec<(String, String)> {
    let start = readme
        .find(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("no section {heading} in the README"));
    let body = &readme[start + heading.len() + 2..];
    let body = &body[..body.find("\n## ").unwrap_or(body.len())];
    let mut blocks = Vec::new();
    let mut lines = body.lines();
    while let Some(line) = lines.next() {
        let Some(lang) = line.strip_prefix("```") else {
            continue;
        };
        let text: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
        blocks.push((lang.to_string(), text.join("\n")));
    }
    blocks
}

/// Checks one configured command: `swe-sleep mcp` with flags `mcp` has.
fn check_mcp_command(client: &str, command: &str, args: &[String], known: &BTreeSet<String>) {
    assert_eq!(command, "swe-sleep", "{client}: {command}");
    assert_eq!(
        args.first().map(String::as_str),
        Some("mcp"),
        "{client}: {args:?}"
    );
    for a in args.iter().filter(|a| a.starts_with("--")) {
        assert!(known.contains(a), "{client}: `swe-sleep mcp` has no {a}");
    }
    assert!(
        args.iter().any(|a| a == "--repo"),
        "{client}: names the repository"
    );
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|a| a.as_str().expect("a string").to_string())
        .collect()
}

#[test]
fn every_mcp_client_configuration_in_the_readme_runs_swe_sleep_mcp() {
    let readme = read("README.md");
    let known = flags(&["mcp"]);
    let mut clients = BTreeSet::new();
    for (lang, text) in code_blocks(&readme, "## Coding agents (MCP)") {
        match lang.as_str() {
            "sh" => {
                for line in text.lines().filter(|l| l.starts_with("claude mcp add")) {
                    let (head, command) = line.split_once(" -- ").expect("`--` before the command");
                    assert_eq!(head, "claude mcp add swe-sleep", "{line}");
                    let words: Vec<String> = command.split_whitespace().map(String::from).collect();
                    check_mcp_command("Claude Code", &words[0], &words[1..], &known);
                    clients.insert("Claude Code");
                }
            }
            "toml" => {
                let v: toml::Table = toml::from_str(&text).expect("the Codex snippet is TOML");
                let server = &v["mcp_servers"]["swe-sleep"];
                let args: Vec<String> = server["args"]
                    .as_array()
                    .expect("args")
                    .iter()
                    .map(|a| a.as_str().expect("a string").to_string())
                    .collect();
                let command = server["command"].as_str().expect("command");
                check_mcp_command("Codex", command, &args, &known);
                clients.insert("Codex");
            }
            "json" => {
                let v: serde_json::Value =
                    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
                let (client, server) = if let Some(s) = v.get("mcpServers") {
                    ("Cursor", &s["swe-sleep"])
                } else if let Some(s) = v.get("servers") {
                    assert_eq!(s["swe-sleep"]["type"], "stdio", "VS Code: {text}");
                    ("VS Code", &s["swe-sleep"])
                } else if let Some(s) = v.get("context_servers") {
                    ("Zed", &s["swe-sleep"])
                } else {
                    panic!("a JSON snippet for no known client: {text}")
                };
                let command = server["command"].as_str().expect("command");
                check_mcp_command(client, command, &strings(&server["args"]), &known);
                clients.insert(client);
            }
            other => panic!("an unexpected {other:?} block in the MCP section"),
        }
    }
    assert_eq!(
        clients,
        BTreeSet::from(["Claude Code", "Codex", "Cursor", "VS Code", "Zed"])
    );
}

#[test]
fn the_default_tool_tokens_are_the_configurations() {
    let readme = read("README.md");
    let config = swe_sleep::config::Config::default();
    assert!(
        readme.contains(&format!("tool_tokens = {}", config.agent.tool_tokens)),
        "README's [agent] section states agent.tool_tokens"
    );
    assert!(
        readme.contains(&format!(
            "default `agent.tool_tokens`, {}",
            config.agent.tool_tokens
        )),
        "README's MCP section states the default"
    );
}
