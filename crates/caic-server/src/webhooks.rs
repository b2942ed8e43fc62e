//! `/webhooks/github` and `/webhooks/gitlab` (S11, S12): 404 without a secret; the
//! source address (GitHub's hook ranges) and the signature or token are checked on the
//! raw body before anything is parsed; bodies are size-limited; replayed deliveries are
//! ignored. What they act on: CI results for watched commits, pull requests opened for
//! `caic-N` branches, and issues labelled `caic` or comments mentioning `@caic`, which
//! start a task.

use crate::auth::Auth;
use axum::body::{to_bytes, Body};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use caic_engine::{Caller, Engine, ForgeKind, ForgeSecret};
use caic_forge::{HookRanges, ReplayGuard};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// The largest delivery accepted (GitHub caps payloads at 25 MB; the events caic acts
/// on are far smaller).
pub const MAX_BODY: usize = 2 * 1024 * 1024;

/// The label and the mention that start a task from an issue.
pub const LABEL: &str = "caic";
/// See [`LABEL`].
pub const MENTION: &str = "@caic";

/// Webhook settings and state.
pub struct Webhooks {
    github_secret: Option<ForgeSecret>,
    gitlab_secret: Option<ForgeSecret>,
    /// GitHub's hook ranges, fetched from its meta API; `None` until fetched.
    ranges: RwLock<Option<HookRanges>>,
    github_api: String,
    harness: String,
    replay: ReplayGuard,
}

impl Webhooks {
    /// No webhooks: both routes answer 404.
    pub fn off() -> Webhooks {
        Webhooks::new(None, None, caic_forge::GITHUB_API.into(), "claude".into())
    }

    /// Webhooks with these secrets; GitHub's ranges come from `github_api`'s `/meta`.
    pub fn new(
        github_secret: Option<ForgeSecret>,
        gitlab_secret: Option<ForgeSecret>,
        github_api: String,
        harness: String,
    ) -> Webhooks {
        Webhooks {
            github_secret: github_secret.filter(|s| !s.is_empty()),
            gitlab_secret: gitlab_secret.filter(|s| !s.is_empty()),
            ranges: RwLock::new(None),
            github_api,
            harness,
            replay: ReplayGuard::new(4096),
        }
    }

    /// Fetches GitHub's hook ranges now and then every hour (only when the GitHub hook
    /// is configured). Until the first fetch succeeds GitHub deliveries are refused.
    pub fn spawn_refresh(self: &Arc<Self>) -> Option<tokio::task::JoinHandle<()>> {
        self.github_secret.as_ref()?;
        let me = self.clone();
        Some(tokio::spawn(async move {
            let http = reqwest::Client::new();
            loop {
                let wait = match caic_forge::fetch_github_hook_ranges(&http, &me.github_api).await {
                    Ok(r) => {
                        tracing::info!(ranges = r.nets().len(), "GitHub hook ranges");
                        *me.ranges.write().unwrap() = Some(r);
                        Duration::from_secs(3600)
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "fetching GitHub hook ranges");
                        Duration::from_secs(30)
                    }
                };
                tokio::time::sleep(wait).await;
            }
        }))
    }
}

#[derive(Clone)]
struct HookState {
    engine: Engine,
    auth: Arc<Auth>,
    hooks: Arc<Webhooks>,
}

/// The webhook routes, outside the login middleware (deliveries carry no session).
pub fn router(engine: Engine, auth: Arc<Auth>, hooks: Arc<Webhooks>) -> Router {
    Router::new()
        .route("/webhooks/github", post(github))
        .route("/webhooks/gitlab", post(gitlab))
        .with_state(HookState {
            engine,
            auth,
            hooks,
        })
}

fn answer(status: StatusCode, text: &str) -> Response {
    (status, Json(json!({ "status": text }))).into_response()
}

fn refuse(status: StatusCode, code: &str, message: String) -> Response {
    (
        status,
        Json(json!({ "error": { "code": code, "message": message } })),
    )
        .into_response()
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

async fn read_body(body: Body) -> Result<axum::body::Bytes, Response> {
    to_bytes(body, MAX_BODY).await.map_err(|_| {
        refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            format!("webhook bodies are limited to {MAX_BODY} bytes"),
        )
    })
}

async fn github(
    State(s): State<HookState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(secret) = &s.hooks.github_secret else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let ip = s
        .auth
        .client_ip(peer.ip(), header(&headers, "x-forwarded-for"));
    let in_ranges = match &*s.hooks.ranges.read().unwrap() {
        Some(r) => r.check(ip),
        None => Err(caic_forge::Error::AddressNotAllowed(ip)),
    };
    if let Err(e) = in_ranges {
        tracing::warn!(%ip, "GitHub webhook refused: outside GitHub's hook ranges");
        return refuse(StatusCode::FORBIDDEN, "FORBIDDEN", e.to_string());
    }
    let body = match read_body(body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    if let Err(e) = caic_forge::verify_github_signature(
        secret,
        header(&headers, caic_forge::GITHUB_SIGNATURE_HEADER),
        &body,
    ) {
        tracing::warn!(%ip, error = %e, "GitHub webhook refused");
        return refuse(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", e.to_string());
    }
    if let Some(id) = header(&headers, caic_forge::GITHUB_DELIVERY_HEADER) {
        if s.hooks.replay.check(id).is_err() {
            return answer(StatusCode::OK, "duplicate");
        }
    }
    let Ok(payload) = serde_json::from_slice::<Value>(&body) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "the body is not JSON".into(),
        );
    };
    let event = header(&headers, "x-github-event").unwrap_or_default();
    on_github(&s, event, &payload).await
}

async fn on_github(s: &HookState, event: &str, p: &Value) -> Response {
    let repo = p["repository"]["full_name"].as_str().unwrap_or_default();
    match event {
        "ping" => answer(StatusCode::OK, "pong"),
        "check_run" | "check_suite" | "status" | "workflow_run" => {
            let sha = match event {
                "check_run" => p["check_run"]["head_sha"].as_str(),
                "check_suite" => p["check_suite"]["head_sha"].as_str(),
                "workflow_run" => p["workflow_run"]["head_sha"].as_str(),
                _ => p["sha"].as_str(),
            };
            let woke = sha.map(|sha| s.engine.ci_changed(sha)).unwrap_or(0);
            answer(StatusCode::OK, if woke > 0 { "ci" } else { "ignored" })
        }
        "pull_request" => {
            let action = p["action"].as_str().unwrap_or_default();
            let pr = &p["pull_request"];
            let (Some(branch), Some(number), Some(url)) = (
                pr["head"]["ref"].as_str(),
                pr["number"].as_u64(),
                pr["html_url"].as_str(),
            ) else {
                return answer(StatusCode::ACCEPTED, "ignored");
            };
            if !matches!(action, "opened" | "reopened") {
                return answer(StatusCode::ACCEPTED, "ignored");
            }
            match s
                .engine
                .link_pull(ForgeKind::GitHub, repo, branch, number, url)
            {
                Some(_) => answer(StatusCode::OK, "linked"),
                None => answer(StatusCode::ACCEPTED, "ignored"),
            }
        }
        "issues" => {
            let labelled = p["action"] == "labeled" && p["label"]["name"] == LABEL;
            if !labelled {
                return answer(StatusCode::ACCEPTED, "ignored");
            }
            let issue = &p["issue"];
            let prompt = issue_prompt(issue["title"].as_str(), issue["body"].as_str(), None);
            let sender = p["sender"]["id"].as_u64();
            start(
                s,
                ForgeKind::GitHub,
                repo,
                issue["number"].as_u64(),
                sender,
                prompt,
            )
            .await
        }
        "issue_comment" => {
            let c = &p["comment"];
            let text = c["body"].as_str().unwrap_or_default();
            let by_bot = c["user"]["type"] == "Bot";
            if p["action"] != "created" || by_bot || !mentions(text) {
                return answer(StatusCode::ACCEPTED, "ignored");
            }
            let issue = &p["issue"];
            let prompt = issue_prompt(issue["title"].as_str(), issue["body"].as_str(), Some(text));
            let sender = c["user"]["id"].as_u64().or(p["sender"]["id"].as_u64());
            start(
                s,
                ForgeKind::GitHub,
                repo,
                issue["number"].as_u64(),
                sender,
                prompt,
            )
            .await
        }
        _ => answer(StatusCode::ACCEPTED, "ignored"),
    }
}

async fn gitlab(State(s): State<HookState>, headers: HeaderMap, body: Body) -> Response {
    let Some(secret) = &s.hooks.gitlab_secret else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let body = match read_body(body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    if let Err(e) =
        caic_forge::verify_gitlab_token(secret, header(&headers, caic_forge::GITLAB_TOKEN_HEADER))
    {
        tracing::warn!(error = %e, "GitLab webhook refused");
        return refuse(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", e.to_string());
    }
    if let Some(id) = header(&headers, "x-gitlab-event-uuid") {
        if s.hooks.replay.check(id).is_err() {
            return answer(StatusCode::OK, "duplicate");
        }
    }
    let Ok(payload) = serde_json::from_slice::<Value>(&body) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "the body is not JSON".into(),
        );
    };
    let event = header(&headers, "x-gitlab-event").unwrap_or_default();
    on_gitlab(&s, event, &payload).await
}

async fn on_gitlab(s: &HookState, event: &str, p: &Value) -> Response {
    let project = p["project"]["path_with_namespace"]
        .as_str()
        .unwrap_or_default();
    let attrs = &p["object_attributes"];
    match event {
        "Pipeline Hook" | "Job Hook" => {
            let sha = attrs["sha"].as_str().or(p["sha"].as_str());
            let woke = sha.map(|sha| s.engine.ci_changed(sha)).unwrap_or(0);
            answer(StatusCode::OK, if woke > 0 { "ci" } else { "ignored" })
        }
        "Merge Request Hook" => {
            let (Some(branch), Some(iid), Some(url)) = (
                attrs["source_branch"].as_str(),
                attrs["iid"].as_u64(),
                attrs["url"].as_str(),
            ) else {
                return answer(StatusCode::ACCEPTED, "ignored");
            };
            if !matches!(attrs["action"].as_str(), Some("open" | "reopen")) {
                return answer(StatusCode::ACCEPTED, "ignored");
            }
            match s
                .engine
                .link_pull(ForgeKind::GitLab, project, branch, iid, url)
            {
                Some(_) => answer(StatusCode::OK, "linked"),
                None => answer(StatusCode::ACCEPTED, "ignored"),
            }
        }
        "Issue Hook" => {
            // Labelled `caic` by this change: present now, absent before.
            let has = |v: &Value| {
                v.as_array()
                    .is_some_and(|a| a.iter().any(|l| l["title"] == LABEL))
            };
            let now = has(&p["changes"]["labels"]["current"]) || has(&p["labels"]);
            let before = has(&p["changes"]["labels"]["previous"]);
            let opened_with = attrs["action"] == "open" && has(&p["labels"]);
            let added = p["changes"]["labels"].is_object() && now && !before;
            if !(opened_with || added) {
                return answer(StatusCode::ACCEPTED, "ignored");
            }
            let prompt = issue_prompt(attrs["title"].as_str(), attrs["description"].as_str(), None);
            let sender = p["user"]["id"].as_u64();
            start(
                s,
                ForgeKind::GitLab,
                project,
                attrs["iid"].as_u64(),
                sender,
                prompt,
            )
            .await
        }
        "Note Hook" => {
            let text = attrs["note"].as_str().unwrap_or_default();
            let bot = p["user"]["bot"] == true;
            if attrs["noteable_type"] != "Issue" || bot || !mentions(text) {
                return answer(StatusCode::ACCEPTED, "ignored");
            }
            let issue = &p["issue"];
            let prompt = issue_prompt(
                issue["title"].as_str(),
                issue["description"].as_str(),
                Some(text),
            );
            let sender = p["user"]["id"].as_u64();
            start(
                s,
                ForgeKind::GitLab,
                project,
                issue["iid"].as_u64(),
                sender,
                prompt,
            )
            .await
        }
        _ => answer(StatusCode::ACCEPTED, "ignored"),
    }
}

fn mentions(text: &str) -> bool {
    text.split(|c: char| c.is_whitespace() || matches!(c, ',' | '.' | ':' | '!' | '?' | ')' | '('))
        .any(|w| w.eq_ignore_ascii_case(MENTION))
}

fn issue_prompt(title: Option<&str>, body: Option<&str>, comment: Option<&str>) -> String {
    let mut p = title.unwrap_or_default().trim().to_string();
    if let Some(b) = body.map(str::trim).filter(|b| !b.is_empty()) {
        p.push_str("\n\n");
        p.push_str(b);
    }
    if let Some(c) = comment {
        p.push_str("\n\nRequest from a comment:\n");
        p.push_str(c.trim());
    }
    p
}

/// Starts a task from an issue. With login on, the person who labelled or commented
/// owns it (`github:<id>` / `gitlab:<id>`, the ids caic's login uses), so it shows up
/// for them when they sign in with that forge.
async fn start(
    s: &HookState,
    forge: ForgeKind,
    repo: &str,
    issue: Option<u64>,
    sender: Option<u64>,
    prompt: String,
) -> Response {
    let Some(issue) = issue else {
        return answer(StatusCode::ACCEPTED, "ignored");
    };
    if s.engine.repo_of_remote(forge, repo).is_none() {
        return answer(StatusCode::ACCEPTED, "ignored");
    }
    // With login on, the person who labelled or commented owns the task.
    let caller = match sender.filter(|_| s.auth.enabled()) {
        Some(who) => Caller::User(match forge {
            ForgeKind::GitHub => format!("github:{who}"),
            ForgeKind::GitLab => format!("gitlab:{who}"),
        }),
        None => Caller::Anyone,
    };
    match s
        .engine
        .create_from_issue(&caller, forge, repo, issue, &s.hooks.harness, prompt)
        .await
    {
        Ok(id) => (
            StatusCode::CREATED,
            Json(json!({ "status": "started", "task": id })),
        )
            .into_response(),
        Err(e) => refuse(StatusCode::BAD_REQUEST, "BAD_REQUEST", e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mention_is_a_word() {
        assert!(mentions("@caic please fix this"));
        assert!(mentions("Hey @CAIC, look."));
        assert!(!mentions("email me at x@caic.dev"));
        assert!(!mentions("@caicbot do it"));
    }

    #[test]
    fn prompt_from_issue_and_comment() {
        let p = issue_prompt(
            Some("Crash on start"),
            Some("Steps: run it."),
            Some("@caic fix"),
        );
        assert_eq!(
            p,
            "Crash on start\n\nSteps: run it.\n\nRequest from a comment:\n@caic fix"
        );
    }
}
