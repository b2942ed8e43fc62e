//! Claude Code in headless stream-json mode (`claude -p --input-format stream-json ...`).

mod encode;
mod fields;
mod parser;
mod permission;
mod wire;

pub use encode::{encode_interrupt, encode_prompt};
pub use parser::ClaudeParser;

use crate::{Harness, HarnessFile, Parser, SessionOpts};
use caic_api::{HarnessInfo, Prompt};

/// The harness's name in the API.
pub const NAME: &str = "claude";

/// Claude Code's headless mode, driven over stream-json on stdin/stdout.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClaudeHarness;

/// Environment that keeps Claude Code quiet and non-interactive in a container.
pub(crate) fn base_env() -> Vec<(String, String)> {
    [
        // Lets --dangerously-skip-permissions run: the container is the sandbox.
        ("IS_SANDBOX", "1"),
        ("DISABLE_AUTOUPDATER", "1"),
        ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
        ("DISABLE_TELEMETRY", "1"),
        ("DISABLE_ERROR_REPORTING", "1"),
        // 2.1.x replaced TodoWrite by its Task* tools; caic maps TodoWrite to `todo`.
        ("CLAUDE_CODE_ENABLE_TASKS", "false"),
        ("CLAUDE_CODE_ENABLE_TODO_TOOLS", "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

impl Harness for ClaudeHarness {
    fn info(&self) -> HarnessInfo {
        HarnessInfo {
            name: NAME.to_string(),
            models: vec!["sonnet".into(), "opus".into(), "haiku".into()],
            supports_images: true,
            context_window: 200_000,
            credential_env: ["ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN"]
                .map(String::from)
                .to_vec(),
            credentials_configured: false,
        }
    }

    fn command(&self, opts: &SessionOpts) -> Vec<String> {
        let mut argv: Vec<String> = [
            "claude",
            "-p",
            "--input-format",
            "stream-json",
            "--output-format",
            "stream-json",
            "--verbose",
            "--dangerously-skip-permissions",
            // Tools that need the user (AskUserQuestion, ExitPlanMode) exist headless
            // only with a permission prompt; the CLI then asks over stdout
            // (`can_use_tool`) and the parser answers (see `ClaudeParser`).
            "--permission-prompt-tool",
            "stdio",
            "--include-partial-messages",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        if let Some(m) = &opts.model {
            argv.extend(["--model".to_string(), m.clone()]);
        }
        if let Some(id) = &opts.resume_session_id {
            argv.extend(["--resume".to_string(), id.clone()]);
        }
        argv
    }

    fn env(&self, _opts: &SessionOpts) -> Vec<(String, String)> {
        base_env()
    }

    fn files(&self) -> Vec<HarnessFile> {
        Vec::new()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_without_and_with_model_and_resume() {
        let h = ClaudeHarness;
        let mut opts = SessionOpts {
            workdir: "/home/user/src/r".into(),
            ..Default::default()
        };
        assert_eq!(
            h.command(&opts).join(" "),
            "claude -p --input-format stream-json --output-format stream-json --verbose \
             --dangerously-skip-permissions --permission-prompt-tool stdio \
             --include-partial-messages"
        );
        opts.model = Some("opus".into());
        opts.resume_session_id = Some("abc".into());
        let argv = h.command(&opts);
        assert_eq!(
            argv[argv.len() - 4..],
            ["--model", "opus", "--resume", "abc"]
        );
    }

    #[test]
    fn env_is_sandboxed_and_quiet() {
        let env = ClaudeHarness.env(&SessionOpts::default());
        for k in ["IS_SANDBOX", "DISABLE_AUTOUPDATER", "DISABLE_TELEMETRY"] {
            assert!(env.iter().any(|(n, v)| n == k && v == "1"), "{k}");
        }
        for (k, want) in [
            ("CLAUDE_CODE_ENABLE_TASKS", "false"),
            ("CLAUDE_CODE_ENABLE_TODO_TOOLS", "true"),
        ] {
            assert!(env.iter().any(|(n, v)| n == k && v == want), "{k}");
        }
    }

    #[test]
    fn info_defaults_to_sonnet() {
        let info = ClaudeHarness.info();
        assert_eq!(info.models[0], "sonnet");
        assert!(info.supports_images);
        assert_eq!(info.context_window, 200_000);
    }
}
