//! Publishing a task's work to the repo's remote: push the `caic-N` branch, or squash
//! it into one commit on top of the remote default branch. The host checkout's working
//! tree, index and current branch are never touched.

use crate::cmd::{git, git_with, resolve_commit, BUNDLE_TIMEOUT};
use crate::error::{Error, Result};
use std::path::Path;

/// Pushes local branch `branch` to `remote` under the same name. The branch is caic's
/// own, so a rewritten history (the agent amended or rebased) replaces the remote one.
pub async fn push_branch(repo: impl AsRef<Path>, remote: &str, branch: &str) -> Result<String> {
    let repo = repo.as_ref();
    let sha = resolve_commit(repo, &format!("refs/heads/{branch}"))
        .await?
        .ok_or_else(|| Error::UnknownBranch(branch.to_string()))?;
    let spec = format!("+refs/heads/{branch}:refs/heads/{branch}");
    git_with(repo, &["push", "--quiet", remote, &spec], BUNDLE_TIMEOUT).await?;
    Ok(sha)
}

/// Squashes the work of `branch` (everything since it forked from `target`) into one
/// commit on top of `remote`'s `target` and pushes it there, never forcing: when the
/// remote moved on in a way that conflicts, the push fails and nothing is lost.
/// Returns the new commit, or `None` when the branch adds nothing.
pub async fn squash_onto(
    repo: impl AsRef<Path>,
    remote: &str,
    branch: &str,
    target: &str,
    message: &str,
    author: (&str, &str),
) -> Result<Option<String>> {
    let repo = repo.as_ref();
    git_with(
        repo,
        &["fetch", "--quiet", remote, &format!("refs/heads/{target}")],
        BUNDLE_TIMEOUT,
    )
    .await?;
    let upstream = git(repo, &["rev-parse", "FETCH_HEAD^{commit}"]).await?;
    let head = resolve_commit(repo, &format!("refs/heads/{branch}"))
        .await?
        .ok_or_else(|| Error::UnknownBranch(branch.to_string()))?;
    // Merge the branch into the current upstream without a worktree (git >= 2.38), so
    // work that landed upstream meanwhile is kept; a conflict is an error.
    let tree = git(repo, &["merge-tree", "--write-tree", &upstream, &head]).await?;
    let tree = tree.lines().next().unwrap_or_default().to_string();
    let upstream_tree = git(repo, &["rev-parse", &format!("{upstream}^{{tree}}")]).await?;
    if tree == upstream_tree {
        return Ok(None);
    }
    let commit = commit_tree(repo, &tree, &upstream, message, author).await?;
    let spec = format!("{commit}:refs/heads/{target}");
    git_with(repo, &["push", "--quiet", remote, &spec], BUNDLE_TIMEOUT).await?;
    Ok(Some(commit))
}

/// The ref a task branch forked from: `origin/<base>` when it exists, else `<base>`.
pub async fn base_ref(repo: impl AsRef<Path>, base: &str) -> Result<String> {
    let repo = repo.as_ref();
    for candidate in [
        format!("refs/remotes/origin/{base}"),
        format!("refs/heads/{base}"),
    ] {
        if resolve_commit(repo, &candidate).await?.is_some() {
            return Ok(candidate);
        }
    }
    Err(Error::UnknownBase(base.to_string()))
}

async fn commit_tree(
    repo: &Path,
    tree: &str,
    parent: &str,
    message: &str,
    (name, email): (&str, &str),
) -> Result<String> {
    let mut cmd = tokio::process::Command::new("git");
    cmd.arg("-C")
        .arg(repo)
        .args(["commit-tree", tree, "-p", parent, "-m", message])
        .env("GIT_AUTHOR_NAME", name)
        .env("GIT_AUTHOR_EMAIL", email)
        .env("GIT_COMMITTER_NAME", name)
        .env("GIT_COMMITTER_EMAIL", email)
        .env("LC_ALL", "C")
        .kill_on_drop(true);
    let out = cmd.output().await.map_err(|source| Error::Spawn {
        command: "git commit-tree".into(),
        source,
    })?;
    if !out.status.success() {
        return Err(Error::Git {
            command: format!("git -C {} commit-tree {tree} -p {parent}", repo.display()),
            status: format!("{}", out.status),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{checkout_state, commit, dirty, fixture, git as tgit, T0};

    #[tokio::test]
    async fn push_branch_publishes_without_touching_the_checkout() {
        let f = fixture();
        tgit(&f.host, &["branch", "caic-1", "origin/main"]);
        dirty(&f.host);
        let before = checkout_state(&f.host);
        // Work lands on caic-1 without a checkout: build it in a scratch clone.
        let scratch = f.tmp.path().join("scratch");
        tgit(
            f.tmp.path(),
            &["clone", "-q", f.host.to_str().unwrap(), "scratch"],
        );
        tgit(&scratch, &["checkout", "-q", "caic-1"]);
        commit(&scratch, "work.txt", "done\n", "work", T0 + 500);
        tgit(&scratch, &["push", "-q", "origin", "caic-1"]);
        let sha = push_branch(&f.host, "origin", "caic-1").await.unwrap();
        let remote = tgit(&f.origin, &["rev-parse", "refs/heads/caic-1"]);
        assert_eq!(remote, sha);
        assert_eq!(checkout_state(&f.host), before);
        assert!(matches!(
            push_branch(&f.host, "origin", "caic-404").await,
            Err(Error::UnknownBranch(_))
        ));
    }

    #[tokio::test]
    async fn squash_lands_one_commit_on_the_moved_default_branch() {
        let f = fixture();
        tgit(&f.host, &["branch", "caic-2", "origin/main"]);
        let scratch = f.tmp.path().join("scratch");
        tgit(
            f.tmp.path(),
            &["clone", "-q", f.host.to_str().unwrap(), "scratch"],
        );
        tgit(&scratch, &["checkout", "-q", "caic-2"]);
        commit(&scratch, "a.txt", "a\n", "one", T0 + 500);
        commit(&scratch, "b.txt", "b\n", "two", T0 + 600);
        tgit(&scratch, &["push", "-q", "origin", "caic-2"]);
        // Upstream moves on meanwhile.
        commit(&f.seed, "other.txt", "other\n", "upstream", T0 + 700);
        tgit(&f.seed, &["push", "-q", "origin", "main"]);
        dirty(&f.host);
        let before = checkout_state(&f.host);
        let sha = squash_onto(
            &f.host,
            "origin",
            "caic-2",
            "main",
            "caic: task",
            ("Host User", "host@example.com"),
        )
        .await
        .unwrap()
        .expect("a commit");
        assert_eq!(tgit(&f.origin, &["rev-parse", "refs/heads/main"]), sha);
        let files = tgit(&f.origin, &["ls-tree", "--name-only", "-r", "main"]);
        for want in ["a.txt", "b.txt", "other.txt", "README.md"] {
            assert!(files.lines().any(|l| l == want), "{want} missing: {files}");
        }
        assert_eq!(tgit(&f.origin, &["rev-list", "--count", "main"]), "3");
        assert_eq!(
            tgit(&f.origin, &["log", "-1", "--format=%an <%ae> %s", "main"]),
            "Host User <host@example.com> caic: task"
        );
        assert_eq!(checkout_state(&f.host), before);
        // Nothing new to squash now.
        assert_eq!(
            squash_onto(&f.host, "origin", "main", "main", "noop", ("a", "b@c"))
                .await
                .unwrap(),
            None
        );
    }
}
