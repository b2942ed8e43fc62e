//! [`Secret`]: a token that never prints itself.

use std::fmt;

/// A token or key. `Debug` and `Display` show only its last 4 characters (`…abcd`, or
/// `****` when it is too short to show anything); [`Secret::expose`] is the one way out.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a token.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The token itself, for a request header or the like; never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the token is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Self(s.to_string())
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let chars: Vec<char> = self.0.chars().collect();
        if chars.len() < 12 {
            return f.write_str("****");
        }
        let tail: String = chars[chars.len() - 4..].iter().collect();
        write!(f, "…{tail}")
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_only_the_last_four_chars() {
        let s = Secret::new("ghp_abcdefghijklmnopqrstuvwxyz0123456789");
        assert_eq!(s.to_string(), "…6789");
        assert_eq!(format!("{s:?}"), "Secret(…6789)");
        assert_eq!(format!("{:?}", Some(&s)), "Some(Secret(…6789))");
        assert_eq!(Secret::new("short-pw").to_string(), "****");
        assert_eq!(s.expose(), "ghp_abcdefghijklmnopqrstuvwxyz0123456789");
    }
}
