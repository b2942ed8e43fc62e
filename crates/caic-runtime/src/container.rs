//! Task containers: creation with caic's isolation settings (SECURITY.md S21-S24), key
//! injection before start, the per-container sudo password, and lifecycle (list,
//! inspect, start, stop, remove, die events).

use std::collections::HashMap;
use std::time::Duration;

use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, HostConfig, PortBinding, ResourcesUlimits,
};
use bollard::query_parameters::{
    CreateContainerOptions, EventsOptions, ListContainersOptions, RemoveContainerOptions,
    StartContainerOptions, StopContainerOptions, UploadToContainerOptions,
};
use futures::{Stream, StreamExt};
use rand::Rng;
use russh::keys::PublicKey;
use tokio::io::AsyncWriteExt;

use crate::engine::{check_sudo_supported, engine_err, Docker, EngineFlavor};
use crate::keys::{parse_public_key, HostKey};
use crate::ssh::{SshClient, SshSession, SshTarget, DEFAULT_CONNECT_TIMEOUT};
use crate::Error;

/// Label holding the task id; every caic container has it.
pub const LABEL_TASK: &str = "caic.task";
/// Label holding the harness name.
pub const LABEL_HARNESS: &str = "caic.harness";
/// Label holding the container's SSH host public key (OpenSSH line).
pub const LABEL_HOST_KEY: &str = "caic.host_key";
/// Label holding the sudo password, only when sudo is on (SECURITY.md S22: the one
/// documented secret label).
pub const LABEL_SUDO_PASSWORD: &str = "caic.sudo_password";

/// Capabilities a container keeps; everything else is dropped. Verified one by one
/// against sshd and sudo in the base image: SETUID/SETGID (privilege separation, login),
/// SYS_CHROOT (sshd's pre-auth chroot), CHOWN/FOWNER/DAC_OVERRIDE (the entrypoint fixing
/// key ownership and modes), AUDIT_WRITE (sudo prints an error on every call without it),
/// NET_BIND_SERVICE (port 22 on engines that do not lower `ip_unprivileged_port_start`).
/// KILL is not kept: nothing root-owned needs to signal the user's processes.
pub const CAP_ADD: &[&str] = &[
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "SETUID",
    "SETGID",
    "SYS_CHROOT",
    "NET_BIND_SERVICE",
    "AUDIT_WRITE",
];

const SSH_PORT: &str = "22/tcp";

/// What to create.
#[derive(Debug, Clone)]
pub struct ContainerSpec {
    /// Task id, stored as label `caic.task`.
    pub task_id: String,
    /// Harness name (`claude`, …), stored as label `caic.harness`.
    pub harness: String,
    /// Container name.
    pub name: String,
    /// Image reference, normally the tag returned by [`Docker::ensure_image`].
    pub image: String,
    /// Give the user sudo with a random per-container password.
    pub sudo: bool,
    /// CPU limit in cores.
    pub cpus: Option<f64>,
    /// Memory limit in bytes.
    pub memory_bytes: Option<i64>,
    /// Maximum number of processes.
    pub pids_limit: Option<i64>,
}

/// A caic container as the engine reports it.
///
/// `labels` never includes the sudo password; use [`Docker::sudo_password`].
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerInfo {
    /// Engine id.
    pub id: String,
    /// Name without the leading `/`.
    pub name: String,
    /// Label `caic.task`.
    pub task_id: String,
    /// Label `caic.harness`.
    pub harness: String,
    /// Engine state (`running`, `exited`, `created`, …).
    pub state: String,
    /// Whether it is running.
    pub running: bool,
    /// Host port published for 22/tcp on 127.0.0.1, when running.
    pub ssh_port: Option<u16>,
    /// The pinned host key from label `caic.host_key`.
    pub host_key: Option<PublicKey>,
    /// Whether the container was created with sudo.
    pub sudo: bool,
    /// Labels, minus the sudo password.
    pub labels: HashMap<String, String>,
}

impl ContainerInfo {
    /// The SSH target for this container, if it is running with a port and a host key.
    pub fn ssh_target(&self) -> Result<SshTarget, Error> {
        let port = self.ssh_port.ok_or_else(|| {
            Error::Ssh(format!(
                "container {} has no published SSH port (not running?)",
                self.name
            ))
        })?;
        let key = self.host_key.clone().ok_or_else(|| {
            Error::Ssh(format!(
                "container {} has no {LABEL_HOST_KEY} label",
                self.name
            ))
        })?;
        Ok(SshTarget::loopback(port, key))
    }
}

/// A caic container stopped (`die` event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DieEvent {
    /// Engine id.
    pub id: String,
    /// Container name.
    pub name: String,
    /// Label `caic.task`.
    pub task_id: String,
    /// Exit code, when the engine reports it.
    pub exit_code: Option<i64>,
}

/// Output of a command run through the engine's exec API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineExecOutput {
    /// Exit code.
    pub exit_code: Option<i64>,
    /// stdout and stderr, interleaved.
    pub output: String,
}

/// A random sudo password: 20 characters of `[A-Za-z0-9]` from the OS CSPRNG.
pub fn generate_sudo_password() -> String {
    rand::rngs::OsRng
        .sample_iter(&rand::distributions::Alphanumeric)
        .take(20)
        .map(char::from)
        .collect()
}

fn is_404(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

fn tar_file(
    b: &mut tar::Builder<Vec<u8>>,
    path: &str,
    mode: u32,
    uid: u64,
    data: &[u8],
) -> std::io::Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(data.len() as u64);
    h.set_mode(mode);
    h.set_uid(uid);
    h.set_gid(uid);
    h.set_mtime(0);
    b.append_data(&mut h, path, data)
}

/// The keys uploaded into a container before its first start.
fn key_archive(host_key: &HostKey, authorized_key: &str) -> Result<Vec<u8>, Error> {
    let mut b = tar::Builder::new(Vec::new());
    tar_file(
        &mut b,
        "etc/ssh/ssh_host_ed25519_key",
        0o600,
        0,
        host_key.private_openssh().as_bytes(),
    )?;
    tar_file(
        &mut b,
        "etc/ssh/ssh_host_ed25519_key.pub",
        0o644,
        0,
        format!("{}\n", host_key.public_openssh()).as_bytes(),
    )?;
    let mut dir = tar::Header::new_gnu();
    dir.set_entry_type(tar::EntryType::Directory);
    dir.set_mode(0o700);
    dir.set_uid(1000);
    dir.set_gid(1000);
    dir.set_size(0);
    dir.set_mtime(0);
    b.append_data(&mut dir, "home/user/.ssh/", std::io::empty())?;
    tar_file(
        &mut b,
        "home/user/.ssh/authorized_keys",
        0o600,
        1000,
        format!("{authorized_key}\n").as_bytes(),
    )?;
    Ok(b.into_inner()?)
}

fn published_ssh_port(inspect: &ContainerInspectResponse) -> Option<u16> {
    let ports = inspect.network_settings.as_ref()?.ports.as_ref()?;
    ports
        .get(SSH_PORT)?
        .as_ref()?
        .iter()
        .filter(|b| b.host_ip.as_deref().is_none_or(|ip| ip == "127.0.0.1"))
        .find_map(|b| b.host_port.as_deref()?.parse().ok())
}

fn info_from_labels(
    id: String,
    name: String,
    state: String,
    running: bool,
    ssh_port: Option<u16>,
    mut labels: HashMap<String, String>,
) -> ContainerInfo {
    let sudo = labels.remove(LABEL_SUDO_PASSWORD).is_some();
    let host_key = labels
        .get(LABEL_HOST_KEY)
        .and_then(|l| parse_public_key(l).ok());
    ContainerInfo {
        id,
        name: name.trim_start_matches('/').to_string(),
        task_id: labels.get(LABEL_TASK).cloned().unwrap_or_default(),
        harness: labels.get(LABEL_HARNESS).cloned().unwrap_or_default(),
        state,
        running,
        ssh_port,
        host_key,
        sudo,
        labels,
    }
}

impl Docker {
    /// Creates, keys and starts a task container; with sudo, sets its random password.
    ///
    /// Refuses sudo on rootless Podman before creating anything (S23). On any failure
    /// after creation the container is removed.
    pub async fn create_container(&self, spec: &ContainerSpec) -> Result<ContainerInfo, Error> {
        check_sudo_supported(&self.info, spec.sudo)?;
        let host_key = HostKey::generate()?;
        let password = spec.sudo.then(generate_sudo_password);
        let mut labels = HashMap::from([
            (LABEL_TASK.to_string(), spec.task_id.clone()),
            (LABEL_HARNESS.to_string(), spec.harness.clone()),
            (LABEL_HOST_KEY.to_string(), host_key.public_openssh()),
        ]);
        if let Some(pw) = &password {
            labels.insert(LABEL_SUDO_PASSWORD.to_string(), pw.clone());
        }
        let host_config = HostConfig {
            privileged: Some(false),
            init: Some(true),
            cap_drop: Some(vec!["ALL".into()]),
            cap_add: Some(CAP_ADD.iter().map(|c| c.to_string()).collect()),
            security_opt: (!spec.sudo).then(|| vec!["no-new-privileges".to_string()]),
            port_bindings: Some(HashMap::from([(
                SSH_PORT.to_string(),
                Some(vec![PortBinding {
                    host_ip: Some("127.0.0.1".into()),
                    host_port: Some(String::new()),
                }]),
            )])),
            extra_hosts: Some(vec!["host.docker.internal:host-gateway".into()]),
            nano_cpus: spec.cpus.map(|c| (c * 1e9) as i64),
            memory: spec.memory_bytes,
            pids_limit: spec.pids_limit,
            // Podman sets generous default rlimits inside the container, which fails where
            // the engine itself lacks CAP_SYS_RESOURCE: ask for limits the host allows.
            ulimits: (self.info.flavor == EngineFlavor::Podman).then(|| {
                let nproc = spec.pids_limit.unwrap_or(4096);
                [("nofile", open_files_hard_limit()), ("nproc", nproc)]
                    .into_iter()
                    .map(|(name, n)| ResourcesUlimits {
                        name: Some(name.into()),
                        soft: Some(n),
                        hard: Some(n),
                    })
                    .collect()
            }),
            ..Default::default()
        };
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            hostname: Some(sanitize_hostname(&spec.name)),
            labels: Some(labels),
            exposed_ports: Some(vec![SSH_PORT.to_string()]),
            host_config: Some(host_config),
            ..Default::default()
        };
        let created = self
            .docker
            .create_container(
                Some(CreateContainerOptions {
                    name: Some(spec.name.clone()),
                    ..Default::default()
                }),
                body,
            )
            .await
            .map_err(engine_err)?;
        let id = created.id;
        let result = async {
            let archive = key_archive(&host_key, &self.client_key.public_openssh())?;
            self.docker
                .upload_to_container(
                    &id,
                    Some(UploadToContainerOptions {
                        path: "/".into(),
                        ..Default::default()
                    }),
                    bollard::body_full(archive.into()),
                )
                .await
                .map_err(engine_err)?;
            self.docker
                .start_container(&id, None::<StartContainerOptions>)
                .await
                .map_err(engine_err)?;
            if let Some(pw) = &password {
                self.set_sudo_password(&id, pw).await?;
            }
            self.inspect(&id).await
        }
        .await;
        if result.is_err() {
            let _ = self.remove(&id).await;
        }
        let info = result?;
        tracing::info!(name = %info.name, task = %info.task_id, port = ?info.ssh_port, sudo = spec.sudo, "container started");
        Ok(info)
    }

    /// Sets the user's password from stdin of an engine exec (never argv or env) and
    /// adds the user to the sudo group.
    async fn set_sudo_password(&self, id: &str, password: &str) -> Result<(), Error> {
        // `read` and `printf` are dash builtins: the password never appears in an argv.
        let script =
            "IFS= read -r pw && printf 'user:%s\\n' \"$pw\" | chpasswd && usermod -aG sudo user";
        let out = self
            .engine_exec(
                id,
                "root",
                &["sh", "-c", script],
                Some(format!("{password}\n").as_bytes()),
            )
            .await?;
        if out.exit_code != Some(0) {
            return Err(Error::Engine(format!(
                "setting the sudo password failed (exit {:?}): {}",
                out.exit_code,
                out.output.trim()
            )));
        }
        Ok(())
    }

    /// Runs a command in a running container through the engine (not SSH), as `user`,
    /// optionally feeding `stdin`. For administration and tests.
    pub async fn engine_exec(
        &self,
        container: &str,
        user: &str,
        cmd: &[&str],
        stdin: Option<&[u8]>,
    ) -> Result<EngineExecOutput, Error> {
        let exec = self
            .docker
            .create_exec(
                container,
                CreateExecOptions {
                    attach_stdin: Some(stdin.is_some()),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    user: Some(user),
                    cmd: Some(cmd.to_vec()),
                    ..Default::default()
                },
            )
            .await
            .map_err(engine_err)?;
        let started = self
            .docker
            .start_exec(&exec.id, None::<StartExecOptions>)
            .await
            .map_err(engine_err)?;
        let mut output = String::new();
        if let StartExecResults::Attached {
            output: mut out,
            mut input,
        } = started
        {
            if let Some(data) = stdin {
                input.write_all(data).await?;
                input.flush().await?;
                let _ = input.shutdown().await;
            }
            while let Some(chunk) = out.next().await {
                let chunk = chunk.map_err(engine_err)?;
                output.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
            }
        }
        let inspect = self
            .docker
            .inspect_exec(&exec.id)
            .await
            .map_err(engine_err)?;
        Ok(EngineExecOutput {
            exit_code: inspect.exit_code,
            output,
        })
    }

    /// The sudo password of a container (from its label), if it was created with sudo.
    pub async fn sudo_password(&self, container: &str) -> Result<Option<String>, Error> {
        let inspect = self.inspect_raw(container).await?;
        Ok(inspect
            .config
            .and_then(|c| c.labels)
            .and_then(|mut l| l.remove(LABEL_SUDO_PASSWORD)))
    }

    async fn inspect_raw(&self, container: &str) -> Result<ContainerInspectResponse, Error> {
        self.docker
            .inspect_container(container, None)
            .await
            .map_err(|e| {
                if is_404(&e) {
                    Error::NotFound(container.to_string())
                } else {
                    engine_err(e)
                }
            })
    }

    /// Inspects one container (by name or id); the SSH port is re-read each time.
    pub async fn inspect(&self, container: &str) -> Result<ContainerInfo, Error> {
        let i = self.inspect_raw(container).await?;
        let ssh_port = published_ssh_port(&i);
        let state = i.state.as_ref();
        let running = state.and_then(|s| s.running).unwrap_or(false);
        let status = state
            .and_then(|s| s.status)
            .map(|s| s.to_string())
            .unwrap_or_default();
        let labels = i.config.and_then(|c| c.labels).unwrap_or_default();
        Ok(info_from_labels(
            i.id.unwrap_or_default(),
            i.name.unwrap_or_default(),
            status,
            running,
            if running { ssh_port } else { None },
            labels,
        ))
    }

    /// All caic containers (label `caic.task`), running or not.
    pub async fn list(&self) -> Result<Vec<ContainerInfo>, Error> {
        let list = self
            .docker
            .list_containers(Some(ListContainersOptions {
                all: true,
                filters: Some(HashMap::from([(
                    "label".to_string(),
                    vec![LABEL_TASK.to_string()],
                )])),
                ..Default::default()
            }))
            .await
            .map_err(engine_err)?;
        Ok(list
            .into_iter()
            .map(|c| {
                let state = c.state.map(|s| s.to_string()).unwrap_or_default();
                let running = state == "running";
                let port = c
                    .ports
                    .iter()
                    .flatten()
                    .filter(|p| {
                        p.private_port == 22 && p.ip.as_deref().is_none_or(|ip| ip == "127.0.0.1")
                    })
                    .find_map(|p| p.public_port);
                info_from_labels(
                    c.id.unwrap_or_default(),
                    c.names
                        .and_then(|n| n.into_iter().next())
                        .unwrap_or_default(),
                    state,
                    running,
                    port,
                    c.labels.unwrap_or_default(),
                )
            })
            .collect())
    }

    /// Starts a stopped container (revive) and returns it with its new SSH port.
    pub async fn start(&self, container: &str) -> Result<ContainerInfo, Error> {
        self.docker
            .start_container(container, None::<StartContainerOptions>)
            .await
            .map_err(|e| {
                if is_404(&e) {
                    Error::NotFound(container.to_string())
                } else {
                    engine_err(e)
                }
            })?;
        self.inspect(container).await
    }

    /// Stops a container, killing it after `timeout`.
    pub async fn stop(&self, container: &str, timeout: Duration) -> Result<(), Error> {
        self.docker
            .stop_container(
                container,
                Some(StopContainerOptions {
                    t: Some(timeout.as_secs().min(i32::MAX as u64) as i32),
                    ..Default::default()
                }),
            )
            .await
            .map_err(|e| {
                if is_404(&e) {
                    Error::NotFound(container.to_string())
                } else {
                    engine_err(e)
                }
            })
    }

    /// Removes a container and its anonymous volumes, running or not. Absent is fine.
    pub async fn remove(&self, container: &str) -> Result<(), Error> {
        match self
            .docker
            .remove_container(
                container,
                Some(RemoveContainerOptions {
                    force: true,
                    v: true,
                    ..Default::default()
                }),
            )
            .await
        {
            Ok(()) => Ok(()),
            Err(e) if is_404(&e) => Ok(()),
            Err(e) => Err(engine_err(e)),
        }
    }

    /// A stream of `die` events of caic containers, from the time of this call on (the
    /// engine is asked for events since this second, so events between this call and the
    /// first poll are not lost; one from earlier in the same second may show up).
    pub fn die_events(&self) -> impl Stream<Item = Result<DieEvent, Error>> + Send + 'static {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let filters = HashMap::from([
            ("type".to_string(), vec!["container".to_string()]),
            ("event".to_string(), vec!["die".to_string()]),
            ("label".to_string(), vec![LABEL_TASK.to_string()]),
        ]);
        self.docker
            .events(Some(EventsOptions {
                since: Some(since.to_string()),
                filters: Some(filters),
                ..Default::default()
            }))
            .map(|ev| {
                let ev = ev.map_err(engine_err)?;
                let actor = ev.actor.unwrap_or_default();
                let attrs = actor.attributes.unwrap_or_default();
                Ok(DieEvent {
                    id: actor.id.unwrap_or_default(),
                    name: attrs.get("name").cloned().unwrap_or_default(),
                    task_id: attrs.get(LABEL_TASK).cloned().unwrap_or_default(),
                    exit_code: attrs.get("exitCode").and_then(|c| c.parse().ok()),
                })
            })
    }

    /// Connects over SSH to a running container, waiting for sshd up to `timeout`.
    pub async fn ssh_connect(
        &self,
        info: &ContainerInfo,
        timeout: Duration,
    ) -> Result<SshSession, Error> {
        SshSession::connect(&info.ssh_target()?, &self.client_key, timeout).await
    }

    /// A re-dialing SSH client for a running container.
    pub fn ssh_client(&self, info: &ContainerInfo) -> Result<SshClient, Error> {
        Ok(SshClient::new(
            info.ssh_target()?,
            self.client_key.clone(),
            DEFAULT_CONNECT_TIMEOUT,
        ))
    }
}

/// This process's hard limit on open files, capped at 1 Mi; 1024 if unknown.
fn open_files_hard_limit() -> i64 {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(4).map(str::to_string))
        })
        .and_then(|v| v.parse::<i64>().ok())
        .map(|n| n.min(1 << 20))
        .unwrap_or(1024)
}

/// A hostname from a container name (letters, digits and `-`, at most 63 chars).
fn sanitize_hostname(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    let s = s.trim_matches('-').to_string();
    if s.is_empty() {
        "caic".into()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::tests::runtime;
    use crate::keys::ClientKey;
    use russh::client::AuthResult;
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

    /// Removes the container when dropped, even if the test panicked.
    struct Cleanup(String);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = std::process::Command::new("docker")
                .args(["rm", "-f", "-v", &self.0])
                .output();
        }
    }

    fn unique_name() -> String {
        format!("caic-test-{:08x}", rand::random::<u32>())
    }

    fn spec(image: &str, name: &str, sudo: bool) -> ContainerSpec {
        ContainerSpec {
            task_id: format!("task-{name}"),
            harness: "claude".into(),
            name: name.into(),
            image: image.into(),
            sudo,
            cpus: Some(1.5),
            memory_bytes: Some(1 << 30),
            pids_limit: Some(2048),
        }
    }

    async fn fixture() -> (Docker, tempfile::TempDir, String) {
        let (rt, tmp) = runtime().await;
        let tag = rt.ensure_image(|l| eprintln!("build: {l}")).await.unwrap();
        (rt, tmp, tag)
    }

    async fn create(rt: &Docker, tag: &str, sudo: bool) -> (ContainerInfo, Cleanup) {
        let name = unique_name();
        let guard = Cleanup(name.clone());
        let info = rt.create_container(&spec(tag, &name, sudo)).await.unwrap();
        (info, guard)
    }

    async fn root_sh(rt: &Docker, c: &str, script: &str) -> EngineExecOutput {
        rt.engine_exec(c, "root", &["sh", "-c", script], None)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn ssh_exec_works_and_the_image_has_the_tools() {
        let (rt, _tmp, tag) = fixture().await;
        let t0 = std::time::Instant::now();
        let (info, _g) = create(&rt, &tag, false).await;
        let created = t0.elapsed();
        let ssh = rt
            .ssh_connect(&info, DEFAULT_CONNECT_TIMEOUT)
            .await
            .unwrap();
        eprintln!(
            "warm create -> started: {created:?}; -> SSH ready: {:?}",
            t0.elapsed()
        );
        assert!(info.running);
        assert_eq!(info.task_id, format!("task-{}", info.name));
        assert_eq!(info.harness, "claude");
        let out = ssh
            .exec("id -u; id -g; echo $HOME; pwd", None)
            .await
            .unwrap();
        assert!(out.success(), "{out:?}");
        assert_eq!(out.stdout_str(), "1000\n1000\n/home/user\n/home/user");
        let out = ssh
            .exec("git --version && git config user.name", None)
            .await
            .unwrap();
        assert!(
            out.success() && out.stdout_str().starts_with("git version"),
            "{out:?}"
        );
        let out = ssh.exec("claude --version", None).await.unwrap();
        assert!(out.success(), "{out:?}");
        assert!(out.stdout_str().contains("2.1.332"), "{out:?}");
        let out = ssh
            .exec(
                "python3 -c 'import sys; print(sys.stdin.read().upper())'; test -d ~/src",
                Some(b"relay"),
            )
            .await
            .unwrap();
        assert_eq!(out.stdout_str(), "RELAY");
        assert!(out.success());
        let out = ssh.exec("echo oops >&2; exit 7", None).await.unwrap();
        assert_eq!(out.status, Some(7));
        assert_eq!(String::from_utf8_lossy(&out.stderr).trim(), "oops");
        // The container reaches the host by name.
        let out = ssh
            .exec("getent hosts host.docker.internal", None)
            .await
            .unwrap();
        assert!(out.success(), "{out:?}");
    }

    #[tokio::test]
    async fn s21_container_is_isolated() {
        let (rt, _tmp, tag) = fixture().await;
        let (info, _g) = create(&rt, &tag, false).await;
        let i = rt.docker().inspect_container(&info.id, None).await.unwrap();
        let hc = i.host_config.clone().unwrap();
        assert_ne!(hc.privileged, Some(true));
        assert!(hc.binds.unwrap_or_default().is_empty());
        assert!(hc.mounts.unwrap_or_default().is_empty());
        assert!(
            i.mounts.clone().unwrap_or_default().is_empty(),
            "{:?}",
            i.mounts
        );
        let nm = hc.network_mode.unwrap_or_default();
        assert!(nm != "host" && !nm.starts_with("container:"), "{nm}");
        assert_ne!(hc.pid_mode.as_deref(), Some("host"));
        assert!(hc
            .ipc_mode
            .as_deref()
            .is_none_or(|m| m != "host" && !m.starts_with("container:")));
        assert_ne!(hc.userns_mode.as_deref(), Some("host"));
        assert_eq!(hc.cap_drop.unwrap_or_default(), vec!["ALL".to_string()]);
        let mut caps = hc.cap_add.unwrap_or_default();
        caps.sort();
        let mut want: Vec<String> = CAP_ADD.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(caps, want);
        for dangerous in [
            "SYS_ADMIN",
            "SYS_PTRACE",
            "NET_ADMIN",
            "SYS_MODULE",
            "NET_RAW",
            "MKNOD",
            "KILL",
        ] {
            assert!(!caps.iter().any(|c| c.ends_with(dangerous)), "{dangerous}");
        }
        assert_eq!(
            hc.security_opt.unwrap_or_default(),
            vec!["no-new-privileges".to_string()]
        );
        assert_eq!(hc.nano_cpus, Some(1_500_000_000));
        assert_eq!(hc.memory, Some(1 << 30));
        assert_eq!(hc.pids_limit, Some(2048));
        assert_eq!(hc.init, Some(true));
        // 22/tcp is published on loopback only.
        let bindings = hc.port_bindings.unwrap();
        for (port, b) in &bindings {
            for b in b.iter().flatten() {
                assert_eq!(b.host_ip.as_deref(), Some("127.0.0.1"), "{port}");
            }
        }
        let ports = i.network_settings.unwrap().ports.unwrap();
        for b in ports.values().flatten().flatten() {
            assert_eq!(b.host_ip.as_deref(), Some("127.0.0.1"), "{b:?}");
        }
        // Inside: no engine socket, no host checkout, effective caps are the small set.
        let ssh = rt
            .ssh_connect(&info, DEFAULT_CONNECT_TIMEOUT)
            .await
            .unwrap();
        let out = ssh
            .exec(
                "ls -la /var/run/docker.sock /run/docker.sock /run/podman 2>&1; \
                 cat /proc/1/mountinfo | grep -E ' /(work|home/user/src|root) ' ; \
                 ls ~/src | wc -l",
                None,
            )
            .await
            .unwrap();
        let text = out.stdout_str();
        assert!(!text.contains("srw"), "engine socket visible: {text}");
        assert!(text.lines().last() == Some("0"), "{text}");
        assert!(!text.contains("/work"), "{text}");
        let bnd = root_sh(&rt, &info.id, "grep CapBnd /proc/1/status")
            .await
            .output;
        let bits = u64::from_str_radix(bnd.split_whitespace().last().unwrap(), 16).unwrap();
        // CAP_SYS_ADMIN is 21, CAP_NET_RAW 13, CAP_SYS_PTRACE 19.
        for cap in [21, 13, 19] {
            assert_eq!(bits & (1 << cap), 0, "cap {cap} in bounding set {bnd}");
        }
    }

    #[tokio::test]
    async fn s22_key_only_ssh_and_per_container_sudo_password() {
        let (rt, tmp, tag) = fixture().await;
        // caic's client key is its own, in its config dir, not ~/.ssh.
        assert!(rt.client_key().path().starts_with(tmp.path()));
        if let Ok(home) = std::env::var("HOME") {
            for f in ["id_ed25519.pub", "id_rsa.pub", "id_ecdsa.pub"] {
                if let Ok(user_pub) = std::fs::read_to_string(format!("{home}/.ssh/{f}")) {
                    assert_ne!(user_pub.trim(), rt.client_key().public_openssh());
                }
            }
        }
        let (plain, _g1) = create(&rt, &tag, false).await;
        let target = plain.ssh_target().unwrap();
        // caic's key is accepted.
        let ssh = SshSession::connect(&target, rt.client_key(), DEFAULT_CONNECT_TIMEOUT)
            .await
            .unwrap();
        // Passwords and keyboard-interactive are refused outright.
        let mut h = crate::ssh::dial(&target).await.unwrap();
        let r = h.authenticate_password("user", "password").await.unwrap();
        assert!(
            matches!(r, AuthResult::Failure { .. }),
            "password auth must fail"
        );
        let r = h
            .authenticate_keyboard_interactive_start("user", None)
            .await
            .unwrap();
        assert!(
            !matches!(r, russh::client::KeyboardInteractiveAuthResponse::Success),
            "keyboard-interactive must fail"
        );
        // Another key is refused.
        let other_dir = tempfile::tempdir().unwrap();
        let other = ClientKey::load_or_generate(other_dir.path()).unwrap();
        let err = SshSession::connect(&target, &other, Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("refused"), "{err}");
        // Sudo is off by default.
        let out = ssh.exec("sudo -n true", None).await.unwrap();
        assert!(!out.success(), "{out:?}");
        assert_eq!(rt.sudo_password(&plain.name).await.unwrap(), None);
        assert!(!plain.sudo);

        // With sudo: a 20-char random password per container, only in the label.
        let (a, _ga) = create(&rt, &tag, true).await;
        let (b, _gb) = create(&rt, &tag, true).await;
        assert!(a.sudo && !a.labels.contains_key(LABEL_SUDO_PASSWORD));
        let pa = rt.sudo_password(&a.name).await.unwrap().unwrap();
        let pb = rt.sudo_password(&b.name).await.unwrap().unwrap();
        assert_eq!(pa.len(), 20);
        assert!(pa.chars().all(|c| c.is_ascii_alphanumeric()), "{pa}");
        assert_ne!(pa, pb);
        let sa = rt.ssh_connect(&a, DEFAULT_CONNECT_TIMEOUT).await.unwrap();
        let out = sa
            .exec("sudo -S -p '' id -u", Some(format!("{pa}\n").as_bytes()))
            .await
            .unwrap();
        assert!(out.success(), "{out:?}");
        assert_eq!(out.stdout_str(), "0");
        let out = sa
            .exec("sudo -S -p '' true", Some(format!("{pb}\n").as_bytes()))
            .await
            .unwrap();
        assert!(
            !out.success(),
            "the other container's password must not work"
        );
        // The image holds no password.
        let img = rt.docker().inspect_image(&tag).await.unwrap();
        let img_json = serde_json::to_string(&img).unwrap();
        let hist = serde_json::to_string(&rt.docker().image_history(&tag).await.unwrap()).unwrap();
        for pw in [&pa, &pb] {
            assert!(!img_json.contains(pw.as_str()) && !hist.contains(pw.as_str()));
        }
        // Nor does the container's environment or command line.
        let ia = rt.docker().inspect_container(&a.id, None).await.unwrap();
        let cfg = serde_json::to_string(&ia.config.as_ref().unwrap().env).unwrap()
            + &serde_json::to_string(&ia.args).unwrap();
        assert!(!cfg.contains(pa.as_str()));
        // Recreating gives a new password; the old one is useless.
        rt.remove(&a.name).await.unwrap();
        let a2 = rt
            .create_container(&spec(&tag, &a.name, true))
            .await
            .unwrap();
        let pa2 = rt.sudo_password(&a2.name).await.unwrap().unwrap();
        assert_ne!(pa, pa2);
        let s2 = rt.ssh_connect(&a2, DEFAULT_CONNECT_TIMEOUT).await.unwrap();
        let out = s2
            .exec("sudo -S -p '' true", Some(format!("{pa}\n").as_bytes()))
            .await
            .unwrap();
        assert!(
            !out.success(),
            "old password must not work after recreation"
        );
        let out = s2
            .exec("sudo -S -p '' true", Some(format!("{pa2}\n").as_bytes()))
            .await
            .unwrap();
        assert!(out.success(), "{out:?}");
    }

    #[tokio::test]
    async fn s23_rootless_podman_sudo_is_refused_before_creating_anything() {
        let (rt, _tmp, tag) = fixture().await;
        let mut podman = rt.clone();
        podman.info.flavor = EngineFlavor::Podman;
        podman.info.rootless = true;
        let name = unique_name();
        let _g = Cleanup(name.clone());
        let err = podman
            .create_container(&spec(&tag, &name, true))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::SudoUnsupported), "{err}");
        assert!(err.to_string().contains("rootless Podman"));
        assert!(matches!(rt.inspect(&name).await, Err(Error::NotFound(_))));
    }

    #[tokio::test]
    async fn s24_container_holds_no_host_secrets() {
        let (rt, _tmp, tag) = fixture().await;
        let (info, _g) = create(&rt, &tag, true).await;
        let i = rt.docker().inspect_container(&info.id, None).await.unwrap();
        let cfg = i.config.unwrap();
        let secretish = [
            "TOKEN",
            "SECRET",
            "PASSWORD",
            "KEY",
            "GITHUB",
            "ANTHROPIC",
            "OPENAI",
            "GEMINI",
            "TAILSCALE",
            "AWS",
        ];
        for e in cfg.env.unwrap_or_default() {
            let k = e.split('=').next().unwrap().to_ascii_uppercase();
            assert!(!secretish.iter().any(|s| k.contains(s)), "env {k}");
        }
        let allowed = [
            LABEL_TASK,
            LABEL_HARNESS,
            LABEL_HOST_KEY,
            LABEL_SUDO_PASSWORD,
            "caic.base_image",
            "caic.context_sha",
        ];
        for (k, v) in cfg.labels.unwrap_or_default() {
            assert!(allowed.contains(&k.as_str()), "unexpected label {k}");
            if k != LABEL_SUDO_PASSWORD {
                assert!(!v.contains("PRIVATE KEY"), "{k}");
            }
        }
        let host_key_label = info.labels.get(LABEL_HOST_KEY).unwrap();
        assert!(host_key_label.starts_with("ssh-ed25519 "));
        // authorized_keys holds caic's public key and nothing else.
        let ssh = rt
            .ssh_connect(&info, DEFAULT_CONNECT_TIMEOUT)
            .await
            .unwrap();
        let out = ssh
            .exec("cat ~/.ssh/authorized_keys; ls -A ~/.ssh", None)
            .await
            .unwrap();
        assert_eq!(
            out.stdout_str(),
            format!("{}\nauthorized_keys", rt.client_key().public_openssh())
        );
        // No private keys anywhere but the container's own host key; no caic config.
        let out = root_sh(
            &rt,
            &info.id,
            "grep -rlsI 'PRIVATE KEY' /home /root /etc /tmp /var /run /usr/local 2>/dev/null; \
             ls -d /root/.ssh /home/user/.config/caic /root/.config/caic 2>/dev/null; \
             find / -xdev -name 'id_ed25519*' -o -xdev -name 'id_rsa*' 2>/dev/null; true",
        )
        .await;
        assert_eq!(
            out.output.trim(),
            "/etc/ssh/ssh_host_ed25519_key",
            "{}",
            out.output
        );
        // caic's client private key text is not in the container.
        let client_priv = std::fs::read_to_string(rt.client_key().path()).unwrap();
        // The first body lines are the same for every ed25519 key; line 3 holds key bytes.
        let body_line = client_priv.lines().nth(3).unwrap();
        assert!(body_line.len() > 40 && !host_key_label.contains(body_line));
        let out = root_sh(
            &rt,
            &info.id,
            &format!("grep -rlsF '{body_line}' /home /root /etc /tmp; true"),
        )
        .await;
        assert_eq!(out.output.trim(), "");
        // The host key in the container is the one pinned in the label.
        let pubfile = root_sh(&rt, &info.id, "cat /etc/ssh/ssh_host_ed25519_key.pub")
            .await
            .output;
        assert_eq!(
            parse_public_key(&pubfile).unwrap(),
            parse_public_key(host_key_label).unwrap()
        );
        let perms = root_sh(&rt, &info.id, "stat -c '%a %U' /etc/ssh/ssh_host_ed25519_key /home/user/.ssh /home/user/.ssh/authorized_keys").await.output;
        assert_eq!(perms.trim(), "600 root\n700 user\n600 user");
    }

    #[tokio::test]
    async fn wrong_host_key_is_rejected() {
        let (rt, _tmp, tag) = fixture().await;
        let (info, _g) = create(&rt, &tag, false).await;
        let mut target = info.ssh_target().unwrap();
        // Wait for readiness with the right key first, so the failure below is the key.
        rt.ssh_connect(&info, DEFAULT_CONNECT_TIMEOUT)
            .await
            .unwrap();
        target.host_key = HostKey::generate().unwrap().public_key().clone();
        let t0 = std::time::Instant::now();
        let err = SshSession::connect(&target, rt.client_key(), DEFAULT_CONNECT_TIMEOUT)
            .await
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("host key mismatch"), "{msg}");
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "mismatch must not be retried"
        );
    }

    #[tokio::test]
    async fn exec_stream_round_trip_with_stdin_eof_and_huge_lines() {
        let (rt, _tmp, tag) = fixture().await;
        let (info, _g) = create(&rt, &tag, false).await;
        let client = rt.ssh_client(&info).unwrap();
        let mut s = client
            .exec_stream("cat; echo done-after-eof; echo err >&2; exit 3")
            .await
            .unwrap();
        s.stdin.write_all(b"line one\nline two\n").await.unwrap();
        let mut lines = BufReader::new(s.stdout).lines();
        assert_eq!(
            lines.next_line().await.unwrap().as_deref(),
            Some("line one")
        );
        assert_eq!(
            lines.next_line().await.unwrap().as_deref(),
            Some("line two")
        );
        s.stdin.shutdown().await.unwrap();
        assert_eq!(
            lines.next_line().await.unwrap().as_deref(),
            Some("done-after-eof")
        );
        assert_eq!(lines.next_line().await.unwrap(), None);
        let mut err = String::new();
        s.stderr.read_to_string(&mut err).await.unwrap();
        assert_eq!(err.trim(), "err");
        assert_eq!(s.exit.wait().await, Some(3));

        // A 32 MiB line followed by a short one, read in chunks.
        let size: usize = 32 << 20;
        let mut s = client
            .exec_stream(&format!(
                "head -c {size} /dev/zero | tr '\\0' a; echo; echo tail"
            ))
            .await
            .unwrap();
        s.stdin.shutdown().await.unwrap();
        let mut r = BufReader::with_capacity(64 * 1024, s.stdout);
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0usize;
        let mut all_a = true;
        let mut rest = Vec::new();
        loop {
            let n = r.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            let chunk = &buf[..n];
            let in_line = (size - total.min(size)).min(n);
            all_a &= chunk[..in_line].iter().all(|&b| b == b'a');
            if total + n > size {
                rest.extend_from_slice(&chunk[in_line..]);
            }
            total += n;
        }
        assert!(all_a);
        assert_eq!(total, size + "\ntail\n".len());
        assert_eq!(rest, b"\ntail\n");
        assert_eq!(s.exit.wait().await, Some(0));
    }

    #[tokio::test]
    async fn reconnects_after_the_connection_is_killed() {
        let (rt, _tmp, tag) = fixture().await;
        let (info, _g) = create(&rt, &tag, false).await;
        let client = rt.ssh_client(&info).unwrap();
        assert!(
            client.is_closed(),
            "lazy: no connection before the first call"
        );
        assert_eq!(
            client.exec("echo one", None).await.unwrap().stdout_str(),
            "one"
        );
        assert!(!client.is_closed());
        let first = client.session().await.unwrap();
        // The per-connection sshd that runs as the user: killing it drops the connection.
        let out = rt
            .engine_exec(&info.id, "user", &["pkill", "-f", "sshd: user"], None)
            .await
            .unwrap();
        assert_eq!(out.exit_code, Some(0), "{out:?}");
        // The drop is noticed...
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !client.is_closed() && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(client.is_closed());
        // ...and the next call re-dials transparently.
        assert_eq!(
            client.exec("echo two", None).await.unwrap().stdout_str(),
            "two"
        );
        let second = client.session().await.unwrap();
        assert!(!std::sync::Arc::ptr_eq(&first, &second));
        // Killing again without waiting: the call itself must recover.
        rt.engine_exec(&info.id, "user", &["pkill", "-f", "sshd: user"], None)
            .await
            .unwrap();
        let mut ok = false;
        for _ in 0..3 {
            if let Ok(o) = client.exec("echo three", None).await {
                ok = o.stdout_str() == "three";
                if ok {
                    break;
                }
            }
        }
        assert!(ok);
    }

    #[tokio::test]
    async fn stop_start_changes_port_and_ssh_still_works() {
        let (rt, _tmp, tag) = fixture().await;
        let (info, _g) = create(&rt, &tag, false).await;
        let client = rt.ssh_client(&info).unwrap();
        client.exec("echo keep > ~/src/marker", None).await.unwrap();
        let listed = rt.list().await.unwrap();
        let me = listed.iter().find(|c| c.name == info.name).expect("listed");
        assert_eq!(me.ssh_port, info.ssh_port);
        assert!(me.running && me.host_key == info.host_key && me.task_id == info.task_id);

        let mut events = Box::pin(rt.die_events());
        // Occupy the old port so the engine must pick another one on restart.
        let old_port = info.ssh_port.unwrap();
        rt.stop(&info.name, Duration::from_secs(5)).await.unwrap();
        let _hold = std::net::TcpListener::bind(("127.0.0.1", old_port)).ok();
        let ev = tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                let ev = events.next().await.unwrap().unwrap();
                if ev.name == info.name {
                    return ev;
                }
            }
        })
        .await
        .expect("die event");
        assert_eq!(ev.task_id, info.task_id);
        let stopped = rt.inspect(&info.name).await.unwrap();
        assert!(!stopped.running && stopped.ssh_port.is_none());

        let revived = rt.start(&info.name).await.unwrap();
        assert!(revived.running);
        assert_ne!(
            revived.ssh_port, info.ssh_port,
            "port changes across restarts"
        );
        client.set_target(revived.ssh_target().unwrap());
        let out = client.exec("cat ~/src/marker", None).await.unwrap();
        assert_eq!(out.stdout_str(), "keep");

        rt.remove(&info.name).await.unwrap();
        assert!(matches!(
            rt.inspect(&info.name).await,
            Err(Error::NotFound(_))
        ));
        rt.remove(&info.name).await.unwrap();
    }
}
