//! `/api/v1/auth/*` (login start and callback, who am I, logout) and
//! `/api/v1/server/config` (what the login page needs).

use super::middleware::request_cookie;
use super::{Auth, ClientInfo, CurrentUser};
use crate::error::HttpError;
use axum::extract::{Path, Query};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use caic_api::{ApiError, ErrorCode, ServerConfig, StatusResp, UserResp};
use caic_auth::cookie::{clear_cookie, session_cookie, set_cookie, SESSION_COOKIE};
use caic_auth::oauth::Provider;
use caic_auth::state::{DEFAULT_TTL, STATE_COOKIE};
use serde::Deserialize;
use std::sync::Arc;
use utoipa::IntoParams;

fn err(code: ErrorCode, message: impl Into<String>) -> Response {
    HttpError::new(code, message).into_response()
}

/// A 302 to `location` setting `cookies`.
fn redirect(location: &str, cookies: &[String]) -> Response {
    let mut resp = StatusCode::FOUND.into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(location) {
        h.insert(header::LOCATION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            h.append(header::SET_COOKIE, v);
        }
    }
    resp
}

fn provider_of(auth: &Auth, name: &str) -> Result<Provider, HttpError> {
    let login = auth
        .login()
        .ok_or_else(|| HttpError::not_found("login is not configured"))?;
    Provider::from_name(name)
        .filter(|p| login.providers().contains(p))
        .ok_or_else(|| HttpError::not_found(format!("{name} login is not configured")))
}

/// Starts a login: redirects to the provider with a fresh state, kept in a signed
/// cookie until the callback.
#[utoipa::path(get, path = "/api/v1/auth/{provider}/start", tag = "auth",
    params(("provider" = String, Path, description = "`github` or `gitlab`")),
    responses((status = 302, description = "to the provider's authorize page; sets the `caic_oauth_state` cookie"),
        (status = 404, body = ApiError)))]
pub async fn start(
    Extension(auth): Extension<Arc<Auth>>,
    Extension(client): Extension<ClientInfo>,
    Path(provider): Path<String>,
) -> Response {
    let p = match provider_of(&auth, &provider) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let Some(login) = auth.login() else {
        return err(ErrorCode::NotFound, "login is not configured");
    };
    match login.start(p) {
        Ok(s) => redirect(
            &s.redirect_url,
            &[set_cookie(
                STATE_COOKIE,
                &s.state_cookie,
                DEFAULT_TTL,
                client.https,
            )],
        ),
        Err(e) => HttpError::from(e).into_response(),
    }
}

/// Query of the OAuth callback.
#[derive(Debug, Deserialize, IntoParams)]
pub struct CallbackQuery {
    /// The authorization code.
    pub code: Option<String>,
    /// The state sent at start.
    pub state: Option<String>,
    /// The provider's error code, when the user declined or the app is misconfigured.
    pub error: Option<String>,
}

/// Finishes a login: checks the state, exchanges the code, checks the allowed users,
/// sets the `caic_session` cookie and redirects to the UI.
#[utoipa::path(get, path = "/api/v1/auth/{provider}/callback", tag = "auth",
    params(("provider" = String, Path, description = "`github` or `gitlab`"), CallbackQuery),
    responses((status = 302, description = "to `/`; sets the `caic_session` cookie"),
        (status = 400, body = ApiError, description = "state refused"),
        (status = 403, body = ApiError, description = "user not in oauth_allowed_users (a browser asking for HTML is redirected to `/?refused=<user>` instead)"),
        (status = 404, body = ApiError), (status = 503, body = ApiError, description = "the provider failed")))]
pub async fn callback(
    Extension(auth): Extension<Arc<Auth>>,
    Extension(client): Extension<ClientInfo>,
    Path(provider): Path<String>,
    Query(q): Query<CallbackQuery>,
    headers: HeaderMap,
) -> Response {
    let p = match provider_of(&auth, &provider) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let Some(login) = auth.login() else {
        return err(ErrorCode::NotFound, "login is not configured");
    };
    if let Some(e) = q.error.as_deref() {
        tracing::warn!(provider = %p, "login refused by the provider: {e}");
        return err(ErrorCode::Forbidden, format!("{p} refused the login: {e}"));
    }
    let (Some(code), Some(state)) = (q.code.as_deref(), q.state.as_deref()) else {
        return err(ErrorCode::BadRequest, "code and state are required");
    };
    let cookie = request_cookie(&headers, STATE_COOKIE);
    let clear_state = clear_cookie(STATE_COOKIE, client.https);
    match login.finish(p, code, state, cookie.as_deref()).await {
        Ok(done) => {
            let lifetime = login.sessions().lifetime();
            tracing::info!(ip = %client.ip, user = %done.user.username, "session issued");
            redirect(
                "/",
                &[
                    session_cookie(&done.session, lifetime, client.https),
                    clear_state,
                ],
            )
        }
        Err(caic_auth::Error::NotAllowed(user)) if wants_html(&headers) => {
            // A browser: back to the UI, which shows who was refused.
            tracing::warn!(ip = %client.ip, %user, "login refused: not in oauth_allowed_users");
            let to = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("refused", &user)
                .finish();
            redirect(&format!("/?{to}"), &[clear_state])
        }
        Err(e) => {
            tracing::warn!(ip = %client.ip, "login failed: {e}");
            let mut resp = HttpError::from(e).into_response();
            if let Ok(v) = HeaderValue::from_str(&clear_state) {
                resp.headers_mut().append(header::SET_COOKIE, v);
            }
            resp
        }
    }
}

/// Whether the client is a browser navigating (it asks for HTML first).
fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"))
}

/// Who is logged in; 404 when nobody is (or login is off).
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth",
    responses((status = 200, body = UserResp), (status = 404, body = ApiError)))]
pub async fn me(user: Option<Extension<CurrentUser>>) -> Response {
    match user {
        Some(Extension(CurrentUser(u))) => Json(UserResp {
            id: u.id,
            username: u.username,
            provider: u.provider.name().to_string(),
            avatar_url: u.avatar_url,
        })
        .into_response(),
        None => err(ErrorCode::NotFound, "not logged in"),
    }
}

/// Logs out: removes the session cookie.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    responses((status = 200, body = StatusResp)))]
pub async fn logout(Extension(client): Extension<ClientInfo>) -> Response {
    let mut resp = Json(StatusResp {
        status: "logged out".into(),
    })
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&clear_cookie(SESSION_COOKIE, client.https)) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

/// What the UI needs before login: whether login is required, and with which
/// providers (one button each).
#[utoipa::path(get, path = "/api/v1/server/config", tag = "server",
    responses((status = 200, body = ServerConfig)))]
pub async fn server_config(Extension(auth): Extension<Arc<Auth>>) -> Json<ServerConfig> {
    let providers = auth
        .login()
        .map(|l| l.providers().iter().map(|p| p.name().to_string()).collect())
        .unwrap_or_default();
    Json(ServerConfig {
        auth_enabled: auth.enabled(),
        auth_providers: providers,
    })
}
