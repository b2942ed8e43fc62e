//! GitHub App authentication: an RS256 app JWT exchanged for installation tokens, cached
//! until shortly before they expire.

use crate::api::{Api, Flavor};
use crate::error::{Error, Result};
use crate::limit::RateLimiter;
use crate::secret::Secret;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::Mutex;
use tokio::time::Instant;

/// A cached installation token is renewed this long before it expires.
pub const RENEW_BEFORE: Duration = Duration::from_secs(5 * 60);
/// Lifetime assumed when GitHub's `expires_at` cannot be read (tokens last 1 hour).
const DEFAULT_LIFETIME: Duration = Duration::from_secs(55 * 60);

/// A GitHub App: its id and private key, and the installation tokens it obtained.
pub struct GitHubApp {
    api: Api,
    app_id: String,
    key: EncodingKey,
    cache: Mutex<HashMap<u64, (Secret, Instant)>>,
}

impl std::fmt::Debug for GitHubApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHubApp")
            .field("app_id", &self.app_id)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize)]
struct Claims {
    iat: u64,
    exp: u64,
    iss: String,
}

#[derive(Deserialize)]
struct TokenJson {
    token: String,
    expires_at: Option<String>,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

impl GitHubApp {
    /// An app with id (or client id) `app_id` and its RSA private key in PEM form (PKCS#1 as
    /// GitHub issues it, or PKCS#8), talking to `base_url` ([`crate::GITHUB_API`]).
    pub fn new(
        base_url: &str,
        app_id: &str,
        private_key_pem: &[u8],
        limiter: Arc<RateLimiter>,
    ) -> Result<Self> {
        let key =
            EncodingKey::from_rsa_pem(private_key_pem).map_err(|e| Error::AppKey(e.to_string()))?;
        Ok(Self {
            api: Api::new(base_url, Flavor::GitHub, limiter)?,
            app_id: app_id.to_string(),
            key,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// A fresh app JWT: RS256, issued 60 s in the past (clock drift), valid 9 minutes.
    pub fn app_jwt(&self) -> Result<Secret> {
        let now = unix_now();
        let claims = Claims {
            iat: now - 60,
            exp: now + 9 * 60,
            iss: self.app_id.clone(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.key)
            .map(Secret::new)
            .map_err(|e| Error::AppKey(e.to_string()))
    }

    /// An installation token for `installation_id`, from the cache while it has more than
    /// [`RENEW_BEFORE`] left, else from `POST /app/installations/{id}/access_tokens`.
    pub async fn installation_token(&self, installation_id: u64) -> Result<Secret> {
        let mut cache = self.cache.lock().await;
        if let Some((token, renew_at)) = cache.get(&installation_id) {
            if Instant::now() < *renew_at {
                return Ok(token.clone());
            }
        }
        let jwt = self.app_jwt()?;
        let got: TokenJson = self
            .api
            .json(
                Some(&jwt),
                Method::POST,
                &format!("/app/installations/{installation_id}/access_tokens"),
                &[],
                None,
            )
            .await?;
        let lifetime = got
            .expires_at
            .as_deref()
            .and_then(parse_utc)
            .map(|exp| Duration::from_secs(exp.saturating_sub(unix_now())))
            .unwrap_or(DEFAULT_LIFETIME);
        let token = Secret::new(got.token);
        let renew_at = Instant::now() + lifetime.saturating_sub(RENEW_BEFORE);
        cache.insert(installation_id, (token.clone(), renew_at));
        tracing::debug!(
            installation_id,
            lifetime_s = lifetime.as_secs(),
            "GitHub App token"
        );
        Ok(token)
    }
}

/// `2016-07-11T22:14:10Z` -> Unix seconds.
fn parse_utc(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || !s.ends_with('Z') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // Days from civil (Howard Hinnant).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + hh * 3600 + mm * 60 + ss).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_github_timestamps() {
        assert_eq!(parse_utc("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_utc("2016-07-11T22:14:10Z"), Some(1_468_275_250));
        assert_eq!(parse_utc("2024-02-29T12:00:00Z"), Some(1_709_208_000));
        assert_eq!(parse_utc("yesterday"), None);
    }
}

#[cfg(test)]
mod mock_tests {
    use super::*;
    use crate::mock;
    use std::process::Command;

    /// A fresh 2048-bit RSA key pair (PKCS#1 private as GitHub issues, SPKI public).
    fn rsa_pair() -> (String, String) {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("app.pem");
        let st = Command::new("openssl")
            .args(["genrsa", "-traditional", "-out"])
            .arg(&key)
            .arg("2048")
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "{}",
            String::from_utf8_lossy(&st.stderr)
        );
        let public = Command::new("openssl")
            .args(["rsa", "-pubout", "-in"])
            .arg(&key)
            .output()
            .unwrap();
        assert!(public.status.success());
        (
            std::fs::read_to_string(&key).unwrap(),
            String::from_utf8(public.stdout).unwrap(),
        )
    }

    #[tokio::test]
    async fn installation_token_exchange_is_verified_and_cached() {
        let (private, public) = rsa_pair();
        assert!(private.starts_with(concat!("-----BEGIN RSA PRIVATE", " KEY-----")));
        let (base, gh) = mock::github("unused").await;
        {
            let mut st = gh.lock();
            st.app_id = "123456".into();
            st.app_public_pem = public;
        }
        let limiter = Arc::new(RateLimiter::new(Duration::from_millis(10)));
        let app = GitHubApp::new(&base, "123456", private.as_bytes(), limiter.clone()).unwrap();
        let token = app.installation_token(99).await.unwrap();
        assert_eq!(token.expose(), "ghs_installation99token0001");
        assert_eq!(format!("{token:?}"), "Secret(…0001)");
        // Cached: no second exchange for the same installation.
        assert_eq!(app.installation_token(99).await.unwrap(), token);
        assert_eq!(gh.lock().tokens_issued, 1);
        // Another installation gets its own token.
        assert_eq!(
            app.installation_token(7).await.unwrap().expose(),
            "ghs_installation7token0002"
        );
        // The request carried the app JWT, not a token.
        let seen = gh.lock().requests[0].clone();
        assert_eq!(seen.path, "/app/installations/99/access_tokens");
        assert_eq!(seen.method, "POST");
        assert!(seen.auth.unwrap().starts_with("Bearer eyJ"));

        // An app registered with another key is refused by GitHub.
        let (other_private, _) = rsa_pair();
        let impostor = GitHubApp::new(&base, "123456", other_private.as_bytes(), limiter).unwrap();
        let err = impostor.installation_token(99).await.unwrap_err();
        assert!(matches!(err, Error::Status { status: 401, .. }), "{err}");

        // Not a key at all.
        assert!(matches!(
            GitHubApp::new(&base, "1", b"not a key", Arc::default()),
            Err(Error::AppKey(_))
        ));
    }
}
