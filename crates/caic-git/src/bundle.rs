//! Host side of moving git objects in and out of containers as bundles.

use crate::branch::check_branch_name;
use crate::cmd::{git, git_opt, git_with, resolve_commit, BUNDLE_TIMEOUT};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// Author name used when the host has no `user.name`.
pub const FALLBACK_NAME: &str = "caic";
/// Author email used when the host has no `user.email`.
pub const FALLBACK_EMAIL: &str = "caic@localhost";

/// A bundle of local branch `branch` with its full history, for
/// caic-runtime's `container_import_script` to read from stdin.
pub async fn bundle_create(repo: impl AsRef<Path>, branch: &str) -> Result<Vec<u8>> {
    let repo = repo.as_ref();
    check_branch_name(repo, branch).await?;
    let full = format!("refs/heads/{branch}");
    if resolve_commit(repo, &full).await?.is_none() {
        return Err(Error::UnknownBranch(branch.to_string()));
    }
    let out = git_with(repo, &["bundle", "create", "-", &full], BUNDLE_TIMEOUT).await?;
    Ok(out.stdout)
}

/// The worktree (main or linked) that has `branch` checked out, if any.
async fn checked_out_in(repo: &Path, branch: &str) -> Result<Option<PathBuf>> {
    let out = git(repo, &["worktree", "list", "--porcelain"]).await?;
    let want = format!("branch refs/heads/{branch}");
    let mut current: Option<&str> = None;
    for line in out.lines() {
        if let Some(path) = line.strip_prefix("worktree ") {
            current = Some(path);
        } else if line == want {
            return Ok(Some(PathBuf::from(current.unwrap_or("?"))));
        }
    }
    Ok(None)
}

/// Imports a bundle made by caic-runtime's `container_export_script` into the host's
/// `refs/heads/<branch>` and returns the branch's new commit.
///
/// Empty `bundle` (the export script's "no new commit") returns `Ok(None)` and changes nothing.
/// The bundle is verified (its prerequisites must be in the repo) and must carry
/// `refs/heads/<branch>`. The branch is set to the bundle's commit even when that is not a
/// fast-forward: the container is the source of truth for caic's own branch. Refuses with
/// [`Error::BranchCheckedOut`] when a worktree of `repo` has the branch checked out; never
/// touches the work tree, index or `HEAD`.
pub async fn bundle_import(
    repo: impl AsRef<Path>,
    bundle: &[u8],
    branch: &str,
) -> Result<Option<String>> {
    let repo = repo.as_ref();
    if bundle.is_empty() {
        return Ok(None);
    }
    check_branch_name(repo, branch).await?;
    if let Some(worktree) = checked_out_in(repo, branch).await? {
        return Err(Error::BranchCheckedOut {
            branch: branch.to_string(),
            worktree,
        });
    }
    let file = tempfile::Builder::new()
        .prefix("caic-import-")
        .suffix(".bundle")
        .tempfile()
        .map_err(|source| Error::Io {
            context: "creating a temporary bundle file".into(),
            source,
        })?;
    tokio::fs::write(file.path(), bundle)
        .await
        .map_err(|source| Error::Io {
            context: format!("writing {}", file.path().display()),
            source,
        })?;
    let path = file.path().to_string_lossy().into_owned();
    git_with(repo, &["bundle", "verify", "-q", &path], BUNDLE_TIMEOUT).await?;
    let full = format!("refs/heads/{branch}");
    let heads = git(repo, &["bundle", "list-heads", &path]).await?;
    let Some(sha) = heads.lines().find_map(|l| {
        l.split_once(' ')
            .filter(|(_, r)| *r == full)
            .map(|(s, _)| s)
    }) else {
        return Err(Error::BundleMissingBranch(branch.to_string()));
    };
    let refspec = format!("+{full}:{full}");
    git_with(
        repo,
        &[
            "-c",
            "gc.auto=0",
            "-c",
            "maintenance.auto=false",
            "fetch",
            "--quiet",
            "--no-tags",
            "--no-write-fetch-head",
            "--recurse-submodules=no",
            &path,
            &refspec,
        ],
        BUNDLE_TIMEOUT,
    )
    .await?;
    let now = resolve_commit(repo, &full).await?;
    tracing::debug!(repo = %repo.display(), branch, sha, "imported bundle");
    Ok(now)
}

/// The identity to author caic's commits with: `user.name` and `user.email` as git sees them
/// in `repo` (local, global or system config), each falling back to [`FALLBACK_NAME`] /
/// [`FALLBACK_EMAIL`].
pub async fn host_identity(repo: impl AsRef<Path>) -> (String, String) {
    let repo = repo.as_ref();
    let get = |key: &'static str| async move {
        match git_opt(repo, &["config", "--get", key]).await {
            Ok(Some(v)) if !v.trim().is_empty() => Some(v.trim().to_string()),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(error = %e, key, "cannot read git config");
                None
            }
        }
    };
    let name = get("user.name")
        .await
        .unwrap_or_else(|| FALLBACK_NAME.into());
    let email = get("user.email")
        .await
        .unwrap_or_else(|| FALLBACK_EMAIL.into());
    (name, email)
}
