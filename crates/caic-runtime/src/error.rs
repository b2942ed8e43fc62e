//! The one error type of caic-runtime.

/// Everything that can go wrong talking to the container engine, SSH or the relay.
///
/// Shared by several modules: add variants, keep messages free of secrets.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The container engine answered with an error.
    #[error("container engine: {0}")]
    Engine(String),
    /// No container engine could be reached.
    #[error("no container engine reachable: {0}")]
    EngineUnavailable(String),
    /// Rootless Podman cannot give a container sudo (SECURITY.md S23).
    #[error("sudo was requested but rootless Podman cannot grant it; use Docker or rootful Podman, or start the task without sudo")]
    SudoUnsupported,
    /// Building the base image failed.
    #[error("image build failed: {0}")]
    ImageBuild(String),
    /// No such container.
    #[error("container {0} not found")]
    NotFound(String),
    /// SSH failed (connect, auth, host key, channel).
    #[error("ssh: {0}")]
    Ssh(String),
    /// The relay inside the container failed or misbehaved.
    #[error("relay: {0}")]
    Relay(String),
    /// The relay sent a line longer than the reader accepts; it was skipped, and the
    /// link stays usable (the next line follows).
    #[error(
        "relay: line of {len} bytes ending at log offset {end_offset} exceeds the limit; skipped"
    )]
    RelayLineTooLong {
        /// Log offset just after the skipped line's newline.
        end_offset: u64,
        /// Length of the skipped line without its newline.
        len: u64,
    },
    /// Timed out waiting for something.
    #[error("timed out: {0}")]
    Timeout(String),
    /// Local I/O (key files, sockets).
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// A command in the container failed (moving the repo, installing files, starting
    /// the agent); the message ends with its stderr's tail.
    #[error("{0}")]
    Command(String),
    /// caic's own SSH keys could not be created, read or used.
    #[error("ssh keys: {0}")]
    Keys(String),
}
