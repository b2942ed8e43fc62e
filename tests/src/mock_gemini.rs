//! A scripted mock of the Gemini API, good enough to drive the real Gemini CLI end to end.
//!
//! Wire format (as documented for `generativelanguage` v1beta):
//! - `POST /v1beta/models/{model}:streamGenerateContent?alt=sse` answers server-sent
//!   events whose `data` is a `GenerateContentResponse`: `candidates[0].content` (role
//!   `model`, `parts` of `text` or `functionCall{name,args}`), `finishReason` on the last
//!   chunk, and `usageMetadata` ([`USAGE`]: `promptTokenCount`, `candidatesTokenCount`,
//!   `thoughtsTokenCount`, `cachedContentTokenCount`, `totalTokenCount`) on the last
//!   chunk; `modelVersion` is the model named in the path, as the real API answers.
//! - `POST /v1beta/models/{model}:generateContent` (the CLI's side calls: model routing,
//!   checks) answers one `GenerateContentResponse` with a small JSON text; it does not use
//!   the script.
//! - `POST /v1beta/models/{model}:countTokens` answers `{"totalTokens": N}`.
//! - anything else is recorded and answered 404 with Google's error envelope
//!   `{"error":{"code","message","status"}}`.
//!
//! Each streamed request consumes the next scripted [`Reply`]; once the script is
//! exhausted the answer is the text `done`.

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

/// Token counts of every answer (streamed or not), as `usageMetadata` reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnswerUsage {
    /// `promptTokenCount` (cached tokens included).
    pub prompt: u64,
    /// `cachedContentTokenCount`.
    pub cached: u64,
    /// `candidatesTokenCount`.
    pub candidates: u64,
    /// `thoughtsTokenCount`.
    pub thoughts: u64,
}

/// What every answer of the mock says it used.
pub const USAGE: AnswerUsage = AnswerUsage {
    prompt: 1200,
    cached: 200,
    candidates: 40,
    thoughts: 10,
};

/// One scripted model response.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// Model text, streamed in pieces.
    Text(String),
    /// One function call of a Gemini CLI tool (`run_shell_command`, `write_file`, ...).
    Call {
        /// Tool name.
        name: String,
        /// Tool arguments.
        args: Value,
    },
}

/// An image part (`inlineData`) the CLI sent to the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineData {
    /// Its `mimeType`.
    pub mime_type: String,
    /// Its base64 `data`.
    pub data: String,
}

/// A `functionResponse` part the CLI sent back to the model.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionResponse {
    /// The function's name.
    pub name: String,
    /// Its `response` object.
    pub response: Value,
}

/// A running mock of the Gemini API; it stops when dropped.
pub type MockGemini = MockServer<Reply>;

impl MockServer<Reply> {
    /// Starts the mock on `0.0.0.0:<random port>` so containers can reach it.
    pub async fn start(replies: Vec<Reply>) -> anyhow::Result<Self> {
        let addr = SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0));
        Self::serve("gemini", addr, replies, Duration::ZERO, |shared| {
            Router::new().fallback(handle).with_state(shared)
        })
        .await
    }

    /// Base URL (no version path) for clients in a container started with
    /// `host.docker.internal:host-gateway`.
    pub fn base_url_for_container(&self) -> String {
        self.url_for_container()
    }

    /// caic's `config.toml` pointing the gemini harness at this mock with `key`; every
    /// other host the CLI tries goes to the mock as a proxy, which refuses it.
    pub fn caic_config(&self, key: &str) -> String {
        let url = self.base_url_for_container();
        self.harness_config(
            "gemini",
            &[("GOOGLE_GEMINI_BASE_URL", &url), ("GEMINI_API_KEY", key)],
        )
    }

    /// Base URL (no version path) for clients on this host.
    pub fn base_url(&self) -> String {
        self.url()
    }

    /// The model of every answer that reported [`USAGE`] (streamed and side calls), in
    /// order, from the request paths.
    pub fn answered_models(&self) -> Vec<String> {
        self.requests()
            .iter()
            .filter(|r| r.method == "POST")
            .filter_map(|r| {
                let path = r.path.split('?').next().unwrap_or_default();
                let call = path.strip_prefix("/v1beta/models/")?;
                let (model, verb) = call.split_once(':')?;
                matches!(verb, "streamGenerateContent" | "generateContent")
                    .then(|| model.to_string())
            })
            .collect()
    }

    /// Image parts the CLI sent to the model in user turns, in order, without repeats
    /// (each streamed request carries the whole history).
    pub fn inline_data(&self) -> Vec<InlineData> {
        let mut out: Vec<InlineData> = Vec::new();
        for r in self.main_requests() {
            for c in r.body["contents"].as_array().into_iter().flatten() {
                if c["role"] != "user" {
                    continue;
                }
                for p in c["parts"].as_array().into_iter().flatten() {
                    let Some(d) = p.get("inlineData") else {
                        continue;
                    };
                    let d = InlineData {
                        mime_type: d["mimeType"].as_str().unwrap_or_default().to_string(),
                        data: d["data"].as_str().unwrap_or_default().to_string(),
                    };
                    if !out.contains(&d) {
                        out.push(d);
                    }
                }
            }
        }
        out
    }

    /// Function responses the CLI sent back, in order, without repeats.
    pub fn function_responses(&self) -> Vec<FunctionResponse> {
        let mut out: Vec<FunctionResponse> = Vec::new();
        for r in self.main_requests() {
            for c in r.body["contents"].as_array().into_iter().flatten() {
                for p in c["parts"].as_array().into_iter().flatten() {
                    let Some(fr) = p.get("functionResponse") else {
                        continue;
                    };
                    let f = FunctionResponse {
                        name: fr["name"].as_str().unwrap_or_default().to_string(),
                        response: fr["response"].clone(),
                    };
                    if !out.contains(&f) {
                        out.push(f);
                    }
                }
            }
        }
        out
    }
}

fn response(model: &str, parts: Value, finish: bool, usage: bool) -> Value {
    let mut r = json!({
        "candidates": [{"content": {"role": "model", "parts": parts}, "index": 0}],
        "modelVersion": model,
    });
    if finish {
        r["candidates"][0]["finishReason"] = json!("STOP");
    }
    if usage {
        let u = USAGE;
        r["usageMetadata"] = json!({"promptTokenCount": u.prompt,
            "candidatesTokenCount": u.candidates, "thoughtsTokenCount": u.thoughts,
            "cachedContentTokenCount": u.cached,
            "totalTokenCount": u.prompt + u.candidates + u.thoughts});
    }
    r
}

/// The SSE `data` objects of one streamed answer of `model`, in order.
pub fn stream_chunks(model: &str, reply: &Reply) -> Vec<Value> {
    match reply {
        Reply::Text(text) => {
            let pieces = chunk_even(text, 3);
            let last = pieces.len().saturating_sub(1);
            pieces
                .iter()
                .enumerate()
                .map(|(i, p)| response(model, json!([{"text": p}]), i == last, i == last))
                .collect()
        }
        Reply::Call { name, args } => vec![response(
            model,
            json!([{"functionCall": {"name": name, "args": args}}]),
            true,
            true,
        )],
    }
}

async fn handle(
    State(shared): State<Shared<Reply>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let post = method == Method::POST && path.starts_with("/v1beta/models/");
    let model = path
        .strip_prefix("/v1beta/models/")
        .and_then(|c| c.split(':').next())
        .unwrap_or("gemini-mock")
        .to_string();
    let main = post && path.ends_with(":streamGenerateContent");
    let known =
        main || post && (path.ends_with(":countTokens") || path.ends_with(":generateContent"));
    shared.record(&method, &uri, &headers, &body, known, main);
    if post && path.ends_with(":countTokens") {
        return Json(json!({"totalTokens": 100})).into_response();
    }
    if post && path.ends_with(":generateContent") {
        // Side calls want JSON text (e.g. the router's complexity verdict).
        let verdict = json!({"complexity_reasoning": "a simple task", "complexity_score": 1,
                             "reasoning": "mock", "model_choice": "flash", "next_speaker": "user"});
        return Json(response(
            &model,
            json!([{"text": verdict.to_string()}]),
            true,
            true,
        ))
        .into_response();
    }
    if !main {
        tracing::warn!(%method, %uri, "mock gemini: unknown route");
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": {"code": 404, "message": format!("mock: no route for {method} {path}"),
                                  "status": "NOT_FOUND"}})),
        )
            .into_response();
    }
    let (reply, _, delay) = shared.next_reply(|| Reply::Text("done".into()));
    let chunks = stream_chunks(&model, &reply)
        .into_iter()
        .map(|c| Event::default().data(c.to_string()))
        .collect();
    sse(chunks, delay)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_streams_in_pieces_with_usage_last() {
        let chunks = stream_chunks("gemini-x", &Reply::Text("hello world".into()));
        let text: String = chunks
            .iter()
            .map(|c| {
                c["candidates"][0]["content"]["parts"][0]["text"]
                    .as_str()
                    .unwrap()
            })
            .collect();
        assert_eq!(text, "hello world");
        assert!(chunks[0].get("usageMetadata").is_none());
        assert_eq!(
            chunks.last().unwrap()["candidates"][0]["finishReason"],
            "STOP"
        );
        assert_eq!(
            chunks.last().unwrap()["usageMetadata"]["totalTokenCount"],
            1250
        );
        assert_eq!(chunks[0]["modelVersion"], "gemini-x");
    }

    #[tokio::test]
    async fn serves_script_over_http_and_records_function_responses() {
        let mock = MockGemini::start(vec![Reply::Call {
            name: "run_shell_command".into(),
            args: json!({"command": "true"}),
        }])
        .await
        .unwrap();
        let http = reqwest::Client::new();
        let url = format!(
            "{}/v1beta/models/m:streamGenerateContent?alt=sse",
            mock.base_url()
        );
        let body = json!({"contents": [{"role": "user", "parts": [
            {"text": "see"}, {"inlineData": {"mimeType": "image/png", "data": "iVBORw0K"}},
            {"functionResponse": {"name": "run_shell_command", "response": {"output": "ok"}}}]}]});
        let sse = http
            .post(&url)
            .header("x-goog-api-key", "secret")
            .json(&body)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(sse.starts_with("data: "), "{sse}");
        assert!(sse.contains("functionCall"), "{sse}");
        let again = http
            .post(&url)
            .json(&body)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let text: String = again
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .map(|d| serde_json::from_str::<Value>(d).unwrap())
            .map(|c| {
                c["candidates"][0]["content"]["parts"][0]["text"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect();
        assert_eq!(text, "done", "{again}");
        assert_eq!(mock.remaining(), 0);
        assert_eq!(
            mock.main_requests()[0].header("x-goog-api-key"),
            Some("<redacted>")
        );
        assert_eq!(
            mock.function_responses(),
            [FunctionResponse {
                name: "run_shell_command".into(),
                response: json!({"output": "ok"})
            }]
        );
        let side = http
            .post(format!(
                "{}/v1beta/models/m:generateContent",
                mock.base_url()
            ))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(side.status().as_u16(), 200);
        assert_eq!(mock.main_requests().len(), 2);
        assert_eq!(
            mock.inline_data(),
            [InlineData {
                mime_type: "image/png".into(),
                data: "iVBORw0K".into()
            }]
        );
        assert_eq!(mock.answered_models(), ["m", "m", "m"]);
    }
}
