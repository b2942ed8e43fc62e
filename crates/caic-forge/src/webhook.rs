//! Webhook verification (SECURITY.md S11, S12): signatures and tokens checked in constant
//! time before anything is parsed, GitHub's source ranges, replayed deliveries.

use crate::api::{http_error, status_error};
use crate::error::{Error, Result};
use crate::secret::Secret;
use hmac::{Hmac, Mac};
use ipnet::IpNet;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::{HashSet, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use subtle::ConstantTimeEq;

/// GitHub's signature header.
pub const GITHUB_SIGNATURE_HEADER: &str = "X-Hub-Signature-256";
/// GitHub's delivery id header.
pub const GITHUB_DELIVERY_HEADER: &str = "X-GitHub-Delivery";
/// GitLab's secret token header.
pub const GITLAB_TOKEN_HEADER: &str = "X-Gitlab-Token";

/// Checks a GitHub delivery: `signature` (the `X-Hub-Signature-256` value) must be
/// `sha256=` + the hex HMAC-SHA256 of the raw `body` keyed with `secret`.
pub fn verify_github_signature(
    secret: &Secret,
    signature: Option<&str>,
    body: &[u8],
) -> Result<()> {
    let signature = signature.ok_or(Error::MissingSignature(GITHUB_SIGNATURE_HEADER))?;
    let given = signature
        .trim()
        .strip_prefix("sha256=")
        .and_then(|h| hex::decode(h).ok())
        .ok_or(Error::BadSignature)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
        .map_err(|_| Error::BadSignature)?;
    mac.update(body);
    let expected = mac.finalize().into_bytes();
    if bool::from(expected.as_slice().ct_eq(&given)) {
        Ok(())
    } else {
        Err(Error::BadSignature)
    }
}

/// Checks a GitLab delivery: `token` (the `X-Gitlab-Token` value) must equal `secret`.
/// Both are hashed first so the comparison takes the same time whatever their lengths.
pub fn verify_gitlab_token(secret: &Secret, token: Option<&str>) -> Result<()> {
    let token = token.ok_or(Error::MissingSignature(GITLAB_TOKEN_HEADER))?;
    let a = Sha256::digest(secret.expose().as_bytes());
    let b = Sha256::digest(token.as_bytes());
    if bool::from(a.as_slice().ct_eq(b.as_slice())) {
        Ok(())
    } else {
        Err(Error::BadSignature)
    }
}

/// The address ranges GitHub sends webhooks from (the `hooks` list of its meta API).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookRanges(Vec<IpNet>);

#[derive(Deserialize)]
struct MetaJson {
    hooks: Vec<String>,
}

impl HookRanges {
    /// Ranges from CIDR strings (`192.30.252.0/22`, `2a0a:a440::/29`).
    pub fn parse<S: AsRef<str>>(cidrs: &[S]) -> Result<Self> {
        cidrs
            .iter()
            .map(|c| {
                c.as_ref()
                    .trim()
                    .parse::<IpNet>()
                    .map_err(|e| Error::Decode {
                        context: "GitHub hook ranges".into(),
                        message: format!("{:?}: {e}", c.as_ref()),
                    })
            })
            .collect::<Result<Vec<_>>>()
            .map(Self)
    }

    /// The ranges.
    pub fn nets(&self) -> &[IpNet] {
        &self.0
    }

    /// Whether `ip` (an IPv4-mapped IPv6 address counts as IPv4) is in one of the ranges.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// [`HookRanges::contains`] as a result: [`Error::AddressNotAllowed`] when outside.
    pub fn check(&self, ip: IpAddr) -> Result<()> {
        if self.contains(ip) {
            Ok(())
        } else {
            Err(Error::AddressNotAllowed(ip.to_canonical()))
        }
    }
}

/// Fetches GitHub's hook ranges from `GET {base_url}/meta` (base: [`crate::GITHUB_API`]).
pub async fn fetch_github_hook_ranges(
    http: &reqwest::Client,
    base_url: &str,
) -> Result<HookRanges> {
    let context = "GET /meta";
    let resp = http
        .get(format!("{}/meta", base_url.trim_end_matches('/')))
        .header(reqwest::header::USER_AGENT, "caic")
        .header(reqwest::header::ACCEPT, "application/vnd.github+json")
        .send()
        .await
        .map_err(|e| http_error(context, e))?;
    if !resp.status().is_success() {
        return Err(status_error(context, resp).await);
    }
    let meta: MetaJson = resp.json().await.map_err(|e| http_error(context, e))?;
    let ranges = HookRanges::parse(&meta.hooks)?;
    if ranges.0.is_empty() {
        return Err(Error::Decode {
            context: context.into(),
            message: "no hook ranges".into(),
        });
    }
    Ok(ranges)
}

/// Remembers the last `capacity` delivery ids, to ignore replays.
#[derive(Debug)]
pub struct ReplayGuard {
    capacity: usize,
    seen: Mutex<(HashSet<String>, VecDeque<String>)>,
}

impl ReplayGuard {
    /// A guard remembering up to `capacity` ids (the oldest are forgotten first).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            seen: Mutex::new((HashSet::new(), VecDeque::new())),
        }
    }

    /// Records `delivery_id`; [`Error::Replayed`] if it was already seen.
    pub fn check(&self, delivery_id: &str) -> Result<()> {
        let mut guard = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let (set, order) = &mut *guard;
        if set.contains(delivery_id) {
            return Err(Error::Replayed(delivery_id.chars().take(64).collect()));
        }
        set.insert(delivery_id.to_string());
        order.push_back(delivery_id.to_string());
        while order.len() > self.capacity {
            if let Some(old) = order.pop_front() {
                set.remove(&old);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock;

    #[test]
    fn s11_github_webhook_signature_test_vector() {
        // https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
        let secret = Secret::new("It's a Secret to Everybody");
        let sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        verify_github_signature(&secret, Some(sig), b"Hello, World!").unwrap();

        // Another body, another secret, a flipped digit, another algorithm, garbage.
        for (secret, sig, body) in [
            ("It's a Secret to Everybody", sig, &b"Hello, World?"[..]),
            ("It's a secret to everybody", sig, b"Hello, World!"),
            (
                "It's a Secret to Everybody",
                "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e18",
                b"Hello, World!",
            ),
            (
                "It's a Secret to Everybody",
                "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59",
                b"Hello, World!",
            ),
            ("It's a Secret to Everybody", "sha256=zz", b"Hello, World!"),
            ("It's a Secret to Everybody", "sha256=", b"Hello, World!"),
        ] {
            assert!(
                matches!(
                    verify_github_signature(&Secret::new(secret), Some(sig), body),
                    Err(Error::BadSignature)
                ),
                "{secret} {sig}"
            );
        }
        assert!(matches!(
            verify_github_signature(&secret, None, b"Hello, World!"),
            Err(Error::MissingSignature("X-Hub-Signature-256"))
        ));
    }

    #[test]
    fn s11_gitlab_token() {
        let secret = Secret::new("gitlab-hook-secret-1234");
        verify_gitlab_token(&secret, Some("gitlab-hook-secret-1234")).unwrap();
        for wrong in ["gitlab-hook-secret-1235", "gitlab-hook-secret-123", "", "x"] {
            assert!(matches!(
                verify_gitlab_token(&secret, Some(wrong)),
                Err(Error::BadSignature)
            ));
        }
        assert!(matches!(
            verify_gitlab_token(&secret, None),
            Err(Error::MissingSignature("X-Gitlab-Token"))
        ));
    }

    #[tokio::test]
    async fn s12_github_hooks_only_from_published_ranges() {
        let (base, gh) = mock::github("unused").await;
        gh.lock().unwrap().hooks = vec![
            "192.30.252.0/22".into(),
            "185.199.108.0/22".into(),
            "140.82.112.0/20".into(),
            "143.55.64.0/20".into(),
            "2a0a:a440::/29".into(),
            "2606:50c0::/32".into(),
        ];
        let ranges = fetch_github_hook_ranges(&reqwest::Client::new(), &base)
            .await
            .unwrap();
        assert_eq!(ranges.nets().len(), 6);
        for ok in [
            "192.30.252.1",
            "140.82.115.250",
            "2a0a:a440::1",
            "::ffff:185.199.108.153",
        ] {
            ranges.check(ok.parse().unwrap()).unwrap();
        }
        for bad in ["127.0.0.1", "10.0.0.1", "192.30.251.255", "2001:db8::1"] {
            let ip: IpAddr = bad.parse().unwrap();
            assert!(
                matches!(ranges.check(ip), Err(Error::AddressNotAllowed(a)) if a == ip),
                "{bad}"
            );
        }
        // A meta answer without ranges is an error, not "allow nothing" silently.
        gh.lock().unwrap().hooks.clear();
        assert!(fetch_github_hook_ranges(&reqwest::Client::new(), &base)
            .await
            .is_err());
        assert!(HookRanges::parse(&["not a cidr"]).is_err());
    }

    #[test]
    fn replayed_deliveries_are_refused() {
        let guard = ReplayGuard::new(2);
        guard.check("d-1").unwrap();
        assert!(matches!(guard.check("d-1"), Err(Error::Replayed(_))));
        guard.check("d-2").unwrap();
        guard.check("d-3").unwrap();
        // Bounded: the oldest id is forgotten.
        guard.check("d-1").unwrap();
        assert!(matches!(guard.check("d-3"), Err(Error::Replayed(_))));
    }
}
