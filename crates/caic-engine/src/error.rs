//! The one error type of caic-engine.

use caic_api::TaskState;

/// What can go wrong acting on tasks.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request was invalid (unknown repo, harness, model, bad prompt...).
    #[error("{0}")]
    BadRequest(String),
    /// No task with that id.
    #[error("task {0} not found")]
    NotFound(String),
    /// The task belongs to another user.
    #[error("this task belongs to another user")]
    Forbidden(String),
    /// The task's state does not allow the action.
    #[error("task is {state}: cannot {action}")]
    Conflict {
        /// The task's current state.
        state: TaskState,
        /// What was attempted.
        action: &'static str,
    },
    /// No container engine could be reached (Docker/Podman down, bad socket).
    #[error("{0}")]
    EngineUnavailable(String),
    /// The container side failed.
    #[error(transparent)]
    Runtime(caic_runtime::Error),
    /// Host-side git failed.
    #[error(transparent)]
    Git(#[from] caic_git::Error),
    /// Reading or writing logs failed.
    #[error("log: {0}")]
    Io(#[from] std::io::Error),
    /// Anything else that went wrong inside caic.
    #[error("{0}")]
    Internal(String),
}

impl From<caic_runtime::Error> for Error {
    fn from(e: caic_runtime::Error) -> Self {
        match e {
            caic_runtime::Error::EngineUnavailable(_) => Error::EngineUnavailable(e.to_string()),
            e => Error::Runtime(e),
        }
    }
}

/// Result alias for the engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;
