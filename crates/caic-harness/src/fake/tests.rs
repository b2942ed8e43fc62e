//! Runs the real fake agent script as a local child process and reads it with the Claude
//! parser, as caic does through the relay.

use super::*;
use caic_api::{EventData, ImageData};
use pretty_assertions::assert_eq;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(30);

/// Scratch space for one or more fake sessions: a work dir (the agent's cwd), a state dir,
/// a home dir, and the installed script.
struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["work", "state", "home"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
        }
        // Install the files the harness asks for, under the sandbox instead of /.
        for f in FakeHarness.files() {
            let path = dir.path().join(Path::new(&f.path).file_name().unwrap());
            std::fs::write(&path, f.contents).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(f.mode)).unwrap();
        }
        Sandbox { dir }
    }

    fn work(&self) -> PathBuf {
        self.dir.path().join("work").canonicalize().unwrap()
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    fn start(&self, opts: &SessionOpts) -> Session {
        let h = FakeHarness;
        let script = self.dir.path().join("fake_agent.py");
        let argv: Vec<String> = h
            .command(opts)
            .into_iter()
            .map(|a| {
                if a == AGENT_PATH {
                    script.display().to_string()
                } else {
                    a
                }
            })
            .collect();
        let mut child = Command::new(&argv[0])
            .args(&argv[1..])
            .envs(h.env(opts))
            .env("CAIC_FAKE_STATE_DIR", self.dir.path().join("state"))
            .env("HOME", self.home())
            .current_dir(self.work())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 must be installed");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Session {
            stdin: child.stdin.take(),
            child,
            rx,
            parser: h.parser(),
            raw: Vec::new(),
        }
    }
}

/// One running fake agent.
struct Session {
    child: Child,
    stdin: Option<ChildStdin>,
    rx: Receiver<String>,
    parser: Box<dyn Parser>,
    /// Every stdout line so far.
    raw: Vec<String>,
}

impl Session {
    /// Writes one stdin line and returns what the parser makes of it (the relay logs it).
    fn write_line(&mut self, line: &str) -> Vec<EventData> {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(line.as_bytes()).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
        self.parser.parse(line)
    }

    fn send(&mut self, text: &str) -> Vec<EventData> {
        let line = FakeHarness.encode_prompt(&Prompt {
            text: text.into(),
            images: vec![],
        });
        self.write_line(&line)
    }

    /// Events up to and including the first one matching `stop`.
    fn until(&mut self, stop: impl Fn(&EventData) -> bool) -> Vec<EventData> {
        let deadline = Instant::now() + TIMEOUT;
        let mut out = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match self.rx.recv_timeout(left) {
                Ok(l) => l,
                Err(RecvTimeoutError::Timeout) => panic!("timed out; got {out:#?}"),
                Err(RecvTimeoutError::Disconnected) => panic!("agent exited; got {out:#?}"),
            };
            self.raw.push(line.clone());
            for e in self.parser.parse(&line) {
                let done = stop(&e);
                out.push(e);
                if done {
                    return out;
                }
            }
        }
    }

    fn until_result(&mut self) -> Vec<EventData> {
        self.until(|e| matches!(e, EventData::Result { .. }))
    }

    /// Closes stdin and waits for the agent to exit.
    fn close(mut self) -> ExitStatus {
        drop(self.stdin.take());
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            assert!(Instant::now() < deadline, "agent did not exit on stdin EOF");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn result_of(events: &[EventData]) -> (String, bool, String, f64, u64) {
    match events.last() {
        Some(EventData::Result {
            subtype,
            is_error,
            result,
            total_cost_usd,
            num_turns,
            usage,
            ..
        }) => {
            assert!(
                usage.input_tokens > 0 && usage.output_tokens > 0,
                "{usage:?}"
            );
            (
                subtype.clone(),
                *is_error,
                result.clone(),
                *total_cost_usd,
                *num_turns,
            )
        }
        other => panic!("expected a result last, got {other:?}"),
    }
}

fn texts(events: &[EventData]) -> Vec<&str> {
    events
        .iter()
        .filter_map(|e| match e {
            EventData::Text { text } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

fn no_errors(events: &[EventData]) {
    for e in events {
        assert!(!matches!(e, EventData::Error { .. }), "{e:?}");
    }
}

fn init_session_id(events: &[EventData]) -> String {
    match &events[0] {
        EventData::Init { session_id, .. } => session_id.clone(),
        e => panic!("{e:?}"),
    }
}

#[test]
fn plain_turns_echo_stream_and_add_up() {
    let sb = Sandbox::new();
    let mut s = sb.start(&SessionOpts::default());
    assert_eq!(
        s.send("hello there"),
        vec![EventData::UserInput {
            text: "hello there".into(),
            images: 0
        }]
    );
    let turn = s.until_result();
    match &turn[0] {
        EventData::Init {
            model,
            agent_version,
            session_id,
            tools,
            cwd,
        } => {
            assert_eq!(model, "fake-model");
            assert_eq!(agent_version, "0.0.0-fake");
            assert_eq!(session_id.len(), 36, "{session_id}");
            assert!(tools.iter().any(|t| t == "Bash"));
            assert_eq!(Path::new(cwd), sb.work());
        }
        e => panic!("{e:?}"),
    }
    let id = init_session_id(&turn);
    no_errors(&turn);
    let deltas: Vec<&str> = turn
        .iter()
        .filter_map(|e| match e {
            EventData::TextDelta { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert!(deltas.len() >= 2, "{turn:?}");
    assert_eq!(deltas.concat(), "You said: hello there");
    assert_eq!(texts(&turn), ["You said: hello there"]);
    assert!(turn.iter().any(|e| matches!(e, EventData::Usage { .. })));
    let (subtype, is_error, result, cost, turns) = result_of(&turn);
    assert_eq!(
        (subtype.as_str(), is_error, result.as_str(), turns),
        ("success", false, "You said: hello there", 1)
    );
    assert!((cost - 0.01).abs() < 1e-9, "{cost}");

    s.send("again");
    let turn = s.until_result();
    assert_eq!(
        init_session_id(&turn),
        id,
        "every turn announces the same session"
    );
    let (_, _, _, cost, turns) = result_of(&turn);
    assert_eq!(turns, 2);
    assert!((cost - 0.02).abs() < 1e-9, "{cost}");
    assert!(s.close().success());
}

#[test]
fn write_and_bash_really_happen_in_one_turn() {
    let sb = Sandbox::new();
    let mut s = sb.start(&SessionOpts::default());
    s.send("FAKE_WRITE sub/a.txt hi there\nFAKE_BASH cat sub/a.txt && touch ran.txt\nFAKE_BASH echo oops; exit 3");
    let turn = s.until_result();
    no_errors(&turn);
    assert_eq!(
        std::fs::read_to_string(sb.work().join("sub/a.txt")).unwrap(),
        "hi there"
    );
    assert!(
        sb.work().join("ran.txt").exists(),
        "the command did not run"
    );

    let tools: Vec<(&str, &serde_json::Value)> = turn
        .iter()
        .filter_map(|e| match e {
            EventData::ToolUse { name, input, .. } => Some((name.as_str(), input)),
            _ => None,
        })
        .collect();
    assert_eq!(tools.len(), 3, "{turn:#?}");
    assert_eq!(tools[0].0, "Write");
    assert_eq!(
        tools[0].1["file_path"],
        sb.work().join("sub/a.txt").display().to_string()
    );
    assert_eq!(tools[0].1["content"], "hi there");
    assert_eq!(
        tools[1],
        (
            "Bash",
            &serde_json::json!({"command": "cat sub/a.txt && touch ran.txt", "description": "Run a shell command"})
        )
    );

    let results: Vec<(&str, Option<&str>)> = turn
        .iter()
        .filter_map(|e| match e {
            EventData::ToolResult {
                output,
                error,
                duration_ms,
                ..
            } => {
                assert_eq!(*duration_ms, None);
                Some((output.as_str(), error.as_deref()))
            }
            _ => None,
        })
        .collect();
    assert!(
        results[0].0.starts_with("File created successfully"),
        "{results:?}"
    );
    assert_eq!(results[1], ("hi there", None));
    assert_eq!(results[2], ("", Some("Exit code 3\noops")));
    let (subtype, is_error, result, _, _) = result_of(&turn);
    assert_eq!((subtype.as_str(), is_error), ("success", false));
    assert!(result.contains("wrote sub/a.txt"), "{result}");
    assert!(s.close().success());
}

#[test]
fn ask_plan_and_fail_end_their_turns() {
    let sb = Sandbox::new();
    let mut s = sb.start(&SessionOpts::default());

    s.send("FAKE_ASK\nFAKE_WRITE never.txt x");
    let turn = s.until_result();
    no_errors(&turn);
    let ask = turn
        .iter()
        .find_map(|e| match e {
            EventData::Ask { questions, .. } => Some(questions.clone()),
            _ => None,
        })
        .expect("an ask event");
    assert_eq!(ask.len(), 1);
    assert_eq!(ask[0].options.len(), 3);
    assert!(
        !sb.work().join("never.txt").exists(),
        "lines after FAKE_ASK ran"
    );
    assert_eq!(result_of(&turn).0, "success");

    s.send("FAKE_PLAN");
    let turn = s.until_result();
    let plan = turn
        .iter()
        .find_map(|e| match e {
            EventData::ToolUse { name, input, .. } if name == "ExitPlanMode" => {
                Some(input["plan"].as_str().unwrap().to_string())
            }
            _ => None,
        })
        .expect("an ExitPlanMode tool use");
    assert!(plan.starts_with("# Plan"), "{plan}");
    let plans: Vec<_> = std::fs::read_dir(sb.home().join(".claude/plans"))
        .unwrap()
        .collect();
    assert_eq!(plans.len(), 1);

    s.send("FAKE_FAIL");
    let turn = s.until_result();
    let (subtype, is_error, result, _, turns) = result_of(&turn);
    assert_eq!(
        (subtype.as_str(), is_error, result.as_str(), turns),
        (
            "error_during_execution",
            true,
            "FAKE_FAIL: simulated failure",
            3
        )
    );
    assert!(s.close().success());
}

#[test]
fn todo_walks_the_list_as_todo_events() {
    let sb = Sandbox::new();
    let mut s = sb.start(&SessionOpts::default());
    s.send("FAKE_TODO 1");
    let turn = s.until_result();
    no_errors(&turn);
    let lists: Vec<Vec<(String, String)>> = turn
        .iter()
        .filter_map(|e| match e {
            EventData::Todo { todos, .. } => Some(
                todos
                    .iter()
                    .map(|t| (t.content.clone(), t.status.clone()))
                    .collect(),
            ),
            _ => None,
        })
        .collect();
    let l = |a: &str, b: &str, c: &str| {
        vec![
            ("Read the code".to_string(), a.to_string()),
            ("Make the change".to_string(), b.to_string()),
            ("Run the tests".to_string(), c.to_string()),
        ]
    };
    assert_eq!(
        lists,
        [
            l("in_progress", "pending", "pending"),
            l("completed", "in_progress", "pending")
        ]
    );
    let active = turn.iter().find_map(|e| match e {
        EventData::Todo { todos, .. } => todos[0].active_form.clone(),
        _ => None,
    });
    assert_eq!(active.as_deref(), Some("Reading the code"));
    // Each TodoWrite gets its result, like Claude Code's.
    let results = turn
        .iter()
        .filter(|e| matches!(e, EventData::ToolResult { .. }))
        .count();
    assert_eq!(results, 2);
    assert_eq!(texts(&turn), ["Done: 1 of 3 todos completed."]);

    s.send("FAKE_TODO");
    let turn = s.until_result();
    let last = turn
        .iter()
        .rev()
        .find_map(|e| match e {
            EventData::Todo { todos, .. } => Some(todos.clone()),
            _ => None,
        })
        .unwrap();
    assert!(last.iter().all(|t| t.status == "completed"), "{last:?}");
    assert!(s.close().success());
}

#[test]
fn repeat_runs_a_command_many_times_and_says_so_once() {
    let sb = Sandbox::new();
    let mut s = sb.start(&SessionOpts::default());
    s.send("FAKE_REPEAT 25 FAKE_BASH echo x >> many.txt");
    let turn = s.until_result();
    no_errors(&turn);
    let uses = turn
        .iter()
        .filter(|e| matches!(e, EventData::ToolUse { name, .. } if name == "Bash"))
        .count();
    assert_eq!(uses, 25);
    assert_eq!(
        std::fs::read_to_string(sb.work().join("many.txt"))
            .unwrap()
            .lines()
            .count(),
        25
    );
    assert_eq!(
        texts(&turn),
        ["Done: repeated `FAKE_BASH echo x >> many.txt` 25 times."]
    );

    s.send("FAKE_REPEAT lots");
    let turn = s.until_result();
    assert_eq!(texts(&turn), ["FAKE_REPEAT needs a count and a command."]);
    assert!(s.close().success());
}

#[test]
fn garbage_line_is_an_error_event_then_the_turn_goes_on() {
    let sb = Sandbox::new();
    let mut s = sb.start(&SessionOpts::default());
    s.send("FAKE_GARBAGE");
    let turn = s.until_result();
    let errors: Vec<&EventData> = turn
        .iter()
        .filter(|e| matches!(e, EventData::Error { .. }))
        .collect();
    assert_eq!(
        errors,
        [&EventData::Error {
            message: "line is not JSON: expected ident at line 1 column 2".into(),
            line: Some("this line is not JSON {".into()),
        }]
    );
    assert_eq!(texts(&turn), ["You said: FAKE_GARBAGE"]);
    assert_eq!(result_of(&turn).0, "success");
}

#[test]
fn interrupt_ends_a_slow_turn_early() {
    let sb = Sandbox::new();
    let mut s = sb.start(&SessionOpts::default());
    let start = Instant::now();
    s.send("FAKE_SLOW 20");
    s.until(|e| matches!(e, EventData::TextDelta { .. }));
    let line = FakeHarness.encode_interrupt().unwrap();
    assert_eq!(
        s.write_line(&line),
        vec![],
        "the logged interrupt must be quiet"
    );
    let turn = s.until_result();
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    no_errors(&turn);
    assert!(
        turn.contains(&EventData::System {
            subtype: "interrupted".into(),
            detail: Some("[Request interrupted by user]".into())
        }),
        "{turn:#?}"
    );
    assert!(texts(&turn).is_empty(), "{turn:#?}");
    let (subtype, is_error, _, _, _) = result_of(&turn);
    assert_eq!(
        (subtype.as_str(), is_error),
        ("error_during_execution", true)
    );
    assert!(
        s.raw.iter().any(|l| l.contains("\"control_response\"")),
        "no control_response"
    );

    // The session goes on.
    s.send("still there?");
    let turn = s.until_result();
    assert_eq!(texts(&turn), ["You said: still there?"]);
    assert!(s.close().success());
}

#[test]
fn resume_keeps_the_session_and_counts_per_process() {
    let sb = Sandbox::new();
    let mut s = sb.start(&SessionOpts::default());
    s.send("one");
    let id = init_session_id(&s.until_result());
    assert!(s.close().success());

    // A new session in the same directory gets a new id.
    let mut other = sb.start(&SessionOpts::default());
    other.send("other");
    let other_id = init_session_id(&other.until_result());
    assert_ne!(other_id, id);
    assert!(other.close().success());

    let mut s = sb.start(&SessionOpts {
        model: Some("fake-large".into()),
        resume_session_id: Some(id.clone()),
        workdir: String::new(),
    });
    s.send("two");
    let turn = s.until_result();
    match &turn[0] {
        EventData::Init {
            session_id, model, ..
        } => {
            assert_eq!(session_id, &id);
            assert_eq!(model, "fake-large");
        }
        e => panic!("{e:?}"),
    }
    // Counters are per process, as Claude Code reports them; caic adds them up.
    let (_, _, _, cost, turns) = result_of(&turn);
    assert_eq!(turns, 1);
    assert!((cost - 0.01).abs() < 1e-9, "{cost}");
    assert!(s.close().success());
}

#[test]
fn images_are_counted_and_echoed() {
    let sb = Sandbox::new();
    let mut s = sb.start(&SessionOpts::default());
    let line = FakeHarness.encode_prompt(&Prompt {
        text: "look".into(),
        images: vec![
            ImageData {
                media_type: "image/png".into(),
                data: "iVBORw0KGgo=".into(),
            };
            2
        ],
    });
    assert_eq!(
        s.write_line(&line),
        vec![EventData::UserInput {
            text: "look".into(),
            images: 2
        }]
    );
    let turn = s.until_result();
    assert_eq!(texts(&turn), ["You said: look (with 2 images)"]);
}

#[test]
fn harness_installs_the_script_and_runs_it_with_python() {
    let h = FakeHarness;
    let files = h.files();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].path, "/home/user/.caic/fake_agent.py");
    assert_eq!(files[0].mode, 0o755);
    assert!(files[0].contents.starts_with("#!/usr/bin/env python3"));
    assert_eq!(
        h.command(&SessionOpts::default()),
        ["python3", "-u", "/home/user/.caic/fake_agent.py"]
    );
}
