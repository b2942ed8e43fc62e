//! Failures in the middle of a turn: caic killed and restarted, the SSH link cut, the
//! container dying. Nothing may be lost or repeated.

mod common;

use common::{docker, kind, Caic, SseMsg, World};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(300);
const TURN: Duration = Duration::from_secs(90);

/// Reads a task's whole SSE history (up to `ready`) and then live events until a
/// `result` has been seen, returning the messages.
async fn history_until_result(caic: &Caic, id: &str) -> anyhow::Result<Vec<SseMsg>> {
    let mut ev = caic.sse(&format!("/api/v1/tasks/{id}/events")).await?;
    let mut seen = Vec::new();
    let mut ready = false;
    loop {
        let m = ev
            .next(TURN)
            .await
            .map_err(|e| anyhow::anyhow!("{e}\n{}", caic.log_tail()))?
            .ok_or_else(|| anyhow::anyhow!("stream ended"))?;
        if m.event == "ready" {
            ready = true;
            if seen.iter().any(|m| kind(m) == "result") {
                return Ok(seen);
            }
            continue;
        }
        let done = kind(&m) == "result" && ready;
        seen.push(m);
        if done {
            return Ok(seen);
        }
    }
}

/// The invariants of a slow turn's events: each seq once and in order, one prompt, one
/// result, and the streamed deltas adding up to the final text exactly once.
fn check_slow_turn(events: &[SseMsg], seconds: u32) {
    let seqs: Vec<u64> = events
        .iter()
        .map(|m| m.data["seq"].as_u64().unwrap())
        .collect();
    let mut sorted = seqs.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(seqs, sorted, "seqs repeated or out of order");
    let count = |k: &str| events.iter().filter(|m| kind(m) == k).count();
    assert_eq!(count("userInput"), 1);
    assert_eq!(count("result"), 1);
    let text = format!("Working slowly for {seconds} seconds... done.");
    let finals: Vec<&str> = events
        .iter()
        .filter(|m| kind(m) == "text")
        .map(|m| m.data["text"].as_str().unwrap())
        .collect();
    assert_eq!(finals, vec![text.as_str()]);
}

#[tokio::test(flavor = "multi_thread")]
async fn caic_killed_mid_turn_adopts_and_loses_nothing() -> anyhow::Result<()> {
    let world = World::new();
    let caic = Caic::start(&world).await?;
    let id = caic.create("fake", "FAKE_SLOW 6").await?;
    // Wait until the turn is streaming, then kill caic hard.
    let mut ev = caic.sse(&format!("/api/v1/tasks/{id}/events")).await?;
    ev.until(LONG, |m| kind(m) == "textDelta")
        .await
        .map_err(|e| anyhow::anyhow!("{e}\n{}", caic.log_tail()))?;
    drop(ev);
    let container = caic.task(&id).await?["container"]
        .as_str()
        .unwrap()
        .to_string();
    caic.kill().await;
    // The agent goes on without caic.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        docker(&["inspect", "-f", "{{.State.Running}}", &container]),
        "true"
    );

    let caic = Caic::start(&world).await?;
    let t = caic.task(&id).await?;
    assert_eq!(t["container"], container.as_str());
    let events = history_until_result(&caic, &id).await?;
    check_slow_turn(&events, 6);
    let t = caic.wait_state(&id, &["waiting"], TURN).await?;
    assert_eq!(t["numTurns"], 1);

    // And the adopted session still takes input.
    caic.input(&id, "still there?").await?;
    let t = caic.wait_turns(&id, 2, TURN).await?;
    assert_eq!(t["result"], "You said: still there?");

    // A restart with no turn running restores the same history, byte for byte.
    let before = full_history(&caic, &id).await?;
    caic.kill().await;
    let caic = Caic::start(&world).await?;
    let after = full_history(&caic, &id).await?;
    assert_eq!(before, after);
    caic.kill().await;
    Ok(())
}

/// The replayed history (kind, seq and payload; timestamps may differ by <1 s).
async fn full_history(caic: &Caic, id: &str) -> anyhow::Result<Vec<serde_json::Value>> {
    let mut ev = caic.sse(&format!("/api/v1/tasks/{id}/events")).await?;
    let msgs = ev.until(TURN, |m| m.event == "ready").await?;
    Ok(msgs
        .into_iter()
        .filter(|m| m.event == "message")
        .map(|mut m| {
            m.data.as_object_mut().unwrap().remove("ts");
            m.data
        })
        .collect())
}

#[tokio::test(flavor = "multi_thread")]
async fn ssh_dropped_mid_turn_reattaches_without_loss() -> anyhow::Result<()> {
    let world = World::new();
    let caic = Caic::start(&world).await?;
    let id = caic.create("fake", "FAKE_SLOW 6").await?;
    let mut ev = caic.sse(&format!("/api/v1/tasks/{id}/events")).await?;
    ev.until(LONG, |m| kind(m) == "textDelta")
        .await
        .map_err(|e| anyhow::anyhow!("{e}\n{}", caic.log_tail()))?;
    let container = caic.task(&id).await?["container"]
        .as_str()
        .unwrap()
        .to_string();
    // Kill the user's SSH session processes in the container (as that user: root has
    // no CAP_KILL there): the link drops mid-stream.
    docker(&[
        "exec",
        "-u",
        "user",
        &container,
        "pkill",
        "-f",
        "sshd: user@",
    ]);
    let rest = ev
        .until(TURN, |m| kind(m) == "result")
        .await
        .map_err(|e| anyhow::anyhow!("{e}\n{}", caic.log_tail()))?;
    assert!(!rest.is_empty());
    caic.wait_state(&id, &["waiting"], TURN).await?;
    let events = history_until_result(&caic, &id).await?;
    check_slow_turn(&events, 6);
    let log = std::fs::read_to_string(&caic.stderr_log)?;
    assert!(
        log.contains("re-attached to the relay"),
        "{}",
        caic.log_tail()
    );
    caic.kill().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn dead_container_is_reported_and_input_refused() -> anyhow::Result<()> {
    let world = World::new();
    let caic = Caic::start(&world).await?;
    let id = caic.create("fake", "hello").await?;
    let t = caic.wait_state(&id, &["waiting"], LONG).await?;
    assert_eq!(t["numTurns"], 1, "{t}");
    let container = t["container"].as_str().unwrap().to_string();
    docker(&["kill", &container]);
    let t = caic.wait_state(&id, &["stopped"], TURN).await?;
    assert!(
        t["error"]
            .as_str()
            .unwrap_or_default()
            .contains("container exited"),
        "{t}"
    );
    let (status, v) = caic
        .post(
            &format!("/api/v1/tasks/{id}/input"),
            r#"{"prompt":{"text":"hi"}}"#,
        )
        .await?;
    assert_eq!(status, 409, "{v}");
    assert_eq!(v["details"]["state"], "stopped");
    // Nothing was lost: the first turn is still in the history, and revive works.
    let (status, _) = caic.post(&format!("/api/v1/tasks/{id}/revive"), "").await?;
    assert_eq!(status, 200);
    caic.wait_state(&id, &["waiting"], LONG).await?;
    caic.input(&id, "back").await?;
    caic.wait_turns(&id, 2, TURN).await?;
    caic.kill().await;
    Ok(())
}
