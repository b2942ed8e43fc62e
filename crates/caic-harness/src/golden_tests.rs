//! Golden tests: every `testdata/**/*.ndjson` transcript is parsed and compared with the
//! `<name>.events.json` file beside it. `UPDATE_GOLDEN=1 cargo test -p caic-harness`
//! (re)writes the golden files; check them by eye before keeping them.
//!
//! The parser is chosen by the first directory under `testdata/` that names a harness
//! (`testdata/claude/...`); anything else (e.g. `testdata/recorded/`, transcripts of the real
//! Claude Code CLI) is read as Claude Code.

use crate::{by_name, claude::ClaudeParser, Parser};
use caic_api::EventData;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The events of one transcript line (lines with none are listed too, to show drops).
#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct LineEvents {
    line: usize,
    events: Vec<EventData>,
}

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

fn transcripts(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            transcripts(&p, out);
        } else if p.extension().is_some_and(|e| e == "ndjson") {
            out.push(p);
        }
    }
}

fn parser_for(path: &Path) -> Box<dyn Parser> {
    let rel = path.strip_prefix(testdata()).unwrap();
    rel.components()
        .filter_map(|c| c.as_os_str().to_str())
        .find_map(by_name)
        .map(|h| h.parser())
        .unwrap_or_else(|| Box::new(ClaudeParser::new()))
}

fn parse_transcript(path: &Path) -> Vec<LineEvents> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut parser = parser_for(path);
    text.lines()
        .enumerate()
        .map(|(i, line)| LineEvents {
            line: i + 1,
            events: parser.parse(line),
        })
        .collect()
}

fn golden_path(path: &Path) -> PathBuf {
    let stem = path.file_stem().unwrap().to_str().unwrap();
    path.with_file_name(format!("{stem}.events.json"))
}

#[test]
fn transcripts_match_golden_events() {
    let mut files = Vec::new();
    transcripts(&testdata(), &mut files);
    assert!(
        files
            .iter()
            .any(|f| f.starts_with(testdata().join("claude"))),
        "no transcripts found under {}",
        testdata().display()
    );
    let update = std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    let mut failures = Vec::new();
    for path in &files {
        let got = serde_json::to_string_pretty(&parse_transcript(path)).unwrap() + "\n";
        let golden = golden_path(path);
        if update {
            std::fs::write(&golden, &got).unwrap();
            continue;
        }
        match std::fs::read_to_string(&golden) {
            Ok(want) if want == got => {}
            Ok(want) => {
                eprintln!("--- {} differs:", golden.display());
                pretty_assertions::assert_str_eq!(want, got);
            }
            Err(_) => failures.push(format!(
                "{} has no golden file {}: run `UPDATE_GOLDEN=1 cargo test -p caic-harness` \
                 and check it by eye",
                path.display(),
                golden.display()
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn golden_files_read_back_as_events() {
    // The golden files are real event JSON: they deserialize into the API types.
    if std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1") {
        return; // being rewritten by the other test
    }
    let mut files = Vec::new();
    transcripts(&testdata(), &mut files);
    for path in files {
        let Ok(text) = std::fs::read_to_string(golden_path(&path)) else {
            continue;
        };
        let back: Vec<LineEvents> = serde_json::from_str(&text).unwrap();
        assert_eq!(back, parse_transcript(&path), "{}", path.display());
    }
}

/// Truncating any transcript line anywhere never panics; a prefix that is not valid JSON
/// gives exactly one error event carrying the line.
#[test]
fn truncated_lines_never_panic() {
    let mut files = Vec::new();
    transcripts(&testdata(), &mut files);
    let mut checked = 0usize;
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        for line in text.lines() {
            let cuts: Vec<usize> = (0..=line.len())
                .filter(|&i| line.is_char_boundary(i))
                .filter(|&i| i < 4096 || i % 997 == 0)
                .collect();
            for cut in cuts {
                let prefix = &line[..cut];
                let events = parser_for(&path).parse(prefix);
                checked += 1;
                if prefix.trim().is_empty() {
                    assert!(events.is_empty(), "{prefix:?}: {events:?}");
                } else if serde_json::from_str::<serde_json::Value>(prefix).is_err() {
                    match &events[..] {
                        [EventData::Error { line: Some(l), .. }] => {
                            assert!(prefix
                                .trim()
                                .starts_with(l.get(..l.len().min(64)).unwrap_or("")))
                        }
                        e => panic!("{}: {prefix:?} gave {e:?}", path.display()),
                    }
                }
            }
        }
    }
    assert!(checked > 1000, "only {checked} prefixes checked");
}
