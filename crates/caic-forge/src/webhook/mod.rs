//! Webhooks: verification (SECURITY.md S11) of signatures and tokens in constant time
//! before anything is parsed, replayed deliveries, and the typed [`Event`]s a verified
//! delivery is parsed into. GitHub's source ranges (S12) are checked by the server with
//! caic-auth's `GitHubRanges`, the one fetcher of GitHub's `/meta`.

mod event;

pub use event::{mentions, parse, parse_github, parse_gitlab, Event, Issue, Repo, LABEL, MENTION};

use crate::error::{Error, Result};
use crate::remote::ForgeKind;
use crate::secret::Secret;
use hmac::{Hmac, Mac};
use parking_lot::Mutex;
use sha2::{Digest, Sha256};
use std::collections::{HashSet, VecDeque};
use subtle::ConstantTimeEq;

/// GitHub's signature header.
pub const GITHUB_SIGNATURE_HEADER: &str = "X-Hub-Signature-256";
/// GitHub's delivery id header.
pub const GITHUB_DELIVERY_HEADER: &str = "X-GitHub-Delivery";
/// GitHub's event name header (`check_run`, `issues`...).
pub const GITHUB_EVENT_HEADER: &str = "X-GitHub-Event";
/// GitLab's secret token header.
pub const GITLAB_TOKEN_HEADER: &str = "X-Gitlab-Token";
/// GitLab's delivery id header.
pub const GITLAB_DELIVERY_HEADER: &str = "X-Gitlab-Event-UUID";
/// GitLab's event name header (`Pipeline Hook`, `Issue Hook`...).
pub const GITLAB_EVENT_HEADER: &str = "X-Gitlab-Event";

/// The headers a forge's deliveries carry: (event name, delivery id).
pub fn headers(forge: ForgeKind) -> (&'static str, &'static str) {
    match forge {
        ForgeKind::GitHub => (GITHUB_EVENT_HEADER, GITHUB_DELIVERY_HEADER),
        ForgeKind::GitLab => (GITLAB_EVENT_HEADER, GITLAB_DELIVERY_HEADER),
    }
}

/// Checks a delivery from `forge` against `secret` (S11): GitHub's HMAC signature of the
/// raw `body`, or GitLab's token. `header` reads a request header by name. Nothing of the
/// body is parsed before this passes.
pub fn verify<'a>(
    forge: ForgeKind,
    secret: &Secret,
    header: impl Fn(&str) -> Option<&'a str>,
    body: &[u8],
) -> Result<()> {
    match forge {
        ForgeKind::GitHub => verify_github_signature(secret, header(GITHUB_SIGNATURE_HEADER), body),
        ForgeKind::GitLab => verify_gitlab_token(secret, header(GITLAB_TOKEN_HEADER)),
    }
}

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
        let mut guard = self.seen.lock();
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
