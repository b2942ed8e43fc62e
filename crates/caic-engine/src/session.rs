//! A live agent session: the link to the relay, the loop reading its lines into the
//! task, re-attaching when the SSH link drops, and the writer that sends input.
//!
//! The session's parser is shared between the loop and the writer: the loop sends what
//! the parser answers by itself (e.g. tool permissions) and moves the task to `asking` /
//! `has_plan` while the agent waits mid-turn on the user; the writer lets the parser turn
//! the user's next input into the answer the agent waits for.

use crate::backend::{LinkEnd, LinkWriter};
use crate::engine::Engine;
use crate::error::Result;
use crate::handle::Task;
use caic_api::{EventData, TaskState};
use caic_harness::Parser;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{oneshot, Mutex};

/// The relay instance name of a segment.
pub(crate) fn relay_name(segment: u32) -> String {
    format!("s{segment}")
}

/// The parser of a live session, shared by its read loop and its writer.
type SharedParser = Arc<parking_lot::Mutex<Box<dyn Parser>>>;

/// What the task keeps of its live session.
pub(crate) struct SessionHandle {
    writer: Arc<Mutex<Option<LinkWriter>>>,
    parser: SharedParser,
    stop: Option<oneshot::Sender<()>>,
    done: Option<oneshot::Receiver<()>>,
}

/// Sends one line to the agent. `Ok(false)` when there is no live session.
///
/// When the agent waits mid-turn for the user (a question, a plan), a prompt line is
/// replaced by the answer the parser makes of it.
pub(crate) async fn send_line(task: &Task, line: &str) -> Result<bool> {
    let (writer, parser) = match task.session.lock().await.as_ref() {
        Some(s) => (s.writer.clone(), s.parser.clone()),
        None => return Ok(false),
    };
    let mut w = writer.lock().await;
    let Some(w) = w.as_mut() else {
        return Ok(false);
    };
    // Under the writer lock, so two inputs cannot both answer one question.
    let lines = lock(&parser)
        .answer(line)
        .unwrap_or_else(|| vec![line.to_string()]);
    for l in &lines {
        w.send_line(l).await?;
    }
    Ok(true)
}

fn lock(parser: &SharedParser) -> parking_lot::MutexGuard<'_, Box<dyn Parser>> {
    parser.lock()
}

/// What the parser asks for after the lines so far: its replies (added to `unsent`),
/// and `asking` / `has_plan` while the agent waits mid-turn on the user.
fn after_parse(parser: &SharedParser, task: &Task, unsent: &mut Vec<String>) -> bool {
    let (replies, waiting) = {
        let mut p = lock(parser);
        (p.replies(), p.waiting_for_user())
    };
    unsent.extend(replies);
    match waiting {
        Some(state) if task.state() == TaskState::Running => {
            task.set_state(state, None);
            true
        }
        _ => false,
    }
}

/// Writes the parser's replies to the agent; what could not be written stays in
/// `unsent` for the next link.
async fn flush(writer: &Mutex<Option<LinkWriter>>, unsent: &mut Vec<String>, task: &Task) {
    if unsent.is_empty() {
        return;
    }
    let mut w = writer.lock().await;
    let Some(w) = w.as_mut() else { return };
    while let Some(line) = unsent.first() {
        if let Err(e) = w.send_line(line).await {
            tracing::warn!(task = %task.id(), error = %e, "answering the agent; retried after re-attach");
            return;
        }
        unsent.remove(0);
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
/// for the session to end, then detaches. What the agent waits on for the user (a
/// question, a plan) is refused first, so it stops rather than carries on.
pub(crate) async fn close_gracefully(task: &Task, timeout: Duration) {
    let (writer, parser, done) = {
        let mut s = task.session.lock().await;
        match s.as_mut() {
            Some(h) => (h.writer.clone(), h.parser.clone(), h.done.take()),
            None => return,
        }
    };
    if let Some(w) = writer.lock().await.as_mut() {
        let release = lock(&parser).release();
        for line in &release {
            if let Err(e) = w.send_line(line).await {
                tracing::warn!(error = %e, "releasing the agent before closing it");
            }
        }
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
    let parser: SharedParser = Arc::new(parking_lot::Mutex::new(parser));
    let (stop_tx, mut stop_rx) = oneshot::channel();
    let (done_tx, done_rx) = oneshot::channel();
    *task.session.lock().await = Some(SessionHandle {
        writer: writer.clone(),
        parser: parser.clone(),
        stop: Some(stop_tx),
        done: Some(done_rx),
    });
    let (engine, job_engine) = (engine.clone(), engine.clone());
    let task = task.clone();
    job_engine.spawn(async move {
        let mut offset = offset;
        let mut diff = DiffTrigger::default();
        // A parser rebuilt from the log may know of requests nobody answered yet.
        let mut unsent = Vec::new();
        if after_parse(&parser, &task, &mut unsent) {
            engine.notify();
        }
        flush(&writer, &mut unsent, &task).await;
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
                            .startup
                            .as_ref()
                            .is_some_and(|s| s.first_output_ms.is_none());
                        if first {
                            task.phase(|t, ms| t.first_output_ms = ms);
                        }
                    }
                    offset = end;
                    let events = lock(&parser).parse(&line);
                    let wants_diff = events.iter().any(|e| {
                        matches!(e, EventData::ToolResult { .. } | EventData::Result { .. })
                    });
                    task.raw_line(&line, end, events);
                    after_parse(&parser, &task, &mut unsent);
                    engine.notify();
                    flush(&writer, &mut unsent, &task).await;
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
            flush(&writer, &mut unsent, &task).await;
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
        engine.clone().spawn(async move {
            loop {
                again.store(false, SeqCst);
                let workdir = crate::engine::workdir(&task.data.lock().meta.repo);
                match engine.inner.backend.numstat(&container, &workdir).await {
                    Ok(stat) => {
                        let changed = task.data.lock().diff_stat != stat;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::TaskData;

    fn running_task() -> Arc<Task> {
        let meta = serde_json::from_value(serde_json::json!({
            "id": "t", "title": "t", "prompt": "p", "repo": "r", "baseBranch": "main",
            "branch": "caic-1", "harness": "claude", "createdAt": 0,
        }))
        .unwrap();
        let mut d = TaskData::new(meta, 1000, 0);
        d.set_state(TaskState::Running, 1);
        Task::new(d, None)
    }

    fn shared(p: Box<dyn Parser>) -> SharedParser {
        Arc::new(parking_lot::Mutex::new(p))
    }

    fn line(tool: &str, input: serde_json::Value) -> String {
        serde_json::json!({"type": "control_request", "request_id": format!("r-{tool}"),
            "request": {"subtype": "can_use_tool", "tool_name": tool, "input": input}})
        .to_string()
    }

    /// The real Claude parser: a tool request is answered at once; a question moves the
    /// task to `asking` until the user's input answers it.
    #[test]
    fn held_questions_ask_the_user_and_tools_are_answered() {
        let task = running_task();
        let parser = shared(caic_harness::by_name("claude").unwrap().parser());
        let mut unsent = Vec::new();
        lock(&parser).parse(&line("Bash", serde_json::json!({"command": "ls"})));
        assert!(!after_parse(&parser, &task, &mut unsent));
        assert_eq!(unsent.len(), 1, "{unsent:?}");
        assert_eq!(task.state(), TaskState::Running);

        let q = serde_json::json!({"questions": [{"question": "Which?", "options": []}]});
        lock(&parser).parse(&line("AskUserQuestion", q));
        assert!(after_parse(&parser, &task, &mut unsent));
        assert_eq!(task.state(), TaskState::Asking);
        assert_eq!(unsent.len(), 1, "a question is not answered by caic");

        let plan = serde_json::json!({"plan": "# Plan"});
        let task = running_task();
        let parser = shared(caic_harness::by_name("claude").unwrap().parser());
        lock(&parser).parse(&line("ExitPlanMode", plan));
        assert!(after_parse(&parser, &task, &mut Vec::new()));
        assert_eq!(task.state(), TaskState::HasPlan);
    }
}
