//! [`Secret`]: the one wrapper for every secret value (S15). Its `Debug` and `Display`
//! show only the last 4 characters, so a secret that reaches a log line or an error
//! message stays masked; [`Secret::expose`] is the only way to the value.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use subtle::ConstantTimeEq;

/// A secret string: tokens, client secrets, the session secret, JWTs.
#[derive(Clone, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value itself, for the one place that must use it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when no value is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The masked form: `…` and the last 4 characters, or `…` alone when the value is
    /// too short (under 12 characters) for 4 characters to be safe to show.
    pub fn masked(&self) -> String {
        mask(&self.0)
    }
}

/// Masks any string the way [`Secret`] does.
pub fn mask(value: &str) -> String {
    let n = value.chars().count();
    if n < 12 {
        return "…".to_string();
    }
    let tail: String = value.chars().skip(n - 4).collect();
    format!("…{tail}")
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({})", self.masked())
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.masked())
    }
}

impl PartialEq for Secret {
    /// Constant-time comparison.
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl Eq for Secret {}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_string())
    }
}

/// Serializes the real value: only for files that store secrets (0600).
impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::capture_logs;

    const VALUE: &str = "ghp_abcdefghijklmnopqrstuvwxyz0123456789";

    #[test]
    fn s15_debug_and_display_show_only_last_four() {
        let s = Secret::new(VALUE);
        assert_eq!(format!("{s}"), "…6789");
        assert_eq!(format!("{s:?}"), "Secret(…6789)");
        assert_eq!(format!("{:?}", Some(&s)), "Some(Secret(…6789))");
        assert_eq!(s.expose(), VALUE);
        // Short values show nothing at all.
        assert_eq!(Secret::new("hunter2").to_string(), "…");
    }

    #[test]
    fn s15_log_lines_never_contain_the_value() {
        let s = Secret::new(VALUE);
        let out = capture_logs(|| {
            tracing::info!(token = %s, "display field");
            tracing::info!(token = ?s, "debug field");
            tracing::warn!("in a message: {s} {s:?}");
        });
        assert_eq!(out.matches("…6789").count(), 4, "{out}");
        assert!(!out.contains(VALUE), "{out}");
        assert!(!out.contains("ghp_"), "{out}");
    }

    #[test]
    fn serde_round_trip_keeps_the_value() {
        let s = Secret::new(VALUE);
        let json = serde_json::to_string(&s).unwrap();
        let back: Secret = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
        assert_ne!(back, Secret::new("other"));
    }
}
