//! A task's data and how events change it. Pure: the same code runs live and when a
//! task is rebuilt from its logs, so both give the same task.

use crate::log::TaskMeta;
use caic_api::{DiffFile, Event, EventData, TaskState};
use std::collections::HashMap;

/// Everything caic knows about one task, without locks or I/O.
#[derive(Debug, Clone)]
pub struct TaskData {
    /// Fixed facts.
    pub meta: TaskMeta,
    /// Current state.
    pub state: TaskState,
    /// When the state last changed, Unix ms.
    pub state_updated_at: i64,
    /// Container name, once created.
    pub container: Option<String>,
    /// Agent session id (for resume).
    pub session_id: Option<String>,
    /// Agent CLI version.
    pub agent_version: Option<String>,
    /// Model reported by the agent.
    pub model: Option<String>,
    /// Last error.
    pub error: Option<String>,
    /// Last result text.
    pub result: Option<String>,
    /// Cost of closed segments, USD.
    pub cost_before: f64,
    /// Cost of the current segment, USD (agents report it cumulatively per process).
    pub cost_segment: f64,
    /// Turns of closed segments.
    pub turns_before: u64,
    /// Turns of the current segment.
    pub turns_segment: u64,
    /// Agent time, ms.
    pub duration_ms: u64,
    /// Cumulative input tokens (all kinds).
    pub input_tokens: u64,
    /// Cumulative output tokens.
    pub output_tokens: u64,
    /// Input tokens of the last model call.
    pub active_input_tokens: u64,
    /// Context window of the harness.
    pub context_window_limit: u64,
    /// Files changed so far.
    pub diff_stat: Vec<DiffFile>,
    /// Every event, in order; `seq` is the index.
    pub history: Vec<Event>,
    /// Current segment number.
    pub segment: u32,
    /// Whether the current segment's relay (agent process) was started.
    pub relay_started: bool,
    /// Start phases, measured live (not rebuilt from logs).
    pub startup: Option<caic_api::StartupTimings>,
    /// The pull/merge request for the branch, once opened or found.
    pub pr: Option<caic_api::PullInfo>,
    /// CI of the last pushed commit.
    pub ci: Option<caic_api::CiInfo>,
    turn_asked: bool,
    turn_planned: bool,
    tool_started: HashMap<String, i64>,
}

impl TaskData {
    /// A new task in `pending`.
    pub fn new(meta: TaskMeta, context_window_limit: u64, now: i64) -> TaskData {
        TaskData {
            meta,
            state: TaskState::Pending,
            state_updated_at: now,
            container: None,
            session_id: None,
            agent_version: None,
            model: None,
            error: None,
            result: None,
            cost_before: 0.0,
            cost_segment: 0.0,
            turns_before: 0,
            turns_segment: 0,
            duration_ms: 0,
            input_tokens: 0,
            output_tokens: 0,
            active_input_tokens: 0,
            context_window_limit,
            diff_stat: Vec::new(),
            history: Vec::new(),
            segment: 0,
            relay_started: false,
            startup: None,
            pr: None,
            ci: None,
            turn_asked: false,
            turn_planned: false,
            tool_started: HashMap::new(),
        }
    }

    /// Moves to `state`, recording when.
    pub fn set_state(&mut self, state: TaskState, now: i64) {
        if self.state != state {
            self.state = state;
            self.state_updated_at = now;
        }
    }

    /// Starts a new segment: per-process counters roll over into the totals.
    pub fn new_segment(&mut self, segment: u32) {
        self.cost_before += self.cost_segment;
        self.turns_before += self.turns_segment;
        self.cost_segment = 0.0;
        self.turns_segment = 0;
        self.segment = segment;
        self.relay_started = false;
        self.tool_started.clear();
    }

    /// Applies an event's effect on the task and appends it to the history. Fills in
    /// what caic measures itself (tool durations). Returns the stored event.
    pub fn push(&mut self, mut data: EventData, ts: i64) -> Event {
        self.apply(&mut data, ts);
        let ev = Event {
            seq: self.history.len() as u64,
            ts,
            data,
        };
        self.history.push(ev.clone());
        ev
    }

    fn live(&self) -> bool {
        self.state.is_live() || self.state == TaskState::Starting
    }

    fn apply(&mut self, data: &mut EventData, ts: i64) {
        match data {
            EventData::Init {
                model,
                agent_version,
                session_id,
                ..
            } => {
                if !session_id.is_empty() {
                    self.session_id = Some(session_id.clone());
                }
                if !agent_version.is_empty() {
                    self.agent_version = Some(agent_version.clone());
                }
                if !model.is_empty() {
                    self.model = Some(model.clone());
                }
            }
            EventData::UserInput { .. } => {
                self.turn_asked = false;
                self.turn_planned = false;
                if self.live() {
                    self.set_state(TaskState::Running, ts);
                }
            }
            EventData::ToolUse {
                tool_use_id, name, ..
            } => {
                self.tool_started.insert(tool_use_id.clone(), ts);
                if name == "ExitPlanMode" {
                    self.turn_planned = true;
                }
            }
            EventData::Ask { tool_use_id, .. } => {
                self.tool_started.insert(tool_use_id.clone(), ts);
                self.turn_asked = true;
            }
            EventData::Todo { tool_use_id, .. } => {
                self.tool_started.insert(tool_use_id.clone(), ts);
            }
            EventData::ToolResult {
                tool_use_id,
                duration_ms,
                ..
            } => {
                if let Some(start) = self.tool_started.remove(tool_use_id.as_str()) {
                    if duration_ms.is_none() {
                        *duration_ms = Some((ts - start).max(0) as u64);
                    }
                }
            }
            EventData::Usage { usage, .. } => {
                self.active_input_tokens = usage.input_tokens
                    + usage.cache_creation_input_tokens
                    + usage.cache_read_input_tokens;
            }
            EventData::Result {
                is_error,
                result,
                total_cost_usd,
                duration_ms,
                num_turns,
                usage,
                diff_stat,
                subtype,
                context_window,
            } => {
                if let Some(w) = context_window {
                    self.context_window_limit = *w;
                }
                self.cost_segment = *total_cost_usd;
                self.turns_segment = *num_turns;
                self.duration_ms += *duration_ms;
                self.input_tokens += usage.input_tokens
                    + usage.cache_creation_input_tokens
                    + usage.cache_read_input_tokens;
                self.output_tokens += usage.output_tokens;
                self.result = Some(result.clone());
                self.error = if *is_error {
                    Some(if result.is_empty() {
                        subtype.clone()
                    } else {
                        result.clone()
                    })
                } else {
                    None
                };
                if !diff_stat.is_empty() {
                    self.diff_stat = diff_stat.clone();
                }
                if self.live() {
                    let next = if self.turn_asked {
                        TaskState::Asking
                    } else if self.turn_planned {
                        TaskState::HasPlan
                    } else {
                        TaskState::Waiting
                    };
                    self.set_state(next, ts);
                }
            }
            EventData::DiffStat { diff_stat } => {
                self.diff_stat = diff_stat.clone();
            }
            EventData::Pr { forge, number, url } => {
                self.pr = Some(caic_api::PullInfo {
                    forge: forge.clone(),
                    number: *number,
                    url: url.clone(),
                });
            }
            EventData::Ci {
                sha,
                state,
                done,
                total,
                checks,
            } => {
                self.ci = Some(caic_api::CiInfo {
                    sha: sha.clone(),
                    state: *state,
                    done: *done,
                    total: *total,
                    checks: checks.clone(),
                });
            }
            _ => {}
        }
    }

    /// The task as the API shows it.
    pub fn to_api(&self) -> caic_api::Task {
        caic_api::Task {
            id: self.meta.id.clone(),
            title: self.meta.title.clone(),
            prompt: self.meta.prompt.clone(),
            repo: self.meta.repo.clone(),
            base_branch: self.meta.base_branch.clone(),
            branch: self.meta.branch.clone(),
            harness: self.meta.harness.clone(),
            model: self.model.clone().or_else(|| self.meta.model.clone()),
            state: self.state,
            state_updated_at: self.state_updated_at,
            created_at: self.meta.created_at,
            container: self.container.clone(),
            session_id: self.session_id.clone(),
            agent_version: self.agent_version.clone(),
            error: self.error.clone(),
            result: self.result.clone(),
            cost_usd: self.cost_before + self.cost_segment,
            duration_ms: self.duration_ms,
            num_turns: self.turns_before + self.turns_segment,
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            active_input_tokens: self.active_input_tokens,
            context_window_limit: self.context_window_limit,
            diff_stat: self.diff_stat.clone(),
            startup: self.startup.clone(),
            pr: self.pr.clone(),
            ci: self.ci.clone(),
        }
    }
}

/// A short title from a prompt: its first line, at most 80 characters.
pub fn title_from_prompt(prompt: &str) -> String {
    let first = prompt.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let first = first.trim();
    if first.chars().count() <= 80 {
        first.to_string()
    } else {
        let mut t: String = first.chars().take(79).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use caic_api::Usage;

    fn task() -> TaskData {
        let meta = TaskMeta {
            id: "t".into(),
            title: "t".into(),
            prompt: "p".into(),
            repo: "r".into(),
            base_branch: "main".into(),
            branch: "caic-1".into(),
            harness: "fake".into(),
            model: None,
            created_at: 0,
            inject_token: false,
            owner: None,
        };
        let mut t = TaskData::new(meta, 1000, 0);
        t.set_state(TaskState::Starting, 1);
        t
    }

    fn result(cost: f64, turns: u64) -> EventData {
        EventData::Result {
            subtype: "success".into(),
            is_error: false,
            result: "ok".into(),
            total_cost_usd: cost,
            duration_ms: 10,
            num_turns: turns,
            usage: Usage {
                input_tokens: 5,
                output_tokens: 7,
                ..Default::default()
            },
            diff_stat: vec![],
            context_window: None,
        }
    }

    #[test]
    fn turn_cycle_moves_states_and_counts() {
        let mut t = task();
        t.push(
            EventData::UserInput {
                text: "hi".into(),
                images: 0,
            },
            2,
        );
        assert_eq!(t.state, TaskState::Running);
        t.push(
            EventData::ToolUse {
                tool_use_id: "a".into(),
                name: "Bash".into(),
                input: serde_json::json!({}),
            },
            100,
        );
        let ev = t.push(
            EventData::ToolResult {
                tool_use_id: "a".into(),
                output: String::new(),
                error: None,
                duration_ms: None,
            },
            350,
        );
        match ev.data {
            EventData::ToolResult { duration_ms, .. } => assert_eq!(duration_ms, Some(250)),
            _ => unreachable!(),
        }
        t.push(result(0.5, 1), 400);
        assert_eq!(t.state, TaskState::Waiting);
        assert_eq!(t.history.len(), 4);
        assert_eq!(t.history[3].seq, 3);
        // A new segment (resume) restarts the agent's cumulative counters.
        t.new_segment(1);
        t.push(
            EventData::UserInput {
                text: "again".into(),
                images: 0,
            },
            500,
        );
        t.push(result(0.25, 1), 600);
        let api = t.to_api();
        assert_eq!(api.cost_usd, 0.75);
        assert_eq!(api.num_turns, 2);
        assert_eq!(api.input_tokens, 10);
    }

    #[test]
    fn ask_and_plan_end_in_their_states() {
        let mut t = task();
        t.push(
            EventData::UserInput {
                text: "q".into(),
                images: 0,
            },
            1,
        );
        t.push(
            EventData::Ask {
                tool_use_id: "x".into(),
                questions: vec![],
            },
            2,
        );
        t.push(result(0.1, 1), 3);
        assert_eq!(t.state, TaskState::Asking);
        t.push(
            EventData::UserInput {
                text: "a".into(),
                images: 0,
            },
            4,
        );
        t.push(
            EventData::ToolUse {
                tool_use_id: "p".into(),
                name: "ExitPlanMode".into(),
                input: serde_json::json!({"plan":"do it"}),
            },
            5,
        );
        t.push(result(0.2, 2), 6);
        assert_eq!(t.state, TaskState::HasPlan);
    }

    #[test]
    fn events_do_not_revive_a_stopped_task() {
        let mut t = task();
        t.set_state(TaskState::Stopped, 5);
        t.push(result(0.1, 1), 6);
        assert_eq!(t.state, TaskState::Stopped);
    }

    #[test]
    fn titles_are_first_line_and_short() {
        assert_eq!(title_from_prompt("\n  fix the bug \nmore"), "fix the bug");
        let long = "x".repeat(200);
        assert_eq!(title_from_prompt(&long).chars().count(), 80);
    }
}
