//! OpenAI Codex CLI through `codex app-server` (JSON-RPC 2.0 over stdio).
//!
//! caic only writes lines and reads lines, so a small stdlib Python bridge
//! ([`BRIDGE_SCRIPT`], installed by `files()`) does Codex's round trips: the
//! `initialize` / `initialized` handshake, `thread/start` or `thread/resume`, ids and thread
//! ids for each `turn/start`, the turn id for `turn/interrupt`, answers to approval
//! requests. It copies Codex's own output unchanged, so [`CodexParser`] reads Codex's
//! protocol, plus caic's input lines (which are `turn/start` / `turn/interrupt` requests
//! without ids).
//!
//! The container is the sandbox: threads start with sandbox `danger-full-access` and
//! approval policy `never`, and each turn says `externalSandbox` with network access.

mod parser;
pub mod prices;

pub use parser::CodexParser;

use crate::{Harness, HarnessFile, Parser, SessionOpts};
use caic_api::{HarnessInfo, Prompt};
use serde_json::json;

/// The harness's name in the API.
pub const NAME: &str = "codex";

/// Where `files()` installs the bridge in the container.
pub const BRIDGE_PATH: &str = "/home/user/.caic/codex_bridge.py";

/// The bridge between caic's line protocol and `codex app-server` (Python 3, stdlib only).
pub const BRIDGE_SCRIPT: &str = include_str!("codex_bridge.py");

/// Codex CLI driven over its app-server protocol.
#[derive(Debug, Clone, Copy, Default)]
pub struct CodexHarness;

impl Harness for CodexHarness {
    fn info(&self) -> HarnessInfo {
        HarnessInfo {
            name: NAME.to_string(),
            // `model/list` of codex-cli 0.171.0; the first is its default.
            models: [
                "gpt-6.2-sol",
                "gpt-6.2-astra",
                "gpt-6.1-terra",
                "gpt-6.1-sol",
                "gpt-5.5",
            ]
            .map(String::from)
            .to_vec(),
            supports_images: true,
            // What Codex reports for its default model (`modelContextWindow`).
            context_window: 475_000,
            credential_env: ["OPENAI_API_KEY"].map(String::from).to_vec(),
            credentials_configured: false,
        }
    }

    fn command(&self, opts: &SessionOpts) -> Vec<String> {
        let mut argv: Vec<String> = ["python3", "-u", BRIDGE_PATH].map(String::from).to_vec();
        if let Some(m) = &opts.model {
            argv.extend(["--model".to_string(), m.clone()]);
        }
        if let Some(id) = &opts.resume_session_id {
            argv.extend(["--resume".to_string(), id.clone()]);
        }
        argv
    }

    fn env(&self, _opts: &SessionOpts) -> Vec<(String, String)> {
        [
            ("PYTHONUNBUFFERED", "1"),
            ("PYTHONDONTWRITEBYTECODE", "1"),
            ("NO_COLOR", "1"),
            ("RUST_LOG", "error"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    fn files(&self) -> Vec<HarnessFile> {
        vec![HarnessFile {
            path: BRIDGE_PATH.to_string(),
            mode: 0o755,
            contents: BRIDGE_SCRIPT,
        }]
    }

    fn encode_prompt(&self, prompt: &Prompt) -> String {
        encode_prompt(prompt)
    }

    fn encode_interrupt(&self) -> Option<String> {
        Some(r#"{"method":"turn/interrupt"}"#.to_string())
    }

    fn parser(&self) -> Box<dyn Parser> {
        Box::new(CodexParser::new())
    }
}

/// A `turn/start` request without id or thread id (the bridge adds them): text first,
/// then each image as a data URL.
pub fn encode_prompt(prompt: &Prompt) -> String {
    let mut input = vec![json!({"type": "text", "text": prompt.text})];
    for img in &prompt.images {
        input.push(json!({
            "type": "image",
            "url": format!("data:{};base64,{}", img.media_type, img.data),
        }));
    }
    json!({"method": "turn/start", "params": {"input": input}}).to_string()
}

#[cfg(test)]
mod tests;
