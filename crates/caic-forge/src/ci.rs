//! Forge-neutral pull requests and CI checks.

/// What caic asks for when opening a pull (merge) request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPull {
    /// Title (the task title).
    pub title: String,
    /// Body (the agent's last result).
    pub body: String,
    /// The branch with the work (`caic-N`), in the same repository.
    pub head: String,
    /// The branch to merge into.
    pub base: String,
}

/// An open pull request (GitHub) or merge request (GitLab).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequest {
    /// PR number (GitHub) or MR iid (GitLab): the number users see.
    pub number: u64,
    /// Its web page.
    pub url: String,
    /// The head (source) branch.
    pub head: String,
}

/// Where one check stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CheckState {
    /// Queued or running.
    Pending,
    /// Finished successfully.
    Passed,
    /// Finished with a failure, cancellation or timeout.
    Failed,
    /// Skipped, neutral, manual, or a failure that is allowed.
    Skipped,
}

/// One CI check of a commit: a GitHub check run or a GitLab commit status / job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// Its name as the forge shows it.
    pub name: String,
    /// Where it stands.
    pub state: CheckState,
    /// Its web page, when known.
    pub url: Option<String>,
    /// The CI job whose log can be fetched (GitHub Actions job / GitLab job), if any.
    pub job_id: Option<u64>,
}

/// The CI verdict of a commit, from all its checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CiStatus {
    /// No check reported yet.
    None,
    /// Some checks are still running: `done` of `total` finished.
    Pending {
        /// Finished checks.
        done: usize,
        /// All checks.
        total: usize,
    },
    /// All checks finished and none failed.
    Passed,
    /// All checks finished and at least one failed.
    Failed,
}

/// Sums up checks: pending while any runs, then failed if any failed, else passed.
pub fn ci_status(checks: &[Check]) -> CiStatus {
    if checks.is_empty() {
        return CiStatus::None;
    }
    let done = checks
        .iter()
        .filter(|c| c.state != CheckState::Pending)
        .count();
    if done < checks.len() {
        CiStatus::Pending {
            done,
            total: checks.len(),
        }
    } else if checks.iter().any(|c| c.state == CheckState::Failed) {
        CiStatus::Failed
    } else {
        CiStatus::Passed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(state: CheckState) -> Check {
        Check {
            name: "x".into(),
            state,
            url: None,
            job_id: None,
        }
    }

    #[test]
    fn summary() {
        use CheckState::*;
        assert_eq!(ci_status(&[]), CiStatus::None);
        assert_eq!(
            ci_status(&[c(Passed), c(Pending), c(Failed)]),
            CiStatus::Pending { done: 2, total: 3 }
        );
        assert_eq!(ci_status(&[c(Passed), c(Failed)]), CiStatus::Failed);
        assert_eq!(ci_status(&[c(Passed), c(Skipped)]), CiStatus::Passed);
    }
}
