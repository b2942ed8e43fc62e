//! The `gemini` harness end to end: a real `caic serve`, a real task container running the
//! real Gemini CLI (the one baked into the caic image) through caic's per-turn runner,
//! talking to a scripted mock of the Gemini API on this host.
//!
//! The CLI gets its endpoint and a fake key from `[harness.gemini.env]` in caic's config;
//! every other host it might try is routed to the mock as an HTTPS proxy, which refuses it.

mod common;

use caic_e2e::mock_gemini::{MockGemini, Reply};
use common::{docker, kind, next_result, of_kind, Caic, World};
use serde_json::json;
use std::time::{Duration, Instant};

/// Provisioning; the first task on a fresh machine also builds the image.
const LONG: Duration = Duration::from_secs(900);
/// One agent turn against the mock.
const TURN: Duration = Duration::from_secs(120);
/// The Gemini CLI version the caic image installs.
const GEMINI_VERSION: &str = "0.61.0";

#[tokio::test(flavor = "multi_thread")]
async fn gemini_real_cli_in_container_runs_tools_and_resumes() -> anyhow::Result<()> {
    let t0 = Instant::now();
    let world = World::new();
    let mock = MockGemini::start(vec![
        Reply::Call {
            name: "run_shell_command".into(),
            args: json!({"command": "echo from-gemini > proof.txt && cat proof.txt",
                         "description": "Write proof.txt"}),
        },
        Reply::Call {
            name: "write_file".into(),
            args: json!({"file_path": "notes.md", "content": "# Notes\nwritten by gemini\n"}),
        },
        Reply::Text("I wrote proof.txt.".into()),
        Reply::Text("Second turn answer.".into()),
        Reply::Text("Resumed answer.".into()),
    ])
    .await?;
    let key = format!("gm-test-{}-0123456789abcdef", world.repo_id);
    let url = mock.base_url_for_container();
    world.write_config(&format!(
        r#"[harness.gemini.env]
GOOGLE_GEMINI_BASE_URL = "{url}"
GEMINI_API_KEY = "{key}"
HTTPS_PROXY = "{url}"
HTTP_PROXY = "{url}"
NO_PROXY = "host.docker.internal,127.0.0.1,localhost"
"#
    ));
    let caic = Caic::start(&world).await?;

    let id = caic.create("gemini", "Write proof.txt please").await?;
    let mut ev = caic.sse(&format!("/api/v1/tasks/{id}/events")).await?;
    let first = next_result(&mut ev, &caic, LONG).await;

    let init = of_kind(&first, "init");
    assert_eq!(init.len(), 1, "{first:?}");
    assert_eq!(init[0]["agentVersion"], GEMINI_VERSION, "{}", init[0]);
    let cwd = format!("/home/user/src/{}", world.repo_id);
    assert_eq!(init[0]["cwd"], cwd.as_str(), "{}", init[0]);
    let session_id = init[0]["sessionId"].as_str().unwrap().to_string();
    assert!(!session_id.is_empty());
    assert!(
        of_kind(&first, "userInput")
            .iter()
            .any(|u| u["text"] == "Write proof.txt please"),
        "{first:?}"
    );
    let uses = of_kind(&first, "toolUse");
    assert_eq!(uses.len(), 2, "{first:?}");
    assert_eq!(uses[0]["name"], "Bash");
    assert_eq!(
        uses[0]["input"]["command"],
        "echo from-gemini > proof.txt && cat proof.txt"
    );
    assert_eq!(uses[1]["name"], "Write", "{}", uses[1]);
    let results = of_kind(&first, "toolResult");
    assert_eq!(results.len(), 2, "{first:?}");
    assert_eq!(results[0]["toolUseId"], uses[0]["toolUseId"]);
    assert!(results[0]["error"].is_null(), "{}", results[0]);
    assert!(
        results[0]["output"]
            .as_str()
            .unwrap_or_default()
            .contains("from-gemini"),
        "{}",
        results[0]
    );
    assert!(results[1]["error"].is_null(), "{}", results[1]);
    assert!(
        of_kind(&first, "text")
            .iter()
            .any(|t| t["text"] == "I wrote proof.txt."),
        "{first:?}"
    );
    assert!(!of_kind(&first, "textDelta").is_empty(), "no text deltas");
    let usage = of_kind(&first, "usage");
    assert_eq!(usage.len(), 1, "{first:?}");
    let result = *of_kind(&first, "result").last().unwrap();
    assert_eq!(result["subtype"], "success", "{result}");
    assert_eq!(result["isError"], false, "{result}");
    assert_eq!(result["result"], "I wrote proof.txt.", "{result}");
    assert!(
        result["usage"]["outputTokens"].as_u64().unwrap() > 0,
        "{result}"
    );
    assert!(of_kind(&first, "error").is_empty(), "{first:?}");

    let t = caic.wait_turns(&id, 1, TURN).await?;
    assert_eq!(t["agentVersion"], GEMINI_VERSION, "{t}");
    assert_eq!(t["sessionId"], session_id.as_str(), "{t}");
    let container = t["container"].as_str().unwrap().to_string();

    // The command really ran: the CLI sent its output back to the model...
    let outs = mock.function_responses();
    assert_eq!(outs.len(), 2, "{outs:?}");
    assert_eq!(outs[0].name, "run_shell_command");
    assert!(
        outs[0].response.to_string().contains("from-gemini"),
        "{outs:?}"
    );
    assert_eq!(
        mock.main_requests()[0].header("x-goog-api-key"),
        Some("<redacted>")
    );
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
    assert_eq!(cat("proof.txt"), "from-gemini");
    assert!(cat("notes.md").contains("written by gemini"));
    // ...and in the task's diff.
    let (status, diff) = caic.get(&format!("/api/v1/tasks/{id}/diff")).await?;
    assert_eq!(status, 200, "{diff}");
    let text = diff["diff"].as_str().unwrap();
    assert!(text.contains("+from-gemini"), "{diff}");
    assert!(text.contains("+written by gemini"), "{diff}");

    // A follow-up turn: a new CLI process under the same runner, same session.
    caic.input(&id, "And now?").await?;
    let second = next_result(&mut ev, &caic, TURN).await;
    let init2 = of_kind(&second, "init");
    assert_eq!(init2.len(), 1, "{second:?}");
    assert_eq!(init2[0]["sessionId"], session_id.as_str());
    let result = *of_kind(&second, "result").last().unwrap();
    assert_eq!(result["result"], "Second turn answer.", "{result}");
    assert!(
        !second.iter().any(|m| kind(m) == "log"
            && m.data["line"]
                .as_str()
                .unwrap_or_default()
                .contains("agent exited")),
        "the runner restarted: {second:?}"
    );
    caic.wait_turns(&id, 2, TURN).await?;

    // The runner dies while idle; input resumes the same session in a new one.
    docker(&[
        "exec",
        "-u",
        "1000",
        &container,
        "pkill",
        "-KILL",
        "-f",
        "gemini_runner.py",
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
    let result = *of_kind(&third, "result").last().unwrap();
    assert_eq!(result["result"], "Resumed answer.", "{result}");
    // The model saw the earlier turns again: the session was resumed.
    let history = mock.main_requests().last().unwrap().body["contents"].to_string();
    assert!(history.contains("Write proof.txt please"), "{history}");
    assert!(history.contains("Which file?"), "{history}");
    assert_eq!(mock.remaining(), 0);

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
