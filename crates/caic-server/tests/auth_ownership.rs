//! Task ownership with login on: a real task (the `fake` harness, on the in-memory runtime)
//! created by one user is invisible and untouchable for another.

mod auth_support;

use auth_support::mock_forge::{Flavor, MockForge};
use auth_support::{Browser, Dirs, Env, EXTERNAL};
use caic_auth::config::AuthConfig;
use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Reads SSE `data:` messages from a response.
struct Sse {
    stream: futures::stream::BoxStream<'static, reqwest::Result<bytes_alias::Bytes>>,
    buf: String,
}

mod bytes_alias {
    pub use axum::body::Bytes;
}

impl Sse {
    fn new(r: reqwest::Response) -> Sse {
        Sse {
            stream: r.bytes_stream().boxed(),
            buf: String::new(),
        }
    }

    /// The next `data:` message within `within`, or None on timeout or end.
    async fn next(&mut self, within: Duration) -> Option<Value> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(i) = self.buf.find("\n\n") {
                let frame: String = self.buf.drain(..i + 2).collect();
                let data: String = frame
                    .lines()
                    .filter_map(|l| l.strip_prefix("data:"))
                    .map(str::trim_start)
                    .collect();
                if data.is_empty() {
                    continue;
                }
                return serde_json::from_str(&data).ok();
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            match tokio::time::timeout(left, self.stream.next()).await {
                Ok(Some(Ok(b))) => self.buf.push_str(&String::from_utf8_lossy(&b)),
                _ => return None,
            }
        }
    }
}

async fn task_state(b: &Browser, id: &str) -> String {
    let p = b.get(&format!("/api/v1/tasks/{id}")).await;
    assert_eq!(p.status, StatusCode::OK, "{p:?}");
    p.json()["state"].as_str().unwrap_or_default().to_string()
}

/// Alice (GitHub) and Bob (GitLab), both logged in, on a server with one repo.
async fn alice_and_bob(prefix: &str) -> (Env, Browser, Browser, String, auth_support::Containers) {
    let dirs = Dirs::new();
    let (repo_id, cleanup) = dirs.repo(prefix);

    let github = MockForge::start(Flavor::GitHub).await;
    let gitlab = MockForge::start(Flavor::GitLab).await;
    let auth = AuthConfig {
        external_url: Some(EXTERNAL.into()),
        oauth_allowed_users: vec!["alice".into(), "gitlab:bob".into()],
        github_oauth: Some(auth_support::app(&github)),
        gitlab_oauth: Some(auth_support::app(&gitlab)),
        ..Default::default()
    };
    let env = Env::start_with(dirs, auth, github, gitlab).await;
    env.github.log_in_as(1, "alice");
    let alice = env.browser();
    assert_eq!(
        alice.login("github").await.last().unwrap().status,
        StatusCode::OK
    );
    env.gitlab.log_in_as(42, "bob");
    let bob = env.browser();
    assert_eq!(
        bob.login("gitlab").await.last().unwrap().status,
        StatusCode::OK
    );
    (env, alice, bob, repo_id, cleanup)
}

#[tokio::test(flavor = "multi_thread")]
async fn ownership_user_cannot_see_or_act_on_another_users_task() {
    let (env, alice, bob, repo_id, _cleanup) = alice_and_bob("own").await;

    let mut bob_list = Sse::new(bob.stream("/api/v1/server/tasks/events").await);
    let snap = bob_list
        .next(Duration::from_secs(10))
        .await
        .expect("snapshot");
    assert_eq!(snap["kind"], "snapshot");
    let mut alice_list = Sse::new(alice.stream("/api/v1/server/tasks/events").await);
    assert_eq!(
        alice_list.next(Duration::from_secs(10)).await.unwrap()["kind"],
        "snapshot"
    );

    let created = alice
        .post_json(
            "/api/v1/tasks",
            &json!({"repo": repo_id, "harness": "fake", "prompt": "FAKE_SLOW 1\nFAKE_WRITE a.txt hi"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{created:?}");
    let id = created.json()["id"].as_str().unwrap().to_string();

    // Alice sees it, in the list and in her stream.
    let mine = alice.get("/api/v1/tasks").await.json();
    assert_eq!(mine.as_array().unwrap().len(), 1, "{mine}");
    assert_eq!(mine[0]["id"], id.as_str());
    let mut announced = false;
    while let Some(m) = alice_list.next(Duration::from_secs(10)).await {
        if m["kind"] == "upsert" && m["task"]["id"] == id.as_str() {
            announced = true;
            break;
        }
    }
    assert!(announced, "alice's task list stream announces her task");

    // Bob sees nothing and can do nothing.
    assert_eq!(bob.get("/api/v1/tasks").await.json(), json!([]));
    for (method, path) in [
        ("GET", format!("/api/v1/tasks/{id}")),
        ("GET", format!("/api/v1/tasks/{id}/events")),
        ("GET", format!("/api/v1/tasks/{id}/diff")),
        ("POST", format!("/api/v1/tasks/{id}/stop")),
        ("POST", format!("/api/v1/tasks/{id}/purge")),
        ("POST", format!("/api/v1/tasks/{id}/revive")),
    ] {
        let p = match method {
            "GET" => bob.get(&path).await,
            _ => bob.post(&path).await,
        };
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{method} {path}: {p:?}");
        assert_eq!(p.json()["error"]["code"], "FORBIDDEN");
    }
    let p = bob
        .post_json(
            &format!("/api/v1/tasks/{id}/input"),
            &json!({"prompt": {"text": "hi"}}),
        )
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    // An unknown task is still a 404.
    assert_eq!(
        bob.get("/api/v1/tasks/nope").await.status,
        StatusCode::NOT_FOUND
    );
    // Bob's stream never mentions alice's task.
    while let Some(m) = bob_list.next(Duration::from_secs(3)).await {
        assert!(!m.to_string().contains(&id), "bob's stream leaked {m}");
    }
    // Ownership is persisted privately, in the task's own log.
    let log = env.dirs.cache.join("logs").join(format!("{id}-000.jsonl"));
    let text = std::fs::read_to_string(&log).unwrap();
    let header = text.lines().next().unwrap_or_default();
    assert!(header.contains(r#""owner":"github:1""#), "{header}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let m = std::fs::metadata(&log).unwrap().permissions().mode();
        assert_eq!(m & 0o777, 0o600);
    }

    drop(bob_list);
    drop(alice_list);
    // Alice purges her task (once it can be).
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let s = task_state(&alice, &id).await;
        if [
            "running", "waiting", "asking", "has_plan", "stopped", "failed", "starting",
        ]
        .contains(&s.as_str())
        {
            assert_ne!(
                s,
                "failed",
                "{}",
                alice.get(&format!("/api/v1/tasks/{id}")).await.body
            );
            break;
        }
        assert!(Instant::now() < deadline, "task stuck in {s}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let p = alice.post(&format!("/api/v1/tasks/{id}/purge")).await;
    assert_eq!(p.status, StatusCode::OK, "{p:?}");
    let deadline = Instant::now() + Duration::from_secs(120);
    while task_state(&alice, &id).await != "purged" {
        assert!(Instant::now() < deadline, "purge did not finish");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    env.server.stop().await;
}

/// Percent-encodes every character of `s` (`%XX` each).
fn encode_all(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

/// S28: the task id is decoded once, before the engine decides ownership, so another
/// user's id with one character or every character percent-encoded is refused on every
/// route, and the task is left as it was.
#[tokio::test(flavor = "multi_thread")]
async fn s28_percent_encoded_task_ids_are_decoded_before_ownership() {
    let (env, alice, bob, repo_id, _cleanup) = alice_and_bob("enc").await;
    let created = alice
        .post_json(
            "/api/v1/tasks",
            &json!({"repo": repo_id, "harness": "fake", "prompt": "FAKE_WRITE a.txt hi"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{created:?}");
    let id = created.json()["id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    while task_state(&alice, &id).await != "waiting" {
        assert!(Instant::now() < deadline, "task did not reach waiting");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let one = format!("%{:02X}{}", id.as_bytes()[0], &id[1..]);
    for enc in [one, encode_all(&id)] {
        for (method, route, body) in [
            ("GET", "", None),
            ("GET", "/events", None),
            ("GET", "/diff", None),
            ("POST", "/input", Some(json!({"prompt": {"text": "hi"}}))),
            ("POST", "/restart", Some(json!({"prompt": {"text": "hi"}}))),
            ("POST", "/sync", Some(json!({}))),
            ("POST", "/interrupt", None),
            ("POST", "/fix-ci", None),
            ("POST", "/stop", None),
            ("POST", "/revive", None),
            ("POST", "/purge", None),
        ] {
            let path = format!("/api/v1/tasks/{enc}{route}");
            let p = match (method, body) {
                ("GET", _) => bob.get(&path).await,
                (_, Some(b)) => bob.post_json(&path, &b).await,
                (_, None) => bob.post(&path).await,
            };
            assert_eq!(p.status, StatusCode::FORBIDDEN, "{method} {path}: {p:?}");
            assert_eq!(p.json()["error"]["code"], "FORBIDDEN", "{method} {path}");
        }
        // The owner reaches it through the same encoding: it is the same task.
        let p = alice.get(&format!("/api/v1/tasks/{enc}")).await;
        assert_eq!(p.status, StatusCode::OK, "{p:?}");
        assert_eq!(p.json()["id"], id.as_str());
    }
    // Nothing Bob sent changed the task.
    assert_eq!(task_state(&alice, &id).await, "waiting");
    let t = alice.get(&format!("/api/v1/tasks/{id}")).await.json();
    assert_eq!(t["numTurns"].as_u64(), Some(1), "{t}");
    env.server.stop().await;
}
