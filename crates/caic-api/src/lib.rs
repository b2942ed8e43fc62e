//! Wire types for caic: what crosses the HTTP API, the SSE streams and the task logs.
//!
//! Everything here is plain data with serde and OpenAPI derives; no I/O. Field names
//! are camelCase on the wire.

#![warn(missing_docs)]

pub mod auth;
pub mod error;
pub mod event;
pub mod forge;
pub mod state;
pub mod task;

pub use auth::{ServerConfig, UserResp};
pub use error::{ApiError, ErrorBody, ErrorCode};
pub use event::{
    AskOption, AskQuestion, DiffFile, Event, EventData, ImageData, Prompt, TodoItem, Usage,
};
pub use forge::{CiCheck, CiInfo, CiState, PullInfo};
pub use state::{Action, TaskState};
pub use task::{
    BranchesResp, CreateTaskReq, CreateTaskResp, DiffResp, HarnessInfo, InputReq, Repo, RestartReq,
    SafetyIssue, StartupTimings, StatusResp, SyncReq, SyncResp, SyncTarget, Task, TaskListEvent,
};
