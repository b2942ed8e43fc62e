//! GitLab's OAuth endpoints (gitlab.com or self-hosted): `GET /oauth/authorize`
//! (`response_type=code`), `POST /oauth/token` (`grant_type=authorization_code`), and
//! the REST API's `GET /api/v4/user`.

use super::{read_json, OAuthClient, Profile, Provider, TokenGrant};
use crate::config::OAuthAppConfig;
use crate::{Error, Secret};
use serde::Deserialize;

/// Path of the authorize page.
pub const AUTHORIZE_PATH: &str = "/oauth/authorize";
/// Path of the token endpoint.
pub const TOKEN_PATH: &str = "/oauth/token";
/// Default GitLab instance.
pub const DEFAULT_URL: &str = "https://gitlab.com";
/// Default scope: read the profile only.
pub const DEFAULT_SCOPE: &str = "read_user";

pub(super) fn defaults(app: &OAuthAppConfig) -> (String, String, String) {
    let web = app
        .url
        .clone()
        .unwrap_or_else(|| DEFAULT_URL.to_string())
        .trim_end_matches('/')
        .to_string();
    let api = app
        .api_url
        .clone()
        .unwrap_or_else(|| format!("{web}/api/v4"));
    let scope = app
        .scope
        .clone()
        .unwrap_or_else(|| DEFAULT_SCOPE.to_string());
    (web, api, scope)
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    refresh_token: Option<String>,
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct User {
    id: u64,
    username: String,
    avatar_url: Option<String>,
}

pub(super) async fn exchange_code(c: &OAuthClient, code: &str) -> Result<TokenGrant, Error> {
    let resp = c
        .http
        .post(format!("{}{TOKEN_PATH}", c.web_url))
        .header(reqwest::header::ACCEPT, "application/json")
        .form(&[
            ("client_id", c.client_id.as_str()),
            ("client_secret", c.client_secret.expose()),
            ("code", code),
            ("grant_type", "authorization_code"),
            ("redirect_uri", c.redirect_uri.as_str()),
        ])
        .send()
        .await
        .map_err(Error::http)?;
    let t: TokenResponse = read_json(c, "token exchange", resp).await?;
    Ok(TokenGrant {
        access_token: Secret::new(t.access_token),
        refresh_token: t.refresh_token.map(Secret::new),
        expires_in: t.expires_in,
    })
}

/// Trades a refresh token for a new access token (GitLab rotates the refresh token
/// too: the old one stops working).
pub(super) async fn refresh(c: &OAuthClient, refresh_token: &Secret) -> Result<TokenGrant, Error> {
    let resp = c
        .http
        .post(format!("{}{TOKEN_PATH}", c.web_url))
        .header(reqwest::header::ACCEPT, "application/json")
        .form(&[
            ("client_id", c.client_id.as_str()),
            ("client_secret", c.client_secret.expose()),
            ("refresh_token", refresh_token.expose()),
            ("grant_type", "refresh_token"),
            ("redirect_uri", c.redirect_uri.as_str()),
        ])
        .send()
        .await
        .map_err(Error::http)?;
    let t: TokenResponse = read_json(c, "token refresh", resp).await?;
    Ok(TokenGrant {
        access_token: Secret::new(t.access_token),
        refresh_token: t.refresh_token.map(Secret::new),
        expires_in: t.expires_in,
    })
}

pub(super) async fn fetch_profile(c: &OAuthClient, token: &Secret) -> Result<Profile, Error> {
    let resp = c
        .http
        .get(format!("{}/user", c.api_url))
        .bearer_auth(token.expose())
        .send()
        .await
        .map_err(Error::http)?;
    let u: User = read_json(c, "profile", resp).await?;
    Ok(Profile {
        provider: Provider::GitLab,
        id: u.id.to_string(),
        username: u.username,
        avatar_url: u.avatar_url,
    })
}
