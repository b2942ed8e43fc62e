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

#[test]
fn images_travel_in_the_prompt_line_and_are_counted() {
    let h = GeminiHarness;
    assert!(h.info().supports_images);
    let png = caic_api::ImageData {
        media_type: "image/png".into(),
        data: "iVBORw0KGgo=".into(),
    };
    let line = h.encode_prompt(&Prompt {
        text: "what is this?".into(),
        images: vec![png.clone(), png],
    });
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["images"][1]["mediaType"], "image/png");
    assert_eq!(v["images"][1]["data"], "iVBORw0KGgo=");
    assert_eq!(
        GeminiParser::new().parse(&line),
        [EventData::UserInput {
            text: "what is this?".into(),
            images: 2
        }]
    );
    // The runner gives the CLI the images' directory and `@path` references.
    let runner = h.files()[0].contents;
    assert!(runner.contains("--include-directories"));
    assert!(runner.contains("\"@\" + p"));
}

/// A `result` line as Gemini CLI 0.61.0 prints it, with the given per-model stats.
fn result_line(tool_calls: u64, models: serde_json::Value) -> String {
    serde_json::json!({"type": "result", "status": "success",
        "stats": {"total_tokens": 0, "input_tokens": 0, "output_tokens": 0, "cached": 0,
                  "duration_ms": 5, "tool_calls": tool_calls, "models": models}})
    .to_string()
}

fn cost_of(events: &[EventData]) -> (f64, String) {
    let detail = events
        .iter()
        .find_map(|e| match e {
            EventData::System { subtype, detail } if subtype == "cost_estimated" => detail.clone(),
            _ => None,
        })
        .expect("a cost_estimated event");
    match events.last() {
        Some(EventData::Result { total_cost_usd, .. }) => (*total_cost_usd, detail),
        e => panic!("{e:?}"),
    }
}

#[test]
fn cost_is_estimated_per_model_and_adds_up_over_turns() {
    let mut p = GeminiParser::new();
    let models = serde_json::json!({
        "gemini-3.8-flash": {"total_tokens": 1_600_000, "input_tokens": 1_000_000,
            "output_tokens": 500_000, "cached": 200_000},
        "gemini-3.5-flash-lite": {"total_tokens": 1_000, "input_tokens": 1_000,
            "output_tokens": 0, "cached": 0},
        "gemini-3.1-pro-preview": {"total_tokens": 0, "input_tokens": 0, "output_tokens": 0,
            "cached": 0}
    });
    let ev = p.parse(&result_line(9, models.clone()));
    let flash = prices::table().price("gemini-3.8-flash").0;
    let lite = prices::table().price("gemini-3.5-flash-lite").0;
    // 800k uncached + 200k cached input; 500k output + 100k thinking (total - prompt - output).
    let want =
        0.8 * flash.input + 0.2 * flash.cached_input + 0.6 * flash.output + 0.001 * lite.input;
    let (total, detail) = cost_of(&ev);
    assert!((total - want).abs() < 1e-9, "{total} != {want}");
    assert!(detail.contains("gemini-3.8-flash: input 0.75"), "{detail}");
    assert!(!detail.contains("gemini-3.1-pro-preview"), "{detail}");
    match &ev[0] {
        EventData::Usage { usage, model } => {
            assert_eq!(model, "gemini-3.8-flash", "the model that read the most");
            assert_eq!(usage.output_tokens, 600_000, "thinking counts as output");
        }
        e => panic!("{e:?}"),
    }
    // The next turn of the same runner adds to it; a dead turn keeps it.
    let (total2, _) = cost_of(&p.parse(&result_line(9, models)));
    assert!((total2 - 2.0 * want).abs() < 1e-9);
    match &p.parse(r#"{"type":"caic_turn_end","status":"error","message":"x"}"#)[..] {
        [EventData::Result { total_cost_usd, .. }] => assert_eq!(*total_cost_usd, total2),
        e => panic!("{e:?}"),
    }
}

#[test]
fn long_prompts_and_unknown_models() {
    let pro = prices::table().price("gemini-3.1-pro-preview").0;
    let line = |tool_calls| {
        result_line(
            tool_calls,
            serde_json::json!({"gemini-3.1-pro-preview": {"total_tokens": 300_000,
                "input_tokens": 300_000, "output_tokens": 0, "cached": 0}}),
        )
    };
    // One request with a 300k prompt: the long-prompt rates.
    let (c, detail) = cost_of(&GeminiParser::new().parse(&line(0)));
    assert!((c - 0.3 * pro.rates(300_000).input).abs() < 1e-9, "{c}");
    assert!(detail.contains("long-prompt rates applied"), "{detail}");
    // Two requests of ~150k each: the base rates.
    let (c, detail) = cost_of(&GeminiParser::new().parse(&line(1)));
    assert!((c - 0.3 * pro.input).abs() < 1e-9, "{c}");
    assert!(!detail.contains("long-prompt"), "{detail}");
    // A model caic does not list is priced at the default and said so.
    let (c, detail) = cost_of(&GeminiParser::new().parse(&result_line(
        0,
        serde_json::json!({"gemini-mock": {"total_tokens": 1_000_000,
            "input_tokens": 1_000_000, "output_tokens": 0, "cached": 0}}),
    )));
    assert!(c > 0.0);
    assert!(
        detail.contains("gemini-mock (not in caic's table"),
        "{detail}"
    );
    // No tokens, no estimate.
    let ev = GeminiParser::new().parse(&result_line(0, serde_json::json!({})));
    assert!(
        matches!(&ev[..], [EventData::Result { total_cost_usd, .. }] if *total_cost_usd == 0.0)
    );
}
