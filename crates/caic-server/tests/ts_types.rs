//! The TypeScript declarations of the wire types, generated from `caic-api` into
//! `ui/src/api/types.ts`. This test fails when the checked-in file is stale; refresh it
//! with `CAIC_UPDATE_TS=1 cargo test -p caic-server --test ts_types`.

use caic_api::*;
use std::path::PathBuf;
use ts_rs::{Config, TS};

fn decl<T: TS>(cfg: &Config, out: &mut String) {
    if let Some(docs) = T::docs() {
        out.push_str(&docs);
    }
    out.push_str("export ");
    out.push_str(&T::decl(cfg));
    out.push_str("\n\n");
}

/// Every wire type, in one self-contained module. 64-bit integers are plain numbers:
/// every value caic sends (ms timestamps, token counts, seq) fits in 2^53.
fn generate() -> String {
    let cfg = Config::new().with_large_int("number");
    let mut out = String::from(
        "// Generated from crates/caic-api by crates/caic-server/tests/ts_types.rs; do not edit.\n\
         // Refresh: CAIC_UPDATE_TS=1 cargo test -p caic-server --test ts_types\n\n",
    );
    decl::<serde_json::Value>(&cfg, &mut out);
    decl::<ErrorCode>(&cfg, &mut out);
    decl::<ErrorBody>(&cfg, &mut out);
    decl::<ApiError>(&cfg, &mut out);
    decl::<TaskState>(&cfg, &mut out);
    decl::<Action>(&cfg, &mut out);
    decl::<ImageData>(&cfg, &mut out);
    decl::<Prompt>(&cfg, &mut out);
    decl::<Usage>(&cfg, &mut out);
    decl::<DiffFile>(&cfg, &mut out);
    decl::<AskOption>(&cfg, &mut out);
    decl::<AskQuestion>(&cfg, &mut out);
    decl::<TodoItem>(&cfg, &mut out);
    decl::<EventData>(&cfg, &mut out);
    decl::<Event>(&cfg, &mut out);
    decl::<CreateTaskReq>(&cfg, &mut out);
    decl::<CreateTaskResp>(&cfg, &mut out);
    decl::<InputReq>(&cfg, &mut out);
    decl::<RestartReq>(&cfg, &mut out);
    decl::<StatusResp>(&cfg, &mut out);
    decl::<DiffResp>(&cfg, &mut out);
    decl::<StartupTimings>(&cfg, &mut out);
    decl::<PullInfo>(&cfg, &mut out);
    decl::<CiState>(&cfg, &mut out);
    decl::<CiCheck>(&cfg, &mut out);
    decl::<CiInfo>(&cfg, &mut out);
    decl::<Task>(&cfg, &mut out);
    decl::<Repo>(&cfg, &mut out);
    decl::<BranchesResp>(&cfg, &mut out);
    decl::<HarnessInfo>(&cfg, &mut out);
    decl::<TaskListEvent>(&cfg, &mut out);
    decl::<SyncTarget>(&cfg, &mut out);
    decl::<SyncReq>(&cfg, &mut out);
    decl::<SafetyIssue>(&cfg, &mut out);
    decl::<SyncResp>(&cfg, &mut out);
    decl::<UserResp>(&cfg, &mut out);
    decl::<ServerConfig>(&cfg, &mut out);
    // The state/action table, generated from TaskState::allows so the UI cannot drift.
    out.push_str("/** Which states allow each action (from caic_api::TaskState::allows). */\n");
    out.push_str("export const ALLOWED: Record<Action, TaskState[]> = {\n");
    for action in [
        Action::Input,
        Action::Stop,
        Action::Revive,
        Action::Purge,
        Action::Restart,
        Action::Diff,
        Action::Sync,
        Action::Interrupt,
    ] {
        let states: Vec<String> = TaskState::ALL
            .iter()
            .filter(|s| s.allows(action))
            .map(|s| format!("\"{}\"", s.as_str()))
            .collect();
        let name = serde_json::to_string(&action).unwrap();
        out.push_str(&format!(
            "  {}: [{}],\n",
            name.trim_matches('"'),
            states.join(", ")
        ));
    }
    out.push_str("};\n");
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

fn target() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/api/types.ts")
}

#[test]
fn typescript_types_are_current() {
    let want = generate();
    let path = target();
    if std::env::var_os("CAIC_UPDATE_TS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &want).unwrap();
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "{} is stale: run `CAIC_UPDATE_TS=1 cargo test -p caic-server --test ts_types`",
        path.display()
    );
}

#[test]
fn types_cover_the_event_model() {
    let ts = generate();
    // Every event kind the server can send is a member of the EventData union.
    for kind in [
        "init",
        "text",
        "textDelta",
        "toolUse",
        "toolResult",
        "ask",
        "result",
        "userInput",
        "diffStat",
        "error",
        "subagentEnd",
    ] {
        assert!(
            ts.contains(&format!("\"kind\": \"{kind}\"")),
            "{kind} missing"
        );
    }
    assert!(!ts.contains("bigint"), "64-bit integers must be numbers");
}
