//! What the mock model APIs share, so each provider's file keeps only its wire format:
//! an axum server on a random port that stops when dropped, a script of replies, every
//! request recorded with its secrets removed, caic's harness config pointing at the
//! mock, and server-sent events with a slow mode.
//!
//! A provider is `MockServer<its Reply>` with its own `impl` block (`start`, its base
//! URL, its config, what to read back from the requests) and a router of its routes.

use parking_lot::{Mutex, MutexGuard};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Headers whose values are replaced by `<redacted>` before a request is recorded.
const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "x-api-key",
    "openai-api-key",
    "x-goog-api-key",
];

/// One request a mock received, secrets removed.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: String,
    /// Path and query as received (`/v1/messages?beta=true`; a query holding `key=` is
    /// replaced by `<redacted query>`), or the authority for `CONNECT`.
    pub path: String,
    /// Headers (lower-case names); secret values replaced by `<redacted>`.
    pub headers: Vec<(String, String)>,
    /// Body as JSON (`Null` when empty or not JSON).
    pub body: Value,
    /// Whether the route is one the mock implements.
    pub known: bool,
    /// Whether this request consumed (or tried to consume) the script.
    pub main: bool,
    /// Time since the mock started.
    pub at: Duration,
}

impl RecordedRequest {
    /// Value of a header, by lower-case name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `model` field of the body, if any.
    pub fn model(&self) -> Option<&str> {
        self.body.get("model").and_then(Value::as_str)
    }
}

#[derive(Debug)]
struct Inner<R> {
    replies: VecDeque<R>,
    requests: Vec<RecordedRequest>,
    /// How many replies were handed out (scripted or not).
    served: u64,
    delay: Duration,
}

/// The state a mock's handlers share with the test: script, record, slow mode.
#[derive(Debug)]
pub struct Shared<R> {
    inner: Arc<Mutex<Inner<R>>>,
    started: Instant,
}

impl<R> Clone for Shared<R> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            started: self.started,
        }
    }
}

impl<R> Shared<R> {
    fn new(replies: Vec<R>, delay: Duration) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner {
                replies: replies.into(),
                requests: Vec::new(),
                served: 0,
                delay,
            })),
            started: Instant::now(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner<R>> {
        self.inner.lock()
    }

    /// Records a request, secrets removed.
    pub fn record(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
        known: bool,
        main: bool,
    ) {
        let headers = headers
            .iter()
            .map(|(k, v)| {
                let name = k.as_str().to_ascii_lowercase();
                let value = if SECRET_HEADERS.contains(&name.as_str()) {
                    "<redacted>".to_string()
                } else {
                    String::from_utf8_lossy(v.as_bytes()).into_owned()
                };
                (name, value)
            })
            .collect();
        // A key may also travel as `?key=`: keep it out of the record.
        let path = match (uri.query(), uri.path_and_query()) {
            (Some(q), _) if q.contains("key=") => format!("{}?<redacted query>", uri.path()),
            (_, Some(pq)) if uri.authority().is_none() => pq.as_str().to_string(),
            _ => uri.to_string(),
        };
        let req = RecordedRequest {
            method: method.to_string(),
            path,
            headers,
            body: serde_json::from_slice(body).unwrap_or(Value::Null),
            known,
            main,
            at: self.started.elapsed(),
        };
        self.lock().requests.push(req);
    }

    /// The next scripted reply, or `done()` once the script is exhausted; with how many
    /// replies were handed out, this one included, and the slow-mode delay to stream it.
    pub fn next_reply(&self, done: impl FnOnce() -> R) -> (R, u64, Duration) {
        let mut g = self.lock();
        g.served += 1;
        let reply = g.replies.pop_front().unwrap_or_else(done);
        (reply, g.served, g.delay)
    }

    /// The slow-mode delay between streamed events.
    pub fn delay(&self) -> Duration {
        self.lock().delay
    }
}

/// A running mock model API; it stops when dropped.
pub struct MockServer<R> {
    shared: Shared<R>,
    addr: SocketAddr,
    _shutdown: oneshot::Sender<()>,
}

impl<R: Send + 'static> MockServer<R> {
    /// Serves `routes(shared state)` on `addr` (port 0 picks one) with `replies` as the
    /// script and `delay` as the slow mode; `name` is for the log.
    pub async fn serve(
        name: &'static str,
        addr: SocketAddr,
        replies: Vec<R>,
        delay: Duration,
        routes: impl FnOnce(Shared<R>) -> Router,
    ) -> anyhow::Result<Self> {
        let shared = Shared::new(replies, delay);
        let app = routes(shared.clone()).layer(DefaultBodyLimit::max(256 << 20));
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = rx.await;
            });
            if let Err(e) = serve.await {
                tracing::warn!("mock {name} server stopped: {e}");
            }
        });
        tracing::info!(%addr, "mock {name} listening");
        Ok(Self {
            shared,
            addr,
            _shutdown: tx,
        })
    }
}

impl<R> MockServer<R> {
    /// The port the mock listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Its root URL for clients on this host: `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port())
    }

    /// Its root URL for clients in a container started with
    /// `host.docker.internal:host-gateway`: `http://host.docker.internal:PORT`.
    pub fn url_for_container(&self) -> String {
        format!("http://host.docker.internal:{}", self.port())
    }

    /// caic's `config.toml` giving the `harness` these environment variables, and every
    /// other host the CLI tries going to the mock as a proxy, which refuses it.
    pub fn harness_config(&self, harness: &str, vars: &[(&str, &str)]) -> String {
        let proxy = self.url_for_container();
        let mut out = format!("[harness.{harness}.env]\n");
        for (k, v) in vars {
            out.push_str(&format!("{k} = \"{v}\"\n"));
        }
        out.push_str(&format!(
            "HTTPS_PROXY = \"{proxy}\"\nHTTP_PROXY = \"{proxy}\"\nNO_PROXY = \"{}\"\n",
            crate::NO_PROXY
        ));
        out
    }

    /// Appends replies to the script while the mock runs.
    pub fn push_replies(&self, replies: impl IntoIterator<Item = R>) {
        self.shared.lock().replies.extend(replies);
    }

    /// Slow mode: waits `delay` between the streamed events of the following responses
    /// (zero streams at once).
    pub fn set_delay(&self, delay: Duration) {
        self.shared.lock().delay = delay;
    }

    /// How many scripted replies are still unused.
    pub fn remaining(&self) -> usize {
        self.shared.lock().replies.len()
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// The requests that consumed the script.
    pub fn main_requests(&self) -> Vec<RecordedRequest> {
        self.requests().into_iter().filter(|r| r.main).collect()
    }

    /// Requests to routes the mock does not implement (and proxy `CONNECT`s).
    pub fn unknown_requests(&self) -> Vec<RecordedRequest> {
        self.requests().into_iter().filter(|r| !r.known).collect()
    }
}

/// Streams `events` as server-sent events, `delay` apart (slow mode; zero: at once).
pub fn sse(events: Vec<Event>, delay: Duration) -> Response {
    let stream = async_stream::stream! {
        for (i, e) in events.into_iter().enumerate() {
            if i > 0 && !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            yield Ok::<Event, std::convert::Infallible>(e);
        }
    };
    Sse::new(stream).into_response()
}

/// `text` cut in `n` about equal pieces on char boundaries (none for "").
pub fn chunk_even(text: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let size = chars.len().div_ceil(n.max(1)).max(1);
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn chunk_even_keeps_all_text() {
        let s = r#"{"command":"echo héllo"}"#;
        let chunks = chunk_even(s, 3);
        assert_eq!(chunks.len(), 3);
        assert_eq!(chunks.concat(), s);
        assert!(chunk_even("", 3).is_empty());
    }

    #[test]
    fn records_without_secrets() {
        let shared = Shared::<()>::new(Vec::new(), Duration::ZERO);
        let mut h = HeaderMap::new();
        h.insert("x-goog-api-key", HeaderValue::from_static("AIza-secret"));
        h.insert(
            "authorization",
            HeaderValue::from_static("Bearer sk-secret"),
        );
        h.insert("user-agent", HeaderValue::from_static("cli/1"));
        let uri: Uri = "/v1beta/models/m:countTokens?key=AIza-secret"
            .parse()
            .unwrap();
        shared.record(&Method::POST, &uri, &h, br#"{"model":"m"}"#, true, false);
        let uri: Uri = "api.example.com:443".parse().unwrap();
        shared.record(&Method::CONNECT, &uri, &HeaderMap::new(), b"", false, false);
        let r = shared.lock().requests.clone();
        assert_eq!(r[0].path, "/v1beta/models/m:countTokens?<redacted query>");
        assert_eq!(r[0].header("x-goog-api-key"), Some("<redacted>"));
        assert_eq!(r[0].header("authorization"), Some("<redacted>"));
        assert_eq!(r[0].header("user-agent"), Some("cli/1"));
        assert_eq!(r[0].model(), Some("m"));
        assert_eq!(r[1].path, "api.example.com:443");
        assert_eq!(r[1].body, Value::Null);
        assert!(!format!("{r:?}").contains("secret"), "{r:?}");
    }

    #[test]
    fn the_script_runs_out_into_the_default() {
        let shared = Shared::new(vec!["a"], Duration::from_millis(5));
        assert_eq!(
            shared.next_reply(|| "done"),
            ("a", 1, Duration::from_millis(5))
        );
        assert_eq!(
            shared.next_reply(|| "done"),
            ("done", 2, Duration::from_millis(5))
        );
    }
}
