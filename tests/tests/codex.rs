//! The `codex` harness end to end: a real `caic serve`, a real task container running the
//! real Codex CLI (the one baked into the caic image) through caic's bridge to
//! `codex app-server`, talking to a scripted mock of the OpenAI Responses API on this host.
//!
//! The CLI gets its endpoint and a fake key from `[harness.codex.env]` in caic's config;
//! every other host it might try is routed to the mock as an HTTPS proxy, which refuses it.

mod common;

use caic_e2e::mock_openai::{MockOpenAi, Reply};
use common::{docker, kind, next_result, of_kind, Caic, World};
use std::time::{Duration, Instant};

/// Provisioning; the first task on a fresh machine also builds the image.
const LONG: Duration = Duration::from_secs(900);
/// One agent turn against the mock.
const TURN: Duration = Duration::from_secs(120);
/// The Codex CLI version the caic image installs.
const CODEX_VERSION: &str = "0.171.0";

#[tokio::test(flavor = "multi_thread")]
async fn codex_real_cli_in_container_runs_tools_and_resumes() -> anyhow::Result<()> {
    let t0 = Instant::now();
    let world = World::new();
    let mock = MockOpenAi::start(vec![
        Reply::Exec {
            reasoning: "Write the file with a shell command.".into(),
            cmd: "echo from-codex > proof.txt && cat proof.txt".into(),
        },
        Reply::ApplyPatch(
            "*** Begin Patch\n*** Add File: notes.md\n+# Notes\n+written by codex\n*** End Patch\n"
                .into(),
        ),
        Reply::Text("I wrote proof.txt.".into()),
        Reply::Text("Second turn answer.".into()),
        Reply::Text("Resumed answer.".into()),
    ])
    .await?;
    let key = format!("sk-test-{}-0123456789abcdef", world.repo_id);
    world.write_config(&mock.caic_config(&key));
    let caic = Caic::start(&world).await?;

    let id = caic.create("codex", "Write proof.txt please").await?;
    let mut ev = caic.sse(&format!("/api/v1/tasks/{id}/events")).await?;
    let first = next_result(&mut ev, &caic, LONG).await;

    let init = of_kind(&first, "init");
    assert_eq!(init.len(), 1, "{first:?}");
    assert_eq!(init[0]["agentVersion"], CODEX_VERSION, "{}", init[0]);
    let cwd = format!("/home/user/src/{}", world.repo_id);
    assert_eq!(init[0]["cwd"], cwd.as_str(), "{}", init[0]);
    let session_id = init[0]["sessionId"].as_str().unwrap().to_string();
    assert!(!session_id.is_empty());
    let inputs = of_kind(&first, "userInput");
    assert!(
        inputs.iter().any(|u| u["text"] == "Write proof.txt please"),
        "{inputs:?}"
    );
    assert!(
        of_kind(&first, "thinking")
            .iter()
            .any(|t| t["text"] == "Write the file with a shell command."),
        "{first:?}"
    );
    let uses = of_kind(&first, "toolUse");
    assert_eq!(uses.len(), 2, "{first:?}");
    assert_eq!(uses[0]["name"], "Bash");
    assert_eq!(
        uses[0]["input"]["command"],
        "echo from-codex > proof.txt && cat proof.txt"
    );
    assert_eq!(uses[1]["name"], "Write", "{}", uses[1]);
    assert_eq!(
        uses[1]["input"]["file_path"],
        format!("{cwd}/notes.md").as_str()
    );
    let results = of_kind(&first, "toolResult");
    assert_eq!(results.len(), 2, "{first:?}");
    assert_eq!(results[0]["toolUseId"], uses[0]["toolUseId"]);
    assert!(results[0]["error"].is_null(), "{}", results[0]);
    assert!(
        results[0]["output"]
            .as_str()
            .unwrap_or_default()
            .contains("from-codex"),
        "{}",
        results[0]
    );
    assert!(
        of_kind(&first, "text")
            .iter()
            .any(|t| t["text"] == "I wrote proof.txt."),
        "{first:?}"
    );
    assert!(!of_kind(&first, "textDelta").is_empty(), "no text deltas");
    assert_eq!(of_kind(&first, "usage").len(), 3, "{first:?}");
    assert!(
        of_kind(&first, "system")
            .iter()
            .any(|s| s["subtype"] == "cost_estimated"),
        "{first:?}"
    );
    let result = *of_kind(&first, "result").last().unwrap();
    assert_eq!(result["subtype"], "success", "{result}");
    assert_eq!(result["isError"], false, "{result}");
    assert_eq!(result["result"], "I wrote proof.txt.", "{result}");
    assert!(result["totalCostUsd"].as_f64().unwrap() > 0.0, "{result}");
    assert!(of_kind(&first, "error").is_empty(), "{first:?}");

    let t = caic.wait_turns(&id, 3, TURN).await?;
    assert_eq!(t["agentVersion"], CODEX_VERSION, "{t}");
    assert_eq!(t["sessionId"], session_id.as_str(), "{t}");
    assert!(t["costUsd"].as_f64().unwrap() > 0.0, "{t}");
    let container = t["container"].as_str().unwrap().to_string();

    // The command really ran: Codex sent its output back to the model...
    let outs = mock.tool_outputs();
    assert_eq!(outs.len(), 2, "{outs:?}");
    assert!(outs[0].output.contains("from-codex"), "{outs:?}");
    let main = mock.main_requests();
    assert_eq!(main[0].header("authorization"), Some("<redacted>"));
    // ...the files are in the container's checkout...
    let cat = |f: &str| {
        docker(&[
            "exec",
            "-u",
            "1000",
            &container,
            "cat",
            &format!("{cwd}/{f}"),
        ])
    };
    assert_eq!(cat("proof.txt"), "from-codex");
    assert!(cat("notes.md").contains("written by codex"));
    // ...and in the task's diff.
    let (status, diff) = caic.get(&format!("/api/v1/tasks/{id}/diff")).await?;
    assert_eq!(status, 200, "{diff}");
    let text = diff["diff"].as_str().unwrap();
    assert!(text.contains("+from-codex"), "{diff}");
    assert!(text.contains("+written by codex"), "{diff}");

    // A follow-up turn on the same agent process.
    caic.input(&id, "And now?").await?;
    let second = next_result(&mut ev, &caic, TURN).await;
    assert!(of_kind(&second, "init").is_empty(), "{second:?}");
    let result = *of_kind(&second, "result").last().unwrap();
    assert_eq!(result["result"], "Second turn answer.", "{result}");
    caic.wait_turns(&id, 4, TURN).await?;

    // The agent dies while idle; input resumes the same thread in a new process.
    docker(&[
        "exec",
        "-u",
        "1000",
        &container,
        "pkill",
        "-KILL",
        "-f",
        "codex app-server",
    ]);
    ev.until(TURN, |m| {
        kind(m) == "log"
            && m.data["line"]
                .as_str()
                .unwrap_or_default()
                .contains("agent exited")
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", caic.log_tail()));
    caic.wait_state(&id, &["waiting"], TURN).await?;
    caic.input(&id, "Which file?").await?;
    let third = next_result(&mut ev, &caic, TURN).await;
    let init3 = of_kind(&third, "init");
    assert_eq!(init3.len(), 1, "{third:?}");
    assert_eq!(init3[0]["sessionId"], session_id.as_str(), "{}", init3[0]);
    assert!(
        !of_kind(&third, "system")
            .iter()
            .any(|s| s["subtype"] == "resume_failed"),
        "{third:?}"
    );
    let result = *of_kind(&third, "result").last().unwrap();
    assert_eq!(result["result"], "Resumed answer.", "{result}");
    // The model saw the earlier turns again: the thread was resumed.
    let main = mock.main_requests();
    let history = main.last().unwrap().body["input"].to_string();
    assert!(history.contains("Write proof.txt please"), "{history}");
    assert!(history.contains("Which file?"), "{history}");
    assert_eq!(mock.remaining(), 0);

    // No credential in the container's config or in caic's log.
    assert!(!docker(&["inspect", &container]).contains(&key));
    let log = std::fs::read_to_string(&caic.stderr_log).unwrap();
    assert!(!log.contains(&key), "the API key is in caic's log");

    let (status, _) = caic.post(&format!("/api/v1/tasks/{id}/purge"), "").await?;
    assert_eq!(status, 200);
    caic.wait_state(&id, &["purged"], LONG).await?;
    eprintln!("total {:?}", t0.elapsed());
    caic.kill().await;
    Ok(())
}
