//! The engine: the task table and every action on a task.

use crate::backend::{Backend, BackendConfig};
use crate::error::{Error, Result};
use crate::log::{self, Header, Record, TaskMeta};
use crate::session::{self, SessionHandle};
use crate::task::{title_from_prompt, TaskData};
use caic_api::{
    Action, CreateTaskReq, DiffResp, Event, EventData, HarnessInfo, Prompt, Repo, SafetyIssue,
    SyncReq, SyncResp, SyncTarget, TaskState,
};
use caic_git::RepoInfo;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, watch};

/// How the engine is set up.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Where git repos are discovered.
    pub repos_root: PathBuf,
    /// caic's config dir (SSH keys live under it).
    pub config_dir: PathBuf,
    /// Where task logs go (`<cache_dir>/logs`).
    pub cache_dir: PathBuf,
    /// Container engine and limits.
    pub backend: BackendConfig,
    /// Environment passed to agents at session start, per harness name.
    pub harness_env: BTreeMap<String, Vec<(String, String)>>,
    /// Forge APIs, credentials and CI following.
    pub forge: crate::ForgeConfig,
}

/// A subscriber's view of a task: the history so far, then live events.
pub struct Subscription {
    /// Every event so far, in order.
    pub history: Vec<Event>,
    /// Events after the history. Closed when the task ends for good.
    pub live: broadcast::Receiver<Event>,
    /// True when no more events will come (purged).
    pub done: bool,
}

/// One task: its data, its event fan-out, its log and its live session.
pub(crate) struct Task {
    pub(crate) data: Mutex<TaskData>,
    pub(crate) events: broadcast::Sender<Event>,
    pub(crate) log: Mutex<Option<log::Writer>>,
    pub(crate) session: tokio::sync::Mutex<Option<SessionHandle>>,
    /// Serialises lifecycle actions (stop, revive, purge, restart, provisioning).
    pub(crate) ops: tokio::sync::Mutex<()>,
}

impl Task {
    pub(crate) fn new(data: TaskData, writer: Option<log::Writer>) -> Arc<Task> {
        let (events, _) = broadcast::channel(4096);
        Arc::new(Task {
            data: Mutex::new(data),
            events,
            log: Mutex::new(writer),
            session: tokio::sync::Mutex::new(None),
            ops: tokio::sync::Mutex::new(()),
        })
    }

    pub(crate) fn id(&self) -> String {
        self.data.lock().unwrap().meta.id.clone()
    }

    pub(crate) fn state(&self) -> TaskState {
        self.data.lock().unwrap().state
    }

    /// Appends an event that caic produced (not from the agent): logged as a record.
    pub(crate) fn emit(&self, data: EventData) {
        let now = now_ms();
        let mut d = self.data.lock().unwrap();
        if let Some(w) = self.log.lock().unwrap().as_mut() {
            if let Err(e) = w
                .tick(now)
                .and_then(|_| w.record(&Record::Event(data.clone())))
            {
                tracing::error!(error = %e, "writing task log");
            }
        }
        let ev = d.push(data, now);
        let _ = self.events.send(ev);
    }

    /// Appends one raw relay line: logged verbatim, parsed, fanned out.
    pub(crate) fn raw_line(
        &self,
        line: &str,
        end_offset: u64,
        events: Vec<EventData>,
    ) -> Vec<Event> {
        let now = now_ms();
        let mut d = self.data.lock().unwrap();
        if let Some(w) = self.log.lock().unwrap().as_mut() {
            if let Err(e) = w.raw(line, end_offset, now) {
                tracing::error!(error = %e, "writing task log");
            }
        }
        let mut out = Vec::with_capacity(events.len());
        for data in events {
            let ev = d.push(data, now);
            let _ = self.events.send(ev.clone());
            out.push(ev);
        }
        out
    }

    /// Records that a start phase ended now.
    pub(crate) fn phase(&self, set: impl FnOnce(&mut caic_api::StartupTimings, Option<u64>)) {
        let mut d = self.data.lock().unwrap();
        let ms = (now_ms() - d.meta.created_at).max(0) as u64;
        set(d.startup.get_or_insert_with(Default::default), Some(ms));
    }

    /// Moves to `state` and records it (with an error text for failures).
    pub(crate) fn set_state(&self, state: TaskState, error: Option<String>) {
        let now = now_ms();
        let mut d = self.data.lock().unwrap();
        if let Some(w) = self.log.lock().unwrap().as_mut() {
            if let Err(e) = w
                .tick(now)
                .and_then(|_| w.record(&Record::State(state, error.clone())))
            {
                tracing::error!(error = %e, "writing task log");
            }
        }
        d.set_state(state, now);
        if error.is_some() {
            d.error = error;
        }
    }
}

pub(crate) struct Inner {
    pub(crate) cfg: EngineConfig,
    pub(crate) backend: Backend,
    pub(crate) tasks: Mutex<BTreeMap<String, Arc<Task>>>,
    pub(crate) repos: Mutex<HashMap<String, RepoInfo>>,
    pub(crate) allocators: Mutex<HashMap<String, Arc<caic_git::BranchAllocator>>>,
    pub(crate) changed: watch::Sender<u64>,
    pub(crate) ship: crate::ship::Ship,
}

/// The task engine. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
}

/// Unix milliseconds now.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Engine {
    /// Connects to the container engine, discovers repos, rebuilds tasks from their
    /// logs and re-attaches to their containers.
    pub async fn start(cfg: EngineConfig) -> Result<Engine> {
        let backend = Backend::new(&cfg.backend, &cfg.config_dir).await?;
        let forge = cfg.forge.clone();
        let (changed, _) = watch::channel(0);
        let engine = Engine {
            inner: Arc::new(Inner {
                cfg,
                backend,
                tasks: Mutex::new(BTreeMap::new()),
                repos: Mutex::new(HashMap::new()),
                allocators: Mutex::new(HashMap::new()),
                changed,
                ship: crate::ship::Ship::new(forge),
            }),
        };
        engine.refresh_repos().await?;
        crate::reload::reload(&engine).await?;
        engine.watch_container_deaths();
        Ok(engine)
    }

    /// Builds the base image now if needed, so the first task does not wait for it.
    pub async fn warm_image(&self) -> Result<()> {
        self.inner
            .backend
            .ensure_image(&|line| tracing::info!(target: "caic::image", "{line}"))
            .await
            .map(|_| ())
    }

    /// Re-scans the repos root.
    pub async fn refresh_repos(&self) -> Result<()> {
        let root = self.inner.cfg.repos_root.clone();
        let found = caic_git::discover_repos(&root, 3).await?;
        if found.is_empty() {
            tracing::warn!(root = %root.display(), "no git repos found");
        }
        let mut repos = self.inner.repos.lock().unwrap();
        repos.clear();
        for r in found {
            repos.insert(r.id.clone(), r);
        }
        Ok(())
    }

    /// Repos tasks can start in, sorted by id.
    pub fn repos(&self) -> Vec<Repo> {
        let repos = self.inner.repos.lock().unwrap();
        let mut out: Vec<Repo> = repos
            .values()
            .map(|r| Repo {
                path: r.id.clone(),
                base_branch: r.default_branch.clone(),
                remote_url: r.remote_url.clone(),
            })
            .collect();
        out.sort_by(|a, b| a.path.cmp(&b.path));
        out
    }

    /// Branches of a repo, default first.
    pub async fn branches(&self, repo: &str) -> Result<Vec<String>> {
        let info = self.repo(repo)?;
        Ok(caic_git::list_branches(&info.abs_path).await?)
    }

    /// Harnesses a task can use, sorted by name.
    pub fn harnesses(&self) -> Vec<HarnessInfo> {
        let mut v: Vec<HarnessInfo> = caic_harness::all()
            .iter()
            .map(|h| {
                let mut info = h.info();
                let env = self.harness_env(&info.name);
                info.credentials_configured = info.credential_env.is_empty()
                    || info
                        .credential_env
                        .iter()
                        .any(|name| env.iter().any(|(k, v)| k == name && !v.trim().is_empty()));
                info
            })
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    /// Every task, sorted by id (creation order).
    pub fn list(&self) -> Vec<caic_api::Task> {
        let tasks: Vec<Arc<Task>> = self.inner.tasks.lock().unwrap().values().cloned().collect();
        tasks
            .iter()
            .map(|t| t.data.lock().unwrap().to_api())
            .collect()
    }

    /// One task.
    pub fn get(&self, id: &str) -> Result<caic_api::Task> {
        Ok(self.task(id)?.data.lock().unwrap().to_api())
    }

    /// A receiver that changes whenever any task changes.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.inner.changed.subscribe()
    }

    pub(crate) fn notify(&self) {
        self.inner.changed.send_modify(|v| *v += 1);
    }

    pub(crate) fn task(&self, id: &str) -> Result<Arc<Task>> {
        self.inner
            .tasks
            .lock()
            .unwrap()
            .get(id)
            .cloned()
            .ok_or_else(|| Error::NotFound(id.to_string()))
    }

    fn repo(&self, id: &str) -> Result<RepoInfo> {
        self.inner
            .repos
            .lock()
            .unwrap()
            .get(id)
            .cloned()
            .ok_or_else(|| Error::BadRequest(format!("unknown repo {id:?}")))
    }

    pub(crate) fn repo_for(&self, id: &str) -> Result<RepoInfo> {
        self.repo(id)
    }

    /// The history so far and a receiver for what follows, taken atomically.
    pub fn subscribe(&self, id: &str) -> Result<Subscription> {
        let t = self.task(id)?;
        let d = t.data.lock().unwrap();
        Ok(Subscription {
            history: d.history.clone(),
            live: t.events.subscribe(),
            done: d.state == TaskState::Purged,
        })
    }

    /// Records a new task and starts it in the background. Returns its id.
    pub async fn create(&self, req: CreateTaskReq) -> Result<String> {
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
        let repo = self.repo(&req.repo)?;
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
        self.inner
            .tasks
            .lock()
            .unwrap()
            .insert(id.clone(), task.clone());
        self.notify();
        let engine = self.clone();
        tokio::spawn(async move {
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
            .unwrap()
            .entry(repo.id.clone())
            .or_insert_with(|| Arc::new(caic_git::BranchAllocator::new(&repo.abs_path)))
            .clone()
    }

    pub(crate) fn logs_dir(&self) -> PathBuf {
        self.inner.cfg.cache_dir.join("logs")
    }

    fn check(&self, task: &Task, action: Action, name: &'static str) -> Result<TaskState> {
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
    pub async fn input(&self, id: &str, prompt: Prompt) -> Result<()> {
        let task = self.task(id)?;
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
    pub async fn interrupt(&self, id: &str) -> Result<()> {
        let task = self.task(id)?;
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
    pub async fn stop(&self, id: &str) -> Result<()> {
        let task = self.task(id)?;
        self.check(&task, Action::Stop, "stop")?;
        task.set_state(TaskState::Stopping, None);
        self.notify();
        let engine = self.clone();
        tokio::spawn(async move {
            let _op = task.ops.lock().await;
            session::detach(&task).await;
            let container = task.data.lock().unwrap().container.clone();
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
    pub async fn revive(&self, id: &str) -> Result<()> {
        let task = self.task(id)?;
        self.check(&task, Action::Revive, "revive")?;
        let Some(container) = task.data.lock().unwrap().container.clone() else {
            return Err(Error::Conflict {
                state: task.state(),
                action: "revive (no container)",
            });
        };
        task.set_state(TaskState::Provisioning, None);
        self.notify();
        let engine = self.clone();
        tokio::spawn(async move {
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
    pub async fn purge(&self, id: &str) -> Result<()> {
        let task = self.task(id)?;
        self.check(&task, Action::Purge, "purge")?;
        self.inner.ship.unwatch(id);
        task.set_state(TaskState::Purging, None);
        self.notify();
        let engine = self.clone();
        tokio::spawn(async move {
            let _op = task.ops.lock().await;
            engine.finish_purge(&task).await;
        });
        Ok(())
    }

    pub(crate) async fn finish_purge(&self, task: &Arc<Task>) {
        session::detach(task).await;
        let container = task.data.lock().unwrap().container.clone();
        let res = match container {
            Some(c) => self.inner.backend.remove_container(&c).await,
            None => Ok(()),
        };
        match res {
            Ok(()) => {
                task.set_state(TaskState::Purged, None);
                let mut log = task.log.lock().unwrap();
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
    pub async fn restart(&self, id: &str, prompt: Prompt) -> Result<()> {
        let task = self.task(id)?;
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
    pub async fn diff(&self, id: &str) -> Result<DiffResp> {
        let task = self.task(id)?;
        self.check(&task, Action::Diff, "diff")?;
        let container = task
            .data
            .lock()
            .unwrap()
            .container
            .clone()
            .ok_or_else(|| Error::Internal("task has no container".into()))?;
        let workdir = workdir(&task.data.lock().unwrap().meta.repo);
        let (diff, diff_stat) = self.inner.backend.diff(&container, &workdir).await?;
        Ok(DiffResp { diff, diff_stat })
    }

    /// Brings the work back to the host repo, scans it, and publishes it to the repo's
    /// `origin`: the task branch, or one squashed commit on the default branch. Scan
    /// findings block the push (unless forced, branch target only) and are sent to the
    /// agent so it can fix them.
    pub async fn sync(&self, id: &str, req: SyncReq) -> Result<SyncResp> {
        let task = self.task(id)?;
        self.check(&task, Action::Sync, "sync")?;
        if req.force && req.target == SyncTarget::Default {
            return Err(Error::BadRequest(
                "force is only allowed when pushing the task branch".into(),
            ));
        }
        let _op = task.ops.lock().await;
        let (meta, container) = {
            let d = task.data.lock().unwrap();
            (d.meta.clone(), d.container.clone())
        };
        let container = container.ok_or_else(|| Error::Internal("task has no container".into()))?;
        let repo = self.repo_for(&meta.repo)?;
        let (name, email) = caic_git::host_identity(&repo.abs_path).await;
        let bundle = self
            .inner
            .backend
            .export(
                &container,
                &workdir(&meta.repo),
                &meta.branch,
                (&name, &email),
            )
            .await?;
        caic_git::bundle_import(&repo.abs_path, &bundle, &meta.branch).await?;
        let base = caic_git::base_ref(&repo.abs_path, &meta.base_branch).await?;
        let diff_stat = caic_git::diff_stat_host(&repo.abs_path, &base, &meta.branch).await?;
        let mut resp = SyncResp {
            status: "empty".into(),
            branch: match req.target {
                SyncTarget::Branch => meta.branch.clone(),
                SyncTarget::Default => meta.base_branch.clone(),
            },
            commit: None,
            diff_stat,
            safety_issues: Vec::new(),
            pr: None,
        };
        if resp.diff_stat.is_empty() {
            return Ok(resp);
        }
        let findings = caic_git::scan_diff(&repo.abs_path, &base, &meta.branch).await?;
        resp.safety_issues = findings
            .iter()
            .map(|f| SafetyIssue {
                file: f.file.clone(),
                line: f.line,
                kind: f.kind.as_str().to_string(),
                detail: f.detail.clone(),
            })
            .collect();
        if !findings.is_empty() && !req.force {
            resp.status = "blocked".into();
            let list: Vec<String> = resp
                .safety_issues
                .iter()
                .map(|i| match i.line {
                    Some(l) => format!("- {}:{l}: {}", i.file, i.detail),
                    None => format!("- {}: {}", i.file, i.detail),
                })
                .collect();
            let text = format!(
                "caic refused to push this work: the pre-push scan found what looks like secrets or large binaries. Remove them from the branch (rewrite the commits if needed) and tell me when done.\n{}",
                list.join("\n")
            );
            task.emit(EventData::Log {
                line: format!("push blocked: {} finding(s)", list.len()),
            });
            let harness = self.harness_of(&task)?;
            let line = harness.encode_prompt(&Prompt {
                text,
                images: Vec::new(),
            });
            if let Err(e) = session::send_line(&task, &line).await {
                tracing::warn!(task = %meta.id, error = %e, "telling the agent about scan findings");
            }
            return Ok(resp);
        }
        match req.target {
            SyncTarget::Branch => {
                let sha = caic_git::push_branch(&repo.abs_path, "origin", &meta.branch).await?;
                resp.commit = Some(sha);
            }
            SyncTarget::Default => {
                let message = format!(
                    "{}\n\nFrom caic task {} ({}).",
                    meta.title, meta.id, meta.branch
                );
                resp.commit = caic_git::squash_onto(
                    &repo.abs_path,
                    "origin",
                    &meta.branch,
                    &meta.base_branch,
                    &message,
                    (&name, &email),
                )
                .await?;
                if resp.commit.is_none() {
                    return Ok(resp);
                }
            }
        }
        resp.status = "synced".into();
        task.emit(EventData::Log {
            line: format!(
                "pushed {} to origin/{}",
                resp.commit
                    .as_deref()
                    .map(|c| &c[..c.len().min(12)])
                    .unwrap_or(""),
                resp.branch
            ),
        });
        if req.target == SyncTarget::Branch {
            if let Some(sha) = resp.commit.clone() {
                resp.pr = self.after_push(&task, &sha).await;
            }
        }
        self.notify();
        Ok(resp)
    }

    pub(crate) fn harness_of(&self, task: &Task) -> Result<Arc<dyn caic_harness::Harness>> {
        let name = task.data.lock().unwrap().meta.harness.clone();
        caic_harness::by_name(&name)
            .ok_or_else(|| Error::Internal(format!("harness {name:?} is not available")))
    }

    pub(crate) fn harness_env(&self, harness: &str) -> Vec<(String, String)> {
        self.inner
            .cfg
            .harness_env
            .get(harness)
            .cloned()
            .unwrap_or_default()
    }

    fn watch_container_deaths(&self) {
        let engine = self.clone();
        tokio::spawn(async move {
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

/// Where a repo lives in its container.
pub(crate) fn workdir(repo: &str) -> String {
    let base = repo.rsplit('/').next().unwrap_or(repo);
    format!("/home/user/src/{base}")
}

fn validate_prompt(p: &Prompt, supports_images: bool) -> Result<()> {
    if p.text.trim().is_empty() && p.images.is_empty() {
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
