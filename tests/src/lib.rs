//! Test support for end-to-end suites: a scripted Anthropic Messages API mock and
//! helpers to run the real Claude Code CLI against it.

pub mod claude_cli;
pub mod mock_anthropic;
pub mod mock_gemini;
pub mod mock_openai;

/// Hosts the agent CLIs reach directly rather than through the refusing test proxy.
pub const NO_PROXY: &str = "host.docker.internal,127.0.0.1,localhost";
