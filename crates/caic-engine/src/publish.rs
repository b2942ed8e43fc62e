//! The engine's half of shipping work after a push: open or find the pull request,
//! watch CI, hand failures to the agent and push again when its turn ends, merge on
//! green when asked; plus what webhooks tell the engine.

use crate::caller::Caller;
use crate::engine::Engine;
use crate::handle::Task;
use crate::log::TaskMeta;
use crate::ship::{failure_report, pull_info, CiOutcome, Forge, WatchReport};
use crate::{Error, Result};
use caic_api::{EventData, Prompt, PullInfo, SyncReq, SyncTarget, TaskState};
use caic_forge::{ForgeKind, NewPull, Remote};
use std::sync::Arc;
use std::time::Duration;

/// The longest caic waits for a busy agent before handing it a CI failure.
const AGENT_BUSY_WAIT: Duration = Duration::from_secs(30 * 60);

impl Engine {
    /// Lets the server say whose forge token goes with a task (the owner's login).
    pub fn set_user_tokens(&self, users: Arc<dyn crate::UserTokens>) {
        self.inner.ship.set_user_tokens(users);
    }

    /// The forge repository of a task's repo, from its `origin` URL.
    fn task_remote(&self, meta: &TaskMeta) -> Option<Remote> {
        let repo = self.repo_for(&meta.repo).ok()?;
        self.inner.ship.remote(repo.remote_url.as_deref()?)
    }

    /// Environment giving the agent a forge token for this session (S17), when the task
    /// asked for it: re-resolved at every start, passed over SSH, never stored.
    pub(crate) async fn token_env(&self, meta: &TaskMeta) -> Vec<(String, crate::Secret)> {
        if !meta.inject_token {
            return Vec::new();
        }
        let Some(remote) = self.task_remote(meta) else {
            return Vec::new();
        };
        let Some(token) = self
            .inner
            .ship
            .credential(meta.owner.as_deref(), &remote)
            .await
        else {
            tracing::warn!(task = %meta.id, "token injection asked but no forge credential");
            return Vec::new();
        };
        remote
            .kind
            .token_env()
            .iter()
            .map(|name| (name.to_string(), token.clone()))
            .collect()
    }

    /// After the task branch was pushed at `sha`: opens or finds its pull request and
    /// starts watching CI. Problems are reported on the task, never fail the push.
    pub(crate) async fn after_push(&self, task: &Arc<Task>, sha: &str) -> Option<PullInfo> {
        let (meta, result, known) = {
            let d = task.data.lock();
            (d.meta.clone(), d.result.clone(), d.pr.clone())
        };
        let remote = self.task_remote(&meta)?;
        let forge_name = remote.kind.title();
        let tokens = self
            .inner
            .ship
            .credentials(meta.owner.as_deref(), &remote)
            .await;
        if tokens.is_empty() {
            task.emit(EventData::Log {
                line: format!(
                    "no {forge_name} credential: pull request not opened (log in with {forge_name} or configure a token)"
                ),
            });
            return None;
        }
        let body = match result.as_deref().map(str::trim) {
            Some(r) if !r.is_empty() => r.to_string(),
            _ => meta.prompt.clone(),
        };
        let new = NewPull {
            title: meta.title.clone(),
            body: format!("{body}\n\n---\nOpened by caic for task {}.", meta.id),
            head: meta.branch.clone(),
            base: meta.base_branch.clone(),
        };
        // The first credential the forge accepts; a refused one (401/403/404, e.g. a
        // login token without write scope) gives way to the next.
        let mut last_err = None;
        let mut found = None;
        for token in tokens {
            let forge = match self.inner.ship.client(&remote, token) {
                Ok(f) => f,
                Err(e) => {
                    last_err = Some(e);
                    continue;
                }
            };
            match forge.ensure_pull(&new).await {
                Ok((p, _)) => {
                    let p = pull_info(&forge, p);
                    found = Some((forge, p));
                    break;
                }
                Err(
                    e @ caic_forge::Error::Status {
                        status: 401 | 403 | 404,
                        ..
                    },
                ) => {
                    last_err = Some(e);
                }
                Err(e) => {
                    last_err = Some(e);
                    break;
                }
            }
        }
        let Some((forge, pr)) = found else {
            let e = last_err.map(|e| e.to_string()).unwrap_or_default();
            task.emit(EventData::Error {
                message: format!("opening the pull request: {e}"),
                line: None,
            });
            return None;
        };
        if known.as_ref() != Some(&pr) {
            task.emit(EventData::Log {
                line: format!("pull request #{}: {}", pr.number, pr.url),
            });
            task.emit(EventData::Pr {
                forge: pr.forge.clone(),
                number: pr.number,
                url: pr.url.clone(),
            });
        }
        let ci = task.data.lock().ci.clone();
        let id = task.id();
        match ci {
            Some(c) if c.sha == sha && c.state == caic_api::CiState::Failed => {
                // Nothing new since CI failed: re-running the watch would hand the agent
                // the same failure again, in a loop.
                task.emit(EventData::Log {
                    line: format!(
                        "no new commit since CI failed on {}: not watching again",
                        short(sha)
                    ),
                });
            }
            // Already green, or already followed: keep what the task shows.
            Some(c) if c.sha == sha && c.state == caic_api::CiState::Passed => {}
            Some(c) if c.sha == sha && self.inner.ship.watching(&id, sha) => {}
            _ => self.watch_ci(task, forge, sha, true),
        }
        self.notify();
        Some(pr)
    }

    /// Follows `sha`'s checks, replacing the task's earlier watch; `fresh` marks a new
    /// push (CI shown as pending from nothing) rather than a resumed watch.
    fn watch_ci(&self, task: &Arc<Task>, forge: Forge, sha: &str, fresh: bool) {
        let id = task.id();
        if fresh {
            self.inner.ship.set_failure(&id, None);
            task.emit(crate::ship::ci_event(sha, &[]));
        }
        let engine = self.clone();
        let sha_owned = sha.to_string();
        let key = id.clone();
        self.inner.ship.watch(&key, forge, sha, move |report| {
            let engine = engine.clone();
            let id = id.clone();
            let sha = sha_owned.clone();
            async move {
                let Ok(task) = engine.task(&id) else {
                    return;
                };
                match report {
                    WatchReport::Event(ev) => {
                        task.emit(ev);
                        engine.notify();
                    }
                    WatchReport::Done(CiOutcome::Passed, forge) => {
                        task.emit(EventData::Log {
                            line: format!("CI passed on {}", short(&sha)),
                        });
                        engine.merge_on_green(&task, &forge, &sha).await;
                    }
                    WatchReport::Done(CiOutcome::Failed(checks), forge) => {
                        let pr = task.data.lock().pr.clone();
                        let text = failure_report(&forge, &sha, pr.as_ref(), &checks).await;
                        engine.inner.ship.set_failure(&id, Some(text.clone()));
                        task.emit(EventData::Log {
                            line: format!("CI failed on {}", short(&sha)),
                        });
                        if engine.inner.ship.cfg.ci_autofix {
                            let job = engine.clone();
                            engine.spawn(async move { job.hand_ci_failure(&id, text).await });
                        }
                    }
                }
            }
        });
    }

    async fn merge_on_green(&self, task: &Arc<Task>, forge: &Forge, sha: &str) {
        if !self.inner.ship.cfg.merge_on_green {
            return;
        }
        let Some(pr) = task.data.lock().pr.clone() else {
            return;
        };
        match forge.merge(pr.number, sha).await {
            Ok(_) => task.emit(EventData::Log {
                line: format!("merged pull request #{} (squash)", pr.number),
            }),
            Err(e) => task.emit(EventData::Error {
                message: format!("merging pull request #{}: {e}", pr.number),
                line: None,
            }),
        }
        self.notify();
    }

    /// Resumes following CI for tasks whose last pushed commit was still pending when
    /// the server stopped (watches live in memory; the task log kept the commit).
    pub async fn resume_ci_watches(&self) -> usize {
        let tasks: Vec<Arc<Task>> = self.inner.tasks.lock().values().cloned().collect();
        let mut n = 0;
        for task in tasks {
            let (meta, ci, state) = {
                let d = task.data.lock();
                (d.meta.clone(), d.ci.clone(), d.state)
            };
            let Some(ci) = ci.filter(|c| c.state == caic_api::CiState::Pending) else {
                continue;
            };
            if state.is_final() || state == TaskState::Purging {
                continue;
            }
            let Some(remote) = self.task_remote(&meta) else {
                continue;
            };
            let Some(token) = self
                .inner
                .ship
                .credential(meta.owner.as_deref(), &remote)
                .await
            else {
                continue;
            };
            match self.inner.ship.client(&remote, token) {
                Ok(forge) => {
                    self.watch_ci(&task, forge, &ci.sha, false);
                    n += 1;
                }
                Err(e) => tracing::warn!(task = %meta.id, error = %e, "resuming the CI watch"),
            }
        }
        if n > 0 {
            tracing::info!(tasks = n, "resumed CI watches");
        }
        n
    }

    /// Sends the last CI failure report to the agent again and re-pushes when its turn
    /// ends ("fix CI").
    pub async fn fix_ci(&self, caller: &Caller, id: &str) -> Result<()> {
        let task = self.task_for(caller, id)?;
        let text = self.inner.ship.failure(id).ok_or_else(|| Error::Conflict {
            state: task.state(),
            action: "fix CI (no CI failure to fix)",
        })?;
        if !task.state().is_live() {
            return Err(Error::Conflict {
                state: task.state(),
                action: "fix CI",
            });
        }
        self.send_then_resync(id, text).await
    }

    /// Gives the agent a CI failure once it is not busy, then re-pushes after its turn.
    async fn hand_ci_failure(&self, id: &str, text: String) {
        let mut changes = self.changes();
        let deadline = tokio::time::Instant::now() + AGENT_BUSY_WAIT;
        loop {
            let Ok(task) = self.task(id) else {
                return;
            };
            match task.state() {
                TaskState::Waiting | TaskState::Asking | TaskState::HasPlan => break,
                TaskState::Running | TaskState::Starting => {}
                _ => {
                    task.emit(EventData::Log {
                        line: "CI failed while the task was not running: revive it and use Fix CI"
                            .into(),
                    });
                    return;
                }
            }
            // Gave up waiting, or the engine is shutting down.
            if !matches!(
                tokio::time::timeout_at(deadline, changes.changed()).await,
                Ok(Ok(()))
            ) {
                return;
            }
        }
        if let Err(e) = self.send_then_resync(id, text).await {
            tracing::warn!(task = %id, error = %e, "handing the CI failure to the agent");
        }
    }

    /// Sends `text` as input; when the agent's next turn ends, pushes the branch again
    /// (which watches CI again).
    async fn send_then_resync(&self, id: &str, text: String) -> Result<()> {
        let sub = self.subscribe(&Caller::Anyone, id)?;
        self.input(
            &Caller::Anyone,
            id,
            Prompt {
                text,
                images: Vec::new(),
            },
        )
        .await?;
        let engine = self.clone();
        let id = id.to_string();
        let mut live = sub.live;
        self.spawn(async move {
            let mut saw_input = false;
            loop {
                match live.recv().await {
                    Ok(ev) => match ev.data {
                        EventData::UserInput { .. } => saw_input = true,
                        EventData::Result { .. } if saw_input => break,
                        _ => {}
                    },
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(_) => return,
                }
            }
            let req = SyncReq {
                target: SyncTarget::Branch,
                force: false,
            };
            match engine.sync(&Caller::Anyone, &id, req).await {
                Ok(r) => tracing::info!(task = %id, status = %r.status, "re-pushed after CI fix"),
                Err(e) => {
                    if let Ok(task) = engine.task(&id) {
                        task.emit(EventData::Error {
                            message: format!("pushing the CI fix: {e}"),
                            line: None,
                        });
                    }
                }
            }
        });
        Ok(())
    }

    /// A webhook said CI changed for commit `sha`: polls its watches now. Returns how
    /// many tasks watch it.
    pub(crate) fn ci_changed(&self, sha: &str) -> usize {
        self.inner.ship.nudge(sha)
    }

    /// The tasks whose repo's `origin` is `forge` repository `path` (`owner/repo`, or
    /// GitLab's project path), compared case-insensitively.
    fn tasks_of_remote(&self, forge: ForgeKind, path: &str) -> Vec<Arc<Task>> {
        let tasks: Vec<Arc<Task>> = self.inner.tasks.lock().values().cloned().collect();
        tasks
            .into_iter()
            .filter(|t| {
                let meta = t.data.lock().meta.clone();
                self.task_remote(&meta)
                    .is_some_and(|r| r.kind == forge && r.path().eq_ignore_ascii_case(path))
            })
            .collect()
    }

    /// A webhook said a pull request for `branch` exists: links it to the task that
    /// owns that branch. Returns the task id.
    pub(crate) fn link_pull(
        &self,
        forge: ForgeKind,
        path: &str,
        branch: &str,
        number: u64,
        url: &str,
    ) -> Option<String> {
        let task = self
            .tasks_of_remote(forge, path)
            .into_iter()
            .find(|t| t.data.lock().meta.branch == branch)?;
        let pr = PullInfo {
            forge: forge.name().into(),
            number,
            url: url.to_string(),
        };
        if task.data.lock().pr.as_ref() != Some(&pr) {
            task.emit(EventData::Pr {
                forge: pr.forge,
                number,
                url: pr.url,
            });
            self.notify();
        }
        Some(task.id())
    }

    /// The repo id whose `origin` is `forge` repository `path`, if caic manages it.
    pub(crate) fn repo_of_remote(&self, forge: ForgeKind, path: &str) -> Option<String> {
        self.repos().into_iter().find_map(|r| {
            let remote = self.inner.ship.remote(r.remote_url.as_deref()?)?;
            (remote.kind == forge && remote.path().eq_ignore_ascii_case(path)).then_some(r.path)
        })
    }

    /// Starts a task from a forge issue or comment (webhook) for `caller` (the person who
    /// asked, when login is on) and posts a comment back on that issue when the agent's
    /// first turn ends.
    pub(crate) async fn create_from_issue(
        &self,
        caller: &Caller,
        forge: ForgeKind,
        path: &str,
        issue: u64,
        harness: &str,
        prompt: String,
    ) -> Result<String> {
        let repo = self
            .repo_of_remote(forge, path)
            .ok_or_else(|| Error::BadRequest(format!("no repo of caic has origin {path}")))?;
        let id = self
            .create(
                caller,
                caic_api::CreateTaskReq {
                    repo,
                    base_branch: None,
                    harness: harness.to_string(),
                    model: None,
                    prompt,
                    images: Vec::new(),
                    inject_token: false,
                },
            )
            .await?;
        let sub = self.subscribe(&Caller::Anyone, &id)?;
        let engine = self.clone();
        let task_id = id.clone();
        self.spawn(async move {
            let mut live = sub.live;
            let (result, error) = loop {
                match live.recv().await {
                    Ok(ev) => {
                        if let EventData::Result {
                            result, is_error, ..
                        } = ev.data
                        {
                            break (result, is_error);
                        }
                        if let EventData::Error { message, .. } = &ev.data {
                            if engine
                                .task(&task_id)
                                .is_ok_and(|t| t.state() == TaskState::Failed)
                            {
                                break (message.clone(), true);
                            }
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(_) => return,
                }
            };
            engine.comment_back(&task_id, issue, &result, error).await;
        });
        Ok(id)
    }

    /// Posts the outcome of a task started from an issue on that issue.
    async fn comment_back(&self, id: &str, issue: u64, result: &str, error: bool) {
        let Ok(task) = self.task(id) else {
            return;
        };
        let meta = task.data.lock().meta.clone();
        let Some(remote) = self.task_remote(&meta) else {
            return;
        };
        let Some(token) = self
            .inner
            .ship
            .credential(meta.owner.as_deref(), &remote)
            .await
        else {
            task.emit(EventData::Log {
                line: format!("no forge credential: no comment posted on issue #{issue}"),
            });
            return;
        };
        let verdict = if error {
            "stopped with an error"
        } else {
            "finished its first turn"
        };
        let body = format!(
            "caic task `{}` (branch `{}`) {verdict}:\n\n{}",
            meta.id,
            meta.branch,
            result.trim()
        );
        let posted = match self.inner.ship.client(&remote, token) {
            Ok(forge) => forge.comment(issue, &body).await,
            Err(e) => Err(e),
        };
        match posted {
            Ok(()) => task.emit(EventData::Log {
                line: format!("commented on issue #{issue}"),
            }),
            Err(e) => task.emit(EventData::Error {
                message: format!("commenting on issue #{issue}: {e}"),
                line: None,
            }),
        }
        self.notify();
    }
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}
