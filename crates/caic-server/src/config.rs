//! Configuration: `config.toml` in the config dir, `CAIC_*` environment overrides, and
//! command-line flags over both. Every setting has a default, so no file is needed.

use caic_auth::config::{AuthConfig, OAuthAppConfig};
use caic_auth::Secret;
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

/// Forges (`[forge]`): API roots, tokens, GitHub App, webhooks, CI following.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ForgeSection {
    /// GitHub's REST API root (default `https://api.github.com`). Env `CAIC_GITHUB_API`.
    pub github_api: Option<String>,
    /// GitLab's REST API root, overriding `https://<remote host>/api/v4`. Env
    /// `CAIC_GITLAB_API`.
    pub gitlab_api: Option<String>,
    /// A GitLab access token. Env `GITLAB_TOKEN`.
    pub gitlab_token: Option<Secret>,
    /// Host names of self-hosted GitLab instances.
    pub gitlab_hosts: Vec<String>,
    /// GitHub App id, used for API calls when no token is available.
    pub github_app_id: Option<String>,
    /// Path of the GitHub App's private key (PEM).
    pub github_app_key: Option<PathBuf>,
    /// The app's installation id on the repos' owner.
    pub github_app_installation: Option<u64>,
    /// Secret of the GitHub webhook; `/webhooks/github` is 404 without it (S11). Env
    /// `CAIC_GITHUB_WEBHOOK_SECRET`.
    pub github_webhook_secret: Option<Secret>,
    /// Secret token of the GitLab webhook; `/webhooks/gitlab` is 404 without it (S11).
    /// Env `CAIC_GITLAB_WEBHOOK_SECRET`.
    pub gitlab_webhook_secret: Option<Secret>,
    /// Seconds between CI polls of a pushed commit (webhooks cut it short). Env
    /// `CAIC_CI_POLL_SECS`.
    pub ci_poll_secs: u64,
    /// Send failing CI logs to the agent and push again when its turn ends.
    pub ci_autofix: bool,
    /// Squash-merge the pull request when CI passes (off by default). Env
    /// `CAIC_MERGE_ON_GREEN`.
    pub merge_on_green: bool,
    /// Harness of tasks started from an issue or a comment (webhooks).
    pub webhook_harness: String,
}

impl Default for ForgeSection {
    fn default() -> Self {
        ForgeSection {
            github_api: None,
            gitlab_api: None,
            gitlab_token: None,
            gitlab_hosts: Vec::new(),
            github_app_id: None,
            github_app_key: None,
            github_app_installation: None,
            github_webhook_secret: None,
            gitlab_webhook_secret: None,
            ci_poll_secs: 20,
            ci_autofix: true,
            merge_on_green: false,
            webhook_harness: "claude".into(),
        }
    }
}

/// Per-harness settings.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HarnessConfig {
    /// Environment passed to the agent at each session start, over SSH. Values are
    /// API keys and the like, so they are secrets: masked when printed.
    pub env: BTreeMap<String, Secret>,
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
    /// Login, sessions and exposure (`[auth]`): no OAuth app configured means no login.
    pub auth: AuthConfig,
    /// Forges: pull requests, CI, webhooks (`[forge]`).
    pub forge: ForgeSection,
    /// A GitHub token for API calls, from `GITHUB_TOKEN` or `GH_TOKEN` (not a file
    /// setting).
    #[serde(skip)]
    pub github_token: Option<Secret>,
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
            auth: AuthConfig::default(),
            forge: ForgeSection::default(),
            github_token: None,
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
                "CAIC_EXTERNAL_URL" => self.auth.external_url = non_empty(value),
                "CAIC_OAUTH_ALLOWED_USERS" => self.auth.oauth_allowed_users = list(&value),
                "CAIC_ALLOW_ORIGINS" => self.auth.allow_origins = Some(list(&value)),
                "CAIC_GEOIP_DB" => self.auth.geoip_db = non_empty(value).map(PathBuf::from),
                "CAIC_TRUSTED_PROXIES" => {
                    self.auth.trusted_proxies = list(&value)
                        .iter()
                        .map(|s| {
                            caic_auth::config::parse_net(s)
                                .ok_or_else(|| bad(format!("{s:?} is not a CIDR")))
                        })
                        .collect::<Result<_, _>>()?
                }
                "CAIC_GITHUB_OAUTH_CLIENT_ID" => app(&mut self.auth.github_oauth).client_id = value,
                "CAIC_GITHUB_OAUTH_CLIENT_SECRET" => {
                    app(&mut self.auth.github_oauth).client_secret = Secret::new(value)
                }
                "CAIC_GITLAB_OAUTH_CLIENT_ID" => app(&mut self.auth.gitlab_oauth).client_id = value,
                "CAIC_GITLAB_OAUTH_CLIENT_SECRET" => {
                    app(&mut self.auth.gitlab_oauth).client_secret = Secret::new(value)
                }
                "CAIC_GITLAB_OAUTH_URL" => app(&mut self.auth.gitlab_oauth).url = non_empty(value),
                "GITHUB_TOKEN" => {
                    if let Some(v) = non_empty(value) {
                        self.github_token = Some(Secret::new(v));
                    }
                }
                "GH_TOKEN" if self.github_token.is_none() => {
                    self.github_token = non_empty(value).map(Secret::new)
                }
                "CAIC_GITHUB_API" => self.forge.github_api = non_empty(value),
                "CAIC_GITLAB_API" => self.forge.gitlab_api = non_empty(value),
                "GITLAB_TOKEN" => {
                    if let Some(v) = non_empty(value) {
                        self.forge.gitlab_token = Some(Secret::new(v));
                    }
                }
                "CAIC_GITHUB_WEBHOOK_SECRET" => {
                    self.forge.github_webhook_secret = non_empty(value).map(Secret::new)
                }
                "CAIC_GITLAB_WEBHOOK_SECRET" => {
                    self.forge.gitlab_webhook_secret = non_empty(value).map(Secret::new)
                }
                "CAIC_CI_POLL_SECS" => {
                    self.forge.ci_poll_secs = value
                        .parse()
                        .map_err(|_| bad(format!("expected whole seconds, got {value:?}")))?
                }
                "CAIC_MERGE_ON_GREEN" => {
                    self.forge.merge_on_green = parse_bool(&value)
                        .ok_or_else(|| bad(format!("expected true or false, got {value:?}")))?
                }
                // Agent credentials from caic's own environment, for the harness that
                // reads them (a `[harness.<name>.env]` entry of the same name loses).
                "ANTHROPIC_API_KEY"
                | "CLAUDE_CODE_OAUTH_TOKEN"
                | "OPENAI_API_KEY"
                | "GEMINI_API_KEY" => {
                    if let Some(v) = non_empty(value) {
                        let harness = match name.as_str() {
                            "OPENAI_API_KEY" => "codex",
                            "GEMINI_API_KEY" => "gemini",
                            _ => "claude",
                        };
                        self.harness
                            .entry(harness.to_string())
                            .or_default()
                            .env
                            .insert(name.clone(), Secret::new(v));
                    }
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

fn non_empty(value: String) -> Option<String> {
    let v = value.trim();
    (!v.is_empty()).then(|| v.to_string())
}

/// A comma-separated list, entries trimmed, empty entries dropped.
fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// The OAuth app of a provider, created empty by the first env variable naming it
/// (the startup check then names whatever is still missing).
fn app(slot: &mut Option<OAuthAppConfig>) -> &mut OAuthAppConfig {
    slot.get_or_insert_with(OAuthAppConfig::default)
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
    fn auth_table_and_env_overrides() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(
            tmp.path().join("config.toml"),
            "[auth]\nexternal_url = \"https://caic.example.com\"\n\
             oauth_allowed_users = [\"alice\"]\ntrusted_proxies = [\"10.0.0.0/8\"]\n\
             [auth.github_oauth]\nclient_id = \"id\"\nclient_secret = \"file-secret-value\"\n",
        )
        .unwrap();
        let cfg = Config::load(tmp.path(), Vec::new()).unwrap();
        assert!(cfg.auth.oauth_enabled());
        assert_eq!(cfg.auth.trusted_proxies[0].to_string(), "10.0.0.0/8");
        assert!(!format!("{cfg:?}").contains("file-secret-value"));
        let env = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let cfg = Config::load(
            tmp.path(),
            env(&[
                ("CAIC_OAUTH_ALLOWED_USERS", "bob, gitlab:carol"),
                ("CAIC_TRUSTED_PROXIES", "127.0.0.1, ::1/128"),
                ("CAIC_ALLOW_ORIGINS", "local,FR"),
                ("CAIC_GITHUB_OAUTH_CLIENT_SECRET", "env-secret-value"),
                ("CAIC_GITLAB_OAUTH_CLIENT_ID", "glid"),
                ("CAIC_GITLAB_OAUTH_URL", "https://gl.example"),
                ("GH_TOKEN", "gh-token"),
                ("GITHUB_TOKEN", "github-token"),
            ]),
        )
        .unwrap();
        assert_eq!(cfg.auth.oauth_allowed_users, ["bob", "gitlab:carol"]);
        assert_eq!(cfg.auth.trusted_proxies.len(), 2);
        assert_eq!(
            cfg.auth.allow_origins.as_deref(),
            Some(&["local".to_string(), "FR".to_string()][..])
        );
        let gh = cfg.auth.github_oauth.as_ref().unwrap();
        assert_eq!(gh.client_id, "id");
        assert_eq!(gh.client_secret.expose(), "env-secret-value");
        let gl = cfg.auth.gitlab_oauth.as_ref().unwrap();
        assert_eq!(gl.url.as_deref(), Some("https://gl.example"));
        // GITHUB_TOKEN wins over GH_TOKEN whatever the order.
        assert_eq!(cfg.github_token.unwrap().expose(), "github-token");
        let err = Config::load(tmp.path(), env(&[("CAIC_TRUSTED_PROXIES", "nope")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("CAIC_TRUSTED_PROXIES"), "{err}");
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
        assert_eq!(
            cfg.harness["claude"].env["ANTHROPIC_BASE_URL"].expose(),
            "http://x"
        );
        let err = Config::load(
            tmp.path(),
            vec![("CAIC_SUDO".to_string(), "maybe".to_string())],
        )
        .unwrap_err();
        assert!(err.to_string().contains("CAIC_SUDO"));
    }
}

#[cfg(test)]
mod forge_and_agent_env_tests {
    use super::*;

    #[test]
    fn agent_keys_and_forge_settings_from_env() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(
            tmp.path().join("config.toml"),
            "[harness.gemini.env]\nGEMINI_API_KEY = \"from-file\"\n[forge]\nci_poll_secs = 5\n",
        )
        .unwrap();
        let env: Vec<(String, String)> = [
            ("ANTHROPIC_API_KEY", "sk-ant-from-env"),
            ("OPENAI_API_KEY", "sk-openai-from-env"),
            ("GEMINI_API_KEY", ""),
            ("GITLAB_TOKEN", "glpat-env"),
            ("CAIC_MERGE_ON_GREEN", "yes"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let cfg = Config::load(tmp.path(), env).unwrap();
        assert_eq!(
            cfg.harness["claude"].env["ANTHROPIC_API_KEY"].expose(),
            "sk-ant-from-env"
        );
        assert_eq!(
            cfg.harness["codex"].env["OPENAI_API_KEY"].expose(),
            "sk-openai-from-env"
        );
        // An empty variable does not wipe the file's value.
        assert_eq!(
            cfg.harness["gemini"].env["GEMINI_API_KEY"].expose(),
            "from-file"
        );
        assert_eq!(cfg.forge.gitlab_token.unwrap().expose(), "glpat-env");
        assert_eq!(cfg.forge.ci_poll_secs, 5);
        assert!(cfg.forge.merge_on_green);
        assert!(cfg.forge.ci_autofix);
        let bad = Config::load(
            tmp.path(),
            vec![("CAIC_CI_POLL_SECS".to_string(), "soon".to_string())],
        )
        .unwrap_err();
        assert!(bad.to_string().contains("CAIC_CI_POLL_SECS"), "{bad}");
    }
}
