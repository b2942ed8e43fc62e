//! Forge credentials and ownership with login on. S17: the task owner's OAuth token comes first. It opens the pull
//! request for their task's branch and is the token injected into their agent, ahead
//! of the configured token. A real server, the `fake` harness on the in-memory runtime, a
//! mock GitHub for OAuth and one for the REST API.

mod auth_support;

use auth_support::mock_forge::{Flavor, MockForge};
use auth_support::{git, Browser, Containers, Dirs, EXTERNAL};
use caic_auth::config::AuthConfig;
use caic_auth::Secret;
use caic_server::config::ForgeSection;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// First 16 hex digits of a string's SHA-256, as `sha256sum | cut -c1-16` prints.
fn sha16(s: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))[..16].to_string()
}

async fn wait_task(b: &Browser, id: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let t = b.get(&format!("/api/v1/tasks/{id}")).await.json();
        if pred(&t) {
            return t;
        }
        assert!(Instant::now() < deadline, "task never got there: {t}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A repo whose `origin` names GitHub (`acme/<id>`) while pushes land in the bare repo.
fn github_repo(dirs: &Dirs) -> (String, Containers) {
    let (repo_id, cleanup) = dirs.repo("tok");
    let repo = dirs.root.join(&repo_id);
    let url = format!("https://github.com/acme/{repo_id}.git");
    git(&repo, &["remote", "set-url", "origin", &url]);
    git(
        &repo,
        &[
            "config",
            &format!("url.{}.insteadOf", dirs.origin().display()),
            &url,
        ],
    );
    (repo_id, cleanup)
}

#[tokio::test(flavor = "multi_thread")]
async fn s17_owner_login_token_opens_the_pull_request_and_reaches_the_agent() {
    let dirs = Dirs::new();
    let (repo_id, _cleanup) = github_repo(&dirs);
    let github = MockForge::start(Flavor::GitHub).await;
    let gitlab = MockForge::start(Flavor::GitLab).await;
    let (rest, gh) = caic_forge::mock::github("not-yet-known").await;
    let auth = AuthConfig {
        external_url: Some(EXTERNAL.into()),
        oauth_allowed_users: vec!["alice".into()],
        github_oauth: Some(auth_support::app(&github)),
        gitlab_oauth: Some(auth_support::app(&gitlab)),
        ..Default::default()
    };
    let mut cfg = dirs.config(auth);
    cfg.forge = ForgeSection {
        github_api: Some(rest.clone()),
        ci_poll_secs: 3600,
        ..Default::default()
    };
    // A configured token exists too: the owner's must win.
    let configured = "ghp_configuredconfiguredconfigured0042";
    cfg.github_token = Some(Secret::new(configured));
    let server = auth_support::start_server(cfg)
        .await
        .expect("server starts");
    let base = format!("http://{}", server.addrs[0]);

    github.log_in_as(1, "alice");
    let alice = Browser::new(&base);
    assert_eq!(
        alice.login("github").await.last().unwrap().status,
        StatusCode::OK
    );
    let alice_token = github.issued_tokens()[0].clone();
    gh.lock().token = alice_token.clone();

    let created = alice
        .post_json(
            "/api/v1/tasks",
            &json!({"repo": repo_id, "harness": "fake", "injectToken": true,
                "prompt": "FAKE_BASH echo \"gh=$(printf %s \"$GH_TOKEN\" | sha256sum | cut -c1-16)\"\nFAKE_WRITE a.txt hi"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{created:?}");
    let id = created.json()["id"].as_str().unwrap().to_string();
    wait_task(&alice, &id, |t| t["state"] == "waiting").await;

    // The agent got alice's token, not the configured one.
    let mut stream = alice.stream(&format!("/api/v1/tasks/{id}/events")).await;
    let mut text = String::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !text.contains("event: ready") && Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(5), stream.chunk()).await {
            Ok(Ok(Some(c))) => text.push_str(&String::from_utf8_lossy(&c)),
            _ => break,
        }
    }
    assert!(
        text.contains(&format!("gh={}", sha16(&alice_token))),
        "agent did not get the owner's token: {text}"
    );
    assert!(!text.contains(&sha16(configured)));
    // Done reading: an unread stream left open stalls this in-process client's
    // later requests (caic serve itself is unaffected).
    drop(stream);

    // The pull request is opened with alice's token.
    let p = alice
        .post_json(&format!("/api/v1/tasks/{id}/sync"), &json!({}))
        .await;
    assert_eq!(p.status, StatusCode::OK, "{p:?}");
    assert_eq!(p.json()["pr"]["number"], 1, "{p:?}");
    let auths: Vec<String> = gh
        .lock()
        .requests
        .iter()
        .filter_map(|r| r.auth.clone())
        .collect();
    assert!(!auths.is_empty());
    let want = format!("Bearer {alice_token}");
    assert!(auths.iter().all(|a| *a == want), "{auths:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn webhook_started_task_belongs_to_the_person_who_asked() {
    use hmac::{Hmac, Mac};
    let dirs = Dirs::new();
    let (repo_id, _cleanup) = github_repo(&dirs);
    let github = MockForge::start(Flavor::GitHub).await;
    let gitlab = MockForge::start(Flavor::GitLab).await;
    let (rest, gh) = caic_forge::mock::github("unused").await;
    gh.lock().hooks = vec!["127.0.0.0/8".into()];
    let auth = AuthConfig {
        external_url: Some(EXTERNAL.into()),
        oauth_allowed_users: vec!["alice".into(), "carol".into()],
        github_oauth: Some(auth_support::app(&github)),
        gitlab_oauth: Some(auth_support::app(&gitlab)),
        ..Default::default()
    };
    let secret = "hook-secret-0042";
    let mut cfg = dirs.config(auth);
    cfg.forge = ForgeSection {
        github_api: Some(rest.clone()),
        github_webhook_secret: Some(Secret::new(secret)),
        webhook_harness: "fake".into(),
        ..Default::default()
    };
    let server = auth_support::start_server(cfg)
        .await
        .expect("server starts");
    let base = format!("http://{}", server.addrs[0]);
    let body = json!({"action": "labeled", "label": {"name": "caic"},
        "issue": {"number": 5, "title": "Say hello", "body": "FAKE_WRITE hello.txt hi"},
        "repository": {"full_name": format!("acme/{repo_id}")},
        "sender": {"id": 1, "login": "alice"}})
    .to_string();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let sig = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let http = reqwest::Client::new();
    // GitHub's ranges load in the background: retry while refused for the address.
    let deadline = Instant::now() + Duration::from_secs(30);
    let id = loop {
        let r = http
            .post(format!("{base}/webhooks/github"))
            .header("x-github-event", "issues")
            .header("x-hub-signature-256", &sig)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let status = r.status();
        let v: Value = r.json().await.unwrap();
        if status == StatusCode::CREATED {
            break v["task"].as_str().unwrap().to_string();
        }
        assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
        assert!(Instant::now() < deadline, "hook ranges never loaded");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Alice (GitHub id 1) labelled the issue: the task is hers.
    github.log_in_as(1, "alice");
    let alice = Browser::new(&base);
    assert_eq!(
        alice.login("github").await.last().unwrap().status,
        StatusCode::OK
    );
    let mine = alice.get("/api/v1/tasks").await.json();
    assert_eq!(mine.as_array().unwrap().len(), 1, "{mine}");
    assert_eq!(mine[0]["id"], id.as_str());
    assert_eq!(mine[0]["title"], "Say hello");
    // Carol sees nothing of it.
    github.log_in_as(2, "carol");
    let carol = Browser::new(&base);
    assert_eq!(
        carol.login("github").await.last().unwrap().status,
        StatusCode::OK
    );
    assert_eq!(carol.get("/api/v1/tasks").await.json(), json!([]));
    assert_eq!(
        carol.get(&format!("/api/v1/tasks/{id}")).await.status,
        StatusCode::FORBIDDEN
    );
    wait_task(&alice, &id, |t| t["state"] == "waiting").await;
    server.stop().await;
}
