//! A scripted mock of the Anthropic Messages API, good enough to drive the real
//! Claude Code CLI end to end.
//!
//! Wire format (as documented for the Messages API):
//! - `POST /v1/messages` with `"stream": true` answers server-sent events
//!   `message_start`, `content_block_start`, `ping`, `content_block_delta`
//!   (`text_delta`, `thinking_delta` + `signature_delta`, `input_json_delta`),
//!   `content_block_stop`, `message_delta` (stop_reason, usage), `message_stop`.
//! - Without `stream` it answers one `Message` JSON object.
//! - `POST /v1/messages/count_tokens` answers `{"input_tokens": N}`.
//! - `GET /v1/models` answers a small model list.
//! - Anything else (including `CONNECT` from a client that uses the mock as its
//!   HTTPS proxy) is recorded, logged, and refused with Anthropic's error envelope
//!   `{"type":"error","error":{"type","message"}}`.
//!
//! Requests that carry `tools` are the "main" conversation: each one consumes the
//! next scripted [`Reply`]; when the script is exhausted the answer is the text
//! `done`. Other requests (title or summary generation, quota probes) get a short
//! canned text and leave the script alone.
//!
//! In plan mode Claude Code tells the model where to write its plan (a random name
//! under `~/.claude/plans/`); [`PLAN_FILE`] in a scripted tool input stands for that path.

use parking_lot::Mutex;
use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::sse::Event;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::mock_server::{chunk_even, sse, MockServer, Shared};

/// Model name reported when a request does not name one.
const DEFAULT_MODEL: &str = "claude-mock-1";
/// Text of the reply once the script is exhausted.
const DONE_TEXT: &str = "done";
/// Stands for the plan file path the request names, in scripted tool inputs.
pub const PLAN_FILE: &str = "{{plan_file}}";
/// One content block of a scripted assistant reply.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// A `text` block, streamed as `text_delta`s.
    Text(String),
    /// A `thinking` block, streamed as `thinking_delta`s then one `signature_delta`.
    Thinking(String),
    /// A `tool_use` block, streamed as `input_json_delta`s.
    ToolUse {
        /// Tool name as the CLI knows it, e.g. `Bash`.
        name: String,
        /// Tool input object.
        input: Value,
    },
}

/// One scripted assistant reply (one API response).
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// Content blocks in order.
    pub blocks: Vec<Block>,
}

impl Reply {
    /// A reply with a single text block.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            blocks: vec![Block::Text(text.into())],
        }
    }

    /// A reply that calls one tool (stop_reason `tool_use`).
    pub fn tool_use(name: impl Into<String>, input: Value) -> Self {
        Self {
            blocks: vec![Block::ToolUse {
                name: name.into(),
                input,
            }],
        }
    }

    /// A reply with a thinking block followed by a text block.
    pub fn thinking_then_text(thinking: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            blocks: vec![Block::Thinking(thinking.into()), Block::Text(text.into())],
        }
    }

    /// A reply made of arbitrary blocks.
    pub fn blocks(blocks: Vec<Block>) -> Self {
        Self { blocks }
    }

    /// Appends a text block.
    pub fn and_text(mut self, text: impl Into<String>) -> Self {
        self.blocks.push(Block::Text(text.into()));
        self
    }

    /// Appends a tool_use block.
    pub fn and_tool_use(mut self, name: impl Into<String>, input: Value) -> Self {
        self.blocks.push(Block::ToolUse {
            name: name.into(),
            input,
        });
        self
    }

    /// `tool_use` when the reply calls a tool, else `end_turn`.
    pub fn stop_reason(&self) -> &'static str {
        if self
            .blocks
            .iter()
            .any(|b| matches!(b, Block::ToolUse { .. }))
        {
            "tool_use"
        } else {
            "end_turn"
        }
    }
}

/// The replies a test scripts for the main conversation, and how to stream them.
#[derive(Debug, Clone, Default)]
pub struct Script {
    /// Replies consumed in order by main-conversation requests.
    pub replies: Vec<Reply>,
    /// Pause before each streamed event after `message_start` (slow mode).
    pub delta_delay: Duration,
    /// Text answered to side requests (no tools); `"ok"` when empty.
    pub side_text: String,
}

impl Script {
    /// A script of replies, streamed as fast as possible.
    pub fn new(replies: Vec<Reply>) -> Self {
        Self {
            replies,
            ..Self::default()
        }
    }

    /// Slow mode: waits `delay` between streamed events, e.g. to kill the CLI mid-turn.
    pub fn slow(mut self, delay: Duration) -> Self {
        self.delta_delay = delay;
        self
    }
}

/// A `tool_result` block Claude Code sent back to the API.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolResult {
    /// Id of the `tool_use` it answers.
    pub tool_use_id: String,
    /// Text of the result (text parts joined with newlines).
    pub content: String,
    /// The `is_error` flag.
    pub is_error: bool,
}

/// What the handlers share: the mock's state, the side text and the id counters.
#[derive(Clone)]
struct Api {
    shared: Shared<Reply>,
    side_text: Arc<str>,
    ids: Arc<Mutex<Ids>>,
}

/// The last message and tool-use ids handed out.
#[derive(Default)]
struct Ids {
    msg: u64,
    tool: u64,
}

/// A running mock of the Messages API; it stops when dropped.
pub type MockAnthropic = MockServer<Reply>;

impl MockServer<Reply> {
    /// Starts the mock on `0.0.0.0:<random port>` so containers can reach it.
    pub async fn start(script: Script) -> anyhow::Result<Self> {
        Self::start_on(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)), script).await
    }

    /// Starts the mock on a given address (port 0 picks one).
    pub async fn start_on(addr: SocketAddr, script: Script) -> anyhow::Result<Self> {
        let side_text = if script.side_text.is_empty() {
            "ok".to_string()
        } else {
            script.side_text
        };
        Self::serve(
            "anthropic",
            addr,
            script.replies,
            script.delta_delay,
            |shared| {
                Router::new()
                    .route("/v1/messages", post(messages))
                    .route("/v1/messages/count_tokens", post(count_tokens))
                    .route("/v1/models", get(models))
                    .fallback(unknown)
                    .with_state(Api {
                        shared,
                        side_text: side_text.into(),
                        ids: Arc::default(),
                    })
            },
        )
        .await
    }

    /// Base URL for clients on this host: `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.url()
    }

    /// Base URL for clients in a container started with
    /// `host.docker.internal:host-gateway`: `http://host.docker.internal:PORT`.
    pub fn base_url_for_container(&self) -> String {
        self.url_for_container()
    }

    /// caic's `config.toml` pointing the claude harness at this mock with `key`; every
    /// other host the CLI tries goes to the mock as a proxy, which refuses it.
    pub fn caic_config(&self, key: &str) -> String {
        let url = self.base_url_for_container();
        self.harness_config(
            "claude",
            &[("ANTHROPIC_BASE_URL", &url), ("ANTHROPIC_API_KEY", key)],
        )
    }

    /// The distinct `tool_result` blocks the client sent, in first-seen order.
    ///
    /// Each request repeats the whole conversation, so results are deduplicated by
    /// `tool_use_id`.
    pub fn tool_results(&self) -> Vec<ToolResult> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for req in self.requests() {
            for result in tool_results_of(&req.body) {
                if seen.insert(result.tool_use_id.clone()) {
                    out.push(result);
                }
            }
        }
        out
    }
}

/// Extracts the `tool_result` blocks of the user messages of a Messages request body.
pub fn tool_results_of(body: &Value) -> Vec<ToolResult> {
    let Some(messages) = body.get("messages").and_then(Value::as_array) else {
        return Vec::new();
    };
    messages
        .iter()
        .filter(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        .filter_map(|m| m.get("content").and_then(Value::as_array))
        .flatten()
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("tool_result"))
        .map(|b| ToolResult {
            tool_use_id: b
                .get("tool_use_id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            content: content_text(b.get("content").unwrap_or(&Value::Null)),
            is_error: b.get("is_error").and_then(Value::as_bool).unwrap_or(false),
        })
        .collect()
}

fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

fn error_envelope(status: StatusCode, kind: &str, message: String) -> Response {
    (
        status,
        Json(json!({"type": "error", "error": {"type": kind, "message": message}})),
    )
        .into_response()
}

/// Rough token estimate: a quarter of the bytes.
fn estimate_tokens(body: &[u8]) -> u64 {
    (body.len() as u64 / 4).max(1)
}

async fn unknown(
    State(Api { shared, .. }): State<Api>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    tracing::warn!(%method, %uri, "mock anthropic: unknown route");
    shared.record(&method, &uri, &headers, &body, false, false);
    if method == Method::CONNECT {
        return error_envelope(
            StatusCode::FORBIDDEN,
            "permission_error",
            format!("offline test: refused CONNECT {uri}"),
        );
    }
    error_envelope(
        StatusCode::NOT_FOUND,
        "not_found_error",
        format!("mock: no route for {method} {}", uri.path()),
    )
}

async fn count_tokens(
    State(Api { shared, .. }): State<Api>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    shared.record(&Method::POST, &uri, &headers, &body, true, false);
    Json(json!({"input_tokens": estimate_tokens(&body)})).into_response()
}

async fn models(State(Api { shared, .. }): State<Api>, uri: Uri, headers: HeaderMap) -> Response {
    shared.record(&Method::GET, &uri, &headers, &[], true, false);
    let data: Vec<Value> = ["claude-opus-4-1", "claude-sonnet-4-5", "claude-haiku-4-5"]
        .iter()
        .map(|id| json!({"type": "model", "id": id, "display_name": id, "created_at": "2025-01-01T00:00:00Z"}))
        .collect();
    let first = data.first().map(|m| m["id"].clone()).unwrap_or(Value::Null);
    let last = data.last().map(|m| m["id"].clone()).unwrap_or(Value::Null);
    Json(json!({"data": data, "has_more": false, "first_id": first, "last_id": last}))
        .into_response()
}

/// A reply resolved into concrete blocks with ids.
struct Planned {
    msg_id: String,
    model: String,
    input_tokens: u64,
    blocks: Vec<Value>,
    stop_reason: &'static str,
    delay: Duration,
}

async fn messages(State(api): State<Api>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        api.shared
            .record(&Method::POST, &uri, &headers, &body, true, false);
        return error_envelope(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "body is not JSON".into(),
        );
    };
    let main = req
        .get("tools")
        .and_then(Value::as_array)
        .is_some_and(|t| !t.is_empty());
    api.shared
        .record(&Method::POST, &uri, &headers, &body, true, main);
    let stream = req.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let model = req
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or(DEFAULT_MODEL)
        .to_string();
    let (reply, delay) = if main {
        let (reply, _, delay) = api.shared.next_reply(|| Reply::text(DONE_TEXT));
        (reply, delay)
    } else {
        (Reply::text(&*api.side_text), api.shared.delay())
    };
    let planned = {
        let mut ids = api.ids.lock();
        ids.msg += 1;
        let msg_id = format!("msg_mock_{:04}", ids.msg);
        let blocks = reply
            .blocks
            .iter()
            .map(|b| match b {
                Block::Text(t) => json!({"type": "text", "text": t}),
                Block::Thinking(t) => {
                    json!({"type": "thinking", "thinking": t, "signature": mock_signature(t)})
                }
                Block::ToolUse { name, input } => {
                    ids.tool += 1;
                    let id = format!("toolu_mock_{:04}", ids.tool);
                    let input = with_plan_file(input, &body);
                    json!({"type": "tool_use", "id": id, "name": name, "input": input})
                }
            })
            .collect();
        Planned {
            msg_id,
            model,
            input_tokens: estimate_tokens(&body),
            blocks,
            stop_reason: reply.stop_reason(),
            delay,
        }
    };
    if stream {
        sse_response(planned)
    } else {
        Json(json!({
            "id": planned.msg_id,
            "type": "message",
            "role": "assistant",
            "model": planned.model,
            "content": planned.blocks,
            "stop_reason": planned.stop_reason,
            "stop_sequence": null,
            "usage": usage(planned.input_tokens, output_tokens(&planned.blocks)),
        }))
        .into_response()
    }
}

/// The plan file a request names (`.../.claude/plans/<name>.md`), if any.
pub fn plan_file_of(body: &str) -> Option<String> {
    let mid = body.find("/.claude/plans/")?;
    let start = body[..mid]
        .rfind(|c: char| c.is_whitespace() || c == '"' || c == '`' || c == '\'')
        .map_or(0, |i| i + 1);
    let end = mid + body[mid..].find(".md")? + ".md".len();
    Some(body[start..end].to_string())
}

/// `input` with [`PLAN_FILE`] replaced by the plan file `body` names.
fn with_plan_file(input: &Value, body: &[u8]) -> Value {
    let text = input.to_string();
    if !text.contains(PLAN_FILE) {
        return input.clone();
    }
    let body = String::from_utf8_lossy(body);
    match plan_file_of(&body) {
        Some(path) => {
            serde_json::from_str(&text.replace(PLAN_FILE, &path)).unwrap_or_else(|_| input.clone())
        }
        None => {
            tracing::warn!("mock anthropic: the request names no plan file");
            input.clone()
        }
    }
}

fn mock_signature(thinking: &str) -> String {
    format!("mock-signature-{}", thinking.len())
}

fn usage(input_tokens: u64, output_tokens: u64) -> Value {
    json!({
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": output_tokens,
    })
}

fn output_tokens(blocks: &[Value]) -> u64 {
    (blocks
        .iter()
        .map(|b| b.to_string().len() as u64)
        .sum::<u64>()
        / 4)
    .max(1)
}

/// Splits text into chunks of a few words each (whitespace kept), never empty.
fn chunk_words(text: &str, words_per_chunk: usize) -> Vec<String> {
    let mut chunks = Vec::new();
    let mut cur = String::new();
    let mut words = 0;
    for (i, ch) in text.char_indices() {
        cur.push(ch);
        let next_is_word_start = ch.is_whitespace()
            && text[i + ch.len_utf8()..]
                .chars()
                .next()
                .is_some_and(|c| !c.is_whitespace());
        if next_is_word_start {
            words += 1;
            if words == words_per_chunk {
                chunks.push(std::mem::take(&mut cur));
                words = 0;
            }
        }
    }
    if !cur.is_empty() || chunks.is_empty() {
        chunks.push(cur);
    }
    chunks
}

/// The SSE events (name, data) of one streamed message.
fn stream_events(p: &Planned) -> Vec<(&'static str, Value)> {
    let mut ev = vec![(
        "message_start",
        json!({"type": "message_start", "message": {
            "id": p.msg_id, "type": "message", "role": "assistant", "model": p.model,
            "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": usage(p.input_tokens, 1),
        }}),
    )];
    for (index, block) in p.blocks.iter().enumerate() {
        let delta = |d: Value| {
            (
                "content_block_delta",
                json!({"type": "content_block_delta", "index": index, "delta": d}),
            )
        };
        match block["type"].as_str() {
            Some("text") => {
                ev.push(("content_block_start", json!({"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}})));
                if index == 0 {
                    ev.push(("ping", json!({"type": "ping"})));
                }
                for c in chunk_words(block["text"].as_str().unwrap_or_default(), 3) {
                    ev.push(delta(json!({"type": "text_delta", "text": c})));
                }
            }
            Some("thinking") => {
                ev.push(("content_block_start", json!({"type": "content_block_start", "index": index, "content_block": {"type": "thinking", "thinking": "", "signature": ""}})));
                if index == 0 {
                    ev.push(("ping", json!({"type": "ping"})));
                }
                for c in chunk_words(block["thinking"].as_str().unwrap_or_default(), 3) {
                    ev.push(delta(json!({"type": "thinking_delta", "thinking": c})));
                }
                ev.push(delta(
                    json!({"type": "signature_delta", "signature": block["signature"]}),
                ));
            }
            _ => {
                ev.push(("content_block_start", json!({"type": "content_block_start", "index": index, "content_block": {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}})));
                if index == 0 {
                    ev.push(("ping", json!({"type": "ping"})));
                }
                for c in chunk_even(&block["input"].to_string(), 3) {
                    ev.push(delta(
                        json!({"type": "input_json_delta", "partial_json": c}),
                    ));
                }
            }
        }
        ev.push((
            "content_block_stop",
            json!({"type": "content_block_stop", "index": index}),
        ));
    }
    ev.push((
        "message_delta",
        json!({"type": "message_delta", "delta": {"stop_reason": p.stop_reason, "stop_sequence": null},
               "usage": {"output_tokens": output_tokens(&p.blocks)}}),
    ));
    ev.push(("message_stop", json!({"type": "message_stop"})));
    ev
}

fn sse_response(p: Planned) -> Response {
    let events = stream_events(&p)
        .into_iter()
        .map(|(name, data)| Event::default().event(name).data(data.to_string()))
        .collect();
    sse(events, p.delay)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn chunk_words_keeps_all_text() {
        let text = "one two  three four five";
        let chunks = chunk_words(text, 2);
        assert_eq!(chunks.concat(), text);
        assert_eq!(chunks, vec!["one two  ", "three four ", "five"]);
        assert_eq!(chunk_words("", 3), vec![String::new()]);
    }

    /// Posts to the mock over real HTTP and reassembles the SSE stream.
    #[tokio::test]
    async fn streams_script_then_done_and_records() {
        let script = Script::new(vec![
            Reply::thinking_then_text("let me see", "hello there world"),
            Reply::tool_use("Bash", json!({"command": "true"})),
        ]);
        let mock = MockAnthropic::start(script).await.unwrap();
        let main_body =
            json!({"model": "m1", "stream": true, "tools": [{"name": "Bash"}], "messages": []});
        let sse1 = raw_post(mock.port(), "/v1/messages?beta=true", &main_body).await;
        assert!(sse1.contains("event: message_start"), "{sse1}");
        assert!(sse1.contains("\"thinking_delta\""));
        assert!(sse1.contains("\"signature_delta\""));
        assert!(sse1.contains("event: ping"));
        let text: String = sse_deltas(&sse1, "text_delta", "text");
        assert_eq!(text, "hello there world");
        assert!(sse1.contains("\"stop_reason\":\"end_turn\""));

        // A side request (no tools) does not consume the script.
        let side = raw_post(
            mock.port(),
            "/v1/messages",
            &json!({"model": "small", "messages": []}),
        )
        .await;
        assert!(side.contains("\"text\":\"ok\""), "{side}");

        let sse2 = raw_post(mock.port(), "/v1/messages", &main_body).await;
        let input: String = sse_deltas(&sse2, "input_json_delta", "partial_json");
        assert_eq!(
            serde_json::from_str::<Value>(&input).unwrap(),
            json!({"command": "true"})
        );
        assert!(sse2.contains("\"stop_reason\":\"tool_use\""));
        assert!(sse2.contains("toolu_mock_0001"));

        let sse3 = raw_post(mock.port(), "/v1/messages", &main_body).await;
        assert_eq!(sse_deltas(&sse3, "text_delta", "text"), "done");

        let tokens = raw_post(
            mock.port(),
            "/v1/messages/count_tokens",
            &json!({"messages": []}),
        )
        .await;
        assert!(tokens.contains("input_tokens"));
        let missing = raw_post(mock.port(), "/v1/nope", &json!({})).await;
        assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
        assert!(missing.contains("not_found_error"));

        assert_eq!(mock.main_requests().len(), 3);
        assert_eq!(mock.unknown_requests().len(), 1);
        assert_eq!(mock.requests().len(), 6);
        assert_eq!(mock.requests()[0].path, "/v1/messages?beta=true");
        assert_eq!(mock.requests()[0].header("x-api-key"), Some("<redacted>"));
    }

    #[tokio::test]
    async fn slow_mode_spaces_events() {
        let mock = MockAnthropic::start(
            Script::new(vec![Reply::text("a b c")]).slow(Duration::from_millis(40)),
        )
        .await
        .unwrap();
        let body =
            json!({"model": "m", "stream": true, "tools": [{"name": "Bash"}], "messages": []});
        let start = Instant::now();
        let sse = raw_post(mock.port(), "/v1/messages", &body).await;
        let events = sse.lines().filter(|l| l.starts_with("event: ")).count();
        // message_start, block start, ping, 1 delta, block stop, message_delta, message_stop.
        assert_eq!(events, 7, "{sse}");
        assert!(
            start.elapsed() >= Duration::from_millis(40 * 6),
            "{:?}",
            start.elapsed()
        );
        mock.set_delay(Duration::ZERO);
        let start = Instant::now();
        raw_post(mock.port(), "/v1/messages", &body).await;
        assert!(
            start.elapsed() < Duration::from_millis(200),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn plan_file_is_found_and_substituted() {
        let body = r#"{"system":"No plan file exists yet. You should create your plan at /home/u/.claude/plans/zesty-pie.md using the Write tool."}"#;
        assert_eq!(
            plan_file_of(body).as_deref(),
            Some("/home/u/.claude/plans/zesty-pie.md")
        );
        let input = json!({"file_path": PLAN_FILE, "content": "# Plan"});
        assert_eq!(
            with_plan_file(&input, body.as_bytes()),
            json!({"file_path": "/home/u/.claude/plans/zesty-pie.md", "content": "# Plan"})
        );
        assert_eq!(with_plan_file(&input, b"{}"), input);
        assert_eq!(plan_file_of("nothing"), None);
    }

    #[test]
    fn tool_results_are_extracted() {
        let body = json!({"messages": [
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Bash", "input": {}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "out"}], "is_error": true},
                {"type": "tool_result", "tool_use_id": "t2", "content": "plain"}
            ]}
        ]});
        let got = tool_results_of(&body);
        assert_eq!(got.len(), 2);
        assert_eq!(
            got[0],
            ToolResult {
                tool_use_id: "t1".into(),
                content: "out".into(),
                is_error: true
            }
        );
        assert_eq!(got[1].content, "plain");
        assert!(!got[1].is_error);
    }

    fn sse_deltas(sse: &str, kind: &str, field: &str) -> String {
        sse.lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .filter_map(|d| serde_json::from_str::<Value>(d).ok())
            .filter(|v| v["delta"]["type"] == kind)
            .map(|v| v["delta"][field].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// Minimal HTTP/1.1 client (connection: close) returning the raw response.
    async fn raw_post(port: u16, path: &str, body: &Value) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let body = body.to_string();
        let req = format!(
            "POST {path} HTTP/1.1\r\nhost: x\r\nx-api-key: sk-ant-test-secret\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.unwrap();
        String::from_utf8_lossy(&out).into_owned()
    }
}
