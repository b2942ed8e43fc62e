//! OAuth login state (S6): a random state per login attempt, sent to the provider and
//! kept in a cookie whose value is HMAC-signed with the session secret. The callback
//! must bring back the same state with a valid, unexpired cookie for the same provider,
//! and each state works once: used states are remembered until they expire (bounded).

use crate::{Error, Secret};
use hmac::{Hmac, Mac};
use parking_lot::Mutex;
use rand::RngCore;
use sha2::Sha256;
use std::collections::HashMap;
use std::time::Duration;
use subtle::ConstantTimeEq;

/// Name of the cookie carrying the signed state.
pub const STATE_COOKIE: &str = "caic_oauth_state";
/// How long a login attempt may take.
pub const DEFAULT_TTL: Duration = Duration::from_secs(600);
/// How many used states are remembered at most; beyond it new logins are refused until
/// older states expire (never forgotten early, or they could be replayed).
pub const MAX_REMEMBERED: usize = 10_000;

/// A started login attempt.
#[derive(Debug, Clone)]
pub struct StartedState {
    /// The `state` query parameter for the provider.
    pub state: String,
    /// The value for the [`STATE_COOKIE`] cookie.
    pub cookie_value: String,
}

/// Issues and checks login states.
pub struct StateGuard {
    key: Vec<u8>,
    ttl: Duration,
    used: Mutex<HashMap<String, u64>>,
    max: usize,
}

impl std::fmt::Debug for StateGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateGuard")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl StateGuard {
    /// States signed with a key derived from the session secret, valid for `ttl`.
    pub fn new(session_secret: &Secret, ttl: Duration) -> Self {
        // A distinct key per use of the secret: HMAC(secret, purpose).
        let mut mac = Hmac::<Sha256>::new_from_slice(session_secret.expose().as_bytes())
            .expect("HMAC takes any key length");
        mac.update(b"caic oauth state v1");
        StateGuard {
            key: mac.finalize().into_bytes().to_vec(),
            ttl,
            used: Mutex::new(HashMap::new()),
            max: MAX_REMEMBERED,
        }
    }

    /// A new random state for a login with `provider`.
    pub fn start(&self, provider: &str) -> Result<StartedState, Error> {
        self.start_at(provider, crate::now_unix())
    }

    fn start_at(&self, provider: &str, now: u64) -> Result<StartedState, Error> {
        let mut bytes = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let state = hex::encode(bytes);
        let payload = format!("{state}.{}.{provider}", now + self.ttl.as_secs());
        let sig = hex::encode(self.sign(&payload));
        Ok(StartedState {
            cookie_value: format!("{payload}.{sig}"),
            state,
        })
    }

    /// Checks the callback's `state` against the cookie, then marks it used.
    pub fn verify(&self, provider: &str, state: &str, cookie_value: &str) -> Result<(), Error> {
        self.verify_at(provider, state, cookie_value, crate::now_unix())
    }

    fn verify_at(
        &self,
        provider: &str,
        state: &str,
        cookie_value: &str,
        now: u64,
    ) -> Result<(), Error> {
        let (payload, sig) = cookie_value
            .rsplit_once('.')
            .ok_or(Error::State("malformed cookie"))?;
        let sig = hex::decode(sig).map_err(|_| Error::State("malformed cookie"))?;
        if !bool::from(self.sign(payload).as_slice().ct_eq(&sig)) {
            return Err(Error::State("bad signature"));
        }
        let mut parts = payload.splitn(3, '.');
        let (Some(cookie_state), Some(exp), Some(cookie_provider)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(Error::State("malformed cookie"));
        };
        let exp: u64 = exp.parse().map_err(|_| Error::State("malformed cookie"))?;
        if !bool::from(cookie_state.as_bytes().ct_eq(state.as_bytes())) {
            return Err(Error::State("state does not match"));
        }
        if cookie_provider != provider {
            return Err(Error::State("started with another provider"));
        }
        if now >= exp {
            return Err(Error::State("expired"));
        }
        let mut used = self.used.lock();
        used.retain(|_, e| *e > now);
        if used.contains_key(state) {
            return Err(Error::State("already used"));
        }
        if used.len() >= self.max {
            return Err(Error::State("too many logins in progress"));
        }
        used.insert(state.to_string(), exp);
        Ok(())
    }

    fn sign(&self, payload: &str) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length");
        mac.update(payload.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard() -> StateGuard {
        StateGuard::new(
            &Secret::new("0123456789abcdef0123456789abcdef"),
            DEFAULT_TTL,
        )
    }

    #[test]
    fn s06_states_are_random_per_attempt() {
        let g = guard();
        let a = g.start("github").unwrap();
        let b = g.start("github").unwrap();
        assert_ne!(a.state, b.state);
        assert_eq!(a.state.len(), 32);
        g.verify("github", &a.state, &a.cookie_value).unwrap();
        g.verify("github", &b.state, &b.cookie_value).unwrap();
    }

    #[test]
    fn s06_mismatch_and_tampering_refused() {
        let g = guard();
        let a = g.start("github").unwrap();
        let b = g.start("github").unwrap();
        // The state in the URL is not the one in the cookie.
        let e = g.verify("github", &b.state, &a.cookie_value).unwrap_err();
        assert_eq!(e.to_string(), "login state refused: state does not match");
        // A cookie rewritten to carry the attacker's state.
        let forged = a.cookie_value.replacen(&a.state, &b.state, 1);
        let e = g.verify("github", &b.state, &forged).unwrap_err();
        assert_eq!(e.to_string(), "login state refused: bad signature");
        // A cookie signed with another secret.
        let other = StateGuard::new(&Secret::new("another secret, quite long"), DEFAULT_TTL);
        let c = other.start("github").unwrap();
        assert!(g.verify("github", &c.state, &c.cookie_value).is_err());
        // Another provider.
        let e = g.verify("gitlab", &a.state, &a.cookie_value).unwrap_err();
        assert_eq!(
            e.to_string(),
            "login state refused: started with another provider"
        );
        assert!(g.verify("github", &a.state, "garbage").is_err());
        assert!(g.verify("github", &a.state, "").is_err());
    }

    #[test]
    fn s06_replay_refused_and_expiry_enforced() {
        let g = guard();
        let a = g.start("github").unwrap();
        g.verify("github", &a.state, &a.cookie_value).unwrap();
        let e = g.verify("github", &a.state, &a.cookie_value).unwrap_err();
        assert_eq!(e.to_string(), "login state refused: already used");
        let old = g.start_at("github", crate::now_unix() - 601).unwrap();
        let e = g
            .verify("github", &old.state, &old.cookie_value)
            .unwrap_err();
        assert_eq!(e.to_string(), "login state refused: expired");
    }

    #[test]
    fn s06_used_states_are_bounded_but_never_forgotten_early() {
        let mut g = guard();
        g.max = 2;
        let now = crate::now_unix();
        for _ in 0..2 {
            let s = g.start_at("github", now).unwrap();
            g.verify_at("github", &s.state, &s.cookie_value, now)
                .unwrap();
        }
        let s = g.start_at("github", now).unwrap();
        let e = g
            .verify_at("github", &s.state, &s.cookie_value, now)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "login state refused: too many logins in progress"
        );
        // Once the old ones expired, room is made again.
        let later = now + 601;
        let s = g.start_at("github", later).unwrap();
        g.verify_at("github", &s.state, &s.cookie_value, later)
            .unwrap();
    }
}
