//! [`DockerRuntime`]: the [`Runtime`] over Docker or Podman (bollard), caic's SSH link
//! into each container, the relay, and the git scripts that move the repo in and out.

use crate::engine::check_sudo_supported;
use crate::git_scripts::{
    container_diff_script, container_export_script, container_import_script, DiffMode,
};
use crate::relay::{
    shell_quote, RelayCommands, RelayReader, RelayStatus, RelayWriter, StartReply, StartRequest,
    RELAY_PY,
};
use crate::runtime::{AgentFile, ContainerState, Link, LinkEnd, LinkReader, LinkWriter, Runtime};
use crate::ssh::{ExecOutput, ExecStdin, ExecStdout, ExitStatus, SshClient};
use crate::{ContainerInfo, ContainerSpec, Docker, Error, RuntimeConfig};
use caic_secrets::Secret;
use futures::future::BoxFuture;
use futures::StreamExt;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// What every task container gets, whatever the task.
#[derive(Debug, Clone, Default)]
pub struct ContainerLimits {
    /// Per-container sudo (SECURITY.md S22, S23).
    pub sudo: bool,
    /// CPU limit per container.
    pub cpus: Option<f64>,
    /// Memory limit per container, bytes.
    pub memory_bytes: Option<i64>,
}

/// The [`Runtime`] over a Docker or Podman engine.
pub struct DockerRuntime {
    docker: Docker,
    limits: ContainerLimits,
    image: tokio::sync::Mutex<Option<String>>,
    ssh: Mutex<HashMap<String, Arc<SshClient>>>,
    relay: RelayCommands,
}

impl DockerRuntime {
    /// Connects to the engine and refuses `limits.sudo` where the engine cannot grant it.
    pub async fn connect(config: RuntimeConfig, limits: ContainerLimits) -> Result<Self, Error> {
        let docker = Docker::connect(config).await?;
        check_sudo_supported(docker.engine_info(), limits.sudo)?;
        Ok(Self::new(docker, limits))
    }

    /// A runtime over an already connected engine.
    pub fn new(docker: Docker, limits: ContainerLimits) -> Self {
        Self {
            docker,
            limits,
            image: tokio::sync::Mutex::new(None),
            ssh: Mutex::new(HashMap::new()),
            relay: RelayCommands::new(),
        }
    }

    /// The engine connection.
    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    fn remember(&self, info: &ContainerInfo) -> Result<Arc<SshClient>, Error> {
        let mut ssh = self.ssh.lock();
        let target = info.ssh_target()?;
        if let Some(c) = ssh.get(&info.name) {
            c.set_target(target);
            return Ok(c.clone());
        }
        let c = Arc::new(self.docker.ssh_client(info)?);
        ssh.insert(info.name.clone(), c.clone());
        Ok(c)
    }

    async fn client(&self, name: &str) -> Result<Arc<SshClient>, Error> {
        if let Some(c) = self.ssh.lock().get(name) {
            return Ok(c.clone());
        }
        let info = self.docker.inspect(name).await?;
        if !info.running {
            return Err(Error::Ssh(format!("container {name} is not running")));
        }
        self.remember(&info)
    }

    async fn image_tag(&self, progress: &(dyn Fn(&str) + Sync)) -> Result<String, Error> {
        let mut image = self.image.lock().await;
        if let Some(tag) = image.as_ref() {
            return Ok(tag.clone());
        }
        let tag = self.docker.ensure_image(progress).await?;
        *image = Some(tag.clone());
        Ok(tag)
    }

    async fn numstat_of(&self, container: &str, workdir: &str) -> Result<String, Error> {
        let client = self.client(container).await?;
        let out = client
            .exec(&container_diff_script(workdir, DiffMode::NumStat), None)
            .await?;
        check(&out, "diff stat")?;
        Ok(out.stdout_str())
    }
}

impl Runtime for DockerRuntime {
    fn ensure_image<'a>(
        &'a self,
        progress: &'a (dyn Fn(&str) + Sync),
    ) -> BoxFuture<'a, Result<String, Error>> {
        Box::pin(self.image_tag(progress))
    }

    fn create_container<'a>(
        &'a self,
        task_id: &'a str,
        harness: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let image = self.image_tag(&|_| {}).await?;
            let info = self
                .docker
                .create_container(&ContainerSpec {
                    task_id: task_id.to_string(),
                    harness: harness.to_string(),
                    name: name.to_string(),
                    image,
                    sudo: self.limits.sudo,
                    cpus: self.limits.cpus,
                    memory_bytes: self.limits.memory_bytes,
                    pids_limit: Some(4096),
                })
                .await?;
            self.remember(&info)?;
            Ok(())
        })
    }

    fn start_container<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let info = self.docker.start(name).await?;
            self.remember(&info)?;
            Ok(())
        })
    }

    fn stop_container<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            self.ssh.lock().remove(name);
            self.docker.stop(name, Duration::from_secs(10)).await
        })
    }

    fn remove_container<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            self.ssh.lock().remove(name);
            match self.docker.remove(name).await {
                Ok(()) | Err(Error::NotFound(_)) => Ok(()),
                Err(e) => Err(e),
            }
        })
    }

    fn list_containers(&self) -> BoxFuture<'_, Result<Vec<ContainerState>, Error>> {
        Box::pin(async move {
            let list = self.docker.list().await?;
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
        })
    }

    fn close(&self) {
        self.ssh.lock().clear();
    }

    fn deaths(&self) -> mpsc::Receiver<String> {
        let (tx, rx) = mpsc::channel(64);
        let mut events = Box::pin(self.docker.die_events());
        tokio::spawn(async move {
            loop {
                // Ends when the watcher drops its receiver (caic stopping).
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

    fn wait_ready<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            self.client(name).await?.session().await?;
            Ok(())
        })
    }

    fn push_repo<'a>(
        &'a self,
        container: &'a str,
        bundle: &'a [u8],
        branch: &'a str,
        workdir: &'a str,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let client = self.client(container).await?;
            let out = client
                .exec(&container_import_script(workdir, branch), Some(bundle))
                .await?;
            if !out.success() {
                return Err(Error::Command(format!(
                    "pushing the repo into the container failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                )));
            }
            Ok(())
        })
    }

    fn start_relay<'a>(
        &'a self,
        container: &'a str,
        relay: &'a str,
        workdir: &'a str,
        argv: &'a [String],
        env: &'a [(String, Secret)],
        files: &'a [AgentFile],
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
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
            // The values leave their type here, into the line sent on the channel's
            // stdin (S17).
            req.env = env
                .iter()
                .map(|(k, v)| (k.clone(), v.expose().to_string()))
                .collect();
            let out = client
                .exec(
                    &self.relay.start(relay, workdir)?,
                    Some(req.to_line().as_bytes()),
                )
                .await?;
            check(&out, "starting the agent")?;
            let reply = StartReply::parse(&out.stdout_str())?;
            tracing::debug!(container, relay, pid = reply.pid, "agent started");
            Ok(())
        })
    }

    fn attach<'a>(
        &'a self,
        container: &'a str,
        relay: &'a str,
        offset: u64,
    ) -> BoxFuture<'a, Result<Link, Error>> {
        Box::pin(async move {
            let client = self.client(container).await?;
            let stream = client
                .exec_stream(&self.relay.attach(relay, offset)?)
                .await?;
            Ok(Link {
                reader: Box::new(SshLinkReader {
                    lines: RelayReader::new(stream.stdout, offset),
                    exit: Some(stream.exit),
                    client,
                    relay: self.relay.clone(),
                    name: relay.to_string(),
                }),
                writer: Box::new(SshLinkWriter {
                    w: RelayWriter::new(stream.stdin),
                }),
            })
        })
    }

    fn export<'a>(
        &'a self,
        container: &'a str,
        workdir: &'a str,
        branch: &'a str,
        author: (&'a str, &'a str),
    ) -> BoxFuture<'a, Result<Vec<u8>, Error>> {
        Box::pin(async move {
            let client = self.client(container).await?;
            let out = client
                .exec(
                    &container_export_script(workdir, branch, author.0, author.1),
                    None,
                )
                .await?;
            check(&out, "bringing the work back from the container")?;
            Ok(out.stdout)
        })
    }

    fn numstat<'a>(
        &'a self,
        container: &'a str,
        workdir: &'a str,
    ) -> BoxFuture<'a, Result<String, Error>> {
        Box::pin(self.numstat_of(container, workdir))
    }

    fn diff<'a>(
        &'a self,
        container: &'a str,
        workdir: &'a str,
    ) -> BoxFuture<'a, Result<(String, String), Error>> {
        Box::pin(async move {
            let stat = self.numstat_of(container, workdir).await?;
            let client = self.client(container).await?;
            let out = client
                .exec(&container_diff_script(workdir, DiffMode::Full), None)
                .await?;
            check(&out, "diff")?;
            Ok((out.stdout_str(), stat))
        })
    }
}

/// Reads the relay's log lines over an SSH `attach` channel.
struct SshLinkReader {
    lines: RelayReader<ExecStdout>,
    exit: Option<ExitStatus>,
    client: Arc<SshClient>,
    relay: RelayCommands,
    name: String,
}

impl SshLinkReader {
    async fn status(&self) -> Result<RelayStatus, Error> {
        let out = self
            .client
            .exec(&self.relay.status(&self.name)?, None)
            .await?;
        RelayStatus::parse(&out.stdout_str())
    }
}

impl LinkReader for SshLinkReader {
    fn next_line(&mut self) -> BoxFuture<'_, Result<Option<(String, u64)>, Error>> {
        Box::pin(async move {
            Ok(self
                .lines
                .next_line()
                .await?
                .map(|l| (l.text, l.end_offset)))
        })
    }

    fn finish(&mut self) -> BoxFuture<'_, LinkEnd> {
        Box::pin(async move {
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
        })
    }
}

/// Sends input lines to the relay over an SSH `attach` channel.
struct SshLinkWriter {
    w: RelayWriter<ExecStdin>,
}

impl LinkWriter for SshLinkWriter {
    fn send_line<'a>(&'a mut self, line: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(self.w.send_line(line))
    }

    fn close_input(&mut self) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(self.w.close_input())
    }
}

fn check(out: &ExecOutput, what: &str) -> Result<(), Error> {
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
    Err(Error::Command(format!(
        "{what} failed (exit {:?}): {tail}",
        out.status
    )))
}
