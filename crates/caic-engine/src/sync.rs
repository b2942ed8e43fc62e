//! Sync: bring the work back to the host repo, scan it, push it (task branch or one
//! squashed commit on the base branch), then hand over to shipping (PR, CI).

use crate::caller::Caller;
use crate::engine::{workdir, Engine};
use crate::error::{Error, Result};
use crate::session;
use caic_api::{Action, EventData, Prompt, SafetyIssue, SyncReq, SyncResp, SyncTarget};

impl Engine {
    /// Brings the work back to the host repo, scans it, and publishes it to the repo's
    /// `origin`: the task branch, or one squashed commit on the default branch. Scan
    /// findings block the push (unless forced, branch target only) and are sent to the
    /// agent so it can fix them.
    pub async fn sync(&self, caller: &Caller, id: &str, req: SyncReq) -> Result<SyncResp> {
        let task = self.task_for(caller, id)?;
        self.check(&task, Action::Sync, "sync")?;
        if req.force && req.target == SyncTarget::Default {
            return Err(Error::BadRequest(
                "force is only allowed when pushing the task branch".into(),
            ));
        }
        let _op = task.ops.lock().await;
        let (meta, container) = {
            let d = task.data.lock();
            (d.meta.clone(), d.container.clone())
        };
        let container = container.ok_or_else(|| Error::Internal("task has no container".into()))?;
        let repo = self.repo_for(&meta.repo)?;
        let (name, email) = caic_git::host_identity(&repo.abs_path).await;
        let bundle = self
            .inner
            .backend
            .export(
                &container,
                &workdir(&meta.repo),
                &meta.branch,
                (&name, &email),
            )
            .await?;
        caic_git::bundle_import(&repo.abs_path, &bundle, &meta.branch).await?;
        let base = caic_git::base_ref(&repo.abs_path, &meta.base_branch).await?;
        let diff_stat = caic_git::diff_stat_host(&repo.abs_path, &base, &meta.branch).await?;
        let mut resp = SyncResp {
            status: "empty".into(),
            branch: match req.target {
                SyncTarget::Branch => meta.branch.clone(),
                SyncTarget::Default => meta.base_branch.clone(),
            },
            commit: None,
            diff_stat,
            safety_issues: Vec::new(),
            pr: None,
        };
        if resp.diff_stat.is_empty() {
            return Ok(resp);
        }
        let findings = caic_git::scan_diff(&repo.abs_path, &base, &meta.branch).await?;
        resp.safety_issues = findings
            .iter()
            .map(|f| SafetyIssue {
                file: f.file.clone(),
                line: f.line,
                kind: f.kind.as_str().to_string(),
                detail: f.detail.clone(),
            })
            .collect();
        if !findings.is_empty() && !req.force {
            resp.status = "blocked".into();
            let list: Vec<String> = resp
                .safety_issues
                .iter()
                .map(|i| match i.line {
                    Some(l) => format!("- {}:{l}: {}", i.file, i.detail),
                    None => format!("- {}: {}", i.file, i.detail),
                })
                .collect();
            let text = format!(
                "caic refused to push this work: the pre-push scan found what looks like secrets or large binaries. Remove them from the branch (rewrite the commits if needed) and tell me when done.\n{}",
                list.join("\n")
            );
            task.emit(EventData::Log {
                line: format!("push blocked: {} finding(s)", list.len()),
            });
            let harness = self.harness_of(&task)?;
            let line = harness.encode_prompt(&Prompt {
                text,
                images: Vec::new(),
            });
            if let Err(e) = session::send_line(&task, &line).await {
                tracing::warn!(task = %meta.id, error = %e, "telling the agent about scan findings");
            }
            return Ok(resp);
        }
        match req.target {
            SyncTarget::Branch => {
                let sha = caic_git::push_branch(&repo.abs_path, "origin", &meta.branch).await?;
                resp.commit = Some(sha);
            }
            SyncTarget::Default => {
                let message = format!(
                    "{}\n\nFrom caic task {} ({}).",
                    meta.title, meta.id, meta.branch
                );
                resp.commit = caic_git::squash_onto(
                    &repo.abs_path,
                    "origin",
                    &meta.branch,
                    &meta.base_branch,
                    &message,
                    (&name, &email),
                )
                .await?;
                if resp.commit.is_none() {
                    return Ok(resp);
                }
            }
        }
        resp.status = "synced".into();
        task.emit(EventData::Log {
            line: format!(
                "pushed {} to origin/{}",
                resp.commit
                    .as_deref()
                    .map(|c| &c[..c.len().min(12)])
                    .unwrap_or(""),
                resp.branch
            ),
        });
        if req.target == SyncTarget::Branch {
            if let Some(sha) = resp.commit.clone() {
                resp.pr = self.after_push(&task, &sha).await;
            }
        }
        self.notify();
        Ok(resp)
    }
}
