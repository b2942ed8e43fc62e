//! After a restart: tasks rebuilt from their logs, containers adopted, relays
//! re-attached from the byte the log ends at, so no event is lost or repeated.

use crate::engine::Engine;
use crate::error::Result;
use crate::handle::Task;
use crate::log::{self, Line, Record, Segment};
use crate::session;
use crate::task::TaskData;
use caic_api::TaskState;
use caic_harness::Parser;

/// Rebuilds one task's data from its segments, returning the last segment's parser
/// so a live session can go on with it.
pub(crate) fn rebuild(
    segments: &[Segment],
    harness: &dyn caic_harness::Harness,
) -> (TaskData, Box<dyn Parser>) {
    let meta = segments[segments.len() - 1].header.task.clone();
    let created = meta.created_at;
    let mut d = TaskData::new(meta, harness.info().context_window, created);
    let mut parser = harness.parser();
    for seg in segments {
        if seg.header.segment > 0 {
            d.new_segment(seg.header.segment);
        }
        parser = harness.parser();
        let mut ts = seg.header.started_at;
        for line in &seg.lines {
            let rec = match line {
                Line::Raw(r) => {
                    for ev in parser.parse(r) {
                        d.push(ev, ts);
                    }
                    continue;
                }
                Line::Record(rec) => rec.as_ref(),
            };
            match rec {
                Record::Ts(t) => ts = *t,
                Record::Event(e) => {
                    d.push(e.clone(), ts);
                }
                Record::State(s, err) => {
                    d.set_state(*s, ts);
                    if err.is_some() {
                        d.error = err.clone();
                    }
                }
                Record::RelayStarted(_) => d.relay_started = true,
                Record::Header(_) | Record::Trailer(_) | Record::Offset(_) => {}
            }
        }
    }
    (d, parser)
}

/// Every task's readable log segments, in order; logs made private first.
fn read_all(dir: &std::path::Path) -> Result<Vec<(String, Vec<Segment>)>> {
    // Transcripts are private (S31): tighten what is more open, warning once.
    if let Err(e) = log::make_private(dir) {
        tracing::warn!(dir = %dir.display(), error = %e, "could not make task logs private");
    }
    let mut out = Vec::new();
    for (id, paths) in log::list(dir)? {
        let mut segments = Vec::new();
        for p in &paths {
            match log::read(p) {
                Ok(s) => segments.push(s),
                Err(e) => {
                    tracing::warn!(path = %p.display(), error = %e, "skipping unreadable log")
                }
            }
        }
        out.push((id, segments));
    }
    Ok(out)
}

/// Loads every task log and adopts the containers that still exist.
pub(crate) async fn reload(engine: &Engine) -> Result<()> {
    let dir = engine.logs_dir();
    // Reading every log is disk work: done off the async runtime's threads.
    let groups = tokio::task::spawn_blocking(move || read_all(&dir))
        .await
        .map_err(|e| crate::Error::Internal(format!("reading task logs: {e}")))??;
    if groups.is_empty() {
        return Ok(());
    }
    let containers = engine.inner.backend.list_containers().await?;
    for (id, segments) in groups {
        let Some(last) = segments.last() else {
            continue;
        };
        let Some(harness) = caic_harness::by_name(&last.header.task.harness) else {
            tracing::warn!(task = %id, harness = %last.header.task.harness, "unknown harness; task not loaded");
            continue;
        };
        let (mut data, parser) = rebuild(&segments, harness.as_ref());
        let container = containers.iter().find(|c| c.task_id == id);
        data.container = container.map(|c| c.name.clone()).or(data.container);
        let writer = if data.state == TaskState::Purged {
            None
        } else {
            Some(log::Writer::append(&last.path, last.relay_offset)?)
        };
        let relay = last.header.relay.clone();
        let offset = last.relay_offset;
        let state = data.state;
        let relay_started = data.relay_started;
        let task = Task::new(data, writer);
        engine.inner.tasks.lock().insert(id.clone(), task.clone());
        match container {
            _ if state == TaskState::Purged => {}
            None => {
                if state != TaskState::Failed {
                    task.set_state(
                        TaskState::Failed,
                        Some("the task's container is gone".into()),
                    );
                }
            }
            Some(c) if !c.running => {
                if state != TaskState::Stopped && state != TaskState::Failed {
                    task.set_state(TaskState::Stopped, None);
                }
            }
            Some(c) => match state {
                TaskState::Purging => {
                    let (e, t) = (engine.clone(), task.clone());
                    engine.spawn(async move {
                        let _op = t.ops.lock().await;
                        e.finish_purge(&t).await;
                    });
                }
                TaskState::Stopping => {
                    let (e, t, name) = (engine.clone(), task.clone(), c.name.clone());
                    engine.spawn(async move {
                        let _op = t.ops.lock().await;
                        match e.inner.backend.stop_container(&name).await {
                            Ok(()) => t.set_state(TaskState::Stopped, None),
                            Err(err) => t.set_state(TaskState::Failed, Some(err.to_string())),
                        }
                        e.notify();
                    });
                }
                s if (s.is_live() || s == TaskState::Starting) && relay_started => {
                    tracing::info!(task = %id, relay = %relay, offset, "re-attaching after restart");
                    if let Err(e) =
                        session::spawn(engine, &task, c.name.clone(), relay, offset, parser).await
                    {
                        tracing::warn!(task = %id, error = %e, "could not re-attach; input will resume the agent");
                        if task.state() == TaskState::Running {
                            task.set_state(TaskState::Waiting, None);
                        }
                    }
                }
                TaskState::Pending
                | TaskState::Branching
                | TaskState::Provisioning
                | TaskState::Starting => {
                    task.set_state(
                        TaskState::Failed,
                        Some("caic restarted while the task was starting".into()),
                    );
                }
                _ => {}
            },
        }
    }
    engine.notify();
    Ok(())
}
