//! The contract every agent driver fulfils: how to start a session, talk to it, and read it.

use caic_api::{EventData, HarnessInfo, Prompt, TaskState};

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
///
/// Some agents also ask their client things mid-turn (Claude Code's tool permission
/// requests). A parser then tracks those requests and tells the session what to write
/// back: [`Parser::replies`] for what caic answers by itself, [`Parser::answer`] for
/// what waits on the user. Both see the answers again in the stream (the relay logs
/// stdin), so a parser rebuilt from a log knows which requests are still open.
pub trait Parser: Send {
    /// Events for one line (without its newline). Never panics; an unreadable line gives
    /// one [`EventData::Error`] carrying the line.
    fn parse(&mut self, line: &str) -> Vec<EventData>;

    /// Stdin lines to send now in answer to the lines parsed so far (e.g. allowing a
    /// tool); each is returned once by this parser. None by default.
    fn replies(&mut self) -> Vec<String> {
        Vec::new()
    }

    /// [`TaskState::Asking`] or [`TaskState::HasPlan`] while the agent is blocked in the
    /// middle of a turn until the user answers; `None` otherwise (the default).
    fn waiting_for_user(&self) -> Option<TaskState> {
        None
    }

    /// When the agent waits for the user, the stdin lines that deliver `input` (a line
    /// from [`Harness::encode_prompt`]) as the awaited answer; `None` to send `input`
    /// unchanged (the default, and for any line that is not a prompt).
    fn answer(&mut self, input: &str) -> Option<Vec<String>> {
        let _ = input;
        None
    }

    /// Stdin lines that end what the agent waits on for the user, sent before caic
    /// closes the session on purpose (restart), so the agent stops rather than carries
    /// on without the answer. None by default.
    fn release(&mut self) -> Vec<String> {
        Vec::new()
    }
}
