//! Watchers the engine runs for its whole life: container deaths.

use crate::engine::Engine;
use crate::session;
use caic_api::{EventData, TaskState};
use std::time::Duration;

impl Engine {
    pub(crate) fn watch_container_deaths(&self) {
        let engine = self.clone();
        self.spawn(async move {
            loop {
                let mut deaths = engine.inner.backend.deaths();
                while let Some(task_id) = deaths.recv().await {
                    let Ok(task) = engine.task(&task_id) else {
                        continue;
                    };
                    if task.state().is_live() || task.state() == TaskState::Starting {
                        tracing::warn!(task = %task_id, "container died");
                        session::detach(&task).await;
                        task.emit(EventData::Error {
                            message: "the container exited".into(),
                            line: None,
                        });
                        task.set_state(TaskState::Stopped, Some("the container exited".into()));
                        engine.notify();
                    }
                }
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        });
    }
}
