//! [`MemoryRuntime`]: a [`Runtime`] with no container engine, for tests of what is not
//! about containers.
//!
//! A "container" is a directory under a temp root; paths under `/home/user` map into its
//! `home/`. The repo moves in and out with the same git scripts as in a real container,
//! run locally with `bash`. An agent is a local process (cwd and `HOME` mapped, files
//! installed under the mapped paths, argv and env values naming `/home/user` paths
//! mapped); its stdout and the input lines caic sent go, in order, to an in-memory
//! append-only log with the relay's byte offsets, so the engine's parser and offsets
//! behave as they do against the relay. Stopping a container kills its agents and
//! reports a death; [`MemoryRuntime::kill`] simulates a container dying.

use crate::git_scripts::{
    container_diff_script, container_export_script, container_import_script, DiffMode,
};
use crate::runtime::{AgentFile, ContainerState, Link, LinkEnd, LinkReader, LinkWriter, Runtime};
use crate::Error;
use caic_secrets::Secret;
use futures::future::BoxFuture;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::{mpsc, oneshot, watch};

/// The home directory of a container's user, as caic names it.
const HOME: &str = "/home/user";

/// A [`Runtime`] over temp directories and local processes. Cheap to clone; everything
/// it made is deleted when the last clone is dropped.
#[derive(Clone)]
pub struct MemoryRuntime {
    shared: Arc<Shared>,
}

struct Shared {
    root: tempfile::TempDir,
    containers: Mutex<HashMap<String, Container>>,
    deaths: Mutex<Vec<mpsc::Sender<String>>>,
}

struct Container {
    task_id: String,
    dir: PathBuf,
    running: bool,
    relays: HashMap<String, Arc<Relay>>,
}

impl Container {
    fn home(&self) -> PathBuf {
        self.dir.join("home")
    }

    /// `path` inside this container, on the host.
    fn map(&self, path: &str) -> PathBuf {
        map_path(&self.home(), path).unwrap_or_else(|| PathBuf::from(path))
    }
}

/// `path` with a leading `/home/user` replaced by `home`; `None` when it has none.
fn map_path(home: &Path, path: &str) -> Option<PathBuf> {
    let rest = path.strip_prefix(HOME)?;
    if rest.is_empty() {
        return Some(home.to_path_buf());
    }
    Some(home.join(rest.strip_prefix('/')?))
}

/// `s` with a leading `/home/user` mapped, else unchanged.
fn map_arg(home: &Path, s: &str) -> String {
    match map_path(home, s) {
        Some(p) => p.to_string_lossy().into_owned(),
        None => s.to_string(),
    }
}

/// One agent process and its log.
struct Relay {
    state: Mutex<RelayState>,
    /// Bumped on every change of `state`, to wake readers.
    changed: watch::Sender<u64>,
    stdin: tokio::sync::Mutex<Option<ChildStdin>>,
    kill: Mutex<Option<oneshot::Sender<()>>>,
}

#[derive(Default)]
struct RelayState {
    log: Vec<u8>,
    /// The agent's exit code (128 + signal when killed) once it exited.
    exit: Option<i32>,
    /// The container stopped under it: links drop as an SSH link would.
    lost: bool,
    /// Which attach is current; older ones are replaced.
    attach: u64,
}

impl Relay {
    fn update(&self, f: impl FnOnce(&mut RelayState)) {
        f(&mut self.state.lock());
        self.changed.send_modify(|v| *v += 1);
    }

    fn append(&self, data: &[u8]) {
        self.update(|s| s.log.extend_from_slice(data));
    }

    /// Kills the agent and drops every link.
    fn lose(&self) {
        if let Some(kill) = self.kill.lock().take() {
            let _ = kill.send(());
        }
        self.update(|s| s.lost = true);
    }
}

/// Reads the agent's stdout into the log (complete lines; a last partial line gets its
/// `\n`, as the relay does), then records the exit code.
async fn pump(
    relay: Arc<Relay>,
    mut child: Child,
    mut stdout: ChildStdout,
    mut kill: oneshot::Receiver<()>,
) {
    let mut pending = Vec::new();
    let mut buf = vec![0u8; 64 << 10];
    loop {
        tokio::select! {
            _ = &mut kill => {
                let _ = child.start_kill();
                break;
            }
            n = stdout.read(&mut buf) => match n {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    pending.extend_from_slice(&buf[..n]);
                    if let Some(i) = pending.iter().rposition(|&b| b == b'\n') {
                        let rest = pending.split_off(i + 1);
                        relay.append(&pending);
                        pending = rest;
                    }
                }
            }
        }
    }
    if !pending.is_empty() {
        pending.push(b'\n');
        relay.append(&pending);
    }
    let code = match child.wait().await {
        Ok(st) => st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0)),
        Err(_) => 128,
    };
    relay.stdin.lock().await.take();
    relay.update(|s| s.exit = Some(code));
}

impl MemoryRuntime {
    /// An empty runtime under a new temp dir.
    pub fn new() -> Result<Self, Error> {
        Ok(Self {
            shared: Arc::new(Shared {
                root: tempfile::tempdir()?,
                containers: Mutex::new(HashMap::new()),
                deaths: Mutex::new(Vec::new()),
            }),
        })
    }

    /// Where `path` (e.g. `/home/user/src/repo/file`) of container `name` is on the host.
    pub fn host_path(&self, name: &str, path: &str) -> Option<PathBuf> {
        let containers = self.shared.containers.lock();
        containers.get(name).map(|c| c.map(path))
    }

    /// Simulates the container of task `task_id` dying: its agents are killed, it stops,
    /// and a death is reported. False when the task has no running container.
    pub fn kill(&self, task_id: &str) -> bool {
        let name = {
            let containers = self.shared.containers.lock();
            containers
                .iter()
                .find(|(_, c)| c.task_id == task_id && c.running)
                .map(|(n, _)| n.clone())
        };
        match name {
            Some(name) => self.halt(&name).is_ok(),
            None => false,
        }
    }

    /// Stops container `name`: kills its agents, marks it stopped, reports the death.
    fn halt(&self, name: &str) -> Result<(), Error> {
        let task_id = {
            let mut containers = self.shared.containers.lock();
            let c = containers
                .get_mut(name)
                .ok_or_else(|| Error::NotFound(name.to_string()))?;
            if !c.running {
                return Ok(());
            }
            c.running = false;
            for r in c.relays.values() {
                r.lose();
            }
            c.task_id.clone()
        };
        let mut deaths = self.shared.deaths.lock();
        deaths.retain(|tx| !tx.is_closed());
        for tx in deaths.iter() {
            let _ = tx.try_send(task_id.clone());
        }
        Ok(())
    }

    /// The home dir of running container `name`.
    fn running_home(&self, name: &str) -> Result<PathBuf, Error> {
        let containers = self.shared.containers.lock();
        match containers.get(name) {
            Some(c) if c.running => Ok(c.home()),
            Some(_) => Err(Error::Ssh(format!("container {name} is not running"))),
            None => Err(Error::NotFound(name.to_string())),
        }
    }

    /// Runs `script` with bash in container `name` (cwd and `HOME` its home).
    async fn sh(
        &self,
        name: &str,
        script: &str,
        stdin: Option<&[u8]>,
        what: &str,
    ) -> Result<Vec<u8>, Error> {
        let home = self.running_home(name)?;
        let mut child = Command::new("bash")
            .arg("-c")
            .arg(script)
            .current_dir(&home)
            .env("HOME", &home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env_remove("GIT_DIR")
            .env_remove("GIT_INDEX_FILE")
            .env_remove("GIT_WORK_TREE")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let mut input = child.stdin.take();
        let data = stdin.unwrap_or_default().to_vec();
        let writer = tokio::spawn(async move {
            if let Some(w) = input.as_mut() {
                let _ = w.write_all(&data).await;
            }
        });
        let out = child.wait_with_output().await?;
        let _ = writer.await;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            return Err(Error::Command(format!(
                "{what} failed (exit {:?}): {}",
                out.status.code(),
                err.trim()
            )));
        }
        Ok(out.stdout)
    }

    fn workdir(&self, name: &str, workdir: &str) -> Result<String, Error> {
        let home = self.running_home(name)?;
        Ok(map_arg(&home, workdir))
    }

    fn relay(&self, container: &str, relay: &str) -> Result<Arc<Relay>, Error> {
        self.running_home(container)?;
        let containers = self.shared.containers.lock();
        containers
            .get(container)
            .and_then(|c| c.relays.get(relay).cloned())
            .ok_or_else(|| Error::Relay(format!("no relay {relay:?} in {container}")))
    }

    async fn spawn_relay(
        &self,
        container: &str,
        relay: &str,
        workdir: &str,
        argv: &[String],
        env: &[(String, Secret)],
        files: &[AgentFile],
    ) -> Result<(), Error> {
        crate::relay::validate_name(relay)?;
        let home = self.running_home(container)?;
        if let Ok(r) = self.relay(container, relay) {
            let s = r.state.lock();
            if s.exit.is_none() && !s.lost {
                return Err(Error::Relay(format!("relay {relay:?} is already running")));
            }
        }
        for f in files {
            let path = map_arg(&home, &f.path);
            if let Some(dir) = Path::new(&path).parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(&path, &f.contents)?;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(f.mode))?;
        }
        let (program, args) = argv
            .split_first()
            .ok_or_else(|| Error::Relay("empty argv".into()))?;
        let mut child = Command::new(map_arg(&home, program))
            .args(args.iter().map(|a| map_arg(&home, a)))
            .current_dir(map_arg(&home, workdir))
            .env("HOME", &home)
            .envs(env.iter().map(|(k, v)| (k, map_arg(&home, v.expose()))))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| Error::Command(format!("starting the agent failed: {e}")))?;
        let stdout = child.stdout.take().expect("piped");
        let (kill, kill_rx) = oneshot::channel();
        let r = Arc::new(Relay {
            state: Mutex::new(RelayState::default()),
            changed: watch::channel(0).0,
            stdin: tokio::sync::Mutex::new(child.stdin.take()),
            kill: Mutex::new(Some(kill)),
        });
        tracing::debug!(container, relay, pid = child.id(), "agent started");
        tokio::spawn(pump(r.clone(), child, stdout, kill_rx));
        let mut containers = self.shared.containers.lock();
        let c = containers
            .get_mut(container)
            .ok_or_else(|| Error::NotFound(container.to_string()))?;
        c.relays.insert(relay.to_string(), r);
        Ok(())
    }

    fn link(&self, container: &str, relay: &str, offset: u64) -> Result<Link, Error> {
        let r = self.relay(container, relay)?;
        let (attach, stale) = {
            let mut s = r.state.lock();
            let size = s.log.len() as u64;
            if offset > size {
                return Err(Error::Relay(format!(
                    "offset {offset} is outside the log (size {size})"
                )));
            }
            if offset > 0 && s.log[offset as usize - 1] != b'\n' {
                return Err(Error::Relay(format!(
                    "offset {offset} is not at a line boundary"
                )));
            }
            s.attach += 1;
            (s.attach, s.lost)
        };
        r.changed.send_modify(|v| *v += 1);
        Ok(Link {
            reader: Box::new(MemoryReader {
                changes: r.changed.subscribe(),
                relay: r.clone(),
                pos: offset,
                attach,
                stale,
            }),
            writer: Box::new(MemoryWriter { relay: r, attach }),
        })
    }
}

/// Reads a relay's in-memory log from an offset, then follows it.
struct MemoryReader {
    relay: Arc<Relay>,
    changes: watch::Receiver<u64>,
    pos: u64,
    attach: u64,
    /// Attached after its container stopped: the log as it was, then the agent's end
    /// (as the relay serves a dead relay's log from its files).
    stale: bool,
}

impl MemoryReader {
    /// The link dropped under this reader (container stopped, or a newer attach).
    fn dropped(&self, s: &RelayState) -> bool {
        (s.lost && !self.stale) || s.attach != self.attach
    }
}

impl LinkReader for MemoryReader {
    fn next_line(&mut self) -> BoxFuture<'_, Result<Option<(String, u64)>, Error>> {
        Box::pin(async move {
            loop {
                self.changes.borrow_and_update();
                {
                    let s = self.relay.state.lock();
                    if self.dropped(&s) {
                        return Ok(None);
                    }
                    let rest = &s.log[self.pos as usize..];
                    if let Some(i) = rest.iter().position(|&b| b == b'\n') {
                        let text = String::from_utf8_lossy(&rest[..i]).into_owned();
                        self.pos += i as u64 + 1;
                        return Ok(Some((text, self.pos)));
                    }
                    if s.exit.is_some() || s.lost {
                        return Ok(None);
                    }
                }
                if self.changes.changed().await.is_err() {
                    return Ok(None);
                }
            }
        })
    }

    fn finish(&mut self) -> BoxFuture<'_, LinkEnd> {
        Box::pin(async move {
            let s = self.relay.state.lock();
            match s.exit {
                _ if self.dropped(&s) => LinkEnd::Dropped,
                Some(code) => LinkEnd::AgentExited(code),
                // Killed with its container; the exit is being recorded.
                None if s.lost => LinkEnd::AgentExited(128 + 9),
                None => LinkEnd::Dropped,
            }
        })
    }
}

/// Sends input to a relay's agent, logging each line first as the relay does.
struct MemoryWriter {
    relay: Arc<Relay>,
    attach: u64,
}

impl MemoryWriter {
    fn check_current(&self) -> Result<(), Error> {
        let s = self.relay.state.lock();
        if s.lost || s.attach != self.attach {
            return Err(Error::Relay("the link is detached".into()));
        }
        Ok(())
    }
}

impl LinkWriter for MemoryWriter {
    fn send_line<'a>(&'a mut self, line: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            if line.bytes().any(|b| b == b'\n' || b == 0) {
                return Err(Error::Relay(
                    "a line for the agent cannot contain a newline or NUL".into(),
                ));
            }
            self.check_current()?;
            let mut stdin = self.relay.stdin.lock().await;
            let Some(w) = stdin.as_mut() else {
                // The relay drops input after the agent's stdin closed.
                return Ok(());
            };
            let mut data = line.as_bytes().to_vec();
            data.push(b'\n');
            // Logged before the agent can see it, so its reply always comes after it.
            self.relay.append(&data);
            if w.write_all(&data).await.is_err() || w.flush().await.is_err() {
                stdin.take();
            }
            Ok(())
        })
    }

    fn close_input(&mut self) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(async move {
            self.check_current()?;
            self.relay.stdin.lock().await.take();
            Ok(())
        })
    }
}

impl Runtime for MemoryRuntime {
    fn ensure_image<'a>(
        &'a self,
        _progress: &'a (dyn Fn(&str) + Sync),
    ) -> BoxFuture<'a, Result<String, Error>> {
        Box::pin(async { Ok("memory".to_string()) })
    }

    fn create_container<'a>(
        &'a self,
        task_id: &'a str,
        _harness: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let mut containers = self.shared.containers.lock();
            if containers.contains_key(name) {
                return Err(Error::Engine(format!("container {name} already exists")));
            }
            let dir = self.shared.root.path().join(name);
            std::fs::create_dir_all(dir.join("home"))?;
            containers.insert(
                name.to_string(),
                Container {
                    task_id: task_id.to_string(),
                    dir,
                    running: true,
                    relays: HashMap::new(),
                },
            );
            Ok(())
        })
    }

    fn start_container<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let mut containers = self.shared.containers.lock();
            let c = containers
                .get_mut(name)
                .ok_or_else(|| Error::NotFound(name.to_string()))?;
            c.running = true;
            Ok(())
        })
    }

    fn stop_container<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move { self.halt(name) })
    }

    fn remove_container<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            match self.halt(name) {
                Ok(()) | Err(Error::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
            let removed = self.shared.containers.lock().remove(name);
            if let Some(c) = removed {
                std::fs::remove_dir_all(&c.dir)?;
            }
            Ok(())
        })
    }

    fn list_containers(&self) -> BoxFuture<'_, Result<Vec<ContainerState>, Error>> {
        Box::pin(async move {
            let containers = self.shared.containers.lock();
            let mut list: Vec<ContainerState> = containers
                .iter()
                .map(|(name, c)| ContainerState {
                    name: name.clone(),
                    task_id: c.task_id.clone(),
                    running: c.running,
                })
                .collect();
            list.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(list)
        })
    }

    fn deaths(&self) -> mpsc::Receiver<String> {
        let (tx, rx) = mpsc::channel(64);
        self.shared.deaths.lock().push(tx);
        rx
    }

    fn wait_ready<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move { self.running_home(name).map(|_| ()) })
    }

    fn push_repo<'a>(
        &'a self,
        container: &'a str,
        bundle: &'a [u8],
        branch: &'a str,
        workdir: &'a str,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let wd = self.workdir(container, workdir)?;
            self.sh(
                container,
                &container_import_script(&wd, branch),
                Some(bundle),
                "pushing the repo into the container",
            )
            .await
            .map(|_| ())
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
        Box::pin(self.spawn_relay(container, relay, workdir, argv, env, files))
    }

    fn attach<'a>(
        &'a self,
        container: &'a str,
        relay: &'a str,
        offset: u64,
    ) -> BoxFuture<'a, Result<Link, Error>> {
        Box::pin(async move { self.link(container, relay, offset) })
    }

    fn export<'a>(
        &'a self,
        container: &'a str,
        workdir: &'a str,
        branch: &'a str,
        author: (&'a str, &'a str),
    ) -> BoxFuture<'a, Result<Vec<u8>, Error>> {
        Box::pin(async move {
            let wd = self.workdir(container, workdir)?;
            let script = container_export_script(&wd, branch, author.0, author.1);
            self.sh(
                container,
                &script,
                None,
                "bringing the work back from the container",
            )
            .await
        })
    }

    fn numstat<'a>(
        &'a self,
        container: &'a str,
        workdir: &'a str,
    ) -> BoxFuture<'a, Result<String, Error>> {
        Box::pin(async move {
            let wd = self.workdir(container, workdir)?;
            let out = self
                .sh(
                    container,
                    &container_diff_script(&wd, DiffMode::NumStat),
                    None,
                    "diff stat",
                )
                .await?;
            Ok(String::from_utf8_lossy(&out).trim().to_string())
        })
    }

    fn diff<'a>(
        &'a self,
        container: &'a str,
        workdir: &'a str,
    ) -> BoxFuture<'a, Result<(String, String), Error>> {
        Box::pin(async move {
            let stat = self.numstat(container, workdir).await?;
            let wd = self.workdir(container, workdir)?;
            let out = self
                .sh(
                    container,
                    &container_diff_script(&wd, DiffMode::Full),
                    None,
                    "diff",
                )
                .await?;
            Ok((String::from_utf8_lossy(&out).trim().to_string(), stat))
        })
    }
}

#[cfg(test)]
mod tests;
