//! Auth settings, as the server reads them from `config.toml`, and the startup checks
//! that refuse unsafe combinations (S5, S10).

use crate::allowlist::Origin;
use crate::oauth::Provider;
use crate::{Error, Secret};
use ipnet::IpNet;
use serde::{Deserialize, Deserializer};
use std::path::PathBuf;

/// The default `allow_origins`.
pub const DEFAULT_ALLOW_ORIGINS: &[&str] = &["local", "tailscale", "github"];

/// One OAuth app (GitHub or GitLab).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthAppConfig {
    /// The app's client id.
    pub client_id: String,
    /// The app's client secret.
    pub client_secret: Secret,
    /// Web base URL (GitHub: `https://github.com`; GitLab: `https://gitlab.com` or the
    /// self-hosted instance).
    #[serde(default)]
    pub url: Option<String>,
    /// API base URL (GitHub: `https://api.github.com`; GitLab: `{url}/api/v4`).
    #[serde(default)]
    pub api_url: Option<String>,
    /// Scopes requested (GitHub `read:user`, GitLab `read_user` by default).
    #[serde(default)]
    pub scope: Option<String>,
}

/// The auth part of the configuration.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// The URL users reach caic at (`https://…`); required with OAuth (S10).
    pub external_url: Option<String>,
    /// Who may log in (case-insensitive; `name` or `github:name` / `gitlab:name`);
    /// required with OAuth (S5).
    pub oauth_allowed_users: Vec<String>,
    /// Proxies whose `X-Forwarded-For` / `X-Forwarded-Proto` are believed: CIDR blocks
    /// or bare addresses (a single-address block).
    #[serde(deserialize_with = "nets")]
    pub trusted_proxies: Vec<IpNet>,
    /// The IP allowlist; `None` means the default list.
    pub allow_origins: Option<Vec<String>>,
    /// A MaxMind-format country database, needed for country codes in `allow_origins`.
    pub geoip_db: Option<PathBuf>,
    /// GitHub OAuth app.
    pub github_oauth: Option<OAuthAppConfig>,
    /// GitLab OAuth app.
    pub gitlab_oauth: Option<OAuthAppConfig>,
    /// Session lifetime in seconds (default 7 days).
    pub session_lifetime_secs: Option<u64>,
}

impl AuthConfig {
    /// True when at least one OAuth provider is configured (auth is on, S7).
    pub fn oauth_enabled(&self) -> bool {
        self.github_oauth.is_some() || self.gitlab_oauth.is_some()
    }

    /// The configured providers with their apps.
    pub fn providers(&self) -> Vec<(Provider, &OAuthAppConfig)> {
        let mut v = Vec::new();
        if let Some(a) = &self.github_oauth {
            v.push((Provider::GitHub, a));
        }
        if let Some(a) = &self.gitlab_oauth {
            v.push((Provider::GitLab, a));
        }
        v
    }

    /// `allow_origins`, or the default list.
    pub fn effective_allow_origins(&self) -> Vec<String> {
        match &self.allow_origins {
            Some(v) => v.clone(),
            None => DEFAULT_ALLOW_ORIGINS
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }
    }

    /// True when requests must pass the IP allowlist: a GeoIP database or an explicit
    /// `allow_origins` is configured.
    pub fn allowlist_enabled(&self) -> bool {
        self.geoip_db.is_some() || self.allow_origins.is_some()
    }
}

/// caic's OAuth callback URL for `provider` under `external_url`.
pub fn callback_url(external_url: &str, provider: Provider) -> String {
    format!(
        "{}/api/v1/auth/{}/callback",
        external_url.trim_end_matches('/'),
        provider.name()
    )
}

/// Startup check: with OAuth configured, `oauth_allowed_users` must be set (S5),
/// `external_url` must be `https://` (S10), and each app needs a client id and secret;
/// every `allow_origins` entry must parse, and country codes need `geoip_db`. The error
/// names the setting that is wrong.
pub fn validate_config(cfg: &AuthConfig) -> Result<(), Error> {
    for (provider, app) in cfg.providers() {
        let section = format!("{}_oauth", provider.name());
        if app.client_id.trim().is_empty() {
            return Err(Error::Config(format!("{section}.client_id is empty")));
        }
        if app.client_secret.expose().trim().is_empty() {
            return Err(Error::Config(format!("{section}.client_secret is empty")));
        }
        for (key, value) in [("url", &app.url), ("api_url", &app.api_url)] {
            if let Some(v) = value {
                let ok = url::Url::parse(v)
                    .map(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
                    .unwrap_or(false);
                if !ok {
                    return Err(Error::Config(format!(
                        "{section}.{key} must be an http(s) URL, got {v:?}"
                    )));
                }
            }
        }
    }
    if cfg.oauth_enabled() {
        if cfg.oauth_allowed_users.iter().all(|u| u.trim().is_empty()) {
            return Err(Error::Config(
                "oauth_allowed_users must list who may log in when OAuth is configured".to_string(),
            ));
        }
        match &cfg.external_url {
            None => {
                return Err(Error::Config(
                    "external_url must be set (https://…) when OAuth is configured".to_string(),
                ))
            }
            Some(u) => {
                let ok = url::Url::parse(u)
                    .map(|p| p.scheme() == "https" && p.host().is_some())
                    .unwrap_or(false);
                if !ok {
                    return Err(Error::Config(format!(
                        "external_url must be an https:// URL when OAuth is configured, got {u:?}"
                    )));
                }
            }
        }
    }
    for entry in cfg.effective_allow_origins() {
        let origin: Origin = entry.parse()?;
        if matches!(origin, Origin::Country(_)) && cfg.geoip_db.is_none() {
            return Err(Error::Config(format!(
                "allow_origins has country code {entry:?} but geoip_db is not set"
            )));
        }
    }
    Ok(())
}

/// A CIDR block, or a bare IP address as a single-address block.
pub fn parse_net(s: &str) -> Option<IpNet> {
    let s = s.trim();
    s.parse()
        .ok()
        .or_else(|| s.parse::<std::net::IpAddr>().ok().map(IpNet::from))
}

fn nets<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<IpNet>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|s| {
            parse_net(s).ok_or_else(|| {
                serde::de::Error::custom(format!("{s:?} is not an IP address or CIDR block"))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> OAuthAppConfig {
        OAuthAppConfig {
            client_id: "id".into(),
            client_secret: Secret::new("a-client-secret-value"),
            ..Default::default()
        }
    }

    fn oauth() -> AuthConfig {
        AuthConfig {
            external_url: Some("https://caic.example.com".into()),
            oauth_allowed_users: vec!["alice".into()],
            github_oauth: Some(app()),
            ..Default::default()
        }
    }

    fn err(cfg: &AuthConfig) -> String {
        validate_config(cfg).unwrap_err().to_string()
    }

    #[test]
    fn s07_no_oauth_is_valid_and_off() {
        let cfg = AuthConfig::default();
        validate_config(&cfg).unwrap();
        assert!(!cfg.oauth_enabled());
        assert!(!cfg.allowlist_enabled());
        assert_eq!(
            cfg.effective_allow_origins(),
            ["local", "tailscale", "github"]
        );
        validate_config(&oauth()).unwrap();
    }

    #[test]
    fn s05_oauth_without_allowed_users_refused() {
        let mut cfg = oauth();
        cfg.oauth_allowed_users.clear();
        assert!(err(&cfg).contains("oauth_allowed_users"));
        cfg.oauth_allowed_users = vec![" ".into()];
        assert!(err(&cfg).contains("oauth_allowed_users"));
        let mut cfg = oauth();
        cfg.github_oauth = None;
        cfg.gitlab_oauth = Some(app());
        cfg.oauth_allowed_users.clear();
        assert!(err(&cfg).contains("oauth_allowed_users"));
    }

    #[test]
    fn s10_oauth_requires_https_external_url() {
        for bad in [
            "http://caic.example.com",
            "caic.example.com",
            "https://",
            "ftp://x",
        ] {
            let mut cfg = oauth();
            cfg.external_url = Some(bad.into());
            let e = err(&cfg);
            assert!(
                e.contains("external_url") && e.contains("https"),
                "{bad}: {e}"
            );
        }
        let mut cfg = oauth();
        cfg.external_url = None;
        assert!(err(&cfg).contains("external_url"));
        // Without OAuth, plain http is fine.
        let cfg = AuthConfig {
            external_url: Some("http://localhost:2242".into()),
            ..Default::default()
        };
        validate_config(&cfg).unwrap();
    }

    #[test]
    fn bad_app_settings_and_origins_named() {
        let mut cfg = oauth();
        cfg.github_oauth.as_mut().unwrap().client_id = String::new();
        assert!(err(&cfg).contains("github_oauth.client_id"));
        let mut cfg = oauth();
        cfg.gitlab_oauth = Some(OAuthAppConfig {
            url: Some("gitlab.internal".into()),
            ..app()
        });
        assert!(err(&cfg).contains("gitlab_oauth.url"));
        let mut cfg = oauth();
        cfg.allow_origins = Some(vec!["local".into(), "moon".into()]);
        assert!(err(&cfg).contains("moon"));
        cfg.allow_origins = Some(vec!["FR".into()]);
        assert!(err(&cfg).contains("geoip_db"));
    }

    #[test]
    fn s14_secret_in_config_error_is_never_shown() {
        let mut cfg = oauth();
        cfg.oauth_allowed_users.clear();
        let e = format!("{:?} {}", cfg, err(&cfg));
        assert!(!e.contains("a-client-secret-value"), "{e}");
    }

    #[test]
    fn parses_from_toml() {
        let cfg: AuthConfig = toml_like(
            r#"{"external_url":"https://x.example","oauth_allowed_users":["Alice"],
                "trusted_proxies":["127.0.0.1/32"],
                "gitlab_oauth":{"client_id":"i","client_secret":"s","url":"https://gl.example"}}"#,
        );
        assert_eq!(cfg.trusted_proxies[0].to_string(), "127.0.0.1/32");
        // The README's example: bare addresses are single-address blocks.
        let bare = toml_like(r#"{"trusted_proxies":["127.0.0.1", "::1", "10.0.0.0/8"]}"#);
        let shown: Vec<String> = bare.trusted_proxies.iter().map(|n| n.to_string()).collect();
        assert_eq!(shown, ["127.0.0.1/32", "::1/128", "10.0.0.0/8"]);
        let e = serde_json::from_str::<AuthConfig>(r#"{"trusted_proxies":["proxy.lan"]}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"proxy.lan\" is not an IP address"), "{e}");
        assert_eq!(
            cfg.gitlab_oauth.as_ref().unwrap().url.as_deref(),
            Some("https://gl.example")
        );
        assert_eq!(
            callback_url("https://x.example/", Provider::GitLab),
            "https://x.example/api/v1/auth/gitlab/callback"
        );
    }

    fn toml_like(json: &str) -> AuthConfig {
        serde_json::from_str(json).unwrap()
    }
}
