//! The documentation covers every flag the binary has: each subcommand's
//! usage line in the README (and `bench mine`'s in docs/benchmark.md) names
//! every long flag its `--help` lists, and the numeric defaults `--help`
//! states for the budget, the step cap and replay are the configuration's.
//! docs/predict-json.md is checked against a real answer in
//! `tests/predict.rs`.

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
    for cmd in ["sleep", "status", "predict", "daemon", "serve", "eval"] {
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
