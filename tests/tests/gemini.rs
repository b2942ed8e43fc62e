//! The `gemini` harness end to end: a real `caic serve`, a real task container running the
//! real Gemini CLI (the one baked into the caic image) through caic's per-turn runner,
//! talking to a scripted mock of the Gemini API on this host.
//!
//! The CLI gets its endpoint and a fake key from `[harness.gemini.env]` in caic's config;
//! every other host it might try is routed to the mock as an HTTPS proxy, which refuses it.
//!
//! With `CAIC_RECORD_GEMINI=<dir>`, each test also writes its task's raw relay lines to
//! `<dir>/recorded-*.ndjson`: the transcripts of the harness's golden tests
//! (crates/caic-harness/testdata/gemini).

mod common;

use caic_e2e::mock_gemini::{InlineData, MockGemini, Reply, USAGE};
use common::{docker, kind, next_result, of_kind, Caic, World};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Provisioning; the first task on a fresh machine also builds the image.
const LONG: Duration = Duration::from_secs(900);
/// One agent turn against the mock.
const TURN: Duration = Duration::from_secs(120);
/// The Gemini CLI version the caic image installs.
const GEMINI_VERSION: &str = "0.61.0";

/// A 1x1 PNG.
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

/// caic's config pointing the CLI at `mock` with a fake key; returns the key.
fn write_config(world: &World, mock: &MockGemini) -> String {
    let key = format!("gm-test-{}-0123456789abcdef", world.repo_id);
    world.write_config(&mock.caic_config(&key));
    key
}

/// USD the mock's answers to `models` cost at the rates of the harness's price table:
/// each answer reports [`USAGE`], thinking billed as output.
fn expected_cost(models: &[String]) -> f64 {
    let table: Value = serde_json::from_str(include_str!(
        "../../crates/caic-harness/src/gemini/prices.json"
    ))
    .unwrap();
    let u = USAGE;
    models
        .iter()
        .map(|m| {
            let p = &table["models"][m.as_str()];
            let rate = |k: &str| {
                p[k].as_f64()
                    .unwrap_or_else(|| panic!("{m} has no {k} in prices.json"))
            };
            ((u.prompt - u.cached) as f64 * rate("input")
                + u.cached as f64 * rate("cached_input")
                + (u.candidates + u.thoughts) as f64 * rate("output"))
                / 1_000_000.0
        })
        .sum()
}

/// With `CAIC_RECORD_GEMINI=<dir>`, writes the raw relay lines of the task's first
/// session segment (what the golden tests parse) to `<dir>/<name>.ndjson`.
fn record(world: &World, id: &str, name: &str) {
    let Ok(dir) = std::env::var("CAIC_RECORD_GEMINI") else {
        return;
    };
    let log = world.cache.join("logs").join(format!("{id}-000.jsonl"));
    let text = std::fs::read_to_string(&log).unwrap_or_else(|e| panic!("{log:?}: {e}"));
    let raw: String = text
        .lines()
        .filter(|l| !l.starts_with("{\"caic_"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(
        std::path::Path::new(&dir).join(format!("{name}.ndjson")),
        raw,
    )
    .unwrap();
}

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
    let key = write_config(&world, &mock);
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
    // Tokens are priced per model: the estimate matches what the mock answered.
    assert_eq!(
        of_kind(&first, "system")
            .iter()
            .filter(|s| s["subtype"] == "cost_estimated")
            .count(),
        1,
        "{first:?}"
    );
    let want = expected_cost(&mock.answered_models());
    let cost = result["totalCostUsd"].as_f64().unwrap();
    assert!(cost > 0.0 && (cost - want).abs() < 1e-9, "{cost} != {want}");

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
    record(&world, &id, "recorded-tools");

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

#[tokio::test(flavor = "multi_thread")]
async fn gemini_image_prompt_reaches_the_model_and_cost_is_estimated() -> anyhow::Result<()> {
    let world = World::new();
    let mock = MockGemini::start(vec![
        Reply::Text("A single pixel.".into()),
        Reply::Text("Still one pixel.".into()),
    ])
    .await?;
    write_config(&world, &mock);
    let caic = Caic::start(&world).await?;

    let body = json!({"repo": caic.repo, "harness": "gemini", "prompt": "What is in this image?",
                      "images": [{"mediaType": "image/png", "data": PNG}]});
    let (status, v) = caic.post("/api/v1/tasks", &body.to_string()).await?;
    assert_eq!(status, 200, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    let mut ev = caic.sse(&format!("/api/v1/tasks/{id}/events")).await?;
    let first = next_result(&mut ev, &caic, LONG).await;

    let input = of_kind(&first, "userInput");
    assert_eq!(input.len(), 1, "{first:?}");
    assert_eq!(input[0]["text"], "What is in this image?");
    assert_eq!(input[0]["images"], 1, "{}", input[0]);
    // The model got the image as an image part, bytes unchanged.
    assert_eq!(
        mock.inline_data(),
        [InlineData {
            mime_type: "image/png".into(),
            data: PNG.into()
        }]
    );
    let result = *of_kind(&first, "result").last().unwrap();
    assert_eq!(result["result"], "A single pixel.", "{result}");
    let answered = mock.answered_models();
    assert!(
        answered.iter().any(|m| m == "gemini-3.8-flash"),
        "auto routes to gemini-3.8-flash: {answered:?}"
    );
    let cost = result["totalCostUsd"].as_f64().unwrap();
    let want = expected_cost(&answered);
    assert!(cost > 0.0 && (cost - want).abs() < 1e-9, "{cost} != {want}");
    assert_eq!(
        result["usage"]["outputTokens"],
        answered.len() as u64 * (USAGE.candidates + USAGE.thoughts),
        "thinking is billed as output: {result}"
    );
    let estimated: Vec<_> = of_kind(&first, "system")
        .into_iter()
        .filter(|s| s["subtype"] == "cost_estimated")
        .collect();
    assert_eq!(estimated.len(), 1, "{first:?}");
    let detail = estimated[0]["detail"].as_str().unwrap();
    assert!(detail.contains("gemini-3.8-flash: input 0.75"), "{detail}");

    // The image is in neither the repo nor its diff, and its directory is gone.
    let t = caic.wait_turns(&id, 1, TURN).await?;
    let container = t["container"].as_str().unwrap().to_string();
    let cwd = format!("/home/user/src/{}", world.repo_id);
    let sh = |cmd: &str| docker(&["exec", "-u", "1000", &container, "sh", "-c", cmd]);
    assert_eq!(
        sh(&format!("git -C {cwd} status --porcelain --ignored")),
        ""
    );
    assert_eq!(
        sh("ls -A /home/user/.caic/gemini-images 2>/dev/null || true"),
        ""
    );
    let (status, diff) = caic.get(&format!("/api/v1/tasks/{id}/diff")).await?;
    assert_eq!(status, 200, "{diff}");
    let text = diff["diff"].as_str().unwrap_or_default();
    assert!(
        !text.contains("image-1") && !text.contains(".png"),
        "{diff}"
    );

    // A follow-up turn: the session still holds the image, and the cost adds up.
    caic.input(&id, "And now?").await?;
    let second = next_result(&mut ev, &caic, TURN).await;
    let result = *of_kind(&second, "result").last().unwrap();
    assert_eq!(result["result"], "Still one pixel.", "{result}");
    let history = mock.main_requests().last().unwrap().body["contents"].to_string();
    assert!(history.contains(PNG), "{history}");
    let total = result["totalCostUsd"].as_f64().unwrap();
    let want = expected_cost(&mock.answered_models());
    assert!(
        total > cost && (total - want).abs() < 1e-9,
        "{total} != {want}"
    );
    caic.wait_turns(&id, 2, TURN).await?;
    record(&world, &id, "recorded-image");

    let (status, _) = caic.post(&format!("/api/v1/tasks/{id}/purge"), "").await?;
    assert_eq!(status, 200);
    caic.wait_state(&id, &["purged"], LONG).await?;
    caic.kill().await;
    Ok(())
}
