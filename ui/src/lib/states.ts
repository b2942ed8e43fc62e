// Which actions each task state allows: the table is generated from
// caic_api::TaskState::allows into api/types.ts.
import { ALLOWED, type Action, type TaskState } from "../api/types";

/** Whether `action` is allowed in `state`. */
export function allows(state: TaskState, action: Action): boolean {
  return ALLOWED[action].includes(state);
}

/** States that need the person's attention. */
export function needsAttention(state: TaskState): boolean {
  return state === "waiting" || state === "asking" || state === "has_plan";
}

/** States of tasks that are done with: shown in their own collapsed groups. */
export function isDormant(state: TaskState): boolean {
  return state === "stopped" || state === "purged";
}
