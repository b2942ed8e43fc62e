//! The HTTP plumbing shared by the GitHub and GitLab clients: auth headers, pacing,
//! rate-limit backoff, error mapping. Tokens travel in headers only, never in URLs.

use crate::error::{Error, Result};
use crate::limit::RateLimiter;
use crate::secret::Secret;
use reqwest::header::{HeaderMap, ACCEPT, AUTHORIZATION, LOCATION, USER_AGENT};
use reqwest::{Method, Response, StatusCode};
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

/// Longest backoff waited inline before giving up with [`Error::RateLimited`].
pub(crate) const MAX_INLINE_WAIT: Duration = Duration::from_secs(60);
/// Retries after a rate-limit answer.
const MAX_RETRIES: usize = 3;
/// Longest error message kept from a response body.
const MAX_MESSAGE: usize = 300;

/// Which forge's headers to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    GitHub,
    GitLab,
}

/// A REST API at a base URL, paced by a shared [`RateLimiter`].
#[derive(Debug, Clone)]
pub(crate) struct Api {
    http: reqwest::Client,
    base: String,
    flavor: Flavor,
    limiter: Arc<RateLimiter>,
}

impl Api {
    /// A client for `base` (no trailing slash needed). Redirects are not followed: a
    /// redirect answer is returned to the caller, so auth never leaks to another host.
    pub(crate) fn new(base: &str, flavor: Flavor, limiter: Arc<RateLimiter>) -> Result<Self> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|source| Error::Http {
                context: "building the HTTP client".into(),
                source,
            })?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_string(),
            flavor,
            limiter,
        })
    }

    /// Sends `method base+path`, with `auth` as a bearer token; 2xx and 3xx answers are
    /// returned, rate limits are waited out (up to [`MAX_INLINE_WAIT`]), others are errors.
    pub(crate) async fn send(
        &self,
        auth: Option<&Secret>,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&serde_json::Value>,
    ) -> Result<Response> {
        let context = format!("{method} {path}");
        let mut attempt = 0;
        loop {
            self.limiter.acquire(auth).await;
            let mut req = self
                .http
                .request(method.clone(), format!("{}{path}", self.base))
                .header(USER_AGENT, "caic");
            if !query.is_empty() {
                req = req.query(query);
            }
            if self.flavor == Flavor::GitHub {
                req = req
                    .header(ACCEPT, "application/vnd.github+json")
                    .header("X-GitHub-Api-Version", "2022-11-28");
            }
            if let Some(token) = auth {
                req = req.header(AUTHORIZATION, format!("Bearer {}", token.expose()));
            }
            if let Some(body) = body {
                req = req.json(body);
            }
            let resp = req.send().await.map_err(|e| http_error(&context, e))?;
            let status = resp.status();
            if status.is_success() || status.is_redirection() {
                return Ok(resp);
            }
            if let Some(wait) = rate_limit_wait(status, resp.headers()) {
                let until = Instant::now() + wait;
                self.limiter.defer(auth, until);
                attempt += 1;
                tracing::info!(%context, wait_s = wait.as_secs_f32(), attempt, "forge rate limit");
                if wait > MAX_INLINE_WAIT || attempt > MAX_RETRIES {
                    return Err(Error::RateLimited {
                        context,
                        retry_after: wait,
                    });
                }
                continue;
            }
            return Err(status_error(&context, resp).await);
        }
    }

    /// [`Api::send`] and decodes a JSON answer.
    pub(crate) async fn json<T: DeserializeOwned>(
        &self,
        auth: Option<&Secret>,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&serde_json::Value>,
    ) -> Result<T> {
        let context = format!("{method} {path}");
        let resp = self.send(auth, method, path, query, body).await?;
        let bytes = resp.bytes().await.map_err(|e| http_error(&context, e))?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Decode {
            context,
            message: e.to_string(),
        })
    }

    /// [`Api::send`] and reads a text answer; a redirect is followed once, to the URL in
    /// `Location`, without credentials (pre-signed log URLs).
    pub(crate) async fn text(&self, auth: Option<&Secret>, path: &str) -> Result<String> {
        let context = format!("GET {path}");
        let resp = self.send(auth, Method::GET, path, &[], None).await?;
        let resp = if resp.status().is_redirection() {
            let location = resp
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| Error::Decode {
                    context: context.clone(),
                    message: "redirect without a Location".into(),
                })?
                .to_string();
            let resp = self
                .http
                .get(location)
                .header(USER_AGENT, "caic")
                .send()
                .await
                .map_err(|e| http_error(&context, e))?;
            if !resp.status().is_success() {
                return Err(status_error(&format!("{context} (redirected)"), resp).await);
            }
            resp
        } else {
            resp
        };
        resp.text().await.map_err(|e| http_error(&context, e))
    }
}

/// A transport error, without its URL (a pre-signed URL carries a signature).
pub(crate) fn http_error(context: &str, e: reqwest::Error) -> Error {
    Error::Http {
        context: context.to_string(),
        source: e.without_url(),
    }
}

/// The error for a failure answer, with the forge's `message` if it has one.
pub(crate) async fn status_error(context: &str, resp: Response) -> Error {
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap_or_default();
    let message = match serde_json::from_str::<serde_json::Value>(&body) {
        Ok(v) => match v.get("message").or_else(|| v.get("error")) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => body,
        },
        Err(_) => body,
    };
    let mut message = message.trim().to_string();
    if message.len() > MAX_MESSAGE {
        let mut cut = MAX_MESSAGE;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
        message.push('…');
    }
    Error::Status {
        context: context.to_string(),
        status,
        message,
    }
}

/// How long to back off after a 403/429 that is a rate limit: `Retry-After` seconds, else
/// until `x-ratelimit-reset` / `RateLimit-Reset` (epoch seconds) when none remain; a 429
/// without either waits a minute. `None`: not a rate limit.
pub(crate) fn rate_limit_wait(status: StatusCode, headers: &HeaderMap) -> Option<Duration> {
    if status != StatusCode::FORBIDDEN && status != StatusCode::TOO_MANY_REQUESTS {
        return None;
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(secs) = header("retry-after").and_then(|v| v.trim().parse::<u64>().ok()) {
        return Some(Duration::from_secs(secs));
    }
    let remaining = header("x-ratelimit-remaining").or_else(|| header("ratelimit-remaining"));
    let reset = header("x-ratelimit-reset").or_else(|| header("ratelimit-reset"));
    if let (Some("0"), Some(reset)) = (remaining.map(str::trim), reset) {
        let reset: u64 = reset.trim().parse().ok()?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        return Some(Duration::from_secs(reset.saturating_sub(now).max(1)));
    }
    (status == StatusCode::TOO_MANY_REQUESTS).then_some(Duration::from_secs(60))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn rate_limit_headers() {
        let mut h = HeaderMap::new();
        assert_eq!(rate_limit_wait(StatusCode::FORBIDDEN, &h), None);
        assert_eq!(
            rate_limit_wait(StatusCode::TOO_MANY_REQUESTS, &h),
            Some(Duration::from_secs(60))
        );
        h.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(
            rate_limit_wait(StatusCode::FORBIDDEN, &h),
            Some(Duration::from_secs(7))
        );
        assert_eq!(rate_limit_wait(StatusCode::NOT_FOUND, &h), None);
        let mut h = HeaderMap::new();
        let reset = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 120;
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        h.insert(
            "x-ratelimit-reset",
            HeaderValue::from_str(&reset.to_string()).unwrap(),
        );
        let wait = rate_limit_wait(StatusCode::FORBIDDEN, &h).unwrap();
        assert!((118..=120).contains(&wait.as_secs()), "{wait:?}");
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("12"));
        assert_eq!(rate_limit_wait(StatusCode::FORBIDDEN, &h), None);
    }
}
