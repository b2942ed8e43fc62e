//! The engine's view of the outside world: a [`Runtime`] (Docker/Podman, or in memory
//! for tests) plus the host-side git the engine does around it. Everything the engine
//! does to a container goes through here.

use crate::error::{Error, Result};
use caic_api::DiffFile;
use caic_git::RepoInfo;
use caic_harness::HarnessFile;
use caic_runtime::{AgentFile, ContainerLimits, DockerRuntime, Runtime, RuntimeConfig};
use caic_secrets::Secret;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::mpsc;

pub(crate) use caic_runtime::{ContainerState, LinkEnd};

/// The input side of an attached relay.
pub(crate) type LinkWriter = Box<dyn caic_runtime::LinkWriter>;

/// Container engine settings.
#[derive(Debug, Clone, Default)]
pub struct BackendConfig {
    /// `auto`, `docker` or `podman`.
    pub runtime: Option<String>,
    /// Engine socket override.
    pub socket: Option<String>,
    /// Image the caic base image is built FROM.
    pub base_image: Option<String>,
    /// CPU limit per container.
    pub cpus: Option<f64>,
    /// Memory limit per container, bytes.
    pub memory_bytes: Option<i64>,
    /// Per-container sudo.
    pub sudo: bool,
}

fn runtime_kind(s: Option<&str>) -> Result<caic_runtime::EngineKind> {
    use caic_runtime::EngineKind;
    match s.unwrap_or("auto") {
        "auto" | "" => Ok(EngineKind::Auto),
        "docker" => Ok(EngineKind::Docker),
        "podman" => Ok(EngineKind::Podman),
        other => Err(Error::BadRequest(format!(
            "container runtime {other:?} is not one of auto, docker, podman"
        ))),
    }
}

/// Connects to Docker or Podman as `cfg` says.
pub(crate) async fn connect(cfg: &BackendConfig, config_dir: &Path) -> Result<DockerRuntime> {
    let mut rc = RuntimeConfig::new(config_dir);
    rc.kind = runtime_kind(cfg.runtime.as_deref())?;
    rc.socket = cfg.socket.clone();
    if let Some(b) = &cfg.base_image {
        rc.base_image = b.clone();
    }
    let limits = ContainerLimits {
        sudo: cfg.sudo,
        cpus: cfg.cpus,
        memory_bytes: cfg.memory_bytes,
    };
    Ok(DockerRuntime::connect(rc, limits).await?)
}

/// Builds the container base image for `cfg` if its inputs changed; returns its tag.
pub async fn build_image(
    cfg: &BackendConfig,
    config_dir: &Path,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<String> {
    let cfg = BackendConfig {
        sudo: false,
        ..cfg.clone()
    };
    let rt = connect(&cfg, config_dir).await?;
    Ok(rt.ensure_image(progress).await?)
}

pub(crate) struct Backend {
    runtime: Arc<dyn Runtime>,
}

impl Backend {
    pub(crate) fn new(runtime: Arc<dyn Runtime>) -> Backend {
        Backend { runtime }
    }

    /// Builds the base image if its inputs changed; remembers the tag.
    pub(crate) async fn ensure_image(&self, progress: &(dyn Fn(&str) + Sync)) -> Result<String> {
        Ok(self.runtime.ensure_image(progress).await?)
    }

    pub(crate) async fn create_container(
        &self,
        task_id: &str,
        harness: &str,
        name: &str,
    ) -> Result<()> {
        Ok(self
            .runtime
            .create_container(task_id, harness, name)
            .await?)
    }

    /// Waits until the container's sshd answers.
    pub(crate) async fn wait_ssh(&self, name: &str) -> Result<()> {
        Ok(self.runtime.wait_ready(name).await?)
    }

    pub(crate) async fn start_container(&self, name: &str) -> Result<()> {
        Ok(self.runtime.start_container(name).await?)
    }

    pub(crate) async fn stop_container(&self, name: &str) -> Result<()> {
        Ok(self.runtime.stop_container(name).await?)
    }

    pub(crate) async fn remove_container(&self, name: &str) -> Result<()> {
        Ok(self.runtime.remove_container(name).await?)
    }

    pub(crate) async fn list_containers(&self) -> Result<Vec<ContainerState>> {
        Ok(self.runtime.list_containers().await?)
    }

    /// Task ids of containers as they die.
    pub(crate) fn deaths(&self) -> mpsc::Receiver<String> {
        self.runtime.deaths()
    }

    /// Drops every link to the containers (engine shutdown); agents keep running.
    pub(crate) fn close(&self) {
        self.runtime.close();
    }

    /// Pushes `branch` of `repo` into the container at `workdir`.
    pub(crate) async fn push_repo(
        &self,
        container: &str,
        repo: &RepoInfo,
        branch: &str,
        workdir: &str,
    ) -> Result<()> {
        let bundle = caic_git::bundle_create(&repo.abs_path, branch).await?;
        Ok(self
            .runtime
            .push_repo(container, &bundle, branch, workdir)
            .await?)
    }

    /// Installs the harness files, then starts the agent under relay `name`.
    /// Credentials in `env` travel on the channel's stdin only.
    pub(crate) async fn start_relay(
        &self,
        container: &str,
        name: &str,
        workdir: &str,
        argv: &[String],
        env: &[(String, Secret)],
        files: &[HarnessFile],
    ) -> Result<()> {
        let files: Vec<AgentFile> = files
            .iter()
            .map(|f| AgentFile {
                path: f.path.clone(),
                mode: f.mode,
                contents: f.contents.to_string(),
            })
            .collect();
        Ok(self
            .runtime
            .start_relay(container, name, workdir, argv, env, &files)
            .await?)
    }

    /// Attaches to relay `name` from byte `offset`.
    pub(crate) async fn attach(
        &self,
        container: &str,
        name: &str,
        offset: u64,
    ) -> Result<caic_runtime::Link> {
        Ok(self.runtime.attach(container, name, offset).await?)
    }

    /// Commits any uncommitted work in the container and returns a bundle of the
    /// branch's new commits (empty when there are none).
    pub(crate) async fn export(
        &self,
        container: &str,
        workdir: &str,
        branch: &str,
        author: (&str, &str),
    ) -> Result<Vec<u8>> {
        Ok(self
            .runtime
            .export(container, workdir, branch, author)
            .await?)
    }

    /// Per-file line counts of the work against the branch point.
    pub(crate) async fn numstat(&self, container: &str, workdir: &str) -> Result<Vec<DiffFile>> {
        let out = self.runtime.numstat(container, workdir).await?;
        Ok(caic_git::parse_numstat(&out))
    }

    /// The full diff and the diff stat.
    pub(crate) async fn diff(
        &self,
        container: &str,
        workdir: &str,
    ) -> Result<(String, Vec<DiffFile>)> {
        let (diff, numstat) = self.runtime.diff(container, workdir).await?;
        Ok((diff, caic_git::parse_numstat(&numstat)))
    }
}
