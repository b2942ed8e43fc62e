//! Claude Code's requests to its client (`control_request` lines on stdout, with
//! `--permission-prompt-tool stdio`) and caic's answers (`control_response` on stdin).
//!
//! The container is the sandbox, so every tool is allowed at once, except the two that
//! wait on the user:
//! - `AskUserQuestion`: held until the user's next input, which is sent back as the
//!   answer (`updatedInput.answers`, or `updatedInput.response` for free text). The model
//!   reads it in the tool's result, in the same turn.
//! - `ExitPlanMode`: held until the user's next input, which approves the plan and
//!   carries the user's words with it (appended to the plan, which the CLI echoes back as
//!   "Approved Plan (edited by user)"). Without a plan (no plan file), the reply is
//!   refused with the user's words instead, so the model keeps planning.
//!
//! A user message sent while a permission request is open is dropped by Claude Code
//! 2.1.332 (checked against the real CLI), hence answers rather than plain prompts.
//!
//! When caic ends a session on purpose (restart) while a request is held, it refuses it
//! with `interrupt: true` first ([`Requests::release`]): the CLI then ends the turn,
//! where closing its input alone makes it carry on with a failed tool.
//!
//! Every answer caic sends comes back in the stream (the relay logs stdin), which closes
//! the request; so a tracker rebuilt from a log knows what is still open. Answers to a
//! held request carry the user's text verbatim in an extra top-level `caic_answer`
//! field (ignored by the CLI) so the history can show it.

use serde_json::{json, Map, Value};
use std::collections::HashSet;

/// Top-level field of an answer line holding the user's text.
pub(super) const ANSWER_FIELD: &str = "caic_answer";

/// Heading put between an approved plan and the user's reply to it.
const PLAN_REPLY_HEADING: &str = "## The user's reply";

/// What an open request waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Wait {
    /// Nothing from the user: caic answers by itself.
    Auto,
    /// The user's answer to `AskUserQuestion`.
    Question,
    /// The user's reply to the plan of `ExitPlanMode`.
    Plan,
}

#[derive(Debug)]
struct Open {
    request_id: String,
    /// `can_use_tool`, or another subtype caic refuses.
    subtype: String,
    tool_name: String,
    input: Value,
    wait: Wait,
}

/// The CLI's requests not yet answered in the stream.
#[derive(Debug, Default)]
pub(super) struct Requests {
    open: Vec<Open>,
    /// Requests answered by this tracker whose answer is not back in the stream yet.
    sent: HashSet<String>,
}

impl Requests {
    /// Notes a request the CLI sent.
    pub(super) fn opened(&mut self, request_id: String, request: &Value) {
        let subtype = request
            .get("subtype")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let tool_name = request
            .get("tool_name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let wait = match (subtype.as_str(), tool_name.as_str()) {
            ("can_use_tool", "AskUserQuestion") => Wait::Question,
            ("can_use_tool", "ExitPlanMode") => Wait::Plan,
            _ => Wait::Auto,
        };
        let input = request.get("input").cloned().unwrap_or(json!({}));
        self.open.retain(|o| o.request_id != request_id);
        self.open.push(Open {
            request_id,
            subtype,
            tool_name,
            input,
            wait,
        });
    }

    /// Notes that a request was answered (our answer, echoed) or cancelled.
    pub(super) fn closed(&mut self, request_id: &str) {
        self.open.retain(|o| o.request_id != request_id);
        self.sent.remove(request_id);
    }

    /// Whether `request_id` is a request the CLI sent and is still open.
    pub(super) fn is_open(&self, request_id: &str) -> bool {
        self.open.iter().any(|o| o.request_id == request_id)
    }

    /// The turn ended: the CLI no longer waits on anything it asked during it.
    pub(super) fn turn_ended(&mut self) {
        self.open.clear();
        self.sent.clear();
    }

    /// Answers for the open requests caic decides alone, each returned once.
    pub(super) fn auto_replies(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        for o in &self.open {
            if o.wait != Wait::Auto || self.sent.contains(&o.request_id) {
                continue;
            }
            let line = if o.subtype == "can_use_tool" {
                allow(&o.request_id, o.input.clone(), None)
            } else {
                tracing::info!(subtype = %o.subtype, "claude: refusing a request caic does not handle");
                json!({"type": "control_response", "response": {
                    "subtype": "error",
                    "request_id": o.request_id,
                    "error": format!("caic does not handle {} requests", o.subtype),
                }})
                .to_string()
            };
            out.push(line);
        }
        for o in &self.open {
            if o.wait == Wait::Auto {
                self.sent.insert(o.request_id.clone());
            }
        }
        out
    }

    /// What the oldest unanswered held request waits for, if any.
    pub(super) fn waiting(&self) -> Option<Wait> {
        self.open
            .iter()
            .find(|o| o.wait != Wait::Auto && !self.sent.contains(&o.request_id))
            .map(|o| o.wait)
    }

    /// The answer to the oldest unanswered held request, from the user's `text`.
    pub(super) fn answer(&mut self, text: &str) -> Option<String> {
        let o = self
            .open
            .iter()
            .find(|o| o.wait != Wait::Auto && !self.sent.contains(&o.request_id))?;
        let line = match o.wait {
            Wait::Question => allow(
                &o.request_id,
                answered_questions(o.input.clone(), text),
                Some(text),
            ),
            Wait::Plan => match o.input.get("plan").and_then(Value::as_str) {
                Some(plan) => {
                    let mut input = o.input.clone();
                    input["plan"] = json!(format!("{plan}\n\n{PLAN_REPLY_HEADING}\n\n{text}"));
                    allow(&o.request_id, input, Some(text))
                }
                None => deny(&o.request_id, &format!("The user replied: {text}"), text),
            },
            Wait::Auto => return None,
        };
        tracing::debug!(tool = %o.tool_name, "claude: answering a held request with user input");
        self.sent.insert(o.request_id.clone());
        Some(line)
    }
}

impl Requests {
    /// Refusals that stop the turn, for every held request not answered yet.
    pub(super) fn release(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        for o in &self.open {
            if o.wait == Wait::Auto || self.sent.contains(&o.request_id) {
                continue;
            }
            out.push(
                json!({"type": "control_response", "response": {
                    "subtype": "success",
                    "request_id": o.request_id,
                    "response": {"behavior": "deny", "interrupt": true,
                                 "message": "The user ended this session."},
                }})
                .to_string(),
            );
        }
        for o in &self.open {
            if o.wait != Wait::Auto {
                self.sent.insert(o.request_id.clone());
            }
        }
        out
    }
}

fn allow(request_id: &str, updated_input: Value, user_text: Option<&str>) -> String {
    let mut v = json!({"type": "control_response", "response": {
        "subtype": "success",
        "request_id": request_id,
        "response": {"behavior": "allow", "updatedInput": updated_input},
    }});
    if let Some(t) = user_text {
        v[ANSWER_FIELD] = json!(t);
    }
    v.to_string()
}

fn deny(request_id: &str, message: &str, user_text: &str) -> String {
    json!({"type": "control_response", ANSWER_FIELD: user_text, "response": {
        "subtype": "success",
        "request_id": request_id,
        "response": {"behavior": "deny", "message": message},
    }})
    .to_string()
}

/// `AskUserQuestion`'s input with the user's answers: one question takes the whole
/// text; several take one line each when every line starts with its question (the way
/// caic's UI writes them); anything else goes as free text (`response`), which the CLI
/// gives the model verbatim.
fn answered_questions(mut input: Value, text: &str) -> Value {
    let questions: Vec<String> = input
        .get("questions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|q| {
            q.get("question")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .collect();
    let mut answers = Map::new();
    match questions.as_slice() {
        [] => {}
        [q] => {
            answers.insert(q.clone(), json!(text.trim()));
        }
        many => {
            for q in many {
                let line = text
                    .lines()
                    .find_map(|l| l.trim_start().strip_prefix(q.as_str()));
                match line {
                    Some(a) if !a.trim().is_empty() => {
                        answers.insert(q.clone(), json!(a.trim()));
                    }
                    _ => {
                        answers.clear();
                        break;
                    }
                }
            }
        }
    }
    if !input.is_object() {
        input = json!({});
    }
    if answers.is_empty() {
        input["answers"] = json!({});
        input["response"] = json!(text.trim());
    } else {
        input["answers"] = Value::Object(answers);
    }
    input
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(questions: &[&str]) -> Value {
        json!({"subtype": "can_use_tool", "tool_name": "AskUserQuestion", "input": {
            "questions": questions.iter().map(|q| json!({"question": q, "options": [{"label": "A"}]})).collect::<Vec<_>>()
        }})
    }

    fn parse(line: &str) -> Value {
        serde_json::from_str(line).unwrap()
    }

    #[test]
    fn tools_are_allowed_once_with_their_input() {
        let mut r = Requests::default();
        r.opened(
            "r1".into(),
            &json!({"subtype": "can_use_tool", "tool_name": "Bash", "input": {"command": "ls"}}),
        );
        let got = r.auto_replies();
        assert_eq!(got.len(), 1);
        let v = parse(&got[0]);
        assert_eq!(v["type"], "control_response");
        assert_eq!(v["response"]["request_id"], "r1");
        assert_eq!(v["response"]["response"]["behavior"], "allow");
        assert_eq!(v["response"]["response"]["updatedInput"]["command"], "ls");
        assert!(r.auto_replies().is_empty(), "answered twice");
        assert_eq!(r.waiting(), None);
        r.closed("r1");
        assert!(!r.is_open("r1"));
    }

    #[test]
    fn unknown_requests_get_an_error_answer() {
        let mut r = Requests::default();
        r.opened("h1".into(), &json!({"subtype": "hook_callback"}));
        let v = parse(&r.auto_replies()[0]);
        assert_eq!(v["response"]["subtype"], "error");
        assert_eq!(v["response"]["request_id"], "h1");
    }

    #[test]
    fn one_question_takes_the_whole_answer() {
        let mut r = Requests::default();
        r.opened("q".into(), &ask(&["Which?"]));
        assert!(r.auto_replies().is_empty());
        assert_eq!(r.waiting(), Some(Wait::Question));
        let v = parse(&r.answer("  Rust ").unwrap());
        assert_eq!(v[ANSWER_FIELD], "  Rust ");
        let input = &v["response"]["response"]["updatedInput"];
        assert_eq!(input["answers"]["Which?"], "Rust");
        assert_eq!(input["questions"][0]["question"], "Which?");
        // In flight: not answered twice, not waiting any more.
        assert_eq!(r.waiting(), None);
        assert!(r.answer("again").is_none());
    }

    #[test]
    fn several_questions_by_line_or_as_free_text() {
        let mut r = Requests::default();
        r.opened("q".into(), &ask(&["Lang?", "License?"]));
        let v = parse(&r.answer("Lang? Rust\nLicense? MIT").unwrap());
        let input = &v["response"]["response"]["updatedInput"];
        assert_eq!(
            input["answers"],
            json!({"Lang?": "Rust", "License?": "MIT"})
        );
        assert!(input.get("response").is_none());

        let mut r = Requests::default();
        r.opened("q".into(), &ask(&["Lang?", "License?"]));
        let v = parse(&r.answer("Rust, and MIT please").unwrap());
        let input = &v["response"]["response"]["updatedInput"];
        assert_eq!(input["answers"], json!({}));
        assert_eq!(input["response"], "Rust, and MIT please");
    }

    #[test]
    fn plan_reply_approves_with_the_words_or_refuses_without_a_plan() {
        let mut r = Requests::default();
        r.opened(
            "p".into(),
            &json!({"subtype": "can_use_tool", "tool_name": "ExitPlanMode",
                    "input": {"plan": "# Plan", "planFilePath": "/p.md"}}),
        );
        assert_eq!(r.waiting(), Some(Wait::Plan));
        let v = parse(&r.answer("Go ahead").unwrap());
        let resp = &v["response"]["response"];
        assert_eq!(resp["behavior"], "allow");
        assert_eq!(
            resp["updatedInput"]["plan"],
            "# Plan\n\n## The user's reply\n\nGo ahead"
        );
        assert_eq!(resp["updatedInput"]["planFilePath"], "/p.md");

        let mut r = Requests::default();
        r.opened(
            "p".into(),
            &json!({"subtype": "can_use_tool", "tool_name": "ExitPlanMode", "input": {}}),
        );
        let v = parse(&r.answer("Write the plan first").unwrap());
        let resp = &v["response"]["response"];
        assert_eq!(resp["behavior"], "deny");
        assert_eq!(resp["message"], "The user replied: Write the plan first");
    }

    #[test]
    fn release_refuses_held_requests_and_stops_the_turn() {
        let mut r = Requests::default();
        r.opened("q".into(), &ask(&["Which?"]));
        r.opened(
            "b".into(),
            &json!({"subtype": "can_use_tool", "tool_name": "Bash", "input": {}}),
        );
        let got = r.release();
        assert_eq!(got.len(), 1, "{got:?}");
        let v = parse(&got[0]);
        assert_eq!(v["response"]["request_id"], "q");
        assert_eq!(v["response"]["response"]["behavior"], "deny");
        assert_eq!(v["response"]["response"]["interrupt"], true);
        assert_eq!(r.waiting(), None);
        assert!(r.release().is_empty());
    }

    #[test]
    fn a_turn_end_forgets_open_requests() {
        let mut r = Requests::default();
        r.opened("q".into(), &ask(&["Which?"]));
        r.turn_ended();
        assert_eq!(r.waiting(), None);
        assert!(r.answer("x").is_none());
    }
}
