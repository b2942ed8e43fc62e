//! Mock GitHub and GitLab OAuth servers for tests (this crate's, and other crates' with
//! feature `mock`), axum on 127.0.0.1:0, speaking the real endpoints and payload shapes:
//! authorize redirects, token exchange (GitHub: 200 with an `error` field on failure;
//! GitLab: 400 `invalid_grant`), token refresh (GitLab), and the user API.

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use parking_lot::Mutex;
use rand::Rng;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

/// Which forge the mock imitates.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Flavor {
    /// GitHub's OAuth endpoints.
    GitHub,
    /// GitLab's OAuth endpoints.
    GitLab,
}

#[derive(Default)]
struct Data {
    /// Who is logged in at the forge in "the browser": (id, login).
    current: (u64, String),
    /// code -> (user, redirect_uri); single use.
    codes: HashMap<String, ((u64, String), String)>,
    /// access token -> user.
    tokens: HashMap<String, (u64, String)>,
    /// GitLab refresh token -> user; single use (rotated on refresh).
    refresh: HashMap<String, (u64, String)>,
}

/// A running mock forge.
#[derive(Clone)]
pub struct MockForge {
    /// Which forge it imitates.
    pub flavor: Flavor,
    /// Its base URL.
    pub url: String,
    /// The OAuth app's client id.
    pub client_id: String,
    /// The OAuth app's client secret.
    pub client_secret: String,
    data: Arc<Mutex<Data>>,
}

impl MockForge {
    /// Starts a mock with a registered app.
    pub async fn start(flavor: Flavor) -> MockForge {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        let m = MockForge {
            flavor,
            url,
            client_id: "Iv1.mockclientid".to_string(),
            client_secret: format!("client-secret-{}", random(32)),
            data: Arc::default(),
        };
        let app = match flavor {
            Flavor::GitHub => Router::new()
                .route("/login/oauth/authorize", get(authorize))
                .route("/login/oauth/access_token", post(github_token))
                .route("/user", get(github_user)),
            Flavor::GitLab => Router::new()
                .route("/oauth/authorize", get(authorize))
                .route("/oauth/token", post(gitlab_token))
                .route("/api/v4/user", get(gitlab_user)),
        }
        .with_state(m.clone());
        tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
        m
    }

    /// Sets who is logged in at the forge.
    pub fn log_in_as(&self, id: u64, login: &str) {
        self.data.lock().current = (id, login.to_string());
    }

    /// Every access token handed out so far.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.data.lock().tokens.keys().cloned().collect()
    }
}

fn random(n: usize) -> String {
    rand::thread_rng()
        .sample_iter(&rand::distributions::Alphanumeric)
        .take(n)
        .map(char::from)
        .collect()
}

async fn authorize(
    State(m): State<MockForge>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if q.get("client_id") != Some(&m.client_id) {
        return (StatusCode::NOT_FOUND, "unknown client").into_response();
    }
    if m.flavor == Flavor::GitLab && q.get("response_type").map(String::as_str) != Some("code") {
        return (StatusCode::BAD_REQUEST, "unsupported_response_type").into_response();
    }
    let (Some(redirect), Some(state)) = (q.get("redirect_uri"), q.get("state")) else {
        return (StatusCode::BAD_REQUEST, "missing redirect_uri or state").into_response();
    };
    let code = random(20);
    let mut d = m.data.lock();
    let user = d.current.clone();
    d.codes.insert(code.clone(), (user, redirect.clone()));
    let sep = if redirect.contains('?') { '&' } else { '?' };
    let loc = format!(
        "{redirect}{sep}{}",
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("code", &code)
            .append_pair("state", state)
            .finish()
    );
    Redirect::to(&loc).into_response()
}

/// Checks the token request; Ok(user) or Err(error code).
fn check_grant(m: &MockForge, f: &HashMap<String, String>) -> Result<(u64, String), &'static str> {
    if f.get("client_id") != Some(&m.client_id) || f.get("client_secret") != Some(&m.client_secret)
    {
        return Err("incorrect_client_credentials");
    }
    let mut d = m.data.lock();
    let code = f.get("code").cloned().unwrap_or_default();
    let Some((user, redirect)) = d.codes.remove(&code) else {
        return Err("bad_verification_code");
    };
    if f.get("redirect_uri") != Some(&redirect) {
        return Err("redirect_uri_mismatch");
    }
    Ok(user)
}

async fn github_token(
    State(m): State<MockForge>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let json_wanted = headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    match check_grant(&m, &f) {
        Err(e) => {
            let body = json!({"error": e, "error_description": "mock refused", "error_uri": "/apps/troubleshooting"});
            (StatusCode::OK, Json(body)).into_response()
        }
        Ok(user) => {
            let token = format!("gho_{}", random(36));
            m.data.lock().tokens.insert(token.clone(), user);
            if !json_wanted {
                // GitHub's default is form encoding.
                return format!("access_token={token}&scope=read%3Auser&token_type=bearer")
                    .into_response();
            }
            Json(json!({"access_token": token, "token_type": "bearer", "scope": "read:user"}))
                .into_response()
        }
    }
}

async fn gitlab_token(
    State(m): State<MockForge>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if f.get("grant_type").map(String::as_str) == Some("refresh_token") {
        return gitlab_refresh(&m, &f);
    }
    if f.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "unsupported_grant_type"})),
        )
            .into_response();
    }
    match check_grant(&m, &f) {
        Err("incorrect_client_credentials") => (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client", "error_description": "Client authentication failed."})),
        )
            .into_response(),
        Err(_) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_grant", "error_description": "The provided authorization grant is invalid."})),
        )
            .into_response(),
        Ok(user) => gitlab_grant(&m, user),
    }
}

/// A new access token (2 h) and refresh token for `user`.
fn gitlab_grant(m: &MockForge, user: (u64, String)) -> Response {
    let token = random(64);
    let refresh = random(64);
    let mut d = m.data.lock();
    d.tokens.insert(token.clone(), user.clone());
    d.refresh.insert(refresh.clone(), user);
    Json(json!({
        "access_token": token, "token_type": "Bearer", "expires_in": 7200,
        "refresh_token": refresh, "scope": "read_user", "created_at": 1_700_000_000u64
    }))
    .into_response()
}

/// `grant_type=refresh_token`: the refresh token is used up; a new pair is issued.
fn gitlab_refresh(m: &MockForge, f: &HashMap<String, String>) -> Response {
    if f.get("client_id") != Some(&m.client_id) || f.get("client_secret") != Some(&m.client_secret)
    {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client", "error_description": "Client authentication failed."})),
        )
            .into_response();
    }
    let rt = f.get("refresh_token").cloned().unwrap_or_default();
    let user = m.data.lock().refresh.remove(&rt);
    match user {
        Some(user) => gitlab_grant(m, user),
        None => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_grant", "error_description": "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client."})),
        )
            .into_response(),
    }
}

fn bearer_user(m: &MockForge, headers: &HeaderMap) -> Option<(u64, String)> {
    let auth = headers.get("authorization")?.to_str().ok()?;
    let token = auth
        .strip_prefix("Bearer ")
        .or_else(|| auth.strip_prefix("token "))?;
    m.data.lock().tokens.get(token).cloned()
}

async fn github_user(State(m): State<MockForge>, headers: HeaderMap) -> Response {
    if headers.get("user-agent").is_none() {
        return (StatusCode::FORBIDDEN, "Request forbidden by administrative rules. Please make sure your request has a User-Agent header").into_response();
    }
    match bearer_user(&m, &headers) {
        None => (
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"})),
        )
            .into_response(),
        Some((id, login)) => Json(json!({
            "login": login, "id": id, "node_id": "MDQ6VXNlcjE=",
            "avatar_url": format!("https://avatars.githubusercontent.com/u/{id}?v=4"),
            "type": "User", "site_admin": false, "name": "Mock User"
        }))
        .into_response(),
    }
}

async fn gitlab_user(State(m): State<MockForge>, headers: HeaderMap) -> Response {
    match bearer_user(&m, &headers) {
        None => (StatusCode::UNAUTHORIZED, Json(json!({"message": "401 Unauthorized"}))).into_response(),
        Some((id, username)) => Json(json!({
            "id": id, "username": username, "name": "Mock User", "state": "active",
            "avatar_url": format!("https://gitlab.example/uploads/-/system/user/avatar/{id}/avatar.png"),
            "web_url": format!("https://gitlab.example/{username}")
        }))
        .into_response(),
    }
}
