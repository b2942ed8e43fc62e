//! The task-list stream of one user: the same snapshot-then-changes protocol as
//! [`crate::sse::task_list`], limited to the tasks the user owns.

use super::Auth;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use caic_api::{Task, TaskListEvent};
use caic_engine::Engine;
use futures::stream::{self, StreamExt};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

fn owned(engine: &Engine, auth: &Auth, user: &str) -> BTreeMap<String, (Task, serde_json::Value)> {
    engine
        .list()
        .into_iter()
        .filter(|t| auth.owners().owns(user, &t.id))
        .map(|t| {
            let v = serde_json::to_value(&t).unwrap_or_default();
            (t.id.clone(), (t, v))
        })
        .collect()
}

fn list_event(ev: &TaskListEvent) -> Result<SseEvent, Infallible> {
    Ok(SseEvent::default().data(serde_json::to_string(ev).unwrap_or_default()))
}

/// The stream for `user`: a snapshot of their tasks, then `upsert`, `patch` and
/// `delete` messages about them, as tasks change or get an owner.
pub fn owned_task_list(engine: Engine, auth: Arc<Auth>, user: String) -> Response {
    let mut changes = engine.changes();
    changes.mark_unchanged();
    let mut owner_changes = auth.owners().changes();
    owner_changes.mark_unchanged();
    let first = owned(&engine, &auth, &user);
    let snapshot = TaskListEvent::Snapshot {
        tasks: first.values().map(|(t, _)| t.clone()).collect(),
    };
    let seen: BTreeMap<String, serde_json::Value> =
        first.into_iter().map(|(k, (_, v))| (k, v)).collect();
    let updates = stream::unfold(
        (engine, auth, user, changes, owner_changes, seen),
        |(engine, auth, user, mut changes, mut owner_changes, seen)| async move {
            loop {
                tokio::select! {
                    r = changes.changed() => r.ok()?,
                    r = owner_changes.changed() => r.ok()?,
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
                changes.mark_unchanged();
                owner_changes.mark_unchanged();
                let now = owned(&engine, &auth, &user);
                let events = crate::sse::diff_lists(&seen, &now);
                if events.is_empty() {
                    continue;
                }
                let seen = now.into_iter().map(|(k, (_, v))| (k, v)).collect();
                return Some((
                    stream::iter(events),
                    (engine, auth, user, changes, owner_changes, seen),
                ));
            }
        },
    )
    .flatten();
    let s =
        stream::once(async move { list_event(&snapshot) }).chain(updates.map(|e| list_event(&e)));
    Sse::new(s)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}
