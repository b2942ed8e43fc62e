//! The contract every agent driver fulfils: how to start a session, talk to it, and read it.

use caic_api::{EventData, HarnessInfo, Prompt};

/// What a session needs to know to start the agent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionOpts {
    /// Model to run; the harness default (first of `HarnessInfo::models`) when `None`.
    pub model: Option<String>,
    /// Agent session to resume, as reported by a previous `init` event.
    pub resume_session_id: Option<String>,
    /// Working directory of the agent inside the container.
    pub workdir: String,
}

/// A file to install in the container before the agent starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HarnessFile {
    /// Absolute path inside the container.
    pub path: String,
    /// Unix permission bits, e.g. `0o755`.
    pub mode: u32,
    /// The file's contents.
    pub contents: &'static str,
}

/// One agent driver: argv and env for a session, prompt encoding, and a line parser.
///
/// Implementations are pure: they never touch the network, a container or the clock.
pub trait Harness: Send + Sync + 'static {
    /// Name, models (first is the default), image support and context window.
    fn info(&self) -> HarnessInfo;
    /// Argv run inside the container, with cwd = `opts.workdir`, as uid 1000.
    fn command(&self, opts: &SessionOpts) -> Vec<String>;
    /// Non-secret environment for the agent; caic adds credentials itself.
    fn env(&self, opts: &SessionOpts) -> Vec<(String, String)>;
    /// Files to install in the container before the agent starts.
    fn files(&self) -> Vec<HarnessFile>;
    /// One stdin line carrying `prompt`, without a trailing newline.
    fn encode_prompt(&self, prompt: &Prompt) -> String;
    /// A stdin line that interrupts the current turn, if the agent supports it.
    fn encode_interrupt(&self) -> Option<String>;
    /// A fresh parser for one session's output stream.
    fn parser(&self) -> Box<dyn Parser>;
}

/// Turns one session's stream (agent stdout lines and the stdin lines caic sent, in order)
/// into events. Parsers may keep state between lines, so use one per stream.
pub trait Parser: Send {
    /// Events for one line (without its newline). Never panics; an unreadable line gives
    /// one [`EventData::Error`] carrying the line.
    fn parse(&mut self, line: &str) -> Vec<EventData>;
}
