//! S33: every error from the API, the framework's own included, uses the error envelope
//! and carries the request id.

mod auth_support;

use auth_support::Dirs;
use caic_auth::config::AuthConfig;
use serde_json::Value;

async fn call(method: reqwest::Method, url: String) -> (u16, String, Value, bool) {
    let r = reqwest::Client::new()
        .request(method, &url)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let ctype = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let has_id = r.headers().contains_key("x-request-id");
    let body = r.json().await.unwrap_or(Value::Null);
    (status, ctype, body, has_id)
}

#[tokio::test]
async fn s33_framework_errors_use_the_envelope() {
    let dirs = Dirs::new();
    let server = auth_support::start_server(dirs.config(AuthConfig::default()))
        .await
        .unwrap();
    let base = format!("http://{}", server.addrs[0]);
    for (method, path, status, code) in [
        // A task id that does not decode as UTF-8.
        (
            reqwest::Method::GET,
            "/api/v1/tasks/%ff%fe",
            400,
            "BAD_REQUEST",
        ),
        // A route that exists, with a method it lacks.
        (
            reqwest::Method::DELETE,
            "/api/v1/tasks",
            405,
            "METHOD_NOT_ALLOWED",
        ),
        (
            reqwest::Method::PUT,
            "/api/v1/server/repos",
            405,
            "METHOD_NOT_ALLOWED",
        ),
        // A webhook route without its secret configured.
        (reqwest::Method::POST, "/webhooks/github", 404, "NOT_FOUND"),
    ] {
        let (got, ctype, body, has_id) = call(method.clone(), format!("{base}{path}")).await;
        assert_eq!(got, status, "{method} {path}: {body}");
        assert!(
            ctype.starts_with("application/json"),
            "{method} {path}: {ctype}"
        );
        assert_eq!(body["error"]["code"], code, "{method} {path}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{method} {path}: {body}"
        );
        assert!(has_id, "{method} {path}: no X-Request-Id");
    }
    server.stop().await;
}
