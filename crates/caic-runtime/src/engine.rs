//! The connection to the container engine: Docker or Podman through the Docker-compatible
//! API socket, with API version negotiation and Podman/rootless detection.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bollard::models::{SystemInfo, SystemVersion};
use bollard::Docker as Bollard;

use crate::keys::ClientKey;
use crate::Error;

/// Which engine to talk to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum EngineKind {
    /// `DOCKER_HOST`, then the Docker socket, then the Podman sockets.
    #[default]
    Auto,
    /// The Docker socket (`DOCKER_HOST` honoured).
    Docker,
    /// The Podman sockets: `$XDG_RUNTIME_DIR/podman/podman.sock`, `/run/podman/podman.sock`.
    Podman,
}

impl std::str::FromStr for EngineKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.to_ascii_lowercase().as_str() {
            "auto" | "" => Ok(Self::Auto),
            "docker" => Ok(Self::Docker),
            "podman" => Ok(Self::Podman),
            other => Err(Error::EngineUnavailable(format!(
                "unknown engine kind {other:?} (expected auto, docker or podman)"
            ))),
        }
    }
}

/// Default base image the caic image is built `FROM`.
pub const DEFAULT_BASE_IMAGE: &str = "debian:bookworm-slim";

/// Where the host's locally added CA certificates live (Debian convention).
const HOST_LOCAL_CA_DIR: &str = "/usr/local/share/ca-certificates";

/// How to reach the engine and what to build.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Docker, Podman or auto-detect.
    pub kind: EngineKind,
    /// Explicit API socket (`/path`, `unix:///path` or `tcp://host:port`); overrides
    /// `DOCKER_HOST` and the default locations.
    pub socket: Option<String>,
    /// caic's config dir; caic's own SSH key lives in its `ssh/` subdir.
    pub config_dir: PathBuf,
    /// Image the caic base image is built `FROM`.
    pub base_image: String,
    /// PEM CA certificates (`*.crt`) to trust inside the image, for TLS-inspecting
    /// proxies. Default: the host's `/usr/local/share/ca-certificates/*.crt`.
    pub extra_ca_certs: Vec<PathBuf>,
}

impl RuntimeConfig {
    /// Defaults for a given config dir: auto engine, Debian bookworm base, host-local CAs.
    pub fn new(config_dir: impl Into<PathBuf>) -> Self {
        Self {
            kind: EngineKind::Auto,
            socket: None,
            config_dir: config_dir.into(),
            base_image: DEFAULT_BASE_IMAGE.to_string(),
            extra_ca_certs: host_local_ca_certs(),
        }
    }
}

/// The `*.crt` files under the host's locally-added CA directory (one level of subdirs).
pub fn host_local_ca_certs() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![PathBuf::from(HOST_LOCAL_CA_DIR)];
    let mut depth = 0;
    while !dirs.is_empty() && depth < 2 {
        let mut next = Vec::new();
        for dir in dirs {
            let Ok(rd) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in rd.flatten() {
                let p = entry.path();
                if p.is_dir() {
                    next.push(p);
                } else if p.extension().is_some_and(|e| e == "crt") {
                    out.push(p);
                }
            }
        }
        dirs = next;
        depth += 1;
    }
    out.sort();
    out
}

/// The engine family behind the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineFlavor {
    /// Docker Engine (moby).
    Docker,
    /// Podman's Docker-compatible service.
    Podman,
}

/// What caic learned about the engine at connect time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineInfo {
    /// Docker or Podman.
    pub flavor: EngineFlavor,
    /// Whether the engine runs without root (rootless Docker or rootless Podman).
    pub rootless: bool,
    /// Engine version string, e.g. `20.10.24+dfsg1`.
    pub version: String,
    /// Negotiated API version, e.g. `1.41`.
    pub api_version: String,
    /// The endpoint used, for messages.
    pub endpoint: String,
}

/// Classifies an engine from its `/version` and `/info` answers.
pub fn detect_engine(version: &SystemVersion, info: &SystemInfo) -> (EngineFlavor, bool) {
    let podman = version
        .components
        .iter()
        .flatten()
        .any(|c| c.name.to_ascii_lowercase().contains("podman"))
        || version
            .platform
            .as_ref()
            .is_some_and(|p| p.name.to_ascii_lowercase().contains("podman"));
    let flavor = if podman {
        EngineFlavor::Podman
    } else {
        EngineFlavor::Docker
    };
    // Docker and Podman both list "name=rootless" in SecurityOptions when rootless.
    let rootless = info.security_options.iter().flatten().any(|o| {
        o.split(',')
            .any(|kv| kv == "name=rootless" || kv == "rootless")
    });
    (flavor, rootless)
}

/// Refuses sudo where the engine cannot grant it (SECURITY.md S23).
pub fn check_sudo_supported(info: &EngineInfo, sudo: bool) -> Result<(), Error> {
    if sudo && info.flavor == EngineFlavor::Podman && info.rootless {
        return Err(Error::SudoUnsupported);
    }
    Ok(())
}

/// A connected container engine plus caic's client key: the entry point of this crate.
#[derive(Clone)]
pub struct Docker {
    pub(crate) docker: Bollard,
    pub(crate) info: EngineInfo,
    pub(crate) config: Arc<RuntimeConfig>,
    pub(crate) client_key: ClientKey,
}

impl std::fmt::Debug for Docker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Docker").field("info", &self.info).finish()
    }
}

/// Request timeout for engine calls (builds stream and are not cut by it).
const ENGINE_TIMEOUT: Duration = Duration::from_secs(600);

/// Candidate endpoints, in order, for a config.
fn candidates(config: &RuntimeConfig) -> Vec<String> {
    if let Some(s) = &config.socket {
        return vec![s.clone()];
    }
    let docker_host = std::env::var("DOCKER_HOST").ok().filter(|s| !s.is_empty());
    let mut podman = Vec::new();
    if let Ok(xdg) = std::env::var("XDG_RUNTIME_DIR") {
        podman.push(format!("{xdg}/podman/podman.sock"));
    }
    podman.push("/run/podman/podman.sock".to_string());
    let docker = if cfg!(windows) {
        "//./pipe/docker_engine".to_string()
    } else {
        "/var/run/docker.sock".to_string()
    };
    match config.kind {
        EngineKind::Docker => vec![docker_host.unwrap_or(docker)],
        EngineKind::Podman => match docker_host {
            Some(h) => vec![h],
            None => podman,
        },
        EngineKind::Auto => match docker_host {
            Some(h) => vec![h],
            None => std::iter::once(docker).chain(podman).collect(),
        },
    }
}

fn connect_endpoint(endpoint: &str) -> Result<Bollard, bollard::errors::Error> {
    let docker = if endpoint.contains("://") {
        Bollard::connect_with_host(endpoint)?
    } else {
        // A local socket: a unix socket path, or a named pipe on Windows.
        #[cfg(unix)]
        {
            Bollard::connect_with_unix(endpoint, 120, bollard::API_DEFAULT_VERSION)?
        }
        #[cfg(windows)]
        {
            Bollard::connect_with_named_pipe(endpoint, 120, bollard::API_DEFAULT_VERSION)?
        }
    };
    Ok(docker.with_timeout(ENGINE_TIMEOUT))
}

impl Docker {
    /// Connects to the engine, negotiates the API version, detects Podman/rootless and
    /// loads (or creates) caic's client key.
    pub async fn connect(config: RuntimeConfig) -> Result<Self, Error> {
        let mut tried = Vec::new();
        for endpoint in candidates(&config) {
            let docker = match connect_endpoint(&endpoint) {
                Ok(d) => d,
                Err(e) => {
                    tried.push(format!("{endpoint}: {e}"));
                    continue;
                }
            };
            let docker =
                match tokio::time::timeout(Duration::from_secs(10), docker.negotiate_version())
                    .await
                {
                    Ok(Ok(d)) => d,
                    Ok(Err(e)) => {
                        tried.push(format!("{endpoint}: {e}"));
                        continue;
                    }
                    Err(_) => {
                        tried.push(format!("{endpoint}: no answer within 10s"));
                        continue;
                    }
                };
            let version = docker.version().await.map_err(engine_err)?;
            let info = docker.info().await.map_err(engine_err)?;
            let (flavor, rootless) = detect_engine(&version, &info);
            let info = EngineInfo {
                flavor,
                rootless,
                version: version.version.clone().unwrap_or_default(),
                api_version: docker.client_version().to_string(),
                endpoint: endpoint.clone(),
            };
            tracing::info!(
                endpoint = %info.endpoint,
                flavor = ?info.flavor,
                rootless = info.rootless,
                version = %info.version,
                api = %info.api_version,
                "connected to container engine"
            );
            let client_key = ClientKey::load_or_generate(&config.config_dir)?;
            return Ok(Self {
                docker,
                info,
                config: Arc::new(config),
                client_key,
            });
        }
        Err(Error::EngineUnavailable(format!(
            "tried {}; start Docker or Podman (for Podman: `systemctl --user start podman.socket`), or set DOCKER_HOST",
            tried.join("; ")
        )))
    }

    /// What was detected about the engine.
    pub fn engine_info(&self) -> &EngineInfo {
        &self.info
    }

    /// caic's own SSH client key.
    pub fn client_key(&self) -> &ClientKey {
        &self.client_key
    }

    /// The configuration this runtime was connected with.
    pub fn config(&self) -> &RuntimeConfig {
        &self.config
    }

    /// The underlying bollard client, for engine calls this crate does not wrap.
    pub fn docker(&self) -> &Bollard {
        &self.docker
    }
}

/// Maps a bollard error to ours (messages from the engine carry no secrets of ours).
pub(crate) fn engine_err(e: bollard::errors::Error) -> Error {
    Error::Engine(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::SystemVersionComponents;

    #[tokio::test]
    async fn connects_to_the_real_engine_with_a_negotiated_version() {
        let tmp = tempfile::tempdir().unwrap();
        let rt = Docker::connect(RuntimeConfig::new(tmp.path()))
            .await
            .unwrap();
        let info = rt.engine_info();
        assert_eq!(info.flavor, EngineFlavor::Docker);
        assert!(!info.rootless);
        // The engine here speaks 1.41; bollard defaults to a newer version, so this only
        // holds if negotiation downgraded it.
        let v: Vec<u64> = info
            .api_version
            .split('.')
            .map(|p| p.parse().unwrap())
            .collect();
        assert!(v[0] == 1 && v[1] <= 53, "{}", info.api_version);
        rt.docker().ping().await.unwrap();
        assert!(tmp.path().join("ssh/id_ed25519").exists());
    }

    #[tokio::test]
    async fn no_engine_gives_a_clear_error() {
        let tmp = tempfile::tempdir().unwrap();
        let mut cfg = RuntimeConfig::new(tmp.path());
        cfg.socket = Some(tmp.path().join("nope.sock").display().to_string());
        let err = Docker::connect(cfg).await.unwrap_err();
        assert!(matches!(err, Error::EngineUnavailable(_)), "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains("nope.sock") && msg.contains("Docker or Podman"),
            "{msg}"
        );
    }

    #[test]
    fn detects_podman_and_rootless_from_engine_answers() {
        let podman_version = SystemVersion {
            components: Some(vec![SystemVersionComponents {
                name: "Podman Engine".into(),
                version: "4.3.1".into(),
                details: None,
            }]),
            ..Default::default()
        };
        let rootless_info = SystemInfo {
            security_options: Some(vec![
                "name=seccomp,profile=default".into(),
                "name=rootless".into(),
            ]),
            ..Default::default()
        };
        assert_eq!(
            detect_engine(&podman_version, &rootless_info),
            (EngineFlavor::Podman, true)
        );
        let docker_version = SystemVersion {
            components: Some(vec![SystemVersionComponents {
                name: "Engine".into(),
                version: "20.10.24".into(),
                details: None,
            }]),
            ..Default::default()
        };
        let rootful = SystemInfo {
            security_options: Some(vec!["name=seccomp,profile=default".into()]),
            ..Default::default()
        };
        assert_eq!(
            detect_engine(&docker_version, &rootful),
            (EngineFlavor::Docker, false)
        );
    }

    #[tokio::test]
    async fn s23_rootless_podman_refuses_sudo_clearly() {
        let info = EngineInfo {
            flavor: EngineFlavor::Podman,
            rootless: true,
            version: "4.3.1".into(),
            api_version: "1.41".into(),
            endpoint: "/run/user/1000/podman/podman.sock".into(),
        };
        let err = check_sudo_supported(&info, true).unwrap_err();
        assert!(matches!(err, Error::SudoUnsupported));
        let msg = err.to_string();
        assert!(
            msg.contains("rootless Podman") && msg.contains("sudo"),
            "{msg}"
        );
        check_sudo_supported(&info, false).unwrap();
        let rootful = EngineInfo {
            rootless: false,
            ..info.clone()
        };
        check_sudo_supported(&rootful, true).unwrap();

        // The detection on the real engine here: Docker, not rootless, so sudo is allowed.
        let tmp = tempfile::tempdir().unwrap();
        let rt = Docker::connect(RuntimeConfig::new(tmp.path()))
            .await
            .unwrap();
        assert_eq!(rt.engine_info().flavor, EngineFlavor::Docker);
        assert!(!rt.engine_info().rootless);
        check_sudo_supported(rt.engine_info(), true).unwrap();
    }
}
