//! The common event model every harness parses its agent's output into.
//!
//! On the wire an event is one flat JSON object: `{"seq":3,"ts":1700000000000,"kind":"text","text":"hi"}`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One event in a task's history, as stored and streamed.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// Position in the task's history, from 0, never reused.
    pub seq: u64,
    /// When caic saw it, Unix milliseconds.
    pub ts: i64,
    /// What happened.
    #[serde(flatten)]
    pub data: EventData,
}

/// An image attached to a prompt.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImageData {
    /// `image/png`, `image/jpeg`, `image/gif` or `image/webp`.
    pub media_type: String,
    /// Base64 of the image bytes.
    pub data: String,
}

/// What a user sends to an agent: text and optional images.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Prompt {
    /// The text of the message.
    pub text: String,
    /// Images attached to the message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<ImageData>,
}

/// Token counts for one model call or a whole turn.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    /// Uncached input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Input tokens written to the prompt cache.
    #[serde(default)]
    pub cache_creation_input_tokens: u64,
    /// Input tokens read from the prompt cache.
    #[serde(default)]
    pub cache_read_input_tokens: u64,
}

/// One changed file in a diff stat.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DiffFile {
    /// Path relative to the repo root.
    pub path: String,
    /// Lines added.
    pub added: u64,
    /// Lines deleted.
    pub deleted: u64,
    /// True for binary files (no line counts).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub binary: bool,
}

/// One choice offered by an `ask` question.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AskOption {
    /// Short label.
    pub label: String,
    /// Longer explanation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A question the agent asks the user.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AskQuestion {
    /// The question.
    pub question: String,
    /// Short header shown above it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// Choices.
    #[serde(default)]
    pub options: Vec<AskOption>,
    /// Several choices may be picked.
    #[serde(default)]
    pub multi_select: bool,
}

/// One entry of the agent's todo list.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TodoItem {
    /// What to do.
    pub content: String,
    /// `pending`, `in_progress` or `completed`.
    pub status: String,
    /// Present-tense form shown while in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_form: Option<String>,
}

/// What happened, tagged by `kind`.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum EventData {
    /// The agent session started.
    Init {
        /// Model the agent runs.
        model: String,
        /// Agent CLI version.
        agent_version: String,
        /// Session id, used to resume.
        session_id: String,
        /// Tools the agent has.
        #[serde(default)]
        tools: Vec<String>,
        /// Working directory in the container.
        cwd: String,
    },
    /// A complete block of assistant text (Markdown).
    Text {
        /// The text.
        text: String,
    },
    /// A streamed piece of assistant text, superseded by the following `text`.
    TextDelta {
        /// The piece.
        text: String,
    },
    /// A complete thinking block.
    Thinking {
        /// The text.
        text: String,
    },
    /// A streamed piece of thinking.
    ThinkingDelta {
        /// The piece.
        text: String,
    },
    /// The agent called a tool.
    ToolUse {
        /// Id pairing this call with its result.
        tool_use_id: String,
        /// Tool name (`Bash`, `Read`, `Edit`, `Write`, ...).
        name: String,
        /// Tool input as JSON.
        #[schema(value_type = Object)]
        input: serde_json::Value,
    },
    /// A tool call finished.
    ToolResult {
        /// Id of the matching `toolUse`.
        tool_use_id: String,
        /// Output text, possibly trimmed.
        #[serde(default)]
        output: String,
        /// Error text when the tool failed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// Milliseconds since the matching `toolUse`, measured by caic.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration_ms: Option<u64>,
    },
    /// The agent asks the user questions.
    Ask {
        /// Id of the tool call that asked.
        tool_use_id: String,
        /// The questions.
        questions: Vec<AskQuestion>,
    },
    /// The agent updated its todo list.
    Todo {
        /// Id of the tool call.
        tool_use_id: String,
        /// The full list.
        todos: Vec<TodoItem>,
    },
    /// Token usage of one model call.
    Usage {
        /// The counts.
        usage: Usage,
        /// Model that was called.
        #[serde(default)]
        model: String,
    },
    /// A turn ended.
    Result {
        /// `success` or an error subtype.
        subtype: String,
        /// True when the turn failed.
        is_error: bool,
        /// The agent's final text.
        result: String,
        /// Cost of the session so far, USD.
        total_cost_usd: f64,
        /// Wall time of the turn, ms.
        duration_ms: u64,
        /// Model turns in the session so far.
        num_turns: u64,
        /// Tokens of the turn.
        usage: Usage,
        /// Files changed so far, when known.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        diff_stat: Vec<DiffFile>,
        /// The model's context window as the agent reports it, when it does.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        context_window: Option<u64>,
    },
    /// Something the agent or caic reports about the session (compaction, ...).
    System {
        /// What kind of notice.
        subtype: String,
        /// Extra text.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    /// A prompt the user sent.
    UserInput {
        /// The text.
        text: String,
        /// How many images were attached.
        #[serde(default, skip_serializing_if = "is_zero")]
        images: u32,
    },
    /// Files changed so far.
    DiffStat {
        /// One entry per file.
        diff_stat: Vec<DiffFile>,
    },
    /// A provisioning or lifecycle log line from caic.
    Log {
        /// The line.
        line: String,
    },
    /// A line caic could not parse, or a failure to report.
    Error {
        /// What went wrong.
        message: String,
        /// The offending raw line, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        line: Option<String>,
    },
    /// A subagent started.
    SubagentStart {
        /// Its id.
        task_id: String,
        /// What it does.
        description: String,
    },
    /// A subagent ended.
    SubagentEnd {
        /// Its id.
        task_id: String,
        /// `completed`, `failed` or `stopped`.
        status: String,
    },
    /// A pull/merge request was opened or found for the task's branch.
    Pr {
        /// `github` or `gitlab`.
        forge: String,
        /// PR number or MR iid.
        number: u64,
        /// Its web page.
        url: String,
    },
    /// CI of the last pushed commit changed.
    Ci {
        /// The commit.
        sha: String,
        /// The verdict so far.
        state: crate::CiState,
        /// Checks finished.
        done: u32,
        /// All checks.
        total: u32,
        /// One entry per check.
        #[serde(default)]
        checks: Vec<crate::CiCheck>,
    },
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl EventData {
    /// The `kind` string of this event.
    pub fn kind(&self) -> &'static str {
        match self {
            EventData::Init { .. } => "init",
            EventData::Text { .. } => "text",
            EventData::TextDelta { .. } => "textDelta",
            EventData::Thinking { .. } => "thinking",
            EventData::ThinkingDelta { .. } => "thinkingDelta",
            EventData::ToolUse { .. } => "toolUse",
            EventData::ToolResult { .. } => "toolResult",
            EventData::Ask { .. } => "ask",
            EventData::Todo { .. } => "todo",
            EventData::Usage { .. } => "usage",
            EventData::Result { .. } => "result",
            EventData::System { .. } => "system",
            EventData::UserInput { .. } => "userInput",
            EventData::DiffStat { .. } => "diffStat",
            EventData::Log { .. } => "log",
            EventData::Error { .. } => "error",
            EventData::SubagentStart { .. } => "subagentStart",
            EventData::SubagentEnd { .. } => "subagentEnd",
            EventData::Pr { .. } => "pr",
            EventData::Ci { .. } => "ci",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_is_flat_json() {
        let e = Event {
            seq: 3,
            ts: 10,
            data: EventData::Text { text: "hi".into() },
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"seq":3,"ts":10,"kind":"text","text":"hi"})
        );
        let back: Event = serde_json::from_value(v).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn tool_use_fields_are_camel_case() {
        let d = EventData::ToolUse {
            tool_use_id: "t1".into(),
            name: "Bash".into(),
            input: serde_json::json!({"command":"ls"}),
        };
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(v["kind"], "toolUse");
        assert_eq!(v["toolUseId"], "t1");
    }
}
