//! Agent drivers ("harnesses"): how caic starts an agent in a container, encodes prompts
//! for its stdin, and parses its output stream into [`caic_api::EventData`].
//!
//! Everything here is pure: no process, network or file I/O (tracing aside). The stream a
//! parser reads is the relay's log: the agent's stdout lines and the stdin lines caic sent,
//! interleaved in order, so a task's whole history can be rebuilt from it.

#![warn(missing_docs)]

pub mod claude;
pub mod codex;
pub mod fake;
pub mod gemini;
mod harness;
pub mod prices;
mod text;

#[cfg(test)]
mod golden_tests;

pub use harness::{Harness, HarnessFile, Parser, SessionOpts};

use std::sync::Arc;

/// Every harness caic offers, in display order: `claude`, `codex`, `gemini`, `fake`.
pub fn all() -> Vec<Arc<dyn Harness>> {
    vec![
        Arc::new(claude::ClaudeHarness),
        Arc::new(codex::CodexHarness),
        Arc::new(gemini::GeminiHarness),
        Arc::new(fake::FakeHarness),
    ]
}

/// The harness called `name`, if any.
pub fn by_name(name: &str) -> Option<Arc<dyn Harness>> {
    all().into_iter().find(|h| h.info().name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_lists_every_harness() {
        let names: Vec<String> = all().iter().map(|h| h.info().name).collect();
        assert_eq!(names, ["claude", "codex", "gemini", "fake"]);
        assert_eq!(by_name("fake").unwrap().info().name, "fake");
        assert_eq!(by_name("codex").unwrap().info().name, "codex");
        assert!(by_name("kilo").is_none());
    }

    #[test]
    fn every_harness_has_a_default_model() {
        for h in all() {
            let info = h.info();
            assert!(!info.models.is_empty(), "{}", info.name);
            assert!(info.context_window > 0, "{}", info.name);
        }
    }
}
