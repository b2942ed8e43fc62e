//! The [`Runtime`] trait: everything the engine does to a task's container, at the level
//! the engine thinks in (containers by name, the repo in and out, the agent under its
//! relay). [`crate::DockerRuntime`] implements it over Docker/Podman, SSH and the relay;
//! `MemoryRuntime` (feature `memory`) over temp dirs and local processes, for tests.

use crate::Error;
use caic_secrets::Secret;
use futures::future::BoxFuture;
use tokio::sync::mpsc;

/// A file to install in the container before the agent starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentFile {
    /// Absolute path in the container.
    pub path: String,
    /// Unix permission bits.
    pub mode: u32,
    /// What the file holds.
    pub contents: String,
}

/// A task's container as the engine needs to know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerState {
    /// Container name.
    pub name: String,
    /// The task it belongs to.
    pub task_id: String,
    /// Whether it runs.
    pub running: bool,
}

/// How a relay link ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkEnd {
    /// The agent exited with this code; its whole output was delivered.
    AgentExited(i32),
    /// The link dropped (SSH, network, restart); the agent may still run.
    Dropped,
}

/// Reads an attached relay's log lines with their end offsets.
pub trait LinkReader: Send {
    /// The next complete line and the log offset just after it; `None` at the end.
    /// Cancel-safe (used in `tokio::select!`).
    fn next_line(&mut self) -> BoxFuture<'_, Result<Option<(String, u64)>, Error>>;

    /// After `next_line` returned `None` or failed: did the agent exit, or did the link
    /// drop?
    fn finish(&mut self) -> BoxFuture<'_, LinkEnd>;
}

/// Sends input lines to the agent through its relay (which logs them too).
pub trait LinkWriter: Send {
    /// Sends one line (no `\n` or NUL inside).
    fn send_line<'a>(&'a mut self, line: &'a str) -> BoxFuture<'a, Result<(), Error>>;

    /// Closes the agent's stdin: it finishes its turn and exits.
    fn close_input(&mut self) -> BoxFuture<'_, Result<(), Error>>;
}

/// An attached relay: the line reader and the input writer, usable separately.
pub struct Link {
    /// The log lines.
    pub reader: Box<dyn LinkReader>,
    /// The agent's input.
    pub writer: Box<dyn LinkWriter>,
}

impl Link {
    /// The reader and the writer, to use from different tasks.
    pub fn split(self) -> (Box<dyn LinkReader>, Box<dyn LinkWriter>) {
        (self.reader, self.writer)
    }
}

/// Where tasks run: containers, the repo in them, and the agent under its relay.
///
/// Object-safe: the engine holds an `Arc<dyn Runtime>`. Container and relay names are
/// the engine's; `workdir` is an absolute path under `/home/user` in the container.
pub trait Runtime: Send + Sync {
    /// Builds (or finds) the base image, reporting build lines; returns its tag.
    fn ensure_image<'a>(
        &'a self,
        progress: &'a (dyn Fn(&str) + Sync),
    ) -> BoxFuture<'a, Result<String, Error>>;

    /// Creates and starts container `name` for task `task_id` running `harness`.
    fn create_container<'a>(
        &'a self,
        task_id: &'a str,
        harness: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<(), Error>>;

    /// Starts a stopped container.
    fn start_container<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), Error>>;

    /// Stops a container (its processes end; its files stay).
    fn stop_container<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), Error>>;

    /// Removes a container and its files; a missing container is not an error.
    fn remove_container<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), Error>>;

    /// caic's containers, running or not.
    fn list_containers(&self) -> BoxFuture<'_, Result<Vec<ContainerState>, Error>>;

    /// Task ids of containers as they die (stopped or killed). Ends when the runtime
    /// can no longer watch; call again to resume.
    fn deaths(&self) -> mpsc::Receiver<String>;

    /// Waits until the container accepts commands (its sshd answers).
    fn wait_ready<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), Error>>;

    /// Checks out `branch` from `bundle` (a git bundle) in `workdir`.
    fn push_repo<'a>(
        &'a self,
        container: &'a str,
        bundle: &'a [u8],
        branch: &'a str,
        workdir: &'a str,
    ) -> BoxFuture<'a, Result<(), Error>>;

    /// Installs `files`, then starts `argv` in `workdir` under relay `relay`, with `env`
    /// added to its environment (credentials: never logged, never on argv or disk).
    fn start_relay<'a>(
        &'a self,
        container: &'a str,
        relay: &'a str,
        workdir: &'a str,
        argv: &'a [String],
        env: &'a [(String, Secret)],
        files: &'a [AgentFile],
    ) -> BoxFuture<'a, Result<(), Error>>;

    /// Attaches to relay `relay` from byte `offset` of its log: the log from there,
    /// then live lines.
    fn attach<'a>(
        &'a self,
        container: &'a str,
        relay: &'a str,
        offset: u64,
    ) -> BoxFuture<'a, Result<Link, Error>>;

    /// Commits any uncommitted work and returns a bundle of `branch`'s new commits
    /// (empty when there are none), authored as `author` (name, email).
    fn export<'a>(
        &'a self,
        container: &'a str,
        workdir: &'a str,
        branch: &'a str,
        author: (&'a str, &'a str),
    ) -> BoxFuture<'a, Result<Vec<u8>, Error>>;

    /// Per-file line counts of the work against the branch point, as `git diff
    /// --numstat -z` prints them (caic-git's `parse_numstat` reads them).
    fn numstat<'a>(
        &'a self,
        container: &'a str,
        workdir: &'a str,
    ) -> BoxFuture<'a, Result<String, Error>>;

    /// The full diff, and the per-file counts as [`Runtime::numstat`] gives them.
    fn diff<'a>(
        &'a self,
        container: &'a str,
        workdir: &'a str,
    ) -> BoxFuture<'a, Result<(String, String), Error>>;

    /// Drops the runtime's open links to containers (caic is stopping); the containers
    /// and their agents keep running. Nothing by default.
    fn close(&self) {}
}
