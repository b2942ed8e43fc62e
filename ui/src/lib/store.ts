// The task list, fed by the task-list stream: a snapshot, then upserts, patches and
// deletes. Also the stream's connection status.
import { createSignal } from "solid-js";
import { createStore, reconcile } from "solid-js/store";
import type { Task, TaskListEvent, TaskState } from "../api/types";
import { openStream } from "../api/stream";

/** Applies one task-list message to a list of tasks (pure). */
export function applyListEvent(tasks: Task[], ev: TaskListEvent): Task[] {
  switch (ev.kind) {
    case "snapshot":
      return ev.tasks;
    case "upsert": {
      const i = tasks.findIndex((t) => t.id === ev.task.id);
      if (i < 0) return [...tasks, ev.task];
      const next = tasks.slice();
      next[i] = ev.task;
      return next;
    }
    case "patch": {
      const p = ev.patch as Record<string, unknown>;
      const i = tasks.findIndex((t) => t.id === p.id);
      if (i < 0) return tasks;
      const t: Record<string, unknown> = { ...tasks[i] };
      for (const [k, v] of Object.entries(p)) {
        if (v === null) delete t[k];
        else t[k] = v;
      }
      const next = tasks.slice();
      next[i] = t as Task;
      return next;
    }
    case "delete":
      return tasks.filter((t) => t.id !== ev.id);
  }
}

const [state, setState] = createStore<{ tasks: Task[] }>({ tasks: [] });
const [connected, setConnected] = createSignal(false);
const [loaded, setLoaded] = createSignal(false);
const listeners: ((prevState: TaskState | undefined, next: Task) => void)[] = [];

/** Every task, oldest first. */
export const tasks = () => state.tasks;
/** Whether the task-list stream is up. */
export { connected, loaded };

/** Calls `f` on every task change (for notifications); returns the unsubscriber. */
export function onTaskChange(f: (prevState: TaskState | undefined, next: Task) => void): () => void {
  listeners.push(f);
  return () => {
    const i = listeners.indexOf(f);
    if (i >= 0) listeners.splice(i, 1);
  };
}

let close: (() => void) | undefined;

/** Opens the task-list stream (once, until `stopTaskList`). */
export function startTaskList() {
  if (close) return;
  close = openStream("/api/v1/server/tasks/events", {
    onStatus: setConnected,
    onMessage(data) {
      const ev = JSON.parse(data) as TaskListEvent;
      const prev = new Map(state.tasks.map((t) => [t.id, t]));
      const prevState = new Map(state.tasks.map((t) => [t.id, t.state]));
      const next = applyListEvent(state.tasks, ev);
      setState("tasks", reconcile(next, { key: "id" }));
      if (ev.kind === "snapshot") setLoaded(true);
      if (ev.kind !== "snapshot") {
        for (const t of next) {
          const p = prev.get(t.id);
          if (p !== t) for (const f of listeners) f(prevState.get(t.id), t);
        }
      }
    },
  });
}

/** Closes the task-list stream and forgets the tasks (signed out). */
export function stopTaskList() {
  close?.();
  close = undefined;
  setState("tasks", []);
  setLoaded(false);
  setConnected(false);
}
