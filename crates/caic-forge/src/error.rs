//! The one error type of caic-forge. No variant ever holds a token.

use std::net::IpAddr;
use std::time::Duration;

/// What can go wrong talking to a forge or verifying one of its webhooks.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request could not be sent or its response not read (URL left out of the message).
    #[error("{context}: {source}")]
    Http {
        /// What caic was doing, e.g. `GET /repos/o/r/pulls`.
        context: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// The forge answered with a failure status.
    #[error("{context}: HTTP {status}: {message}")]
    Status {
        /// What caic was doing.
        context: String,
        /// The HTTP status code.
        status: u16,
        /// The forge's `message` (or the start of its body), shortened.
        message: String,
    },
    /// The forge's rate limit is hit for longer than caic waits inline.
    #[error("{context}: rate limited, retry in {}s", retry_after.as_secs())]
    RateLimited {
        /// What caic was doing.
        context: String,
        /// How long until the limit resets.
        retry_after: Duration,
    },
    /// The response body did not have the documented shape.
    #[error("{context}: unexpected response: {message}")]
    Decode {
        /// What caic was doing.
        context: String,
        /// The parse error.
        message: String,
    },
    /// The GitHub App private key is not a usable RSA PEM key, or signing failed.
    #[error("GitHub App key: {0}")]
    AppKey(String),
    /// A webhook came without its signature or token header.
    #[error("webhook: missing {0} header")]
    MissingSignature(&'static str),
    /// A webhook's signature or token does not match the configured secret.
    #[error("webhook: signature mismatch")]
    BadSignature,
    /// A GitHub webhook came from outside GitHub's published hook ranges.
    #[error("webhook: source address {0} is not in GitHub's hook ranges")]
    AddressNotAllowed(IpAddr),
    /// A verified webhook's body cannot be parsed.
    #[error("webhook: {0}")]
    BadPayload(String),
    /// A webhook delivery id was already processed.
    #[error("webhook: delivery {0} already processed")]
    Replayed(String),
}

/// Result alias for caic-forge.
pub type Result<T, E = Error> = std::result::Result<T, E>;
