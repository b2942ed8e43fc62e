//! Containers for caic: the Docker/Podman engine (bollard), the base image, caic's own
//! SSH keys, russh sessions into containers, and the relay that owns the agent process
//! inside each container.
//!
//! The engine sees all of it through the [`Runtime`] trait: [`DockerRuntime`] (Docker or
//! Podman, over [`Docker::connect`]), or `MemoryRuntime` (feature `memory`: temp dirs and
//! local processes, no container engine) in tests.

#![warn(missing_docs)]

pub mod container;
pub mod docker;
pub mod engine;
pub mod error;
pub mod git_scripts;
pub mod image;
pub mod keys;
#[cfg(all(feature = "memory", unix))]
pub mod memory;
pub mod relay;
pub mod runtime;
pub mod ssh;

pub use container::{ContainerInfo, ContainerSpec, DieEvent};
pub use docker::{ContainerLimits, DockerRuntime};
pub use engine::{Docker, EngineFlavor, EngineInfo, EngineKind, RuntimeConfig};
pub use error::Error;
pub use keys::{ClientKey, HostKey};
#[cfg(all(feature = "memory", unix))]
pub use memory::MemoryRuntime;
pub use runtime::{AgentFile, ContainerState, Link, LinkEnd, LinkReader, LinkWriter, Runtime};
pub use ssh::{ExecOutput, ExecStream, SshClient, SshSession, SshTarget};
