//! Running the `git` CLI: one place for the environment, the timeout and error mapping.

use crate::error::{mask_url_credentials, Error, Result};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Command;

/// Time limit of an ordinary git command.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(60);
/// Time limit of a command that moves a whole repository (bundles).
pub(crate) const BUNDLE_TIMEOUT: Duration = Duration::from_secs(600);
/// Longest stderr kept in an error.
const MAX_STDERR: usize = 2000;

/// Environment variables that would make git look at another repo, index or work tree.
const SCRUBBED_ENV: &[&str] = &[
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE",
    "GIT_COMMON_DIR",
    "GIT_PREFIX",
];

/// What a finished git command produced.
pub(crate) struct Output {
    /// Exit code, `None` when killed by a signal.
    pub code: Option<i32>,
    /// Raw stdout.
    pub stdout: Vec<u8>,
    /// Raw stderr.
    pub stderr: Vec<u8>,
}

impl Output {
    /// Stdout as text without the trailing newline.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.stdout)
            .trim_end_matches(['\n', '\r'])
            .to_string()
    }
}

/// The command line as shown in errors and logs.
fn command_line(repo: &Path, args: &[&str]) -> String {
    format!("git -C {} {}", repo.display(), args.join(" "))
}

/// Runs `git -C repo args...` with no stdin, whatever its exit status.
///
/// Optional locks are off (`git status` and friends never rewrite the host's index), prompts
/// are off, messages are in English, and env vars pointing git elsewhere are removed.
pub(crate) async fn run(repo: &Path, args: &[&str], timeout: Duration) -> Result<Output> {
    let command = command_line(repo, args);
    let mut cmd = Command::new("git");
    cmd.arg("-C")
        .arg(repo)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_OPTIONAL_LOCKS", "0")
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for var in SCRUBBED_ENV {
        cmd.env_remove(var);
    }
    tracing::trace!(%command, "git");
    let child = cmd.spawn().map_err(|source| Error::Spawn {
        command: command.clone(),
        source,
    })?;
    match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(Ok(out)) => Ok(Output {
            code: out.status.code(),
            stdout: out.stdout,
            stderr: out.stderr,
        }),
        Ok(Err(source)) => Err(Error::Spawn { command, source }),
        // Dropping the future kills the child (kill_on_drop).
        Err(_) => Err(Error::Timeout { command, timeout }),
    }
}

/// The error for a failed command.
fn failure(repo: &Path, args: &[&str], out: &Output) -> Error {
    let mut stderr = mask_url_credentials(String::from_utf8_lossy(&out.stderr).trim());
    if stderr.len() > MAX_STDERR {
        let mut cut = MAX_STDERR;
        while !stderr.is_char_boundary(cut) {
            cut -= 1;
        }
        stderr.truncate(cut);
        stderr.push_str("...");
    }
    Error::Git {
        command: command_line(repo, args),
        status: match out.code {
            Some(c) => format!("exit {c}"),
            None => "killed by a signal".to_string(),
        },
        stderr,
    }
}

/// Runs git and fails unless it exits 0; returns the raw output.
pub(crate) async fn git_with(repo: &Path, args: &[&str], timeout: Duration) -> Result<Output> {
    let out = run(repo, args, timeout).await?;
    if out.code == Some(0) {
        Ok(out)
    } else {
        Err(failure(repo, args, &out))
    }
}

/// Runs git and fails unless it exits 0; returns stdout as text (trailing newline removed).
pub(crate) async fn git(repo: &Path, args: &[&str]) -> Result<String> {
    Ok(git_with(repo, args, TIMEOUT).await?.text())
}

/// Runs a git query that exits 1 with nothing on stderr for "no such thing"
/// (`rev-parse --verify -q`, `symbolic-ref -q`, `config --get`): `None` then.
pub(crate) async fn git_opt(repo: &Path, args: &[&str]) -> Result<Option<String>> {
    let out = run(repo, args, TIMEOUT).await?;
    match out.code {
        Some(0) => Ok(Some(out.text())),
        Some(1) if out.stderr.iter().all(u8::is_ascii_whitespace) => Ok(None),
        _ => Err(failure(repo, args, &out)),
    }
}

/// The commit a revision names, or `None` when it does not exist.
pub(crate) async fn resolve_commit(repo: &Path, rev: &str) -> Result<Option<String>> {
    let spec = format!("{rev}^{{commit}}");
    git_opt(repo, &["rev-parse", "--verify", "-q", &spec]).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn failure_names_command_and_trimmed_stderr() {
        let tmp = tempfile::tempdir().unwrap();
        let err = git(tmp.path(), &["rev-parse", "HEAD"]).await.unwrap_err();
        let Error::Git {
            command,
            status,
            stderr,
        } = &err
        else {
            panic!("unexpected error {err:?}");
        };
        assert!(command.ends_with("rev-parse HEAD"), "{command}");
        assert_eq!(status, "exit 128");
        assert!(
            stderr.starts_with("fatal: not a git repository"),
            "{stderr}"
        );
        assert_eq!(stderr.trim(), stderr);
        assert!(err.to_string().contains("rev-parse HEAD"));
    }

    #[tokio::test]
    async fn opt_is_none_for_missing_and_error_for_broken() {
        let tmp = tempfile::tempdir().unwrap();
        // Not a repo: exit 128, an error rather than "missing".
        assert!(resolve_commit(tmp.path(), "HEAD").await.is_err());
        git(tmp.path(), &["init", "-q"]).await.unwrap();
        assert_eq!(
            resolve_commit(tmp.path(), "refs/heads/nope").await.unwrap(),
            None
        );
    }
}
