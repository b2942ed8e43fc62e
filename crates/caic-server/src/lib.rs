//! caic's HTTP server: the REST + SSE API over the task engine. Start it with
//! [`Server::start`]; the CLI and the desktop app both do.

#![warn(missing_docs)]

pub mod auth;
pub mod config;
pub mod error;
pub mod listen;
pub mod routes;
pub mod sse;
pub mod static_files;
pub mod webhooks;

use auth::Auth;
use axum::Router;
use caic_engine::{Engine, EngineConfig, ForgeConfig};
use config::Config;
use routes::AppState;
use std::net::SocketAddr;
use std::sync::Arc;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use webhooks::Webhooks;

/// Who asks the engine to act (re-exported for embedders and tests).
pub use caic_engine::Caller;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// Bad listen address.
    #[error("{0}")]
    Listen(String),
    /// Unsafe or invalid auth settings (S5, S10), or an unreadable auth file.
    #[error(transparent)]
    Auth(#[from] caic_auth::Error),
    /// The engine could not start.
    #[error(transparent)]
    Engine(#[from] caic_engine::Error),
    /// Binding or serving failed.
    #[error("{addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
}

#[derive(OpenApi)]
#[openapi(info(
    title = "caic",
    description = "Coding agents in containers: create tasks, follow their events, steer them."
))]
struct ApiDoc;

/// The API router and its OpenAPI document, built from the same route list so they
/// cannot drift, behind the auth middleware (outer to inner: client IP and allowlist,
/// Host check, session; see [`auth::middleware`]). Task ownership is the engine's.
pub fn router(engine: Engine, auth: Arc<Auth>, hooks: Arc<Webhooks>) -> Router {
    let (api, doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(routes::tasks::list, routes::tasks::create))
        .routes(routes!(routes::tasks::get))
        .routes(routes!(routes::tasks::events))
        .routes(routes!(routes::tasks::input))
        .routes(routes!(routes::tasks::stop))
        .routes(routes!(routes::tasks::revive))
        .routes(routes!(routes::tasks::purge))
        .routes(routes!(routes::tasks::restart))
        .routes(routes!(routes::tasks::diff))
        .routes(routes!(routes::tasks::sync))
        .routes(routes!(routes::tasks::interrupt))
        .routes(routes!(routes::tasks::fix_ci))
        .routes(routes!(routes::server::list_repos))
        .routes(routes!(routes::server::list_branches))
        .routes(routes!(routes::server::list_harnesses))
        .routes(routes!(routes::server::task_list_events))
        .routes(routes!(auth::routes::server_config))
        .routes(routes!(auth::routes::start))
        .routes(routes!(auth::routes::callback))
        .routes(routes!(auth::routes::me))
        .routes(routes!(auth::routes::logout))
        .with_state(AppState {
            engine: engine.clone(),
        })
        .split_for_parts();
    let engine_for_hooks = engine.clone();
    let doc_json = doc.to_pretty_json().unwrap_or_default();
    api.route(
        "/api/v1/openapi.json",
        axum::routing::get(move || async move {
            (
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                doc_json,
            )
        }),
    )
    .fallback(static_files::fallback)
    .layer(axum::middleware::from_fn_with_state(
        auth.clone(),
        auth::middleware::session_gate,
    ))
    .layer(axum::middleware::from_fn_with_state(
        auth.clone(),
        auth::middleware::host_gate,
    ))
    .layer(axum::middleware::from_fn_with_state(
        auth.clone(),
        auth::middleware::client_gate,
    ))
    .layer(axum::Extension(auth.clone()))
    .merge(webhooks::router(engine_for_hooks, auth, hooks))
    .layer(axum::middleware::from_fn(error::envelope))
    .layer(tower_http::trace::TraceLayer::new_for_http())
    .layer(axum::middleware::from_fn(error::request_id))
}

/// The engine settings a config gives.
pub fn engine_config(cfg: &Config) -> EngineConfig {
    let mut harness_env = std::collections::BTreeMap::new();
    for (name, h) in &cfg.harness {
        harness_env.insert(
            name.clone(),
            h.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        );
    }
    EngineConfig {
        repos_root: cfg.resolved_repos_root(),
        config_dir: cfg.config_dir.clone(),
        cache_dir: cfg.resolved_cache_dir(),
        backend: caic_engine::BackendConfig {
            runtime: cfg.container.runtime.clone(),
            socket: cfg.container.socket.clone(),
            base_image: cfg.container.base_image.clone(),
            cpus: cfg.container.cpus,
            memory_bytes: cfg.container.memory_bytes,
            sudo: cfg.container.sudo,
        },
        harness_env,
        forge: forge_config(cfg, cfg.github_token.as_ref()),
    }
}

/// The engine's forge settings from `[forge]`, with `github_token` (configured or
/// detected) for GitHub calls.
pub fn forge_config(cfg: &Config, github_token: Option<&caic_engine::Secret>) -> ForgeConfig {
    let f = &cfg.forge;
    let github_app = match (
        &f.github_app_id,
        &f.github_app_key,
        f.github_app_installation,
    ) {
        (Some(id), Some(key), Some(installation_id)) => match read_app_key(key) {
            Ok(pem) => Some(caic_engine::GitHubAppConfig {
                app_id: id.clone(),
                private_key_pem: pem,
                installation_id,
            }),
            Err(e) => {
                tracing::error!(path = %key.display(), error = %e, "GitHub App key unreadable: app disabled");
                None
            }
        },
        (None, None, None) => None,
        _ => {
            tracing::error!("GitHub App needs github_app_id, github_app_key and github_app_installation: app disabled");
            None
        }
    };
    ForgeConfig {
        github_api: f.github_api.clone(),
        github_token: github_token.cloned(),
        github_app,
        gitlab_api: f.gitlab_api.clone(),
        gitlab_token: f.gitlab_token.clone(),
        gitlab_hosts: f.gitlab_hosts.clone(),
        ci_poll: std::time::Duration::from_secs(f.ci_poll_secs.max(1)),
        ci_autofix: f.ci_autofix,
        merge_on_green: f.merge_on_green,
    }
}

/// Reads the GitHub App's private key, after the same permission check as the other
/// secret files (S14): a key file more open than 0600 is named in a warning.
fn read_app_key(path: &std::path::Path) -> std::io::Result<caic_engine::Secret> {
    caic_auth::files::check_secret_file(path);
    std::fs::read_to_string(path).map(caic_engine::Secret::new)
}

/// Builds the container base image for `cfg` if its inputs changed; returns its tag.
pub async fn build_image(
    cfg: &Config,
    progress: impl Fn(&str) + Sync,
) -> Result<String, caic_engine::Error> {
    let ecfg = engine_config(cfg);
    caic_engine::build_image(&ecfg.backend, &cfg.config_dir, &progress).await
}

/// How long [`Server::stop`] may take at most.
pub const STOP_WITHIN: std::time::Duration = std::time::Duration::from_millis(1500);

/// A running server.
pub struct Server {
    /// The addresses it listens on.
    pub addrs: Vec<SocketAddr>,
    /// The engine behind it.
    pub engine: Engine,
    /// Login, exposure controls and task ownership.
    pub auth: Arc<Auth>,
    shutdown: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    refresh: Option<tokio::task::JoinHandle<()>>,
    token_refresh: Option<tokio::task::JoinHandle<()>>,
}

impl Server {
    /// Checks the auth settings (refusing unsafe ones, naming the setting), starts the
    /// engine and serves the API on the configured address.
    pub async fn start(cfg: Config) -> Result<Server, ServerError> {
        Server::start_on(cfg, None).await
    }

    /// Like [`Server::start`], with tasks on `runtime` instead of the container engine
    /// the config names (tests use an in-memory runtime).
    pub async fn start_with_runtime(
        cfg: Config,
        runtime: Arc<dyn caic_engine::Runtime>,
    ) -> Result<Server, ServerError> {
        Server::start_on(cfg, Some(runtime)).await
    }

    async fn start_on(
        cfg: Config,
        runtime: Option<Arc<dyn caic_engine::Runtime>>,
    ) -> Result<Server, ServerError> {
        let addrs = listen::parse(&cfg.listen).map_err(ServerError::Listen)?;
        let auth = Arc::new(Auth::init(&cfg).await?);
        let mut ecfg = engine_config(&cfg);
        // The token auth resolved (configured or `gh auth token`, S16).
        ecfg.forge.github_token = auth.github_token().cloned();
        let engine = match runtime {
            Some(rt) => Engine::start_with(ecfg, rt).await?,
            None => Engine::start(ecfg).await?,
        };
        let warm = engine.clone();
        engine.spawn(async move {
            if let Err(e) = warm.warm_image().await {
                tracing::error!(error = %e, "building the base image");
            }
        });
        let github_api = cfg
            .forge
            .github_api
            .clone()
            .unwrap_or_else(|| caic_forge::GITHUB_API.to_string());
        let hooks = Arc::new(Webhooks::new(
            cfg.forge.github_webhook_secret.clone(),
            cfg.forge.gitlab_webhook_secret.clone(),
            auth.github_ranges().clone(),
            cfg.forge.webhook_harness.clone(),
        ));
        let mut server = Server::serve_full(engine, auth.clone(), hooks.clone(), &addrs).await?;
        server.refresh = auth.spawn_refresh(&github_api, hooks.wants_github_ranges());
        server.token_refresh = auth.spawn_token_refresh();
        Ok(server)
    }

    /// Serves the API of an already started engine, without login (S7).
    pub async fn serve(engine: Engine, addrs: &[SocketAddr]) -> Result<Server, ServerError> {
        Server::serve_with(engine, Arc::new(Auth::off()), addrs).await
    }

    /// Serves the API of an already started engine with `auth`, without webhooks.
    pub async fn serve_with(
        engine: Engine,
        auth: Arc<Auth>,
        addrs: &[SocketAddr],
    ) -> Result<Server, ServerError> {
        Server::serve_full(engine, auth, Arc::new(Webhooks::off()), addrs).await
    }

    /// Serves the API of an already started engine with `auth` and `hooks`; the task
    /// owner's login token becomes the first forge credential of their tasks.
    pub async fn serve_full(
        engine: Engine,
        auth: Arc<Auth>,
        hooks: Arc<Webhooks>,
        addrs: &[SocketAddr],
    ) -> Result<Server, ServerError> {
        let imported = engine.import_owners(auth.legacy_owners());
        if imported > 0 {
            tracing::info!(tasks = imported, "task owners taken from owners.json");
        }
        if auth.enabled() {
            engine.set_user_tokens(Arc::new(auth::forge_tokens::OwnerTokens(auth.clone())));
        }
        // Credentials are in place: pick up CI watches a previous run left pending.
        let resume = engine.clone();
        engine.spawn(async move {
            resume.resume_ci_watches().await;
        });
        let app = router(engine.clone(), auth.clone(), hooks)
            .into_make_service_with_connect_info::<SocketAddr>();
        let (shutdown, rx) = tokio::sync::watch::channel(false);
        let mut bound = Vec::new();
        let mut tasks = Vec::new();
        for (i, addr) in addrs.iter().enumerate() {
            let listener = match tokio::net::TcpListener::bind(addr).await {
                Ok(l) => l,
                // `localhost` also tries ::1; a host without IPv6 is fine.
                Err(e) if i > 0 && addr.is_ipv6() => {
                    tracing::debug!(%addr, error = %e, "skipping IPv6 loopback");
                    continue;
                }
                Err(source) => {
                    return Err(ServerError::Bind {
                        addr: *addr,
                        source,
                    })
                }
            };
            let local = listener.local_addr().map_err(|source| ServerError::Bind {
                addr: *addr,
                source,
            })?;
            tracing::info!(addr = %local, "caic listening");
            bound.push(local);
            let app = app.clone();
            let mut rx = rx.clone();
            tasks.push(tokio::spawn(async move {
                let res = axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = rx.wait_for(|v| *v).await;
                    })
                    .await;
                if let Err(e) = res {
                    tracing::error!(error = %e, "server stopped");
                }
            }));
        }
        Ok(Server {
            addrs: bound,
            engine,
            auth,
            shutdown,
            tasks,
            refresh: None,
            token_refresh: None,
        })
    }

    /// Stops gracefully within [`STOP_WITHIN`]: stops accepting connections, stops the
    /// engine (every background job cancelled, event streams ended, agent sessions
    /// detached) and waits for the listeners to finish the requests in flight. Task
    /// containers keep running; the next start adopts them.
    pub async fn stop(self) {
        let deadline = tokio::time::Instant::now() + STOP_WITHIN;
        let _ = self.shutdown.send(true);
        for r in [&self.refresh, &self.token_refresh].into_iter().flatten() {
            r.abort();
        }
        self.engine.shutdown(STOP_WITHIN.mul_f32(0.75)).await;
        for mut t in self.tasks {
            if tokio::time::timeout_at(deadline, &mut t).await.is_err() {
                tracing::warn!("a listener did not finish in time: closing its connections");
                t.abort();
                let _ = t.await;
            }
        }
    }

    /// Waits until the server stops.
    pub async fn wait(self) {
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn s15_debug_of_config_and_engine_config_masks_every_key() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(
            tmp.path().join("config.toml"),
            "[harness.codex.env]\nOPENAI_API_KEY = \"sk-openai-from-file-0001\"\n",
        )
        .unwrap();
        let keys = [
            ("ANTHROPIC_API_KEY", "sk-ant-api03-from-env-0002"),
            ("CLAUDE_CODE_OAUTH_TOKEN", "sk-ant-oat01-from-env-0003"),
            ("GEMINI_API_KEY", "AIzaSy-gemini-from-env-0004"),
            ("GITHUB_TOKEN", "ghp_github-token-from-env-0005"),
            ("GITLAB_TOKEN", "glpat-gitlab-token-from-env-0006"),
        ];
        let cfg = Config::load(tmp.path(), env(&keys)).unwrap();
        let ecfg = engine_config(&cfg);
        let printed = [
            format!("{cfg:?}"),
            format!("{cfg:#?}"),
            format!("{ecfg:?}"),
            format!("{ecfg:#?}"),
        ];
        for out in &printed {
            for v in keys
                .iter()
                .map(|(_, v)| *v)
                .chain(["sk-openai-from-file-0001"])
            {
                assert!(!out.contains(v), "{v} printed in {out}");
            }
            // The keys are there, masked.
            assert!(out.contains("…0002") && out.contains("…0001"), "{out}");
        }
        // And the agent gets the real values.
        let claude = &ecfg.harness_env["claude"];
        assert!(claude
            .iter()
            .any(|(k, v)| k == "ANTHROPIC_API_KEY" && v.expose() == keys[0].1));
    }

    #[cfg(unix)]
    #[test]
    fn s14_github_app_key_file_is_checked_like_other_secret_files() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let key = tmp.path().join("app.pem");
        let pem = "-----BEGIN RSA PRIVATE KEY-----\nnot-a-real-key-but-secret\n";
        std::fs::write(&key, pem).unwrap();
        let mut cfg = Config::default();
        cfg.forge.github_app_id = Some("123".into());
        cfg.forge.github_app_key = Some(key.clone());
        cfg.forge.github_app_installation = Some(7);

        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut fc = None;
        let out = caic_auth::testutil::capture_logs(|| fc = Some(forge_config(&cfg, None)));
        assert!(out.contains("WARN"), "{out}");
        assert!(out.contains(&key.display().to_string()), "{out}");
        assert!(out.contains("644") && out.contains("chmod 600"), "{out}");
        // Still used (a warning, not a refusal), and never printed.
        let fc = fc.unwrap();
        let app = fc.github_app.as_ref().expect("app configured");
        assert_eq!(app.private_key_pem.expose(), pem);
        assert!(!format!("{fc:?}").contains("not-a-real-key"));
        assert!(!out.contains("not-a-real-key"), "{out}");

        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        let out = caic_auth::testutil::capture_logs(|| {
            forge_config(&cfg, None);
        });
        assert!(!out.contains("WARN"), "{out}");
    }
}
