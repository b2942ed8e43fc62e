//! The webhook routes of a real `caic serve` (S11, S12) and what deliveries do: CI
//! updates for watched commits, pull requests linked to their task, and issues that
//! start a task and get a comment back. GitHub and GitLab are the mock REST servers;
//! deliveries are signed here as the forges sign them.

mod common;

use anyhow::{bail, Result};
use caic_forge::mock;
use common::{Caic, World};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::time::{Duration, Instant};

const LONG: Duration = Duration::from_secs(300);
const TURN: Duration = Duration::from_secs(90);
/// GitHub's documented test vector: this secret, payload "Hello, World!".
const DOC_SECRET: &str = "It's a Secret to Everybody";
const DOC_SIGNATURE: &str =
    "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
const GH_TOKEN: &str = "ghp_hookstesthookstesthookstesthooks0042";
const GL_TOKEN: &str = "glpat-hookstesthooks0042";
const GL_SECRET: &str = "gitlab-hook-secret-0042";

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Posts a delivery; returns status and JSON body.
async fn deliver(
    caic: &Caic,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Result<(u16, Value)> {
    let mut req = caic
        .http
        .post(caic.url(path))
        .header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.body(body).send().await?;
    let status = r.status().as_u16();
    let text = r.text().await?;
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    ))
}

/// A signed GitHub delivery of `event` with a fresh delivery id.
async fn github_event(caic: &Caic, event: &str, payload: &Value) -> Result<(u16, Value)> {
    let body = payload.to_string().into_bytes();
    let sig = sign(DOC_SECRET, &body);
    let id = format!("{:x}", rand_id());
    deliver(
        caic,
        "/webhooks/github",
        &[
            ("x-github-event", event),
            ("x-github-delivery", &id),
            ("x-hub-signature-256", &sig),
        ],
        body,
    )
    .await
}

fn rand_id() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

#[tokio::test(flavor = "multi_thread")]
async fn s11_s12_github_webhook_verified_before_parsing_and_only_from_hook_ranges() -> Result<()> {
    let (api, gh) = mock::github(GH_TOKEN).await;
    gh.lock().hooks = vec!["127.0.0.0/8".into()];
    let world = World::new();
    world.write_config(&format!(
        "[forge]\ngithub_api = \"{api}\"\ngithub_webhook_secret = \"{DOC_SECRET}\"\n"
    ));
    let caic = Caic::start(&world).await?;
    // The hook ranges are fetched in the background at start.
    let deadline = Instant::now() + TURN;
    loop {
        let (status, _) = deliver(&caic, "/webhooks/github", &[], b"{}".to_vec()).await?;
        if status != 403 {
            break;
        }
        assert!(Instant::now() < deadline, "ranges never loaded");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // GitHub's published vector passes the signature check; the body is then parsed and
    // refused as not JSON (400), which shows the check came first.
    let (status, v) = deliver(
        &caic,
        "/webhooks/github",
        &[
            ("x-github-event", "ping"),
            ("x-hub-signature-256", DOC_SIGNATURE),
        ],
        b"Hello, World!".to_vec(),
    )
    .await?;
    assert_eq!(status, 400, "{v}");
    // One digit off: refused before parsing.
    let wrong = format!("{}8", &DOC_SIGNATURE[..DOC_SIGNATURE.len() - 1]);
    let (status, v) = deliver(
        &caic,
        "/webhooks/github",
        &[("x-github-event", "ping"), ("x-hub-signature-256", &wrong)],
        b"Hello, World!".to_vec(),
    )
    .await?;
    assert_eq!(status, 401, "{v}");
    assert!(v.to_string().contains("signature mismatch"), "{v}");
    // No signature header.
    let (status, v) = deliver(
        &caic,
        "/webhooks/github",
        &[("x-github-event", "ping")],
        br#"{"zen":"hi"}"#.to_vec(),
    )
    .await?;
    assert_eq!(status, 401, "{v}");
    assert!(v.to_string().contains("X-Hub-Signature-256"), "{v}");
    // Oversized body, even correctly signed.
    let big = vec![b' '; 3 * 1024 * 1024];
    let sig = sign(DOC_SECRET, &big);
    let (status, _) = deliver(
        &caic,
        "/webhooks/github",
        &[("x-github-event", "ping"), ("x-hub-signature-256", &sig)],
        big,
    )
    .await?;
    assert_eq!(status, 413);
    // A replayed delivery is ignored.
    let body = br#"{"zen":"Keep it logically awesome."}"#.to_vec();
    let sig = sign(DOC_SECRET, &body);
    let headers = [
        ("x-github-event", "ping"),
        ("x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
        ("x-hub-signature-256", sig.as_str()),
    ];
    let (status, v) = deliver(&caic, "/webhooks/github", &headers, body.clone()).await?;
    assert_eq!((status, v["status"].as_str()), (200, Some("pong")), "{v}");
    let (status, v) = deliver(&caic, "/webhooks/github", &headers, body).await?;
    assert_eq!(
        (status, v["status"].as_str()),
        (200, Some("duplicate")),
        "{v}"
    );
    // No GitLab secret configured: that route does not exist.
    let (status, _) = deliver(&caic, "/webhooks/gitlab", &[], b"{}".to_vec()).await?;
    assert_eq!(status, 404);
    caic.kill().await;

    // S12: with GitHub's real ranges, a delivery from this machine is refused, even
    // correctly signed.
    gh.lock().hooks = vec!["192.30.252.0/22".into(), "185.199.108.0/22".into()];
    let caic = Caic::start(&world).await?;
    let deadline = Instant::now() + TURN;
    while !caic.log_tail().contains("GitHub hook ranges") {
        assert!(Instant::now() < deadline, "ranges never loaded");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let body = br#"{"zen":"hi"}"#.to_vec();
    let sig = sign(DOC_SECRET, &body);
    let (status, v) = deliver(
        &caic,
        "/webhooks/github",
        &[("x-github-event", "ping"), ("x-hub-signature-256", &sig)],
        body,
    )
    .await?;
    assert_eq!(status, 403, "{v}");
    assert!(v.to_string().contains("hook ranges"), "{v}");
    caic.kill().await;

    // S11: no secret at all, both routes 404.
    world.write_config(&format!("[forge]\ngithub_api = \"{api}\"\n"));
    let caic = Caic::start(&world).await?;
    for path in ["/webhooks/github", "/webhooks/gitlab"] {
        let (status, _) = deliver(&caic, path, &[], b"{}".to_vec()).await?;
        assert_eq!(status, 404, "{path}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn github_webhooks_update_ci_link_pulls_and_start_tasks_from_issues() -> Result<()> {
    let (api, gh) = mock::github(GH_TOKEN).await;
    gh.lock().hooks = vec!["127.0.0.0/8".into()];
    let world = World::new();
    let full = format!("acme/{}", world.repo_id);
    world.forge_origin(&format!("https://github.com/{full}.git"));
    // Polls are an hour apart: only a webhook can make CI news show up quickly.
    world.write_config(&format!(
        "[forge]\ngithub_api = \"{api}\"\ngithub_webhook_secret = \"{DOC_SECRET}\"\nci_poll_secs = 3600\nwebhook_harness = \"fake\"\n"
    ));
    let caic =
        Caic::start_with_env(&world, "127.0.0.1:0", &[("GITHUB_TOKEN", Some(GH_TOKEN))]).await?;
    let repo = json!({"full_name": full, "name": world.repo_id, "owner": {"login": "acme"}});

    // A pushed task: its CI is watched; a check_run delivery brings the result now.
    let id = caic.create("fake", "FAKE_WRITE a.txt a").await?;
    caic.wait_turns(&id, 1, LONG).await?;
    let (status, v) = caic.post(&format!("/api/v1/tasks/{id}/sync"), "{}").await?;
    assert_eq!(status, 200, "{v}");
    let sha = v["commit"].as_str().unwrap().to_string();
    // The first poll (right after the push) saw no checks yet.
    caic.wait_task(&id, "first poll", TURN, |t| t["ci"]["sha"] == sha.as_str())
        .await?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    gh.lock().check_runs.insert(
        sha.clone(),
        vec![
            json!({"id": 5, "name": "ci", "head_sha": sha, "status": "completed",
            "conclusion": "success", "html_url": "https://github.com/acme/demo/runs/5",
            "app": {"slug": "github-actions"}}),
        ],
    );
    let (status, v) = github_event(
        &caic,
        "check_run",
        &json!({"action": "completed", "check_run": {"head_sha": sha, "status": "completed",
            "conclusion": "success"}, "repository": repo}),
    )
    .await?;
    assert_eq!((status, v["status"].as_str()), (200, Some("ci")), "{v}");
    caic.wait_task(
        &id,
        "CI passed from the webhook",
        Duration::from_secs(15),
        |t| t["ci"]["state"] == "passed",
    )
    .await?;

    // A pull request opened by hand for another task's branch is linked to it.
    let id2 = caic.create("fake", "just talk").await?;
    caic.wait_turns(&id2, 1, LONG).await?;
    let branch2 = caic.task(&id2).await?["branch"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, v) = github_event(
        &caic,
        "pull_request",
        &json!({"action": "opened", "number": 77, "pull_request": {"number": 77,
            "html_url": format!("https://github.com/{full}/pull/77"),
            "head": {"ref": branch2, "sha": "0".repeat(40)}, "base": {"ref": "main"}},
            "repository": repo}),
    )
    .await?;
    assert_eq!((status, v["status"].as_str()), (200, Some("linked")), "{v}");
    assert_eq!(caic.task(&id2).await?["pr"]["number"], 77);

    // An issue labelled `caic` starts a task; when its turn ends, a comment goes back.
    let (status, v) = github_event(
        &caic,
        "issues",
        &json!({"action": "labeled", "label": {"name": "caic"},
            "issue": {"number": 12, "title": "Add a changelog",
                "body": "FAKE_WRITE CHANGELOG.md first entry"},
            "repository": repo}),
    )
    .await?;
    assert_eq!(status, 201, "{v}");
    let id3 = v["task"].as_str().unwrap().to_string();
    let t = caic.wait_turns(&id3, 1, LONG).await?;
    assert_eq!(t["title"], "Add a changelog");
    let deadline = Instant::now() + TURN;
    loop {
        let comments = gh.lock().comments.clone();
        if let Some((n, body)) = comments.first() {
            assert_eq!(*n, 12);
            assert!(body.contains(&id3), "{body}");
            assert!(body.contains("CHANGELOG.md"), "{body}");
            break;
        }
        assert!(Instant::now() < deadline, "no comment\n{}", caic.log_tail());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A comment mentioning @caic by a bot (e.g. caic's own) starts nothing; a person's does.
    let comment = |user_type: &str| {
        json!({"action": "created", "issue": {"number": 13, "title": "Typo", "body": ""},
            "comment": {"body": "@caic FAKE_WRITE typo.txt fixed", "user": {"type": user_type}},
            "repository": repo})
    };
    let (status, v) = github_event(&caic, "issue_comment", &comment("Bot")).await?;
    assert_eq!(
        (status, v["status"].as_str()),
        (202, Some("ignored")),
        "{v}"
    );
    let (status, v) = github_event(&caic, "issue_comment", &comment("User")).await?;
    assert_eq!(status, 201, "{v}");
    // A repo caic does not manage is ignored.
    let other = json!({"action": "labeled", "label": {"name": "caic"},
        "issue": {"number": 1, "title": "x", "body": ""},
        "repository": {"full_name": "someone/else"}});
    let (status, v) = github_event(&caic, "issues", &other).await?;
    assert_eq!(
        (status, v["status"].as_str()),
        (202, Some("ignored")),
        "{v}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn s11_gitlab_webhook_token_and_pipeline_events() -> Result<()> {
    let world = World::new();
    let project = format!("grp/{}", world.repo_id);
    let (api, gl) = mock::gitlab(&project, GL_TOKEN).await;
    world.forge_origin(&format!("https://gitlab.com/{project}.git"));
    world.write_config(&format!(
        "[forge]\ngitlab_api = \"{api}\"\ngitlab_webhook_secret = \"{GL_SECRET}\"\nci_poll_secs = 3600\n"
    ));
    let caic =
        Caic::start_with_env(&world, "127.0.0.1:0", &[("GITLAB_TOKEN", Some(GL_TOKEN))]).await?;
    // Token checks, before parsing.
    for (token, want) in [(None, 401), (Some("wrong"), 401), (Some(GL_SECRET), 400)] {
        let mut h = vec![("x-gitlab-event", "Pipeline Hook")];
        if let Some(t) = token {
            h.push(("x-gitlab-token", t));
        }
        let (status, v) = deliver(&caic, "/webhooks/gitlab", &h, b"not json".to_vec()).await?;
        assert_eq!(status, want, "token {token:?}: {v}");
    }
    // GitHub has no secret here: 404.
    let (status, _) = deliver(&caic, "/webhooks/github", &[], b"{}".to_vec()).await?;
    assert_eq!(status, 404);

    let id = caic.create("fake", "FAKE_WRITE b.txt b").await?;
    caic.wait_turns(&id, 1, LONG).await?;
    let (status, v) = caic.post(&format!("/api/v1/tasks/{id}/sync"), "{}").await?;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["pr"]["forge"], "gitlab", "{v}");
    let sha = v["commit"].as_str().unwrap().to_string();
    caic.wait_task(&id, "first poll", TURN, |t| t["ci"]["sha"] == sha.as_str())
        .await?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    gl.lock().statuses.insert(
        sha.clone(),
        vec![json!({"id": 8, "sha": sha, "ref": "x", "status": "failed", "name": "test",
            "target_url": format!("https://gitlab.com/{project}/-/jobs/8"), "allow_failure": false})],
    );
    gl.lock().traces.insert(
        8,
        "$ make test\nFAIL: b.txt must end with a newline\n".into(),
    );
    let payload = json!({"object_kind": "pipeline",
        "object_attributes": {"id": 3, "sha": sha, "status": "failed"},
        "project": {"path_with_namespace": project}});
    let (status, v) = deliver(
        &caic,
        "/webhooks/gitlab",
        &[
            ("x-gitlab-event", "Pipeline Hook"),
            ("x-gitlab-token", GL_SECRET),
            ("x-gitlab-event-uuid", "1f0c6f2a-0001"),
        ],
        payload.to_string().into_bytes(),
    )
    .await?;
    assert_eq!((status, v["status"].as_str()), (200, Some("ci")), "{v}");
    caic.wait_task(&id, "pipeline failed", Duration::from_secs(15), |t| {
        t["ci"]["state"] == "failed"
    })
    .await?;
    // The trace excerpt reaches the agent as a follow-up.
    let mut sse = caic.sse(&format!("/api/v1/tasks/{id}/events")).await?;
    let deadline = Instant::now() + TURN;
    let mut seen = Vec::new();
    while !seen.iter().any(|m: &common::SseMsg| {
        common::kind(m) == "userInput"
            && m.data["text"]
                .as_str()
                .is_some_and(|t| t.contains("FAIL: b.txt must end with a newline"))
    }) {
        let left = deadline.saturating_duration_since(Instant::now());
        match sse.next(left).await? {
            Some(m) => seen.push(m),
            None => bail!("stream ended"),
        }
    }
    // Replayed delivery: ignored.
    let (status, v) = deliver(
        &caic,
        "/webhooks/gitlab",
        &[
            ("x-gitlab-event", "Pipeline Hook"),
            ("x-gitlab-token", GL_SECRET),
            ("x-gitlab-event-uuid", "1f0c6f2a-0001"),
        ],
        payload.to_string().into_bytes(),
    )
    .await?;
    assert_eq!(
        (status, v["status"].as_str()),
        (200, Some("duplicate")),
        "{v}"
    );
    Ok(())
}
