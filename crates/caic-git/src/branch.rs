//! Branches: listing base branches, numbering and creating caic's own `caic-N` branches.

use crate::cmd::{git, git_opt, resolve_commit};
use crate::discover::default_branch;
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use tokio::sync::Mutex;

/// Prefix of the branches caic creates.
pub const BRANCH_PREFIX: &str = "caic-";

/// `Some(N)` for a caic branch name `caic-N`.
fn caic_number(name: &str) -> Option<u64> {
    let digits = name.strip_prefix(BRANCH_PREFIX)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Branches a task can start from: local and `origin/*` branches by name (no remote prefix),
/// deduplicated, the default branch first, then the most recently committed first.
/// caic's own `caic-N` branches are left out.
pub async fn list_branches(repo: impl AsRef<Path>) -> Result<Vec<String>> {
    let repo = repo.as_ref();
    let out = git(
        repo,
        &[
            "for-each-ref",
            "--sort=refname",
            "--sort=-committerdate",
            "--format=%(refname)",
            "refs/heads",
            "refs/remotes/origin",
        ],
    )
    .await?;
    let mut names: Vec<String> = Vec::new();
    for refname in out.lines() {
        let name = match (
            refname.strip_prefix("refs/heads/"),
            refname.strip_prefix("refs/remotes/origin/"),
        ) {
            (Some(n), _) => n,
            (_, Some("HEAD")) => continue,
            (_, Some(n)) => n,
            _ => continue,
        };
        if caic_number(name).is_none() && !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
    }
    if let Some(default) = default_branch(repo).await? {
        if let Some(pos) = names.iter().position(|n| *n == default) {
            let d = names.remove(pos);
            names.insert(0, d);
        }
    }
    Ok(names)
}

/// The highest `N` of any `caic-N` branch, local or on any remote; 0 when there is none.
async fn highest_caic(repo: &Path) -> Result<u64> {
    let out = git(
        repo,
        &[
            "for-each-ref",
            "--format=%(refname)",
            "refs/heads",
            "refs/remotes",
        ],
    )
    .await?;
    Ok(out
        .lines()
        .filter_map(|r| {
            let name = match r.strip_prefix("refs/heads/") {
                Some(n) => n,
                // refs/remotes/<remote>/<name>
                None => r.strip_prefix("refs/remotes/")?.split_once('/')?.1,
            };
            caic_number(name)
        })
        .max()
        .unwrap_or(0))
}

/// Hands out `caic-N` branch names for one repo, each at most once per allocator.
///
/// Every call rescans the repo's local and remote-tracking `caic-N` branches under a mutex and
/// returns a number above both the highest existing one and the last one handed out, so names
/// stay unique with concurrent callers and skip branches made elsewhere in the meantime.
/// Share one allocator per repo (e.g. in an `Arc`).
#[derive(Debug)]
pub struct BranchAllocator {
    repo: PathBuf,
    next: Mutex<u64>,
}

impl BranchAllocator {
    /// An allocator for the repo at `repo` (a path or a [`crate::RepoInfo`]). Does no I/O.
    pub fn new(repo: impl AsRef<Path>) -> Self {
        BranchAllocator {
            repo: repo.as_ref().to_path_buf(),
            next: Mutex::new(1),
        }
    }

    /// Reserves the next free name, `caic-N`. The branch itself is made by [`create_branch`].
    pub async fn reserve(&self) -> Result<String> {
        let mut next = self.next.lock().await;
        let n = (*next).max(highest_caic(&self.repo).await? + 1);
        *next = n + 1;
        Ok(format!("{BRANCH_PREFIX}{n}"))
    }
}

/// Fails unless `name` is a valid branch name.
pub(crate) async fn check_branch_name(repo: &Path, name: &str) -> Result<()> {
    if name.is_empty() || name.starts_with('-') {
        return Err(Error::InvalidBranch(name.to_string()));
    }
    let full = format!("refs/heads/{name}");
    match git_opt(repo, &["check-ref-format", &full]).await {
        Ok(Some(_)) => Ok(()),
        _ => Err(Error::InvalidBranch(name.to_string())),
    }
}

/// Whether `base` names a branch a task can start from: `origin/<base>` or a local
/// branch `<base>` (what [`create_branch`] accepts). Only a valid branch name can:
/// revision expressions (`main~1`, `main^{tree}`, `main@{1}`) never reach git's
/// resolver (S28).
pub async fn has_base(repo: impl AsRef<Path>, base: &str) -> Result<bool> {
    let repo = repo.as_ref();
    if check_branch_name(repo, base).await.is_err() {
        return Ok(false);
    }
    for candidate in [
        format!("refs/remotes/origin/{base}"),
        format!("refs/heads/{base}"),
    ] {
        if resolve_commit(repo, &candidate).await?.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Creates local branch `name` at `origin/<base>` when that exists, else at local `<base>`,
/// and returns its commit. Uses `git update-ref` only: no checkout, the work tree, index and
/// current branch are untouched. Fails with [`Error::BranchExists`] rather than move a branch.
pub async fn create_branch(repo: impl AsRef<Path>, name: &str, base: &str) -> Result<String> {
    let repo = repo.as_ref();
    check_branch_name(repo, name).await?;
    if base.is_empty() || base.starts_with('-') {
        return Err(Error::UnknownBase(base.to_string()));
    }
    let mut source = None;
    for candidate in [
        format!("refs/remotes/origin/{base}"),
        format!("refs/heads/{base}"),
    ] {
        if let Some(sha) = resolve_commit(repo, &candidate).await? {
            source = Some((candidate, sha));
            break;
        }
    }
    let Some((from, sha)) = source else {
        return Err(Error::UnknownBase(base.to_string()));
    };
    let target = format!("refs/heads/{name}");
    if git_opt(repo, &["rev-parse", "--verify", "-q", &target])
        .await?
        .is_some()
    {
        return Err(Error::BranchExists(name.to_string()));
    }
    let msg = format!("caic: branch {name} from {from}");
    // The empty old value makes git refuse if the branch appeared in the meantime.
    git(repo, &["update-ref", "-m", &msg, &target, &sha, ""]).await?;
    tracing::debug!(repo = %repo.display(), branch = name, %from, %sha, "created branch");
    Ok(sha)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{checkout_state, commit, dirty, fixture, git, T0};
    use std::collections::BTreeSet;
    use std::sync::Arc;

    #[test]
    fn caic_numbers() {
        assert_eq!(caic_number("caic-12"), Some(12));
        assert_eq!(caic_number("caic-"), None);
        assert_eq!(caic_number("caic-1x"), None);
        assert_eq!(caic_number("main"), None);
    }

    #[tokio::test]
    async fn lists_default_first_then_recent_deduplicated_without_caic() {
        let fx = fixture();
        git(&fx.seed, &["switch", "-q", "-c", "feature"]);
        commit(&fx.seed, "f.txt", "f\n", "feature", T0 + 200);
        git(
            &fx.seed,
            &["push", "-q", "origin", "feature", "feature:caic-7"],
        );
        git(&fx.host, &["fetch", "-q", "origin"]);
        git(&fx.host, &["branch", "-q", "dev", "origin/dev"]);
        git(&fx.host, &["branch", "-q", "caic-3"]);
        assert_eq!(
            list_branches(&fx.host).await.unwrap(),
            ["main", "feature", "dev"]
        );
    }

    #[tokio::test]
    async fn base_is_a_remote_or_local_branch() {
        let fx = fixture();
        git(&fx.host, &["fetch", "-q", "origin"]);
        git(&fx.host, &["branch", "-q", "local-only"]);
        assert!(has_base(&fx.host, "main").await.unwrap());
        assert!(has_base(&fx.host, "dev").await.unwrap(), "origin/dev");
        assert!(has_base(&fx.host, "local-only").await.unwrap());
        for bad in ["feature-x", "", "-x", "origin/main"] {
            assert!(!has_base(&fx.host, bad).await.unwrap(), "{bad:?}");
        }
    }

    /// S28: revision expressions are not branch names, even where git would resolve
    /// them to a commit of `main`; they are refused without an error.
    #[tokio::test]
    async fn s28_revision_expressions_are_not_bases() {
        let fx = fixture();
        for expr in [
            "main~1",
            "main^0",
            "main^{tree}",
            "main^{blob}",
            "main@{99}",
            "main@{yesterday}",
            "main:README.md",
            "HEAD..main",
            "main with space",
            "main\u{7}",
        ] {
            assert!(!has_base(&fx.host, expr).await.unwrap(), "{expr:?}");
        }
    }

    #[tokio::test]
    async fn allocation_continues_past_local_and_remote_branches() {
        let fx = fixture();
        git(&fx.seed, &["push", "-q", "origin", "main:caic-7"]);
        git(&fx.host, &["fetch", "-q", "origin"]);
        for b in ["caic-3", "caic-99x", "foo/caic-50"] {
            git(&fx.host, &["branch", "-q", b]);
        }
        let alloc = BranchAllocator::new(&fx.host);
        assert_eq!(alloc.reserve().await.unwrap(), "caic-8");
        assert_eq!(alloc.reserve().await.unwrap(), "caic-9");
        // A branch made behind the allocator's back is skipped too.
        git(&fx.host, &["branch", "-q", "caic-20"]);
        assert_eq!(alloc.reserve().await.unwrap(), "caic-21");
    }

    #[tokio::test]
    async fn twenty_concurrent_allocations_are_unique_and_creatable() {
        let fx = fixture();
        let alloc = Arc::new(BranchAllocator::new(&fx.host));
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..20 {
            let alloc = alloc.clone();
            let host = fx.host.clone();
            set.spawn(async move {
                let name = alloc.reserve().await.unwrap();
                create_branch(&host, &name, "main").await.unwrap();
                name
            });
        }
        let names: BTreeSet<String> = set.join_all().await.into_iter().collect();
        let want: BTreeSet<String> = (1..=20).map(|n| format!("caic-{n}")).collect();
        assert_eq!(names, want);
        let refs = git(
            &fx.host,
            &["for-each-ref", "--format=%(refname)", "refs/heads/caic-*"],
        );
        assert_eq!(refs.lines().count(), 20);
    }

    #[tokio::test]
    async fn creates_from_origin_when_local_is_behind_without_touching_checkout() {
        let fx = fixture();
        let local_main = git(&fx.host, &["rev-parse", "main"]);
        let remote_main = commit(&fx.seed, "more.txt", "more\n", "more", T0 + 300);
        git(&fx.seed, &["push", "-q", "origin", "main"]);
        git(&fx.host, &["fetch", "-q", "origin"]);
        git(&fx.host, &["branch", "-q", "local-only"]);
        dirty(&fx.host);
        let before = checkout_state(&fx.host);

        let sha = create_branch(&fx.host, "caic-1", "main").await.unwrap();
        assert_eq!(sha, remote_main);
        assert_ne!(sha, local_main);
        assert_eq!(
            git(&fx.host, &["rev-parse", "refs/heads/caic-1"]),
            remote_main
        );
        let sha = create_branch(&fx.host, "caic-2", "local-only")
            .await
            .unwrap();
        assert_eq!(sha, local_main);

        let err = create_branch(&fx.host, "caic-1", "dev").await.unwrap_err();
        assert!(
            matches!(err, Error::BranchExists(ref b) if b == "caic-1"),
            "{err}"
        );
        assert_eq!(
            git(&fx.host, &["rev-parse", "refs/heads/caic-1"]),
            remote_main
        );
        let err = create_branch(&fx.host, "caic-3", "nope").await.unwrap_err();
        assert!(matches!(err, Error::UnknownBase(_)), "{err}");
        for bad in ["bad..name", "-x", "a b", ""] {
            let err = create_branch(&fx.host, bad, "main").await.unwrap_err();
            assert!(matches!(err, Error::InvalidBranch(_)), "{bad}: {err}");
        }
        assert_eq!(checkout_state(&fx.host), before);
    }
}
