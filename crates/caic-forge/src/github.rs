//! GitHub REST: pull requests, check runs, Actions job logs, squash merge.

use crate::api::{Api, Flavor};
use crate::ci::{Check, CheckState, NewPull, PullRequest};
use crate::error::{Error, Result};
use crate::excerpt::github_failing_steps;
use crate::limit::RateLimiter;
use crate::secret::Secret;
use reqwest::Method;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// The public GitHub API.
pub const GITHUB_API: &str = "https://api.github.com";

/// A client for one GitHub repository with one credential.
#[derive(Debug, Clone)]
pub struct GitHub {
    api: Api,
    owner: String,
    repo: String,
    token: Option<Secret>,
}

#[derive(Deserialize)]
struct PullJson {
    number: u64,
    html_url: String,
    head: RefJson,
}

#[derive(Deserialize)]
struct RefJson {
    #[serde(rename = "ref")]
    name: String,
}

impl From<PullJson> for PullRequest {
    fn from(p: PullJson) -> Self {
        Self {
            number: p.number,
            url: p.html_url,
            head: p.head.name,
        }
    }
}

#[derive(Deserialize)]
struct CheckRunsJson {
    check_runs: Vec<CheckRunJson>,
}

#[derive(Deserialize)]
struct CheckRunJson {
    id: u64,
    name: String,
    status: String,
    conclusion: Option<String>,
    html_url: Option<String>,
    app: Option<AppJson>,
}

#[derive(Deserialize)]
struct AppJson {
    slug: Option<String>,
}

#[derive(Deserialize)]
struct MergeJson {
    sha: String,
}

impl GitHub {
    /// A client for `owner/repo` at `base_url` ([`GITHUB_API`], or a test server), paced by
    /// `limiter` (share it between clients).
    pub fn new(
        base_url: &str,
        owner: &str,
        repo: &str,
        token: Option<Secret>,
        limiter: Arc<RateLimiter>,
    ) -> Result<Self> {
        Ok(Self {
            api: Api::new(base_url, Flavor::GitHub, limiter)?,
            owner: owner.to_string(),
            repo: repo.to_string(),
            token,
        })
    }

    fn path(&self, rest: &str) -> String {
        format!("/repos/{}/{}{rest}", self.owner, self.repo)
    }

    /// The open pull request whose head is `branch` of this repository, if any.
    pub async fn find_pull(&self, branch: &str) -> Result<Option<PullRequest>> {
        let head = format!("{}:{branch}", self.owner);
        let pulls: Vec<PullJson> = self
            .api
            .json(
                self.token.as_ref(),
                Method::GET,
                &self.path("/pulls"),
                &[("head", &head), ("state", "open")],
                None,
            )
            .await?;
        Ok(pulls.into_iter().next().map(Into::into))
    }

    /// Opens a pull request (`POST /repos/{owner}/{repo}/pulls`).
    pub async fn create_pull(&self, new: &NewPull) -> Result<PullRequest> {
        let body = json!({
            "title": new.title,
            "body": new.body,
            "head": new.head,
            "base": new.base,
        });
        let pull: PullJson = self
            .api
            .json(
                self.token.as_ref(),
                Method::POST,
                &self.path("/pulls"),
                &[],
                Some(&body),
            )
            .await?;
        Ok(pull.into())
    }

    /// The open pull request for `new.head`, created if there is none; `true` when created.
    pub async fn ensure_pull(&self, new: &NewPull) -> Result<(PullRequest, bool)> {
        if let Some(pull) = self.find_pull(&new.head).await? {
            return Ok((pull, false));
        }
        match self.create_pull(new).await {
            Ok(pull) => Ok((pull, true)),
            // 422 "A pull request already exists": someone opened it meanwhile.
            Err(Error::Status { status: 422, .. }) => match self.find_pull(&new.head).await? {
                Some(pull) => Ok((pull, false)),
                None => Err(Error::Status {
                    context: format!("POST {}", self.path("/pulls")),
                    status: 422,
                    message: "pull request not created and none found".into(),
                }),
            },
            Err(e) => Err(e),
        }
    }

    /// The check runs of commit `sha` (first 100).
    pub async fn check_runs(&self, sha: &str) -> Result<Vec<Check>> {
        let runs: CheckRunsJson = self
            .api
            .json(
                self.token.as_ref(),
                Method::GET,
                &self.path(&format!("/commits/{sha}/check-runs")),
                &[("per_page", "100")],
                None,
            )
            .await?;
        Ok(runs
            .check_runs
            .into_iter()
            .map(|r| {
                let state = if r.status != "completed" {
                    CheckState::Pending
                } else {
                    match r.conclusion.as_deref() {
                        Some("success") => CheckState::Passed,
                        Some("neutral" | "skipped") => CheckState::Skipped,
                        _ => CheckState::Failed,
                    }
                };
                let actions = r
                    .app
                    .and_then(|a| a.slug)
                    .is_some_and(|s| s == "github-actions");
                Check {
                    name: r.name,
                    state,
                    url: r.html_url,
                    // An Actions check run's id is its job id.
                    job_id: actions.then_some(r.id),
                }
            })
            .collect())
    }

    /// The full log of Actions job `job_id` (GitHub answers with a redirect to a pre-signed
    /// URL, fetched without credentials).
    pub async fn job_log(&self, job_id: u64) -> Result<String> {
        self.api
            .text(
                self.token.as_ref(),
                &self.path(&format!("/actions/jobs/{job_id}/logs")),
            )
            .await
    }

    /// The failing steps of Actions job `job_id`, trimmed (see [`github_failing_steps`]).
    pub async fn failure_excerpt(&self, job_id: u64) -> Result<String> {
        Ok(github_failing_steps(&self.job_log(job_id).await?))
    }

    /// Squash-merges pull request `number` if its head is still `sha`; returns the merge
    /// commit.
    pub async fn merge_squash(&self, number: u64, sha: &str) -> Result<String> {
        let body = json!({ "merge_method": "squash", "sha": sha });
        let merged: MergeJson = self
            .api
            .json(
                self.token.as_ref(),
                Method::PUT,
                &self.path(&format!("/pulls/{number}/merge")),
                &[],
                Some(&body),
            )
            .await?;
        Ok(merged.sha)
    }
    /// Posts a comment on issue or pull request `number`.
    pub async fn comment(&self, number: u64, body: &str) -> Result<()> {
        let body = json!({ "body": body });
        let _: serde_json::Value = self
            .api
            .json(
                self.token.as_ref(),
                Method::POST,
                &self.path(&format!("/issues/{number}/comments")),
                &[],
                Some(&body),
            )
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ci::{ci_status, CiStatus};
    use crate::mock;
    use serde_json::Value;
    use std::time::Duration;

    const TOKEN: &str = "ghp_testtokentesttokentesttokentest0001";

    fn run(id: u64, name: &str, status: &str, conclusion: Option<&str>) -> Value {
        json!({
            "id": id,
            "name": name,
            "head_sha": "ignored",
            "status": status,
            "conclusion": conclusion,
            "html_url": format!("https://github.com/o/r/actions/runs/7/job/{id}"),
            "details_url": format!("https://github.com/o/r/actions/runs/7/job/{id}"),
            "app": {"slug": "github-actions"},
        })
    }

    fn new_pull() -> NewPull {
        NewPull {
            title: "Fix the flaky test".into(),
            body: "Made the test deterministic.".into(),
            head: "caic-3".into(),
            base: "main".into(),
        }
    }

    fn client(base: &str, token: &str, limiter: Arc<RateLimiter>) -> GitHub {
        GitHub::new(base, "o", "r", Some(Secret::new(token)), limiter).unwrap()
    }

    #[tokio::test]
    async fn pull_request_is_created_once_then_found() {
        let (base, gh) = mock::github(TOKEN).await;
        let c = client(
            &base,
            TOKEN,
            Arc::new(RateLimiter::new(Duration::from_millis(20))),
        );
        assert_eq!(c.find_pull("caic-3").await.unwrap(), None);
        let (pr, created) = c.ensure_pull(&new_pull()).await.unwrap();
        assert!(created);
        assert_eq!(
            pr,
            PullRequest {
                number: 1,
                url: "https://github.com/o/r/pull/1".into(),
                head: "caic-3".into()
            }
        );
        let (again, created) = c.ensure_pull(&new_pull()).await.unwrap();
        assert!(!created);
        assert_eq!(again, pr);
        assert_eq!(gh.lock().pulls.len(), 1);
        let stored = gh.lock().pulls[0].clone();
        assert_eq!(stored["title"], "Fix the flaky test");
        assert_eq!(stored["body"], "Made the test deterministic.");
        assert_eq!(stored["base"]["ref"], "main");
        // Creating it blindly a second time is the forge's 422.
        let err = c.create_pull(&new_pull()).await.unwrap_err();
        assert!(matches!(err, Error::Status { status: 422, .. }), "{err}");
        // Every request carried the token as a bearer.
        for seen in &gh.lock().requests {
            assert_eq!(
                seen.auth.as_deref(),
                Some(format!("Bearer {TOKEN}").as_str())
            );
        }
        // A wrong token is an error that does not contain the token.
        let bad = client(
            &base,
            "ghp_wrongwrongwrongwrongwrongwrongwrong1",
            Arc::default(),
        );
        let err = bad.find_pull("caic-3").await.unwrap_err();
        assert!(matches!(err, Error::Status { status: 401, .. }), "{err}");
        assert!(!err.to_string().contains("wrongwrong"), "{err}");
    }

    #[tokio::test]
    async fn checks_pending_then_failed_with_log_excerpt_then_passed_and_merge() {
        let (base, gh) = mock::github(TOKEN).await;
        let c = client(
            &base,
            TOKEN,
            Arc::new(RateLimiter::new(Duration::from_millis(20))),
        );
        let (pr, _) = c.ensure_pull(&new_pull()).await.unwrap();
        let sha1 = "1".repeat(40);
        assert_eq!(
            ci_status(&c.check_runs(&sha1).await.unwrap()),
            CiStatus::None
        );

        gh.lock().check_runs.insert(
            sha1.clone(),
            vec![
                run(41, "lint", "completed", Some("success")),
                run(42, "test", "in_progress", None),
            ],
        );
        let checks = c.check_runs(&sha1).await.unwrap();
        assert_eq!(ci_status(&checks), CiStatus::Pending { done: 1, total: 2 });
        assert_eq!(
            checks[1].url.as_deref(),
            Some("https://github.com/o/r/actions/runs/7/job/42")
        );

        gh.lock().check_runs.insert(
            sha1.clone(),
            vec![
                run(41, "lint", "completed", Some("success")),
                run(42, "test", "completed", Some("failure")),
            ],
        );
        gh.lock()
            .logs
            .insert(42, crate::excerpt::tests::LOG.to_string());
        let checks = c.check_runs(&sha1).await.unwrap();
        assert_eq!(ci_status(&checks), CiStatus::Failed);
        let failing: Vec<&Check> = checks
            .iter()
            .filter(|c| c.state == CheckState::Failed)
            .collect();
        assert_eq!(failing.len(), 1);
        assert_eq!(failing[0].job_id, Some(42));
        let excerpt = c.failure_excerpt(42).await.unwrap();
        assert!(excerpt.starts_with("== Run cargo test =="), "{excerpt}");
        assert!(
            excerpt.contains("test tests::subtracts ... FAILED"),
            "{excerpt}"
        );
        assert!(!excerpt.contains("Syncing repository"), "{excerpt}");
        assert!(!excerpt.contains("2024-01-15T"), "{excerpt}");
        // The pre-signed URL was fetched without the token.
        assert_eq!(gh.lock().presigned_auth, vec![None]);
        // A job without a log is an error.
        assert!(matches!(
            c.job_log(99).await.unwrap_err(),
            Error::Status { status: 404, .. }
        ));

        // The fix is pushed: the new head passes.
        let sha2 = "2".repeat(40);
        gh.lock().check_runs.insert(
            sha2.clone(),
            vec![
                run(51, "lint", "completed", Some("success")),
                run(52, "test", "completed", Some("success")),
                run(53, "docs", "completed", Some("skipped")),
            ],
        );
        assert_eq!(
            ci_status(&c.check_runs(&sha2).await.unwrap()),
            CiStatus::Passed
        );

        // Merge (squash) only for the head caic saw.
        let head = gh.lock().pulls[0]["head"]["sha"]
            .as_str()
            .unwrap()
            .to_string();
        let err = c.merge_squash(pr.number, &sha2).await.unwrap_err();
        assert!(matches!(err, Error::Status { status: 409, .. }), "{err}");
        assert_eq!(
            c.merge_squash(pr.number, &head).await.unwrap(),
            "m".repeat(40)
        );
        assert_eq!(gh.lock().pulls[0]["merged"], true);
        assert_eq!(c.find_pull("caic-3").await.unwrap(), None);
    }

    #[tokio::test]
    async fn rate_limit_is_honoured() {
        let (base, gh) = mock::github(TOKEN).await;
        // The real pacing: one request per second per credential, shared by two clients.
        let limiter = Arc::new(RateLimiter::default());
        let a = client(&base, TOKEN, limiter.clone());
        let b = client(&base, TOKEN, limiter.clone());
        // The first answer is a secondary rate limit with Retry-After: 1.
        gh.lock().rate_limit_next = 1;
        let (ra, rb) = tokio::join!(a.find_pull("x"), b.find_pull("y"));
        ra.unwrap();
        rb.unwrap();
        a.check_runs(&"3".repeat(40)).await.unwrap();
        let seen = gh.lock().requests.clone();
        assert_eq!(seen.len(), 4, "{seen:?}");
        for pair in seen.windows(2) {
            let gap = pair[1].at - pair[0].at;
            assert!(
                gap >= Duration::from_millis(900),
                "requests {gap:?} apart: {seen:?}"
            );
        }

        // A limit longer than caic waits inline is reported at once, not waited out.
        {
            let mut st = gh.lock();
            st.rate_limit_next = 1;
            st.retry_after = Some(3600);
        }
        let c = client(
            &base,
            TOKEN,
            Arc::new(RateLimiter::new(Duration::from_millis(20))),
        );
        let t0 = std::time::Instant::now();
        let err = c.find_pull("x").await.unwrap_err();
        assert!(
            matches!(err, Error::RateLimited { retry_after, .. } if retry_after == Duration::from_secs(3600)),
            "{err}"
        );
        assert!(t0.elapsed() < Duration::from_secs(30));
    }
}
