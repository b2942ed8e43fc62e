//! Gemini CLI stream-json lines (through caic's runner) and caic's input lines -> caic
//! events.

use super::prices;
use crate::prices::round_usd;
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
/// - caic's `prompt` -> `userInput` (with its image count); `interrupt` -> nothing.
/// - `caic_runner` (the runner's first line) -> nothing; it carries the CLI version and
///   the working directory used by the next `init`s.
/// - `init` -> `init` (one per turn: each turn is a process; the session id stays).
/// - `message`: the user's echo is dropped (caic's own line already gave `userInput`);
///   assistant pieces (`delta: true`) -> `textDelta`, gathered into one `text` before the
///   next tool call or the result; a whole assistant message -> `text`.
/// - `tool_use` / `tool_result` -> `toolUse` / `toolResult`, tool names mapped by
///   [`tool_name`].
/// - `error` -> `system{subtype:"error"|"warning"}`.
/// - `result` -> `usage` (the turn's tokens, thinking counted as output, under the model
///   that read the most), `system{subtype:"cost_estimated"}` then `result`, whose
///   `totalCostUsd` is estimated by caic from each model's tokens and the price table
///   (Gemini reports no cost) and adds up over the turns of this stream, like the other
///   harnesses' per-process cost; `caic_turn_end` (a turn whose process died without a
///   result) -> an error or interrupted `result`.
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
    /// Estimated cost of this stream so far, USD.
    cost: f64,
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
                images: v["images"]
                    .as_array()
                    .map_or(0, |a| u32::try_from(a.len()).unwrap_or(u32::MAX)),
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
                let models = self.per_model(stats);
                let usage = models.iter().fold(Usage::default(), |mut sum, (_, u)| {
                    sum.input_tokens += u.input_tokens;
                    sum.output_tokens += u.output_tokens;
                    sum.cache_read_input_tokens += u.cache_read_input_tokens;
                    sum
                });
                if usage != Usage::default() {
                    let model = models
                        .iter()
                        .max_by_key(|(_, u)| u.input_tokens + u.cache_read_input_tokens)
                        .map(|(m, _)| m.clone())
                        .unwrap_or_else(|| self.model.clone());
                    out.push(EventData::Usage {
                        usage: usage.clone(),
                        model,
                    });
                    let requests = 1 + stats["tool_calls"].as_u64().unwrap_or(0);
                    out.push(self.estimate(&models, requests));
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
                    total_cost_usd: round_usd(self.cost),
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
                    total_cost_usd: round_usd(self.cost),
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

impl GeminiParser {
    /// Each model's tokens in a turn's `stats` (the whole turn under the session's model
    /// when it lists none); models that spent nothing are left out.
    fn per_model(&self, stats: &Value) -> Vec<(String, Usage)> {
        match stats["models"].as_object() {
            Some(models) if !models.is_empty() => models
                .iter()
                .map(|(m, s)| (m.clone(), to_usage(s)))
                .filter(|(_, u)| *u != Usage::default())
                .collect(),
            _ => vec![(self.model.clone(), to_usage(stats))],
        }
    }

    /// Adds a turn's estimated cost to the stream's and says how it was computed.
    ///
    /// Long-prompt rates apply per request, but a turn's stats only sum its requests: the
    /// prompt size of one is taken as the model's prompt tokens over `requests` (one
    /// request, plus at most one per tool call).
    fn estimate(&mut self, models: &[(String, Usage)], requests: u64) -> EventData {
        let mut turn = 0.0;
        let mut parts = Vec::new();
        for (model, usage) in models {
            let (price, entry) = prices::table().price(model);
            let prompt = (usage.input_tokens + usage.cache_read_input_tokens).div_ceil(requests);
            let rates = price.rates(prompt);
            turn += rates.cost(usage);
            let which = match entry {
                Some(e) if e == model => String::new(),
                Some(e) => format!(" (priced as {e})"),
                None => " (not in caic's table: default price)".to_string(),
            };
            let long = match price.long_context {
                Some(l) if prompt > l.above_prompt_tokens => {
                    format!(", long-prompt rates applied (~{prompt} prompt tokens per request)")
                }
                _ => String::new(),
            };
            let name = if model.is_empty() {
                "an unnamed model"
            } else {
                model
            };
            parts.push(format!("{name}{which}: {}{long}", price.describe()));
        }
        self.cost += turn;
        EventData::System {
            subtype: "cost_estimated".into(),
            detail: Some(format!(
                "cost estimated by caic from tokens, USD per million tokens: {}; this turn \
                 ${turn:.6}, this session so far ${:.6}",
                parts.join("; "),
                self.cost
            )),
        }
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

/// Tokens of a `stats` object (a turn's, or one model's share of it). Gemini counts
/// cached tokens inside `input_tokens`, and thinking tokens only in `total_tokens`; caic
/// counts cached tokens apart and thinking as output (Google bills it as output).
fn to_usage(stats: &Value) -> Usage {
    let n = |k: &str| stats[k].as_u64().unwrap_or(0);
    let prompt = n("input_tokens");
    let cached = n("cached").min(prompt);
    Usage {
        input_tokens: prompt - cached,
        output_tokens: n("output_tokens").max(n("total_tokens").saturating_sub(prompt)),
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: cached,
    }
}
