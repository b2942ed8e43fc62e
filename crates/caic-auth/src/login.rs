//! The OAuth login flow, start to session (S4-S6), and checking a session on later
//! requests. The server's routes call [`Login::start`] (redirect + state cookie),
//! [`Login::finish`] (callback) and [`Login::authenticate`] (every request).

use crate::allowed::AllowedUsers;
use crate::config::{callback_url, validate_config, AuthConfig};
use crate::oauth::{OAuthClient, Provider};
use crate::session::{Claims, Sessions, DEFAULT_LIFETIME};
use crate::state::{StateGuard, DEFAULT_TTL};
use crate::users::{User, UserStore};
use crate::{Error, Secret};
use std::sync::Arc;
use std::time::Duration;

/// A login that has begun.
#[derive(Debug, Clone)]
pub struct LoginStart {
    /// Where to redirect the browser (the provider's authorize page).
    pub redirect_url: String,
    /// The value of the [`crate::state::STATE_COOKIE`] cookie to set.
    pub state_cookie: String,
}

/// A login that succeeded.
#[derive(Debug, Clone)]
pub struct LoginDone {
    /// The stored user.
    pub user: User,
    /// The session JWT (cookie `caic_session` or a bearer token).
    pub session: Secret,
}

/// Everything the login flow needs, built once at startup.
#[derive(Debug)]
pub struct Login {
    clients: Vec<OAuthClient>,
    states: StateGuard,
    sessions: Sessions,
    allowed: AllowedUsers,
    users: Arc<UserStore>,
}

impl Login {
    /// Builds the flow from the config (validated first: S5, S10), the session secret
    /// and the users store.
    pub fn new(
        cfg: &AuthConfig,
        session_secret: &Secret,
        users: Arc<UserStore>,
    ) -> Result<Self, Error> {
        validate_config(cfg)?;
        if !cfg.oauth_enabled() {
            return Err(Error::Config("no OAuth provider is configured".to_string()));
        }
        let external = cfg.external_url.as_deref().unwrap_or_default();
        let clients = cfg
            .providers()
            .into_iter()
            .map(|(p, app)| OAuthClient::new(p, app, &callback_url(external, p)))
            .collect::<Result<Vec<_>, Error>>()?;
        let lifetime = cfg
            .session_lifetime_secs
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_LIFETIME);
        Ok(Login {
            clients,
            states: StateGuard::new(session_secret, DEFAULT_TTL),
            sessions: Sessions::new(session_secret, lifetime),
            allowed: AllowedUsers::new(&cfg.oauth_allowed_users),
            users,
        })
    }

    /// The configured providers (one login button each).
    pub fn providers(&self) -> Vec<Provider> {
        self.clients.iter().map(|c| c.provider()).collect()
    }

    /// Issues and verifies session tokens.
    pub fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    /// The users store.
    pub fn users(&self) -> &Arc<UserStore> {
        &self.users
    }

    fn client(&self, provider: Provider) -> Result<&OAuthClient, Error> {
        self.clients
            .iter()
            .find(|c| c.provider() == provider)
            .ok_or(Error::NotConfigured(provider.name()))
    }

    /// Refreshes the forge tokens that expire within `within` (GitLab's, which last two
    /// hours), so calls on the user's behalf keep working between logins. Returns how
    /// many were refreshed; failures are logged (masked) and leave the old token.
    pub async fn refresh_expiring(&self, within: Duration) -> usize {
        let due = crate::now_unix() + within.as_secs();
        let mut n = 0;
        for u in self.users.list() {
            let (Some(rt), Some(exp)) = (&u.refresh_token, u.token_expires_at) else {
                continue;
            };
            if exp > due {
                continue;
            }
            let Ok(client) = self.client(u.provider) else {
                continue;
            };
            match client.refresh(rt).await {
                Ok(grant) => match self.users.set_token(&u.id, &grant) {
                    Ok(_) => {
                        tracing::info!(user = %u.id, token = %grant.access_token, "forge token refreshed");
                        n += 1;
                    }
                    Err(e) => {
                        tracing::error!(user = %u.id, error = %e, "storing a refreshed token")
                    }
                },
                Err(e) => tracing::warn!(user = %u.id, error = %e, "refreshing the forge token"),
            }
        }
        n
    }

    /// Begins a login: a fresh state, the authorize URL carrying it, and the signed
    /// cookie value that must come back with the callback.
    pub fn start(&self, provider: Provider) -> Result<LoginStart, Error> {
        let client = self.client(provider)?;
        let s = self.states.start(provider.name())?;
        tracing::info!(%provider, "login started");
        Ok(LoginStart {
            redirect_url: client.authorize_url(&s.state),
            state_cookie: s.cookie_value,
        })
    }

    /// Completes a login from the callback's `code` and `state` and the state cookie:
    /// verifies the state (before any network call), exchanges the code, fetches the
    /// profile, checks the allowed users, stores the user and issues the session.
    pub async fn finish(
        &self,
        provider: Provider,
        code: &str,
        state: &str,
        state_cookie: Option<&str>,
    ) -> Result<LoginDone, Error> {
        let client = self.client(provider)?;
        let cookie = state_cookie.ok_or(Error::State("no state cookie"))?;
        if let Err(e) = self.states.verify(provider.name(), state, cookie) {
            tracing::warn!(%provider, "login refused: {e}");
            return Err(e);
        }
        let grant = client.exchange_code(code).await?;
        let profile = client.fetch_profile(&grant.access_token).await?;
        if !self.allowed.allows(provider, &profile.username) {
            tracing::warn!(%provider, user = %profile.username, "login refused: not in oauth_allowed_users");
            return Err(Error::NotAllowed(profile.username));
        }
        let user = self.users.record_login(&profile, &grant)?;
        let session = self.sessions.issue(&user.id, &user.username)?;
        tracing::info!(%provider, user = %user.username, id = %user.id, session = %session, "logged in");
        Ok(LoginDone { user, session })
    }

    /// Checks a session token on a request: a valid HS256 JWT of ours, unexpired, for a
    /// user who is still stored and still allowed (removing someone from
    /// `oauth_allowed_users` ends their sessions).
    pub fn authenticate(&self, token: &str) -> Result<(Claims, User), Error> {
        let claims = self.sessions.verify(token)?;
        let user = self
            .users
            .get(&claims.sub)
            .ok_or_else(|| Error::Session("unknown user".to_string()))?;
        if !self.allowed.allows(user.provider, &user.username) {
            return Err(Error::NotAllowed(user.username));
        }
        Ok((claims, user))
    }
}

#[cfg(test)]
mod tests;
