//! Mock forges for tests (this crate's, and other crates' with feature `mock`): a GitHub and a GitLab REST server on 127.0.0.1:0, speaking the
//! documented endpoints and payload shapes, recording what they receive.

use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use parking_lot::Mutex;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// One request as the mock saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// When it arrived.
    pub at: Instant,
    /// HTTP method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Its Authorization header.
    pub auth: Option<String>,
}

/// What the mock GitHub holds; tests read and change it between calls.
#[derive(Default)]
pub struct GhState {
    /// The mock's own URL.
    pub base: String,
    /// The token repo endpoints accept (`Bearer <token>`).
    pub token: String,
    /// Pull requests, as the REST API returns them.
    pub pulls: Vec<Value>,
    /// Check runs per commit.
    pub check_runs: HashMap<String, Vec<Value>>,
    /// Actions job logs per job id.
    pub logs: HashMap<u64, String>,
    /// The Authorization header seen by each pre-signed log download.
    pub presigned_auth: Vec<Option<String>>,
    /// Every request, in order.
    pub requests: Vec<Seen>,
    /// The next this-many API requests get `429` with `Retry-After: 1`.
    pub rate_limit_next: u32,
    /// The `Retry-After` of those answers (default 1 s).
    pub retry_after: Option<u64>,
    /// The GitHub App's id.
    pub app_id: String,
    /// The App's public key, to verify its JWTs.
    pub app_public_pem: String,
    /// Installation tokens handed out so far.
    pub tokens_issued: u32,
    /// The `hooks` ranges of the meta API.
    pub hooks: Vec<String>,
    /// The head commit of each branch, as a real GitHub would know it from pushes; a
    /// created pull's `head.sha` (zeros when unknown).
    pub heads: HashMap<String, String>,
    /// Comments posted: (issue or pull number, body).
    pub comments: Vec<(u64, String)>,
}

/// The mock GitHub's state, shared with the test.
pub type Gh = Arc<Mutex<GhState>>;

fn err(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({ "message": message, "documentation_url": "https://docs.github.com/rest" })),
    )
        .into_response()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Records every request, enforces GitHub's required headers and the planned rate limits.
async fn gh_front(State(s): State<Gh>, req: Request, next: Next) -> Response {
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let path = req.uri().path().to_string();
    let refusal = {
        let mut st = s.lock();
        st.requests.push(Seen {
            at: Instant::now(),
            method: req.method().to_string(),
            path: path.clone(),
            auth,
        });
        if path.starts_with("/presigned/") {
            None
        } else if req.headers().get("user-agent").is_none() {
            Some(err(
                StatusCode::FORBIDDEN,
                "Request forbidden by administrative rules.",
            ))
        } else if st.rate_limit_next > 0 {
            st.rate_limit_next -= 1;
            let mut resp = err(
                StatusCode::TOO_MANY_REQUESTS,
                "You have exceeded a secondary rate limit.",
            );
            let secs = st.retry_after.unwrap_or(1).to_string();
            resp.headers_mut()
                .insert("retry-after", secs.parse().unwrap());
            Some(resp)
        } else {
            None
        }
    };
    if let Some(resp) = refusal {
        return resp;
    }
    next.run(req).await
}

fn gh_authorized(s: &Gh, headers: &HeaderMap) -> bool {
    let want = format!("Bearer {}", s.lock().token);
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(want.as_str())
}

async fn gh_list_pulls(
    State(s): State<Gh>,
    Path((owner, _repo)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if !gh_authorized(&s, &headers) {
        return err(StatusCode::UNAUTHORIZED, "Bad credentials");
    }
    let st = s.lock();
    let state = q.get("state").map_or("open", String::as_str);
    let found: Vec<Value> = st
        .pulls
        .iter()
        .filter(|p| state == "all" || p["state"] == state)
        .filter(|p| match q.get("head") {
            Some(h) => h
                .split_once(':')
                .is_some_and(|(o, b)| o == owner && p["head"]["ref"] == b),
            None => true,
        })
        .cloned()
        .collect();
    Json(found).into_response()
}

async fn gh_create_pull(
    State(s): State<Gh>,
    Path((owner, repo)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if !gh_authorized(&s, &headers) {
        return err(StatusCode::UNAUTHORIZED, "Bad credentials");
    }
    let (Some(title), Some(head), Some(base)) = (
        body["title"].as_str(),
        body["head"].as_str(),
        body["base"].as_str(),
    ) else {
        return err(StatusCode::UNPROCESSABLE_ENTITY, "Validation Failed");
    };
    let mut st = s.lock();
    if st
        .pulls
        .iter()
        .any(|p| p["head"]["ref"] == head && p["state"] == "open")
    {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({
                "message": "Validation Failed",
                "errors": [{"resource": "PullRequest", "code": "custom",
                            "message": format!("A pull request already exists for {owner}:{head}.")}],
            })),
        )
            .into_response();
    }
    let number = st.pulls.len() as u64 + 1;
    let pull = json!({
        "id": 1000 + number,
        "number": number,
        "state": "open",
        "title": title,
        "body": body["body"],
        "html_url": format!("https://github.com/{owner}/{repo}/pull/{number}"),
        "url": format!("{}/repos/{owner}/{repo}/pulls/{number}", st.base),
        "head": {"label": format!("{owner}:{head}"), "ref": head, "sha": st.heads.get(head).cloned().unwrap_or_else(|| "0".repeat(40))},
        "base": {"label": format!("{owner}:{base}"), "ref": base},
    });
    st.pulls.push(pull.clone());
    (StatusCode::CREATED, Json(pull)).into_response()
}

async fn gh_check_runs(
    State(s): State<Gh>,
    Path((_o, _r, sha)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    if !gh_authorized(&s, &headers) {
        return err(StatusCode::UNAUTHORIZED, "Bad credentials");
    }
    let runs = s.lock().check_runs.get(&sha).cloned().unwrap_or_default();
    Json(json!({ "total_count": runs.len(), "check_runs": runs })).into_response()
}

async fn gh_job_logs(
    State(s): State<Gh>,
    Path((_o, _r, job)): Path<(String, String, u64)>,
    headers: HeaderMap,
) -> Response {
    if !gh_authorized(&s, &headers) {
        return err(StatusCode::UNAUTHORIZED, "Bad credentials");
    }
    let st = s.lock();
    if !st.logs.contains_key(&job) {
        return err(StatusCode::NOT_FOUND, "Not Found");
    }
    let location = format!("{}/presigned/logs/{job}?X-Amz-Signature=deadbeef", st.base);
    (StatusCode::FOUND, [("location", location)]).into_response()
}

async fn gh_presigned(State(s): State<Gh>, Path(job): Path<u64>, headers: HeaderMap) -> Response {
    let mut st = s.lock();
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    st.presigned_auth.push(auth.clone());
    if auth.is_some() {
        // S3 refuses a second authentication mechanism.
        return (StatusCode::BAD_REQUEST, "Only one auth mechanism allowed").into_response();
    }
    match st.logs.get(&job) {
        Some(log) => log.clone().into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn gh_merge(
    State(s): State<Gh>,
    Path((_o, _r, number)): Path<(String, String, u64)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if !gh_authorized(&s, &headers) {
        return err(StatusCode::UNAUTHORIZED, "Bad credentials");
    }
    let mut st = s.lock();
    let heads = st.heads.clone();
    let Some(pull) = st.pulls.iter_mut().find(|p| p["number"] == number) else {
        return err(StatusCode::NOT_FOUND, "Not Found");
    };
    if let Some(sha) = pull["head"]["ref"].as_str().and_then(|r| heads.get(r)) {
        pull["head"]["sha"] = json!(sha);
    }
    if pull["state"] != "open" || body["merge_method"] != "squash" {
        return err(
            StatusCode::METHOD_NOT_ALLOWED,
            "Pull Request is not mergeable",
        );
    }
    if body["sha"] != pull["head"]["sha"] {
        return err(
            StatusCode::CONFLICT,
            "Head branch was modified. Review and try the merge again.",
        );
    }
    pull["state"] = json!("closed");
    pull["merged"] = json!(true);
    Json(json!({ "sha": "m".repeat(40), "merged": true, "message": "Pull Request successfully merged" }))
        .into_response()
}

async fn gh_comment(
    State(s): State<Gh>,
    Path((_o, _r, number)): Path<(String, String, u64)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if !gh_authorized(&s, &headers) {
        return err(StatusCode::UNAUTHORIZED, "Bad credentials");
    }
    let Some(text) = body["body"].as_str() else {
        return err(StatusCode::UNPROCESSABLE_ENTITY, "Validation Failed");
    };
    let mut st = s.lock();
    st.comments.push((number, text.to_string()));
    let id = st.comments.len() as u64;
    (
        StatusCode::CREATED,
        Json(json!({ "id": id, "body": text, "html_url": format!("https://github.com/o/r/issues/{number}#issuecomment-{id}") })),
    )
        .into_response()
}

async fn gh_access_token(
    State(s): State<Gh>,
    Path(installation): Path<u64>,
    headers: HeaderMap,
) -> Response {
    let mut st = s.lock();
    let Some(jwt) = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return err(
            StatusCode::UNAUTHORIZED,
            "A JSON web token could not be decoded",
        );
    };
    let Ok(key) = jsonwebtoken::DecodingKey::from_rsa_pem(st.app_public_pem.as_bytes()) else {
        return err(StatusCode::INTERNAL_SERVER_ERROR, "mock has no app key");
    };
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_issuer(&[st.app_id.as_str()]);
    validation.set_required_spec_claims(&["exp", "iat", "iss"]);
    let claims = match jsonwebtoken::decode::<Value>(jwt, &key, &validation) {
        Ok(data) => data.claims,
        Err(_) => {
            return err(
                StatusCode::UNAUTHORIZED,
                "A JSON web token could not be decoded",
            )
        }
    };
    let (iat, exp) = (
        claims["iat"].as_u64().unwrap(),
        claims["exp"].as_u64().unwrap(),
    );
    let now = unix_now();
    if iat > now || exp > now + 600 {
        return err(
            StatusCode::UNAUTHORIZED,
            "'Expiration time' claim ('exp') is too far in the future",
        );
    }
    st.tokens_issued += 1;
    let expires = now + 3600;
    // RFC 3339 UTC, as GitHub writes it.
    let out = std::process::Command::new("date")
        .args(["-u", "-d", &format!("@{expires}"), "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .unwrap();
    let expires_at = String::from_utf8(out.stdout).unwrap().trim().to_string();
    (
        StatusCode::CREATED,
        Json(json!({
            "token": format!("ghs_installation{installation}token{:04}", st.tokens_issued),
            "expires_at": expires_at,
            "permissions": {"contents": "write", "pull_requests": "write", "checks": "read"},
            "repository_selection": "all",
        })),
    )
        .into_response()
}

async fn gh_meta(State(s): State<Gh>) -> Response {
    let hooks = s.lock().hooks.clone();
    Json(json!({ "verifiable_password_authentication": false, "hooks": hooks, "web": [] }))
        .into_response()
}

/// Starts the mock GitHub; returns its base URL and state.
pub async fn github(token: &str) -> (String, Gh) {
    let state: Gh = Arc::new(Mutex::new(GhState {
        token: token.to_string(),
        ..GhState::default()
    }));
    let router = Router::new()
        .route(
            "/repos/{owner}/{repo}/pulls",
            get(gh_list_pulls).post(gh_create_pull),
        )
        .route("/repos/{owner}/{repo}/pulls/{number}/merge", put(gh_merge))
        .route(
            "/repos/{owner}/{repo}/issues/{number}/comments",
            post(gh_comment),
        )
        .route(
            "/repos/{owner}/{repo}/commits/{sha}/check-runs",
            get(gh_check_runs),
        )
        .route(
            "/repos/{owner}/{repo}/actions/jobs/{job}/logs",
            get(gh_job_logs),
        )
        .route("/presigned/logs/{job}", get(gh_presigned))
        .route(
            "/app/installations/{id}/access_tokens",
            post(gh_access_token),
        )
        .route("/meta", get(gh_meta))
        .layer(middleware::from_fn_with_state(state.clone(), gh_front))
        .with_state(state.clone());
    let base = serve(router).await;
    state.lock().base = base.clone();
    (base, state)
}

/// What the mock GitLab holds.
#[derive(Default)]
pub struct GlState {
    /// The mock's own URL.
    pub base: String,
    /// The project path the mock serves (`grp/sub/proj`).
    pub project: String,
    /// The token the API accepts (`PRIVATE-TOKEN` or Bearer).
    pub token: String,
    /// Merge requests, as the REST API returns them.
    pub mrs: Vec<Value>,
    /// Commit statuses per sha.
    pub statuses: HashMap<String, Vec<Value>>,
    /// Pipelines per sha.
    pub pipelines: HashMap<String, Vec<Value>>,
    /// Job traces per job id.
    pub traces: HashMap<u64, String>,
    /// Notes posted on issues: (issue iid, body).
    pub notes: Vec<(u64, String)>,
    /// Merge requests merged: (iid, sha asked for).
    pub merged: Vec<(u64, String)>,
}

/// The mock GitLab's state, shared with the test.
pub type Gl = Arc<Mutex<GlState>>;

fn gl_err(status: StatusCode, message: Value) -> Response {
    (status, Json(json!({ "message": message }))).into_response()
}

/// GitLab takes `PRIVATE-TOKEN` or `Authorization: Bearer`, and the project as its
/// URL-encoded path.
fn gl_check(s: &Gl, headers: &HeaderMap, project: &str) -> Option<Response> {
    let st = s.lock();
    let bearer = format!("Bearer {}", st.token);
    let ok = headers.get("private-token").and_then(|v| v.to_str().ok()) == Some(st.token.as_str())
        || headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(bearer.as_str());
    if !ok {
        return Some(gl_err(StatusCode::UNAUTHORIZED, json!("401 Unauthorized")));
    }
    (project != st.project).then(|| gl_err(StatusCode::NOT_FOUND, json!("404 Project Not Found")))
}

async fn gl_list_mrs(
    State(s): State<Gl>,
    Path(project): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = gl_check(&s, &headers, &project) {
        return r;
    }
    let st = s.lock();
    let found: Vec<Value> = st
        .mrs
        .iter()
        .filter(|m| {
            q.get("state")
                .is_none_or(|state| m["state"] == state.as_str())
        })
        .filter(|m| {
            q.get("source_branch")
                .is_none_or(|b| m["source_branch"] == b.as_str())
        })
        .cloned()
        .collect();
    Json(found).into_response()
}

async fn gl_create_mr(
    State(s): State<Gl>,
    Path(project): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(r) = gl_check(&s, &headers, &project) {
        return r;
    }
    let (Some(source), Some(target), Some(title)) = (
        body["source_branch"].as_str(),
        body["target_branch"].as_str(),
        body["title"].as_str(),
    ) else {
        return gl_err(
            StatusCode::BAD_REQUEST,
            json!("400 Bad request - source_branch is missing"),
        );
    };
    let mut st = s.lock();
    if let Some(m) = st
        .mrs
        .iter()
        .find(|m| m["source_branch"] == source && m["state"] == "opened")
    {
        return gl_err(
            StatusCode::CONFLICT,
            json!([format!(
                "Another open merge request already exists for this source branch: !{}",
                m["iid"]
            )]),
        );
    }
    let iid = st.mrs.len() as u64 + 1;
    let mr = json!({
        "id": 5000 + iid,
        "iid": iid,
        "project_id": 42,
        "title": title,
        "description": body["description"],
        "state": "opened",
        "source_branch": source,
        "target_branch": target,
        "web_url": format!("https://gitlab.example.com/{}/-/merge_requests/{iid}", st.project),
    });
    st.mrs.push(mr.clone());
    (StatusCode::CREATED, Json(mr)).into_response()
}

async fn gl_statuses(
    State(s): State<Gl>,
    Path((project, sha)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = gl_check(&s, &headers, &project) {
        return r;
    }
    Json(s.lock().statuses.get(&sha).cloned().unwrap_or_default()).into_response()
}

async fn gl_pipelines(
    State(s): State<Gl>,
    Path(project): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = gl_check(&s, &headers, &project) {
        return r;
    }
    let sha = q.get("sha").cloned().unwrap_or_default();
    Json(s.lock().pipelines.get(&sha).cloned().unwrap_or_default()).into_response()
}

async fn gl_trace(
    State(s): State<Gl>,
    Path((project, job)): Path<(String, u64)>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = gl_check(&s, &headers, &project) {
        return r;
    }
    match s.lock().traces.get(&job) {
        Some(t) => ([("content-type", "text/plain")], t.clone()).into_response(),
        None => gl_err(StatusCode::NOT_FOUND, json!("404 Not found")),
    }
}

async fn gl_merge(
    State(s): State<Gl>,
    Path((project, iid)): Path<(String, u64)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(r) = gl_check(&s, &headers, &project) {
        return r;
    }
    let mut st = s.lock();
    let Some(mr) = st.mrs.iter_mut().find(|m| m["iid"] == iid) else {
        return gl_err(StatusCode::NOT_FOUND, json!("404 Not found"));
    };
    if mr["state"] != "opened" {
        return gl_err(
            StatusCode::METHOD_NOT_ALLOWED,
            json!("405 Method Not Allowed"),
        );
    }
    mr["state"] = json!("merged");
    mr["merge_commit_sha"] = json!("m".repeat(40));
    let out = mr.clone();
    let sha = body["sha"].as_str().unwrap_or_default().to_string();
    st.merged.push((iid, sha));
    Json(out).into_response()
}

async fn gl_note(
    State(s): State<Gl>,
    Path((project, iid)): Path<(String, u64)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(r) = gl_check(&s, &headers, &project) {
        return r;
    }
    let Some(text) = body["body"].as_str() else {
        return gl_err(StatusCode::BAD_REQUEST, json!({"body": ["can't be blank"]}));
    };
    let mut st = s.lock();
    st.notes.push((iid, text.to_string()));
    let id = st.notes.len() as u64;
    (
        StatusCode::CREATED,
        Json(json!({ "id": id, "body": text, "noteable_iid": iid })),
    )
        .into_response()
}

/// Starts the mock GitLab serving `project`; returns its API base (`…/api/v4`) and state.
pub async fn gitlab(project: &str, token: &str) -> (String, Gl) {
    let state: Gl = Arc::new(Mutex::new(GlState {
        project: project.to_string(),
        token: token.to_string(),
        ..GlState::default()
    }));
    let router = Router::new()
        .route(
            "/api/v4/projects/{id}/merge_requests",
            get(gl_list_mrs).post(gl_create_mr),
        )
        .route(
            "/api/v4/projects/{id}/repository/commits/{sha}/statuses",
            get(gl_statuses),
        )
        .route("/api/v4/projects/{id}/pipelines", get(gl_pipelines))
        .route(
            "/api/v4/projects/{id}/merge_requests/{iid}/merge",
            put(gl_merge),
        )
        .route("/api/v4/projects/{id}/issues/{iid}/notes", post(gl_note))
        .route("/api/v4/projects/{id}/jobs/{job}/trace", get(gl_trace))
        .with_state(state.clone());
    let base = format!("{}/api/v4", serve(router).await);
    state.lock().base = base.clone();
    (base, state)
}

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    format!("http://{addr}")
}
