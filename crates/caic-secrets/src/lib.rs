//! [`Secret`]: the one wrapper for every secret value in caic (S15): API keys, forge
//! tokens, OAuth client secrets, the session secret, JWTs, private keys.
//!
//! - `Debug` and `Display` show only the last 4 characters (`…abcd`), or `…` alone
//!   when the value is under 12 characters, so a secret that reaches a log line, an
//!   error message or a `{:?}` of a config stays masked.
//! - [`Secret::expose`] is the only way to the value.
//! - Equality is constant-time (`subtle`), and the value is wiped from memory when
//!   dropped (`zeroize`).
//! - It deserialises from a plain string (config files). It does not implement
//!   `Serialize`: the few files that must store a secret say so on the field with
//!   `#[serde(serialize_with = "caic_secrets::serialize_exposed")]`.

#![warn(missing_docs)]

use serde::{Deserialize, Deserializer, Serializer};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// A secret string. Prints masked; read it with [`Secret::expose`].
#[derive(Clone, Default)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(Zeroizing::new(value.into()))
    }

    /// The value itself, for the one place that must use it (a request header, the
    /// agent's environment); never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when no value is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The masked form, as `Display` prints it.
    pub fn masked(&self) -> String {
        mask(&self.0)
    }
}

/// Masks any string the way [`Secret`] does: `…` and the last 4 characters, or `…`
/// alone when the value is too short (under 12 characters) for 4 to be safe to show.
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
    /// Constant-time in the length of the values.
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl Eq for Secret {}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret::new(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret::new(value)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret::new)
    }
}

/// Serialises the real value, for a field of a private (0600) file that must store
/// it: `#[serde(serialize_with = "caic_secrets::serialize_exposed")]`.
pub fn serialize_exposed<S: Serializer>(secret: &Secret, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(secret.expose())
}

/// [`serialize_exposed`] for an optional secret.
pub fn serialize_exposed_opt<S: Serializer>(
    secret: &Option<Secret>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match secret {
        Some(v) => s.serialize_some(v.expose()),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALUE: &str = "sk-ant-api03-abcdefghijklmnopqrstuvwxyz-6789";

    #[derive(Debug, Deserialize, serde::Serialize)]
    struct Holder {
        name: String,
        #[serde(serialize_with = "serialize_exposed")]
        key: Secret,
        #[serde(serialize_with = "serialize_exposed_opt")]
        other: Option<Secret>,
    }

    #[test]
    fn s15_debug_and_display_show_only_last_four() {
        let s = Secret::new(VALUE);
        assert_eq!(format!("{s}"), "…6789");
        assert_eq!(format!("{s:?}"), "Secret(…6789)");
        assert_eq!(format!("{:?}", Some(&s)), "Some(Secret(…6789))");
        assert_eq!(s.expose(), VALUE);
    }

    #[test]
    fn s15_a_struct_holding_one_never_prints_it() {
        let h = Holder {
            name: "claude".into(),
            key: Secret::new(VALUE),
            other: Some(Secret::new(VALUE)),
        };
        for out in [format!("{h:?}"), format!("{h:#?}")] {
            assert!(!out.contains(VALUE), "{out}");
            assert!(!out.contains("sk-ant"), "{out}");
            assert!(out.contains("…6789"), "{out}");
        }
    }

    #[test]
    fn s15_short_secrets_are_fully_masked() {
        for v in ["", "x", "hunter2", "elevenchars"] {
            let s = Secret::new(v);
            assert_eq!(s.to_string(), "…");
            assert_eq!(format!("{s:?}"), "Secret(…)");
        }
        assert_eq!(Secret::new("twelve-chars").to_string(), "…hars");
    }

    #[test]
    fn equality_compares_values() {
        assert_eq!(Secret::new(VALUE), Secret::from(VALUE.to_string()));
        assert_ne!(Secret::new(VALUE), Secret::new("sk-ant-api03-other"));
        // A prefix is not equal, whatever the lengths.
        assert_ne!(Secret::new(VALUE), Secret::new(&VALUE[..10]));
        assert_eq!(Secret::default(), Secret::new(""));
        assert!(Secret::default().is_empty());
    }

    #[test]
    fn deserialises_from_a_string_and_serialises_only_on_request() {
        let h: Holder =
            serde_json::from_str(&format!(r#"{{"name":"n","key":"{VALUE}","other":null}}"#))
                .unwrap();
        assert_eq!(h.key.expose(), VALUE);
        assert!(h.other.is_none());
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(
            json,
            format!(r#"{{"name":"n","key":"{VALUE}","other":null}}"#)
        );
        let back: Holder = serde_json::from_str(&json).unwrap();
        assert_eq!(back.key, h.key);
    }
}
