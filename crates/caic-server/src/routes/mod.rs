//! The HTTP API under `/api/v1/`, one module per resource.

pub mod server;
pub mod tasks;

use caic_engine::Engine;

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    /// The task engine.
    pub engine: Engine,
}
