use super::*;
use axum::routing::get;
use axum::Router;
use serde_json::Value;

/// The status and JSON body of a rendered error.
async fn render(e: HttpError) -> (u16, Value) {
    let resp = e.into_response();
    let status = resp.status().as_u16();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}

const DETAIL: &str =
    "git push: /home/alice/src/demo: fatal: could not read Username for 'https://github.com'";

async fn boom() -> Result<(), HttpError> {
    Err(caic_engine::Error::Internal(DETAIL.into()).into())
}

#[tokio::test]
async fn s33_5xx_says_internal_error_and_request_id_detail_goes_to_log() {
    let (subscriber, logs) = caic_auth::testutil::subscriber();
    // The test runtime is single-threaded: the server task logs to this subscriber.
    let _guard = tracing::subscriber::set_default(subscriber);
    let app = Router::new()
        .route("/boom", get(boom))
        .route("/ok", get(|| async { "ok" }))
        .layer(axum::middleware::from_fn(request_id));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let r = reqwest::get(format!("http://{addr}/boom")).await.unwrap();
    assert_eq!(r.status().as_u16(), 500);
    let id = r.headers()[REQUEST_ID_HEADER].to_str().unwrap().to_string();
    assert_eq!(id.len(), 26, "a ULID: {id}");
    let text = r.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"error": {"code": "INTERNAL_ERROR", "message": "internal error",
            "requestId": id}})
    );
    for leak in ["/home/alice", "fatal", "git push"] {
        assert!(!text.contains(leak), "{leak} in {text}");
    }
    // The log has the detail, under the same id.
    let log = logs.text();
    let line = log
        .lines()
        .find(|l| l.contains(DETAIL))
        .unwrap_or_else(|| panic!("no detail in the log:\n{log}"));
    assert!(line.contains(&id), "{line}");
    assert!(line.contains("ERROR"), "{line}");

    // Every answer has its own id.
    let r = reqwest::get(format!("http://{addr}/ok")).await.unwrap();
    let other = r.headers()[REQUEST_ID_HEADER].to_str().unwrap();
    assert_ne!(other, id);
}

#[tokio::test]
async fn four_xx_messages_stay_and_carry_no_request_id() {
    let (status, body) =
        render(caic_engine::Error::BadRequest("unknown repo \"x\"".into()).into()).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        serde_json::json!({"error": {"code": "BAD_REQUEST", "message": "unknown repo \"x\""}})
    );
    let (status, body) = render(HttpError::new(ErrorCode::PayloadTooLarge, "too big")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (413, Some("PAYLOAD_TOO_LARGE"))
    );
}

#[tokio::test]
async fn auth_errors_map_to_their_status() {
    use caic_auth::Error as E;
    let cases: Vec<(E, u16, &str)> = vec![
        (
            E::Session("expired".into()),
            401,
            "session refused: expired",
        ),
        (E::State("replayed"), 400, "login state refused: replayed"),
        (
            E::NotAllowed("mallory".into()),
            403,
            "user \"mallory\" is not allowed",
        ),
        (
            E::NotConfigured("gitlab"),
            404,
            "gitlab login is not configured",
        ),
        (
            E::Provider {
                provider: "github",
                message: "bad_verification_code".into(),
            },
            503,
            "service unavailable",
        ),
        (
            E::Io {
                path: "/home/alice/.config/caic/users.json".into(),
                source: std::io::Error::other("disk full"),
            },
            500,
            "internal error",
        ),
    ];
    for (e, want_status, want_message) in cases {
        let (status, body) = render(e.into()).await;
        assert_eq!(status, want_status, "{body}");
        assert_eq!(body["error"]["message"], want_message, "{body}");
        assert!(!body.to_string().contains("/home/alice"), "{body}");
    }
}

#[tokio::test]
async fn forge_errors_map_to_their_status() {
    use caic_forge::Error as E;
    let cases: Vec<(E, u16, &str)> = vec![
        (E::BadSignature, 401, "webhook: signature mismatch"),
        (
            E::MissingSignature("X-Hub-Signature-256"),
            401,
            "webhook: missing X-Hub-Signature-256 header",
        ),
        (
            E::AddressNotAllowed("10.0.0.1".parse().unwrap()),
            403,
            "webhook: source address 10.0.0.1 is not in GitHub's hook ranges",
        ),
        (
            E::BadPayload("the body is not JSON".into()),
            400,
            "webhook: the body is not JSON",
        ),
        (
            E::Status {
                context: "GET /repos/o/r/pulls".into(),
                status: 502,
                message: "upstream on 10.1.2.3".into(),
            },
            503,
            "service unavailable",
        ),
    ];
    for (e, want_status, want_message) in cases {
        let (status, body) = render(e.into()).await;
        assert_eq!(status, want_status, "{body}");
        assert_eq!(body["error"]["message"], want_message, "{body}");
        assert!(!body.to_string().contains("10.1.2.3"), "{body}");
    }
}
