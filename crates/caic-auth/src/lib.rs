//! caic's authentication and exposure controls: masked secrets, the persisted session
//! secret, HS256 session JWTs and their cookie, OAuth login for GitHub and GitLab
//! (written against their HTTP APIs), allowed users, the users store, the IP/country
//! allowlist, trusted-proxy handling and `gh auth token` detection.
//!
//! The server wires these into middleware and routes; this crate owns the decisions.

#![warn(missing_docs)]

pub mod allowed;
pub mod allowlist;
pub mod config;
pub mod cookie;
pub mod error;
pub mod files;
pub mod forwarded;
pub mod geo;
pub mod gh_token;
pub mod github_meta;
pub mod login;
pub mod oauth;
pub mod secret;
pub mod session;
pub mod settings;
pub mod state;
pub mod users;

#[cfg(any(test, feature = "mock"))]
pub mod mock_forge;
#[cfg(any(test, feature = "mock"))]
pub mod testutil;

pub use error::Error;
pub use secret::Secret;

/// Seconds since the Unix epoch, now.
pub(crate) fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
