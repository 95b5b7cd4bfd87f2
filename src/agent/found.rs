//! What a tool's source found, apart from how it is shown. Each toolbox
//! (the sleep arm over the notebook, the no-sleep arm over the raw
//! repository) answers a call with a [`Found`]: ranked files, past
//! changes, a card, text, or a refusal. [`Found::render`] alone turns it
//! into the text a caller reads and pays for, cut to its allowance by
//! dropping whole items from the end, so both arms, the model's tools and
//! MCP show the same kind of answer the same way.

use super::tools::{FileItem, PrItem, ToolData, ToolOutput, files_output_with, prs_output};

/// A source's answer to one call, not yet rendered.
#[derive(Debug, Clone, PartialEq)]
pub enum Found {
    /// Ranked files under a header (`search`, `symbol`, `cochange`).
    Files {
        header: String,
        items: Vec<FileItem>,
    },
    /// Past changes under a header (`similar_prs`).
    Prs { header: String, items: Vec<PrItem> },
    /// A file's card; kept as structured data when it is shown whole.
    Card { path: String, text: String },
    /// Plain text: file lines, a listing, an acknowledgement.
    Text(String),
    /// Why the call was refused or failed, shown as `error: ...`.
    Error(String),
}

impl Found {
    /// The text within `max_tokens`; `brief` leaves out the files' evidence
    /// and shortens past changes (the calls that take a `brief` flag).
    pub fn render(self, max_tokens: u64, brief: bool) -> ToolOutput {
        match self {
            Found::Files { header, items } => files_output_with(&header, items, max_tokens, brief),
            Found::Prs { header, items } => prs_output(&header, items, max_tokens, brief),
            Found::Card { path, text } => {
                let out = ToolOutput::text(&text, max_tokens);
                // A cut card is text; only a whole one is the card.
                let data = if out.truncated {
                    ToolData::Text
                } else {
                    ToolData::Card {
                        path,
                        text: out.text.clone(),
                    }
                };
                ToolOutput { data, ..out }
            }
            Found::Text(text) => ToolOutput::text(&text, max_tokens),
            Found::Error(message) => ToolOutput::error(message, max_tokens),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_card_is_structured_only_when_whole() {
        let card = Found::Card {
            path: "src/a.rs".into(),
            text: "purpose: parses recipes and their units of measure\n".repeat(20),
        };
        let whole = card.clone().render(10_000, false);
        assert!(matches!(whole.data, ToolData::Card { .. }));
        let cut = card.render(10, false);
        assert!(matches!(cut.data, ToolData::Text) && cut.truncated && cut.tokens <= 10);
    }

    #[test]
    fn errors_and_files_render_as_the_tools_always_did() {
        let e = Found::Error("`../x` is not a file".into()).render(50, false);
        assert_eq!(e.text, "error: `../x` is not a file");
        assert!(matches!(e.data, ToolData::Error { .. }));
        let items = vec![FileItem::new("src/a.rs", 1.5, "code: a")];
        let files = Found::Files {
            header: "search results:\n".into(),
            items: items.clone(),
        };
        assert_eq!(
            files.clone().render(100, false),
            files_output_with("search results:\n", items.clone(), 100, false)
        );
        assert_eq!(
            files.render(100, true),
            files_output_with("search results:\n", items, 100, true)
        );
    }
}
