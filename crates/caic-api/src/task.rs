//! REST request and response bodies.

use crate::event::{DiffFile, ImageData, Prompt};
use crate::state::TaskState;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /api/v1/tasks`: start a task.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateTaskReq {
    /// Repo id, as listed by `GET /api/v1/server/repos`.
    pub repo: String,
    /// Branch to start from; the repo's default branch when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_branch: Option<String>,
    /// Harness name, as listed by `GET /api/v1/server/harnesses`.
    pub harness: String,
    /// Model; the harness default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The first prompt.
    pub prompt: String,
    /// Images attached to the first prompt.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<ImageData>,
    /// Pass a forge token to the agent at each session start (env only; S17).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    #[cfg_attr(feature = "ts", ts(optional, as = "Option<bool>"))]
    pub inject_token: bool,
}

/// Answer to a task creation: the task is recorded and starts in the background.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateTaskResp {
    /// The new task's id.
    pub id: String,
    /// Always `accepted`.
    pub status: String,
}

/// `POST /api/v1/tasks/{id}/input`: a follow-up message.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InputReq {
    /// The message.
    pub prompt: Prompt,
}

/// `POST /api/v1/tasks/{id}/restart`: a new agent session, history kept.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RestartReq {
    /// The first message of the new session.
    pub prompt: Prompt,
}

/// A generic acknowledgement.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusResp {
    /// What happened, e.g. `sent`, `stopping`.
    pub status: String,
}

/// `GET /api/v1/tasks/{id}/diff`.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DiffResp {
    /// Unified diff of the work against the branch point, untracked files included.
    pub diff: String,
    /// Per-file line counts.
    pub diff_stat: Vec<DiffFile>,
}

/// Where `POST /api/v1/tasks/{id}/sync` publishes the work.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum SyncTarget {
    /// Push the task's branch `caic-N` to the repo's remote.
    #[default]
    Branch,
    /// Squash the work into one commit on top of the remote default branch (never forced).
    Default,
}

/// `POST /api/v1/tasks/{id}/sync`: bring the work back to the host repo and publish it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SyncReq {
    /// Branch (default) or default branch.
    #[serde(default)]
    pub target: SyncTarget,
    /// Push despite scan findings (branch target only).
    #[serde(default)]
    pub force: bool,
}

/// A finding of the pre-push scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
#[serde(rename_all = "camelCase")]
pub struct SafetyIssue {
    /// File path in the repo.
    pub file: String,
    /// Line in the new file, when it applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// `aws_access_key`, `github_token`, `generic_api_key`, `private_key`,
    /// `config_credential` or `large_binary`.
    pub kind: String,
    /// What was found, with any secret masked.
    pub detail: String,
}

/// Result of a sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
#[serde(rename_all = "camelCase")]
pub struct SyncResp {
    /// `synced`, `blocked` (scan findings) or `empty` (nothing to publish).
    pub status: String,
    /// The branch the work was pushed to.
    pub branch: String,
    /// The commit pushed, when one was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// Files changed by the work.
    #[serde(default)]
    pub diff_stat: Vec<DiffFile>,
    /// Findings of the pre-push scan.
    #[serde(default)]
    pub safety_issues: Vec<SafetyIssue>,
    /// The pull/merge request for the pushed branch, when the remote is a known forge
    /// and a credential is available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pr: Option<crate::PullInfo>,
}

/// A task as the API shows it.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    /// Sortable unique id.
    pub id: String,
    /// Short title (the first prompt's first line for now).
    pub title: String,
    /// The first prompt.
    pub prompt: String,
    /// Repo id.
    pub repo: String,
    /// Branch the work started from.
    pub base_branch: String,
    /// The task's own branch, `caic-N` (empty until reserved).
    pub branch: String,
    /// Harness name.
    pub harness: String,
    /// Model, when chosen or reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Current state.
    pub state: TaskState,
    /// When the state last changed, Unix ms.
    pub state_updated_at: i64,
    /// When the task was created, Unix ms.
    pub created_at: i64,
    /// Container name, once created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// Agent session id, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Agent CLI version, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_version: Option<String>,
    /// Last error, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The agent's last result text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// Cost so far, USD, over all sessions.
    pub cost_usd: f64,
    /// Agent time so far, ms.
    pub duration_ms: u64,
    /// Model turns so far.
    pub num_turns: u64,
    /// Cumulative input tokens.
    pub input_tokens: u64,
    /// Cumulative output tokens.
    pub output_tokens: u64,
    /// Input tokens of the last model call (context fill).
    pub active_input_tokens: u64,
    /// The model's context window.
    pub context_window_limit: u64,
    /// Files changed so far.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diff_stat: Vec<DiffFile>,
    /// How long the start took, phase by phase (this server run only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup: Option<StartupTimings>,
    /// The pull/merge request opened for the task's branch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pr: Option<crate::PullInfo>,
    /// CI of the last pushed commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci: Option<crate::CiInfo>,
}

/// How long each phase of a task's start took, ms since the task was created.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StartupTimings {
    /// Branch `caic-N` created in the host repo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch_ms: Option<u64>,
    /// Container created and started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_ms: Option<u64>,
    /// SSH into the container answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_ms: Option<u64>,
    /// Repo pushed into the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_ms: Option<u64>,
    /// Agent started under the relay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_ms: Option<u64>,
    /// First prompt written to the agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_ms: Option<u64>,
    /// First line of agent output received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_output_ms: Option<u64>,
}

/// A git repo caic can start tasks in.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Repo {
    /// Path relative to the repos root; the repo id.
    pub path: String,
    /// Default branch.
    pub base_branch: String,
    /// `origin` URL, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_url: Option<String>,
}

/// `GET /api/v1/server/repos/branches?repo=`.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BranchesResp {
    /// Branch names, default branch first.
    pub branches: Vec<String>,
}

/// A harness a task can use.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HarnessInfo {
    /// Name used in `CreateTaskReq.harness`.
    pub name: String,
    /// Models offered; the first is the default.
    pub models: Vec<String>,
    /// Whether prompts may carry images.
    pub supports_images: bool,
    /// Context window in tokens.
    pub context_window: u64,
    /// Environment variables that carry the agent's credentials (any one is enough).
    /// caic passes them to the agent process over SSH at each session start, from
    /// `[harness.<name>.env]` or caic's own environment; never in the image or labels.
    #[serde(default)]
    pub credential_env: Vec<String>,
    /// Whether one of `credential_env` is configured (true when none is needed).
    #[serde(default)]
    pub credentials_configured: bool,
}

/// One message on the task-list stream `GET /api/v1/server/tasks/events`.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum TaskListEvent {
    /// Every task, sent first.
    Snapshot {
        /// The tasks.
        tasks: Vec<Task>,
    },
    /// A new task, or one whose fields changed too much for a patch.
    Upsert {
        /// The task.
        task: Box<Task>,
    },
    /// Changed top-level fields of a task, always with `id`; removed fields are null.
    Patch {
        /// The changed fields.
        #[schema(value_type = Object)]
        patch: serde_json::Value,
    },
    /// A task is gone from the list.
    Delete {
        /// Its id.
        id: String,
    },
}
