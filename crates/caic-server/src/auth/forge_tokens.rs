//! The task owner's forge token (their OAuth login) for pull requests, CI and token
//! injection: first in the S17 order.

use super::Auth;
use caic_auth::oauth::Provider;
use caic_engine::{ForgeKind, Secret, UserTokens};
use std::sync::Arc;

/// A task owner's token, when they logged in with that forge.
pub struct OwnerTokens(pub Arc<Auth>);

impl UserTokens for OwnerTokens {
    fn token_for(&self, owner: &str, forge: ForgeKind) -> Option<Secret> {
        let user = self.0.login()?.users().get(owner)?;
        let same = matches!(
            (user.provider, forge),
            (Provider::GitHub, ForgeKind::GitHub) | (Provider::GitLab, ForgeKind::GitLab)
        );
        // An expired token is no use (the refresher renews GitLab's before they expire;
        // if it could not, the next credential in line is used).
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let fresh = user.token_expires_at.is_none_or(|t| t > now);
        (same && fresh && !user.token.is_empty()).then(|| user.token.clone())
    }
}
