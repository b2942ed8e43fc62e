//! The engine's view of the outside world: the container runtime, SSH into each
//! container, the relay, and moving the repo in with git. Everything the engine does to
//! a container goes through here.

use crate::error::{Error, Result};
use caic_api::DiffFile;
use caic_git::{DiffMode, RepoInfo};
use caic_harness::HarnessFile;
use caic_runtime::relay::{
    shell_quote, RelayCommands, RelayReader, RelayStatus, RelayWriter, StartReply, StartRequest,
    RELAY_PY,
};
use caic_runtime::ssh::{ExecStdin, ExecStdout, ExitStatus, SshClient};
use caic_runtime::{ContainerInfo, ContainerSpec, Runtime, RuntimeConfig};
use futures::StreamExt;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

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

pub(crate) struct Backend {
    runtime: Runtime,
    cfg: BackendConfig,
    image: tokio::sync::Mutex<Option<String>>,
    ssh: Mutex<HashMap<String, Arc<SshClient>>>,
    relay: RelayCommands,
}

/// A container as the engine needs to know it.
pub(crate) struct ContainerState {
    pub(crate) name: String,
    pub(crate) task_id: String,
    pub(crate) running: bool,
}

/// How a relay link ended.
pub(crate) enum LinkEnd {
    /// The agent exited with this code; its whole output was delivered.
    AgentExited(i32),
    /// The link dropped (SSH, network, restart); the agent may still run.
    Dropped,
}

/// An attached relay: the line reader and the input writer, usable separately.
pub(crate) struct Link {
    reader: LinkReader,
    writer: LinkWriter,
}

impl Link {
    pub(crate) fn split(self) -> (LinkReader, LinkWriter) {
        (self.reader, self.writer)
    }
}

/// Reads the relay's log lines with their end offsets.
pub(crate) struct LinkReader {
    lines: RelayReader<ExecStdout>,
    exit: Option<ExitStatus>,
    client: Arc<SshClient>,
    relay: RelayCommands,
    name: String,
}

impl LinkReader {
    /// The next complete line and the relay offset after it; `None` at the end.
    pub(crate) async fn next_line(&mut self) -> Result<Option<(String, u64)>> {
        Ok(self
            .lines
            .next_line()
            .await?
            .map(|l| (l.text, l.end_offset)))
    }

    /// After `next_line` returned `None` or failed: did the agent exit, or did the link
    /// drop?
    pub(crate) async fn finish(&mut self) -> LinkEnd {
        let code = match self.exit.take() {
            Some(exit) => tokio::time::timeout(Duration::from_secs(5), exit.wait())
                .await
                .ok()
                .flatten(),
            None => None,
        };
        if code.is_none() {
            return LinkEnd::Dropped;
        }
        // The attach exit code can collide with the agent's; the relay's status decides.
        match self.status().await {
            Ok(s) if !s.alive => LinkEnd::AgentExited(
                s.exit_code
                    .or(s.signal.map(|sig| 128 + sig))
                    .unwrap_or(code.unwrap_or(0) as i32),
            ),
            Ok(_) => LinkEnd::Dropped,
            Err(e) => {
                tracing::warn!(error = %e, "relay status after the link ended");
                LinkEnd::Dropped
            }
        }
    }

    async fn status(&self) -> Result<RelayStatus> {
        let out = self
            .client
            .exec(&self.relay.status(&self.name)?, None)
            .await?;
        Ok(RelayStatus::parse(&out.stdout_str())?)
    }
}

/// Sends input lines to the agent through the relay.
pub(crate) struct LinkWriter {
    w: RelayWriter<ExecStdin>,
}

impl LinkWriter {
    pub(crate) async fn send_line(&mut self, line: &str) -> Result<()> {
        Ok(self.w.send_line(line).await?)
    }

    pub(crate) async fn close_input(&mut self) -> Result<()> {
        Ok(self.w.close_input().await?)
    }
}

fn runtime_kind(s: Option<&str>) -> Result<caic_runtime::engine::EngineKind> {
    use caic_runtime::engine::EngineKind;
    match s.unwrap_or("auto") {
        "auto" | "" => Ok(EngineKind::Auto),
        "docker" => Ok(EngineKind::Docker),
        "podman" => Ok(EngineKind::Podman),
        other => Err(Error::BadRequest(format!(
            "container runtime {other:?} is not one of auto, docker, podman"
        ))),
    }
}

impl Backend {
    pub(crate) async fn new(cfg: &BackendConfig, config_dir: &Path) -> Result<Backend> {
        let mut rc = RuntimeConfig::new(config_dir);
        rc.kind = runtime_kind(cfg.runtime.as_deref())?;
        rc.socket = cfg.socket.clone();
        if let Some(b) = &cfg.base_image {
            rc.base_image = b.clone();
        }
        let runtime = Runtime::connect(rc).await?;
        caic_runtime::engine::check_sudo_supported(runtime.engine_info(), cfg.sudo)?;
        Ok(Backend {
            runtime,
            cfg: cfg.clone(),
            image: tokio::sync::Mutex::new(None),
            ssh: Mutex::new(HashMap::new()),
            relay: RelayCommands::new(),
        })
    }

    /// Builds the base image if its inputs changed; remembers the tag.
    pub(crate) async fn ensure_image(&self, progress: &(dyn Fn(&str) + Sync)) -> Result<String> {
        let mut image = self.image.lock().await;
        if let Some(tag) = image.as_ref() {
            return Ok(tag.clone());
        }
        let tag = self.runtime.ensure_image(progress).await?;
        *image = Some(tag.clone());
        Ok(tag)
    }

    pub(crate) async fn create_container(
        &self,
        task_id: &str,
        harness: &str,
        name: &str,
    ) -> Result<()> {
        let image = self.ensure_image(&|_| {}).await?;
        let info = self
            .runtime
            .create_container(&ContainerSpec {
                task_id: task_id.to_string(),
                harness: harness.to_string(),
                name: name.to_string(),
                image,
                sudo: self.cfg.sudo,
                cpus: self.cfg.cpus,
                memory_bytes: self.cfg.memory_bytes,
                pids_limit: Some(4096),
            })
            .await?;
        self.remember(&info)?;
        Ok(())
    }

    fn remember(&self, info: &ContainerInfo) -> Result<Arc<SshClient>> {
        let mut ssh = self.ssh.lock().unwrap();
        let target = info.ssh_target()?;
        if let Some(c) = ssh.get(&info.name) {
            c.set_target(target);
            return Ok(c.clone());
        }
        let c = Arc::new(self.runtime.ssh_client(info)?);
        ssh.insert(info.name.clone(), c.clone());
        Ok(c)
    }

    async fn client(&self, name: &str) -> Result<Arc<SshClient>> {
        if let Some(c) = self.ssh.lock().unwrap().get(name) {
            return Ok(c.clone());
        }
        let info = self.runtime.inspect(name).await?;
        if !info.running {
            return Err(Error::Runtime(caic_runtime::Error::Ssh(format!(
                "container {name} is not running"
            ))));
        }
        self.remember(&info)
    }

    /// Waits until the container's sshd answers.
    pub(crate) async fn wait_ssh(&self, name: &str) -> Result<()> {
        self.client(name).await?.session().await?;
        Ok(())
    }

    pub(crate) async fn start_container(&self, name: &str) -> Result<()> {
        let info = self.runtime.start(name).await?;
        self.remember(&info)?;
        Ok(())
    }

    pub(crate) async fn stop_container(&self, name: &str) -> Result<()> {
        self.ssh.lock().unwrap().remove(name);
        Ok(self.runtime.stop(name, Duration::from_secs(10)).await?)
    }

    pub(crate) async fn remove_container(&self, name: &str) -> Result<()> {
        self.ssh.lock().unwrap().remove(name);
        match self.runtime.remove(name).await {
            Ok(()) | Err(caic_runtime::Error::NotFound(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    pub(crate) async fn list_containers(&self) -> Result<Vec<ContainerState>> {
        let list = self.runtime.list().await?;
        for info in list.iter().filter(|i| i.running) {
            if let Err(e) = self.remember(info) {
                tracing::warn!(container = %info.name, error = %e, "cannot reach container");
            }
        }
        Ok(list
            .into_iter()
            .map(|i| ContainerState {
                name: i.name,
                task_id: i.task_id,
                running: i.running,
            })
            .collect())
    }

    /// Task ids of containers as they die.
    pub(crate) fn deaths(&self) -> mpsc::Receiver<String> {
        let (tx, rx) = mpsc::channel(64);
        let mut events = Box::pin(self.runtime.die_events());
        tokio::spawn(async move {
            loop {
                // Ends when the watcher drops its receiver (engine shutdown).
                let ev = tokio::select! {
                    _ = tx.closed() => return,
                    ev = events.next() => match ev {
                        Some(ev) => ev,
                        None => return,
                    },
                };
                match ev {
                    Ok(ev) => {
                        if tx.send(ev.task_id).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "container events");
                        return;
                    }
                }
            }
        });
        rx
    }

    /// Drops every SSH link (engine shutdown); agents keep running under their relays.
    pub(crate) fn close(&self) {
        self.ssh.lock().unwrap().clear();
    }

    /// Pushes `branch` of `repo` into the container at `workdir`.
    pub(crate) async fn push_repo(
        &self,
        container: &str,
        repo: &RepoInfo,
        branch: &str,
        workdir: &str,
    ) -> Result<()> {
        let client = self.client(container).await?;
        let bundle = caic_git::bundle_create(&repo.abs_path, branch).await?;
        let out = client
            .exec(
                &caic_git::container_import_script(workdir, branch),
                Some(&bundle),
            )
            .await?;
        if !out.success() {
            return Err(Error::Internal(format!(
                "pushing the repo into the container failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(())
    }

    /// Installs the relay and the harness files, then starts the agent under relay
    /// `name`. Credentials in `env` travel on the channel's stdin only.
    pub(crate) async fn start_relay(
        &self,
        container: &str,
        name: &str,
        workdir: &str,
        argv: &[String],
        env: &[(String, String)],
        files: &[HarnessFile],
    ) -> Result<()> {
        let client = self.client(container).await?;
        let out = client
            .exec(&self.relay.install(), Some(RELAY_PY.as_bytes()))
            .await?;
        check(&out, "installing the relay")?;
        for f in files {
            let dir = f.path.rsplit_once('/').map(|(d, _)| d).unwrap_or(".");
            let cmd = format!(
                "mkdir -p {d} && cat > {p}.tmp && chmod {m:o} {p}.tmp && mv -f {p}.tmp {p}",
                d = shell_quote(dir),
                p = shell_quote(&f.path),
                m = f.mode
            );
            let out = client.exec(&cmd, Some(f.contents.as_bytes())).await?;
            check(&out, &format!("installing {}", f.path))?;
        }
        let mut req = StartRequest::new(argv.to_vec());
        req.env = env.iter().cloned().collect();
        let out = client
            .exec(
                &self.relay.start(name, workdir)?,
                Some(req.to_line().as_bytes()),
            )
            .await?;
        check(&out, "starting the agent")?;
        let reply = StartReply::parse(&out.stdout_str())?;
        tracing::debug!(container, relay = name, pid = reply.pid, "agent started");
        Ok(())
    }

    /// Attaches to relay `name` from byte `offset`.
    pub(crate) async fn attach(&self, container: &str, name: &str, offset: u64) -> Result<Link> {
        let client = self.client(container).await?;
        let stream = client
            .exec_stream(&self.relay.attach(name, offset)?)
            .await?;
        Ok(Link {
            reader: LinkReader {
                lines: RelayReader::new(stream.stdout, offset),
                exit: Some(stream.exit),
                client,
                relay: self.relay.clone(),
                name: name.to_string(),
            },
            writer: LinkWriter {
                w: RelayWriter::new(stream.stdin),
            },
        })
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
        let client = self.client(container).await?;
        let out = client
            .exec(
                &caic_git::container_export_script(workdir, branch, author.0, author.1),
                None,
            )
            .await?;
        check(&out, "bringing the work back from the container")?;
        Ok(out.stdout)
    }

    /// Per-file line counts of the work against the branch point.
    pub(crate) async fn numstat(&self, container: &str, workdir: &str) -> Result<Vec<DiffFile>> {
        let client = self.client(container).await?;
        let out = client
            .exec(
                &caic_git::container_diff_script(workdir, DiffMode::NumStat),
                None,
            )
            .await?;
        check(&out, "diff stat")?;
        Ok(caic_git::parse_numstat(&out.stdout_str()))
    }

    /// The full diff and the diff stat.
    pub(crate) async fn diff(
        &self,
        container: &str,
        workdir: &str,
    ) -> Result<(String, Vec<DiffFile>)> {
        let stat = self.numstat(container, workdir).await?;
        let client = self.client(container).await?;
        let out = client
            .exec(
                &caic_git::container_diff_script(workdir, DiffMode::Full),
                None,
            )
            .await?;
        check(&out, "diff")?;
        Ok((out.stdout_str(), stat))
    }
}

fn check(out: &caic_runtime::ssh::ExecOutput, what: &str) -> Result<()> {
    if out.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let err = err.trim();
    let tail: String = err
        .chars()
        .rev()
        .take(2000)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    Err(Error::Internal(format!(
        "{what} failed (exit {:?}): {tail}",
        out.status
    )))
}
