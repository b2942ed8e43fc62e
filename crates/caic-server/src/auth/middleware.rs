//! The auth middleware, outer to inner: [`client_gate`] (client IP and the IP
//! allowlist, S9), [`host_gate`] (Host header and cross-site requests, S27, against DNS
//! rebinding) and [`session_gate`] (a valid session for `/api/*`, S1-S3). Which tasks a
//! user may touch is not decided here but by the engine, on the decoded task id.

use super::{Auth, ClientInfo, CurrentUser};
use crate::error::HttpError;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use caic_api::ErrorCode;
use caic_auth::cookie::{bearer_token, cookie_value, SESSION_COOKIE};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

fn refuse(code: ErrorCode, message: impl Into<String>) -> Response {
    HttpError::new(code, message).into_response()
}

fn header_str(h: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// Every `Cookie` header joined (HTTP/2 may send several).
fn cookies(h: &HeaderMap) -> String {
    h.get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The cookie `name` of a request.
pub fn request_cookie(h: &HeaderMap, name: &str) -> Option<String> {
    cookie_value(&cookies(h), name).map(String::from)
}

/// The session token of a request: `Authorization: Bearer`, else the `caic_session`
/// cookie.
pub fn session_token(h: &HeaderMap) -> Option<String> {
    if let Some(t) = header_str(h, header::AUTHORIZATION).and_then(bearer_token) {
        return Some(t.to_string());
    }
    request_cookie(h, SESSION_COOKIE).filter(|t| !t.is_empty())
}

/// Finds the client IP (socket peer; `X-Forwarded-For` only from a trusted proxy) and
/// whether the request came over HTTPS, then applies the IP allowlist when one is
/// configured: 403 with the error envelope, one log line per decision.
pub async fn client_gate(State(auth): State<Arc<Auth>>, mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let h = req.headers();
    let ip = caic_auth::forwarded::client_ip(
        peer,
        h.get("x-forwarded-for").and_then(|v| v.to_str().ok()),
        &auth.trusted_proxies,
    );
    let https = caic_auth::forwarded::is_https(
        false,
        peer,
        h.get("x-forwarded-proto").and_then(|v| v.to_str().ok()),
        &auth.trusted_proxies,
    );
    if let Some(list) = &auth.allowlist {
        let d = list.decide(ip);
        d.log();
        if !d.allowed {
            return refuse(
                ErrorCode::Forbidden,
                format!("access from {ip} is not allowed"),
            );
        }
    }
    req.extensions_mut().insert(ClientInfo {
        ip,
        peer: peer.to_canonical(),
        https,
    });
    next.run(req).await
}

/// The host name of a `Host` header value, lower-cased, without port or brackets.
fn host_name(host: &str) -> String {
    let h = host.trim();
    let name = if let Some(rest) = h.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        h.rsplit_once(':')
            .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
            .map(|(n, _)| n)
            .unwrap_or(h)
    };
    name.to_ascii_lowercase()
}

/// Against DNS rebinding and cross-site requests (S27). The `Host` must be a name a
/// rebinding attacker cannot make a browser send: a loopback name or an IP literal, or
/// `external_url`'s host when one is set. A state-changing request (any method but GET,
/// HEAD, OPTIONS) from a browser must come from caic's own page: an `Origin` naming
/// another host, or `Sec-Fetch-Site` other than `same-origin` / `none`, is a 403.
pub async fn host_gate(State(auth): State<Arc<Auth>>, req: Request, next: Next) -> Response {
    let h = req.headers();
    let host = header_str(h, header::HOST)
        .map(String::from)
        .or_else(|| req.uri().authority().map(|a| a.to_string()))
        .unwrap_or_default();
    let name = host_name(&host);
    let external = auth.allowed_host.as_deref();
    let literal = name == "localhost" || name.parse::<IpAddr>().is_ok();
    if !literal && external != Some(name.as_str()) {
        tracing::warn!(host = %host, "request refused: Host names another site");
        return refuse(
            ErrorCode::Forbidden,
            "the Host header names another site (set external_url to serve under a name)",
        );
    }
    if !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        let site = header_str(h, header::HeaderName::from_static("sec-fetch-site"));
        let cross_site = site.is_some_and(|s| s != "same-origin" && s != "none");
        let foreign_origin = header_str(h, header::ORIGIN).is_some_and(|o| {
            let authority = o.split_once("://").map(|(_, a)| a).unwrap_or(o);
            !authority.eq_ignore_ascii_case(host.trim())
                && external != Some(host_name(authority).as_str())
        });
        if cross_site || foreign_origin {
            tracing::warn!(host = %host, "request refused: cross-site {}", req.method());
            return refuse(
                ErrorCode::Forbidden,
                "cross-site requests may not change anything",
            );
        }
    }
    next.run(req).await
}

/// `/api/*` paths reachable without a session: the login flow and what the login page
/// needs.
fn is_public_api(path: &str) -> bool {
    path.starts_with("/api/v1/auth/") || path == "/api/v1/server/config"
}

/// With auth on, checks the session (bearer token or cookie) and records the user for
/// the handlers; `/api/*` without a valid one is a 401, except the login routes. The
/// UI's files stay reachable so the browser can show the login page.
pub async fn session_gate(State(auth): State<Arc<Auth>>, mut req: Request, next: Next) -> Response {
    let Some(login) = auth.login() else {
        return next.run(req).await;
    };
    if let Some(token) = session_token(req.headers()) {
        match login.authenticate(&token) {
            Ok((_, user)) => {
                req.extensions_mut().insert(CurrentUser(user));
            }
            Err(e) => tracing::debug!("session refused: {e}"),
        }
    }
    let path = req.uri().path();
    if path.starts_with("/api/")
        && !is_public_api(path)
        && req.extensions().get::<CurrentUser>().is_none()
    {
        return refuse(ErrorCode::Unauthorized, "login required");
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_ignore_port_case_and_brackets() {
        assert_eq!(host_name("CAIC.Example.com:8443"), "caic.example.com");
        assert_eq!(host_name("caic.example.com"), "caic.example.com");
        assert_eq!(host_name("[::1]:2242"), "::1");
        assert_eq!(host_name("127.0.0.1:80"), "127.0.0.1");
    }

    #[test]
    fn public_api_paths() {
        assert!(is_public_api("/api/v1/auth/github/start"));
        assert!(is_public_api("/api/v1/auth/me"));
        assert!(is_public_api("/api/v1/server/config"));
        assert!(!is_public_api("/api/v1/server/repos"));
        assert!(!is_public_api("/api/v1/tasks"));
        assert!(!is_public_api("/api/v1/authx"));
    }
}
