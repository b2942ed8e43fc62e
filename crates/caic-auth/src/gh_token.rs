//! GitHub token auto-detection (S16): with no token configured and OAuth off, ask
//! `gh auth token` once, with a timeout. A missing `gh`, a logged-out `gh` or a timeout
//! just means no token. The token stays in process memory, as a [`Secret`].

use crate::Secret;
use std::path::Path;
use std::time::Duration;

/// How long `gh auth token` may take.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The token to use for GitHub API calls: the configured one, else — only when OAuth
/// is off — whatever `gh auth token` prints.
pub async fn detect_github_token(
    configured: Option<&Secret>,
    oauth_enabled: bool,
    timeout: Duration,
) -> Option<Secret> {
    if let Some(t) = configured.filter(|t| !t.is_empty()) {
        return Some(t.clone());
    }
    if oauth_enabled {
        return None;
    }
    gh_auth_token(Path::new("gh"), timeout).await
}

/// Runs `<gh> auth token` and returns its trimmed output, or `None` when the program is
/// absent, fails, prints nothing, or outlives `timeout` (it is then killed).
pub async fn gh_auth_token(gh: &Path, timeout: Duration) -> Option<Secret> {
    let child = tokio::process::Command::new(gh)
        .args(["auth", "token"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn();
    let child = match child {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!("gh auth token: {} not usable: {e}", gh.display());
            return None;
        }
    };
    let out = match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => {
            tracing::debug!("gh auth token: {e}");
            return None;
        }
        Err(_) => {
            tracing::warn!(
                "gh auth token: no answer within {timeout:?}; continuing without a token"
            );
            return None;
        }
    };
    if !out.status.success() {
        tracing::debug!("gh auth token: exited with {}", out.status);
        return None;
    }
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if token.is_empty() {
        return None;
    }
    let token = Secret::new(token);
    tracing::info!("using the GitHub token from gh auth token ({token})");
    Some(token)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn fake_gh(dir: &Path, body: &str) -> std::path::PathBuf {
        let p = dir.join("gh");
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    #[tokio::test]
    async fn s16_gh_token_read_once_and_kept_as_secret() {
        let tmp = tempfile::tempdir().unwrap();
        let log = tmp.path().join("calls");
        let gh = fake_gh(
            tmp.path(),
            &format!(
                "[ \"$1 $2\" = \"auth token\" ] || exit 2\necho called >> {}\necho gho_fakeTokenFromGhCli1234",
                log.display()
            ),
        );
        let t = gh_auth_token(&gh, DEFAULT_TIMEOUT).await.unwrap();
        assert_eq!(t.expose(), "gho_fakeTokenFromGhCli1234");
        assert_eq!(t.to_string(), "…1234");
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "called\n");
    }

    #[tokio::test]
    async fn s16_missing_failing_or_hanging_gh_is_not_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(gh_auth_token(&tmp.path().join("nope"), DEFAULT_TIMEOUT)
            .await
            .is_none());
        let failing = fake_gh(tmp.path(), "echo 'not logged in' >&2; exit 1");
        assert!(gh_auth_token(&failing, DEFAULT_TIMEOUT).await.is_none());
        let hanging = fake_gh(tmp.path(), "exec sleep 30");
        let start = std::time::Instant::now();
        assert!(gh_auth_token(&hanging, Duration::from_millis(300))
            .await
            .is_none());
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn s16_configured_token_wins_and_oauth_disables_detection() {
        let configured = Secret::new("ghp_configuredTokenValue99");
        let t = detect_github_token(Some(&configured), false, DEFAULT_TIMEOUT).await;
        assert_eq!(t, Some(configured.clone()));
        assert_eq!(detect_github_token(None, true, DEFAULT_TIMEOUT).await, None);
    }
}
