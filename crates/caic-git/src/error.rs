//! The one error type of caic-git.

use std::path::PathBuf;
use std::time::Duration;

/// What can go wrong running git for caic.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A git command exited with a failure status.
    #[error("`{command}` failed ({status}): {stderr}")]
    Git {
        /// The command line, e.g. `git -C /src/foo fetch ...`.
        command: String,
        /// The exit status as git reported it.
        status: String,
        /// git's stderr, trimmed, shortened, with URL credentials masked.
        stderr: String,
    },
    /// A git command did not finish in time and was killed.
    #[error("`{command}` timed out after {}s", timeout.as_secs())]
    Timeout {
        /// The command line.
        command: String,
        /// The limit that was hit.
        timeout: Duration,
    },
    /// git could not be started at all (not installed, bad directory...).
    #[error("could not run `{command}`: {source}")]
    Spawn {
        /// The command line.
        command: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A file system operation outside git failed.
    #[error("{context}: {source}")]
    Io {
        /// What caic was doing.
        context: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The name is not a valid branch name (or starts with `-`).
    #[error("invalid branch name {0:?}")]
    InvalidBranch(String),
    /// Neither `origin/<base>` nor a local `<base>` exists.
    #[error("no branch {0:?} in origin or locally")]
    UnknownBase(String),
    /// The local branch does not exist.
    #[error("no local branch {0:?}")]
    UnknownBranch(String),
    /// The branch to create already exists.
    #[error("branch {0:?} already exists")]
    BranchExists(String),
    /// caic refuses to move a branch that is checked out in a worktree of the host repo.
    #[error("branch {branch:?} is checked out in {}; caic will not move it", worktree.display())]
    BranchCheckedOut {
        /// The branch.
        branch: String,
        /// The worktree it is checked out in.
        worktree: PathBuf,
    },
    /// The bundle is valid but does not carry the expected branch.
    #[error("bundle does not contain refs/heads/{0}")]
    BundleMissingBranch(String),
}

/// Result alias for caic-git.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Masks credentials in URLs: any `user@` of an http(s) URL (tokens are often sent as the
/// user name) and any `user:password@` (`https://u:tok@host/x` -> `https://***@host/x`).
/// Plain user names of other schemes (`ssh://git@host`) are kept.
pub(crate) fn mask_url_credentials(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let scheme_start = head[..i]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '+' || c == '-' || c == '.'))
            .map_or(0, |p| p + 1);
        let http = head[scheme_start..i]
            .to_ascii_lowercase()
            .starts_with("http");
        // The authority ends at the first '/', whitespace or quote.
        let end = tail
            .find(|c: char| c == '/' || c.is_whitespace() || c == '\'' || c == '"')
            .unwrap_or(tail.len());
        match tail[..end].rfind('@') {
            Some(at) if http || tail[..at].contains(':') => {
                out.push_str("***");
                out.push_str(&tail[at..end]);
            }
            _ => out.push_str(&tail[..end]),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_credentials_in_urls() {
        assert_eq!(
            mask_url_credentials("fatal: 'https://bob:ghp_x@github.com/o/r' x"),
            "fatal: 'https://***@github.com/o/r' x"
        );
        assert_eq!(
            mask_url_credentials("https://github.com/o/r and ssh://git@h:22/r"),
            "https://github.com/o/r and ssh://git@h:22/r"
        );
        assert_eq!(
            mask_url_credentials("url=https://ghp_abc@github.com/o/r.git"),
            "url=https://***@github.com/o/r.git"
        );
        assert_eq!(mask_url_credentials("ssh://me:pw@h/r"), "ssh://***@h/r");
        assert_eq!(mask_url_credentials("no url here"), "no url here");
    }
}
