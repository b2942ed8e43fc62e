// Which actions each task state allows: a mirror of caic_api::TaskState::allows.
import type { Action, TaskState } from "../api/types";

const table: Record<Action, TaskState[]> = {
  input: ["running", "waiting", "asking", "has_plan"],
  stop: ["starting", "running", "waiting", "asking", "has_plan"],
  revive: ["stopped", "failed"],
  purge: ["running", "waiting", "asking", "has_plan", "stopped", "failed", "starting"],
  restart: ["waiting", "asking", "has_plan"],
  diff: ["running", "waiting", "asking", "has_plan"],
};

/** Whether `action` is allowed in `state`. */
export function allows(state: TaskState, action: Action): boolean {
  return table[action].includes(state);
}

/** States that need the person's attention. */
export function needsAttention(state: TaskState): boolean {
  return state === "waiting" || state === "asking" || state === "has_plan";
}

/** States of tasks that are done with: shown in their own collapsed groups. */
export function isDormant(state: TaskState): boolean {
  return state === "stopped" || state === "purged";
}
