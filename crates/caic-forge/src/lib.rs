//! GitHub and GitLab for caic: which forge a remote is, pull requests, CI checks and their
//! failing logs, squash merges, GitHub App tokens, and webhook verification.
//!
//! - [`parse_remote`]: a remote URL -> [`Remote`] (GitHub, gitlab.com or self-hosted GitLab).
//! - [`GitHub`], [`GitLab`]: REST clients for one repository and one credential, with a base
//!   URL (tests use a mock server) and a shared [`RateLimiter`] (one request per second per
//!   credential; 403/429 rate limits are waited out or reported as [`Error::RateLimited`]).
//! - [`GitHubApp`]: RS256 app JWT -> installation tokens, cached.
//! - [`Forge`]: what caic does with a forge repository (pull requests, comments, checks,
//!   failing logs, merge), implemented by both clients; [`connect`] picks one for a remote.
//! - [`webhook`] (S11): [`verify_github_signature`], [`verify_gitlab_token`],
//!   [`ReplayGuard`], and deliveries parsed into typed [`webhook::Event`]s. GitHub's hook
//!   ranges (S12) are fetched by caic-auth's `GitHubRanges`, shared with the allowlist.
//! - Every token is a [`Secret`]: it prints as its last 4 characters only.

#![warn(missing_docs)]

mod api;
mod app;
mod ci;
mod error;
mod excerpt;
mod forge;
mod github;
mod gitlab;
mod limit;
#[cfg(any(test, feature = "mock"))]
pub mod mock;
mod remote;
mod secret;
pub mod webhook;

pub use app::{GitHubApp, RENEW_BEFORE};
pub use ci::{ci_status, Check, CheckState, CiStatus, NewPull, PullRequest};
pub use error::{Error, Result};
pub use excerpt::{github_failing_steps, gitlab_trace_tail, MAX_CHARS, MAX_LINES};
pub use forge::{connect, Forge};
pub use github::{GitHub, GITHUB_API};
pub use gitlab::{GitLab, Pipeline};
pub use limit::{RateLimiter, DEFAULT_INTERVAL};
pub use remote::{parse_remote, ForgeKind, Remote};
pub use secret::Secret;
pub use webhook::{
    verify_github_signature, verify_gitlab_token, ReplayGuard, GITHUB_DELIVERY_HEADER,
    GITHUB_SIGNATURE_HEADER, GITLAB_TOKEN_HEADER,
};
