//! Forward compatibility: Claude Code adds fields often. Unknown ones are tolerated and
//! logged once per (line kind, field) for the whole process, so a new CLI version shows up
//! in the logs without flooding them.

use parking_lot::Mutex;
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::sync::OnceLock;

const COMMON: &[&str] = &["type", "subtype", "uuid", "session_id", "timestamp"];

/// Fields caic knows (used or deliberately ignored) for a line kind (`type` or
/// `type/subtype`); `None` for kinds whose fields are not checked.
fn known(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "system/init" => &[
            "cwd",
            "tools",
            "mcp_servers",
            "model",
            "permissionMode",
            "slash_commands",
            "terminal_slash_commands",
            "apiKeySource",
            "claude_code_version",
            "output_style",
            "agents",
            "skills",
            "plugins",
            "plugin_errors",
            "betas",
            "fast_mode_state",
            "fast_mode_disabled_reason",
            "effort",
            "view_mode",
            "capabilities",
            "memory_paths",
            "additional_directories",
            "analytics_disabled",
            "messaging_socket_path",
            "original_cwd",
            "per_turn_effort_active",
            "product_feedback_disabled",
            "sandbox_enabled",
            "served_by_anthropic",
            "ultrathink_available",
            "ultrathink_typed_raises",
        ],
        "system/compact_boundary" => &["compact_metadata"],
        "system/task_started" => &[
            "task_id",
            "run_id",
            "tool_use_id",
            "description",
            "subagent_type",
            "is_backgrounded",
            "spawn_depth",
            "parent_task_id",
            "task_type",
            "workflow_name",
            "prompt",
            "skip_transcript",
            "ambient",
        ],
        "system/task_notification" => &[
            "task_id",
            "run_id",
            "tool_use_id",
            "status",
            "reason",
            "output_file",
            "summary",
            "usage",
            "resource_links",
            "skip_transcript",
            "ambient",
        ],
        "assistant" => &[
            "message",
            "parent_tool_use_id",
            "error",
            "request_id",
            "user_message_uuid",
            "user_message_uuids",
            "resume_reason",
            "resumed_from_incomplete_thinking",
            "supersedes",
            "aborted",
            "agent_id",
            "subagent_type",
            "task_description",
            "context_usage",
            "usage_report",
        ],
        "user" => &[
            "message",
            "parent_tool_use_id",
            "isSynthetic",
            "isMeta",
            "isReplay",
            "isCompactSummary",
            "isVisibleInTranscriptOnly",
            "tool_use_result",
            "tool_result_meta",
            "priority",
            "origin",
            "shouldQuery",
            "client_composed",
            "pasted_content",
            "inline_pastes",
            "file_attachments",
            "agent_id",
            "subagent_type",
            "task_description",
        ],
        "result" => &[
            "is_error",
            "result",
            "errors",
            "duration_ms",
            "duration_api_ms",
            "num_turns",
            "total_cost_usd",
            "usage",
            "modelUsage",
            "permission_denials",
            "stop_reason",
            "terminal_reason",
            "api_error_status",
            "structured_output",
            "queued_turn_count",
            "fast_mode_state",
            "fast_mode_disabled_reason",
            "user_message_uuid",
            "user_message_uuids",
            "ttft_ms",
            "ttft_stream_ms",
            "begun_message_ids",
            "first_content_frame_ms",
            "model_usage_since_last_result",
            "result_index",
            "safety_stops",
            "subagent_stats",
            "time_to_request_ms",
        ],
        "stream_event" => &[
            "event",
            "parent_tool_use_id",
            "ttft_ms",
            "user_message_uuid",
            "user_message_uuids",
            "resume_reason",
            "api_message_id",
            "thinking_display",
        ],
        _ => return None,
    })
}

fn seen() -> &'static Mutex<HashSet<String>> {
    static SEEN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    SEEN.get_or_init(Default::default)
}

/// Logs, once per process, each field of `obj` that caic does not know for `kind`.
pub(super) fn note_unknown(kind: &str, obj: &Map<String, Value>) {
    let Some(known) = known(kind) else { return };
    for key in obj.keys() {
        if COMMON.contains(&key.as_str()) || known.contains(&key.as_str()) {
            continue;
        }
        let id = format!("{kind}.{key}");
        let first = seen().lock().insert(id);
        if first {
            tracing::info!(kind, field = %key, "claude: unknown field in stream-json (ignored)");
        }
    }
}

/// Logs, once per process, a line kind or content block caic does not know.
pub(super) fn note_unknown_kind(what: &str, kind: &str) {
    let id = format!("{what}:{kind}");
    let first = seen().lock().insert(id);
    if first {
        tracing::info!(what, kind, "claude: unknown {what} in stream-json");
    }
}
