//! The engine: its settings, the task table, repos and harnesses, and lookups.
//! What callers do to tasks is in `actions`, `sync` and `publish`.

use crate::backend::{Backend, BackendConfig};
use crate::caller::Caller;
use crate::error::{Error, Result};
use crate::handle::Task;
use caic_api::{Event, HarnessInfo, Repo, TaskState};
use caic_git::RepoInfo;
use caic_runtime::Runtime;
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
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
    /// Environment passed to agents at session start, per harness name: API keys and
    /// other values the user configured, all treated as secrets (masked when printed).
    pub harness_env: BTreeMap<String, Vec<(String, crate::Secret)>>,
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

pub(crate) struct Inner {
    pub(crate) cfg: EngineConfig,
    pub(crate) backend: Backend,
    pub(crate) tasks: Mutex<BTreeMap<String, Arc<Task>>>,
    pub(crate) repos: Mutex<HashMap<String, RepoInfo>>,
    pub(crate) allocators: Mutex<HashMap<String, Arc<caic_git::BranchAllocator>>>,
    pub(crate) changed: watch::Sender<u64>,
    pub(crate) ship: crate::ship::Ship,
    /// Every background job, for shutdown.
    pub(crate) jobs: crate::spawner::Spawner,
}

/// The task engine. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
}

impl Engine {
    /// Connects to the container engine, discovers repos, rebuilds tasks from their
    /// logs and re-attaches to their containers.
    pub async fn start(cfg: EngineConfig) -> Result<Engine> {
        let runtime = crate::backend::connect(&cfg.backend, &cfg.config_dir).await?;
        Engine::start_with(cfg, Arc::new(runtime)).await
    }

    /// Like [`Engine::start`], on `runtime` instead of the container engine `cfg` names
    /// (`cfg.backend` is then unused).
    pub async fn start_with(cfg: EngineConfig, runtime: Arc<dyn Runtime>) -> Result<Engine> {
        let backend = Backend::new(runtime);
        let forge = cfg.forge.clone();
        let (changed, _) = watch::channel(0);
        let jobs = crate::spawner::Spawner::default();
        let engine = Engine {
            inner: Arc::new(Inner {
                cfg,
                backend,
                tasks: Mutex::new(BTreeMap::new()),
                repos: Mutex::new(HashMap::new()),
                allocators: Mutex::new(HashMap::new()),
                changed,
                ship: crate::ship::Ship::new(forge, jobs.clone()),
                jobs,
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
        let mut repos = self.inner.repos.lock();
        repos.clear();
        for r in found {
            repos.insert(r.id.clone(), r);
        }
        Ok(())
    }

    /// Repos tasks can start in, sorted by id.
    pub fn repos(&self) -> Vec<Repo> {
        let repos = self.inner.repos.lock();
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
                    || info.credential_env.iter().any(|name| {
                        env.iter()
                            .any(|(k, v)| k == name && !v.expose().trim().is_empty())
                    });
                info
            })
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    /// The tasks `caller` may see, sorted by id (creation order).
    pub fn list(&self, caller: &Caller) -> Vec<caic_api::Task> {
        let tasks: Vec<Arc<Task>> = self.inner.tasks.lock().values().cloned().collect();
        tasks
            .iter()
            .filter_map(|t| {
                let d = t.data.lock();
                caller
                    .may_touch(d.meta.owner.as_deref())
                    .then(|| d.to_api())
            })
            .collect()
    }

    /// One task.
    pub fn get(&self, caller: &Caller, id: &str) -> Result<caic_api::Task> {
        Ok(self.task_for(caller, id)?.data.lock().to_api())
    }

    /// The user who owns task `id`, if it has one.
    pub fn owner(&self, id: &str) -> Option<String> {
        self.task(id).ok()?.data.lock().meta.owner.clone()
    }

    /// Gives tasks that have no recorded owner the one `owners` names (task id -> user
    /// id), for tasks created before the engine recorded owners itself. Returns how
    /// many tasks it changed.
    pub fn import_owners(&self, owners: &BTreeMap<String, String>) -> usize {
        let mut n = 0;
        for (id, user) in owners {
            if let Ok(t) = self.task(id) {
                let mut d = t.data.lock();
                if d.meta.owner.is_none() {
                    d.meta.owner = Some(user.clone());
                    n += 1;
                }
            }
        }
        if n > 0 {
            self.notify();
        }
        n
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
            .get(id)
            .cloned()
            .ok_or_else(|| Error::NotFound(id.to_string()))
    }

    /// Task `id` if `caller` may touch it: 404 when there is no such task, 403 when it
    /// belongs to someone else.
    pub(crate) fn task_for(&self, caller: &Caller, id: &str) -> Result<Arc<Task>> {
        let task = self.task(id)?;
        let owner = task.data.lock().meta.owner.clone();
        if !caller.may_touch(owner.as_deref()) {
            tracing::warn!(task = %id, caller = ?caller, "refused: not the task's owner");
            return Err(Error::Forbidden(id.to_string()));
        }
        Ok(task)
    }

    fn repo(&self, id: &str) -> Result<RepoInfo> {
        self.inner
            .repos
            .lock()
            .get(id)
            .cloned()
            .ok_or_else(|| Error::BadRequest(format!("unknown repo {id:?}")))
    }

    pub(crate) fn repo_for(&self, id: &str) -> Result<RepoInfo> {
        self.repo(id)
    }

    /// The history so far and a receiver for what follows, taken atomically.
    pub fn subscribe(&self, caller: &Caller, id: &str) -> Result<Subscription> {
        let t = self.task_for(caller, id)?;
        let d = t.data.lock();
        Ok(Subscription {
            history: d.history.clone(),
            live: t.events.subscribe(),
            done: d.state == TaskState::Purged,
        })
    }

    pub(crate) fn logs_dir(&self) -> PathBuf {
        self.inner.cfg.cache_dir.join("logs")
    }

    pub(crate) fn harness_of(&self, task: &Task) -> Result<Arc<dyn caic_harness::Harness>> {
        let name = task.data.lock().meta.harness.clone();
        caic_harness::by_name(&name)
            .ok_or_else(|| Error::Internal(format!("harness {name:?} is not available")))
    }

    pub(crate) fn harness_env(&self, harness: &str) -> Vec<(String, crate::Secret)> {
        self.inner
            .cfg
            .harness_env
            .get(harness)
            .cloned()
            .unwrap_or_default()
    }
}

/// Where a repo lives in its container.
pub(crate) fn workdir(repo: &str) -> String {
    let base = repo.rsplit('/').next().unwrap_or(repo);
    format!("/home/user/src/{base}")
}
