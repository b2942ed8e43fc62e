//! `/api/v1/tasks*`: create, list, follow and act on tasks.

use super::AppState;
use crate::auth::caller::RequestCaller;
use crate::error::{HttpError, JsonBody};
use crate::sse;
use axum::extract::{Path, State};
use axum::Json;
use caic_api::{
    ApiError, CreateTaskReq, CreateTaskResp, DiffResp, Event, InputReq, RestartReq, StatusResp,
    SyncReq, SyncResp, Task,
};

fn status(s: &str) -> Json<StatusResp> {
    Json(StatusResp {
        status: s.to_string(),
    })
}

/// Lists every task, oldest first.
#[utoipa::path(get, path = "/api/v1/tasks", tag = "tasks",
    responses((status = 200, body = Vec<Task>)))]
pub async fn list(
    State(app): State<AppState>,
    RequestCaller(caller): RequestCaller,
) -> Json<Vec<Task>> {
    Json(app.engine.list(&caller))
}

/// Creates a task; it starts in the background.
#[utoipa::path(post, path = "/api/v1/tasks", tag = "tasks", request_body = CreateTaskReq,
    responses((status = 200, body = CreateTaskResp), (status = 400, body = ApiError)))]
pub async fn create(
    State(app): State<AppState>,
    RequestCaller(caller): RequestCaller,
    JsonBody(req): JsonBody<CreateTaskReq>,
) -> Result<Json<CreateTaskResp>, HttpError> {
    let id = app.engine.create(&caller, req).await?;
    Ok(Json(CreateTaskResp {
        id,
        status: "accepted".into(),
    }))
}

/// One task.
#[utoipa::path(get, path = "/api/v1/tasks/{id}", tag = "tasks",
    params(("id" = String, Path, description = "task id")),
    responses((status = 200, body = Task), (status = 404, body = ApiError)))]
pub async fn get(
    State(app): State<AppState>,
    RequestCaller(caller): RequestCaller,
    Path(id): Path<String>,
) -> Result<Json<Task>, HttpError> {
    Ok(Json(app.engine.get(&caller, &id)?))
}

/// Streams a task's events: the whole history, a `ready` event, then live events.
#[utoipa::path(get, path = "/api/v1/tasks/{id}/events", tag = "tasks",
    params(("id" = String, Path, description = "task id")),
    responses((status = 200, description = "text/event-stream of Event; `event: ready` marks the end of the history", body = Event, content_type = "text/event-stream"),
        (status = 404, body = ApiError)))]
pub async fn events(
    State(app): State<AppState>,
    RequestCaller(caller): RequestCaller,
    Path(id): Path<String>,
) -> Result<axum::response::Response, HttpError> {
    let sub = app.engine.subscribe(&caller, &id)?;
    Ok(sse::task_events(sub, app.engine.closed()))
}

/// Sends a follow-up message to the agent.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/input", tag = "tasks", request_body = InputReq,
    params(("id" = String, Path, description = "task id")),
    responses((status = 200, body = StatusResp), (status = 400, body = ApiError),
        (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn input(
    State(app): State<AppState>,
    RequestCaller(caller): RequestCaller,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<InputReq>,
) -> Result<Json<StatusResp>, HttpError> {
    app.engine.input(&caller, &id, req.prompt).await?;
    Ok(status("sent"))
}

/// Stops the agent and its container (kept for revive).
#[utoipa::path(post, path = "/api/v1/tasks/{id}/stop", tag = "tasks",
    params(("id" = String, Path, description = "task id")),
    responses((status = 200, body = StatusResp), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn stop(
    State(app): State<AppState>,
    RequestCaller(caller): RequestCaller,
    Path(id): Path<String>,
) -> Result<Json<StatusResp>, HttpError> {
    app.engine.stop(&caller, &id).await?;
    Ok(status("stopping"))
}

/// Restarts a stopped task's container and resumes its agent.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/revive", tag = "tasks",
    params(("id" = String, Path, description = "task id")),
    responses((status = 200, body = StatusResp), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn revive(
    State(app): State<AppState>,
    RequestCaller(caller): RequestCaller,
    Path(id): Path<String>,
) -> Result<Json<StatusResp>, HttpError> {
    app.engine.revive(&caller, &id).await?;
    Ok(status("provisioning"))
}

/// Deletes the task's container; its history stays.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/purge", tag = "tasks",
    params(("id" = String, Path, description = "task id")),
    responses((status = 200, body = StatusResp), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn purge(
    State(app): State<AppState>,
    RequestCaller(caller): RequestCaller,
    Path(id): Path<String>,
) -> Result<Json<StatusResp>, HttpError> {
    app.engine.purge(&caller, &id).await?;
    Ok(status("purging"))
}

/// Starts a fresh agent session with a new prompt; the history is kept.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/restart", tag = "tasks", request_body = RestartReq,
    params(("id" = String, Path, description = "task id")),
    responses((status = 200, body = StatusResp), (status = 400, body = ApiError),
        (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn restart(
    State(app): State<AppState>,
    RequestCaller(caller): RequestCaller,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<RestartReq>,
) -> Result<Json<StatusResp>, HttpError> {
    app.engine.restart(&caller, &id, req.prompt).await?;
    Ok(status("restarted"))
}

/// The diff of the task's work against its branch point, untracked files included.
#[utoipa::path(get, path = "/api/v1/tasks/{id}/diff", tag = "tasks",
    params(("id" = String, Path, description = "task id")),
    responses((status = 200, body = DiffResp), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn diff(
    State(app): State<AppState>,
    RequestCaller(caller): RequestCaller,
    Path(id): Path<String>,
) -> Result<Json<DiffResp>, HttpError> {
    Ok(Json(app.engine.diff(&caller, &id).await?))
}

/// Brings the work back to the host repo, scans it for secrets and large binaries, and
/// pushes it to the repo's `origin` (the task branch, or squashed onto the default
/// branch). Findings block the push and are sent to the agent.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/sync", tag = "tasks", request_body = SyncReq,
    params(("id" = String, Path, description = "task id")),
    responses((status = 200, body = SyncResp), (status = 400, body = ApiError),
        (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn sync(
    State(app): State<AppState>,
    RequestCaller(caller): RequestCaller,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<SyncReq>,
) -> Result<Json<SyncResp>, HttpError> {
    Ok(Json(app.engine.sync(&caller, &id, req).await?))
}

/// Ends the agent's current turn early; the session stays for more input.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/interrupt", tag = "tasks",
    params(("id" = String, Path, description = "task id")),
    responses((status = 200, body = StatusResp), (status = 400, body = ApiError),
        (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn interrupt(
    State(app): State<AppState>,
    RequestCaller(caller): RequestCaller,
    Path(id): Path<String>,
) -> Result<Json<StatusResp>, HttpError> {
    app.engine.interrupt(&caller, &id).await?;
    Ok(status("interrupting"))
}

/// Sends the task's last CI failure (failing jobs' log excerpts) to the agent again;
/// the branch is pushed again when the agent's turn ends.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/fix-ci", tag = "tasks",
    params(("id" = String, Path, description = "task id")),
    responses((status = 200, body = StatusResp), (status = 400, body = ApiError),
        (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn fix_ci(
    State(app): State<AppState>,
    RequestCaller(caller): RequestCaller,
    Path(id): Path<String>,
) -> Result<Json<StatusResp>, HttpError> {
    app.engine.fix_ci(&caller, &id).await?;
    Ok(status("sent"))
}
