//! Test support for end-to-end suites: scripted mocks of the model APIs (Anthropic,
//! OpenAI, Gemini; what they share is in `mock_server`) and helpers to run the real
//! Claude Code CLI against the Anthropic one.

pub mod claude_cli;
pub mod mock_anthropic;
pub mod mock_gemini;
pub mod mock_openai;
pub mod mock_server;

/// Hosts the agent CLIs reach directly rather than through the refusing test proxy.
pub const NO_PROXY: &str = "host.docker.internal,127.0.0.1,localhost";
