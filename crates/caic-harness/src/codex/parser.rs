//! `codex app-server` JSON-RPC lines (as copied by the bridge) and caic's own input lines
//! -> caic events.

use super::prices;
use crate::text::{trim_middle, MAX_ERROR_LINE, MAX_TOOL_OUTPUT};
use crate::Parser;
use caic_api::{EventData, TodoItem, Usage};
use serde_json::{json, Map, Value};

/// Notifications that carry nothing for the user, dropped.
const QUIET: &[&str] = &[
    "thread/started",
    "thread/status/changed",
    "thread/settings/updated",
    "thread/readState/changed",
    "thread/name/updated",
    "thread/compacted",
    "turn/diff/updated",
    "account/rateLimits/updated",
    "account/updated",
    "remoteControl/status/changed",
    "serverRequest/resolved",
    "skills/changed",
    "mcpServer/startupStatus/updated",
    "item/plan/delta",
    "item/reasoning/summaryPartAdded",
    "item/commandExecution/outputDelta",
    "item/commandExecution/terminalInteraction",
    "item/fileChange/outputDelta",
    "item/fileChange/patchUpdated",
    "item/mcpToolCall/progress",
    "hook/started",
    "hook/completed",
];

/// Parser for one `codex app-server` session stream, through caic's bridge.
///
/// Mapping:
/// - caic's input `turn/start` -> `userInput`; `turn/interrupt` -> nothing.
/// - the bridge's `thread/start` / `thread/resume` response -> `init` (thread id = session
///   id); a failed resume -> `system{subtype:"resume_failed"}`; a refused `turn/start` ->
///   an error `result` (no turn will run).
/// - `item/started`: `commandExecution` -> `toolUse` `Bash`; `fileChange` -> `Write` (a
///   new file) or `Edit`; `mcpToolCall` -> `mcp__<server>__<tool>`; `dynamicToolCall` ->
///   its tool name; `webSearch` -> `WebSearch`; `imageView` -> `Read`;
///   `collabAgentToolCall` -> `subagentStart`.
/// - `item/completed`: `agentMessage` / `plan` -> `text`; `reasoning` -> `thinking`; tool
///   items -> `toolResult`; `contextCompaction` -> `system{subtype:"compact_boundary"}`;
///   `collabAgentToolCall` -> `subagentEnd`.
/// - deltas: agent message -> `textDelta`; reasoning summary/text -> `thinkingDelta`.
/// - `turn/plan/updated` -> `todo`; `thread/tokenUsage/updated` -> `usage` (the last call,
///   only for the running turn);
///   `turn/completed` -> `system{subtype:"cost_estimated"}` then `result`, whose
///   `totalCostUsd` is estimated from tokens and the price table (Codex reports no cost).
/// - `error` -> `system{subtype:"api_retry"|"api_error"}`; `model/rerouted` ->
///   `system{subtype:"model_rerouted"}`; warnings -> `system{subtype:"warning"}`.
/// - requests from Codex (answered by the bridge) -> `system{subtype:"server_request"}`.
/// - progress noise and unknown notifications are dropped (logged at debug level).
/// - not JSON, or not an object: one `error` event carrying the line.
#[derive(Debug, Default)]
pub struct CodexParser {
    /// Model of the thread, for usage events and cost.
    model: String,
    /// Tokens of the running turn.
    turn_usage: Usage,
    /// Tokens of this process so far (the segment).
    session_usage: Usage,
    /// Estimated cost of this process so far, USD.
    cost: f64,
    /// Model calls of this process so far.
    calls: u64,
    /// The last agent message of the running turn.
    last_text: String,
    /// Id of the running turn: token counts of other turns (a resumed thread restates
    /// its last one) are not this process's spending.
    turn_id: Option<String>,
}

impl CodexParser {
    /// A parser for a new stream.
    pub fn new() -> Self {
        Self::default()
    }

    fn parse_value(&mut self, obj: Map<String, Value>) -> Vec<EventData> {
        let method = obj.get("method").and_then(Value::as_str);
        let params = obj.get("params").cloned().unwrap_or(Value::Null);
        match (method, obj.get("id")) {
            // A response to one of the bridge's requests.
            (None, Some(id)) => self.response(id.as_str().unwrap_or_default(), &obj),
            // caic's own input lines (no id: the bridge adds it).
            (Some("turn/start"), None) => user_input(&params),
            (Some("turn/interrupt"), None) => Vec::new(),
            // A request from Codex to its client, answered by the bridge.
            (Some(m), Some(_)) => vec![EventData::System {
                subtype: "server_request".into(),
                detail: Some(m.to_string()),
            }],
            (Some(m), None) => self.notification(m, &params),
            (None, None) => vec![bad_line(
                "line has neither \"method\" nor \"id\"",
                &Value::Object(obj).to_string(),
            )],
        }
    }

    fn response(&mut self, id: &str, obj: &Map<String, Value>) -> Vec<EventData> {
        let method = id
            .strip_prefix("caic-")
            .and_then(|s| s.rsplit_once('-'))
            .map(|(m, _)| m)
            .unwrap_or("");
        if let Some(err) = obj.get("error") {
            let message = str_at(err, "message").to_string();
            return match method {
                "thread/resume" => vec![EventData::System {
                    subtype: "resume_failed".into(),
                    detail: Some(message),
                }],
                "turn/start" => vec![EventData::Result {
                    subtype: "error".into(),
                    is_error: true,
                    result: message,
                    total_cost_usd: self.cost,
                    duration_ms: 0,
                    num_turns: self.calls,
                    usage: Usage::default(),
                    diff_stat: Vec::new(),
                    context_window: None,
                }],
                _ => vec![EventData::System {
                    subtype: "api_error".into(),
                    detail: Some(format!("{method}: {message}")),
                }],
            };
        }
        let result = obj.get("result").cloned().unwrap_or(Value::Null);
        match method {
            "thread/start" | "thread/resume" => {
                let thread = &result["thread"];
                self.model = str_at(&result, "model").to_string();
                vec![EventData::Init {
                    model: self.model.clone(),
                    agent_version: str_at(thread, "cliVersion").to_string(),
                    session_id: str_at(thread, "id").to_string(),
                    tools: Vec::new(),
                    cwd: match str_at(&result, "cwd") {
                        "" => str_at(thread, "cwd").to_string(),
                        c => c.to_string(),
                    },
                }]
            }
            _ => Vec::new(),
        }
    }

    fn notification(&mut self, method: &str, p: &Value) -> Vec<EventData> {
        match method {
            "item/started" => item_started(&p["item"]),
            "item/completed" => self.item_completed(&p["item"]),
            "item/agentMessage/delta" => delta(p, false),
            "item/reasoning/summaryTextDelta" | "item/reasoning/textDelta" => delta(p, true),
            "turn/plan/updated" => plan(p),
            "turn/started" => {
                self.turn_id = Some(str_at(&p["turn"], "id").to_string());
                Vec::new()
            }
            "thread/tokenUsage/updated" => self.token_usage(p),
            "turn/completed" => self.turn_completed(p),
            "error" => {
                let retry = p["willRetry"].as_bool().unwrap_or(false);
                let err = &p["error"];
                let mut detail = str_at(err, "message").to_string();
                if let Some(more) = err["additionalDetails"].as_str() {
                    detail = format!("{detail}: {more}");
                }
                vec![EventData::System {
                    subtype: if retry { "api_retry" } else { "api_error" }.into(),
                    detail: Some(detail),
                }]
            }
            "model/rerouted" => {
                self.model = str_at(p, "toModel").to_string();
                vec![EventData::System {
                    subtype: "model_rerouted".into(),
                    detail: Some(format!(
                        "{} → {} ({})",
                        str_at(p, "fromModel"),
                        str_at(p, "toModel"),
                        str_at(p, "reason")
                    )),
                }]
            }
            "warning" | "configWarning" | "deprecationNotice" | "guardianWarning" => {
                let msg = ["message", "summary"]
                    .iter()
                    .map(|k| str_at(p, k))
                    .find(|s| !s.is_empty())
                    .unwrap_or_default();
                vec![EventData::System {
                    subtype: "warning".into(),
                    detail: Some(msg.to_string()),
                }]
            }
            // The bridge's own complaints.
            "caic/error" => vec![EventData::Error {
                message: str_at(p, "message").to_string(),
                line: None,
            }],
            m if QUIET.contains(&m) => Vec::new(),
            m => {
                tracing::debug!(method = m, "codex: notification not mapped");
                Vec::new()
            }
        }
    }

    fn item_completed(&mut self, item: &Value) -> Vec<EventData> {
        let id = str_at(item, "id").to_string();
        match str_at(item, "type") {
            "agentMessage" => {
                let text = str_at(item, "text").to_string();
                if text.is_empty() {
                    return Vec::new();
                }
                self.last_text = text.clone();
                vec![EventData::Text { text }]
            }
            "plan" => vec![EventData::Text {
                text: str_at(item, "text").to_string(),
            }],
            "reasoning" => {
                let mut parts: Vec<&str> = Vec::new();
                for key in ["summary", "content"] {
                    if let Some(a) = item[key].as_array() {
                        parts.extend(a.iter().filter_map(Value::as_str));
                    }
                }
                let text = parts.join("\n\n");
                if text.is_empty() {
                    Vec::new()
                } else {
                    vec![EventData::Thinking { text }]
                }
            }
            "commandExecution" => {
                let status = str_at(item, "status");
                let output = str_at(item, "aggregatedOutput");
                let exit = item["exitCode"].as_i64();
                let error = match (status, exit) {
                    ("declined", _) => Some("declined".to_string()),
                    (_, Some(c)) if c != 0 => Some(format!("exit code {c}")),
                    ("failed", _) => Some("failed".to_string()),
                    _ => None,
                };
                vec![tool_result(id, output, error, item)]
            }
            "fileChange" => {
                let paths: Vec<String> = changes(item)
                    .map(|c| format!("{} {}", change_kind(c), str_at(c, "path")))
                    .collect();
                let error = match str_at(item, "status") {
                    s @ ("failed" | "declined") => Some(s.to_string()),
                    _ => None,
                };
                vec![tool_result(id, &paths.join("\n"), error, item)]
            }
            "mcpToolCall" => {
                let output = item["result"]["content"]
                    .as_array()
                    .map(|c| {
                        c.iter()
                            .map(|b| match b["text"].as_str() {
                                Some(t) => t.to_string(),
                                None => b.to_string(),
                            })
                            .collect::<Vec<_>>()
                            .join("\n")
                    })
                    .unwrap_or_default();
                let error = item["error"]["message"].as_str().map(str::to_string);
                vec![tool_result(id, &output, error, item)]
            }
            "dynamicToolCall" => {
                let output = item["contentItems"]
                    .as_array()
                    .map(|c| {
                        c.iter()
                            .filter_map(|b| b["text"].as_str())
                            .collect::<Vec<_>>()
                            .join("\n")
                    })
                    .unwrap_or_default();
                let error = (item["success"] == json!(false)).then(|| "failed".to_string());
                vec![tool_result(id, &output, error, item)]
            }
            "webSearch" => {
                let output = match &item["results"] {
                    Value::Null => str_at(item, "query").to_string(),
                    r => r.to_string(),
                };
                vec![tool_result(id, &output, None, item)]
            }
            "imageView" => vec![tool_result(id, str_at(item, "path"), None, item)],
            "collabAgentToolCall" => vec![EventData::SubagentEnd {
                task_id: id,
                status: match str_at(item, "status") {
                    "failed" => "failed",
                    _ => "completed",
                }
                .into(),
            }],
            "contextCompaction" => vec![EventData::System {
                subtype: "compact_boundary".into(),
                detail: Some("codex compacted the conversation".into()),
            }],
            // The user's own message is caic's `turn/start` line, already shown.
            _ => Vec::new(),
        }
    }

    fn token_usage(&mut self, p: &Value) -> Vec<EventData> {
        if self.turn_id.as_deref() != Some(str_at(p, "turnId")) {
            return Vec::new();
        }
        let last = &p["tokenUsage"]["last"];
        let usage = to_usage(last);
        if usage == Usage::default() {
            return Vec::new();
        }
        self.calls += 1;
        add(&mut self.turn_usage, &usage);
        add(&mut self.session_usage, &usage);
        self.cost += prices::estimate(&self.model, &usage);
        vec![EventData::Usage {
            usage,
            model: self.model.clone(),
        }]
    }

    fn turn_completed(&mut self, p: &Value) -> Vec<EventData> {
        let turn = &p["turn"];
        self.turn_id = None;
        let status = str_at(turn, "status");
        let error = turn["error"]["message"].as_str().map(str::to_string);
        let (subtype, is_error) = match status {
            "completed" => ("success", false),
            "interrupted" => ("interrupted", false),
            _ => ("error", true),
        };
        let last_text = std::mem::take(&mut self.last_text);
        let result = match (&error, is_error) {
            (Some(e), true) => e.clone(),
            _ => last_text,
        };
        let (price, listed) = prices::price(&self.model);
        let which = if listed {
            format!("{}'s price", self.model)
        } else {
            format!(
                "the default price ({:?} is not in caic's table)",
                self.model
            )
        };
        let detail = format!(
            "cost estimated by caic from tokens at {which}, USD per million tokens: input {}, \
             cached input {}, output {}; this session so far ${:.6}",
            price.input, price.cached_input, price.output, self.cost
        );
        vec![
            EventData::System {
                subtype: "cost_estimated".into(),
                detail: Some(detail),
            },
            EventData::Result {
                subtype: subtype.into(),
                is_error,
                result,
                total_cost_usd: self.cost,
                duration_ms: turn["durationMs"].as_u64().unwrap_or(0),
                num_turns: self.calls,
                usage: std::mem::take(&mut self.turn_usage),
                diff_stat: Vec::new(),
                context_window: None,
            },
        ]
    }
}

impl Parser for CodexParser {
    fn parse(&mut self, line: &str) -> Vec<EventData> {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            return Vec::new();
        }
        match serde_json::from_str::<Value>(trimmed) {
            Ok(Value::Object(obj)) => self.parse_value(obj),
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

/// The string at `v[key]`, or "".
fn str_at<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn user_input(params: &Value) -> Vec<EventData> {
    let mut texts = Vec::new();
    let mut images = 0u32;
    for part in params["input"].as_array().into_iter().flatten() {
        match str_at(part, "type") {
            "text" => texts.push(str_at(part, "text")),
            "image" | "localImage" => images += 1,
            _ => {}
        }
    }
    vec![EventData::UserInput {
        text: texts.join("\n"),
        images,
    }]
}

fn delta(p: &Value, thinking: bool) -> Vec<EventData> {
    let text = str_at(p, "delta").to_string();
    if text.is_empty() {
        return Vec::new();
    }
    vec![if thinking {
        EventData::ThinkingDelta { text }
    } else {
        EventData::TextDelta { text }
    }]
}

fn plan(p: &Value) -> Vec<EventData> {
    let todos = p["plan"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| TodoItem {
            content: str_at(s, "step").to_string(),
            status: match str_at(s, "status") {
                "inProgress" => "in_progress",
                "completed" => "completed",
                _ => "pending",
            }
            .to_string(),
            active_form: None,
        })
        .collect();
    vec![EventData::Todo {
        tool_use_id: format!("plan-{}", str_at(p, "turnId")),
        todos,
    }]
}

fn changes(item: &Value) -> impl Iterator<Item = &Value> {
    item["changes"].as_array().into_iter().flatten()
}

fn change_kind(c: &Value) -> &str {
    match &c["kind"] {
        Value::String(s) => s,
        k => str_at(k, "type"),
    }
}

fn item_started(item: &Value) -> Vec<EventData> {
    let id = str_at(item, "id").to_string();
    let (name, input) = match str_at(item, "type") {
        "commandExecution" => {
            // The command as the model wrote it, without Codex's `bash -lc` wrapper.
            let actions = item["commandActions"].as_array();
            let command = match actions.map(Vec::as_slice) {
                Some([one]) if !str_at(one, "command").is_empty() => str_at(one, "command"),
                _ => str_at(item, "command"),
            };
            (
                "Bash".to_string(),
                json!({"command": command, "cwd": str_at(item, "cwd")}),
            )
        }
        "fileChange" => {
            let all: Vec<&Value> = changes(item).collect();
            let adds_only = !all.is_empty() && all.iter().all(|c| change_kind(c) == "add");
            let name = if adds_only { "Write" } else { "Edit" };
            let input = match all.as_slice() {
                [one] if adds_only => {
                    json!({"file_path": str_at(one, "path"), "content": str_at(one, "diff")})
                }
                [one] => json!({"file_path": str_at(one, "path"), "diff": str_at(one, "diff")}),
                many => json!({"changes": many}),
            };
            (name.to_string(), input)
        }
        "mcpToolCall" => (
            format!("mcp__{}__{}", str_at(item, "server"), str_at(item, "tool")),
            item["arguments"].clone(),
        ),
        "dynamicToolCall" => (str_at(item, "tool").to_string(), item["arguments"].clone()),
        "webSearch" => (
            "WebSearch".to_string(),
            json!({"query": str_at(item, "query")}),
        ),
        "imageView" => (
            "Read".to_string(),
            json!({"file_path": str_at(item, "path")}),
        ),
        "collabAgentToolCall" => {
            return vec![EventData::SubagentStart {
                task_id: id,
                description: match str_at(item, "prompt") {
                    "" => str_at(item, "tool").to_string(),
                    p => p.to_string(),
                },
            }]
        }
        _ => return Vec::new(),
    };
    vec![EventData::ToolUse {
        tool_use_id: id,
        name,
        input,
    }]
}

fn tool_result(id: String, output: &str, error: Option<String>, item: &Value) -> EventData {
    EventData::ToolResult {
        tool_use_id: id,
        output: trim_middle(output, MAX_TOOL_OUTPUT),
        error,
        duration_ms: item["durationMs"].as_u64(),
    }
}

/// OpenAI counts cached tokens inside `inputTokens`; caic counts them apart.
fn to_usage(b: &Value) -> Usage {
    let n = |k: &str| b[k].as_u64().unwrap_or(0);
    let cached = n("cachedInputTokens");
    Usage {
        input_tokens: n("inputTokens").saturating_sub(cached),
        output_tokens: n("outputTokens"),
        cache_creation_input_tokens: n("cacheWriteInputTokens"),
        cache_read_input_tokens: cached,
    }
}

fn add(to: &mut Usage, u: &Usage) {
    to.input_tokens += u.input_tokens;
    to.output_tokens += u.output_tokens;
    to.cache_creation_input_tokens += u.cache_creation_input_tokens;
    to.cache_read_input_tokens += u.cache_read_input_tokens;
}
