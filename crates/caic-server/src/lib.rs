//! caic's HTTP server: the REST + SSE API over the task engine. Start it with
//! [`Server::start`]; the CLI and the desktop app both do.

pub mod auth;
pub mod config;
pub mod error;
pub mod listen;
pub mod routes;
pub mod sse;
pub mod static_files;
pub mod webhooks;

use auth::middleware::OwnerState;
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
/// Host check, session, ownership; see [`auth::middleware`]).
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
        OwnerState {
            auth: auth.clone(),
            engine,
        },
        auth::middleware::owner_gate,
    ))
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
pub fn forge_config(cfg: &Config, github_token: Option<&caic_auth::Secret>) -> ForgeConfig {
    let f = &cfg.forge;
    let secret = |s: &caic_auth::Secret| caic_engine::ForgeSecret::new(s.expose());
    let github_app = match (
        &f.github_app_id,
        &f.github_app_key,
        f.github_app_installation,
    ) {
        (Some(id), Some(key), Some(installation_id)) => match std::fs::read_to_string(key) {
            Ok(pem) => Some(caic_engine::GitHubAppConfig {
                app_id: id.clone(),
                private_key_pem: caic_engine::ForgeSecret::new(pem),
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
        github_token: github_token.map(secret),
        github_app,
        gitlab_api: f.gitlab_api.clone(),
        gitlab_token: f.gitlab_token.as_ref().map(secret),
        gitlab_hosts: f.gitlab_hosts.clone(),
        ci_poll: std::time::Duration::from_secs(f.ci_poll_secs.max(1)),
        ci_autofix: f.ci_autofix,
        merge_on_green: f.merge_on_green,
    }
}

/// Builds the container base image for `cfg` if its inputs changed; returns its tag.
pub async fn build_image(
    cfg: &Config,
    progress: impl Fn(&str),
) -> Result<String, caic_runtime::Error> {
    let mut rc = caic_runtime::RuntimeConfig::new(&cfg.config_dir);
    if let Some(b) = &cfg.container.base_image {
        rc.base_image = b.clone();
    }
    if let Some(k) = &cfg.container.runtime {
        rc.kind = k.parse().map_err(|_| {
            caic_runtime::Error::EngineUnavailable(format!("unknown runtime {k:?}"))
        })?;
    }
    rc.socket = cfg.container.socket.clone();
    let rt = caic_runtime::Runtime::connect(rc).await?;
    rt.ensure_image(progress).await
}

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
        let addrs = listen::parse(&cfg.listen).map_err(ServerError::Listen)?;
        let auth = Arc::new(Auth::init(&cfg).await?);
        let mut ecfg = engine_config(&cfg);
        ecfg.forge = forge_config(&cfg, auth.github_token());
        let engine = Engine::start(ecfg).await?;
        let warm = engine.clone();
        tokio::spawn(async move {
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
            cfg.forge
                .github_webhook_secret
                .as_ref()
                .map(|s| caic_engine::ForgeSecret::new(s.expose())),
            cfg.forge
                .gitlab_webhook_secret
                .as_ref()
                .map(|s| caic_engine::ForgeSecret::new(s.expose())),
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
        if auth.enabled() {
            engine.set_user_tokens(Arc::new(auth::forge_tokens::OwnerTokens(auth.clone())));
        }
        // Credentials are in place: pick up CI watches a previous run left pending.
        let resume = engine.clone();
        tokio::spawn(async move {
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

    /// Stops accepting requests and waits for the listeners to end.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for r in [&self.refresh, &self.token_refresh].into_iter().flatten() {
            r.abort();
        }
        for t in self.tasks {
            let _ = t.await;
        }
    }

    /// Waits until the server stops.
    pub async fn wait(self) {
        for t in self.tasks {
            let _ = t.await;
        }
    }
}
