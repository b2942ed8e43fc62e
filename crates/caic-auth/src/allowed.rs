//! The allowed-users check (S5): a user not on `oauth_allowed_users` is refused even
//! after a valid login. Names compare case-insensitively (forges treat them so); an
//! entry `github:name` or `gitlab:name` matches on that provider only, a bare `name` on
//! any.

use crate::oauth::Provider;

/// The `oauth_allowed_users` list.
#[derive(Debug, Clone, Default)]
pub struct AllowedUsers {
    entries: Vec<(Option<Provider>, String)>,
}

impl AllowedUsers {
    /// Builds the list from config entries.
    pub fn new<I, S>(entries: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let entries = entries
            .into_iter()
            .filter_map(|e| {
                let e = e.as_ref().trim();
                if e.is_empty() {
                    return None;
                }
                Some(match e.split_once(':') {
                    Some((p, name)) => match Provider::from_name(&p.to_ascii_lowercase()) {
                        Some(p) => (Some(p), name.trim().to_lowercase()),
                        None => (None, e.to_lowercase()),
                    },
                    None => (None, e.to_lowercase()),
                })
            })
            .collect();
        AllowedUsers { entries }
    }

    /// True when `username` at `provider` may log in.
    pub fn allows(&self, provider: Provider, username: &str) -> bool {
        let name = username.trim().to_lowercase();
        !name.is_empty()
            && self
                .entries
                .iter()
                .any(|(p, n)| *n == name && p.is_none_or(|p| p == provider))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s05_allowed_users_case_insensitive() {
        let a = AllowedUsers::new(["Alice", "gitlab:Bob", " "]);
        assert!(a.allows(Provider::GitHub, "alice"));
        assert!(a.allows(Provider::GitLab, "ALICE"));
        assert!(a.allows(Provider::GitLab, "bob"));
        assert!(!a.allows(Provider::GitHub, "bob"));
        assert!(!a.allows(Provider::GitHub, "mallory"));
        assert!(!a.allows(Provider::GitHub, ""));
        assert!(!AllowedUsers::new(Vec::<String>::new()).allows(Provider::GitHub, "alice"));
    }
}
