//! The crate's one error type. Messages never carry a secret value.

use std::path::PathBuf;

/// Everything that can go wrong in authentication.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The auth settings are invalid; the message names the setting (S5, S10).
    #[error("invalid auth configuration: {0}")]
    Config(String),
    /// A file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A stored file exists but cannot be parsed.
    #[error("{path}: {message}")]
    Corrupt {
        /// The path.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A session token was refused (expired, bad signature, wrong algorithm, malformed).
    #[error("session refused: {0}")]
    Session(String),
    /// The OAuth login state was refused (missing, tampered, expired, replayed).
    #[error("login state refused: {0}")]
    State(&'static str),
    /// The OAuth provider answered with an error or something unexpected.
    #[error("{provider} login failed: {message}")]
    Provider {
        /// `github` or `gitlab`.
        provider: &'static str,
        /// What went wrong (the provider's error code, never a token).
        message: String,
    },
    /// The provider is not configured.
    #[error("{0} login is not configured")]
    NotConfigured(&'static str),
    /// A logged-in user who is not on `oauth_allowed_users` (S5).
    #[error("user {0:?} is not allowed")]
    NotAllowed(String),
    /// An `allow_origins` entry is not understood.
    #[error("allow_origins: {0}")]
    Origin(String),
    /// The GeoIP database could not be opened or read.
    #[error("GeoIP database {path}: {message}")]
    Geo {
        /// The database file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// An HTTP request to a provider failed at the transport level.
    #[error("HTTP request failed: {0}")]
    Http(String),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Transport errors without the URL (it may carry a query string).
    pub(crate) fn http(e: reqwest::Error) -> Self {
        Error::Http(e.without_url().to_string())
    }
}
