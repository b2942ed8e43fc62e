//! OAuth 2.0 authorization-code login (S4), written against the providers' HTTP APIs:
//! the authorize URL, the code-for-token exchange and the profile fetch. Base URLs are
//! configurable (tests, GitHub Enterprise, self-hosted GitLab).

pub mod github;
pub mod gitlab;

use crate::config::OAuthAppConfig;
use crate::{Error, Secret};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A login provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// github.com or GitHub Enterprise.
    GitHub,
    /// gitlab.com or a self-hosted GitLab.
    GitLab,
}

impl Provider {
    /// `github` or `gitlab`: used in URLs, user ids and the allowed-users list.
    pub fn name(self) -> &'static str {
        match self {
            Provider::GitHub => "github",
            Provider::GitLab => "gitlab",
        }
    }

    /// Parses `github` or `gitlab`.
    pub fn from_name(name: &str) -> Option<Provider> {
        match name {
            "github" => Some(Provider::GitHub),
            "gitlab" => Some(Provider::GitLab),
            _ => None,
        }
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Who logged in, as the provider says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// The provider.
    pub provider: Provider,
    /// The provider's stable numeric user id, as a string.
    pub id: String,
    /// The login name (may change at the provider; the id does not).
    pub username: String,
    /// Avatar image URL.
    pub avatar_url: Option<String>,
}

/// What the token endpoint granted.
#[derive(Debug, Clone)]
pub struct TokenGrant {
    /// The access token for the provider's API.
    pub access_token: Secret,
    /// GitLab's refresh token (GitHub OAuth apps give none).
    pub refresh_token: Option<Secret>,
    /// Lifetime of the access token in seconds, when the provider says.
    pub expires_in: Option<u64>,
}

/// An OAuth client for one provider.
#[derive(Debug, Clone)]
pub struct OAuthClient {
    provider: Provider,
    client_id: String,
    client_secret: Secret,
    web_url: String,
    api_url: String,
    scope: String,
    redirect_uri: String,
    http: reqwest::Client,
}

impl OAuthClient {
    /// A client for `provider` with the app's settings; `redirect_uri` is caic's
    /// callback URL (see [`crate::config::callback_url`]).
    pub fn new(
        provider: Provider,
        app: &OAuthAppConfig,
        redirect_uri: &str,
    ) -> Result<Self, Error> {
        let (web, api, scope) = match provider {
            Provider::GitHub => github::defaults(app),
            Provider::GitLab => gitlab::defaults(app),
        };
        let http = reqwest::Client::builder()
            .user_agent(concat!("caic/", env!("CARGO_PKG_VERSION")))
            .timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(Error::http)?;
        Ok(OAuthClient {
            provider,
            client_id: app.client_id.clone(),
            client_secret: app.client_secret.clone(),
            web_url: web.trim_end_matches('/').to_string(),
            api_url: api.trim_end_matches('/').to_string(),
            scope,
            redirect_uri: redirect_uri.to_string(),
            http,
        })
    }

    /// The provider.
    pub fn provider(&self) -> Provider {
        self.provider
    }

    /// Where to send the browser to log in, carrying `state`.
    pub fn authorize_url(&self, state: &str) -> String {
        let path = match self.provider {
            Provider::GitHub => github::AUTHORIZE_PATH,
            Provider::GitLab => gitlab::AUTHORIZE_PATH,
        };
        let mut url = format!("{}{path}?", self.web_url);
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("scope", &self.scope)
            .append_pair("state", state);
        if self.provider == Provider::GitLab {
            q.append_pair("response_type", "code");
        }
        url.push_str(&q.finish());
        url
    }

    /// Exchanges the callback's `code` for an access token.
    pub async fn exchange_code(&self, code: &str) -> Result<TokenGrant, Error> {
        let grant = match self.provider {
            Provider::GitHub => github::exchange_code(self, code).await?,
            Provider::GitLab => gitlab::exchange_code(self, code).await?,
        };
        tracing::debug!(provider = %self.provider, token = %grant.access_token, "code exchanged");
        Ok(grant)
    }

    /// A new access token from a refresh token. Only GitLab issues refresh tokens
    /// (GitHub OAuth app tokens do not expire).
    pub async fn refresh(&self, refresh_token: &Secret) -> Result<TokenGrant, Error> {
        match self.provider {
            Provider::GitHub => Err(self.fail("GitHub OAuth app tokens cannot be refreshed")),
            Provider::GitLab => gitlab::refresh(self, refresh_token).await,
        }
    }

    /// Fetches the profile of the token's owner.
    pub async fn fetch_profile(&self, token: &Secret) -> Result<Profile, Error> {
        match self.provider {
            Provider::GitHub => github::fetch_profile(self, token).await,
            Provider::GitLab => gitlab::fetch_profile(self, token).await,
        }
    }

    fn fail(&self, message: impl Into<String>) -> Error {
        Error::Provider {
            provider: self.provider.name(),
            message: message.into(),
        }
    }
}

/// The error body both providers send: `{"error": ..., "error_description": ...}`.
#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: Option<String>,
    error_description: Option<String>,
}

impl ErrorBody {
    fn describe(&self) -> Option<String> {
        let e = self.error.as_deref()?;
        Some(match &self.error_description {
            Some(d) => format!("{e}: {d}"),
            None => e.to_string(),
        })
    }
}

/// Reads a JSON response: a provider error becomes [`Error::Provider`] naming the
/// provider's error code and the HTTP status; a body we cannot parse is named by status.
async fn read_json<T: serde::de::DeserializeOwned>(
    client: &OAuthClient,
    what: &str,
    resp: reqwest::Response,
) -> Result<T, Error> {
    let status = resp.status();
    let body = resp.bytes().await.map_err(Error::http)?;
    if let Ok(err) = serde_json::from_slice::<ErrorBody>(&body) {
        if let Some(msg) = err.describe() {
            return Err(client.fail(format!("{what}: {msg}")));
        }
    }
    if !status.is_success() {
        return Err(client.fail(format!("{what}: HTTP {status}")));
    }
    serde_json::from_slice(&body)
        .map_err(|e| client.fail(format!("{what}: unexpected response ({e})")))
}
