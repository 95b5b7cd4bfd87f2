//! The tools as a client lists them: name, a description written for the
//! model that decides to call them, the JSON schema of their arguments
//! (from [`super::params`]), and a note that none of them changes anything.

use std::sync::Arc;

use rmcp::handler::server::common::schema_for_type;
use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use schemars::JsonSchema;

use super::call::TOOL_NAMES;
use super::params::{
    PathParams, PredictParams, SearchParams, SimilarParams, StatusParams, SymbolParams,
};

const PREDICT: &str = "Predict which existing files of this repository a change will modify, \
before you start editing. Describe the change as a pull request would (a title, a blank line, \
the description). Answers the JSON of `swe-sleep predict --json`: `files` (each with `path`, \
`score` from 0 to 1 and `reason` in the request's own words, best first), `notebook_commit` \
(the commit the precomputed notebook describes), `stale` (true when HEAD has moved past it), \
the tokens the run used and its trace. Call it first on a new task, then read the top files.";

const SEARCH: &str = "Search the repository's precomputed notebook (code, a card per file, \
paths, symbols, and the past pull requests of each file) and get ranked files, one line each: \
`rank. path (score): evidence`. Cheaper and broader than grepping: use it to find where a \
feature, a term or an error message lives.";

const FILE_CARD: &str = "Read a file's card from the notebook: its purpose, the symbols it \
defines, what imports it and what it imports, and its recent history (the pull requests that \
changed it). A cheap summary to decide whether a file matters before opening it.";

const SIMILAR_PRS: &str = "Find past pull requests and commits whose title and description \
resemble a text, each with its age and the files it modified: where changes like this one \
were made before.";

const COCHANGE: &str = "List the files that changed in the same commits as a file, strongest \
first, with how many commits they shared: what usually has to change along with it.";

const SYMBOL: &str = "Find where a symbol (function, type, method, constant, module) is \
defined, with its kind and line, and which other files mention it.";

const STATUS: &str = "The notebook's state as JSON: the commit it describes, its age, whether \
it is behind HEAD or the work tree, how many files and commits it holds, and what sleep time \
learned. Check it when answers look out of date.";

/// Every tool, in the order of [`TOOL_NAMES`].
pub fn tools() -> Vec<Tool> {
    let read_only = ToolAnnotations::new()
        .read_only(true)
        .destructive(false)
        .idempotent(true)
        .open_world(false);
    let tools = vec![
        tool::<PredictParams>("predict_files", PREDICT),
        tool::<SearchParams>("search", SEARCH),
        tool::<PathParams>("file_card", FILE_CARD),
        tool::<SimilarParams>("similar_prs", SIMILAR_PRS),
        tool::<PathParams>("cochange", COCHANGE),
        tool::<SymbolParams>("symbol", SYMBOL),
        tool::<StatusParams>("notebook_status", STATUS),
    ];
    debug_assert!(tools.iter().map(|t| t.name.as_ref()).eq(TOOL_NAMES));
    tools
        .into_iter()
        .map(|t| t.annotate(read_only.clone()))
        .collect()
}

fn tool<P: JsonSchema + 'static>(name: &'static str, description: &'static str) -> Tool {
    let schema: Arc<JsonObject> = schema_for_type::<P>();
    Tool::new(name, description, schema)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_has_an_object_schema_with_max_tokens() {
        let tools = tools();
        assert_eq!(tools.len(), TOOL_NAMES.len());
        for t in &tools {
            assert_eq!(
                t.input_schema.get("type"),
                Some(&"object".into()),
                "{}",
                t.name
            );
            let props = t.input_schema["properties"]
                .as_object()
                .expect("properties");
            assert!(props.contains_key("max_tokens"), "{}", t.name);
            assert!(
                props.values().all(|p| p.get("description").is_some()),
                "{}: every argument is described",
                t.name
            );
            assert!(t.description.as_deref().is_some_and(|d| d.len() > 80));
        }
        let predict = &tools[0].input_schema;
        assert_eq!(predict["required"], serde_json::json!(["request"]));
    }
}
