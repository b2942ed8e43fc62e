//! Codex harness: argv, prompt encoding, and the parser on hand-made lines (recorded
//! transcripts are in `testdata/codex`, checked by the golden test).

use super::*;
use caic_api::{EventData, ImageData};
use pretty_assertions::assert_eq;
use serde_json::Value;

#[test]
fn argv_runs_the_bridge_with_model_and_resume() {
    let h = CodexHarness;
    let mut opts = SessionOpts {
        workdir: "/home/user/src/r".into(),
        ..Default::default()
    };
    assert_eq!(h.command(&opts), ["python3", "-u", BRIDGE_PATH]);
    opts.model = Some("gpt-5.5".into());
    opts.resume_session_id = Some("t-1".into());
    assert_eq!(
        h.command(&opts)[3..],
        ["--model", "gpt-5.5", "--resume", "t-1"]
    );
    let files = h.files();
    assert_eq!(files[0].path, BRIDGE_PATH);
    assert!(files[0].contents.contains("externalSandbox"));
}

#[test]
fn prompt_is_a_turn_start_the_parser_reads_back() {
    let line = encode_prompt(&Prompt {
        text: "hi\nthere".into(),
        images: vec![ImageData {
            media_type: "image/png".into(),
            data: "AAAA".into(),
        }],
    });
    assert!(!line.contains('\n'));
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["method"], "turn/start");
    assert_eq!(v["params"]["input"][1]["url"], "data:image/png;base64,AAAA");
    assert_eq!(
        CodexParser::new().parse(&line),
        [EventData::UserInput {
            text: "hi\nthere".into(),
            images: 1
        }]
    );
    let interrupt = CodexHarness.encode_interrupt().unwrap();
    assert_eq!(CodexParser::new().parse(&interrupt), []);
}

#[test]
fn failed_turn_is_an_error_result_with_estimated_cost() {
    let mut p = CodexParser::new();
    p.parse(r#"{"id":"caic-thread/start-2","result":{"model":"gpt-5.5","cwd":"/w","thread":{"id":"T","cliVersion":"9"}}}"#);
    // A resumed thread restates the last turn's usage: not spent by this process.
    let old = r#"{"method":"thread/tokenUsage/updated","params":{"turnId":"old","tokenUsage":{"last":{"inputTokens":5,"cachedInputTokens":0,"outputTokens":5}}}}"#;
    assert_eq!(p.parse(old), []);
    p.parse(r#"{"method":"turn/started","params":{"turn":{"id":"u"}}}"#);
    let u = p.parse(r#"{"method":"thread/tokenUsage/updated","params":{"turnId":"u","tokenUsage":{"last":{"inputTokens":1000000,"cachedInputTokens":0,"outputTokens":0,"reasoningOutputTokens":0,"totalTokens":1000000}}}}"#);
    assert_eq!(u.len(), 1);
    let ev = p.parse(r#"{"method":"turn/completed","params":{"turn":{"id":"u","status":"failed","error":{"message":"quota"},"durationMs":7}}}"#);
    match &ev[..] {
        [EventData::System { subtype, .. }, EventData::Result {
            subtype: r,
            is_error: true,
            result,
            total_cost_usd,
            num_turns: 1,
            duration_ms: 7,
            ..
        }] => {
            assert_eq!(subtype, "cost_estimated");
            assert_eq!(r, "error");
            assert_eq!(result, "quota");
            assert!((total_cost_usd - prices::price("gpt-5.5").0.input).abs() < 1e-9);
        }
        e => panic!("{e:?}"),
    }
}

#[test]
fn refused_resume_and_turn_start() {
    let mut p = CodexParser::new();
    let e =
        p.parse(r#"{"id":"caic-thread/resume-2","error":{"code":-32600,"message":"no rollout"}}"#);
    assert!(matches!(&e[..], [EventData::System { subtype, .. }] if subtype == "resume_failed"));
    let e = p.parse(r#"{"id":"caic-turn/start-3","error":{"code":-32600,"message":"busy"}}"#);
    assert!(matches!(&e[..], [EventData::Result { is_error: true, .. }]));
}

#[test]
fn garbage_and_odd_shapes_never_panic() {
    let mut p = CodexParser::new();
    for line in [
        "not json",
        "[1,2]",
        "{}",
        r#"{"method":"item/completed","params":{"item":{"type":"commandExecution"}}}"#,
        r#"{"method":"item/started","params":5}"#,
        r#"{"method":"turn/completed","params":{"turn":null}}"#,
        r#"{"method":"some/new/thing","params":{"x":1}}"#,
        r#"{"id":7,"result":{}}"#,
    ] {
        let _ = p.parse(line);
    }
    assert!(
        matches!(&p.parse("not json")[..], [EventData::Error { line: Some(l), .. }] if l == "not json")
    );
    assert_eq!(p.parse(r#"{"method":"some/new/thing","params":{}}"#), []);
}
