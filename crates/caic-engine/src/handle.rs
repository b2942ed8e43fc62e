//! The task handle: one task's data, its event fan-out, its log writer, its live
//! session and the lock that serialises lifecycle actions.

use crate::log::{self, Record};
use crate::session::SessionHandle;
use crate::task::TaskData;
use caic_api::{Event, EventData, TaskState};
use parking_lot::Mutex;
use std::sync::Arc;
use tokio::sync::broadcast;

/// One task: its data, its event fan-out, its log and its live session.
pub(crate) struct Task {
    pub(crate) data: Mutex<TaskData>,
    pub(crate) events: broadcast::Sender<Event>,
    pub(crate) log: Mutex<Option<log::Writer>>,
    pub(crate) session: tokio::sync::Mutex<Option<SessionHandle>>,
    /// Serialises lifecycle actions (stop, revive, purge, restart, provisioning).
    pub(crate) ops: tokio::sync::Mutex<()>,
}

impl Task {
    pub(crate) fn new(data: TaskData, writer: Option<log::Writer>) -> Arc<Task> {
        let (events, _) = broadcast::channel(4096);
        Arc::new(Task {
            data: Mutex::new(data),
            events,
            log: Mutex::new(writer),
            session: tokio::sync::Mutex::new(None),
            ops: tokio::sync::Mutex::new(()),
        })
    }

    pub(crate) fn id(&self) -> String {
        self.data.lock().meta.id.clone()
    }

    pub(crate) fn state(&self) -> TaskState {
        self.data.lock().state
    }

    /// Appends an event that caic produced (not from the agent): logged as a record.
    pub(crate) fn emit(&self, data: EventData) {
        let now = now_ms();
        let mut d = self.data.lock();
        if let Some(w) = self.log.lock().as_mut() {
            if let Err(e) = w
                .tick(now)
                .and_then(|_| w.record(&Record::Event(data.clone())))
            {
                tracing::error!(error = %e, "writing task log");
            }
        }
        let ev = d.push(data, now);
        let _ = self.events.send(ev);
    }

    /// Appends one raw relay line: logged verbatim, parsed, fanned out.
    pub(crate) fn raw_line(
        &self,
        line: &str,
        end_offset: u64,
        events: Vec<EventData>,
    ) -> Vec<Event> {
        let now = now_ms();
        let mut d = self.data.lock();
        if let Some(w) = self.log.lock().as_mut() {
            if let Err(e) = w.raw(line, end_offset, now) {
                tracing::error!(error = %e, "writing task log");
            }
        }
        let mut out = Vec::with_capacity(events.len());
        for data in events {
            let ev = d.push(data, now);
            let _ = self.events.send(ev.clone());
            out.push(ev);
        }
        out
    }

    /// Records that a start phase ended now.
    pub(crate) fn phase(&self, set: impl FnOnce(&mut caic_api::StartupTimings, Option<u64>)) {
        let mut d = self.data.lock();
        let ms = (now_ms() - d.meta.created_at).max(0) as u64;
        set(d.startup.get_or_insert_with(Default::default), Some(ms));
    }

    /// Moves to `state` and records it (with an error text for failures).
    pub(crate) fn set_state(&self, state: TaskState, error: Option<String>) {
        let now = now_ms();
        let mut d = self.data.lock();
        if let Some(w) = self.log.lock().as_mut() {
            if let Err(e) = w
                .tick(now)
                .and_then(|_| w.record(&Record::State(state, error.clone())))
            {
                tracing::error!(error = %e, "writing task log");
            }
        }
        d.set_state(state, now);
        if error.is_some() {
            d.error = error;
        }
    }
}

/// Unix milliseconds now.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
