//! The [`Forge`] trait: what caic does with a forge repository after a push, the same for
//! GitHub and GitLab, and [`connect`], which picks the client for a [`Remote`].

use crate::ci::{Check, NewPull, PullRequest};
use crate::error::Result;
use crate::github::GitHub;
use crate::gitlab::GitLab;
use crate::limit::RateLimiter;
use crate::remote::{ForgeKind, Remote};
use crate::secret::Secret;
use async_trait::async_trait;
use std::sync::Arc;

/// One forge repository seen through one credential.
#[async_trait]
pub trait Forge: Send + Sync {
    /// GitHub or GitLab.
    fn kind(&self) -> ForgeKind;

    /// `github` or `gitlab`, as the API and the UI name it.
    fn name(&self) -> &'static str {
        self.kind().name()
    }

    /// The open pull (merge) request whose head is `branch` of this repository, if any.
    async fn find_pull(&self, branch: &str) -> Result<Option<PullRequest>>;

    /// The open pull request for `new.head`, opened if there is none; `true` when opened.
    async fn ensure_pull(&self, new: &NewPull) -> Result<(PullRequest, bool)>;

    /// Posts a comment on issue `number` (on GitHub, a pull request number works too).
    async fn comment(&self, number: u64, body: &str) -> Result<()>;

    /// The CI checks of commit `sha`.
    async fn checks(&self, sha: &str) -> Result<Vec<Check>>;

    /// The interesting part of failing CI job `job_id`'s log ([`Check::job_id`]).
    async fn failure_excerpt(&self, job_id: u64) -> Result<String>;

    /// Squash-merges pull request `number` if its head is still `sha`; the merge commit
    /// when the forge reports one.
    async fn merge(&self, number: u64, sha: &str) -> Result<Option<String>>;
}

/// A client for `remote` with `token`, at `api_base` (a mock or a self-hosted API root;
/// default [`Remote::api_base`]), paced by `limiter`.
pub fn connect(
    remote: &Remote,
    api_base: Option<&str>,
    token: Option<Secret>,
    limiter: Arc<RateLimiter>,
) -> Result<Arc<dyn Forge>> {
    let default = remote.api_base();
    let base = api_base.unwrap_or(&default);
    Ok(match remote.kind {
        ForgeKind::GitHub => Arc::new(GitHub::new(
            base,
            &remote.owner,
            &remote.repo,
            token,
            limiter,
        )?),
        ForgeKind::GitLab => Arc::new(GitLab::new(base, &remote.path(), token, limiter)?),
    })
}

#[async_trait]
impl Forge for GitHub {
    fn kind(&self) -> ForgeKind {
        ForgeKind::GitHub
    }

    async fn find_pull(&self, branch: &str) -> Result<Option<PullRequest>> {
        GitHub::find_pull(self, branch).await
    }

    async fn ensure_pull(&self, new: &NewPull) -> Result<(PullRequest, bool)> {
        GitHub::ensure_pull(self, new).await
    }

    async fn comment(&self, number: u64, body: &str) -> Result<()> {
        GitHub::comment(self, number, body).await
    }

    async fn checks(&self, sha: &str) -> Result<Vec<Check>> {
        self.check_runs(sha).await
    }

    async fn failure_excerpt(&self, job_id: u64) -> Result<String> {
        GitHub::failure_excerpt(self, job_id).await
    }

    async fn merge(&self, number: u64, sha: &str) -> Result<Option<String>> {
        self.merge_squash(number, sha).await.map(Some)
    }
}

#[async_trait]
impl Forge for GitLab {
    fn kind(&self) -> ForgeKind {
        ForgeKind::GitLab
    }

    async fn find_pull(&self, branch: &str) -> Result<Option<PullRequest>> {
        self.find_merge_request(branch).await
    }

    async fn ensure_pull(&self, new: &NewPull) -> Result<(PullRequest, bool)> {
        self.ensure_merge_request(new).await
    }

    async fn comment(&self, number: u64, body: &str) -> Result<()> {
        self.comment_issue(number, body).await
    }

    async fn checks(&self, sha: &str) -> Result<Vec<Check>> {
        GitLab::checks(self, sha).await
    }

    async fn failure_excerpt(&self, job_id: u64) -> Result<String> {
        GitLab::failure_excerpt(self, job_id).await
    }

    async fn merge(&self, number: u64, sha: &str) -> Result<Option<String>> {
        self.merge_squash(number, sha).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ci::{ci_status, CiStatus};
    use crate::{mock, parse_remote};
    use serde_json::json;
    use std::time::Duration;

    fn new_pull() -> NewPull {
        NewPull {
            title: "Fix it".into(),
            body: "Done.".into(),
            head: "caic-1".into(),
            base: "main".into(),
        }
    }

    /// The same calls through the trait reach each forge's own endpoints.
    #[tokio::test]
    async fn one_trait_both_forges() {
        let limiter = Arc::new(RateLimiter::new(Duration::from_millis(5)));
        let sha = "c".repeat(40);

        let (base, gh) = mock::github("ghp_tok").await;
        let remote = parse_remote("https://github.com/o/r.git", &[]).unwrap();
        let f = connect(
            &remote,
            Some(&base),
            Some(Secret::new("ghp_tok")),
            limiter.clone(),
        )
        .unwrap();
        assert_eq!((f.kind(), f.name()), (ForgeKind::GitHub, "github"));
        let (pr, created) = f.ensure_pull(&new_pull()).await.unwrap();
        assert!(created);
        assert_eq!(f.find_pull("caic-1").await.unwrap(), Some(pr.clone()));
        f.comment(pr.number, "hello").await.unwrap();
        assert_eq!(gh.lock().comments, vec![(1, "hello".to_string())]);
        gh.lock().check_runs.insert(
            sha.clone(),
            vec![
                json!({"id": 3, "name": "t", "status": "completed", "conclusion": "success",
                "html_url": null, "app": {"slug": "github-actions"}}),
            ],
        );
        assert_eq!(ci_status(&f.checks(&sha).await.unwrap()), CiStatus::Passed);

        let (base, gl) = mock::gitlab("grp/proj", "glpat-tok").await;
        let remote = parse_remote("git@gitlab.com:grp/proj.git", &[]).unwrap();
        let f = connect(
            &remote,
            Some(&base),
            Some(Secret::new("glpat-tok")),
            limiter,
        )
        .unwrap();
        assert_eq!((f.kind(), f.name()), (ForgeKind::GitLab, "gitlab"));
        let (mr, created) = f.ensure_pull(&new_pull()).await.unwrap();
        assert!(created);
        assert_eq!(mr.head, "caic-1");
        assert_eq!(gl.lock().mrs.len(), 1);
        f.comment(4, "note").await.unwrap();
        assert_eq!(gl.lock().notes, vec![(4, "note".to_string())]);
        gl.lock().statuses.insert(
            sha.clone(),
            vec![json!({"id": 9, "name": "t", "status": "running", "target_url": null})],
        );
        assert_eq!(
            ci_status(&f.checks(&sha).await.unwrap()),
            CiStatus::Pending { done: 0, total: 1 }
        );
    }
}
