//! Graceful stop of an embedded server (what `caic serve` on SIGINT/SIGTERM and the
//! desktop app on quit do): bounded in time, every background job gone, open event
//! streams ended, the task's container left running, and a new server on the same
//! dirs adopts it without losing an event.

mod common;

use anyhow::{Context, Result};
use caic_server::config::Config;
use caic_server::Server;
use common::{docker, kind, Sse, SseMsg, World};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn config(world: &World) -> Config {
    Config {
        listen: "127.0.0.1:0".into(),
        repos_root: Some(world.root.clone()),
        cache_dir: Some(world.cache.clone()),
        config_dir: world.config.clone(),
        ..Default::default()
    }
}

async fn sse(http: &reqwest::Client, url: String) -> Result<Sse> {
    let r = http
        .get(&url)
        .header("accept", "text/event-stream")
        .send()
        .await?;
    anyhow::ensure!(r.status() == 200, "{url}: {}", r.status());
    Ok(Sse::new(r))
}

/// Reads until the stream ends; fails if it does not end within `within`.
async fn until_end(s: &mut Sse, within: Duration) -> Result<()> {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if s.next(left).await?.is_none() {
            return Ok(());
        }
    }
}

fn seq(m: &SseMsg) -> Option<u64> {
    m.data["seq"].as_u64()
}

#[test]
fn stop_is_bounded_leaves_no_job_and_the_next_server_adopts_the_task() -> Result<()> {
    // The server gets a runtime of its own, so every task alive on it is the server's;
    // the test's HTTP client runs on another.
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let client_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let world = World::new();
    let http = reqwest::Client::new();

    let server = server_rt.block_on(Server::start(config(&world)))?;
    let base = format!("http://{}", server.addrs[0]);
    let engine = server.engine.clone();

    // A task mid-turn: the fake agent streams its answer over 8 seconds.
    let (id, mut list, mut events, before) = client_rt.block_on(async {
        let r: Value = http
            .post(format!("{base}/api/v1/tasks"))
            .json(&json!({"repo": world.repo_id, "harness": "fake", "prompt": "FAKE_SLOW 8"}))
            .send()
            .await?
            .json()
            .await?;
        let id = r["id"].as_str().context("task id")?.to_string();
        let mut list = sse(&http, format!("{base}/api/v1/server/tasks/events")).await?;
        list.next(Duration::from_secs(10))
            .await?
            .context("task list snapshot")?;
        let mut events = sse(&http, format!("{base}/api/v1/tasks/{id}/events")).await?;
        let before = events
            .until(Duration::from_secs(120), |m| kind(m) == "textDelta")
            .await?;
        anyhow::Ok((id, list, events, before))
    })?;
    let container = docker(&["ps", "-q", "--filter", &format!("label=caic.task={id}")]);
    assert!(!container.is_empty(), "the task has a running container");

    // Stop with both streams open and the agent mid-turn.
    let t0 = Instant::now();
    server_rt.block_on(server.stop());
    let took = t0.elapsed();
    assert!(took < Duration::from_secs(2), "stop took {took:?}");
    assert_eq!(engine.background_jobs(), 0, "engine jobs left after stop");
    client_rt.block_on(async {
        until_end(&mut list, Duration::from_secs(2)).await?;
        until_end(&mut events, Duration::from_secs(2)).await
    })?;
    drop(engine);
    // Nothing of the server is left on its runtime (listeners, connections, sessions,
    // SSH links, watchers): wait for the count to reach zero.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let alive = server_rt.metrics().num_alive_tasks();
        if alive == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{alive} tasks still alive on the server's runtime after stop"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let still = docker(&["ps", "-q", "--filter", &format!("label=caic.task={id}")]);
    assert_eq!(still, container, "the container keeps running after stop");

    // A new server on the same dirs adopts the container; the turn ends there.
    let server = server_rt.block_on(Server::start(config(&world)))?;
    let base = format!("http://{}", server.addrs[0]);
    let after = client_rt.block_on(async {
        let mut events = sse(&http, format!("{base}/api/v1/tasks/{id}/events")).await?;
        events
            .until(Duration::from_secs(60), |m| kind(m) == "result")
            .await
    })?;
    // Every event seen before the stop is in the new history, unchanged, and the
    // history has no gap or repeat. (Deltas superseded by the final text are dropped
    // from replays by design, and logs keep times to the second, so compare the rest.)
    let after_seqs: Vec<u64> = after.iter().filter_map(seq).collect();
    for m in before.iter().filter(|m| seq(m).is_some()) {
        if kind(m) == "textDelta" {
            continue;
        }
        let again = after
            .iter()
            .find(|a| seq(a) == seq(m))
            .with_context(|| format!("event lost: {:?}", m.data))?;
        let (mut was, mut now) = (m.data.clone(), again.data.clone());
        let (t0, t1) = (was["ts"].as_i64(), now["ts"].as_i64());
        assert!(
            matches!((t0, t1), (Some(a), Some(b)) if (a - b).abs() < 1000),
            "time moved: {t0:?} -> {t1:?}"
        );
        was["ts"] = Value::Null;
        now["ts"] = Value::Null;
        assert_eq!(now, was, "event changed");
    }
    assert!(
        after_seqs.windows(2).all(|w| w[0] < w[1]),
        "events out of order or repeated: {after_seqs:?}"
    );
    let text: Vec<&str> = after
        .iter()
        .filter(|m| kind(m) == "text")
        .filter_map(|m| m.data["text"].as_str())
        .collect();
    assert!(
        text.iter()
            .any(|t| t.contains("Working slowly for 8 seconds... done.")),
        "the whole answer arrived after adoption: {text:?}"
    );
    let r = after.last().unwrap();
    assert_eq!(r.data["isError"], json!(false), "{r:?}");
    server_rt.block_on(server.stop());
    Ok(())
}
