//! Finding the repos caic can work on, and their default branches.

use crate::cmd::{git, git_opt, resolve_commit};
use crate::error::{mask_url_credentials, Error, Result};
use std::path::{Path, PathBuf};

/// A non-bare git repository found under the repos root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoInfo {
    /// Path relative to the root, `/`-separated; `.` for the root itself. The repo's id.
    pub id: String,
    /// Absolute path of the work tree.
    pub abs_path: PathBuf,
    /// Branch tasks start from unless told otherwise (`origin/HEAD`, else the current branch,
    /// else `main` or `master`).
    pub default_branch: String,
    /// `remote.origin.url`, with any credentials in it masked.
    pub remote_url: Option<String>,
}

impl AsRef<Path> for RepoInfo {
    fn as_ref(&self) -> &Path {
        &self.abs_path
    }
}

/// Finds the non-bare repos under `root` (which may itself be one), sorted by id.
///
/// Looks at most `max_depth` directories below `root`; skips hidden directories, symlinks and
/// bare repos, and never descends into a repo. Repos without commits, or whose default branch
/// cannot be determined, are skipped with a warning.
pub async fn discover_repos(root: &Path, max_depth: usize) -> Result<Vec<RepoInfo>> {
    let root = std::path::absolute(root).map_err(|source| Error::Io {
        context: format!("resolving {}", root.display()),
        source,
    })?;
    let walk_root = root.clone();
    let dirs = tokio::task::spawn_blocking(move || find_worktrees(&walk_root, max_depth))
        .await
        .map_err(|e| Error::Io {
            context: "walking the repos root".into(),
            source: std::io::Error::other(e.to_string()),
        })??;
    let mut repos = Vec::with_capacity(dirs.len());
    for dir in dirs {
        let id = repo_id(&root, &dir);
        match inspect(&dir, id).await {
            Ok(Some(info)) => repos.push(info),
            Ok(None) => {}
            Err(e) => tracing::warn!(repo = %dir.display(), error = %e, "skipping repo"),
        }
    }
    repos.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(repos)
}

/// `dir` relative to `root`, `/`-separated, `.` when equal.
fn repo_id(root: &Path, dir: &Path) -> String {
    let rel = dir.strip_prefix(root).unwrap_or(dir);
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    }
}

/// A work tree has `.git` (a directory, or a file for linked worktrees and submodules).
fn is_worktree(dir: &Path) -> bool {
    dir.join(".git").exists()
}

/// A bare repo has `HEAD`, `objects/` and `refs/` at its top.
fn is_bare(dir: &Path) -> bool {
    dir.join("HEAD").is_file() && dir.join("objects").is_dir() && dir.join("refs").is_dir()
}

/// Directory walk (blocking): work trees at most `max_depth` below `root`.
fn find_worktrees(root: &Path, max_depth: usize) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut stack = vec![(root.to_path_buf(), 0usize)];
    while let Some((dir, depth)) = stack.pop() {
        if is_worktree(&dir) {
            found.push(dir);
            continue;
        }
        if is_bare(&dir) || depth >= max_depth {
            continue;
        }
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(source) if depth == 0 => {
                return Err(Error::Io {
                    context: format!("reading {}", dir.display()),
                    source,
                })
            }
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot read directory");
                continue;
            }
        };
        for entry in entries.flatten() {
            let hidden = entry.file_name().to_string_lossy().starts_with('.');
            // file_type() does not follow symlinks, so linked directories are skipped.
            let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
            if is_dir && !hidden {
                stack.push((entry.path(), depth + 1));
            }
        }
    }
    Ok(found)
}

/// Describes one work tree, or `None` (with a warning) when caic cannot use it.
async fn inspect(dir: &Path, id: String) -> Result<Option<RepoInfo>> {
    if git(dir, &["rev-parse", "--is-bare-repository"]).await? != "false" {
        return Ok(None);
    }
    let Some(default_branch) = default_branch(dir).await? else {
        let any = git(
            dir,
            &[
                "for-each-ref",
                "--count=1",
                "--format=%(refname)",
                "refs/heads",
                "refs/remotes",
            ],
        )
        .await?;
        if any.is_empty() && resolve_commit(dir, "HEAD").await?.is_none() {
            tracing::warn!(repo = %dir.display(), "skipping repo without commits");
        } else {
            tracing::warn!(repo = %dir.display(), "skipping repo: no origin/HEAD, current branch, main or master");
        }
        return Ok(None);
    };
    let remote_url = git_opt(dir, &["config", "--get", "remote.origin.url"])
        .await?
        .filter(|u| !u.is_empty())
        .map(|u| mask_url_credentials(&u));
    Ok(Some(RepoInfo {
        id,
        abs_path: dir.to_path_buf(),
        default_branch,
        remote_url,
    }))
}

/// The repo's default branch: what `origin/HEAD` points to, else the current branch, else
/// `main` or `master` (local or on origin); `None` when none of them has a commit.
pub async fn default_branch(repo: impl AsRef<Path>) -> Result<Option<String>> {
    let repo = repo.as_ref();
    if let Some(target) = git_opt(repo, &["symbolic-ref", "-q", "refs/remotes/origin/HEAD"]).await?
    {
        if let Some(name) = target.strip_prefix("refs/remotes/origin/") {
            if resolve_commit(repo, &target).await?.is_some() {
                return Ok(Some(name.to_string()));
            }
        }
    }
    if let Some(head) = git_opt(repo, &["symbolic-ref", "-q", "HEAD"]).await? {
        if let Some(name) = head.strip_prefix("refs/heads/") {
            if resolve_commit(repo, &head).await?.is_some() {
                return Ok(Some(name.to_string()));
            }
        }
    }
    for name in ["main", "master"] {
        for prefix in ["refs/heads/", "refs/remotes/origin/"] {
            if resolve_commit(repo, &format!("{prefix}{name}"))
                .await?
                .is_some()
            {
                return Ok(Some(name.to_string()));
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{commit, fixture, git, T0};

    #[tokio::test]
    async fn finds_nested_repos_and_skips_hidden_bare_empty_deep_and_inner() {
        let fx = fixture();
        let root = fx.tmp.path();
        // The user is on a feature branch: the default must still come from origin/HEAD.
        git(&fx.host, &["switch", "-q", "-c", "feature"]);
        // A repo inside a repo is not a separate repo for caic.
        git(&fx.host, &["init", "-q", "-b", "main", "vendor/inner"]);
        commit(&fx.host.join("vendor/inner"), "a", "a\n", "a", T0);
        // Nested one level down, no origin/HEAD: the current branch; URL credentials masked.
        let nested = root.join("group/nested");
        git(root, &["init", "-q", "-b", "trunk", "group/nested"]);
        commit(&nested, "a", "a\n", "a", T0);
        git(
            &nested,
            &[
                "remote",
                "add",
                "origin",
                "https://bob:s3cret@example.com/o/r.git",
            ],
        );
        // Detached HEAD and only `master`: the master fallback.
        let detached = root.join("detached");
        git(root, &["init", "-q", "-b", "master", "detached"]);
        commit(&detached, "a", "a\n", "a", T0);
        git(&detached, &["checkout", "-q", "--detach"]);
        // Skipped: hidden, no commits, too deep.
        git(root, &["init", "-q", ".hidden/repo"]);
        commit(&root.join(".hidden/repo"), "a", "a\n", "a", T0);
        git(root, &["init", "-q", "empty"]);
        git(root, &["init", "-q", "-b", "main", "a/b/c/deep"]);
        commit(&root.join("a/b/c/deep"), "a", "a\n", "a", T0);

        let repos = discover_repos(root, 3).await.unwrap();
        let ids: Vec<&str> = repos.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["detached", "group/nested", "host", "seed"]);
        let host = &repos[2];
        assert_eq!(host.default_branch, "main");
        assert_eq!(host.abs_path, fx.host);
        assert_eq!(host.remote_url.as_deref(), fx.origin.to_str());
        assert_eq!(repos[0].default_branch, "master");
        assert_eq!(repos[0].remote_url, None);
        assert_eq!(repos[1].default_branch, "trunk");
        assert_eq!(
            repos[1].remote_url.as_deref(),
            Some("https://***@example.com/o/r.git")
        );
        // Deeper search finds the deep one.
        let ids: Vec<String> = discover_repos(root, 4)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert!(ids.contains(&"a/b/c/deep".to_string()), "{ids:?}");
    }

    #[tokio::test]
    async fn root_itself_can_be_the_repo() {
        let fx = fixture();
        let repos = discover_repos(&fx.host, 3).await.unwrap();
        assert_eq!(repos.len(), 1);
        assert_eq!(repos[0].id, ".");
        assert_eq!(repos[0].default_branch, "main");
    }

    #[tokio::test]
    async fn missing_root_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let err = discover_repos(&tmp.path().join("nope"), 3)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err:?}");
    }
}
