//! Server-sent event streams: a task's events, and the task list.

use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use caic_api::{Event, EventData, Task, TaskListEvent};
use caic_engine::{Caller, Engine, Subscription};
use futures::stream::{self, Stream, StreamExt};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;
use tokio_stream::wrappers::BroadcastStream;

fn keep_alive() -> KeepAlive {
    KeepAlive::new().interval(Duration::from_secs(15))
}

fn event_sse(ev: &Event) -> SseEvent {
    SseEvent::default()
        .id(ev.seq.to_string())
        .data(serde_json::to_string(ev).unwrap_or_default())
}

/// Drops streamed deltas that a later complete text or thinking block supersedes, so a
/// replay is not a re-run of every token.
pub fn replayable(history: Vec<Event>) -> Vec<Event> {
    let last_text = history
        .iter()
        .rposition(|e| matches!(e.data, EventData::Text { .. }));
    let last_thinking = history
        .iter()
        .rposition(|e| matches!(e.data, EventData::Thinking { .. }));
    history
        .into_iter()
        .enumerate()
        .filter(|(i, e)| match e.data {
            EventData::TextDelta { .. } => last_text.is_none_or(|t| *i > t),
            EventData::ThinkingDelta { .. } => last_thinking.is_none_or(|t| *i > t),
            _ => true,
        })
        .map(|(_, e)| e)
        .collect()
}

/// The task event stream: history, `event: ready`, then live events. A subscriber too
/// slow to keep up is disconnected; it reconnects and replays. The stream ends when
/// `closed` resolves (the engine stops).
pub fn task_events(
    sub: Subscription,
    closed: impl Future<Output = ()> + Send + 'static,
) -> Response {
    let history = replayable(sub.history);
    let head =
        stream::iter(history.into_iter().map(|e| Ok(event_sse(&e)))).chain(stream::once(async {
            Ok(SseEvent::default().event("ready").data("{}"))
        }));
    let live: std::pin::Pin<Box<dyn Stream<Item = Result<SseEvent, Infallible>> + Send>> =
        if sub.done {
            Box::pin(stream::empty())
        } else {
            Box::pin(
                BroadcastStream::new(sub.live)
                    .take_while(|r| std::future::ready(r.is_ok()))
                    .filter_map(|r| std::future::ready(r.ok().map(|e| Ok(event_sse(&e))))),
            )
        };
    Sse::new(head.chain(live).take_until(closed))
        .keep_alive(keep_alive())
        .into_response()
}

fn list_event(ev: &TaskListEvent) -> Result<SseEvent, Infallible> {
    Ok(SseEvent::default().data(serde_json::to_string(ev).unwrap_or_default()))
}

/// The changes between two task lists as `upsert`, `patch` and `delete` messages.
pub fn diff_lists(
    old: &BTreeMap<String, serde_json::Value>,
    new: &BTreeMap<String, (Task, serde_json::Value)>,
) -> Vec<TaskListEvent> {
    let mut out = Vec::new();
    for (id, (task, v)) in new {
        match old.get(id) {
            None => out.push(TaskListEvent::Upsert {
                task: Box::new(task.clone()),
            }),
            Some(prev) if prev != v => {
                let (Some(p), Some(n)) = (prev.as_object(), v.as_object()) else {
                    continue;
                };
                let mut patch = serde_json::Map::new();
                patch.insert("id".into(), serde_json::Value::String(id.clone()));
                for (k, nv) in n {
                    if p.get(k) != Some(nv) {
                        patch.insert(k.clone(), nv.clone());
                    }
                }
                for k in p.keys() {
                    if !n.contains_key(k) {
                        patch.insert(k.clone(), serde_json::Value::Null);
                    }
                }
                out.push(TaskListEvent::Patch {
                    patch: serde_json::Value::Object(patch),
                });
            }
            Some(_) => {}
        }
    }
    for id in old.keys() {
        if !new.contains_key(id) {
            out.push(TaskListEvent::Delete { id: id.clone() });
        }
    }
    out
}

fn current(engine: &Engine, caller: &Caller) -> BTreeMap<String, (Task, serde_json::Value)> {
    engine
        .list(caller)
        .into_iter()
        .map(|t| {
            let v = serde_json::to_value(&t).unwrap_or_default();
            (t.id.clone(), (t, v))
        })
        .collect()
}

/// The task-list stream of the tasks `caller` may see: a snapshot, then changes as they happen (changes that land while a message is being built are sent together), until
/// the engine stops.
pub fn task_list(engine: Engine, caller: Caller) -> Response {
    let closed = engine.closed();
    let mut changes = engine.changes();
    changes.mark_unchanged();
    let first = current(&engine, &caller);
    let snapshot = TaskListEvent::Snapshot {
        tasks: first.values().map(|(t, _)| t.clone()).collect(),
    };
    let seen: BTreeMap<String, serde_json::Value> =
        first.into_iter().map(|(k, (_, v))| (k, v)).collect();
    let updates = stream::unfold(
        (engine, caller, changes, seen),
        |(engine, caller, mut changes, seen)| async move {
            loop {
                changes.changed().await.ok()?;
                changes.mark_unchanged();
                let now = current(&engine, &caller);
                let events = diff_lists(&seen, &now);
                if events.is_empty() {
                    continue;
                }
                let seen = now.into_iter().map(|(k, (_, v))| (k, v)).collect();
                return Some((stream::iter(events), (engine, caller, changes, seen)));
            }
        },
    )
    .flatten();
    let s = stream::once(async move { list_event(&snapshot) })
        .chain(updates.map(|e| list_event(&e)))
        .take_until(closed);
    Sse::new(s).keep_alive(keep_alive()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(seq: u64, data: EventData) -> Event {
        Event { seq, ts: 0, data }
    }

    #[test]
    fn replay_drops_superseded_deltas_only() {
        let h = vec![
            ev(0, EventData::TextDelta { text: "a".into() }),
            ev(1, EventData::Text { text: "ab".into() }),
            ev(2, EventData::TextDelta { text: "c".into() }),
        ];
        let r = replayable(h);
        let seqs: Vec<u64> = r.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, vec![1, 2]);
    }
}
