//! A live agent session: the link to the relay, the loop reading its lines into the
//! task, re-attaching when the SSH link drops, and the writer that sends input.

use crate::backend::{LinkEnd, LinkWriter};
use crate::engine::{Engine, Task};
use crate::error::Result;
use caic_api::{EventData, TaskState};
use caic_harness::Parser;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{oneshot, Mutex};

/// The relay instance name of a segment.
pub(crate) fn relay_name(segment: u32) -> String {
    format!("s{segment}")
}

/// What the task keeps of its live session.
pub(crate) struct SessionHandle {
    writer: Arc<Mutex<Option<LinkWriter>>>,
    stop: Option<oneshot::Sender<()>>,
    done: Option<oneshot::Receiver<()>>,
}

/// Sends one line to the agent. `Ok(false)` when there is no live session.
pub(crate) async fn send_line(task: &Task, line: &str) -> Result<bool> {
    let writer = match task.session.lock().await.as_ref() {
        Some(s) => s.writer.clone(),
        None => return Ok(false),
    };
    let mut w = writer.lock().await;
    match w.as_mut() {
        Some(w) => {
            w.send_line(line).await?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// Drops the link without ending the agent (it keeps running under the relay).
pub(crate) async fn detach(task: &Task) {
    let handle = task.session.lock().await.take();
    if let Some(mut h) = handle {
        if let Some(stop) = h.stop.take() {
            let _ = stop.send(());
        }
        if let Some(done) = h.done.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), done).await;
        }
    }
}

/// Closes the agent's input so it finishes its turn and exits; waits up to `timeout`
/// for the session to end, then detaches.
pub(crate) async fn close_gracefully(task: &Task, timeout: Duration) {
    let (writer, done) = {
        let mut s = task.session.lock().await;
        match s.as_mut() {
            Some(h) => (h.writer.clone(), h.done.take()),
            None => return,
        }
    };
    if let Some(w) = writer.lock().await.as_mut() {
        if let Err(e) = w.close_input().await {
            tracing::warn!(error = %e, "closing agent input");
        }
    }
    if let Some(done) = done {
        let _ = tokio::time::timeout(timeout, done).await;
    }
    detach(task).await;
}

/// Starts the loop that follows relay `relay` of `container` from byte `offset`,
/// feeding every line into `task` through `parser`.
pub(crate) async fn spawn(
    engine: &Engine,
    task: &Arc<Task>,
    container: String,
    relay: String,
    offset: u64,
    parser: Box<dyn Parser>,
) -> Result<()> {
    let link = engine
        .inner
        .backend
        .attach(&container, &relay, offset)
        .await?;
    let (mut reader, writer) = link.split();
    let writer = Arc::new(Mutex::new(Some(writer)));
    let (stop_tx, mut stop_rx) = oneshot::channel();
    let (done_tx, done_rx) = oneshot::channel();
    *task.session.lock().await = Some(SessionHandle {
        writer: writer.clone(),
        stop: Some(stop_tx),
        done: Some(done_rx),
    });
    let engine = engine.clone();
    let task = task.clone();
    tokio::spawn(async move {
        let mut parser = parser;
        let mut offset = offset;
        let mut diff = DiffTrigger::default();
        loop {
            let ended = tokio::select! {
                _ = &mut stop_rx => { return_done(done_tx); return; }
                r = reader.next_line() => r,
            };
            match ended {
                Ok(Some((line, end))) => {
                    if offset == 0 {
                        let first = task
                            .data
                            .lock()
                            .unwrap()
                            .startup
                            .as_ref()
                            .is_some_and(|s| s.first_output_ms.is_none());
                        if first {
                            task.phase(|t, ms| t.first_output_ms = ms);
                        }
                    }
                    offset = end;
                    let events = parser.parse(&line);
                    let wants_diff = events.iter().any(|e| {
                        matches!(e, EventData::ToolResult { .. } | EventData::Result { .. })
                    });
                    task.raw_line(&line, end, events);
                    engine.notify();
                    if wants_diff {
                        diff.kick(&engine, &task, &container);
                    }
                    continue;
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(task = %task.id(), error = %e, "relay link failed"),
            }
            // The link ended: the agent exited, or the SSH link dropped.
            if let LinkEnd::AgentExited(code) = reader.finish().await {
                let msg = format!("agent exited with code {code}");
                tracing::info!(task = %task.id(), "{msg}");
                *writer.lock().await = None;
                task.emit(EventData::Log { line: msg });
                if task.state() == TaskState::Running {
                    task.set_state(TaskState::Waiting, None);
                }
                engine.notify();
                break;
            }
            // Dropped: re-attach from where we are, until stopped.
            let mut delay = Duration::from_millis(100);
            let new_link = loop {
                tokio::select! {
                    _ = &mut stop_rx => { return_done(done_tx); return; }
                    _ = tokio::time::sleep(delay) => {}
                }
                let attached = tokio::select! {
                    _ = &mut stop_rx => { return_done(done_tx); return; }
                    r = engine.inner.backend.attach(&container, &relay, offset) => r,
                };
                match attached {
                    Ok(l) => break l,
                    Err(e) => {
                        tracing::warn!(task = %task.id(), error = %e, "re-attaching to the relay");
                        delay = (delay * 2).min(Duration::from_secs(5));
                    }
                }
            };
            tracing::info!(task = %task.id(), offset, "re-attached to the relay");
            let (r, w) = new_link.split();
            reader = r;
            *writer.lock().await = Some(w);
        }
        // Session over: forget it so the next input resumes a new one.
        let mut s = task.session.lock().await;
        if s.as_ref()
            .map(|h| Arc::ptr_eq(&h.writer, &writer))
            .unwrap_or(false)
        {
            *s = None;
        }
        drop(s);
        return_done(done_tx);
    });
    Ok(())
}

fn return_done(done: oneshot::Sender<()>) {
    let _ = done.send(());
}

/// Refreshes the diff stat after tool results, at most one refresh in flight.
#[derive(Default)]
struct DiffTrigger {
    running: Arc<std::sync::atomic::AtomicBool>,
    again: Arc<std::sync::atomic::AtomicBool>,
}

impl DiffTrigger {
    fn kick(&mut self, engine: &Engine, task: &Arc<Task>, container: &str) {
        use std::sync::atomic::Ordering::SeqCst;
        if self.running.swap(true, SeqCst) {
            self.again.store(true, SeqCst);
            return;
        }
        let (running, again) = (self.running.clone(), self.again.clone());
        let (engine, task, container) = (engine.clone(), task.clone(), container.to_string());
        tokio::spawn(async move {
            loop {
                again.store(false, SeqCst);
                let workdir = crate::engine::workdir(&task.data.lock().unwrap().meta.repo);
                match engine.inner.backend.numstat(&container, &workdir).await {
                    Ok(stat) => {
                        let changed = task.data.lock().unwrap().diff_stat != stat;
                        if changed {
                            task.emit(EventData::DiffStat { diff_stat: stat });
                            engine.notify();
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "diff stat"),
                }
                if !again.load(SeqCst) {
                    break;
                }
            }
            running.store(false, SeqCst);
        });
    }
}
