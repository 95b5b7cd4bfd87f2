//! What a repository's manifests say about where its imports lead: Cargo
//! package names (`Cargo.toml`), Go module paths (`go.mod`), and TypeScript
//! and JavaScript `baseUrl` and `paths` (`tsconfig.json`, `jsconfig.json`,
//! with `extends` followed within the repository). Pure: the caller reads
//! the files and hands their text to [`Manifests::add`].

use std::collections::HashMap;

/// The manifests of one repository snapshot, as import resolution uses them.
#[derive(Debug, Clone, Default)]
pub struct Manifests {
    /// (crate name as written in `use`, `-` read as `_`; crate root dir).
    pub(super) rust_crates: Vec<(String, String)>,
    /// (module path, directory of its `go.mod`).
    pub(super) go_modules: Vec<(String, String)>,
    /// Each tsconfig/jsconfig by its path.
    ts_configs: HashMap<String, TsConfigFile>,
}

/// One tsconfig as written (paths relative to its own directory).
#[derive(Debug, Clone, Default)]
struct TsConfigFile {
    base_url: Option<String>,
    paths: Option<Vec<(String, Vec<String>)>>,
    /// The repository path `extends` names, when it is a relative path.
    extends: Option<String>,
}

/// The aliases a tsconfig gives the files under its directory, with every
/// path relative to the repository root.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct TsAliases {
    /// `compilerOptions.baseUrl`, resolved.
    pub base_url: Option<String>,
    /// `compilerOptions.paths`: (pattern with at most one `*`, targets).
    pub paths: Vec<(String, Vec<String>)>,
}

/// Directory part of a '/'-separated path ("" at the root).
fn dir_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(d, _)| d)
}

fn file_name(path: &str) -> &str {
    path.rsplit_once('/').map_or(path, |(_, f)| f)
}

/// `dir` joined with `rel`, with `.` and `..` segments applied; `None`
/// when `..` leaves the repository.
pub(super) fn normalize_join(dir: &str, rel: &str) -> Option<String> {
    let mut segs: Vec<&str> = Vec::new();
    for seg in dir.split('/').chain(rel.split('/')) {
        match seg {
            "" | "." => {}
            ".." => {
                segs.pop()?;
            }
            s => segs.push(s),
        }
    }
    Some(segs.join("/"))
}

impl Manifests {
    /// Whether [`Manifests::add`] reads the file at `path`.
    pub fn is_manifest(path: &str) -> bool {
        let name = file_name(path);
        name == "Cargo.toml" || name == "go.mod" || is_ts_config(name)
    }

    /// Reads one manifest's text; unparsable ones are left out.
    pub fn add(&mut self, path: &str, text: &str) {
        let name = file_name(path);
        let dir = dir_of(path).to_string();
        if name == "Cargo.toml" {
            if let Some(crate_name) = cargo_package_name(text) {
                self.add_rust_crate(&crate_name, &dir);
            }
        } else if name == "go.mod" {
            if let Some(module) = go_module_path(text) {
                self.go_modules.push((module, dir));
            }
        } else if is_ts_config(name) {
            if let Some(config) = ts_config(&dir, text) {
                self.ts_configs.insert(path.to_string(), config);
            }
        }
    }

    /// A Rust crate by name (`-` read as `_`) and root directory (`""` or
    /// `"."` for the repository root).
    pub fn add_rust_crate(&mut self, name: &str, dir: &str) {
        let dir = dir.trim_matches('/');
        let dir = if dir == "." { "" } else { dir };
        self.rust_crates
            .push((name.replace('-', "_"), dir.to_string()));
    }

    /// The aliases in force for a file in `dir`: those of the nearest
    /// `tsconfig.json` or `jsconfig.json` at or above it, each setting
    /// taken from the first config along its `extends` chain that has it.
    pub(super) fn ts_aliases(&self, dir: &str) -> Option<TsAliases> {
        let mut d = dir;
        let start = loop {
            let found = ["tsconfig.json", "jsconfig.json"]
                .iter()
                .map(|n| join(d, n))
                .find(|p| self.ts_configs.contains_key(p));
            if let Some(found) = found {
                break found;
            }
            if d.is_empty() {
                return None;
            }
            d = dir_of(d);
        };
        let mut aliases = TsAliases::default();
        let mut paths_set = false;
        let mut next = Some(start);
        for _ in 0..8 {
            let Some(config) = next.and_then(|p| self.ts_configs.get(&p)) else {
                break;
            };
            if aliases.base_url.is_none() {
                aliases.base_url.clone_from(&config.base_url);
            }
            if !paths_set && let Some(paths) = &config.paths {
                aliases.paths.clone_from(paths);
                paths_set = true;
            }
            next = config.extends.clone();
        }
        Some(aliases)
    }
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// `tsconfig.json`, `jsconfig.json`, `tsconfig.base.json`, `tsconfig.app.json`...
fn is_ts_config(name: &str) -> bool {
    name == "jsconfig.json" || (name.starts_with("tsconfig") && name.ends_with(".json"))
}

/// Crate name from a Cargo.toml's text (`[package] name`, as written, with
/// any `-`), `None` if absent or unparsable.
pub fn cargo_package_name(cargo_toml: &str) -> Option<String> {
    let table: toml::Table = cargo_toml.parse().ok()?;
    let name = table.get("package")?.get("name")?.as_str()?;
    Some(name.to_string())
}

/// The `module` line of a go.mod.
fn go_module_path(go_mod: &str) -> Option<String> {
    go_mod.lines().find_map(|line| {
        let rest = line.trim().strip_prefix("module")?;
        if !rest.starts_with([' ', '\t']) {
            return None;
        }
        let path = rest.split("//").next()?.trim().trim_matches('"');
        (!path.is_empty()).then(|| path.to_string())
    })
}

/// A tsconfig in directory `dir`, its paths made repository-relative.
fn ts_config(dir: &str, text: &str) -> Option<TsConfigFile> {
    let value: serde_json::Value = serde_json::from_str(&strip_jsonc(text)).ok()?;
    let options = value.get("compilerOptions");
    let base_url = options
        .and_then(|o| o.get("baseUrl"))
        .and_then(|b| b.as_str())
        .and_then(|b| normalize_join(dir, b));
    // `paths` targets are relative to `baseUrl` when set, else to the config.
    let paths_root = base_url.clone().unwrap_or_else(|| dir.to_string());
    let paths = options
        .and_then(|o| o.get("paths"))
        .and_then(|p| p.as_object())
        .map(|map| {
            map.iter()
                .map(|(pattern, targets)| {
                    let targets = targets
                        .as_array()
                        .map(|ts| {
                            ts.iter()
                                .filter_map(|t| t.as_str())
                                .filter_map(|t| normalize_join(&paths_root, t))
                                .collect()
                        })
                        .unwrap_or_default();
                    (pattern.clone(), targets)
                })
                .collect()
        });
    let extends = value
        .get("extends")
        .and_then(|e| e.as_str())
        .filter(|e| e.starts_with('.'))
        .and_then(|e| normalize_join(dir, e))
        .map(|e| {
            if e.ends_with(".json") {
                e
            } else {
                format!("{e}.json")
            }
        });
    Some(TsConfigFile {
        base_url,
        paths,
        extends,
    })
}

/// JSON with comments and trailing commas (as tsc reads it) made JSON.
fn strip_jsonc(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut in_string = false;
    while i < bytes.len() {
        let c = bytes[i];
        if in_string {
            if c == b'\\' {
                out.push_str(text.get(i..i + 2).unwrap_or(""));
                i += 2;
                continue;
            }
            in_string = c != b'"';
        } else if c == b'"' {
            in_string = true;
        } else if text[i..].starts_with("//") {
            i = text[i..].find('\n').map_or(bytes.len(), |n| i + n);
            continue;
        } else if text[i..].starts_with("/*") {
            i = text[i + 2..].find("*/").map_or(bytes.len(), |n| i + n + 4);
            continue;
        } else if c == b',' {
            let rest = text[i + 1..].trim_start();
            if rest.starts_with('}') || rest.starts_with(']') {
                i += 1;
                continue;
            }
        }
        let len = text[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&text[i..i + len]);
        i += len;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_names() {
        assert_eq!(
            cargo_package_name("[package]\nname = \"helix-core\"\nversion = \"1.0\"\n").as_deref(),
            Some("helix-core")
        );
        assert_eq!(cargo_package_name("[workspace]\nmembers = []\n"), None);
        assert_eq!(cargo_package_name("[package\nname = "), None);
        assert_eq!(cargo_package_name("[package]\nname = 3\n"), None);
    }

    #[test]
    fn go_modules() {
        assert_eq!(
            go_module_path("// x\nmodule github.com/spf13/cobra // c\n\ngo 1.15\n").as_deref(),
            Some("github.com/spf13/cobra")
        );
        assert_eq!(go_module_path("modulex y\n"), None);
        assert_eq!(go_module_path("go 1.20\n"), None);
    }

    #[test]
    fn jsonc_is_read() {
        let text = "{\n // c \"x\"\n \"a\": \"http://x\", /* b */ \"b\": [1, 2,],\n}\n";
        let v: serde_json::Value = serde_json::from_str(&strip_jsonc(text)).expect("json");
        assert_eq!(v["a"], "http://x");
        assert_eq!(v["b"][1], 2);
    }

    #[test]
    fn ts_aliases_follow_nearest_config_and_extends() {
        let mut m = Manifests::default();
        m.add(
            "tsconfig.base.json",
            r#"{"compilerOptions": {"baseUrl": ".", "paths": {"@app/*": ["packages/app/src/*"]}}}"#,
        );
        m.add(
            "packages/app/tsconfig.json",
            r#"{"extends": "../../tsconfig.base.json"}"#,
        );
        m.add(
            "web/jsconfig.json",
            r#"{"compilerOptions": {"paths": {"~/*": ["./src/*"]}}}"#,
        );
        let app = m.ts_aliases("packages/app/src/deep").expect("app config");
        assert_eq!(app.base_url.as_deref(), Some(""));
        assert_eq!(
            app.paths,
            [("@app/*".to_string(), vec!["packages/app/src/*".to_string()])]
        );
        let web = m.ts_aliases("web/src").expect("web config");
        assert_eq!(web.base_url, None);
        assert_eq!(
            web.paths,
            [("~/*".to_string(), vec!["web/src/*".to_string()])]
        );
        assert_eq!(m.ts_aliases("other"), None);
    }

    #[test]
    fn joins_normalize() {
        assert_eq!(normalize_join("a/b", "../c/./d").as_deref(), Some("a/c/d"));
        assert_eq!(normalize_join("", "./x").as_deref(), Some("x"));
        assert_eq!(normalize_join("a", "../../x"), None);
    }
}
