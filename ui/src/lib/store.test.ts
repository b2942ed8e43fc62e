import { expect, it } from "vitest";
import type { Task } from "../api/types";
import { applyListEvent } from "./store";
import { allows } from "./states";

const task = (id: string, extra: Partial<Task> = {}): Task =>
  ({ id, title: id, state: "pending", costUsd: 0, error: undefined, ...extra }) as Task;

it("applies snapshot, upsert, patch (null removes) and delete", () => {
  let l = applyListEvent([], { kind: "snapshot", tasks: [task("a")] });
  l = applyListEvent(l, { kind: "upsert", task: task("b") });
  l = applyListEvent(l, { kind: "patch", patch: { id: "a", state: "running", error: "boom" } });
  expect(l.map((t) => [t.id, t.state, t.error])).toEqual([
    ["a", "running", "boom"],
    ["b", "pending", undefined],
  ]);
  l = applyListEvent(l, { kind: "patch", patch: { id: "a", error: null } });
  expect("error" in l[0]).toBe(false);
  l = applyListEvent(l, { kind: "delete", id: "b" });
  expect(l.map((t) => t.id)).toEqual(["a"]);
});

it("mirrors the server's action table", () => {
  expect(allows("running", "stop")).toBe(true);
  expect(allows("purged", "purge")).toBe(false);
  expect(allows("stopped", "revive")).toBe(true);
  expect(allows("waiting", "restart")).toBe(true);
  expect(allows("running", "restart")).toBe(false);
});
