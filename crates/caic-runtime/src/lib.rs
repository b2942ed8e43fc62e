//! Containers for caic: the Docker/Podman engine (bollard), the base image, caic's own
//! SSH keys, russh sessions into containers, and the relay that owns the agent process
//! inside each container.
//!
//! Entry point: [`Runtime::connect`], then [`Runtime::ensure_image`],
//! [`Runtime::create_container`] and [`Runtime::ssh_client`].

pub mod container;
pub mod engine;
pub mod error;
pub mod image;
pub mod keys;
pub mod relay;
pub mod ssh;

pub use container::{ContainerInfo, ContainerSpec, DieEvent};
pub use engine::{EngineFlavor, EngineInfo, EngineKind, Runtime, RuntimeConfig};
pub use error::Error;
pub use keys::{ClientKey, HostKey};
pub use ssh::{ExecOutput, ExecStream, SshClient, SshSession, SshTarget};
