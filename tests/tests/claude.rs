//! The `claude` harness end to end: a real `caic serve`, a real task container running
//! the real Claude Code CLI (the one baked into the caic image), talking to a scripted
//! mock of the Anthropic Messages API on this host.
//!
//! The CLI gets its endpoint and a fake key from `[harness.claude.env]` in caic's config,
//! the way a user configures a provider; every other host it might try is routed to the
//! mock as an HTTPS proxy, which refuses it at once, so the suite is fully offline.

mod common;

use caic_e2e::mock_anthropic::{MockAnthropic, Reply, Script, PLAN_FILE};
use common::{docker, kind, next_result, of_kind, Caic, World};
use serde_json::{json, Value};
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
    world.write_config(&mock.caic_config(&key));
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
    // The context window is the one the CLI reports for the model, not a guess.
    let window = result["contextWindow"].as_u64().unwrap_or(0);
    assert!(window > 0, "no contextWindow in {result}");
    assert_eq!(t["contextWindowLimit"], window, "{t}");
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
    world.write_config(&mock.caic_config(&key));
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

/// `AskUserQuestion` end to end: the `ask` event, the task in `asking` while the CLI
/// waits mid-turn, the user's answer sent as normal input, and the same turn going on
/// with the answer in the model's next request.
#[tokio::test(flavor = "multi_thread")]
async fn claude_ask_flow_answer_reaches_the_model() -> anyhow::Result<()> {
    let world = World::new();
    let mock = MockAnthropic::start(Script::new(vec![
        Reply::tool_use(
            "AskUserQuestion",
            json!({"questions": [{
                "question": "Which language should the demo use?",
                "header": "Language",
                "multiSelect": false,
                "options": [
                    {"label": "Rust", "description": "Fast and safe"},
                    {"label": "Python", "description": "Quick to write"}
                ]
            }]}),
        ),
        Reply::text("Python it is."),
    ]))
    .await?;
    let key = fake_key(&world);
    world.write_config(&mock.caic_config(&key));
    let caic = Caic::start(&world).await?;

    let id = caic
        .create("claude", "Write a demo; ask me the language")
        .await?;
    let mut ev = caic.sse(&format!("/api/v1/tasks/{id}/events")).await?;
    let asked = ev
        .until(LONG, |m| kind(m) == "ask")
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", caic.log_tail()));
    let ask = *of_kind(&asked, "ask").last().unwrap();
    assert_eq!(
        ask["questions"][0]["question"],
        "Which language should the demo use?"
    );
    assert_eq!(ask["questions"][0]["options"][1]["label"], "Python");
    // The CLI waits in the middle of its turn: no result, the task asks.
    caic.wait_state(&id, &["asking"], TURN).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(caic.task(&id).await?["state"], "asking");
    assert_eq!(mock.main_requests().len(), 1);

    caic.input(&id, "Python").await?;
    let rest = next_result(&mut ev, &caic, TURN).await;
    let answers: Vec<_> = of_kind(&rest, "userInput");
    assert_eq!(answers.len(), 1, "{rest:?}");
    assert_eq!(answers[0]["text"], "Python");
    let results = of_kind(&rest, "toolResult");
    assert_eq!(results.len(), 1, "{rest:?}");
    assert_eq!(results[0]["toolUseId"], ask["toolUseId"]);
    let result = *of_kind(&rest, "result").last().unwrap();
    assert_eq!(result["subtype"], "success", "{result}");
    assert_eq!(result["result"], "Python it is.", "{result}");
    // One query: the question and the answer are the same turn.
    assert!(of_kind(&rest, "init").is_empty(), "{rest:?}");
    let t = caic.wait_state(&id, &["waiting"], TURN).await?;
    assert_eq!(t["numTurns"], 2, "{t}");

    // The model got the answer in the tool result of its next request.
    let main = mock.main_requests();
    assert_eq!(main.len(), 2, "{main:?}");
    let sent = mock.tool_results();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].tool_use_id, ask["toolUseId"].as_str().unwrap());
    assert!(!sent[0].is_error, "{sent:?}");
    assert!(
        sent[0]
            .content
            .contains("\"Which language should the demo use?\"=\"Python\""),
        "{}",
        sent[0].content
    );

    let container = t["container"].as_str().unwrap().to_string();
    assert_no_leak(&key, &container, &caic, &world);
    let (status, _) = caic.post(&format!("/api/v1/tasks/{id}/purge"), "").await?;
    assert_eq!(status, 200);
    caic.wait_state(&id, &["purged"], LONG).await?;
    caic.kill().await;
    Ok(())
}

/// Plan mode end to end: the model writes its plan file and calls `ExitPlanMode`; the
/// task shows the plan and waits in `has_plan`. "Clear and execute plan" restarts the
/// agent: a `context_cleared` marker, a fresh session whose first message is the plan
/// (nothing of the planning conversation), the history kept, and the new session runs
/// tools (a todo list, a file).
#[tokio::test(flavor = "multi_thread")]
async fn claude_plan_flow_clear_and_execute() -> anyhow::Result<()> {
    let world = World::new();
    let plan_text = "# Plan\n\n1. Create plan.txt\n";
    let mock = MockAnthropic::start(Script::new(vec![
        Reply::tool_use("EnterPlanMode", json!({})),
        Reply::tool_use(
            "Write",
            json!({"file_path": PLAN_FILE, "content": plan_text}),
        ),
        Reply::tool_use("ExitPlanMode", json!({})),
        // The new session, after restart.
        Reply::tool_use(
            "TodoWrite",
            json!({"todos": [
                {"content": "Create plan.txt", "status": "in_progress", "activeForm": "Creating plan.txt"}
            ]}),
        ),
        Reply::tool_use(
            "Bash",
            json!({"command": "echo executed > plan.txt", "description": "Create plan.txt"}),
        ),
        Reply::text("Plan executed."),
    ]))
    .await?;
    let key = fake_key(&world);
    world.write_config(&mock.caic_config(&key));
    let caic = Caic::start(&world).await?;

    let id = caic.create("claude", "Plan first: create plan.txt").await?;
    let mut ev = caic.sse(&format!("/api/v1/tasks/{id}/events")).await?;
    let planned = ev
        .until(LONG, |m| {
            kind(m) == "toolUse" && m.data["name"] == "ExitPlanMode"
        })
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", caic.log_tail()));
    let exit = planned.last().unwrap().data.clone();
    assert_eq!(exit["input"]["plan"], plan_text, "{exit}");
    let first_session = of_kind(&planned, "init")[0]["sessionId"].clone();
    let t = caic.wait_state(&id, &["has_plan"], TURN).await?;
    let container = t["container"].as_str().unwrap().to_string();
    assert_eq!(mock.main_requests().len(), 3);

    // "Clear and execute plan", as the UI sends it.
    let prompt = format!("Execute this plan:\n\n{plan_text}");
    let (status, v) = caic
        .post(
            &format!("/api/v1/tasks/{id}/restart"),
            &json!({"prompt": {"text": prompt}}).to_string(),
        )
        .await?;
    assert_eq!(status, 200, "{v}\n{}", caic.log_tail());
    let after = ev
        .until(TURN, |m| {
            m.event == "message" && kind(m) == "result" && m.data["subtype"] == "success"
        })
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", caic.log_tail()));
    let cleared: Vec<_> = of_kind(&after, "system")
        .into_iter()
        .filter(|s| s["subtype"] == "context_cleared")
        .collect();
    assert_eq!(cleared.len(), 1, "{after:?}");
    let at = |pred: &dyn Fn(&Value) -> bool| after.iter().position(|m| pred(&m.data)).unwrap();
    let cleared_at = at(&|d| d["subtype"] == "context_cleared");
    let prompt_at = at(&|d| d["kind"] == "userInput" && d["text"] == prompt.as_str());
    assert!(cleared_at < prompt_at, "{after:?}");
    let init2 = of_kind(&after, "init");
    assert!(!init2.is_empty(), "{after:?}");
    assert_ne!(init2[0]["sessionId"], first_session, "not a fresh session");
    let todos = of_kind(&after, "todo");
    assert_eq!(todos.len(), 1, "{after:?}");
    assert_eq!(todos[0]["todos"][0]["content"], "Create plan.txt");
    assert_eq!(todos[0]["todos"][0]["status"], "in_progress");
    let result = *of_kind(&after, "result").last().unwrap();
    assert_eq!(result["result"], "Plan executed.", "{result}");
    let t = caic.wait_state(&id, &["waiting"], TURN).await?;

    // The new session's first model request starts from the plan alone.
    let main = mock.main_requests();
    assert_eq!(main.len(), 6, "{main:?}");
    let fresh = &main[3].body["messages"];
    let whole = fresh.to_string();
    assert!(whole.contains("Execute this plan:"), "{whole}");
    assert!(whole.contains("1. Create plan.txt"), "{whole}");
    // No assistant turn yet: the conversation starts here.
    assert!(
        !fresh
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["role"] == "assistant"),
        "{whole}"
    );
    assert!(!whole.contains("Plan first: create plan.txt"), "{whole}");
    // Nothing of the planning session's tool calls.
    for (i, u) in of_kind(&planned, "toolUse").iter().enumerate() {
        let tool_id = u["toolUseId"].as_str().unwrap();
        assert!(
            !whole.contains(tool_id),
            "call {i} ({tool_id}) is still there: {whole}"
        );
    }
    // The work happened, in the same container.
    let cwd = format!("/home/user/src/{}", world.repo_id);
    let out = docker(&[
        "exec",
        "-u",
        "1000",
        &container,
        "cat",
        &format!("{cwd}/plan.txt"),
    ]);
    assert_eq!(out, "executed");
    // History kept: a new subscriber replays the planning turn, the marker, the rest.
    let mut replay = caic.sse(&format!("/api/v1/tasks/{id}/events")).await?;
    let all = replay
        .until(TURN, |m| m.event == "ready")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<_> = of_kind(&all, "toolUse")
        .iter()
        .map(|u| u["name"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(names.contains(&"ExitPlanMode".to_string()), "{names:?}");
    assert!(names.contains(&"Bash".to_string()), "{names:?}");
    assert_eq!(t["container"], container.as_str());

    assert_no_leak(&key, &container, &caic, &world);
    let (status, _) = caic.post(&format!("/api/v1/tasks/{id}/purge"), "").await?;
    assert_eq!(status, 200);
    caic.wait_state(&id, &["purged"], LONG).await?;
    caic.kill().await;
    Ok(())
}
