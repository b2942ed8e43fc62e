//! Polite request pacing: at most one request per interval per credential, and backoff.

use crate::secret::Secret;
use parking_lot::Mutex;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

/// Default spacing between two requests made with one credential.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);

/// Spaces requests per credential. Share one (in an `Arc`) between all clients so that two
/// clients with the same token still make at most one request per interval together.
///
/// Credentials are keyed by a SHA-256 of the token; the limiter holds no token.
#[derive(Debug)]
pub struct RateLimiter {
    interval: Duration,
    next: Mutex<HashMap<[u8; 32], Instant>>,
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self::new(DEFAULT_INTERVAL)
    }
}

impl RateLimiter {
    /// A limiter allowing one request per `interval` per credential.
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            next: Mutex::new(HashMap::new()),
        }
    }

    fn key(credential: Option<&Secret>) -> [u8; 32] {
        Sha256::digest(credential.map_or("", Secret::expose).as_bytes()).into()
    }

    /// Waits for this credential's next slot and takes it (`None`: anonymous requests).
    pub async fn acquire(&self, credential: Option<&Secret>) {
        let slot = {
            let mut next = self.next.lock();
            let now = Instant::now();
            let entry = next.entry(Self::key(credential)).or_insert(now);
            let slot = (*entry).max(now);
            *entry = slot + self.interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }

    /// Holds this credential's requests back until `until` (rate limit backoff).
    pub fn defer(&self, credential: Option<&Secret>, until: Instant) {
        let mut next = self.next.lock();
        let entry = next.entry(Self::key(credential)).or_insert(until);
        *entry = (*entry).max(until);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test(start_paused = true)]
    async fn spaces_requests_per_credential() {
        let l = Arc::new(RateLimiter::new(Duration::from_secs(1)));
        let a = Secret::new("token-aaaaaaaaaaaa");
        let b = Secret::new("token-bbbbbbbbbbbb");
        let t0 = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..3 {
            let (l, a) = (l.clone(), a.clone());
            tasks.push(tokio::spawn(async move {
                l.acquire(Some(&a)).await;
                Instant::now()
            }));
        }
        let mut times: Vec<Duration> = Vec::new();
        for t in tasks {
            times.push(t.await.unwrap() - t0);
        }
        times.sort();
        assert_eq!(times, [0, 1, 2].map(Duration::from_secs));
        // Another credential is not held back by the first one.
        let t1 = Instant::now();
        l.acquire(Some(&b)).await;
        assert_eq!(Instant::now(), t1);
        // A backoff delays the next request of that credential only.
        l.defer(Some(&b), Instant::now() + Duration::from_secs(30));
        l.acquire(Some(&b)).await;
        assert_eq!(Instant::now() - t1, Duration::from_secs(30));
    }
}
