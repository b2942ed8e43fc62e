//! caic's task engine: creates tasks, runs each in its own container through the
//! runtime, feeds agent output through the harness parser into an event history that
//! subscribers follow, keeps one JSONL log per session, and after a restart rebuilds
//! tasks from those logs and re-attaches to containers still running.

#![warn(missing_docs)]

mod actions;
mod backend;
pub mod caller;
pub mod engine;
pub mod error;
mod handle;
mod lifecycle;
pub mod log;
mod log_sink;
mod publish;
pub(crate) mod reload;
mod session;
pub mod ship;
mod spawner;
mod sync;
pub mod task;
mod watchers;
mod webhook;

pub use backend::{build_image, BackendConfig};
/// The forge family.
pub use caic_forge::ForgeKind;
/// A runtime without containers (temp dirs, local processes), for tests.
#[cfg(all(feature = "memory", unix))]
pub use caic_runtime::MemoryRuntime;
/// Where tasks run: the trait, and a file to install for the agent.
pub use caic_runtime::{AgentFile, Runtime};
/// The workspace's one secret type: agent keys, forge tokens.
pub use caic_secrets::Secret;
pub use caller::Caller;
pub use engine::{Engine, EngineConfig, Subscription};
pub use error::{Error, Result};
pub use ship::{ForgeConfig, GitHubAppConfig, UserTokens};
pub use webhook::HookOutcome;
