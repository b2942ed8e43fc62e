//! Pull requests and CI status of a task's pushed work, as the API shows them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A pull request (GitHub) or merge request (GitLab) for a task's branch.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PullInfo {
    /// `github` or `gitlab`.
    pub forge: String,
    /// The number people see: PR number or MR iid.
    pub number: u64,
    /// Its web page.
    pub url: String,
}

/// Where a commit's CI stands as a whole.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CiState {
    /// No check reported yet, or some still running.
    Pending,
    /// Every check finished and none failed.
    Passed,
    /// Every check finished and at least one failed.
    Failed,
}

/// Where one check stands: `pending`, `passed`, `failed` or `skipped`.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CiCheck {
    /// Its name as the forge shows it.
    pub name: String,
    /// `pending`, `passed`, `failed` or `skipped`.
    pub state: String,
    /// Its web page, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// The CI status of the last commit caic pushed for a task.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CiInfo {
    /// The commit the checks ran on.
    pub sha: String,
    /// The verdict so far.
    pub state: CiState,
    /// Checks finished.
    pub done: u32,
    /// All checks.
    pub total: u32,
    /// One entry per check.
    #[serde(default)]
    pub checks: Vec<CiCheck>,
}
