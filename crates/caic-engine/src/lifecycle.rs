//! Bringing a task up: branch and container in parallel, SSH, repo push, agent start.

use crate::engine::{workdir, Engine};
use crate::error::{Error, Result};
use crate::handle::{now_ms, Task};
use crate::log::{self, Header, Record};
use crate::session;
use caic_api::{EventData, Prompt, TaskState};
use caic_harness::SessionOpts;
use caic_secrets::Secret;
use std::sync::Arc;

impl Engine {
    /// Runs a new task from `pending` to its first prompt sent.
    pub(crate) async fn provision(&self, task: &Arc<Task>, prompt: Prompt) -> Result<()> {
        let meta = task.data.lock().meta.clone();
        let repo = self.repo_for(&meta.repo)?;
        let t0 = std::time::Instant::now();
        task.set_state(TaskState::Branching, None);
        self.notify();
        let branch = async {
            let sha =
                caic_git::create_branch(&repo.abs_path, &meta.branch, &meta.base_branch).await?;
            task.phase(|t, ms| t.branch_ms = ms);
            task.emit(EventData::Log {
                line: format!(
                    "branch {} created from {} at {}",
                    meta.branch,
                    meta.base_branch,
                    &sha[..sha.len().min(12)]
                ),
            });
            if task.state() == TaskState::Branching {
                task.set_state(TaskState::Provisioning, None);
                self.notify();
            }
            Ok::<_, Error>(())
        };
        let container = async {
            let progress = |line: &str| {
                task.emit(EventData::Log {
                    line: line.to_string(),
                })
            };
            self.inner.backend.ensure_image(&progress).await?;
            let name = container_name(&meta.repo, &meta.branch, &meta.id);
            self.inner
                .backend
                .create_container(&meta.id, &meta.harness, &name)
                .await?;
            task.data.lock().container = Some(name.clone());
            task.phase(|t, ms| t.container_ms = ms);
            self.notify();
            Ok::<_, Error>(name)
        };
        let (b, c) = tokio::join!(branch, container);
        b?;
        let container = c?;
        task.emit(EventData::Log {
            line: format!(
                "container {container} up in {} ms",
                t0.elapsed().as_millis()
            ),
        });
        task.set_state(TaskState::Starting, None);
        self.notify();
        let wd = workdir(&meta.repo);
        self.inner.backend.wait_ssh(&container).await?;
        task.phase(|t, ms| t.ssh_ms = ms);
        self.inner
            .backend
            .push_repo(&container, &repo, &meta.branch, &wd)
            .await?;
        task.phase(|t, ms| t.push_ms = ms);
        self.start_segment(task, false).await?;
        task.phase(|t, ms| t.agent_ms = ms);
        let harness = self.harness_of(task)?;
        if !session::send_line(task, &harness.encode_prompt(&prompt)).await? {
            return Err(Error::Internal(
                "the agent exited before it got its prompt".into(),
            ));
        }
        task.phase(|t, ms| t.prompt_ms = ms);
        tracing::info!(task = %meta.id, ms = t0.elapsed().as_millis() as u64, "task started");
        Ok(())
    }

    /// Starts an agent process under a new relay (a new log segment unless the current
    /// one has no relay yet) and attaches to it. With `resume`, the agent resumes the
    /// task's session id.
    pub(crate) async fn start_segment(&self, task: &Arc<Task>, resume: bool) -> Result<()> {
        session::detach(task).await;
        let (meta, container, segment, relay_started, session_id) = {
            let d = task.data.lock();
            (
                d.meta.clone(),
                d.container.clone(),
                d.segment,
                d.relay_started,
                d.session_id.clone(),
            )
        };
        let container = container.ok_or_else(|| Error::Internal("task has no container".into()))?;
        let segment = if relay_started {
            let next = segment + 1;
            let header = Header {
                version: 1,
                task: meta.clone(),
                segment: next,
                relay: session::relay_name(next),
                started_at: now_ms(),
            };
            let writer = log::Writer::create(&self.logs_dir(), &header)?;
            let mut d = task.data.lock();
            let mut log = task.log.lock();
            if let Some(old) = log.as_mut() {
                let _ = old.record(&Record::Trailer(log::Trailer {
                    state: d.state,
                    reason: if resume { "resumed" } else { "restarted" }.into(),
                }));
            }
            *log = Some(writer);
            d.new_segment(next);
            next
        } else {
            segment
        };
        let relay = session::relay_name(segment);
        let harness = self.harness_of(task)?;
        let opts = SessionOpts {
            model: meta.model.clone(),
            resume_session_id: if resume { session_id } else { None },
            workdir: workdir(&meta.repo),
        };
        // The harness's own settings are plain; configured keys and forge tokens stay
        // secrets until the line below.
        // Agent keys and forge tokens stay secrets down to the runtime, which sends
        // them over the SSH channel to the agent (S17); never logged, stored, or put in
        // a label on the way.
        let mut env: Vec<(String, Secret)> = harness
            .env(&opts)
            .into_iter()
            .map(|(k, v)| (k, Secret::new(v)))
            .collect();
        env.extend(self.harness_env(&meta.harness));
        env.extend(self.token_env(&meta).await);
        self.inner
            .backend
            .start_relay(
                &container,
                &relay,
                &opts.workdir,
                &harness.command(&opts),
                &env,
                &harness.files(),
            )
            .await?;
        {
            let mut d = task.data.lock();
            d.relay_started = true;
            if let Some(w) = task.log.lock().as_mut() {
                w.record(&Record::RelayStarted(relay.clone()))?;
            }
        }
        session::spawn(self, task, container, relay, 0, harness.parser()).await?;
        // A revived agent idles until input comes; a new one gets its prompt next and
        // moves to running when the agent echoes it.
        if resume && !task.state().is_live() {
            task.set_state(TaskState::Waiting, None);
        }
        self.notify();
        Ok(())
    }
}

/// A container name for a task: `caic-<repo>-<branch>-<id suffix>`, sanitised for the
/// engine; the suffix keeps names unique across repos with the same name.
pub(crate) fn container_name(repo: &str, branch: &str, id: &str) -> String {
    let base = repo.rsplit('/').next().unwrap_or(repo);
    let suffix = &id[id.len().saturating_sub(6)..];
    let raw = format!("caic-{base}-{branch}-{suffix}");
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn container_names_are_sanitised() {
        assert_eq!(
            super::container_name("team/My Repo", "caic-3", "01abcdef123456"),
            "caic-My-Repo-caic-3-123456"
        );
    }
}
