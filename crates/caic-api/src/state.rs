//! Task states and which actions each allows. This table is part of the API contract.

use serde::{Deserialize, Serialize};
use std::fmt;
use utoipa::ToSchema;

/// Where a task is in its life.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    /// Recorded, nothing started yet.
    Pending,
    /// Reserving the `caic-N` branch in the host repo.
    Branching,
    /// Creating and starting the container.
    Provisioning,
    /// Container up; pushing the repo and starting the agent.
    Starting,
    /// The agent is working on a turn.
    Running,
    /// The agent finished its turn and waits for input.
    Waiting,
    /// The agent asked the user a question.
    Asking,
    /// The agent produced a plan and waits for approval.
    HasPlan,
    /// Stopping the agent and the container.
    Stopping,
    /// Container stopped but kept; can be revived.
    Stopped,
    /// Deleting the container.
    Purging,
    /// Container deleted; only history remains.
    Purged,
    /// Something failed; see the task's error.
    Failed,
}

/// A user action on a task.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Send follow-up input to the agent.
    Input,
    /// Stop the agent and the container (kept).
    Stop,
    /// Restart a stopped container and resume the agent.
    Revive,
    /// Delete the container.
    Purge,
    /// Start a new agent session in the same container, history kept.
    Restart,
    /// Read the diff of the work.
    Diff,
    /// Bring the work back to the host and publish it.
    Sync,
    /// Stop the agent's current turn; the session stays.
    Interrupt,
}

impl TaskState {
    /// Every state, in lifecycle order.
    pub const ALL: [TaskState; 13] = [
        TaskState::Pending,
        TaskState::Branching,
        TaskState::Provisioning,
        TaskState::Starting,
        TaskState::Running,
        TaskState::Waiting,
        TaskState::Asking,
        TaskState::HasPlan,
        TaskState::Stopping,
        TaskState::Stopped,
        TaskState::Purging,
        TaskState::Purged,
        TaskState::Failed,
    ];

    /// Whether `action` is allowed in this state.
    pub fn allows(self, action: Action) -> bool {
        use TaskState::*;
        match action {
            Action::Input => matches!(self, Running | Waiting | Asking | HasPlan),
            Action::Stop => matches!(self, Starting | Running | Waiting | Asking | HasPlan),
            Action::Revive => matches!(self, Stopped | Failed),
            Action::Purge => matches!(
                self,
                Running | Waiting | Asking | HasPlan | Stopped | Failed | Starting
            ),
            Action::Restart => matches!(self, Waiting | Asking | HasPlan),
            Action::Diff | Action::Sync => matches!(self, Running | Waiting | Asking | HasPlan),
            Action::Interrupt => matches!(self, Running),
        }
    }

    /// True when an agent session is expected to be live.
    pub fn is_live(self) -> bool {
        matches!(
            self,
            TaskState::Running | TaskState::Waiting | TaskState::Asking | TaskState::HasPlan
        )
    }

    /// True when the task will never run again.
    pub fn is_final(self) -> bool {
        matches!(self, TaskState::Purged)
    }

    /// The wire name, e.g. `has_plan`.
    pub fn as_str(self) -> &'static str {
        use TaskState::*;
        match self {
            Pending => "pending",
            Branching => "branching",
            Provisioning => "provisioning",
            Starting => "starting",
            Running => "running",
            Waiting => "waiting",
            Asking => "asking",
            HasPlan => "has_plan",
            Stopping => "stopping",
            Stopped => "stopped",
            Purging => "purging",
            Purged => "purged",
            Failed => "failed",
        }
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_match_serde() {
        for s in TaskState::ALL {
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
        }
    }

    #[test]
    fn purged_allows_nothing() {
        for a in [
            Action::Input,
            Action::Stop,
            Action::Revive,
            Action::Purge,
            Action::Restart,
            Action::Diff,
            Action::Sync,
            Action::Interrupt,
        ] {
            assert!(!TaskState::Purged.allows(a), "{a:?}");
        }
    }

    #[test]
    fn revive_only_when_down() {
        let ok: Vec<_> = TaskState::ALL
            .into_iter()
            .filter(|s| s.allows(Action::Revive))
            .collect();
        assert_eq!(ok, vec![TaskState::Stopped, TaskState::Failed]);
    }
}
