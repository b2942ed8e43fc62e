//! Claude Code stream-json -> caic events.

use super::fields::{note_unknown, note_unknown_kind};
use super::permission::{Requests, Wait};
use super::wire;
use crate::text::{trim_middle, MAX_ERROR_LINE, MAX_TOOL_OUTPUT};
use crate::Parser;
use caic_api::{AskOption, AskQuestion, EventData, TaskState, TodoItem};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::collections::HashSet;

/// Text Claude Code puts in a user message when a turn is interrupted.
const INTERRUPTED_PREFIX: &str = "[Request interrupted by user";

/// `system` subtypes that are progress noise, dropped.
const QUIET_SYSTEM: &[&str] = &[
    "status",
    "hook_started",
    "hook_progress",
    "hook_response",
    "task_progress",
    "task_updated",
    "turn_duration",
    "thinking_tokens",
    "session_state_changed",
    "commands_changed",
    "background_tasks_changed",
    "files_persisted",
    "control_request_progress",
    "memory_recall",
];

/// Top-level line types that carry nothing for the user, dropped.
const QUIET_TYPES: &[&str] = &[
    "keep_alive",
    "tool_progress",
    "rate_limit_event",
    "prompt_suggestion",
    "tool_use_summary",
];

/// Control requests the CLI sends to its client; anything else is caic's own (interrupt,
/// initialize, ...) as logged by the relay.
const CLI_CONTROL_REQUESTS: &[&str] = &[
    "can_use_tool",
    "hook_callback",
    "mcp_message",
    "elicitation",
];

/// Parser for one Claude Code session stream (also used by the `fake` harness).
///
/// Mapping, by line `type`:
/// - `system`: `init` -> `init`; `task_started` / `task_notification` -> `subagentStart` /
///   `subagentEnd`; progress noise (`status`, hooks, ...) dropped; any other subtype ->
///   `system{subtype, detail}`.
/// - `assistant`: one event per content block (`text`, `thinking`, `toolUse`, or `ask` for
///   `AskUserQuestion`, `todo` for `TodoWrite`), then one `usage` per API message id when
///   its counters are non-zero and the message is not a subagent's.
/// - `user`: `tool_result` blocks -> `toolResult`; text and images -> `userInput`;
///   `[Request interrupted by user…]` -> `system{subtype:"interrupted"}`; synthetic, meta
///   and replayed lines dropped.
/// - `stream_event`: text / thinking deltas -> `textDelta` / `thinkingDelta`; `error` ->
///   `system{subtype:"api_error"}`; others dropped.
/// - `result` -> `result`. `caic_diff_stat` (from the relay) -> `diffStat`.
/// - `control_request` from the CLI: tool permission requests (`can_use_tool`) are
///   tracked, not shown: caic allows them through [`Parser::replies`], except
///   `AskUserQuestion` and `ExitPlanMode`, held until the user's input answers them
///   through [`Parser::answer`] (see `permission.rs`); other requests ->
///   `system{subtype:"control_request"}` (and refused). caic's own requests: dropped.
/// - `control_response`: caic's answer with the user's text -> `userInput`; an error
///   answer from the CLI -> `system{subtype:"control_error"}`; others dropped.
/// - other types: `system{subtype:"unknown:<type>"}`.
/// - not JSON, or the wrong shape: one `error` event carrying the line.
#[derive(Debug, Default)]
pub struct ClaudeParser {
    /// API message ids whose usage was already reported (Claude Code repeats the message,
    /// usage included, once per content block).
    usage_seen: HashSet<String>,
    /// Model turns of this process so far: Claude Code reports them per query, caic
    /// shows a running total.
    turns: u64,
    /// The CLI's control requests still open.
    requests: Requests,
}

impl ClaudeParser {
    /// A parser for a new stream.
    pub fn new() -> Self {
        Self::default()
    }

    fn parse_value(&mut self, obj: Map<String, Value>, line: &str) -> Vec<EventData> {
        let Some(ty) = obj.get("type").and_then(Value::as_str).map(str::to_string) else {
            return vec![bad_line("line has no string \"type\" field", line)];
        };
        let kind = match obj.get("subtype").and_then(Value::as_str) {
            Some(sub) if ty == "system" => format!("system/{sub}"),
            _ => ty.clone(),
        };
        note_unknown(&kind, &obj);
        let v = Value::Object(obj);
        let out = match ty.as_str() {
            "system" => self.system(v),
            "assistant" => decode(v).map(|a| self.assistant(a)),
            "user" => decode(v).map(user),
            "result" => decode(v).map(|r: wire::ResultLine| {
                self.turns += r.num_turns.unwrap_or(0);
                self.requests.turn_ended();
                result(r, self.turns)
            }),
            "stream_event" => decode(v).map(stream_event),
            "control_request" => self.control_request(v),
            "control_response" => decode(v).map(|c| self.control_response(c)),
            "control_cancel_request" => decode(v).map(|c: wire::ControlCancel| {
                if let Some(id) = c.request_id {
                    self.requests.closed(&id);
                }
                Vec::new()
            }),
            "caic_diff_stat" => decode::<wire::DiffStat>(v).map(|d| {
                vec![EventData::DiffStat {
                    diff_stat: d.diff_stat,
                }]
            }),
            "auth_status" => Ok(auth_status(&v)),
            "conversation_reset" => Ok(vec![EventData::System {
                subtype: "conversation_reset".into(),
                detail: None,
            }]),
            t if QUIET_TYPES.contains(&t) => Ok(Vec::new()),
            t => {
                note_unknown_kind("line type", t);
                Ok(vec![EventData::System {
                    subtype: format!("unknown:{t}"),
                    detail: None,
                }])
            }
        };
        match out {
            Ok(mut events) => {
                // A block or field of the wrong shape inside an otherwise good line.
                for e in &mut events {
                    if let EventData::Error { line: l @ None, .. } = e {
                        *l = Some(trim_middle(line, MAX_ERROR_LINE));
                    }
                }
                events
            }
            Err(e) => vec![bad_line(&format!("unexpected {kind} line: {e}"), line)],
        }
    }

    fn system(&mut self, v: Value) -> Result<Vec<EventData>, serde_json::Error> {
        let subtype = match v.get("subtype") {
            Some(Value::String(s)) => s.clone(),
            _ => {
                return Err(serde::de::Error::custom(
                    "system line without string subtype",
                ))
            }
        };
        Ok(match subtype.as_str() {
            "init" => {
                let i: wire::Init = decode(v)?;
                vec![EventData::Init {
                    model: i.model,
                    agent_version: i.claude_code_version,
                    session_id: i.session_id,
                    tools: i.tools,
                    cwd: i.cwd,
                }]
            }
            "compact_boundary" => {
                let c: wire::CompactBoundary = decode(v)?;
                let detail = c.compact_metadata.map(|m| {
                    let mut parts = Vec::new();
                    if let Some(t) = m.trigger {
                        parts.push(format!("trigger: {t}"));
                    }
                    if let Some(n) = m.pre_tokens {
                        parts.push(format!("tokens before: {n}"));
                    }
                    if let Some(n) = m.post_tokens {
                        parts.push(format!("tokens after: {n}"));
                    }
                    parts.join(", ")
                });
                vec![EventData::System {
                    subtype,
                    detail: detail.filter(|d| !d.is_empty()),
                }]
            }
            "task_started" => {
                let t: wire::TaskStarted = decode(v)?;
                vec![EventData::SubagentStart {
                    task_id: t.task_id,
                    description: t.description.unwrap_or_default(),
                }]
            }
            "task_notification" => {
                let t: wire::TaskNotification = decode(v)?;
                vec![EventData::SubagentEnd {
                    task_id: t.task_id,
                    status: t.status.unwrap_or_else(|| "completed".into()),
                }]
            }
            s if QUIET_SYSTEM.contains(&s) => Vec::new(),
            _ => vec![EventData::System {
                detail: system_detail(&v),
                subtype,
            }],
        })
    }

    fn assistant(&mut self, a: wire::Assistant) -> Vec<EventData> {
        let mut out = Vec::new();
        for block in a.message.content {
            let ty = block
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            match serde_json::from_value::<wire::Block>(block) {
                Ok(b) => out.extend(assistant_block(b, &ty)),
                Err(e) => out.push(EventData::Error {
                    message: format!("unexpected assistant content block: {e}"),
                    line: None,
                }),
            }
        }
        // A subagent's calls do not fill the main context: only top-level usage counts.
        let subagent = a.parent_tool_use_id.is_some();
        if let Some(u) = a.message.usage.filter(|_| !subagent) {
            let usage = u.to_api();
            let nonzero = usage != caic_api::Usage::default();
            let first = match &a.message.id {
                Some(id) => self.usage_seen.insert(id.clone()),
                None => true,
            };
            if nonzero && first {
                out.push(EventData::Usage {
                    usage,
                    model: a.message.model.unwrap_or_default(),
                });
            }
        }
        out
    }
}

impl Parser for ClaudeParser {
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

    fn replies(&mut self) -> Vec<String> {
        self.requests.auto_replies()
    }

    fn waiting_for_user(&self) -> Option<TaskState> {
        match self.requests.waiting()? {
            Wait::Question => Some(TaskState::Asking),
            Wait::Plan => Some(TaskState::HasPlan),
            Wait::Auto => None,
        }
    }

    fn answer(&mut self, input: &str) -> Option<Vec<String>> {
        self.requests.waiting()?;
        let (mut text, images) = prompt_of_line(input)?;
        if images > 0 {
            // An answer is text only; say so rather than drop the images silently.
            text.push_str(&format!(
                "\n\n(The user also attached {images} image(s), which caic cannot pass \
                 along with an answer.)"
            ));
        }
        self.requests.answer(&text).map(|line| vec![line])
    }

    fn release(&mut self) -> Vec<String> {
        self.requests.release()
    }
}

/// Text and image count of a stdin user line as [`super::encode_prompt`] writes it;
/// `None` for any other line.
fn prompt_of_line(line: &str) -> Option<(String, usize)> {
    let v: Value = serde_json::from_str(line).ok()?;
    if v.get("type").and_then(Value::as_str) != Some("user") {
        return None;
    }
    match v.get("message")?.get("content")? {
        Value::String(s) => Some((s.clone(), 0)),
        Value::Array(blocks) => {
            let mut texts = Vec::new();
            let mut images = 0;
            for b in blocks {
                match b.get("type").and_then(Value::as_str) {
                    Some("text") => texts.push(b.get("text")?.as_str()?.to_string()),
                    Some("image") => images += 1,
                    _ => {}
                }
            }
            Some((texts.join("\n"), images))
        }
        _ => None,
    }
}

fn decode<T: DeserializeOwned>(v: Value) -> Result<T, serde_json::Error> {
    serde_json::from_value(v)
}

fn bad_line(message: &str, line: &str) -> EventData {
    EventData::Error {
        message: message.to_string(),
        line: Some(trim_middle(line, MAX_ERROR_LINE)),
    }
}

/// A human-readable detail for a `system` line caic has no special mapping for.
fn system_detail(v: &Value) -> Option<String> {
    for key in [
        "content", "message", "text", "error", "summary", "reason", "status",
    ] {
        if let Some(s) = v.get(key).and_then(Value::as_str) {
            if !s.is_empty() {
                return Some(trim_middle(s, MAX_TOOL_OUTPUT));
            }
        }
    }
    None
}

fn assistant_block(b: wire::Block, ty: &str) -> Vec<EventData> {
    use wire::Block as B;
    match b {
        B::Text { text } if text.is_empty() => vec![],
        B::Text { text } => vec![EventData::Text { text }],
        B::Thinking { thinking } if thinking.is_empty() => vec![],
        B::Thinking { thinking } => vec![EventData::Thinking { text: thinking }],
        B::ToolUse { id, name, input } | B::ServerToolUse { id, name, input } => {
            vec![tool_use(id, name, input)]
        }
        B::ToolResult {
            tool_use_id,
            content,
            is_error,
        } => vec![tool_result(
            tool_use_id,
            &content,
            is_error.unwrap_or(false),
        )],
        B::RedactedThinking {} | B::Image {} | B::Document {} => vec![],
        B::Unknown => {
            note_unknown_kind("assistant content block", ty);
            vec![]
        }
    }
}

fn tool_use(id: String, name: String, input: Value) -> EventData {
    match name.as_str() {
        "AskUserQuestion" => match serde_json::from_value::<wire::AskInput>(input.clone()) {
            Ok(ask) => {
                return EventData::Ask {
                    tool_use_id: id,
                    questions: ask
                        .questions
                        .into_iter()
                        .map(|q| AskQuestion {
                            question: q.question,
                            header: q.header,
                            options: q
                                .options
                                .into_iter()
                                .map(|o| AskOption {
                                    label: o.label,
                                    description: o.description,
                                })
                                .collect(),
                            multi_select: q.multi_select.unwrap_or(false),
                        })
                        .collect(),
                }
            }
            Err(e) => tracing::debug!("claude: AskUserQuestion input not understood: {e}"),
        },
        "TodoWrite" => match serde_json::from_value::<wire::TodoInput>(input.clone()) {
            Ok(t) => {
                return EventData::Todo {
                    tool_use_id: id,
                    todos: t
                        .todos
                        .into_iter()
                        .map(|t| TodoItem {
                            content: t.content,
                            status: t.status,
                            active_form: t.active_form,
                        })
                        .collect(),
                }
            }
            Err(e) => tracing::debug!("claude: TodoWrite input not understood: {e}"),
        },
        _ => {}
    }
    EventData::ToolUse {
        tool_use_id: id,
        name,
        input,
    }
}

/// The text of a tool result's `content`: a string, or blocks (text kept, others named).
fn tool_result_text(content: &Value) -> String {
    match content {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .map(|b| match b.get("type").and_then(Value::as_str) {
                Some("text") => b
                    .get("text")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                Some(t) => format!("[{t}]"),
                None => b.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        other => other.to_string(),
    }
}

fn tool_result(tool_use_id: String, content: &Value, is_error: bool) -> EventData {
    let text = tool_result_text(content);
    if is_error {
        let text = text.trim();
        let text = text
            .strip_prefix("<tool_use_error>")
            .and_then(|t| t.strip_suffix("</tool_use_error>"))
            .unwrap_or(text)
            .trim();
        let error = if text.is_empty() { "tool failed" } else { text };
        EventData::ToolResult {
            tool_use_id,
            output: String::new(),
            error: Some(trim_middle(error, MAX_TOOL_OUTPUT)),
            duration_ms: None,
        }
    } else {
        EventData::ToolResult {
            tool_use_id,
            output: trim_middle(&text, MAX_TOOL_OUTPUT),
            error: None,
            duration_ms: None,
        }
    }
}

fn user(u: wire::User) -> Vec<EventData> {
    if u.is_synthetic == Some(true) || u.is_meta == Some(true) || u.is_replay == Some(true) {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut texts: Vec<String> = Vec::new();
    let mut images = 0u32;
    match u.message.content {
        Value::String(s) => texts.push(s),
        Value::Array(blocks) => {
            for block in blocks {
                let ty = block
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                match serde_json::from_value::<wire::Block>(block) {
                    Ok(wire::Block::Text { text }) => texts.push(text),
                    Ok(wire::Block::Image {}) => images += 1,
                    Ok(wire::Block::ToolResult {
                        tool_use_id,
                        content,
                        is_error,
                    }) => out.push(tool_result(
                        tool_use_id,
                        &content,
                        is_error.unwrap_or(false),
                    )),
                    Ok(wire::Block::Document {}) => texts.push("[document]".into()),
                    Ok(_) => note_unknown_kind("user content block", &ty),
                    Err(e) => out.push(EventData::Error {
                        message: format!("unexpected user content block: {e}"),
                        line: None,
                    }),
                }
            }
        }
        other => {
            out.push(EventData::Error {
                message: format!("user message content is neither text nor blocks: {other}"),
                line: None,
            });
        }
    }
    let text = texts.join("\n");
    if u.is_compact_summary == Some(true) {
        out.push(EventData::System {
            subtype: "compact_summary".into(),
            detail: Some(trim_middle(&text, MAX_TOOL_OUTPUT)),
        });
    } else if text.starts_with(INTERRUPTED_PREFIX) && images == 0 {
        out.push(EventData::System {
            subtype: "interrupted".into(),
            detail: Some(text),
        });
    } else if !text.is_empty() || images > 0 {
        out.push(EventData::UserInput { text, images });
    }
    out
}

fn result(r: wire::ResultLine, num_turns: u64) -> Vec<EventData> {
    let errors: Vec<String> = r
        .errors
        .unwrap_or_default()
        .into_iter()
        .map(|e| match e {
            Value::String(s) => s,
            other => other.to_string(),
        })
        .collect();
    let duration_ms = r
        .duration_ms
        .and_then(|n| n.as_u64().or_else(|| n.as_f64().map(|f| f.max(0.0) as u64)))
        .unwrap_or(0);
    vec![EventData::Result {
        subtype: r.subtype,
        is_error: r.is_error.unwrap_or(false),
        result: r.result.unwrap_or_else(|| errors.join("\n")),
        total_cost_usd: r.total_cost_usd.unwrap_or(0.0),
        duration_ms,
        num_turns,
        usage: r.usage.unwrap_or_default().to_api(),
        diff_stat: Vec::new(),
        // Every model the turn used reports its window; the main model's is the
        // largest (subagents may run a smaller one).
        context_window: r
            .model_usage
            .as_ref()
            .and_then(Value::as_object)
            .and_then(|m| {
                m.values()
                    .filter_map(|u| u.get("contextWindow").and_then(Value::as_u64))
                    .max()
            })
            .filter(|w| *w > 0),
    }]
}

fn stream_event(s: wire::StreamEvent) -> Vec<EventData> {
    let ev = &s.event;
    match ev.get("type").and_then(Value::as_str) {
        Some("content_block_delta") => {
            let delta = ev.get("delta").unwrap_or(&Value::Null);
            let field = |k: &str| delta.get(k).and_then(Value::as_str).map(str::to_string);
            match delta.get("type").and_then(Value::as_str) {
                Some("text_delta") => field("text")
                    .map(|text| EventData::TextDelta { text })
                    .into_iter()
                    .collect(),
                Some("thinking_delta") => field("thinking")
                    .map(|text| EventData::ThinkingDelta { text })
                    .into_iter()
                    .collect(),
                _ => Vec::new(),
            }
        }
        Some("error") => {
            let detail = ev
                .get("error")
                .and_then(|e| e.get("message"))
                .and_then(Value::as_str)
                .map(str::to_string);
            vec![EventData::System {
                subtype: "api_error".into(),
                detail,
            }]
        }
        _ => Vec::new(),
    }
}

impl ClaudeParser {
    fn control_request(&mut self, v: Value) -> Result<Vec<EventData>, serde_json::Error> {
        let c: wire::ControlRequest = decode(v.clone())?;
        if !CLI_CONTROL_REQUESTS.contains(&c.request.subtype.as_str()) {
            return Ok(Vec::new());
        }
        if let (Some(id), Some(req)) = (c.request_id, v.get("request")) {
            self.requests.opened(id, req);
        }
        if c.request.subtype == "can_use_tool" {
            return Ok(Vec::new());
        }
        let detail = match c.request.tool_name {
            Some(t) => format!("{}: {t}", c.request.subtype),
            None => c.request.subtype,
        };
        Ok(vec![EventData::System {
            subtype: "control_request".into(),
            detail: Some(detail),
        }])
    }

    fn control_response(&mut self, c: wire::ControlResponse) -> Vec<EventData> {
        // caic's answers to the CLI come back through the relay's log.
        let ours = c.caic_answer.is_some()
            || c.response
                .request_id
                .as_deref()
                .is_some_and(|id| self.requests.is_open(id));
        if ours {
            if let Some(id) = &c.response.request_id {
                self.requests.closed(id);
            }
            return match c.caic_answer {
                Some(text) => vec![EventData::UserInput { text, images: 0 }],
                None => Vec::new(),
            };
        }
        if c.response.subtype != "error" {
            return Vec::new();
        }
        vec![EventData::System {
            subtype: "control_error".into(),
            detail: c.response.error,
        }]
    }
}

fn auth_status(v: &Value) -> Vec<EventData> {
    match v.get("error").and_then(Value::as_str) {
        Some(e) if !e.is_empty() => vec![EventData::System {
            subtype: "auth_status".into(),
            detail: Some(e.to_string()),
        }],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use caic_api::Usage;
    use pretty_assertions::assert_eq;

    fn parse(line: &str) -> Vec<EventData> {
        ClaudeParser::new().parse(line)
    }

    #[test]
    fn garbage_is_one_error_with_the_line() {
        let got = parse("not json at all");
        assert_eq!(got.len(), 1);
        match &got[0] {
            EventData::Error { message, line } => {
                assert!(message.starts_with("line is not JSON"), "{message}");
                assert_eq!(line.as_deref(), Some("not json at all"));
            }
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn blank_lines_are_nothing() {
        assert_eq!(parse("   "), vec![]);
    }

    #[test]
    fn wrong_shape_is_an_error_not_a_panic() {
        for line in [
            r#"[1,2]"#,
            r#"{"no_type":1}"#,
            r#"{"type":"assistant","message":"hi"}"#,
            r#"{"type":"system"}"#,
            r#"{"type":"result"}"#,
            r#"{"type":"user","message":{"content":42}}"#,
            r#"{"type":"system","subtype":"init","tools":"Bash"}"#,
        ] {
            let got = parse(line);
            assert!(
                got.iter().any(|e| matches!(e, EventData::Error { .. })),
                "{line}: {got:?}"
            );
        }
    }

    #[test]
    fn usage_once_per_api_message() {
        let mut p = ClaudeParser::new();
        let line = |block: &str| {
            format!(
                r#"{{"type":"assistant","message":{{"id":"msg_1","model":"m","content":[{block}],"usage":{{"input_tokens":3,"output_tokens":1}}}}}}"#
            )
        };
        let a = p.parse(&line(r#"{"type":"thinking","thinking":"hmm"}"#));
        let b = p.parse(&line(r#"{"type":"text","text":"hi"}"#));
        assert_eq!(
            a,
            vec![
                EventData::Thinking { text: "hmm".into() },
                EventData::Usage {
                    usage: Usage {
                        input_tokens: 3,
                        output_tokens: 1,
                        ..Default::default()
                    },
                    model: "m".into()
                }
            ]
        );
        assert_eq!(b, vec![EventData::Text { text: "hi".into() }]);
    }

    #[test]
    fn big_tool_output_is_trimmed() {
        let big = "x".repeat(100_000);
        let line = serde_json::json!({
            "type": "user",
            "message": {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": big}
            ]},
        })
        .to_string();
        match &parse(&line)[..] {
            [EventData::ToolResult { output, .. }] => {
                assert!(output.len() < MAX_TOOL_OUTPUT + 100, "{}", output.len());
                assert!(output.contains("bytes trimmed by caic"));
            }
            e => panic!("{e:?}"),
        }
    }

    fn can_use_tool(id: &str, tool: &str, input: serde_json::Value) -> String {
        serde_json::json!({"type": "control_request", "request_id": id, "request": {
            "subtype": "can_use_tool", "tool_name": tool, "input": input,
            "tool_use_id": "toolu_1", "requires_user_interaction": true}})
        .to_string()
    }

    #[test]
    fn tools_are_allowed_at_once_and_questions_wait_for_the_user() {
        let mut p = ClaudeParser::new();
        // A tool the container may run: allowed once, nothing shown.
        assert_eq!(
            p.parse(&can_use_tool(
                "r1",
                "Bash",
                serde_json::json!({"command": "ls"})
            )),
            vec![]
        );
        let replies = p.replies();
        assert_eq!(replies.len(), 1);
        assert!(
            replies[0].contains(r#""behavior":"allow""#),
            "{}",
            replies[0]
        );
        assert!(p.replies().is_empty());
        assert_eq!(p.waiting_for_user(), None);
        // Our answer comes back through the relay's log and is not shown either.
        assert_eq!(p.parse(&replies[0]), vec![]);

        // A question: held, the task asks, a prompt line becomes the answer.
        let q =
            serde_json::json!({"questions": [{"question": "Which?", "options": [{"label": "A"}]}]});
        p.parse(&can_use_tool("r2", "AskUserQuestion", q));
        assert!(p.replies().is_empty());
        assert_eq!(p.waiting_for_user(), Some(TaskState::Asking));
        assert_eq!(p.answer(&super::super::encode_interrupt()), None);
        let prompt = caic_api::Prompt {
            text: "A".into(),
            images: vec![],
        };
        let answer = p.answer(&super::super::encode_prompt(&prompt)).unwrap();
        assert_eq!(answer.len(), 1);
        assert_eq!(p.waiting_for_user(), None, "the answer is on its way");
        assert_eq!(p.answer(&super::super::encode_prompt(&prompt)), None);
        // Back from the relay: the user's words, in the history.
        assert_eq!(
            p.parse(&answer[0]),
            vec![EventData::UserInput {
                text: "A".into(),
                images: 0
            }]
        );
        assert_eq!(p.answer(&super::super::encode_prompt(&prompt)), None);
    }

    #[test]
    fn a_parser_rebuilt_from_a_log_knows_what_is_still_open() {
        let plan = can_use_tool("p1", "ExitPlanMode", serde_json::json!({"plan": "# Plan"}));
        let bash = can_use_tool("r1", "Bash", serde_json::json!({}));
        // The log: a plan waiting, and a tool request caic had not answered yet.
        let mut p = ClaudeParser::new();
        p.parse(&plan);
        p.parse(&bash);
        assert_eq!(p.waiting_for_user(), Some(TaskState::HasPlan));
        let replies = p.replies();
        assert_eq!(replies.len(), 1, "{replies:?}");
        assert!(replies[0].contains(r#""request_id":"r1""#));
        // Once the answers are in the log, nothing is open.
        let mut p2 = ClaudeParser::new();
        p2.parse(&plan);
        p2.parse(&bash);
        p2.parse(&replies[0]);
        let answer = p
            .answer(&super::super::encode_prompt(&caic_api::Prompt {
                text: "ok".into(),
                images: vec![],
            }))
            .unwrap();
        p2.parse(&answer[0]);
        assert!(p2.replies().is_empty());
        assert_eq!(p2.waiting_for_user(), None);
    }

    #[test]
    fn cancelled_requests_and_ended_turns_wait_no_more() {
        let mut p = ClaudeParser::new();
        let q = serde_json::json!({"questions": []});
        p.parse(&can_use_tool("r1", "AskUserQuestion", q.clone()));
        p.parse(r#"{"type":"control_cancel_request","request_id":"r1"}"#);
        assert_eq!(p.waiting_for_user(), None);
        p.parse(&can_use_tool("r2", "AskUserQuestion", q));
        p.parse(r#"{"type":"result","subtype":"error_during_execution","is_error":true}"#);
        assert_eq!(p.waiting_for_user(), None);
    }

    #[test]
    fn other_cli_requests_are_shown_and_refused() {
        let mut p = ClaudeParser::new();
        let got = p.parse(
            r#"{"type":"control_request","request_id":"h1","request":{"subtype":"hook_callback","callback_id":"c"}}"#,
        );
        assert_eq!(
            got,
            vec![EventData::System {
                subtype: "control_request".into(),
                detail: Some("hook_callback".into())
            }]
        );
        let replies = p.replies();
        assert!(replies[0].contains(r#""subtype":"error""#), "{replies:?}");
    }

    #[test]
    fn stdin_prompt_round_trips_to_user_input() {
        let prompt = caic_api::Prompt {
            text: "hello".into(),
            images: vec![caic_api::ImageData {
                media_type: "image/png".into(),
                data: "AAAA".into(),
            }],
        };
        let line = super::super::encode_prompt(&prompt);
        assert_eq!(
            parse(&line),
            vec![EventData::UserInput {
                text: "hello".into(),
                images: 1
            }]
        );
        assert_eq!(parse(&super::super::encode_interrupt()), vec![]);
    }
}
