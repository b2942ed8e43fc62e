// Turns a task's flat event list into what the conversation shows: turns (a user
// prompt and everything the agent did for it, up to its result) made of items, with
// streamed text folded together and each tool call paired with its result.
import type { AskQuestion, DiffFile, Event, JsonValue, TodoItem, Usage } from "../api/types";

type Of<K extends Event["kind"]> = Extract<Event, { kind: K }>;

/** One thing shown in the conversation. */
export type Item =
  | { type: "user"; seq: number; text: string; images: number }
  | { type: "text"; seq: number; text: string; streaming: boolean }
  | { type: "thinking"; seq: number; text: string; streaming: boolean }
  | {
      type: "tool";
      seq: number;
      id: string;
      name: string;
      input: JsonValue | null;
      result?: { output: string; error?: string; durationMs?: number };
    }
  | { type: "plan"; seq: number; id: string; plan: string }
  | { type: "ask"; seq: number; id: string; questions: AskQuestion[]; answered: boolean }
  | { type: "todo"; seq: number; todos: TodoItem[] }
  | {
      type: "result";
      seq: number;
      subtype: string;
      isError: boolean;
      result: string;
      costUsd: number;
      durationMs: number;
      numTurns: number;
      usage: Usage;
      diffStat: DiffFile[];
    }
  | { type: "system"; seq: number; text: string }
  | { type: "log"; seq: number; text: string }
  | { type: "error"; seq: number; text: string };

/** A user prompt and the agent's work on it. The first turn may have no prompt. */
export type Turn = {
  /** seq of its first event: a stable key. */
  seq: number;
  items: Item[];
  /** Its result, once the turn ended. */
  result?: Extract<Item, { type: "result" }>;
  /** Tool calls in the turn. */
  tools: number;
};

/** Groups events (by increasing seq) into turns. */
export function groupTurns(events: Event[]): Turn[] {
  const turns: Turn[] = [];
  let cur: Turn | undefined;
  const tools = new Map<string, Extract<Item, { type: "tool" }>>();
  const asks: Extract<Item, { type: "ask" }>[] = [];
  // The item being streamed by deltas, replaced by the complete block when it comes.
  let textDelta: Extract<Item, { type: "text" }> | undefined;
  let thinkingDelta: Extract<Item, { type: "thinking" }> | undefined;

  const turn = (seq: number): Turn => {
    if (!cur) {
      cur = { seq, items: [], tools: 0 };
      turns.push(cur);
    }
    return cur;
  };
  const add = (seq: number, item: Item) => turn(seq).items.push(item);

  for (const ev of events) {
    switch (ev.kind) {
      case "userInput": {
        for (const a of asks) a.answered = true;
        asks.length = 0;
        // A prompt starts a new turn unless the current one has only seen caic's own
        // lines so far (provisioning logs before the first prompt).
        if (cur && cur.items.some((i) => i.type !== "log" && i.type !== "system")) cur = undefined;
        textDelta = thinkingDelta = undefined;
        add(ev.seq, { type: "user", seq: ev.seq, text: ev.text, images: ev.images ?? 0 });
        break;
      }
      case "textDelta": {
        if (textDelta) {
          textDelta.text += ev.text;
        } else {
          textDelta = { type: "text", seq: ev.seq, text: ev.text, streaming: true };
          add(ev.seq, textDelta);
        }
        break;
      }
      case "text": {
        if (textDelta) {
          textDelta.text = ev.text;
          textDelta.streaming = false;
          textDelta = undefined;
        } else {
          add(ev.seq, { type: "text", seq: ev.seq, text: ev.text, streaming: false });
        }
        break;
      }
      case "thinkingDelta": {
        if (thinkingDelta) {
          thinkingDelta.text += ev.text;
        } else {
          thinkingDelta = { type: "thinking", seq: ev.seq, text: ev.text, streaming: true };
          add(ev.seq, thinkingDelta);
        }
        break;
      }
      case "thinking": {
        if (thinkingDelta) {
          thinkingDelta.text = ev.text;
          thinkingDelta.streaming = false;
          thinkingDelta = undefined;
        } else {
          add(ev.seq, { type: "thinking", seq: ev.seq, text: ev.text, streaming: false });
        }
        break;
      }
      case "toolUse": {
        const plan = planOf(ev);
        if (plan !== undefined) {
          add(ev.seq, { type: "plan", seq: ev.seq, id: ev.toolUseId, plan });
          break;
        }
        const item: Extract<Item, { type: "tool" }> = {
          type: "tool",
          seq: ev.seq,
          id: ev.toolUseId,
          name: ev.name,
          input: ev.input,
        };
        tools.set(ev.toolUseId, item);
        add(ev.seq, item);
        turn(ev.seq).tools++;
        break;
      }
      case "toolResult": {
        const result = { output: ev.output, error: ev.error, durationMs: ev.durationMs };
        const use = tools.get(ev.toolUseId);
        if (use) {
          use.result = result;
        } else {
          // A result whose call we never saw (or an ask's answer): show it alone.
          add(ev.seq, { type: "tool", seq: ev.seq, id: ev.toolUseId, name: "?", input: null, result });
        }
        break;
      }
      case "ask": {
        const item: Extract<Item, { type: "ask" }> = {
          type: "ask",
          seq: ev.seq,
          id: ev.toolUseId,
          questions: ev.questions,
          answered: false,
        };
        asks.push(item);
        add(ev.seq, item);
        break;
      }
      case "todo":
        add(ev.seq, { type: "todo", seq: ev.seq, todos: ev.todos });
        break;
      case "result": {
        const item: Extract<Item, { type: "result" }> = {
          type: "result",
          seq: ev.seq,
          subtype: ev.subtype,
          isError: ev.isError,
          result: ev.result,
          costUsd: ev.totalCostUsd,
          durationMs: ev.durationMs,
          numTurns: ev.numTurns,
          usage: ev.usage,
          diffStat: ev.diffStat ?? [],
        };
        const t = turn(ev.seq);
        t.items.push(item);
        t.result = item;
        textDelta = thinkingDelta = undefined;
        cur = undefined;
        break;
      }
      case "system":
        add(ev.seq, { type: "system", seq: ev.seq, text: ev.detail ? `${ev.subtype}: ${ev.detail}` : ev.subtype });
        break;
      case "log":
        add(ev.seq, { type: "log", seq: ev.seq, text: ev.line });
        break;
      case "error":
        add(ev.seq, { type: "error", seq: ev.seq, text: ev.message });
        break;
      case "subagentStart":
        add(ev.seq, { type: "system", seq: ev.seq, text: `subagent ${ev.taskId} started: ${ev.description}` });
        break;
      case "subagentEnd":
        add(ev.seq, { type: "system", seq: ev.seq, text: `subagent ${ev.taskId} ${ev.status}` });
        break;
      case "init":
      case "usage":
      case "diffStat":
        break;
    }
  }
  return turns;
}

function planOf(ev: Of<"toolUse">): string | undefined {
  if (ev.name !== "ExitPlanMode") return undefined;
  const input = ev.input;
  if (input && typeof input === "object" && !Array.isArray(input) && typeof input.plan === "string") {
    return input.plan;
  }
  return "";
}

/** The user prompt of a turn, if it has one. */
export function promptOf(t: Turn): string | undefined {
  const u = t.items.find((i) => i.type === "user");
  return u && u.type === "user" ? u.text : undefined;
}

/** One line describing a tool call: `Bash: ls -la`, `Write: src/a.rs`. */
export function toolSummary(name: string, input: JsonValue | null): string {
  if (!input || typeof input !== "object" || Array.isArray(input)) return name;
  const pick = (k: string) => (typeof input[k] === "string" ? (input[k] as string) : undefined);
  const detail =
    pick("command") ?? pick("file_path") ?? pick("path") ?? pick("pattern") ?? pick("url") ?? pick("description");
  if (!detail) return name;
  const line = detail.split("\n")[0];
  return `${name}: ${line.length > 120 ? line.slice(0, 117) + "…" : line}`;
}
