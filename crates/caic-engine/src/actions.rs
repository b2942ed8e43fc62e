//! What a caller does to a task: create, input, interrupt, stop, revive, purge,
//! restart, diff. Each checks the task's state first; slow work runs in the background.

use crate::caller::Caller;
use crate::engine::{workdir, Engine};
use crate::error::{Error, Result};
use crate::handle::{now_ms, Task};
use crate::log::{self, Header, Record, TaskMeta};
use crate::session;
use crate::task::{title_from_prompt, TaskData};
use caic_api::{Action, CreateTaskReq, DiffResp, EventData, Prompt, TaskState};
use caic_git::RepoInfo;
use std::sync::Arc;
use std::time::Duration;

impl Engine {
    /// Records a new task and starts it in the background. Returns its id.
    pub async fn create(&self, caller: &Caller, req: CreateTaskReq) -> Result<String> {
        let harness = caic_harness::by_name(&req.harness)
            .ok_or_else(|| Error::BadRequest(format!("unknown harness {:?}", req.harness)))?;
        let info = harness.info();
        if let Some(m) = &req.model {
            if !info.models.iter().any(|x| x == m) {
                return Err(Error::BadRequest(format!(
                    "model {m:?} is not offered by harness {:?} (offered: {})",
                    req.harness,
                    info.models.join(", ")
                )));
            }
        }
        let prompt = Prompt {
            text: req.prompt.clone(),
            images: req.images.clone(),
        };
        validate_prompt(&prompt, info.supports_images)?;
        let repo = self.repo_for(&req.repo)?;
        let base_branch = req
            .base_branch
            .clone()
            .unwrap_or_else(|| repo.default_branch.clone());
        if base_branch.trim().is_empty() {
            return Err(Error::BadRequest("baseBranch is empty".into()));
        }
        if !caic_git::has_base(&repo.abs_path, &base_branch).await? {
            return Err(Error::BadRequest(format!(
                "no branch {base_branch} in {}",
                repo.id
            )));
        }
        let allocator = self.allocator(&repo);
        let branch = allocator.reserve().await?;
        let id = ulid::Ulid::new().to_string().to_lowercase();
        let now = now_ms();
        let meta = TaskMeta {
            id: id.clone(),
            title: title_from_prompt(&req.prompt),
            prompt: req.prompt.clone(),
            repo: repo.id.clone(),
            base_branch,
            branch,
            harness: req.harness.clone(),
            model: req.model.clone(),
            created_at: now,
            inject_token: req.inject_token,
            owner: caller.owner(),
        };
        let header = Header {
            version: 1,
            task: meta.clone(),
            segment: 0,
            relay: session::relay_name(0),
            started_at: now,
        };
        let writer = log::Writer::create(&self.logs_dir(), &header)?;
        let data = TaskData::new(meta, info.context_window, now);
        let task = Task::new(data, Some(writer));
        self.inner.tasks.lock().insert(id.clone(), task.clone());
        self.notify();
        let engine = self.clone();
        self.spawn(async move {
            let _op = task.ops.lock().await;
            if let Err(e) = engine.provision(&task, prompt).await {
                let msg = e.to_string();
                tracing::error!(task = %task.id(), error = %msg, "task failed to start");
                task.emit(EventData::Error {
                    message: msg.clone(),
                    line: None,
                });
                task.set_state(TaskState::Failed, Some(msg));
                engine.notify();
            }
        });
        Ok(id)
    }

    fn allocator(&self, repo: &RepoInfo) -> Arc<caic_git::BranchAllocator> {
        self.inner
            .allocators
            .lock()
            .entry(repo.id.clone())
            .or_insert_with(|| Arc::new(caic_git::BranchAllocator::new(&repo.abs_path)))
            .clone()
    }

    pub(crate) fn check(
        &self,
        task: &Task,
        action: Action,
        name: &'static str,
    ) -> Result<TaskState> {
        let state = task.state();
        if state.allows(action) {
            Ok(state)
        } else {
            Err(Error::Conflict {
                state,
                action: name,
            })
        }
    }

    /// Sends a follow-up message to the agent, starting a resumed session if the agent
    /// process is gone.
    pub async fn input(&self, caller: &Caller, id: &str, prompt: Prompt) -> Result<()> {
        let task = self.task_for(caller, id)?;
        self.check(&task, Action::Input, "send input")?;
        let harness = self.harness_of(&task)?;
        validate_prompt(&prompt, harness.info().supports_images)?;
        let line = harness.encode_prompt(&prompt);
        if session::send_line(&task, &line).await? {
            return Ok(());
        }
        // No live agent: resume it in a new segment, then send.
        let _op = task.ops.lock().await;
        self.check(&task, Action::Input, "send input")?;
        self.start_segment(&task, true).await?;
        if !session::send_line(&task, &line).await? {
            return Err(Error::Internal(
                "the agent session ended right after it started".into(),
            ));
        }
        Ok(())
    }

    /// Asks the agent to end its current turn early; the session goes on.
    pub async fn interrupt(&self, caller: &Caller, id: &str) -> Result<()> {
        let task = self.task_for(caller, id)?;
        self.check(&task, Action::Interrupt, "interrupt")?;
        let harness = self.harness_of(&task)?;
        let line = harness.encode_interrupt().ok_or_else(|| {
            Error::BadRequest(format!(
                "harness {:?} cannot interrupt a turn",
                harness.info().name
            ))
        })?;
        if !session::send_line(&task, &line).await? {
            return Err(Error::Conflict {
                state: task.state(),
                action: "interrupt (no live agent session)",
            });
        }
        Ok(())
    }

    /// Stops the agent and the container; the container is kept for revive.
    pub async fn stop(&self, caller: &Caller, id: &str) -> Result<()> {
        let task = self.task_for(caller, id)?;
        self.check(&task, Action::Stop, "stop")?;
        task.set_state(TaskState::Stopping, None);
        self.notify();
        let engine = self.clone();
        self.spawn(async move {
            let _op = task.ops.lock().await;
            session::detach(&task).await;
            let container = task.data.lock().container.clone();
            let res = match container {
                Some(c) => engine.inner.backend.stop_container(&c).await,
                None => Ok(()),
            };
            match res {
                Ok(()) => {
                    task.emit(EventData::Log {
                        line: "container stopped".into(),
                    });
                    task.set_state(TaskState::Stopped, None);
                }
                Err(e) => task.set_state(TaskState::Failed, Some(e.to_string())),
            }
            engine.notify();
        });
        Ok(())
    }

    /// Restarts a stopped container and resumes the agent session.
    pub async fn revive(&self, caller: &Caller, id: &str) -> Result<()> {
        let task = self.task_for(caller, id)?;
        self.check(&task, Action::Revive, "revive")?;
        let Some(container) = task.data.lock().container.clone() else {
            return Err(Error::Conflict {
                state: task.state(),
                action: "revive (no container)",
            });
        };
        task.set_state(TaskState::Provisioning, None);
        self.notify();
        let engine = self.clone();
        self.spawn(async move {
            let _op = task.ops.lock().await;
            let res = async {
                engine.inner.backend.start_container(&container).await?;
                task.set_state(TaskState::Starting, None);
                engine.notify();
                engine.start_segment(&task, true).await
            }
            .await;
            if let Err(e) = res {
                task.set_state(TaskState::Failed, Some(e.to_string()));
            }
            engine.notify();
        });
        Ok(())
    }

    /// Deletes the container; the history stays.
    pub async fn purge(&self, caller: &Caller, id: &str) -> Result<()> {
        let task = self.task_for(caller, id)?;
        self.check(&task, Action::Purge, "purge")?;
        self.inner.ship.unwatch(id);
        task.set_state(TaskState::Purging, None);
        self.notify();
        let engine = self.clone();
        self.spawn(async move {
            let _op = task.ops.lock().await;
            engine.finish_purge(&task).await;
        });
        Ok(())
    }

    pub(crate) async fn finish_purge(&self, task: &Arc<Task>) {
        session::detach(task).await;
        let container = task.data.lock().container.clone();
        let res = match container {
            Some(c) => self.inner.backend.remove_container(&c).await,
            None => Ok(()),
        };
        match res {
            Ok(()) => {
                task.set_state(TaskState::Purged, None);
                let mut log = task.log.lock();
                if let Some(w) = log.as_mut() {
                    let _ = w.record(&Record::Trailer(log::Trailer {
                        state: TaskState::Purged,
                        reason: "purged".into(),
                    }));
                }
                *log = None;
            }
            Err(e) => task.set_state(TaskState::Failed, Some(e.to_string())),
        }
        self.notify();
    }

    /// Ends the agent session and starts a fresh one (no resume) with `prompt`; the
    /// history is kept, with a `context_cleared` marker.
    pub async fn restart(&self, caller: &Caller, id: &str, prompt: Prompt) -> Result<()> {
        let task = self.task_for(caller, id)?;
        self.check(&task, Action::Restart, "restart")?;
        let harness = self.harness_of(&task)?;
        validate_prompt(&prompt, harness.info().supports_images)?;
        let _op = task.ops.lock().await;
        self.check(&task, Action::Restart, "restart")?;
        session::close_gracefully(&task, Duration::from_secs(10)).await;
        task.emit(EventData::System {
            subtype: "context_cleared".into(),
            detail: None,
        });
        self.start_segment(&task, false).await?;
        let line = harness.encode_prompt(&prompt);
        if !session::send_line(&task, &line).await? {
            return Err(Error::Internal(
                "the new agent session ended before it got its prompt".into(),
            ));
        }
        Ok(())
    }

    /// The full diff and the diff stat of the work against the branch point.
    pub async fn diff(&self, caller: &Caller, id: &str) -> Result<DiffResp> {
        let task = self.task_for(caller, id)?;
        self.check(&task, Action::Diff, "diff")?;
        let container = task
            .data
            .lock()
            .container
            .clone()
            .ok_or_else(|| Error::Internal("task has no container".into()))?;
        let workdir = workdir(&task.data.lock().meta.repo);
        let (diff, diff_stat) = self.inner.backend.diff(&container, &workdir).await?;
        Ok(DiffResp { diff, diff_stat })
    }
}

fn validate_prompt(p: &Prompt, supports_images: bool) -> Result<()> {
    // Whitespace, NUL and other control characters say nothing to an agent.
    let blank = p.text.chars().all(|c| c.is_whitespace() || c.is_control());
    if blank && p.images.is_empty() {
        return Err(Error::BadRequest("prompt is empty".into()));
    }
    if !p.images.is_empty() && !supports_images {
        return Err(Error::BadRequest(
            "this harness does not accept images".into(),
        ));
    }
    for img in &p.images {
        if !matches!(
            img.media_type.as_str(),
            "image/png" | "image/jpeg" | "image/gif" | "image/webp"
        ) {
            return Err(Error::BadRequest(format!(
                "unsupported image type {:?} (png, jpeg, gif or webp)",
                img.media_type
            )));
        }
        if img.data.is_empty() {
            return Err(Error::BadRequest("image data is empty".into()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(t: &str) -> Prompt {
        Prompt {
            text: t.into(),
            images: Vec::new(),
        }
    }

    #[test]
    fn a_prompt_of_only_blanks_or_control_characters_is_empty() {
        for t in ["", "  \n\t", "\0\0", "\u{7}\u{1b}\r\n", "\u{0}  \u{85}"] {
            let e = validate_prompt(&text(t), true).unwrap_err().to_string();
            assert_eq!(e, "prompt is empty", "{t:?}");
        }
        assert!(validate_prompt(&text("\0fix it"), true).is_ok());
    }
}
