//! The spine end to end: a real `caic serve`, the real Docker engine, real containers,
//! the relay and the `fake` harness doing real work in the container.

mod common;

use common::{docker, kind, Caic, World};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(300);
const TURN: Duration = Duration::from_secs(60);

fn results(events: &[common::SseMsg]) -> Vec<&Value> {
    events
        .iter()
        .filter(|m| kind(m) == "result")
        .map(|m| &m.data)
        .collect()
}

/// Every live-event seq is new and consecutive after the history.
fn assert_seqs_unique(events: &[common::SseMsg]) {
    let mut seen = HashSet::new();
    for m in events.iter().filter(|m| m.event == "message") {
        let seq = m.data["seq"].as_u64().expect("seq");
        assert!(seen.insert(seq), "seq {seq} seen twice");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn fake_task_lifecycle_end_to_end() -> anyhow::Result<()> {
    let world = World::new();
    let caic = Caic::start(&world).await?;
    let mut list = caic.sse("/api/v1/server/tasks/events").await?;
    let snap = list.next(TURN).await?.expect("snapshot");
    assert_eq!(snap.data["kind"], "snapshot");

    let id = caic
        .create(
            "fake",
            "FAKE_SLOW 1\nFAKE_WRITE hello.txt hi from the agent",
        )
        .await?;
    // The task list announces it.
    let upsert = list
        .until(TURN, |m| {
            m.data["kind"] == "upsert" && m.data["task"]["id"] == id.as_str()
        })
        .await?;
    // Follow the task on the task-list stream: every (state, numTurns) it shows.
    let first_state = upsert.last().unwrap().data["task"]["state"]
        .as_str()
        .unwrap()
        .to_string();
    let mut seen: Vec<String> = vec![first_state.clone()];
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(String, u64)>();
    let watched = id.clone();
    tokio::spawn(async move {
        let (mut state, mut turns) = (first_state, 0);
        while let Ok(Some(m)) = list.next(LONG).await {
            if m.data["kind"] != "patch" || m.data["patch"]["id"] != watched.as_str() {
                continue;
            }
            if let Some(s) = m.data["patch"]["state"].as_str() {
                state = s.to_string();
            }
            if let Some(n) = m.data["patch"]["numTurns"].as_u64() {
                turns = n;
            }
            if tx.send((state.clone(), turns)).is_err() {
                break;
            }
        }
    });
    // Waits on the stream (not by polling) until the task is in `state` after `turns`
    // turns, so every state the test waits for must have been streamed.
    async fn list_wait(
        rx: &mut tokio::sync::mpsc::UnboundedReceiver<(String, u64)>,
        seen: &mut Vec<String>,
        state: &str,
        turns: u64,
    ) -> anyhow::Result<()> {
        loop {
            let (s, n) = tokio::time::timeout(LONG, rx.recv())
                .await?
                .ok_or_else(|| anyhow::anyhow!("task-list stream ended; saw {seen:?}"))?;
            if seen.last() != Some(&s) {
                seen.push(s.clone());
            }
            if s == state && n == turns {
                return Ok(());
            }
        }
    }

    let mut ev = caic.sse(&format!("/api/v1/tasks/{id}/events")).await?;
    let first = ev
        .until(LONG, |m| m.event == "message" && kind(m) == "result")
        .await
        .map_err(|e| anyhow::anyhow!("{e}\n{}", caic.log_tail()))?;
    let kinds: Vec<&str> = first.iter().map(kind).collect();
    assert!(kinds.contains(&"init"), "{kinds:?}");
    assert!(kinds.contains(&"userInput"), "{kinds:?}");
    assert!(kinds.contains(&"toolUse"), "{kinds:?}");
    assert!(kinds.contains(&"toolResult"), "{kinds:?}");
    assert!(first.iter().any(|m| m.event == "ready"));
    list_wait(&mut rx, &mut seen, "waiting", 1).await?;
    let t = caic.task(&id).await?;
    assert!(t["branch"].as_str().unwrap().starts_with("caic-"));
    assert!(t["costUsd"].as_f64().unwrap() > 0.0);

    // The diff shows the file the agent really wrote in the container.
    let (status, diff) = caic.get(&format!("/api/v1/tasks/{id}/diff")).await?;
    assert_eq!(status, 200, "{diff}");
    assert!(
        diff["diff"]
            .as_str()
            .unwrap()
            .contains("+hi from the agent"),
        "{diff}"
    );
    assert_eq!(diff["diffStat"][0]["path"], "hello.txt");

    // A follow-up turn runs a command that sees that file.
    caic.input(&id, "FAKE_SLOW 1\nFAKE_BASH cat hello.txt")
        .await?;
    let second = ev
        .until(TURN, |m| m.event == "message" && kind(m) == "result")
        .await?;
    let out = second
        .iter()
        .find(|m| kind(m) == "toolResult")
        .map(|m| m.data["output"].as_str().unwrap_or_default().to_string())
        .unwrap_or_default();
    assert!(out.contains("hi from the agent"), "{out}");
    list_wait(&mut rx, &mut seen, "waiting", 2).await?;

    // Interrupt: a long turn ends early, the session stays.
    let (status, v) = caic
        .post(&format!("/api/v1/tasks/{id}/interrupt"), "")
        .await?;
    assert_eq!(status, 409, "nothing to interrupt while waiting: {v}");
    caic.input(&id, "FAKE_SLOW 60").await?;
    ev.until(TURN, |m| kind(m) == "textDelta").await?;
    let t0 = std::time::Instant::now();
    let (status, v) = caic
        .post(&format!("/api/v1/tasks/{id}/interrupt"), "")
        .await?;
    assert_eq!(status, 200, "{v}");
    let cut = ev.until(TURN, |m| kind(m) == "result").await?;
    assert!(t0.elapsed() < Duration::from_secs(30), "{:?}", t0.elapsed());
    let r = &cut.last().unwrap().data;
    assert_eq!(r["subtype"], "error_during_execution", "{r}");
    list_wait(&mut rx, &mut seen, "waiting", 3).await?;
    let t = caic.task(&id).await?;
    assert_eq!(t["numTurns"].as_u64(), Some(3), "{t}");
    let first_session = t["sessionId"].as_str().unwrap().to_string();

    // Restart: a fresh agent session in the same container; the history is kept and
    // marked, and the work on disk is still there.
    let (status, v) = caic
        .post(
            &format!("/api/v1/tasks/{id}/restart"),
            &json!({"prompt": {"text": "FAKE_SLOW 1\nFAKE_BASH cat hello.txt"}}).to_string(),
        )
        .await?;
    assert_eq!(status, 200, "{v}");
    let third = ev
        .until(TURN, |m| m.event == "message" && kind(m) == "result")
        .await?;
    let cleared = third
        .iter()
        .position(|m| kind(m) == "system" && m.data["subtype"] == "context_cleared")
        .expect("context_cleared marker");
    let init = third
        .iter()
        .position(|m| kind(m) == "init")
        .expect("new session init");
    assert!(cleared < init);
    assert_ne!(third[init].data["sessionId"], first_session.as_str());
    assert!(
        third
            .iter()
            .any(|m| kind(m) == "toolResult"
                && m.data["output"].as_str().unwrap().contains("hi from"))
    );
    list_wait(&mut rx, &mut seen, "waiting", 4).await?;

    // Stop keeps the container; revive brings the agent back; input resumes it.
    let (status, _) = caic.post(&format!("/api/v1/tasks/{id}/stop"), "").await?;
    assert_eq!(status, 200);
    list_wait(&mut rx, &mut seen, "stopped", 4).await?;
    let t = caic.task(&id).await?;
    let container = t["container"].as_str().unwrap().to_string();
    let running = docker(&["inspect", "-f", "{{.State.Running}}", &container]);
    assert_eq!(running, "false");
    let (status, v) = caic
        .post(
            &format!("/api/v1/tasks/{id}/input"),
            &json!({"prompt": {"text": "hello"}}).to_string(),
        )
        .await?;
    assert_eq!(status, 409, "{v}");
    assert_eq!(v["details"]["state"], "stopped");

    let (status, _) = caic.post(&format!("/api/v1/tasks/{id}/revive"), "").await?;
    assert_eq!(status, 200);
    list_wait(&mut rx, &mut seen, "waiting", 4).await?;
    caic.input(&id, "FAKE_SLOW 1\nFAKE_BASH cat hello.txt")
        .await?;
    // Running, then waiting again with a fourth result.
    list_wait(&mut rx, &mut seen, "waiting", 5).await?;

    // Purge deletes the container; the history stays readable.
    let (status, _) = caic.post(&format!("/api/v1/tasks/{id}/purge"), "").await?;
    assert_eq!(status, 200);
    list_wait(&mut rx, &mut seen, "purged", 5).await?;
    let gone = std::process::Command::new("docker")
        .args(["inspect", &container])
        .output()?;
    assert!(!gone.status.success(), "container still exists");
    let mut ev = caic.sse(&format!("/api/v1/tasks/{id}/events")).await?;
    let mut replay = Vec::new();
    while let Some(m) = ev.next(TURN).await? {
        replay.push(m);
    }
    assert!(replay.iter().any(|m| m.event == "ready"));
    assert_eq!(results(&replay).len(), 5);
    // The first prompt is still in the history after the restart and the revive.
    assert_eq!(
        replay.iter().filter(|m| kind(m) == "userInput").count(),
        5,
        "one prompt per turn"
    );

    // Every state the task went through, as the task-list stream showed it.
    let states = seen;
    let want = [
        "starting",
        "running",
        "waiting",
        "running",
        "waiting",
        "stopping",
        "stopped",
        "provisioning",
        "starting",
        "waiting",
        "running",
        "waiting",
        "purging",
        "purged",
    ];
    let mut it = states.iter();
    for w in want {
        assert!(
            it.any(|s| s == w),
            "state {w} missing or out of order in {states:?}"
        );
    }
    assert_seqs_unique(&replay);
    caic.kill().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_gets_clear_errors() -> anyhow::Result<()> {
    let world = World::new();
    let caic = Caic::start(&world).await?;
    let r = &caic.repo;
    let cases = [
        ("{not json".to_string(), 400, "BAD_REQUEST"),
        (
            format!(r#"{{"repo":"{r}","harness":"fake","prompt":"x","bogus":1}}"#),
            400,
            "bogus",
        ),
        (
            format!(r#"{{"repo":"{r}","harness":"nope","prompt":"x"}}"#),
            400,
            "unknown harness",
        ),
        (
            r#"{"repo":"nope","harness":"fake","prompt":"x"}"#.to_string(),
            400,
            "unknown repo",
        ),
        (
            format!(r#"{{"repo":"{r}","harness":"fake","prompt":"  "}}"#),
            400,
            "empty",
        ),
        (
            format!(r#"{{"repo":"{r}","harness":"fake","prompt":"x","model":"gpt-9"}}"#),
            400,
            "gpt-9",
        ),
        (
            format!(r#"{{"repo":"{r}","harness":"fake","prompt":"x","baseBranch":"feature-x"}}"#),
            400,
            "no branch feature-x in",
        ),
    ];
    for (body, want, needle) in cases {
        let body = body.as_str();
        let (status, v) = caic.post("/api/v1/tasks", body).await?;
        assert_eq!(status, want, "{body}: {v}");
        let text = v.to_string();
        assert!(text.contains(needle), "{body}: {text}");
        assert!(v["error"]["code"].is_string(), "{v}");
    }
    let (status, v) = caic.post("/api/v1/tasks/nope/stop", "").await?;
    assert_eq!(status, 404, "{v}");
    assert_eq!(v["error"]["code"], "NOT_FOUND");
    let (status, _) = caic.get("/api/v1/tasks/nope/events").await?;
    assert_eq!(status, 404);
    let (status, v) = caic.get("/api/v1/server/repos/branches?repo=nope").await?;
    assert_eq!(status, 400, "{v}");
    let (status, v) = caic
        .get(&format!("/api/v1/server/repos/branches?repo={}", caic.repo))
        .await?;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["branches"][0], "main");
    let (status, v) = caic.get("/api/v1/server/harnesses").await?;
    assert_eq!(status, 200);
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"claude") && names.contains(&"fake"),
        "{names:?}"
    );
    let (status, v) = caic.get("/api/v1/openapi.json").await?;
    assert_eq!(status, 200);
    assert!(
        v["paths"]["/api/v1/tasks/{id}/input"]["post"].is_object(),
        "{v}"
    );

    // A harness line that is not JSON becomes an error event; the task goes on.
    let id = caic.create("fake", "FAKE_GARBAGE").await?;
    let mut ev = caic.sse(&format!("/api/v1/tasks/{id}/events")).await?;
    let seen = ev
        .until(LONG, |m| kind(m) == "result")
        .await
        .map_err(|e| anyhow::anyhow!("{e}\n{}", caic.log_tail()))?;
    assert!(seen.iter().any(|m| kind(m) == "error"), "no error event");
    caic.wait_state(&id, &["waiting"], TURN).await?;
    // Wrong state: restart is not allowed while purged.
    caic.post(&format!("/api/v1/tasks/{id}/purge"), "").await?;
    caic.wait_state(&id, &["purged"], LONG).await?;
    let (status, v) = caic
        .post(
            &format!("/api/v1/tasks/{id}/restart"),
            &json!({"prompt": {"text": "again"}}).to_string(),
        )
        .await?;
    assert_eq!(status, 409, "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("purged"),
        "{v}"
    );
    caic.kill().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn s08_port_only_listen_binds_loopback_only() -> anyhow::Result<()> {
    let world = World::new();
    let caic = Caic::start_on(&world, ":0").await?;
    assert!(caic.base.starts_with("http://127.0.0.1:"), "{}", caic.base);
    let port = caic.base.rsplit(':').next().unwrap().to_string();
    // The socket is bound to loopback, not to all interfaces.
    let ss = std::process::Command::new("ss").args(["-ltnH"]).output()?;
    let listeners = String::from_utf8_lossy(&ss.stdout);
    let ours: Vec<&str> = listeners
        .lines()
        .filter(|l| l.contains(&format!(":{port} ")))
        .collect();
    assert!(!ours.is_empty(), "{listeners}");
    for l in ours {
        assert!(l.contains(&format!("127.0.0.1:{port}")), "{l}");
    }
    let (status, _) = caic.get("/api/v1/tasks").await?;
    assert_eq!(status, 200);
    caic.kill().await;
    Ok(())
}
