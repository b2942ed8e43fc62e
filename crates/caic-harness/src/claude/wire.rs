//! Claude Code's stream-json lines, as far as caic reads them. Everything is lenient
//! (defaults, `Option`s) except what a line cannot mean anything without.

use serde::Deserialize;
use serde_json::Value;

/// `system/init`.
#[derive(Debug, Deserialize)]
pub struct Init {
    #[serde(default)]
    pub session_id: String,
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub claude_code_version: String,
    #[serde(default)]
    pub tools: Vec<String>,
    #[serde(default)]
    pub cwd: String,
}

/// `system/compact_boundary`.
#[derive(Debug, Deserialize)]
pub struct CompactBoundary {
    #[serde(default)]
    pub compact_metadata: Option<CompactMetadata>,
}

/// How and from how many tokens the context was compacted.
#[derive(Debug, Deserialize)]
pub struct CompactMetadata {
    #[serde(default)]
    pub trigger: Option<String>,
    #[serde(default)]
    pub pre_tokens: Option<u64>,
    #[serde(default)]
    pub post_tokens: Option<u64>,
}

/// `system/task_started`: a subagent or background task began.
#[derive(Debug, Deserialize)]
pub struct TaskStarted {
    pub task_id: String,
    #[serde(default)]
    pub description: Option<String>,
}

/// `system/task_notification`: a subagent or background task ended.
#[derive(Debug, Deserialize)]
pub struct TaskNotification {
    pub task_id: String,
    #[serde(default)]
    pub status: Option<String>,
}

/// `assistant`: one Anthropic Messages API message (Claude Code sends one line per block).
#[derive(Debug, Deserialize)]
pub struct Assistant {
    pub message: ApiMessage,
    /// Set when a subagent (Task tool) produced this message.
    #[serde(default)]
    pub parent_tool_use_id: Option<String>,
}

/// The API message inside an `assistant` line.
#[derive(Debug, Deserialize)]
pub struct ApiMessage {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub content: Vec<Value>,
    #[serde(default)]
    pub usage: Option<ApiUsage>,
}

/// Token counters as the API reports them; any may be absent or null.
#[derive(Debug, Default, Deserialize)]
pub struct ApiUsage {
    #[serde(default)]
    pub input_tokens: Option<u64>,
    #[serde(default)]
    pub output_tokens: Option<u64>,
    #[serde(default)]
    pub cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    pub cache_read_input_tokens: Option<u64>,
}

impl ApiUsage {
    /// The counters in caic's model, absent ones as 0.
    pub fn to_api(&self) -> caic_api::Usage {
        caic_api::Usage {
            input_tokens: self.input_tokens.unwrap_or(0),
            output_tokens: self.output_tokens.unwrap_or(0),
            cache_creation_input_tokens: self.cache_creation_input_tokens.unwrap_or(0),
            cache_read_input_tokens: self.cache_read_input_tokens.unwrap_or(0),
        }
    }
}

/// A content block of an assistant or user message.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block {
    Text {
        #[serde(default)]
        text: String,
    },
    Thinking {
        #[serde(default)]
        thinking: String,
    },
    RedactedThinking {},
    ToolUse {
        id: String,
        name: String,
        #[serde(default)]
        input: Value,
    },
    ServerToolUse {
        id: String,
        name: String,
        #[serde(default)]
        input: Value,
    },
    ToolResult {
        tool_use_id: String,
        #[serde(default)]
        content: Value,
        #[serde(default)]
        is_error: Option<bool>,
    },
    Image {},
    Document {},
    #[serde(other)]
    Unknown,
}

/// `user`: a prompt (ours, logged by the relay) or tool results (from the CLI).
#[derive(Debug, Deserialize)]
pub struct User {
    pub message: UserMessage,
    #[serde(default, rename = "isSynthetic")]
    pub is_synthetic: Option<bool>,
    #[serde(default, rename = "isMeta")]
    pub is_meta: Option<bool>,
    #[serde(default, rename = "isReplay")]
    pub is_replay: Option<bool>,
    #[serde(default, rename = "isCompactSummary")]
    pub is_compact_summary: Option<bool>,
}

/// The message inside a `user` line; `content` is a string or an array of blocks.
#[derive(Debug, Deserialize)]
pub struct UserMessage {
    pub content: Value,
}

/// `result`: the end of a turn.
#[derive(Debug, Deserialize)]
pub struct ResultLine {
    pub subtype: String,
    #[serde(default)]
    pub is_error: Option<bool>,
    #[serde(default)]
    pub result: Option<String>,
    #[serde(default)]
    pub errors: Option<Vec<Value>>,
    #[serde(default)]
    pub total_cost_usd: Option<f64>,
    #[serde(default)]
    pub duration_ms: Option<serde_json::Number>,
    #[serde(default)]
    pub num_turns: Option<u64>,
    #[serde(default)]
    pub usage: Option<ApiUsage>,
    #[serde(default, rename = "modelUsage")]
    pub model_usage: Option<Value>,
}

/// `stream_event`: a raw API streaming event.
#[derive(Debug, Deserialize)]
pub struct StreamEvent {
    pub event: Value,
}

/// `control_request`: caic's (interrupt, ...) or the CLI's (can_use_tool, ...).
#[derive(Debug, Deserialize)]
pub struct ControlRequest {
    #[serde(default)]
    pub request_id: Option<String>,
    pub request: ControlRequestBody,
}

/// The payload of a control request.
#[derive(Debug, Deserialize)]
pub struct ControlRequestBody {
    pub subtype: String,
    #[serde(default)]
    pub tool_name: Option<String>,
}

/// `control_response`: the answer to a control request (the CLI's to caic's, or caic's
/// to the CLI's, echoed by the relay; caic's answers to held requests carry the user's
/// text in `caic_answer`).
#[derive(Debug, Deserialize)]
pub struct ControlResponse {
    pub response: ControlResponseBody,
    #[serde(default)]
    pub caic_answer: Option<String>,
}

/// The payload of a control response.
#[derive(Debug, Deserialize)]
pub struct ControlResponseBody {
    pub subtype: String,
    #[serde(default)]
    pub request_id: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
}

/// `control_cancel_request`: the sender of a request stopped waiting for its answer.
#[derive(Debug, Deserialize)]
pub struct ControlCancel {
    #[serde(default)]
    pub request_id: Option<String>,
}

/// `caic_diff_stat`: written into the stream by caic's relay, not by Claude Code.
#[derive(Debug, Deserialize)]
pub struct DiffStat {
    pub diff_stat: Vec<caic_api::DiffFile>,
}

/// `AskUserQuestion` tool input.
#[derive(Debug, Deserialize)]
pub struct AskInput {
    pub questions: Vec<AskQuestion>,
}

/// One question of `AskUserQuestion`.
#[derive(Debug, Deserialize)]
pub struct AskQuestion {
    pub question: String,
    #[serde(default)]
    pub header: Option<String>,
    #[serde(default)]
    pub options: Vec<AskOption>,
    #[serde(default, rename = "multiSelect")]
    pub multi_select: Option<bool>,
}

/// One option of an `AskUserQuestion` question.
#[derive(Debug, Deserialize)]
pub struct AskOption {
    pub label: String,
    #[serde(default)]
    pub description: Option<String>,
}

/// `TodoWrite` tool input.
#[derive(Debug, Deserialize)]
pub struct TodoInput {
    pub todos: Vec<TodoEntry>,
}

/// One entry of `TodoWrite`.
#[derive(Debug, Deserialize)]
pub struct TodoEntry {
    pub content: String,
    pub status: String,
    #[serde(default, rename = "activeForm")]
    pub active_form: Option<String>,
}
