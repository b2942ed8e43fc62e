//! `/api/v1/server/*`: repos, branches, harnesses, and the task-list stream.

use super::AppState;
use crate::auth::caller::RequestCaller;
use crate::error::HttpError;
use crate::sse;
use axum::extract::{Query, State};
use axum::Json;
use caic_api::{ApiError, BranchesResp, HarnessInfo, Repo, TaskListEvent};
use serde::Deserialize;
use utoipa::IntoParams;

/// Lists the git repos tasks can start in.
#[utoipa::path(get, path = "/api/v1/server/repos", tag = "server",
    responses((status = 200, body = Vec<Repo>)))]
pub async fn list_repos(State(app): State<AppState>) -> Json<Vec<Repo>> {
    Json(app.engine.repos())
}

/// Query of the branches route.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct BranchesQuery {
    /// Repo id.
    pub repo: String,
}

/// Lists a repo's branches, default first.
#[utoipa::path(get, path = "/api/v1/server/repos/branches", tag = "server",
    params(BranchesQuery),
    responses((status = 200, body = BranchesResp), (status = 400, body = ApiError)))]
pub async fn list_branches(
    State(app): State<AppState>,
    q: Result<Query<BranchesQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<BranchesResp>, HttpError> {
    let Query(q) = q.map_err(|e| HttpError::bad_request(e.body_text()))?;
    let branches = app.engine.branches(&q.repo).await?;
    Ok(Json(BranchesResp { branches }))
}

/// Lists the harnesses (agents) a task can use, with their models.
#[utoipa::path(get, path = "/api/v1/server/harnesses", tag = "server",
    responses((status = 200, body = Vec<HarnessInfo>)))]
pub async fn list_harnesses(State(app): State<AppState>) -> Json<Vec<HarnessInfo>> {
    Json(app.engine.harnesses())
}

/// Streams the task list: a `snapshot`, then `upsert`, `patch` and `delete` messages.
#[utoipa::path(get, path = "/api/v1/server/tasks/events", tag = "server",
    responses((status = 200, description = "text/event-stream of TaskListEvent", body = TaskListEvent, content_type = "text/event-stream")))]
pub async fn task_list_events(
    State(app): State<AppState>,
    RequestCaller(caller): RequestCaller,
) -> impl axum::response::IntoResponse {
    sse::task_list(app.engine, caller)
}
