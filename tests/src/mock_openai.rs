//! A scripted mock of the OpenAI Responses API, good enough to drive the real Codex CLI
//! end to end.
//!
//! Wire format (as documented for `POST /v1/responses` with `"stream": true`): server-sent
//! events, each `event: <type>` with a JSON `data` carrying the same `type` and a
//! `sequence_number`: `response.created`, `response.in_progress`, then per output item
//! `response.output_item.added`, its deltas (`response.output_text.delta` /
//! `response.function_call_arguments.delta` / `response.reasoning_summary_text.delta`)
//! and `.done` events, `response.output_item.done`; last `response.completed` whose
//! `response.usage` has `input_tokens` (cached ones counted in
//! `input_tokens_details.cached_tokens`), `output_tokens` and `total_tokens`.
//!
//! Each `POST .../responses` consumes the next scripted [`Reply`]; once the script is
//! exhausted the answer is the text `done`. Anything else is recorded and answered 404
//! with OpenAI's error envelope `{"error":{"message","type","code"}}`.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::sse::Event;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::mock_server::{chunk_even, sse, MockServer, Shared};

/// One scripted model response.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// An assistant message, streamed in pieces.
    Text(String),
    /// A reasoning summary, then a call of Codex's `exec_command` tool with `cmd`.
    Exec {
        /// Reasoning summary shown before the call.
        reasoning: String,
        /// The shell command.
        cmd: String,
    },
    /// A call of Codex's freeform `apply_patch` tool with a patch in Codex's format.
    ApplyPatch(String),
}

/// A tool output Codex sent back to the model (`function_call_output` or
/// `custom_tool_call_output` input item).
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutput {
    /// The call it answers.
    pub call_id: String,
    /// Its text.
    pub output: String,
}

/// A running mock of the Responses API; it stops when dropped.
pub type MockOpenAi = MockServer<Reply>;

impl MockServer<Reply> {
    /// Starts the mock on `0.0.0.0:<random port>` so containers can reach it.
    pub async fn start(replies: Vec<Reply>) -> anyhow::Result<Self> {
        let addr = SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0));
        Self::serve("openai", addr, replies, Duration::ZERO, |shared| {
            Router::new().fallback(handle).with_state(shared)
        })
        .await
    }

    /// Base URL (with `/v1`) for clients in a container started with
    /// `host.docker.internal:host-gateway`.
    pub fn base_url_for_container(&self) -> String {
        format!("{}/v1", self.url_for_container())
    }

    /// caic's `config.toml` pointing the codex harness at this mock with `key`; every
    /// other host the CLI tries goes to the mock as a proxy, which refuses it.
    pub fn caic_config(&self, key: &str) -> String {
        let url = self.base_url_for_container();
        self.harness_config(
            "codex",
            &[("OPENAI_BASE_URL", &url), ("OPENAI_API_KEY", key)],
        )
    }

    /// Base URL (with `/v1`) for clients on this host.
    pub fn base_url(&self) -> String {
        format!("{}/v1", self.url())
    }

    /// Tool outputs Codex sent back, in order, without repeats.
    pub fn tool_outputs(&self) -> Vec<ToolOutput> {
        let mut out: Vec<ToolOutput> = Vec::new();
        for r in self.main_requests() {
            for item in r.body["input"].as_array().into_iter().flatten() {
                let ty = item["type"].as_str().unwrap_or_default();
                if ty != "function_call_output" && ty != "custom_tool_call_output" {
                    continue;
                }
                let o = ToolOutput {
                    call_id: item["call_id"].as_str().unwrap_or_default().to_string(),
                    output: match &item["output"] {
                        Value::String(s) => s.clone(),
                        v => v.to_string(),
                    },
                };
                if !out.contains(&o) {
                    out.push(o);
                }
            }
        }
        out
    }
}

async fn handle(
    State(shared): State<Shared<Reply>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let main = method == Method::POST && uri.path().ends_with("/responses");
    shared.record(&method, &uri, &headers, &body, main, main);
    if !main {
        tracing::warn!(%method, %uri, "mock openai: unknown route");
        return (
            StatusCode::NOT_FOUND,
            Json(
                json!({"error": {"message": format!("mock: no route for {method} {}", uri.path()),
                                  "type": "invalid_request_error", "code": "not_found"}}),
            ),
        )
            .into_response();
    }
    let (reply, n, delay) = shared.next_reply(|| Reply::Text("done".into()));
    let model = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|b| b["model"].as_str().map(str::to_string))
        .unwrap_or_else(|| "gpt-mock".into());
    let events = stream_events(&reply, n, &model)
        .into_iter()
        .enumerate()
        .map(|(i, mut data)| {
            data["sequence_number"] = json!(i);
            let name = data["type"].as_str().unwrap_or_default().to_string();
            Event::default().event(name).data(data.to_string())
        })
        .collect();
    sse(events, delay)
}

/// The SSE `data` objects of one response, in order.
pub fn stream_events(reply: &Reply, n: u64, model: &str) -> Vec<Value> {
    let rid = format!("resp_mock_{n}");
    let shell = |status: &str, output: Value, usage: Value| {
        json!({"id": rid, "object": "response", "model": model, "status": status,
               "output": output, "usage": usage})
    };
    let mut ev = vec![
        json!({"type": "response.created", "response": shell("in_progress", json!([]), Value::Null)}),
        json!({"type": "response.in_progress", "response": shell("in_progress", json!([]), Value::Null)}),
    ];
    let mut items = Vec::new();
    let mut push_item = |ev: &mut Vec<Value>, item: Value, deltas: Vec<Value>| {
        let idx = items.len();
        let mut started = item.clone();
        started["status"] = json!("in_progress");
        if started.get("arguments").is_some() {
            started["arguments"] = json!("");
        }
        if started.get("content").is_some() {
            started["content"] = json!([]);
        }
        ev.push(
            json!({"type": "response.output_item.added", "output_index": idx, "item": started}),
        );
        for mut d in deltas {
            d["output_index"] = json!(idx);
            d["item_id"] = item["id"].clone();
            ev.push(d);
        }
        ev.push(json!({"type": "response.output_item.done", "output_index": idx, "item": item}));
        items.push(item);
    };
    match reply {
        Reply::Text(text) => {
            let id = format!("msg_mock_{n}");
            let part = json!({"type": "output_text", "text": text, "annotations": []});
            let mut deltas = vec![
                json!({"type": "response.content_part.added", "content_index": 0,
                                         "part": {"type": "output_text", "text": "", "annotations": []}}),
            ];
            for piece in chunk_even(text, 3) {
                deltas.push(json!({"type": "response.output_text.delta", "content_index": 0, "delta": piece}));
            }
            deltas.push(
                json!({"type": "response.output_text.done", "content_index": 0, "text": text}),
            );
            deltas.push(
                json!({"type": "response.content_part.done", "content_index": 0, "part": part}),
            );
            push_item(
                &mut ev,
                json!({"type": "message", "id": id, "role": "assistant", "status": "completed",
                       "content": [part]}),
                deltas,
            );
        }
        Reply::Exec { reasoning, cmd } => {
            let rs = json!({"type": "reasoning", "id": format!("rs_mock_{n}"),
                            "summary": [{"type": "summary_text", "text": reasoning}]});
            let mut deltas = vec![
                json!({"type": "response.reasoning_summary_part.added", "summary_index": 0,
                                         "part": {"type": "summary_text", "text": ""}}),
            ];
            for piece in chunk_even(reasoning, 3) {
                deltas.push(json!({"type": "response.reasoning_summary_text.delta", "summary_index": 0, "delta": piece}));
            }
            deltas.push(json!({"type": "response.reasoning_summary_text.done", "summary_index": 0, "text": reasoning}));
            push_item(&mut ev, rs, deltas);
            let args = json!({"cmd": cmd}).to_string();
            let call = json!({"type": "function_call", "id": format!("fc_mock_{n}"),
                              "call_id": format!("call_mock_{n}"), "name": "exec_command",
                              "arguments": args, "status": "completed"});
            let deltas = vec![
                json!({"type": "response.function_call_arguments.delta", "delta": args}),
                json!({"type": "response.function_call_arguments.done", "arguments": args}),
            ];
            push_item(&mut ev, call, deltas);
        }
        Reply::ApplyPatch(patch) => {
            let call = json!({"type": "custom_tool_call", "id": format!("ctc_mock_{n}"),
                              "call_id": format!("call_mock_{n}"), "name": "apply_patch",
                              "input": patch, "status": "completed"});
            push_item(&mut ev, call, Vec::new());
        }
    }
    let usage = json!({"input_tokens": 1200, "input_tokens_details": {"cached_tokens": 200},
                       "output_tokens": 40, "output_tokens_details": {"reasoning_tokens": 8},
                       "total_tokens": 1240});
    ev.push(
        json!({"type": "response.completed", "response": shell("completed", json!(items), usage)}),
    );
    ev
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_reply_streams_pieces_then_completes_with_usage() {
        let ev = stream_events(&Reply::Text("hello there".into()), 1, "m");
        let types: Vec<&str> = ev.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(types[0], "response.created");
        assert_eq!(*types.last().unwrap(), "response.completed");
        let text: String = ev
            .iter()
            .filter(|e| e["type"] == "response.output_text.delta")
            .map(|e| e["delta"].as_str().unwrap())
            .collect();
        assert_eq!(text, "hello there");
        assert_eq!(ev.last().unwrap()["response"]["usage"]["output_tokens"], 40);
    }

    #[tokio::test]
    async fn serves_script_over_http_and_records_tool_outputs() {
        let mock = MockOpenAi::start(vec![Reply::Exec {
            reasoning: "r".into(),
            cmd: "true".into(),
        }])
        .await
        .unwrap();
        let http = reqwest::Client::new();
        let body = json!({"model": "m", "stream": true, "input": [
            {"type": "function_call_output", "call_id": "c1", "output": "ok"}]});
        let sse = http
            .post(format!("{}/responses", mock.base_url()))
            .bearer_auth("sk-secret")
            .json(&body)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(sse.contains("event: response.output_item.done"), "{sse}");
        assert!(sse.contains("exec_command"), "{sse}");
        assert_eq!(mock.remaining(), 0);
        let again = http
            .post(format!("{}/responses", mock.base_url()))
            .json(&body)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(again.contains("\"done\""), "{again}");
        let r = &mock.main_requests()[0];
        assert_eq!(r.header("authorization"), Some("<redacted>"));
        assert_eq!(
            mock.tool_outputs(),
            [ToolOutput {
                call_id: "c1".into(),
                output: "ok".into()
            }]
        );
        let (status, _) = {
            let r = http
                .get(format!("{}/models", mock.base_url()))
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), ())
        };
        assert_eq!(status, 404);
    }
}
