//! Session tokens (S1, S3): HS256 JWTs signed with the session secret, with a fixed
//! lifetime and no refresh. Verification accepts HS256 only: `alg: none`, other HMAC
//! sizes and asymmetric algorithms are refused, as are expired tokens and tokens
//! signed with any other secret.

use crate::{Error, Secret};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Default session lifetime: 7 days. After it the user logs in again.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);

/// What a session token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id in the users store (`github:123`).
    pub sub: String,
    /// The username at the provider, for display.
    pub name: String,
    /// Issued at, Unix seconds.
    pub iat: u64,
    /// Expires at, Unix seconds.
    pub exp: u64,
}

/// Issues and verifies session tokens.
#[derive(Clone)]
pub struct Sessions {
    encoding: EncodingKey,
    decoding: DecodingKey,
    lifetime: Duration,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

impl Sessions {
    /// Sessions signed with `secret`, valid for `lifetime`.
    pub fn new(secret: &Secret, lifetime: Duration) -> Self {
        Sessions {
            encoding: EncodingKey::from_secret(secret.expose().as_bytes()),
            decoding: DecodingKey::from_secret(secret.expose().as_bytes()),
            lifetime,
        }
    }

    /// The fixed lifetime (also the cookie's Max-Age).
    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// A token for user `sub` named `name`, valid from now for the lifetime.
    pub fn issue(&self, sub: &str, name: &str) -> Result<Secret, Error> {
        self.issue_at(sub, name, crate::now_unix())
    }

    /// A token as if issued at `iat` (Unix seconds); for tests and clocks.
    pub fn issue_at(&self, sub: &str, name: &str, iat: u64) -> Result<Secret, Error> {
        let claims = Claims {
            sub: sub.to_string(),
            name: name.to_string(),
            iat,
            exp: iat + self.lifetime.as_secs(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map(Secret::new)
            .map_err(|e| Error::Session(e.to_string()))
    }

    /// Checks a token: HS256 only, signed with our secret, not expired.
    pub fn verify(&self, token: &str) -> Result<Claims, Error> {
        let mut v = Validation::new(Algorithm::HS256);
        v.algorithms = vec![Algorithm::HS256];
        v.leeway = 0;
        v.set_required_spec_claims(&["exp", "sub"]);
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &v)
            .map(|d| d.claims)
            .map_err(|e| {
                use jsonwebtoken::errors::ErrorKind;
                let why = match e.kind() {
                    ErrorKind::ExpiredSignature => "expired",
                    ErrorKind::InvalidSignature => "bad signature",
                    ErrorKind::InvalidAlgorithm => "algorithm not allowed",
                    _ => "malformed token",
                };
                Error::Session(why.to_string())
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn sessions(secret: &str) -> Sessions {
        Sessions::new(&Secret::new(secret), Duration::from_secs(3600))
    }

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
    }

    #[test]
    fn s01_issued_token_verifies() {
        let s = sessions("0123456789abcdef0123456789abcdef");
        let t = s.issue("github:1", "alice").unwrap();
        let c = s.verify(t.expose()).unwrap();
        assert_eq!(c.sub, "github:1");
        assert_eq!(c.name, "alice");
        assert_eq!(c.exp - c.iat, 3600);
        let header = jsonwebtoken::decode_header(t.expose()).unwrap();
        assert_eq!(header.alg, Algorithm::HS256);
    }

    #[test]
    fn s03_expired_token_refused() {
        let s = sessions("0123456789abcdef0123456789abcdef");
        let t = s
            .issue_at("github:1", "alice", crate::now_unix() - 3601)
            .unwrap();
        let err = s.verify(t.expose()).unwrap_err();
        assert_eq!(err.to_string(), "session refused: expired");
    }

    #[test]
    fn s01_token_signed_with_another_secret_refused() {
        let ours = sessions("0123456789abcdef0123456789abcdef");
        let theirs = sessions("fedcba9876543210fedcba9876543210");
        let t = theirs.issue("github:1", "alice").unwrap();
        let err = ours.verify(t.expose()).unwrap_err();
        assert_eq!(err.to_string(), "session refused: bad signature");
    }

    #[test]
    fn s01_alg_none_refused() {
        let s = sessions("0123456789abcdef0123456789abcdef");
        let exp = crate::now_unix() + 3600;
        let payload = b64(&format!(
            r#"{{"sub":"github:1","name":"alice","iat":0,"exp":{exp}}}"#
        ));
        for header in [r#"{"alg":"none","typ":"JWT"}"#, r#"{"alg":"None"}"#] {
            let token = format!("{}.{payload}.", b64(header));
            assert!(s.verify(&token).is_err(), "{header}");
            // Even with a signature part copied from a real token.
            let real = s.issue("github:1", "alice").unwrap();
            let sig = real.expose().rsplit('.').next().unwrap();
            let token = format!("{}.{payload}.{sig}", b64(header));
            assert!(s.verify(&token).is_err(), "{header}");
        }
    }

    #[test]
    fn s01_other_algorithms_refused_even_with_our_secret() {
        let secret = "0123456789abcdef0123456789abcdef";
        let s = sessions(secret);
        let claims = Claims {
            sub: "github:1".into(),
            name: "alice".into(),
            iat: crate::now_unix(),
            exp: crate::now_unix() + 3600,
        };
        for alg in [Algorithm::HS384, Algorithm::HS512] {
            let t = jsonwebtoken::encode(
                &Header::new(alg),
                &claims,
                &EncodingKey::from_secret(secret.as_bytes()),
            )
            .unwrap();
            let err = s.verify(&t).unwrap_err();
            assert_eq!(err.to_string(), "session refused: algorithm not allowed");
        }
    }

    #[test]
    fn s03_tampered_payload_refused() {
        let s = sessions("0123456789abcdef0123456789abcdef");
        let t = s.issue("github:1", "alice").unwrap();
        let parts: Vec<&str> = t.expose().split('.').collect();
        let forged = b64(r#"{"sub":"github:2","name":"mallory","iat":0,"exp":9999999999}"#);
        let token = format!("{}.{forged}.{}", parts[0], parts[2]);
        assert!(s.verify(&token).is_err());
    }
}
