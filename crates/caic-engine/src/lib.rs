//! caic's task engine: creates tasks, runs each in its own container through the
//! runtime, feeds agent output through the harness parser into an event history that
//! subscribers follow, keeps one JSONL log per session, and after a restart rebuilds
//! tasks from those logs and re-attaches to containers still running.

mod actions;
mod backend;
pub mod engine;
pub mod error;
mod handle;
mod lifecycle;
pub mod log;
mod publish;
pub(crate) mod reload;
mod session;
pub mod ship;
mod sync;
pub mod task;
mod watchers;
mod webhook;

pub use backend::BackendConfig;
/// The forge family, and a forge secret (re-exported for servers wiring credentials).
pub use caic_forge::{ForgeKind, Secret as ForgeSecret};
pub use engine::{Engine, EngineConfig, Subscription};
pub use error::{Error, Result};
pub use ship::{ForgeConfig, GitHubAppConfig, UserTokens};
pub use webhook::HookOutcome;
