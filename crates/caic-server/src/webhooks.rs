//! `/webhooks/github` and `/webhooks/gitlab` (S11, S12): 404 without a secret. Both go
//! one way: GitHub deliveries must come from GitHub's hook ranges; the body is read
//! (size-limited), then verified (signature or token, constant time, before any parsing),
//! de-duplicated by delivery id, parsed into a typed [`Event`] by caic-forge, and applied
//! by the engine. Errors are answered by [`HttpError`], like every other route.

use crate::auth::Auth;
use crate::error::HttpError;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use caic_api::ErrorCode;
use caic_auth::github_meta::GitHubRanges;
use caic_engine::{Engine, ForgeKind, HookOutcome, Secret};
use caic_forge::webhook::{self, Event};
use caic_forge::ReplayGuard;
use futures::StreamExt;
use serde_json::json;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// The largest delivery accepted (GitHub caps payloads at 25 MB; the events caic acts
/// on are far smaller).
pub const MAX_BODY: usize = 2 * 1024 * 1024;

/// Past [`MAX_BODY`], how much more of a body is read and dropped, and for how long,
/// before the 413 goes out: a sender still writing would otherwise see its connection
/// reset instead of the answer.
const DRAIN_MAX: usize = 32 * 1024 * 1024;
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(5);

/// A delivery's body, at most [`MAX_BODY`] bytes; a larger one is a 413 (after draining
/// what the sender still sends, within [`DRAIN_MAX`] and [`DRAIN_TIME`]).
async fn read_body(body: Body) -> Result<Bytes, HttpError> {
    let too_large = || {
        HttpError::new(
            ErrorCode::PayloadTooLarge,
            format!("webhook bodies are limited to {MAX_BODY} bytes"),
        )
    };
    let mut stream = body.into_data_stream();
    let mut buf = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| HttpError::bad_request(format!("reading the body: {e}")))?;
        if buf.len() + chunk.len() > MAX_BODY {
            let mut seen = buf.len() + chunk.len();
            let _ = tokio::time::timeout(DRAIN_TIME, async {
                while let Some(Ok(c)) = stream.next().await {
                    seen += c.len();
                    if seen > DRAIN_MAX {
                        break;
                    }
                }
            })
            .await;
            return Err(too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buf))
}

/// Webhook settings and state.
pub struct Webhooks {
    github_secret: Option<Secret>,
    gitlab_secret: Option<Secret>,
    /// GitHub's hook ranges (S12), refreshed by the server; empty until first fetched.
    ranges: GitHubRanges,
    harness: String,
    replay: ReplayGuard,
}

impl Webhooks {
    /// No webhooks: both routes answer 404.
    pub fn off() -> Webhooks {
        Webhooks::new(None, None, GitHubRanges::default(), "claude".into())
    }

    /// Webhooks with these secrets; GitHub deliveries must come from `ranges`. Tasks
    /// started from issues run `harness`.
    pub fn new(
        github_secret: Option<Secret>,
        gitlab_secret: Option<Secret>,
        ranges: GitHubRanges,
        harness: String,
    ) -> Webhooks {
        Webhooks {
            github_secret: github_secret.filter(|s| !s.is_empty()),
            gitlab_secret: gitlab_secret.filter(|s| !s.is_empty()),
            ranges,
            harness,
            replay: ReplayGuard::new(4096),
        }
    }

    /// Whether the GitHub hook is on, so GitHub's hook ranges must be kept fresh.
    pub fn wants_github_ranges(&self) -> bool {
        self.github_secret.is_some()
    }

    fn secret(&self, forge: ForgeKind) -> Option<&Secret> {
        match forge {
            ForgeKind::GitHub => self.github_secret.as_ref(),
            ForgeKind::GitLab => self.gitlab_secret.as_ref(),
        }
    }

    /// S12: a GitHub delivery from outside GitHub's hook ranges is refused.
    fn check_source(&self, forge: ForgeKind, ip: IpAddr) -> Result<(), caic_forge::Error> {
        if forge == ForgeKind::GitHub && !self.ranges.contains(ip) {
            return Err(caic_forge::Error::AddressNotAllowed(ip.to_canonical()));
        }
        Ok(())
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

async fn github(
    State(s): State<HookState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, HttpError> {
    deliver(&s, ForgeKind::GitHub, peer, headers, body).await
}

async fn gitlab(
    State(s): State<HookState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, HttpError> {
    deliver(&s, ForgeKind::GitLab, peer, headers, body).await
}

fn answer(status: StatusCode, text: &str) -> Response {
    (status, Json(json!({ "status": text }))).into_response()
}

/// The one path of both routes: source, verify, de-duplicate, parse, apply.
async fn deliver(
    s: &HookState,
    forge: ForgeKind,
    peer: SocketAddr,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, HttpError> {
    let hooks = &s.hooks;
    let Some(secret) = hooks.secret(forge) else {
        return Err(HttpError::not_found("no such route"));
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let ip = s.auth.client_ip(peer.ip(), header("x-forwarded-for"));
    if let Err(e) = hooks.check_source(forge, ip) {
        tracing::warn!(%ip, "{} webhook refused: {e}", forge.title());
        return Err(e.into());
    }
    let body = read_body(body).await?;
    if let Err(e) = webhook::verify(forge, secret, header, &body) {
        tracing::warn!(%ip, error = %e, "{} webhook refused", forge.title());
        return Err(e.into());
    }
    let (event_header, delivery_header) = webhook::headers(forge);
    if let Some(id) = header(delivery_header) {
        if hooks.replay.check(id).is_err() {
            return Ok(answer(StatusCode::OK, "duplicate"));
        }
    }
    let event = webhook::parse(forge, header(event_header).unwrap_or_default(), &body)?;
    if let Event::Ignored { reason } = &event {
        tracing::debug!(forge = forge.name(), "webhook ignored: {reason}");
    }
    let outcome = s
        .engine
        .apply_webhook(event, &hooks.harness, s.auth.enabled())
        .await?;
    Ok(respond(outcome))
}

/// The answer to an applied delivery.
fn respond(outcome: HookOutcome) -> Response {
    match outcome {
        HookOutcome::Pong => answer(StatusCode::OK, "pong"),
        HookOutcome::Ci { woken } if woken > 0 => answer(StatusCode::OK, "ci"),
        HookOutcome::Ci { .. } => answer(StatusCode::OK, "ignored"),
        HookOutcome::Linked { .. } => answer(StatusCode::OK, "linked"),
        HookOutcome::Started { task, .. } => (
            StatusCode::CREATED,
            Json(json!({ "status": "started", "task": task })),
        )
            .into_response(),
        HookOutcome::Ignored { reason } => {
            tracing::debug!("webhook ignored: {reason}");
            answer(StatusCode::ACCEPTED, "ignored")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s12_github_deliveries_only_from_hook_ranges() {
        let secret = Some(Secret::new("s"));
        let empty = Webhooks::new(secret.clone(), None, GitHubRanges::default(), "fake".into());
        // Before GitHub's ranges are known, every GitHub delivery is refused.
        let hook: IpAddr = "140.82.115.1".parse().unwrap();
        assert!(matches!(
            empty.check_source(ForgeKind::GitHub, hook),
            Err(caic_forge::Error::AddressNotAllowed(_))
        ));
        let ranges = GitHubRanges::new(vec![
            "140.82.112.0/20".parse().unwrap(),
            "2a0a:a440::/29".parse().unwrap(),
        ]);
        let hooks = Webhooks::new(secret, None, ranges, "fake".into());
        for ok in ["140.82.115.1", "::ffff:140.82.112.9", "2a0a:a440::1"] {
            hooks
                .check_source(ForgeKind::GitHub, ok.parse().unwrap())
                .unwrap();
        }
        for bad in ["127.0.0.1", "10.0.0.1", "140.82.128.0", "2001:db8::1"] {
            let err = hooks
                .check_source(ForgeKind::GitHub, bad.parse().unwrap())
                .unwrap_err();
            assert!(err.to_string().contains("hook ranges"), "{bad}: {err}");
        }
        // GitLab publishes no ranges: its token is the check.
        hooks
            .check_source(ForgeKind::GitLab, "10.0.0.1".parse().unwrap())
            .unwrap();
    }
}
