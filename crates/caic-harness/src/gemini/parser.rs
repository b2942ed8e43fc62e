//! Gemini CLI stream-json lines (through caic's runner) and caic's input lines -> caic
//! events.

use crate::text::{trim_middle, MAX_ERROR_LINE, MAX_TOOL_OUTPUT};
use crate::Parser;
use caic_api::{EventData, Usage};
use serde_json::{Map, Value};

/// The tool name the UI knows for a Gemini CLI tool; unknown tools keep their name.
pub fn tool_name(gemini: &str) -> &str {
    match gemini {
        "run_shell_command" => "Bash",
        "read_file" | "read_many_files" => "Read",
        "write_file" => "Write",
        "replace" | "edit" => "Edit",
        "glob" => "Glob",
        "grep_search" | "search_file_content" | "grep" => "Grep",
        "list_directory" | "ls" => "LS",
        "web_fetch" => "WebFetch",
        "google_web_search" | "web_search" => "WebSearch",
        "write_todos" => "TodoWrite",
        other => other,
    }
}

/// Parser for one runner stream: many Gemini CLI processes, one per turn.
///
/// Mapping, by line `type`:
/// - caic's `prompt` -> `userInput`; `interrupt` -> nothing.
/// - `caic_runner` (the runner's first line) -> nothing; it carries the CLI version and
///   the working directory used by the next `init`s.
/// - `init` -> `init` (one per turn: each turn is a process; the session id stays).
/// - `message`: the user's echo is dropped (caic's own line already gave `userInput`);
///   assistant pieces (`delta: true`) -> `textDelta`, gathered into one `text` before the
///   next tool call or the result; a whole assistant message -> `text`.
/// - `tool_use` / `tool_result` -> `toolUse` / `toolResult`, tool names mapped by
///   [`tool_name`].
/// - `error` -> `system{subtype:"error"|"warning"}`.
/// - `result` -> `usage` then `result` (cost 0: Gemini reports none); `caic_turn_end` (a
///   turn whose process died without a result) -> an error or interrupted `result`.
/// - unknown types -> `system{subtype:"unknown:<type>"}`; not JSON: one `error` event.
#[derive(Debug, Default)]
pub struct GeminiParser {
    agent_version: String,
    cwd: String,
    model: String,
    /// Streamed assistant text not yet closed by a `text` event.
    pending: String,
    /// The last assistant text of the running turn.
    last_text: String,
    /// Turns of this stream so far.
    turns: u64,
}

impl GeminiParser {
    /// A parser for a new stream.
    pub fn new() -> Self {
        Self::default()
    }

    fn flush(&mut self, out: &mut Vec<EventData>) {
        if !self.pending.is_empty() {
            let text = std::mem::take(&mut self.pending);
            self.last_text = text.clone();
            out.push(EventData::Text { text });
        }
    }

    fn parse_value(&mut self, v: Map<String, Value>, line: &str) -> Vec<EventData> {
        let v = Value::Object(v);
        let Some(ty) = v.get("type").and_then(Value::as_str) else {
            return vec![bad_line("line has no string \"type\" field", line)];
        };
        let mut out = Vec::new();
        match ty {
            "prompt" => out.push(EventData::UserInput {
                text: str_at(&v, "text").to_string(),
                images: 0,
            }),
            "interrupt" => {}
            "caic_runner" => {
                self.agent_version = str_at(&v, "agent_version").to_string();
                self.cwd = str_at(&v, "cwd").to_string();
            }
            "caic_error" => out.push(EventData::Error {
                message: str_at(&v, "message").to_string(),
                line: None,
            }),
            "init" => {
                self.model = str_at(&v, "model").to_string();
                out.push(EventData::Init {
                    model: self.model.clone(),
                    agent_version: self.agent_version.clone(),
                    session_id: str_at(&v, "session_id").to_string(),
                    tools: Vec::new(),
                    cwd: self.cwd.clone(),
                });
            }
            "message" => {
                if str_at(&v, "role") == "assistant" {
                    let text = str_at(&v, "content").to_string();
                    if v["delta"].as_bool() == Some(true) {
                        if !text.is_empty() {
                            self.pending.push_str(&text);
                            out.push(EventData::TextDelta { text });
                        }
                    } else {
                        self.flush(&mut out);
                        if !text.is_empty() {
                            self.last_text = text.clone();
                            out.push(EventData::Text { text });
                        }
                    }
                }
            }
            "tool_use" => {
                self.flush(&mut out);
                out.push(EventData::ToolUse {
                    tool_use_id: str_at(&v, "tool_id").to_string(),
                    name: tool_name(str_at(&v, "tool_name")).to_string(),
                    input: v.get("parameters").cloned().unwrap_or(Value::Null),
                });
            }
            "tool_result" => {
                let error = (str_at(&v, "status") == "error").then(|| {
                    match v["error"]["message"].as_str().or(v["error"].as_str()) {
                        Some(m) => m.to_string(),
                        None => "error".to_string(),
                    }
                });
                out.push(EventData::ToolResult {
                    tool_use_id: str_at(&v, "tool_id").to_string(),
                    output: trim_middle(str_at(&v, "output"), MAX_TOOL_OUTPUT),
                    error,
                    duration_ms: None,
                });
            }
            "error" => out.push(EventData::System {
                subtype: match str_at(&v, "severity") {
                    "warning" => "warning",
                    _ => "error",
                }
                .into(),
                detail: Some(str_at(&v, "message").to_string()),
            }),
            "result" => {
                self.flush(&mut out);
                self.turns += 1;
                let stats = &v["stats"];
                let usage = to_usage(stats);
                let model = stats["models"]
                    .as_object()
                    .and_then(|m| m.keys().next().cloned())
                    .unwrap_or_else(|| self.model.clone());
                if usage != Usage::default() {
                    out.push(EventData::Usage {
                        usage: usage.clone(),
                        model,
                    });
                }
                let ok = str_at(&v, "status") == "success";
                let last_text = std::mem::take(&mut self.last_text);
                out.push(EventData::Result {
                    subtype: if ok { "success" } else { "error" }.into(),
                    is_error: !ok,
                    result: if ok {
                        last_text
                    } else {
                        v["error"]["message"]
                            .as_str()
                            .unwrap_or("error")
                            .to_string()
                    },
                    total_cost_usd: 0.0,
                    duration_ms: stats["duration_ms"].as_u64().unwrap_or(0),
                    num_turns: self.turns,
                    usage,
                    diff_stat: Vec::new(),
                    context_window: None,
                });
            }
            "caic_turn_end" => {
                self.flush(&mut out);
                self.turns += 1;
                let interrupted = str_at(&v, "status") == "interrupted";
                self.last_text.clear();
                out.push(EventData::Result {
                    subtype: if interrupted { "interrupted" } else { "error" }.into(),
                    is_error: !interrupted,
                    result: str_at(&v, "message").to_string(),
                    total_cost_usd: 0.0,
                    duration_ms: 0,
                    num_turns: self.turns,
                    usage: Usage::default(),
                    diff_stat: Vec::new(),
                    context_window: None,
                });
            }
            t => out.push(EventData::System {
                subtype: format!("unknown:{t}"),
                detail: None,
            }),
        }
        out
    }
}

impl Parser for GeminiParser {
    fn parse(&mut self, line: &str) -> Vec<EventData> {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            return Vec::new();
        }
        match serde_json::from_str::<Value>(trimmed) {
            Ok(Value::Object(obj)) => self.parse_value(obj, trimmed),
            Ok(_) => vec![bad_line("line is JSON but not an object", trimmed)],
            Err(e) => vec![bad_line(&format!("line is not JSON: {e}"), trimmed)],
        }
    }
}

fn bad_line(message: &str, line: &str) -> EventData {
    EventData::Error {
        message: message.to_string(),
        line: Some(trim_middle(line, MAX_ERROR_LINE)),
    }
}

fn str_at<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// Gemini counts cached tokens inside `input_tokens`; caic counts them apart.
fn to_usage(stats: &Value) -> Usage {
    let n = |k: &str| stats[k].as_u64().unwrap_or(0);
    let cached = n("cached");
    Usage {
        input_tokens: n("input_tokens").saturating_sub(cached),
        output_tokens: n("output_tokens"),
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: cached,
    }
}
