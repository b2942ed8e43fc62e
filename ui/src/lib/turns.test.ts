import { describe, expect, it } from "vitest";
import type { Event } from "../api/types";
import { groupTurns, toolSummary, TurnGrouper, windowOf } from "./turns";

let seq = 0;
const ev = (e: Record<string, unknown>): Event => ({ seq: seq++, ts: 0, ...e }) as Event;
const usage = { inputTokens: 1, outputTokens: 1, cacheCreationInputTokens: 0, cacheReadInputTokens: 0 };
const result = (cost: number) =>
  ev({ kind: "result", subtype: "success", isError: false, result: "ok", totalCostUsd: cost, durationMs: 1200, numTurns: 1, usage, diffStat: [] });

describe("groupTurns", () => {
  it("splits turns at user prompts and ends them at results", () => {
    seq = 0;
    const turns = groupTurns([
      ev({ kind: "log", line: "container started" }),
      ev({ kind: "userInput", text: "first" }),
      ev({ kind: "init", model: "m", agentVersion: "1", sessionId: "s", tools: [], cwd: "/" }),
      ev({ kind: "text", text: "hello" }),
      result(0.01),
      ev({ kind: "userInput", text: "second" }),
      ev({ kind: "text", text: "again" }),
      result(0.02),
    ]);
    expect(turns).toHaveLength(2);
    // Provisioning logs before the first prompt belong to the first turn.
    expect(turns[0].items.map((i) => i.type)).toEqual(["log", "user", "text", "result"]);
    expect(turns[0].result?.costUsd).toBe(0.01);
    expect(turns[1].items.map((i) => i.type)).toEqual(["user", "text", "result"]);
    expect(turns[1].result?.costUsd).toBe(0.02);
  });

  it("pairs tool calls with their results, even interleaved", () => {
    seq = 0;
    const turns = groupTurns([
      ev({ kind: "userInput", text: "go" }),
      ev({ kind: "toolUse", toolUseId: "a", name: "Bash", input: { command: "ls" } }),
      ev({ kind: "toolUse", toolUseId: "b", name: "Read", input: { file_path: "/x" } }),
      ev({ kind: "toolResult", toolUseId: "b", output: "file body", durationMs: 5 }),
      ev({ kind: "toolResult", toolUseId: "a", output: "", error: "exit 1", durationMs: 9 }),
      ev({ kind: "toolResult", toolUseId: "zz", output: "orphan" }),
    ]);
    const tools = turns[0].items.filter((i) => i.type === "tool");
    expect(tools).toHaveLength(3);
    const [a, b, orphan] = tools as Extract<(typeof tools)[number], { type: "tool" }>[];
    expect(a.name).toBe("Bash");
    expect(a.result).toEqual({ output: "", error: "exit 1", durationMs: 9 });
    expect(b.result?.output).toBe("file body");
    expect(orphan.name).toBe("?");
    expect(orphan.result?.output).toBe("orphan");
    expect(turns[0].tools).toBe(2);
  });

  it("folds text deltas into one item that the complete text replaces", () => {
    seq = 0;
    const events = [
      ev({ kind: "userInput", text: "hi" }),
      ev({ kind: "textDelta", text: "Hel" }),
      ev({ kind: "textDelta", text: "lo" }),
    ];
    let turns = groupTurns(events);
    expect(turns[0].items[1]).toMatchObject({ type: "text", text: "Hello", streaming: true });
    events.push(ev({ kind: "text", text: "Hello!" }));
    turns = groupTurns(events);
    const texts = turns[0].items.filter((i) => i.type === "text");
    expect(texts).toEqual([expect.objectContaining({ text: "Hello!", streaming: false })]);
  });

  it("marks an ask answered once a prompt follows it", () => {
    seq = 0;
    const q = [{ question: "Which?", options: [{ label: "A" }], multiSelect: false }];
    const events = [ev({ kind: "userInput", text: "FAKE_ASK" }), ev({ kind: "ask", toolUseId: "t", questions: q }), result(0.01)];
    expect(groupTurns(events)[0].items[1]).toMatchObject({ type: "ask", answered: false });
    events.push(ev({ kind: "userInput", text: "A" }));
    const turns = groupTurns(events);
    expect(turns[0].items[1]).toMatchObject({ type: "ask", answered: true });
    expect(turns).toHaveLength(2);
  });

  it("shows ExitPlanMode as a plan, not a tool call", () => {
    seq = 0;
    const turns = groupTurns([
      ev({ kind: "userInput", text: "plan" }),
      ev({ kind: "toolUse", toolUseId: "p", name: "ExitPlanMode", input: { plan: "# Plan" } }),
    ]);
    expect(turns[0].items[1]).toMatchObject({ type: "plan", plan: "# Plan" });
    expect(turns[0].tools).toBe(0);
  });

  it("shows the latest todo list of a turn and hides TodoWrite's own results", () => {
    seq = 0;
    const todos = (s: string[]) => s.map((status, i) => ({ content: `step ${i}`, status, activeForm: `doing ${i}` }));
    const turns = groupTurns([
      ev({ kind: "userInput", text: "go" }),
      ev({ kind: "todo", toolUseId: "a", todos: todos(["in_progress", "pending"]) }),
      ev({ kind: "toolResult", toolUseId: "a", output: "Todos have been modified successfully." }),
      ev({ kind: "toolUse", toolUseId: "b", name: "Bash", input: { command: "ls" } }),
      ev({ kind: "toolResult", toolUseId: "b", output: "x" }),
      ev({ kind: "todo", toolUseId: "c", todos: todos(["completed", "in_progress"]) }),
      ev({ kind: "toolResult", toolUseId: "c", output: "Todos have been modified successfully." }),
    ]);
    const items = turns[0].items;
    expect(items.map((i) => i.type)).toEqual(["user", "todo", "tool", "todo"]);
    expect(items[1]).toMatchObject({ superseded: true });
    expect(items[3]).toMatchObject({ superseded: false, todos: todos(["completed", "in_progress"]) });
    expect(turns[0].tools).toBe(1);
  });

  it("keeps untouched turns and items identical across updates", () => {
    seq = 0;
    const events = [
      ev({ kind: "userInput", text: "one" }),
      ev({ kind: "text", text: "a" }),
      result(0.01),
      ev({ kind: "userInput", text: "two" }),
      ev({ kind: "toolUse", toolUseId: "t", name: "Bash", input: { command: "ls" } }),
    ];
    const g = new TurnGrouper();
    const before = g.update(events);
    const firstTurn = before[0];
    const tool = before[1].items[1];
    events.push(ev({ kind: "textDelta", text: "wor" }));
    const after = g.update(events);
    expect(after).not.toBe(before);
    expect(after[0]).toBe(firstTurn);
    expect(after[1]).not.toBe(before[1]);
    expect(after[1].items[1]).toBe(tool);
    // What was handed out before is not changed behind the renderer's back.
    expect(before[1].items).toHaveLength(2);
    events.push(ev({ kind: "textDelta", text: "ld" }), ev({ kind: "toolResult", toolUseId: "t", output: "ok" }));
    const last = g.update(events);
    expect(last[1].items[2]).toMatchObject({ type: "text", text: "world", streaming: true });
    expect(last[1].items[1]).toMatchObject({ result: { output: "ok" } });
    expect(after[1].items[1]).toBe(tool);
    expect(g.update(events)).toBe(last);
    // The same result as grouping from scratch.
    expect(last).toEqual(groupTurns(events));
    // A history that gained an older event (a reconnect's replay) is grouped again.
    const g2 = new TurnGrouper();
    g2.update(events.filter((_, i) => i !== 2));
    expect(g2.update(events)).toEqual(groupTurns(events));
  });

  it("shows a long turn's prompt and latest steps, the cut moving by whole steps", () => {
    seq = 0;
    const events = [ev({ kind: "log", line: "container up" }), ev({ kind: "userInput", text: "go" })];
    for (let i = 0; i < 30; i++) events.push(ev({ kind: "text", text: `step ${i}` }));
    const w = { keep: 10, step: 5 };
    const items = groupTurns(events)[0].items;
    const shown = windowOf(items, false, w);
    expect(shown.head.map((i) => i.type)).toEqual(["log", "user"]);
    // 30 steps: 20 hidden (a multiple of 5 leaving at least 10), the last 10 shown.
    expect(shown.hidden).toBe(20);
    expect(shown.tail.map((i) => (i.type === "text" ? i.text : ""))).toEqual(
      Array.from({ length: 10 }, (_, i) => `step ${20 + i}`),
    );
    // Two more steps do not move the cut; everything on request.
    events.push(ev({ kind: "text", text: "step 30" }), ev({ kind: "text", text: "step 31" }));
    expect(windowOf(groupTurns(events)[0].items, false, w).hidden).toBe(20);
    expect(windowOf(items, true, w)).toEqual({ head: items.slice(0, 2), hidden: 0, tail: items.slice(2) });
    // Short turns are shown whole.
    expect(windowOf(items.slice(0, 16), false, w).hidden).toBe(0);
  });

  it("summarises tool calls in one line", () => {
    expect(toolSummary("Bash", { command: "ls -la\necho hi" })).toBe("Bash: ls -la");
    expect(toolSummary("Write", { file_path: "/w/a.txt", content: "x" })).toBe("Write: /w/a.txt");
    expect(toolSummary("Mystery", null)).toBe("Mystery");
  });
});

describe("pull requests and CI in the conversation", () => {
  const check = (name: string, state: string) => ({ name, state, url: `https://github.com/acme/r/runs/${name}` });
  const ci = (state: string, done: number, total: number, checks: unknown[], sha = "abc1234def5678") =>
    ev({ kind: "ci", sha, state, done, total, checks });

  it("shows a PR once (not also caic's log line) and folds consecutive CI reports into the latest", () => {
    seq = 0;
    const events = [
      ev({ kind: "userInput", text: "go" }),
      result(0.01),
      ev({ kind: "log", line: "pushed abc1234def56 to origin/caic-1" }),
      ev({ kind: "log", line: "pull request #1: https://github.com/acme/r/pull/1" }),
      ev({ kind: "pr", forge: "github", number: 1, url: "https://github.com/acme/r/pull/1" }),
      ci("pending", 0, 0, []),
      ci("pending", 1, 2, [check("lint", "passed"), check("test", "pending")]),
    ];
    let turns = groupTurns(events);
    expect(turns).toHaveLength(2);
    expect(turns[1].items.map((i) => i.type)).toEqual(["log", "pr", "ci"]);
    expect(turns[1].items[2]).toMatchObject({ type: "ci", state: "pending", done: 1, total: 2 });

    events.push(ci("failed", 2, 2, [check("lint", "passed"), check("test", "failed")]));
    // caic's own "CI failed on <sha>" line says the same: not shown again.
    events.push(ev({ kind: "log", line: "CI failed on abc1234def56" }));
    turns = groupTurns(events);
    expect(turns[1].items.map((i) => i.type)).toEqual(["log", "pr", "ci"]);
    expect(turns[1].items[2]).toMatchObject({ type: "ci", state: "failed" });

    // The CI failure handed to the agent is a prompt: caic's lines before it do not
    // make a turn of their own.
    events.push(ev({ kind: "userInput", text: "CI failed on commit abc1234def56" }));
    turns = groupTurns(events);
    expect(turns).toHaveLength(2);
    expect(turns[1].items.map((i) => i.type)).toEqual(["log", "pr", "ci", "user"]);

    // A log line that is not an echo stays; a later report is a new line.
    events.push(ev({ kind: "log", line: "CI passed on 0000000" }));
    events.push(ci("passed", 2, 2, [check("lint", "passed"), check("test", "passed")], "fff0000"));
    turns = groupTurns(events);
    expect(turns[1].items.map((i) => i.type)).toEqual(["log", "pr", "ci", "user", "log", "ci"]);
  });

  it("keeps a PR line whose log line did not come just before", () => {
    seq = 0;
    const turns = groupTurns([
      ev({ kind: "log", line: "something else" }),
      ev({ kind: "pr", forge: "gitlab", number: 4, url: "https://gitlab.com/g/p/-/merge_requests/4" }),
    ]);
    expect(turns[0].items.map((i) => i.type)).toEqual(["log", "pr"]);
  });
});
