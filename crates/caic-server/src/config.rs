//! Configuration: `config.toml` in the config dir, `CAIC_*` environment overrides, and
//! command-line flags over both. Every setting has a default, so no file is needed.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What went wrong reading the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file exists but is not valid (syntax, unknown key, wrong type).
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong and where (line, column).
        message: String,
    },
    /// An environment variable has a bad value.
    #[error("environment variable {name}: {message}")]
    Env {
        /// The variable.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// The config dir could not be created or read.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// Container settings.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ContainerConfig {
    /// `auto` (default), `docker` or `podman`.
    pub runtime: Option<String>,
    /// Engine socket path, overriding detection.
    pub socket: Option<String>,
    /// Image the caic base image is built FROM (default `debian:bookworm-slim`).
    pub base_image: Option<String>,
    /// CPU limit per container (cores).
    pub cpus: Option<f64>,
    /// Memory limit per container, bytes.
    pub memory_bytes: Option<i64>,
    /// Give the container user sudo with a per-container random password.
    pub sudo: bool,
}

/// Per-harness settings.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HarnessConfig {
    /// Environment passed to the agent at each session start, over SSH.
    pub env: BTreeMap<String, String>,
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Listen address: `localhost:2242` (default), `:PORT` (loopback), `0.0.0.0:PORT` (all).
    pub listen: String,
    /// Where git repos are discovered. Default: the current directory if it holds git
    /// repos, else `~/src`.
    pub repos_root: Option<PathBuf>,
    /// Where logs go (default: the platform cache dir + `/caic`).
    pub cache_dir: Option<PathBuf>,
    /// Container settings.
    pub container: ContainerConfig,
    /// Per-harness settings, keyed by harness name.
    pub harness: BTreeMap<String, HarnessConfig>,
    /// The config dir this was read from (not a file setting).
    #[serde(skip)]
    pub config_dir: PathBuf,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "localhost:2242".to_string(),
            repos_root: None,
            cache_dir: None,
            container: ContainerConfig::default(),
            harness: BTreeMap::new(),
            config_dir: PathBuf::new(),
        }
    }
}

/// The config dir: `$CAIC_CONFIG_DIR`, else `$XDG_CONFIG_HOME/caic` or the platform's.
pub fn default_config_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("CAIC_CONFIG_DIR") {
        return PathBuf::from(d);
    }
    dirs::config_dir()
        .unwrap_or_else(|| PathBuf::from(".config"))
        .join("caic")
}

/// The cache dir: `$XDG_CACHE_HOME/caic` or the platform's.
pub fn default_cache_dir() -> PathBuf {
    dirs::cache_dir()
        .unwrap_or_else(|| PathBuf::from(".cache"))
        .join("caic")
}

impl Config {
    /// Loads `config.toml` from `config_dir` (absent is fine), creating the dir 0700,
    /// then applies `CAIC_*` overrides from `env`.
    pub fn load(
        config_dir: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        create_private_dir(config_dir)?;
        let path = config_dir.join("config.toml");
        let mut cfg = match std::fs::read_to_string(&path) {
            Ok(text) => Config::parse(&path, &text)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Config::default(),
            Err(source) => return Err(ConfigError::Io { path, source }),
        };
        cfg.config_dir = config_dir.to_path_buf();
        cfg.apply_env(env)?;
        Ok(cfg)
    }

    /// Parses the text of a config file; errors name the file, line and column.
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        toml::from_str(text).map_err(|e| {
            let (line, col) = match e.span() {
                Some(span) => line_col(text, span.start),
                None => (0, 0),
            };
            ConfigError::Invalid {
                path: path.to_path_buf(),
                message: format!("line {line}, column {col}: {}", e.message()),
            }
        })
    }

    fn apply_env(
        &mut self,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(), ConfigError> {
        for (name, value) in env {
            let bad = |message: String| ConfigError::Env {
                name: name.clone(),
                message,
            };
            match name.as_str() {
                "CAIC_LISTEN" => self.listen = value,
                "CAIC_REPOS_ROOT" => self.repos_root = Some(PathBuf::from(value)),
                "CAIC_CACHE_DIR" => self.cache_dir = Some(PathBuf::from(value)),
                "CAIC_CONTAINER_RUNTIME" => self.container.runtime = Some(value),
                "CAIC_CONTAINER_SOCKET" => self.container.socket = Some(value),
                "CAIC_BASE_IMAGE" => self.container.base_image = Some(value),
                "CAIC_SUDO" => {
                    self.container.sudo = parse_bool(&value)
                        .ok_or_else(|| bad(format!("expected true or false, got {value:?}")))?
                }
                "CAIC_CPUS" => {
                    self.container.cpus = Some(
                        value
                            .parse()
                            .map_err(|_| bad(format!("expected a number, got {value:?}")))?,
                    )
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The repos root: configured, else the current directory if it holds git repos,
    /// else `~/src`.
    pub fn resolved_repos_root(&self) -> PathBuf {
        if let Some(r) = &self.repos_root {
            return expand_home(r);
        }
        if let Ok(cwd) = std::env::current_dir() {
            if holds_git_repos(&cwd) {
                return cwd;
            }
        }
        dirs::home_dir().unwrap_or_default().join("src")
    }

    /// The cache dir: configured or the platform default.
    pub fn resolved_cache_dir(&self) -> PathBuf {
        self.cache_dir
            .as_deref()
            .map(expand_home)
            .unwrap_or_else(default_cache_dir)
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" | "" => Some(false),
        _ => None,
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.len() - before.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
    (line, col)
}

fn expand_home(p: &Path) -> PathBuf {
    match p.strip_prefix("~") {
        Ok(rest) => dirs::home_dir().unwrap_or_default().join(rest),
        Err(_) => p.to_path_buf(),
    }
}

fn holds_git_repos(dir: &Path) -> bool {
    if dir.join(".git").exists() {
        return true;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries
        .flatten()
        .take(500)
        .any(|e| e.path().join(".git").exists())
}

/// Creates `dir` (and parents) with mode 0700 if missing.
pub fn create_private_dir(dir: &Path) -> Result<(), ConfigError> {
    let io = |source| ConfigError::Io {
        path: dir.to_path_buf(),
        source,
    };
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_file_gives_defaults_and_a_private_dir() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("caic");
        let cfg = Config::load(&dir, Vec::new()).unwrap();
        assert_eq!(cfg.listen, "localhost:2242");
        assert!(!cfg.container.sudo);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
        }
    }

    #[test]
    fn unknown_key_names_file_and_line() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(
            tmp.path().join("config.toml"),
            "listen = \":3000\"\n\n[container]\nsudoo = true\n",
        )
        .unwrap();
        let err = Config::load(tmp.path(), Vec::new())
            .unwrap_err()
            .to_string();
        assert!(err.contains("config.toml"), "{err}");
        assert!(err.contains("line 4"), "{err}");
        assert!(err.contains("sudoo"), "{err}");
    }

    #[test]
    fn malformed_file_is_an_error_with_line() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("config.toml"), "listen = \n").unwrap();
        let err = Config::load(tmp.path(), Vec::new())
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 1"), "{err}");
    }

    #[test]
    fn env_overrides_file() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(
            tmp.path().join("config.toml"),
            "listen = \":3000\"\n[harness.claude.env]\nANTHROPIC_BASE_URL = \"http://x\"\n",
        )
        .unwrap();
        let cfg = Config::load(
            tmp.path(),
            vec![
                ("CAIC_LISTEN".to_string(), ":4000".to_string()),
                ("CAIC_SUDO".to_string(), "true".to_string()),
            ],
        )
        .unwrap();
        assert_eq!(cfg.listen, ":4000");
        assert!(cfg.container.sudo);
        assert_eq!(cfg.harness["claude"].env["ANTHROPIC_BASE_URL"], "http://x");
        let err = Config::load(
            tmp.path(),
            vec![("CAIC_SUDO".to_string(), "maybe".to_string())],
        )
        .unwrap_err();
        assert!(err.to_string().contains("CAIC_SUDO"));
    }
}
