//! GitHub's OAuth app endpoints: `GET /login/oauth/authorize`, `POST
//! /login/oauth/access_token` (with `Accept: application/json`; errors come back as
//! HTTP 200 with an `error` field), and the REST API's `GET /user`.

use super::{read_json, OAuthClient, Profile, Provider, TokenGrant};
use crate::config::OAuthAppConfig;
use crate::{Error, Secret};
use serde::Deserialize;

/// Path of the authorize page on the web host.
pub const AUTHORIZE_PATH: &str = "/login/oauth/authorize";
/// Path of the token endpoint on the web host.
pub const TOKEN_PATH: &str = "/login/oauth/access_token";
/// Default web host.
pub const DEFAULT_URL: &str = "https://github.com";
/// Default REST API host.
pub const DEFAULT_API_URL: &str = "https://api.github.com";
/// Default scope: read the profile only.
pub const DEFAULT_SCOPE: &str = "read:user";

pub(super) fn defaults(app: &OAuthAppConfig) -> (String, String, String) {
    (
        app.url.clone().unwrap_or_else(|| DEFAULT_URL.to_string()),
        app.api_url
            .clone()
            .unwrap_or_else(|| DEFAULT_API_URL.to_string()),
        app.scope
            .clone()
            .unwrap_or_else(|| DEFAULT_SCOPE.to_string()),
    )
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
}

#[derive(Deserialize)]
struct User {
    id: u64,
    login: String,
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
            ("redirect_uri", c.redirect_uri.as_str()),
        ])
        .send()
        .await
        .map_err(Error::http)?;
    let t: TokenResponse = read_json(c, "token exchange", resp).await?;
    Ok(TokenGrant {
        access_token: Secret::new(t.access_token),
        refresh_token: None,
        expires_in: None,
    })
}

pub(super) async fn fetch_profile(c: &OAuthClient, token: &Secret) -> Result<Profile, Error> {
    let resp = c
        .http
        .get(format!("{}/user", c.api_url))
        .bearer_auth(token.expose())
        .header(reqwest::header::ACCEPT, "application/vnd.github+json")
        .header("X-GitHub-Api-Version", "2022-11-28")
        .send()
        .await
        .map_err(Error::http)?;
    let u: User = read_json(c, "profile", resp).await?;
    Ok(Profile {
        provider: Provider::GitHub,
        id: u.id.to_string(),
        username: u.login,
        avatar_url: u.avatar_url,
    })
}
