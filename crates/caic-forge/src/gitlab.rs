//! GitLab REST v4 (gitlab.com or self-hosted): merge requests, commit statuses, pipelines,
//! job traces.

use crate::api::{Api, Flavor};
use crate::ci::{Check, CheckState, NewPull, PullRequest};
use crate::error::{Error, Result};
use crate::excerpt::gitlab_trace_tail;
use crate::limit::RateLimiter;
use crate::secret::Secret;
use reqwest::Method;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// A client for one GitLab project with one credential.
#[derive(Debug, Clone)]
pub struct GitLab {
    api: Api,
    /// The project path, URL-encoded (`group%2Fproject`).
    id: String,
    token: Option<Secret>,
}

/// A pipeline of a commit.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Pipeline {
    /// Pipeline id.
    pub id: u64,
    /// GitLab's status: `created`, `pending`, `running`, `success`, `failed`, `canceled`...
    pub status: String,
    /// Its web page.
    pub web_url: String,
}

#[derive(Deserialize)]
struct MrJson {
    iid: u64,
    web_url: String,
    source_branch: String,
}

impl From<MrJson> for PullRequest {
    fn from(m: MrJson) -> Self {
        Self {
            number: m.iid,
            url: m.web_url,
            head: m.source_branch,
        }
    }
}

#[derive(Deserialize)]
struct StatusJson {
    id: u64,
    name: String,
    status: String,
    target_url: Option<String>,
    #[serde(default)]
    allow_failure: bool,
}

/// Encodes a project path for the `:id` of GitLab URLs.
fn encode_project(path: &str) -> String {
    let mut out = String::new();
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl GitLab {
    /// A client for project `project_path` (`group/sub/project`) at `base_url`, the API root
    /// (`https://gitlab.com/api/v4` or a self-hosted one), paced by `limiter`.
    pub fn new(
        base_url: &str,
        project_path: &str,
        token: Option<Secret>,
        limiter: Arc<RateLimiter>,
    ) -> Result<Self> {
        Ok(Self {
            api: Api::new(base_url, Flavor::GitLab, limiter)?,
            id: encode_project(project_path),
            token,
        })
    }

    fn path(&self, rest: &str) -> String {
        format!("/projects/{}{rest}", self.id)
    }

    /// The open merge request from `branch`, if any.
    pub async fn find_merge_request(&self, branch: &str) -> Result<Option<PullRequest>> {
        let mrs: Vec<MrJson> = self
            .api
            .json(
                self.token.as_ref(),
                Method::GET,
                &self.path("/merge_requests"),
                &[("source_branch", branch), ("state", "opened")],
                None,
            )
            .await?;
        Ok(mrs.into_iter().next().map(Into::into))
    }

    /// Opens a merge request.
    pub async fn create_merge_request(&self, new: &NewPull) -> Result<PullRequest> {
        let body = json!({
            "source_branch": new.head,
            "target_branch": new.base,
            "title": new.title,
            "description": new.body,
        });
        let mr: MrJson = self
            .api
            .json(
                self.token.as_ref(),
                Method::POST,
                &self.path("/merge_requests"),
                &[],
                Some(&body),
            )
            .await?;
        Ok(mr.into())
    }

    /// The open merge request from `new.head`, created if there is none; `true` when created.
    pub async fn ensure_merge_request(&self, new: &NewPull) -> Result<(PullRequest, bool)> {
        if let Some(mr) = self.find_merge_request(&new.head).await? {
            return Ok((mr, false));
        }
        match self.create_merge_request(new).await {
            Ok(mr) => Ok((mr, true)),
            // 409 "Another open merge request already exists for this source branch".
            Err(e @ Error::Status { status: 409, .. }) => {
                match self.find_merge_request(&new.head).await? {
                    Some(mr) => Ok((mr, false)),
                    None => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// The pipelines of commit `sha`, newest first.
    pub async fn pipelines(&self, sha: &str) -> Result<Vec<Pipeline>> {
        self.api
            .json(
                self.token.as_ref(),
                Method::GET,
                &self.path("/pipelines"),
                &[("sha", sha), ("order_by", "id"), ("sort", "desc")],
                None,
            )
            .await
    }

    /// The checks of commit `sha`: its latest commit statuses (CI jobs and external ones).
    pub async fn checks(&self, sha: &str) -> Result<Vec<Check>> {
        let statuses: Vec<StatusJson> = self
            .api
            .json(
                self.token.as_ref(),
                Method::GET,
                &self.path(&format!("/repository/commits/{sha}/statuses")),
                &[("per_page", "100")],
                None,
            )
            .await?;
        Ok(statuses
            .into_iter()
            .map(|s| {
                let state = match s.status.as_str() {
                    "success" => CheckState::Passed,
                    "failed" if s.allow_failure => CheckState::Skipped,
                    "failed" | "canceled" => CheckState::Failed,
                    "skipped" | "manual" => CheckState::Skipped,
                    _ => CheckState::Pending,
                };
                // CI jobs link to `/-/jobs/<id>`; external statuses have no trace.
                let job = s
                    .target_url
                    .as_deref()
                    .is_some_and(|u| u.contains("/-/jobs/"));
                Check {
                    name: s.name,
                    state,
                    url: s.target_url,
                    job_id: job.then_some(s.id),
                }
            })
            .collect())
    }

    /// The full trace (log) of job `job_id`.
    pub async fn job_trace(&self, job_id: u64) -> Result<String> {
        self.api
            .text(
                self.token.as_ref(),
                &self.path(&format!("/jobs/{job_id}/trace")),
            )
            .await
    }

    /// The end of job `job_id`'s trace, cleaned (see [`gitlab_trace_tail`]).
    pub async fn failure_excerpt(&self, job_id: u64) -> Result<String> {
        Ok(gitlab_trace_tail(&self.job_trace(job_id).await?))
    }
    /// Squash-merges merge request `iid` if its head is still `sha`; returns the merge
    /// commit when GitLab reports one.
    pub async fn merge_squash(&self, iid: u64, sha: &str) -> Result<Option<String>> {
        let body = json!({ "squash": true, "sha": sha });
        let merged: serde_json::Value = self
            .api
            .json(
                self.token.as_ref(),
                Method::PUT,
                &self.path(&format!("/merge_requests/{iid}/merge")),
                &[],
                Some(&body),
            )
            .await?;
        Ok(merged
            .get("merge_commit_sha")
            .or_else(|| merged.get("squash_commit_sha"))
            .and_then(|v| v.as_str())
            .map(String::from))
    }

    /// Posts a note (comment) on issue `iid`.
    pub async fn comment_issue(&self, iid: u64, body: &str) -> Result<()> {
        let body = json!({ "body": body });
        let _: serde_json::Value = self
            .api
            .json(
                self.token.as_ref(),
                Method::POST,
                &self.path(&format!("/issues/{iid}/notes")),
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

    #[test]
    fn project_ids_are_encoded() {
        assert_eq!(encode_project("grp/sub/my.proj"), "grp%2Fsub%2Fmy.proj");
    }
}

#[cfg(test)]
mod mock_tests {
    use super::*;
    use crate::ci::{ci_status, CiStatus};
    use crate::mock;
    use serde_json::Value;
    use std::time::Duration;

    const TOKEN: &str = "glpat-testtokentesttoken01";
    const PROJECT: &str = "grp/sub/proj";

    fn status(id: u64, name: &str, status: &str) -> Value {
        json!({
            "id": id,
            "sha": "ignored",
            "ref": "caic-3",
            "status": status,
            "name": name,
            "target_url": format!("https://gitlab.example.com/{PROJECT}/-/jobs/{id}"),
            "description": null,
            "allow_failure": false,
        })
    }

    fn new_mr() -> NewPull {
        NewPull {
            title: "Fix the flaky test".into(),
            body: "Made the test deterministic.".into(),
            head: "caic-3".into(),
            base: "main".into(),
        }
    }

    #[tokio::test]
    async fn merge_request_and_pipeline_loop() {
        let (base, gl) = mock::gitlab(PROJECT, TOKEN).await;
        let limiter = Arc::new(RateLimiter::new(Duration::from_millis(20)));
        let c = GitLab::new(&base, PROJECT, Some(Secret::new(TOKEN)), limiter.clone()).unwrap();

        let (mr, created) = c.ensure_merge_request(&new_mr()).await.unwrap();
        assert!(created);
        assert_eq!(
            mr,
            PullRequest {
                number: 1,
                url: format!("https://gitlab.example.com/{PROJECT}/-/merge_requests/1"),
                head: "caic-3".into()
            }
        );
        let (again, created) = c.ensure_merge_request(&new_mr()).await.unwrap();
        assert_eq!((again, created), (mr, false));
        assert_eq!(gl.lock().mrs.len(), 1);
        assert_eq!(
            gl.lock().mrs[0]["description"],
            "Made the test deterministic."
        );
        let err = c.create_merge_request(&new_mr()).await.unwrap_err();
        assert!(matches!(err, Error::Status { status: 409, .. }), "{err}");

        let sha = "a".repeat(40);
        gl.lock().pipelines.insert(
            sha.clone(),
            vec![
                json!({"id": 77, "iid": 3, "sha": sha, "ref": "caic-3", "status": "running",
                        "web_url": format!("https://gitlab.example.com/{PROJECT}/-/pipelines/77")}),
            ],
        );
        gl.lock().statuses.insert(
            sha.clone(),
            vec![
                status(700, "build", "success"),
                status(701, "test", "running"),
            ],
        );
        let pipelines = c.pipelines(&sha).await.unwrap();
        assert_eq!(
            (pipelines[0].id, pipelines[0].status.as_str()),
            (77, "running")
        );
        assert_eq!(
            ci_status(&c.checks(&sha).await.unwrap()),
            CiStatus::Pending { done: 1, total: 2 }
        );

        gl.lock().statuses.insert(
            sha.clone(),
            vec![
                status(700, "build", "success"),
                status(701, "test", "failed"),
            ],
        );
        gl.lock().traces.insert(
            701,
            "\u{1b}[0KRunning with gitlab-runner 16.0\n$ cargo test\ntest x ... FAILED\n\
             \u{1b}[31;1mERROR: Job failed: exit code 1\u{1b}[0;m\n"
                .into(),
        );
        let checks = c.checks(&sha).await.unwrap();
        assert_eq!(ci_status(&checks), CiStatus::Failed);
        let failed = checks
            .iter()
            .find(|c| c.state == CheckState::Failed)
            .unwrap();
        assert_eq!(failed.job_id, Some(701));
        let excerpt = c.failure_excerpt(701).await.unwrap();
        assert!(
            excerpt.contains("test x ... FAILED\nERROR: Job failed: exit code 1"),
            "{excerpt}"
        );
        assert!(!excerpt.contains('\u{1b}'), "{excerpt}");

        let sha2 = "b".repeat(40);
        gl.lock().statuses.insert(
            sha2.clone(),
            vec![
                status(800, "build", "success"),
                status(801, "test", "success"),
            ],
        );
        assert_eq!(ci_status(&c.checks(&sha2).await.unwrap()), CiStatus::Passed);

        // Wrong token, wrong project.
        let bad = GitLab::new(
            &base,
            PROJECT,
            Some(Secret::new("glpat-wrongwrongwrong")),
            limiter.clone(),
        )
        .unwrap();
        assert!(matches!(
            bad.find_merge_request("caic-3").await.unwrap_err(),
            Error::Status { status: 401, .. }
        ));
        let other = GitLab::new(&base, "grp/other", Some(Secret::new(TOKEN)), limiter).unwrap();
        assert!(matches!(
            other.find_merge_request("caic-3").await.unwrap_err(),
            Error::Status { status: 404, .. }
        ));
    }
}
