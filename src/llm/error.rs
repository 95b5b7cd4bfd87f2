//! The errors of the model client.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Secret(#[from] crate::secret::SecretError),
    #[error("cannot reach {url} after {attempts} attempts: {message}")]
    Connect {
        url: String,
        attempts: u32,
        message: String,
    },
    #[error("{url} answered {status} after {attempts} attempts: {body}")]
    Status {
        url: String,
        status: u16,
        attempts: u32,
        body: String,
    },
    #[error("{url} does not support tool calling for model {model}: {hint}")]
    NoToolSupport {
        url: String,
        model: String,
        hint: String,
    },
    #[error("cannot read the reply of {url}: {message}")]
    Decode { url: String, message: String },
    #[error("prompt template {name}: {message}")]
    Prompt { name: String, message: String },
    #[error("cannot read prompt template {}: {source}", path.display())]
    PromptFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cost ledger: {0}")]
    Ledger(#[from] crate::notebook::StoreError),
    /// The copy of the ledger a service registered (`ledger_copy`).
    #[error("the service's cost ledger")]
    LedgerCopy(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("cannot start the http client: {0}")]
    Client(String),
}

/// What a server needs so that tool calling works, by the kind of server
/// its address suggests.
pub fn tool_support_hint(base_url: &str) -> String {
    let generic = "start vLLM with --enable-auto-tool-choice --tool-call-parser <parser for the model>; \
                   start llama.cpp's llama-server with --jinja; with Ollama use a model whose \
                   `ollama show` lists the tools capability; in LM Studio load a model whose chat \
                   template supports tools";
    if base_url.contains(":11434") {
        format!(
            "Ollama needs a model with tool support (`ollama show <model>` lists `tools` under capabilities); {generic}"
        )
    } else if base_url.contains(":8000") {
        format!("vLLM needs --enable-auto-tool-choice --tool-call-parser <parser>; {generic}")
    } else if base_url.contains(":8080") {
        format!("llama.cpp's llama-server needs --jinja; {generic}")
    } else {
        generic.to_string()
    }
}
