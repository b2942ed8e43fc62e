//! The `claude` harness end to end: a real `caic serve`, a real task container running
//! the real Claude Code CLI (the one baked into the caic image), talking to a scripted
//! mock of the Anthropic Messages API on this host.
//!
//! The CLI gets its endpoint and a fake key from `[harness.claude.env]` in caic's config,
//! the way a user configures a provider; every other host it might try is routed to the
//! mock as an HTTPS proxy, which refuses it at once, so the suite is fully offline.

mod common;

use caic_e2e::mock_anthropic::{MockAnthropic, Reply, Script};
use common::{docker, kind, next_result, of_kind, Caic, World};
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};

/// Provisioning: container creation, SSH, repo push, agent start; the first task on a
/// fresh machine also builds the image.
const LONG: Duration = Duration::from_secs(600);
/// One agent turn against the mock.
const TURN: Duration = Duration::from_secs(120);
/// The Claude Code version the caic image installs.
const CLAUDE_VERSION: &str = "2.1.332";

/// A fake key unique to this world, so a leak cannot be confused with another test's.
fn fake_key(world: &World) -> String {
    format!("sk-ant-test-{}-0123456789abcdef", world.repo_id)
}

/// Points the claude harness at `mock`, with proxy env that keeps the CLI offline.
fn claude_config(mock: &MockAnthropic, key: &str) -> String {
    let url = mock.base_url_for_container();
    format!(
        r#"[harness.claude.env]
ANTHROPIC_BASE_URL = "{url}"
ANTHROPIC_API_KEY = "{key}"
HTTPS_PROXY = "{url}"
HTTP_PROXY = "{url}"
NO_PROXY = "host.docker.internal,127.0.0.1,localhost"
"#
    )
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// The key must not appear in the container's config (env, labels), caic's log, or
/// the task logs.
fn assert_no_leak(key: &str, container: &str, caic: &Caic, world: &World) {
    let inspect = docker(&["inspect", container]);
    assert!(
        !inspect.contains(key),
        "the API key is in `docker inspect {container}`"
    );
    // Process argv is world-readable in the container; the relay's state is on disk.
    let ps = docker(&["exec", container, "ps", "-eo", "args"]);
    assert!(ps.contains("claude -p"), "{ps}");
    assert!(!ps.contains(key), "the API key is in a process's argv");
    let on_disk = std::process::Command::new("docker")
        .args(["exec", container, "grep", "-rlF", key, "/tmp/caic-relay"])
        .arg(format!("/home/user/src/{}", world.repo_id))
        .output()
        .unwrap();
    assert_eq!(
        on_disk.status.code(),
        Some(1),
        "the API key is on the container's disk: {}{}",
        String::from_utf8_lossy(&on_disk.stdout),
        String::from_utf8_lossy(&on_disk.stderr)
    );
    let log = std::fs::read_to_string(&caic.stderr_log).unwrap();
    assert!(
        log.contains("task started"),
        "caic's log is not there: {log}"
    );
    assert!(!log.contains(key), "the API key is in caic's log");
    let logs = files_under(&world.cache.join("logs"));
    assert!(!logs.is_empty(), "no task logs under {:?}", world.cache);
    for f in logs {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        assert!(!text.contains(key), "the API key is in {}", f.display());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn claude_real_cli_in_container_runs_a_tool_and_finishes() -> anyhow::Result<()> {
    let t0 = Instant::now();
    let world = World::new();
    let mock = MockAnthropic::start(Script::new(vec![
        Reply::tool_use(
            "Bash",
            json!({"command": "echo from-claude > proof.txt && cat proof.txt",
                   "description": "Write proof.txt"}),
        ),
        Reply::text("I wrote proof.txt."),
        Reply::text("Second turn answer."),
    ]))
    .await?;
    let key = fake_key(&world);
    world.write_config(&claude_config(&mock, &key));
    let caic = Caic::start(&world).await?;

    let id = caic.create("claude", "Write proof.txt please").await?;
    let mut ev = caic.sse(&format!("/api/v1/tasks/{id}/events")).await?;
    let first = next_result(&mut ev, &caic, LONG).await;
    let t_first = t0.elapsed();

    let init = of_kind(&first, "init");
    assert_eq!(init.len(), 1, "{first:?}");
    assert_eq!(init[0]["agentVersion"], CLAUDE_VERSION, "{}", init[0]);
    let cwd = format!("/home/user/src/{}", world.repo_id);
    assert_eq!(init[0]["cwd"], cwd.as_str(), "{}", init[0]);
    assert!(
        !init[0]["sessionId"].as_str().unwrap_or_default().is_empty(),
        "{}",
        init[0]
    );
    let inputs = of_kind(&first, "userInput");
    assert!(
        inputs.iter().any(|u| u["text"] == "Write proof.txt please"),
        "{inputs:?}"
    );
    let uses = of_kind(&first, "toolUse");
    assert_eq!(uses.len(), 1, "{first:?}");
    assert_eq!(uses[0]["name"], "Bash");
    assert_eq!(
        uses[0]["input"]["command"],
        "echo from-claude > proof.txt && cat proof.txt"
    );
    let use_id = uses[0]["toolUseId"].as_str().unwrap().to_string();
    let results = of_kind(&first, "toolResult");
    assert_eq!(results.len(), 1, "{first:?}");
    assert_eq!(results[0]["toolUseId"], use_id.as_str());
    assert!(results[0]["error"].is_null(), "{}", results[0]);
    assert!(
        results[0]["output"]
            .as_str()
            .unwrap_or_default()
            .contains("from-claude"),
        "{}",
        results[0]
    );
    let texts = of_kind(&first, "text");
    assert!(
        texts.iter().any(|t| t["text"] == "I wrote proof.txt."),
        "{texts:?}"
    );
    assert!(
        !of_kind(&first, "textDelta").is_empty(),
        "no streamed text deltas"
    );
    let result = *of_kind(&first, "result").last().unwrap();
    assert_eq!(result["subtype"], "success", "{result}");
    assert_eq!(result["isError"], false, "{result}");
    assert_eq!(result["result"], "I wrote proof.txt.", "{result}");
    assert!(of_kind(&first, "error").is_empty(), "{first:?}");

    // Two model turns: the tool call, then the answer.
    let t = caic.wait_turns(&id, 2, TURN).await?;
    assert_eq!(t["numTurns"], 2, "{t}");
    assert_eq!(t["agentVersion"], CLAUDE_VERSION, "{t}");
    assert_eq!(t["sessionId"], init[0]["sessionId"], "{t}");
    let container = t["container"].as_str().unwrap().to_string();

    // The command really ran: the CLI sent its output back to the model...
    let sent = mock.tool_results();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].tool_use_id, use_id);
    assert!(!sent[0].is_error, "{sent:?}");
    assert!(sent[0].content.contains("from-claude"), "{sent:?}");
    // ...and authenticated with the configured key (the mock redacts its value).
    let main = mock.main_requests();
    assert_eq!(main.len(), 2, "{main:?}");
    assert_eq!(main[0].header("x-api-key"), Some("<redacted>"));
    // ...the file is in the container's checkout...
    let proof = docker(&[
        "exec",
        "-u",
        "1000",
        &container,
        "cat",
        &format!("{cwd}/proof.txt"),
    ]);
    assert_eq!(proof, "from-claude");
    // ...and in the task's diff.
    let (status, diff) = caic.get(&format!("/api/v1/tasks/{id}/diff")).await?;
    assert_eq!(status, 200, "{diff}");
    assert!(
        diff["diff"].as_str().unwrap().contains("+from-claude"),
        "{diff}"
    );
    assert!(
        diff["diffStat"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["path"] == "proof.txt"),
        "{diff}"
    );

    // A follow-up turn on the same agent process.
    let (status, v) = caic
        .post(
            &format!("/api/v1/tasks/{id}/input"),
            &json!({"prompt": {"text": "And now?"}}).to_string(),
        )
        .await?;
    assert_eq!(status, 200, "{v}");
    let second = next_result(&mut ev, &caic, TURN).await;
    let t_second = t0.elapsed();
    // The same process answers: Claude Code repeats its init at each query, with the
    // same session id, and no agent exit was logged in between.
    for init2 in of_kind(&second, "init") {
        assert_eq!(init2["sessionId"], init[0]["sessionId"], "{init2}");
    }
    assert!(
        !second.iter().any(|m| kind(m) == "log"
            && m.data["line"]
                .as_str()
                .unwrap_or_default()
                .contains("agent exited")),
        "the agent restarted: {second:?}"
    );
    let result = *of_kind(&second, "result").last().unwrap();
    assert_eq!(result["result"], "Second turn answer.", "{result}");
    let t = caic.wait_state(&id, &["waiting"], TURN).await?;
    // Claude Code's `num_turns` counts the model turns of one query (2, then 1); caic
    // shows the running total.
    assert_eq!(t["numTurns"], 3, "{t}");
    assert!(t["costUsd"].as_f64().unwrap() > 0.0, "{t}");
    let main = mock.main_requests();
    assert_eq!(main.len(), 3, "{main:?}");
    assert_eq!(mock.remaining(), 0);
    let stray = mock.unknown_requests();
    if !stray.is_empty() {
        eprintln!(
            "the CLI tried other hosts (refused by the mock): {:?}",
            stray.iter().map(|r| &r.path).collect::<Vec<_>>()
        );
    }

    // No credential leaked into the container's config, caic's log or the task logs.
    assert_no_leak(&key, &container, &caic, &world);

    let (status, _) = caic.post(&format!("/api/v1/tasks/{id}/purge"), "").await?;
    assert_eq!(status, 200);
    caic.wait_state(&id, &["purged"], LONG).await?;
    let gone = std::process::Command::new("docker")
        .args(["inspect", &container])
        .output()?;
    assert!(!gone.status.success(), "container {container} still exists");
    assert_no_leak_after_purge(&key, &caic, &world);
    eprintln!(
        "timings: first result {t_first:?}, second result {t_second:?}, total {:?}",
        t0.elapsed()
    );
    caic.kill().await;
    Ok(())
}

/// After purge only the host side remains to check.
fn assert_no_leak_after_purge(key: &str, caic: &Caic, world: &World) {
    let log = std::fs::read_to_string(&caic.stderr_log).unwrap();
    assert!(!log.contains(key), "the API key is in caic's log");
    for f in files_under(&world.cache.join("logs")) {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        assert!(!text.contains(key), "the API key is in {}", f.display());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn claude_resume_after_relay_is_gone() -> anyhow::Result<()> {
    let t0 = Instant::now();
    let world = World::new();
    let mock = MockAnthropic::start(Script::new(vec![
        Reply::text("Remember the word PELICAN."),
        Reply::text("The word was PELICAN."),
    ]))
    .await?;
    let key = fake_key(&world);
    world.write_config(&claude_config(&mock, &key));
    let caic = Caic::start(&world).await?;

    let id = caic.create("claude", "Pick a word").await?;
    let mut ev = caic.sse(&format!("/api/v1/tasks/{id}/events")).await?;
    let first = next_result(&mut ev, &caic, LONG).await;
    let init = of_kind(&first, "init");
    assert_eq!(init.len(), 1, "{first:?}");
    let session_id = init[0]["sessionId"].as_str().unwrap().to_string();
    let t = caic.wait_turns(&id, 1, TURN).await?;
    let container = t["container"].as_str().unwrap().to_string();
    let first_cost = t["costUsd"].as_f64().unwrap();
    assert!(first_cost > 0.0, "{t}");

    // The agent process dies while idle (OOM killer, crash...).
    docker(&[
        "exec",
        "-u",
        "1000",
        &container,
        "pkill",
        "-KILL",
        "-f",
        "^claude -p",
    ]);
    let exited = ev
        .until(TURN, |m| {
            kind(m) == "log"
                && m.data["line"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("agent exited")
        })
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", caic.log_tail()));
    eprintln!("{}", exited.last().unwrap().data);
    caic.wait_state(&id, &["waiting"], TURN).await?;

    // Input starts a resumed session in a new segment.
    let (status, v) = caic
        .post(
            &format!("/api/v1/tasks/{id}/input"),
            &json!({"prompt": {"text": "Which word?"}}).to_string(),
        )
        .await?;
    assert_eq!(status, 200, "{v}\n{}", caic.log_tail());
    let ps = docker(&["exec", &container, "ps", "-eo", "args"]);
    assert!(
        ps.lines()
            .any(|l| l.starts_with("claude -p") && l.contains(&format!("--resume {session_id}"))),
        "no resumed claude process:\n{ps}"
    );
    let second = next_result(&mut ev, &caic, TURN).await;
    let result = *of_kind(&second, "result").last().unwrap();
    assert_eq!(result["subtype"], "success", "{result}");
    assert_eq!(result["result"], "The word was PELICAN.", "{result}");
    let init2 = of_kind(&second, "init");
    assert_eq!(init2.len(), 1, "{second:?}");
    assert_eq!(init2[0]["sessionId"], session_id.as_str(), "{}", init2[0]);
    // The task adds up both agent processes: one model turn each.
    let t = caic.wait_turns(&id, 2, TURN).await?;
    assert_eq!(t["numTurns"], 2, "{t}");
    assert!(t["costUsd"].as_f64().unwrap() > first_cost, "{t}");

    // The model saw the first turn again: the conversation was resumed, not restarted.
    let main = mock.main_requests();
    assert_eq!(main.len(), 2, "{main:?}");
    let history = main[1].body["messages"].to_string();
    assert!(history.contains("Pick a word"), "{history}");
    assert!(history.contains("Remember the word PELICAN."), "{history}");
    assert!(history.contains("Which word?"), "{history}");

    assert_no_leak(&key, &container, &caic, &world);
    let (status, _) = caic.post(&format!("/api/v1/tasks/{id}/purge"), "").await?;
    assert_eq!(status, 200);
    caic.wait_state(&id, &["purged"], LONG).await?;
    eprintln!("total {:?}", t0.elapsed());
    caic.kill().await;
    Ok(())
}
