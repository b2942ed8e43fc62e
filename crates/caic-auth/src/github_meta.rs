//! GitHub's webhook source ranges (`hooks` in `GET {api}/meta`), refreshed in the
//! background, with a cached copy on disk: a failed refresh keeps the last good list,
//! so nobody is locked out because GitHub's API was unreachable. caic's one fetcher of
//! these ranges: the allowlist's `github` origin (S9) and the server's GitHub webhook
//! check (S12) share one list.

use crate::Error;
use ipnet::IpNet;
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How often the ranges are refreshed by [`GitHubRanges::spawn_refresh`].
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(6 * 3600);
/// How soon a failed refresh is tried again (at most [`GitHubRanges::spawn_refresh`]'s
/// interval).
pub const RETRY: Duration = Duration::from_secs(30);

#[derive(Serialize, Deserialize)]
struct Cache {
    fetched_at: u64,
    hooks: Vec<IpNet>,
}

#[derive(Deserialize)]
struct Meta {
    hooks: Vec<IpNet>,
}

/// The current GitHub hook ranges, shared by clones.
#[derive(Debug, Clone, Default)]
pub struct GitHubRanges {
    ranges: Arc<RwLock<Vec<IpNet>>>,
    cache: Option<PathBuf>,
}

impl GitHubRanges {
    /// Fixed ranges (tests, or a configured list).
    pub fn new(ranges: Vec<IpNet>) -> Self {
        GitHubRanges {
            ranges: Arc::new(RwLock::new(ranges)),
            cache: None,
        }
    }

    /// Ranges backed by a cache file: loads it now if present (a bad cache is ignored),
    /// and rewrites it after each successful refresh.
    pub fn with_cache(path: PathBuf) -> Self {
        let ranges = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| serde_json::from_str::<Cache>(&t).ok())
            .map(|c| c.hooks)
            .unwrap_or_default();
        GitHubRanges {
            ranges: Arc::new(RwLock::new(ranges)),
            cache: Some(path),
        }
    }

    /// True when `ip` is in one of the ranges.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.read().iter().any(|n| n.contains(&ip))
    }

    /// The current list.
    pub fn ranges(&self) -> Vec<IpNet> {
        self.read().clone()
    }

    /// Fetches `{api_url}/meta` and replaces the list with its `hooks`. On any failure
    /// (transport, status, parse, empty list) the current list stays.
    pub async fn refresh(&self, http: &reqwest::Client, api_url: &str) -> Result<usize, Error> {
        let url = format!("{}/meta", api_url.trim_end_matches('/'));
        let resp = http
            .get(&url)
            .header(reqwest::header::ACCEPT, "application/vnd.github+json")
            .header(reqwest::header::USER_AGENT, "caic")
            .send()
            .await
            .map_err(Error::http)?;
        if !resp.status().is_success() {
            return Err(Error::Http(format!("GitHub meta: HTTP {}", resp.status())));
        }
        let meta: Meta = resp
            .json()
            .await
            .map_err(|e| Error::Http(format!("GitHub meta: {}", e.without_url())))?;
        if meta.hooks.is_empty() {
            return Err(Error::Http("GitHub meta: empty hooks list".to_string()));
        }
        let n = meta.hooks.len();
        if let Some(path) = &self.cache {
            let cache = Cache {
                fetched_at: crate::now_unix(),
                hooks: meta.hooks.clone(),
            };
            let text = serde_json::to_string_pretty(&cache).unwrap_or_default();
            if let Err(e) = crate::files::write_private(path, text.as_bytes()) {
                tracing::warn!("GitHub hook ranges cache: {e}");
            }
        }
        *self.ranges.write() = meta.hooks;
        Ok(n)
    }

    /// Refreshes now and then every `every` ([`RETRY`] after a failure), logging each
    /// attempt; the task ends when the handle is aborted.
    pub fn spawn_refresh(&self, api_url: String, every: Duration) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap_or_default();
            loop {
                let wait = match this.refresh(&http, &api_url).await {
                    Ok(n) => {
                        tracing::info!("GitHub hook ranges refreshed: {n} ranges");
                        every
                    }
                    Err(e) => {
                        tracing::warn!(
                            "GitHub hook ranges not refreshed, keeping {} known ranges: {e}",
                            this.read().len()
                        );
                        every.min(RETRY)
                    }
                };
                tokio::time::sleep(wait).await;
            }
        })
    }

    fn read(&self) -> parking_lot::RwLockReadGuard<'_, Vec<IpNet>> {
        self.ranges.read()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::{http::StatusCode, routing::get, Json, Router};
    use std::sync::atomic::{AtomicBool, Ordering};

    /// A mock `GET /meta` answering GitHub's shape while `up`, HTTP 503 otherwise.
    async fn mock_meta(up: Arc<AtomicBool>) -> String {
        let app = Router::new().route(
            "/meta",
            get(move || {
                let up = up.clone();
                async move {
                    if !up.load(Ordering::SeqCst) {
                        return Err(StatusCode::SERVICE_UNAVAILABLE);
                    }
                    Ok(Json(serde_json::json!({
                        "verifiable_password_authentication": false,
                        "hooks": ["192.30.252.0/22", "185.199.108.0/22", "140.82.112.0/20",
                                  "143.55.64.0/20", "2a0a:a440::/29", "2606:50c0::/32"],
                        "web": ["192.30.252.0/22"],
                    })))
                }
            }),
        );
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn s09_github_ranges_refresh_and_failed_refresh_keeps_last_good() {
        let up = Arc::new(AtomicBool::new(true));
        let api = mock_meta(up.clone()).await;
        let tmp = tempfile::tempdir().unwrap();
        let cache = tmp.path().join("github-hooks.json");
        let r = GitHubRanges::with_cache(cache.clone());
        let hook: IpAddr = "140.82.115.1".parse().unwrap();
        assert!(!r.contains(hook));
        let http = reqwest::Client::new();
        assert_eq!(r.refresh(&http, &api).await.unwrap(), 6);
        assert!(r.contains(hook));
        assert!(r.contains("2606:50c0::1".parse().unwrap()));
        assert!(!r.contains("8.8.8.8".parse().unwrap()));
        // GitHub down: the refresh fails and the list stays.
        up.store(false, Ordering::SeqCst);
        assert!(r.refresh(&http, &api).await.is_err());
        assert!(r.contains(hook));
        // Unreachable altogether: same.
        assert!(r.refresh(&http, "http://127.0.0.1:1").await.is_err());
        assert!(r.contains(hook));
        // After a restart, the cached copy is used until the next refresh.
        let reloaded = GitHubRanges::with_cache(cache);
        assert!(reloaded.contains(hook));
    }
}
