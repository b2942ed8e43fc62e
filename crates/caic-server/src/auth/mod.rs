//! Login, sessions, exposure controls and task ownership, wired from `caic-auth` into
//! the server: the startup checks ([`Auth::init`]), the middleware stack
//! ([`middleware`]), the `/api/v1/auth/*` routes ([`routes`]) and the request's
//! [`caller::RequestCaller`], whose tasks the engine decides.

pub mod caller;
pub mod forge_tokens;
pub mod middleware;
pub mod owners;
pub mod routes;

use crate::config::Config;
use caic_auth::allowlist::{Allowlist, Origin};
use caic_auth::geo::GeoDb;
use caic_auth::github_meta::GitHubRanges;
use caic_auth::login::Login;
use caic_auth::users::UserStore;
use caic_auth::{Error, Secret};
use ipnet::IpNet;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

/// Where the GitHub hook ranges are cached between refreshes.
pub const GITHUB_META_CACHE: &str = "github_meta.json";

/// Everything the auth middleware and routes need, built once at startup.
#[derive(Debug)]
pub struct Auth {
    login: Option<Login>,
    trusted_proxies: Vec<IpNet>,
    allowlist: Option<Allowlist>,
    /// GitHub's hook ranges: the allowlist's `github` origin and the GitHub webhook's
    /// S12 check share this one list (and one refresh).
    github_ranges: GitHubRanges,
    /// Whether the allowlist has the `github` origin.
    allow_github: bool,
    allowed_host: Option<String>,
    legacy_owners: BTreeMap<String, String>,
    github_token: Option<Secret>,
}

/// Who the request comes from, as the outermost middleware found out.
#[derive(Debug, Clone, Copy)]
pub struct ClientInfo {
    /// The client: the socket peer, or from `X-Forwarded-For` of a trusted proxy.
    pub ip: IpAddr,
    /// The socket peer.
    pub peer: IpAddr,
    /// Whether the request came over HTTPS (via a trusted proxy's
    /// `X-Forwarded-Proto`; caic itself serves plain HTTP).
    pub https: bool,
}

/// The logged-in user of a request.
#[derive(Debug, Clone)]
pub struct CurrentUser(pub caic_auth::users::User);

impl Auth {
    /// No login, no allowlist, no host check: every route open (S7).
    pub fn off() -> Self {
        Auth {
            login: None,
            trusted_proxies: Vec::new(),
            allowlist: None,
            github_ranges: GitHubRanges::default(),
            allow_github: false,
            allowed_host: None,
            legacy_owners: BTreeMap::new(),
            github_token: None,
        }
    }

    /// The startup sequence: refuses unsafe settings (S5, S10) naming the setting,
    /// warns about config files more open than they should be (S14), loads or creates
    /// the session secret (S18), opens the users store, reads task owners an earlier
    /// caic recorded, builds the
    /// allowlist (S9), and, with no token and no OAuth, asks `gh auth token` once (S16).
    pub async fn init(cfg: &Config) -> Result<Auth, Error> {
        let a = &cfg.auth;
        caic_auth::config::validate_config(a)?;
        let dir = &cfg.config_dir;
        caic_auth::files::create_private_dir(dir)?;
        caic_auth::files::check_permissions(dir);
        let secret = caic_auth::settings::load_or_create_session_secret(dir)?;
        let login = if a.oauth_enabled() {
            let users = Arc::new(UserStore::open(dir)?);
            let login = Login::new(a, &secret, users)?;
            let names: Vec<&str> = login.providers().iter().map(|p| p.name()).collect();
            tracing::info!(providers = ?names, "login required");
            Some(login)
        } else {
            tracing::info!("no OAuth provider configured: no login, every route open");
            None
        };
        let github_ranges = GitHubRanges::with_cache(dir.join(GITHUB_META_CACHE));
        let allowlist = if a.allowlist_enabled() {
            let geo = a.geoip_db.as_deref().map(GeoDb::open).transpose()?;
            let list = Allowlist::new(&a.effective_allow_origins(), github_ranges.clone(), geo)?;
            Some(list)
        } else {
            None
        };
        let allow_github = allowlist
            .as_ref()
            .is_some_and(|l| l.origins().contains(&Origin::GitHub));
        let allowed_host =
            match &a.external_url {
                Some(u) => Some(url_host(u).ok_or_else(|| {
                    Error::Config(format!("external_url has no host name: {u:?}"))
                })?),
                None => None,
            };
        let github_token = caic_auth::gh_token::detect_github_token(
            cfg.github_token.as_ref(),
            a.oauth_enabled(),
            caic_auth::gh_token::DEFAULT_TIMEOUT,
        )
        .await;
        Ok(Auth {
            login,
            trusted_proxies: a.trusted_proxies.clone(),
            allowlist,
            github_ranges,
            allow_github,
            allowed_host,
            legacy_owners: owners::legacy_owners(dir)?,
            github_token,
        })
    }

    /// True when login is required (at least one OAuth provider configured).
    pub fn enabled(&self) -> bool {
        self.login.is_some()
    }

    /// The login flow, when auth is on.
    pub fn login(&self) -> Option<&Login> {
        self.login.as_ref()
    }

    /// Task owners an earlier caic recorded in `owners.json` (task id -> user id).
    pub fn legacy_owners(&self) -> &BTreeMap<String, String> {
        &self.legacy_owners
    }

    /// The client address of a request from socket peer `peer`: the `X-Forwarded-For`
    /// client when the peer is a trusted proxy, else the peer.
    pub fn client_ip(&self, peer: IpAddr, forwarded_for: Option<&str>) -> IpAddr {
        caic_auth::forwarded::client_ip(peer, forwarded_for, &self.trusted_proxies).to_canonical()
    }

    /// The GitHub token for API calls: configured (`GITHUB_TOKEN`/`GH_TOKEN`) or, with
    /// OAuth off, detected from `gh auth token` at startup (S16). In memory only.
    pub fn github_token(&self) -> Option<&Secret> {
        self.github_token.as_ref()
    }

    /// Starts refreshing users' expiring forge tokens (GitLab's last two hours) every
    /// five minutes, when login is on.
    pub fn spawn_token_refresh(self: &Arc<Self>) -> Option<tokio::task::JoinHandle<()>> {
        self.login.as_ref()?;
        let me = self.clone();
        Some(tokio::spawn(async move {
            loop {
                if let Some(login) = me.login() {
                    login
                        .refresh_expiring(std::time::Duration::from_secs(15 * 60))
                        .await;
                }
                tokio::time::sleep(std::time::Duration::from_secs(5 * 60)).await;
            }
        }))
    }

    /// GitHub's hook ranges (cached in the config dir), for the GitHub webhook too.
    pub fn github_ranges(&self) -> &GitHubRanges {
        &self.github_ranges
    }

    /// Starts refreshing GitHub's hook ranges from `{github_api}/meta` when
    /// `allow_origins` has `github` or `webhook` says the GitHub webhook needs them.
    pub fn spawn_refresh(
        &self,
        github_api: &str,
        webhook: bool,
    ) -> Option<tokio::task::JoinHandle<()>> {
        (self.allow_github || webhook).then(|| {
            self.github_ranges.spawn_refresh(
                github_api.to_string(),
                caic_auth::github_meta::DEFAULT_REFRESH,
            )
        })
    }
}

/// The lower-cased host name of a URL (no port, no brackets).
fn url_host(u: &str) -> Option<String> {
    let parsed = url::Url::parse(u).ok()?;
    let host = parsed.host_str()?;
    Some(
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase(),
    )
}
