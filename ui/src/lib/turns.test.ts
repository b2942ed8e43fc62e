import { describe, expect, it } from "vitest";
import type { Event } from "../api/types";
import { groupTurns, toolSummary } from "./turns";

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

  it("summarises tool calls in one line", () => {
    expect(toolSummary("Bash", { command: "ls -la\necho hi" })).toBe("Bash: ls -la");
    expect(toolSummary("Write", { file_path: "/w/a.txt", content: "x" })).toBe("Write: /w/a.txt");
    expect(toolSummary("Mystery", null)).toBe("Mystery");
  });
});
