//! A follow-up sent while the agent's turn is still running must never be lost.
//!
//! The `claude_cli_*` tests probe the real Claude Code CLI on the host against the slow
//! Anthropic mock: the follow-up is written to its stdin while the first turn runs. The
//! others drive a real `caic serve` with a real task container (fake, Codex, Gemini) and
//! send the follow-up through the API while the first answer streams.

mod common;

use std::time::Duration;

use caic_e2e::{mock_gemini::MockGemini, mock_openai::MockOpenAi};
use common::{kind, next_result, of_kind, Caic, SseMsg, World};

use caic_e2e::claude_cli::{find_claude, user_line, ClaudeSession, Workspace};
use caic_e2e::mock_anthropic::{MockAnthropic, Reply, Script};
use serde_json::{json, Value};

const TURN_TIMEOUT: Duration = Duration::from_secs(120);

/// What the CLI did with a follow-up sent mid-turn.
struct Probe {
    /// The `result` lines read after the follow-up, in order.
    results: Vec<Value>,
    /// For each model request, whether it carried the follow-up's text.
    carried: Vec<bool>,
}

/// Starts the CLI, sends a first prompt answered by `replies` (streamed slowly), sends
/// `SECOND prompt` once the first model request has streamed for `after`, then reads
/// up to two results.
async fn probe(replies: Vec<Reply>, after: Duration) -> Probe {
    let claude = find_claude().unwrap_or_else(|e| panic!("{e}"));
    let ws = Workspace::new().unwrap();
    let script = Script::new(replies).slow(Duration::from_millis(250));
    let mock = MockAnthropic::start(script).await.unwrap();
    let mut s = ClaudeSession::spawn(&claude, &ws.repo(), &ws.home(), &mock.base_url()).unwrap();
    s.send_line(&user_line("FIRST prompt")).await.unwrap();
    let deadline = tokio::time::Instant::now() + TURN_TIMEOUT;
    while mock.main_requests().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "no model request");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(after).await;
    s.send_line(&user_line("SECOND prompt: the follow-up"))
        .await
        .unwrap();
    let mut results = Vec::new();
    for _ in 0..2 {
        match s.read_until_result(Duration::from_secs(30)).await {
            Ok(lines) => results.push(lines.last().unwrap().clone()),
            Err(e) => {
                eprintln!("no further result: {e}");
                break;
            }
        }
    }
    let carried = mock
        .main_requests()
        .iter()
        .map(|r| r.body["messages"].to_string().contains("SECOND prompt"))
        .collect();
    for r in mock.main_requests() {
        if let Some(last) = r.body["messages"].as_array().and_then(|m| m.last()) {
            eprintln!(
                "last message: {}",
                last.to_string().chars().take(600).collect::<String>()
            );
        }
    }
    let fin = s.finish(Duration::from_secs(30)).await.unwrap();
    for l in &fin.transcript {
        if !l.contains("stream_event") && !l.contains("\"init\"") {
            eprintln!("T: {}", l.chars().take(300).collect::<String>());
        }
    }
    Probe { results, carried }
}

/// A follow-up that arrives while the model's first answer still streams is answered
/// as a second turn.
#[tokio::test]
async fn claude_cli_follow_up_while_text_streams() {
    let long = "one two three four five six seven eight nine ten eleven twelve \
                thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty";
    let p = probe(
        vec![
            Reply::text(long),
            Reply::text("Answer to the follow-up."),
            Reply::text("Spare reply."),
        ],
        Duration::from_millis(600),
    )
    .await;
    let texts: Vec<&Value> = p.results.iter().map(|r| &r["result"]).collect();
    assert_eq!(
        texts,
        vec![
            &json!(long.split_whitespace().collect::<Vec<_>>().join(" ")),
            &json!("Answer to the follow-up.")
        ],
        "carried: {:?}",
        p.carried
    );
    assert_eq!(p.carried, vec![false, true]);
}

/// A follow-up that arrives while a tool runs reaches the model (in the same turn or
/// the next) and is answered.
#[tokio::test]
async fn claude_cli_follow_up_while_tool_runs() {
    let p = probe(
        vec![
            Reply::tool_use(
                "Bash",
                json!({"command": "sleep 4", "description": "Wait a bit"}),
            ),
            Reply::text("Done waiting."),
            Reply::text("Answer to the follow-up."),
            Reply::text("Spare reply."),
        ],
        Duration::from_millis(2500),
    )
    .await;
    let texts: Vec<&Value> = p.results.iter().map(|r| &r["result"]).collect();
    eprintln!("results: {texts:?} carried: {:?}", p.carried);
    assert!(
        p.carried.iter().any(|c| *c),
        "the follow-up never reached the model: {texts:?}"
    );
}

/// Provisioning; the first task on a fresh machine also builds the image.
const LONG: Duration = Duration::from_secs(900);
/// One agent turn.
const TURN: Duration = Duration::from_secs(120);
/// The follow-up sent mid-turn.
const FOLLOW_UP: &str = "SECOND follow-up";

/// Waits until task `id` streams text, sends [`FOLLOW_UP`] through the API, then reads
/// until two results. Returns every event read (from the task's start) and the state
/// the task was in when the follow-up was sent.
async fn follow_up_mid_turn(caic: &Caic, id: &str) -> anyhow::Result<(Vec<SseMsg>, String)> {
    let mut ev = caic.sse(&format!("/api/v1/tasks/{id}/events")).await?;
    let mut events = ev
        .until(LONG, |m| m.event == "message" && kind(m) == "textDelta")
        .await
        .map_err(|e| anyhow::anyhow!("{e}\n{}", caic.log_tail()))?;
    let state = caic.task(id).await?["state"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let body = json!({"prompt": {"text": FOLLOW_UP}}).to_string();
    let (status, v) = caic
        .post(&format!("/api/v1/tasks/{id}/input"), &body)
        .await?;
    assert_eq!(status, 200, "{v}");
    eprintln!("input answer: {v}");
    events.extend(next_result(&mut ev, caic, TURN).await);
    events.extend(next_result(&mut ev, caic, TURN).await);
    // Nothing more: no third turn (the follow-up ran once).
    let extra = ev
        .until(Duration::from_secs(5), |m| {
            m.event == "message" && kind(m) == "result"
        })
        .await;
    assert!(extra.is_err(), "a third turn ran: {extra:?}");
    Ok((events, state))
}

/// The user inputs the task shows, in order.
/// The follow-up was shown once after the first prompt, reached the model in exactly
/// one request (the second), and got the second answer.
fn answered_once_as_next_turn(events: &[SseMsg], model_request_bodies: Vec<String>) {
    assert_eq!(inputs(events), vec!["FIRST prompt", FOLLOW_UP]);
    let results = of_kind(events, "result");
    eprintln!("results: {results:?}");
    let carried: Vec<usize> = model_request_bodies
        .iter()
        .map(|b| b.matches(FOLLOW_UP).count())
        .collect();
    eprintln!("follow-up per model request: {carried:?}");
    assert_eq!(carried, vec![0, 1], "the follow-up reached the model once");
    assert_eq!(results[1]["result"], "Answer to the follow-up.");
}

fn inputs(events: &[SseMsg]) -> Vec<String> {
    of_kind(events, "userInput")
        .iter()
        .map(|u| u["text"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The fake agent: a follow-up sent during a long turn runs as the next turn, once.
#[tokio::test(flavor = "multi_thread")]
async fn fake_follow_up_while_running_runs_once_as_next_turn() -> anyhow::Result<()> {
    let world = World::new();
    let caic = Caic::start(&world).await?;
    let id = caic.create("fake", "FAKE_SLOW 3").await?;
    let (events, state) = follow_up_mid_turn(&caic, &id).await?;
    assert_eq!(state, "running");
    assert_eq!(inputs(&events), vec!["FAKE_SLOW 3", FOLLOW_UP]);
    let results = of_kind(&events, "result");
    assert_eq!(results.len(), 2, "{results:?}");
    assert_eq!(
        results[1]["result"],
        format!("You said: {FOLLOW_UP}"),
        "{}",
        results[1]
    );
    let t = caic.wait_turns(&id, 2, TURN).await?;
    assert_eq!(t["state"], "waiting", "{t}");
    Ok(())
}

/// The real Codex CLI (through caic's bridge): a follow-up sent while the first answer
/// streams is answered in a second turn, and reaches the model once.
#[tokio::test(flavor = "multi_thread")]
async fn codex_follow_up_while_streaming() -> anyhow::Result<()> {
    use caic_e2e::mock_openai::Reply;
    let world = World::new();
    let mock = MockOpenAi::start(vec![
        Reply::Text("one two three four five six seven eight nine ten eleven twelve".into()),
        Reply::Text("Answer to the follow-up.".into()),
        Reply::Text("Spare reply.".into()),
    ])
    .await?;
    mock.set_delay(Duration::from_millis(400));
    let key = format!("sk-test-{}-0123456789abcdef", world.repo_id);
    world.write_config(&mock.caic_config(&key));
    let caic = Caic::start(&world).await?;
    let id = caic.create("codex", "FIRST prompt").await?;
    let (events, state) = follow_up_mid_turn(&caic, &id).await?;
    eprintln!("state when sent: {state}");
    let bodies = mock
        .main_requests()
        .iter()
        .map(|r| r.body.to_string())
        .collect();
    answered_once_as_next_turn(&events, bodies);
    Ok(())
}

/// The real Gemini CLI (through caic's runner): a follow-up sent while the first answer
/// streams is answered in a second turn, and reaches the model once.
#[tokio::test(flavor = "multi_thread")]
async fn gemini_follow_up_while_streaming() -> anyhow::Result<()> {
    use caic_e2e::mock_gemini::Reply;
    let world = World::new();
    let mock = MockGemini::start(vec![
        Reply::Text("one two three four five six seven eight nine ten eleven twelve".into()),
        Reply::Text("Answer to the follow-up.".into()),
        Reply::Text("Spare reply.".into()),
    ])
    .await?;
    mock.set_delay(Duration::from_millis(1500));
    let key = format!("gm-test-{}-0123456789abcdef", world.repo_id);
    world.write_config(&mock.caic_config(&key));
    let caic = Caic::start(&world).await?;
    let id = caic.create("gemini", "FIRST prompt").await?;
    let (events, state) = follow_up_mid_turn(&caic, &id).await?;
    eprintln!("state when sent: {state}");
    let bodies = mock
        .main_requests()
        .iter()
        .map(|r| r.body.to_string())
        .collect();
    answered_once_as_next_turn(&events, bodies);
    Ok(())
}

/// The real Claude Code CLI in a caic container: a follow-up sent while the first
/// answer streams is answered in a second turn, and reaches the model once.
#[tokio::test(flavor = "multi_thread")]
async fn claude_follow_up_while_streaming_in_container() -> anyhow::Result<()> {
    let world = World::new();
    let script = Script::new(vec![
        Reply::text("one two three four five six seven eight nine ten eleven twelve"),
        Reply::text("Answer to the follow-up."),
        Reply::text("Spare reply."),
    ])
    .slow(Duration::from_millis(400));
    let mock = MockAnthropic::start(script).await?;
    let key = format!("sk-ant-test-{}-0123456789abcdef", world.repo_id);
    world.write_config(&mock.caic_config(&key));
    let caic = Caic::start(&world).await?;
    let id = caic.create("claude", "FIRST prompt").await?;
    let (events, state) = follow_up_mid_turn(&caic, &id).await?;
    assert_eq!(state, "running");
    assert_eq!(inputs(&events), vec!["FIRST prompt", FOLLOW_UP]);
    let results = of_kind(&events, "result");
    let carried: Vec<usize> = mock
        .main_requests()
        .iter()
        .map(|r| r.body["messages"].to_string().matches(FOLLOW_UP).count())
        .collect();
    eprintln!("follow-up per model request: {carried:?}");
    assert_eq!(carried, vec![0, 1], "the follow-up reached the model once");
    assert_eq!(results[1]["result"], "Answer to the follow-up.");
    Ok(())
}

/// A follow-up sent while the first answer streams, then an interrupt: the CLI ends the
/// first turn and still answers the follow-up in the next.
#[tokio::test]
async fn claude_cli_follow_up_then_interrupt() {
    let claude = find_claude().unwrap_or_else(|e| panic!("{e}"));
    let ws = Workspace::new().unwrap();
    let long = "one two three four five six seven eight nine ten eleven twelve \
                thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty";
    let script = Script::new(vec![
        Reply::text(long),
        Reply::text("Answer to the follow-up."),
        Reply::text("Spare reply."),
    ])
    .slow(Duration::from_millis(250));
    let mock = MockAnthropic::start(script).await.unwrap();
    let mut s = ClaudeSession::spawn(&claude, &ws.repo(), &ws.home(), &mock.base_url()).unwrap();
    s.send_line(&user_line("FIRST prompt")).await.unwrap();
    while mock.main_requests().is_empty() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    s.send_line(&user_line("SECOND prompt: the follow-up"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    s.send_line(&caic_harness_interrupt()).await.unwrap();
    let mut results = Vec::new();
    for _ in 0..2 {
        match s.read_until_result(Duration::from_secs(20)).await {
            Ok(lines) => results.push(lines.last().unwrap().clone()),
            Err(e) => {
                eprintln!("no further result: {e}");
                break;
            }
        }
    }
    let carried: Vec<bool> = mock
        .main_requests()
        .iter()
        .map(|r| r.body["messages"].to_string().contains("SECOND prompt"))
        .collect();
    let got: Vec<(&Value, &Value)> = results
        .iter()
        .map(|r| (&r["subtype"], &r["result"]))
        .collect();
    assert_eq!(
        got,
        vec![
            (&json!("error_during_execution"), &Value::Null),
            (&json!("success"), &json!("Answer to the follow-up.")),
        ]
    );
    assert_eq!(carried, vec![false, true]);
    s.finish(Duration::from_secs(30)).await.unwrap();
}

fn caic_harness_interrupt() -> String {
    json!({"type": "control_request", "request_id": "int-1",
           "request": {"subtype": "interrupt"}})
    .to_string()
}

/// Sends [`FOLLOW_UP`] while task `id` streams its first answer, then interrupts the
/// turn; returns the results that follow within `within` (subtype, result text).
async fn follow_up_then_interrupt(
    caic: &Caic,
    id: &str,
    within: Duration,
) -> anyhow::Result<Vec<(String, String)>> {
    let mut ev = caic.sse(&format!("/api/v1/tasks/{id}/events")).await?;
    ev.until(LONG, |m| m.event == "message" && kind(m) == "textDelta")
        .await
        .map_err(|e| anyhow::anyhow!("{e}\n{}", caic.log_tail()))?;
    caic.input(id, FOLLOW_UP).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, v) = caic
        .post(&format!("/api/v1/tasks/{id}/interrupt"), "")
        .await?;
    assert_eq!(status, 200, "{v}");
    let mut out = Vec::new();
    while let Ok(got) = ev
        .until(within, |m| m.event == "message" && kind(m) == "result")
        .await
    {
        let r = &got.last().unwrap().data;
        out.push((
            r["subtype"].as_str().unwrap_or_default().to_string(),
            r["result"].as_str().unwrap_or_default().to_string(),
        ));
    }
    Ok(out)
}

/// Interrupting a turn ends that turn only: a follow-up sent before the interrupt is
/// still answered, once, in the next turn (as Claude Code and the fake agent do).
fn assert_answered_after_interrupt(results: &[(String, String)], answer: &str) {
    assert_eq!(results.len(), 2, "{results:?}");
    assert_eq!(
        results[1],
        ("success".to_string(), answer.to_string()),
        "{results:?}"
    );
}

/// The fake agent: follow-up, then interrupt; the follow-up still runs.
#[tokio::test(flavor = "multi_thread")]
async fn fake_follow_up_then_interrupt() -> anyhow::Result<()> {
    let world = World::new();
    let caic = Caic::start(&world).await?;
    let id = caic.create("fake", "FAKE_SLOW 20").await?;
    let results = follow_up_then_interrupt(&caic, &id, Duration::from_secs(15)).await?;
    assert_eq!(results[0].0, "error_during_execution", "{results:?}");
    assert_answered_after_interrupt(&results, &format!("You said: {FOLLOW_UP}"));
    Ok(())
}

/// Codex through caic's bridge: follow-up, then interrupt.
///
/// Fails today: `codex_bridge.py` clears its prompt queue on `turn/interrupt`, so the
/// follow-up (already shown as the user's input) is never answered and nothing says so.
#[tokio::test(flavor = "multi_thread")]
async fn codex_follow_up_then_interrupt() -> anyhow::Result<()> {
    use caic_e2e::mock_openai::Reply;
    let world = World::new();
    let mock = MockOpenAi::start(vec![
        Reply::Text("one two three four five six seven eight nine ten eleven twelve".into()),
        Reply::Text("Answer to the follow-up.".into()),
        Reply::Text("Spare reply.".into()),
    ])
    .await?;
    mock.set_delay(Duration::from_millis(400));
    let key = format!("sk-test-{}-0123456789abcdef", world.repo_id);
    world.write_config(&mock.caic_config(&key));
    let caic = Caic::start(&world).await?;
    let id = caic.create("codex", "FIRST prompt").await?;
    let results = follow_up_then_interrupt(&caic, &id, Duration::from_secs(15)).await?;
    let carried: Vec<usize> = mock
        .main_requests()
        .iter()
        .map(|r| r.body.to_string().matches(FOLLOW_UP).count())
        .collect();
    assert_eq!(carried, vec![0, 1], "codex: {results:?}");
    assert_answered_after_interrupt(&results, "Answer to the follow-up.");
    Ok(())
}

/// Gemini through caic's runner: follow-up, then interrupt.
///
/// Fails today: `gemini_runner.py` drops its prompt queue on `interrupt`, so the
/// follow-up (already shown as the user's input) is never answered and nothing says so.
#[tokio::test(flavor = "multi_thread")]
async fn gemini_follow_up_then_interrupt() -> anyhow::Result<()> {
    use caic_e2e::mock_gemini::Reply;
    let world = World::new();
    let mock = MockGemini::start(vec![
        Reply::Text("one two three four five six seven eight nine ten eleven twelve".into()),
        Reply::Text("Answer to the follow-up.".into()),
        Reply::Text("Spare reply.".into()),
    ])
    .await?;
    mock.set_delay(Duration::from_millis(1500));
    let key = format!("gm-test-{}-0123456789abcdef", world.repo_id);
    world.write_config(&mock.caic_config(&key));
    let caic = Caic::start(&world).await?;
    let id = caic.create("gemini", "FIRST prompt").await?;
    let results = follow_up_then_interrupt(&caic, &id, Duration::from_secs(15)).await?;
    let carried: Vec<usize> = mock
        .main_requests()
        .iter()
        .map(|r| r.body.to_string().matches(FOLLOW_UP).count())
        .collect();
    assert_eq!(carried, vec![0, 1], "gemini: {results:?}");
    assert_answered_after_interrupt(&results, "Answer to the follow-up.");
    Ok(())
}
