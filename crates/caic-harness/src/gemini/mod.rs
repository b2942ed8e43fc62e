//! Google Gemini CLI in headless stream-json mode, one process per turn.
//!
//! Gemini CLI reads no input stream in headless mode, so a small stdlib Python runner
//! ([`RUNNER_SCRIPT`], installed by `files()`) stays up for caic, runs one
//! `gemini -p "" --output-format stream-json --yolo` per prompt line (the prompt on its
//! stdin) and resumes the same session id each turn; it copies Gemini's lines unchanged
//! for [`GeminiParser`]. Images of a prompt travel base64 in its line; the runner writes
//! them to a private directory outside the repo, adds it with `--include-directories` and
//! names each file in the prompt as an `@path` reference, which the CLI reads into an
//! `inlineData` part; the directory is removed when the turn ends. Gemini reports no cost:
//! it is estimated from tokens and [`prices`]. Chosen over ACP (`gemini --acp`) because ACP makes the client
//! answer permission and file-system requests and reports no token counts, while
//! stream-json gives tokens per turn, tool ids and plain resumable sessions.

mod parser;
pub mod prices;

pub use parser::{tool_name, GeminiParser};

use crate::{Harness, HarnessFile, Parser, SessionOpts};
use caic_api::{HarnessInfo, Prompt};
use serde_json::json;

/// The harness's name in the API.
pub const NAME: &str = "gemini";

/// Where `files()` installs the runner in the container.
pub const RUNNER_PATH: &str = "/home/user/.caic/gemini_runner.py";

/// The runner between caic's line protocol and Gemini CLI (Python 3, stdlib only).
pub const RUNNER_SCRIPT: &str = include_str!("gemini_runner.py");

/// Gemini CLI driven through [`RUNNER_SCRIPT`].
#[derive(Debug, Clone, Copy, Default)]
pub struct GeminiHarness;

impl Harness for GeminiHarness {
    fn info(&self) -> HarnessInfo {
        HarnessInfo {
            name: NAME.to_string(),
            // "auto" lets Gemini CLI route each request (its own default).
            models: ["auto", "gemini-3.1-pro-preview", "gemini-3.5-flash"]
                .map(String::from)
                .to_vec(),
            // As `@path` references to files the runner writes (see the module doc).
            supports_images: true,
            context_window: 1_048_576,
            credential_env: ["GEMINI_API_KEY"].map(String::from).to_vec(),
            credentials_configured: false,
        }
    }

    fn command(&self, opts: &SessionOpts) -> Vec<String> {
        let mut argv: Vec<String> = ["python3", "-u", RUNNER_PATH].map(String::from).to_vec();
        if let Some(m) = opts.model.as_ref().filter(|m| m.as_str() != "auto") {
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
            ("GEMINI_CLI_TRUST_WORKSPACE", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    fn files(&self) -> Vec<HarnessFile> {
        vec![HarnessFile {
            path: RUNNER_PATH.to_string(),
            mode: 0o755,
            contents: RUNNER_SCRIPT,
        }]
    }

    fn encode_prompt(&self, prompt: &Prompt) -> String {
        if prompt.images.is_empty() {
            json!({"type": "prompt", "text": prompt.text}).to_string()
        } else {
            json!({"type": "prompt", "text": prompt.text, "images": prompt.images}).to_string()
        }
    }

    fn encode_interrupt(&self) -> Option<String> {
        Some(r#"{"type":"interrupt"}"#.to_string())
    }

    fn parser(&self) -> Box<dyn Parser> {
        Box::new(GeminiParser::new())
    }
}

#[cfg(test)]
mod tests;
