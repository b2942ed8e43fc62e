//! Gemini harness: argv, prompt encoding, and the parser on hand-made lines (recorded
//! transcripts are in `testdata/gemini`, checked by the golden test).

use super::*;
use caic_api::EventData;
use pretty_assertions::assert_eq;

#[test]
fn argv_runs_the_runner_with_model_and_resume() {
    let h = GeminiHarness;
    let mut opts = SessionOpts::default();
    assert_eq!(h.command(&opts), ["python3", "-u", RUNNER_PATH]);
    opts.model = Some("auto".into());
    assert_eq!(h.command(&opts).len(), 3, "auto is the CLI's own default");
    opts.model = Some("gemini-3.5-flash".into());
    opts.resume_session_id = Some("s-1".into());
    assert_eq!(
        h.command(&opts)[3..],
        ["--model", "gemini-3.5-flash", "--resume", "s-1"]
    );
    assert!(h.files()[0].contents.contains("--session-id"));
}

#[test]
fn prompt_line_reads_back_as_user_input() {
    let h = GeminiHarness;
    let line = h.encode_prompt(&Prompt {
        text: "a\nb".into(),
        images: vec![],
    });
    assert!(!line.contains('\n'));
    assert_eq!(
        GeminiParser::new().parse(&line),
        [EventData::UserInput {
            text: "a\nb".into(),
            images: 0
        }]
    );
    assert_eq!(
        GeminiParser::new().parse(&h.encode_interrupt().unwrap()),
        []
    );
}

#[test]
fn tool_names_map_to_the_ui_names() {
    for (g, c) in [
        ("run_shell_command", "Bash"),
        ("read_file", "Read"),
        ("write_file", "Write"),
        ("replace", "Edit"),
        ("glob", "Glob"),
        ("list_directory", "LS"),
        ("some_mcp_tool", "some_mcp_tool"),
    ] {
        assert_eq!(tool_name(g), c);
    }
}

#[test]
fn dead_turn_and_failed_tool() {
    let mut p = GeminiParser::new();
    let ev = p.parse(r#"{"type":"tool_result","tool_id":"t","status":"error","error":{"type":"x","message":"no such file"}}"#);
    assert!(
        matches!(&ev[..], [EventData::ToolResult { error: Some(e), .. }] if e == "no such file")
    );
    let ev = p.parse(r#"{"type":"message","role":"assistant","content":"par","delta":true}"#);
    assert_eq!(ev, [EventData::TextDelta { text: "par".into() }]);
    let ev = p.parse(r#"{"type":"caic_turn_end","status":"interrupted","message":"gemini exited with code 130"}"#);
    match &ev[..] {
        [EventData::Text { text }, EventData::Result {
            subtype,
            is_error: false,
            num_turns: 1,
            ..
        }] => {
            assert_eq!(text, "par");
            assert_eq!(subtype, "interrupted");
        }
        e => panic!("{e:?}"),
    }
}

#[test]
fn garbage_and_unknown_lines() {
    let mut p = GeminiParser::new();
    assert!(matches!(
        &p.parse("{\"type\":")[..],
        [EventData::Error { line: Some(_), .. }]
    ));
    assert!(matches!(
        &p.parse("{\"no\":1}")[..],
        [EventData::Error { .. }]
    ));
    assert_eq!(
        p.parse(r#"{"type":"brand_new","x":1}"#),
        [EventData::System {
            subtype: "unknown:brand_new".into(),
            detail: None
        }]
    );
    // Unknown fields in known lines are ignored.
    assert_eq!(
        p.parse(r#"{"type":"message","role":"assistant","content":"hi","extra":{"a":1}}"#),
        [EventData::Text { text: "hi".into() }]
    );
}
