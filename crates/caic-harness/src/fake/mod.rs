//! A deterministic fake agent for tests and demos: a stdlib-only Python script that speaks
//! Claude Code's stream-json, so its output goes through the Claude parser unchanged.
//! See the script's docstring for the `FAKE_*` commands a prompt may carry.

use crate::claude::{encode_interrupt, encode_prompt, ClaudeParser};
use crate::{Harness, HarnessFile, Parser, SessionOpts};
use caic_api::{HarnessInfo, Prompt};

/// The harness's name in the API.
pub const NAME: &str = "fake";

/// Where `files()` installs the script in the container.
pub const AGENT_PATH: &str = "/home/user/.caic/fake_agent.py";

/// The fake agent script (Python 3, stdlib only).
pub const AGENT_SCRIPT: &str = include_str!("fake_agent.py");

/// The model the fake agent reports when none is chosen.
pub const DEFAULT_MODEL: &str = "fake-model";

/// Runs [`AGENT_SCRIPT`] in the container; parsed as Claude Code.
#[derive(Debug, Clone, Copy, Default)]
pub struct FakeHarness;

impl Harness for FakeHarness {
    fn info(&self) -> HarnessInfo {
        HarnessInfo {
            name: NAME.to_string(),
            models: vec![DEFAULT_MODEL.to_string()],
            supports_images: true,
            context_window: 200_000,
            credential_env: Vec::new(),
            credentials_configured: false,
        }
    }

    fn command(&self, opts: &SessionOpts) -> Vec<String> {
        let mut argv: Vec<String> = ["python3", "-u", AGENT_PATH].map(String::from).to_vec();
        if let Some(m) = &opts.model {
            argv.extend(["--model".to_string(), m.clone()]);
        }
        if let Some(id) = &opts.resume_session_id {
            argv.extend(["--resume".to_string(), id.clone()]);
        }
        argv
    }

    fn env(&self, _opts: &SessionOpts) -> Vec<(String, String)> {
        vec![
            ("PYTHONUNBUFFERED".into(), "1".into()),
            ("PYTHONDONTWRITEBYTECODE".into(), "1".into()),
        ]
    }

    fn files(&self) -> Vec<HarnessFile> {
        vec![HarnessFile {
            path: AGENT_PATH.to_string(),
            mode: 0o755,
            contents: AGENT_SCRIPT,
        }]
    }

    fn encode_prompt(&self, prompt: &Prompt) -> String {
        encode_prompt(prompt)
    }

    fn encode_interrupt(&self) -> Option<String> {
        Some(encode_interrupt())
    }

    fn parser(&self) -> Box<dyn Parser> {
        Box::new(ClaudeParser::new())
    }
}

#[cfg(all(test, unix))]
mod tests;
