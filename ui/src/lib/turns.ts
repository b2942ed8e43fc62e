// Turns a task's flat event list into what the conversation shows: turns (a user
// prompt and everything the agent did for it, up to its result) made of items, with
// streamed text folded together and each tool call paired with its result.
import type { AskQuestion, CiCheck, CiState, DiffFile, Event, JsonValue, TodoItem, Usage } from "../api/types";

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
  | { type: "todo"; seq: number; todos: TodoItem[]; superseded: boolean }
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
  | { type: "pr"; seq: number; forge: string; number: number; url: string }
  | { type: "ci"; seq: number; sha: string; state: CiState; done: number; total: number; checks: CiCheck[] }
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

type Loc = { t: number; i: number };

/**
 * Groups a growing event list into turns incrementally: each `update` handles only the
 * events added since the last call, and every turn and item it did not touch keeps its
 * identity, so a renderer keyed by reference redraws only what changed (a task with
 * thousands of events streams without redrawing its history on every event). Changed
 * turns and items are new objects; nothing handed out is mutated afterwards.
 */
export class TurnGrouper {
  private turns: Turn[] = [];
  private seen = 0;
  private last: Event | undefined;
  /** Index of the open turn, or -1. */
  private cur = -1;
  private tools = new Map<string, Loc>();
  /** Tool calls shown as something else (todo list, plan, ask): their results are not shown. */
  private absorbed = new Set<string>();
  private asks: Loc[] = [];
  private textDelta: Loc | undefined;
  private thinkingDelta: Loc | undefined;
  /** Per turn, where its latest todo list is. */
  private todo = new Map<number, Loc>();
  /** Turns already copied during this update. */
  private copied = new Set<number>();

  /** The turns of `events` (by increasing seq; the same array may grow between calls). */
  update(events: Event[]): Turn[] {
    if (events.length < this.seen || (this.seen > 0 && events[this.seen - 1] !== this.last)) this.reset();
    if (events.length === this.seen) return this.turns;
    this.turns = this.turns.slice();
    this.copied.clear();
    for (let i = this.seen; i < events.length; i++) this.push(events[i]);
    this.seen = events.length;
    this.last = events[events.length - 1];
    return this.turns;
  }

  private reset() {
    Object.assign(this, new TurnGrouper());
  }

  /** The turn at `t`, copied once per update so the previous version stays intact. */
  private mut(t: number): Turn {
    if (!this.copied.has(t)) {
      const old = this.turns[t];
      this.turns[t] = { ...old, items: old.items.slice() };
      this.copied.add(t);
    }
    return this.turns[t];
  }

  private get<T extends Item["type"]>(loc: Loc): Extract<Item, { type: T }> {
    return this.turns[loc.t].items[loc.i] as Extract<Item, { type: T }>;
  }

  private set(loc: Loc, item: Item) {
    this.mut(loc.t).items[loc.i] = item;
  }

  private turn(seq: number): number {
    if (this.cur < 0) {
      this.turns.push({ seq, items: [], tools: 0 });
      this.cur = this.turns.length - 1;
      this.copied.add(this.cur);
    }
    return this.cur;
  }

  private add(seq: number, item: Item): Loc {
    const t = this.turn(seq);
    const turn = this.mut(t);
    turn.items.push(item);
    return { t, i: turn.items.length - 1 };
  }

  /** Where the open turn's last item is, if there is an open turn with items. */
  private lastLoc(): Loc | undefined {
    if (this.cur < 0) return undefined;
    const n = this.turns[this.cur].items.length;
    return n ? { t: this.cur, i: n - 1 } : undefined;
  }

  private lastItem(): Item | undefined {
    const l = this.lastLoc();
    return l && this.turns[l.t].items[l.i];
  }

  private push(ev: Event) {
    switch (ev.kind) {
      case "userInput": {
        for (const a of this.asks) this.set(a, { ...this.get<"ask">(a), answered: true });
        this.asks = [];
        // A prompt starts a new turn unless the current one has only seen caic's own
        // lines so far (provisioning logs before the first prompt).
        if (this.cur >= 0 && this.turns[this.cur].items.some((i) => !caicLine.has(i.type))) {
          this.cur = -1;
        }
        this.textDelta = this.thinkingDelta = undefined;
        this.add(ev.seq, { type: "user", seq: ev.seq, text: ev.text, images: ev.images ?? 0 });
        break;
      }
      case "textDelta": {
        if (this.textDelta) {
          const it = this.get<"text">(this.textDelta);
          this.set(this.textDelta, { ...it, text: it.text + ev.text });
        } else {
          this.textDelta = this.add(ev.seq, { type: "text", seq: ev.seq, text: ev.text, streaming: true });
        }
        break;
      }
      case "text": {
        if (this.textDelta) {
          this.set(this.textDelta, { ...this.get<"text">(this.textDelta), text: ev.text, streaming: false });
          this.textDelta = undefined;
        } else {
          this.add(ev.seq, { type: "text", seq: ev.seq, text: ev.text, streaming: false });
        }
        break;
      }
      case "thinkingDelta": {
        if (this.thinkingDelta) {
          const it = this.get<"thinking">(this.thinkingDelta);
          this.set(this.thinkingDelta, { ...it, text: it.text + ev.text });
        } else {
          this.thinkingDelta = this.add(ev.seq, { type: "thinking", seq: ev.seq, text: ev.text, streaming: true });
        }
        break;
      }
      case "thinking": {
        if (this.thinkingDelta) {
          this.set(this.thinkingDelta, { ...this.get<"thinking">(this.thinkingDelta), text: ev.text, streaming: false });
          this.thinkingDelta = undefined;
        } else {
          this.add(ev.seq, { type: "thinking", seq: ev.seq, text: ev.text, streaming: false });
        }
        break;
      }
      case "toolUse": {
        const plan = planOf(ev);
        if (plan !== undefined) {
          this.absorbed.add(ev.toolUseId);
          this.add(ev.seq, { type: "plan", seq: ev.seq, id: ev.toolUseId, plan });
          break;
        }
        const loc = this.add(ev.seq, { type: "tool", seq: ev.seq, id: ev.toolUseId, name: ev.name, input: ev.input });
        this.tools.set(ev.toolUseId, loc);
        this.mut(loc.t).tools++;
        break;
      }
      case "toolResult": {
        if (this.absorbed.has(ev.toolUseId)) break;
        const result = { output: ev.output, error: ev.error, durationMs: ev.durationMs };
        const loc = this.tools.get(ev.toolUseId);
        if (loc) {
          this.set(loc, { ...this.get<"tool">(loc), result });
        } else {
          // A result whose call we never saw: show it alone.
          this.add(ev.seq, { type: "tool", seq: ev.seq, id: ev.toolUseId, name: "?", input: null, result });
        }
        break;
      }
      case "ask": {
        this.absorbed.add(ev.toolUseId);
        this.asks.push(
          this.add(ev.seq, { type: "ask", seq: ev.seq, id: ev.toolUseId, questions: ev.questions, answered: false }),
        );
        break;
      }
      case "todo": {
        // The agent rewrites its whole list at each step: show the latest one, where it
        // was written, and leave a trace of the earlier ones.
        this.absorbed.add(ev.toolUseId);
        const t = this.turn(ev.seq);
        const prev = this.todo.get(t);
        if (prev) this.set(prev, { ...this.get<"todo">(prev), superseded: true });
        this.todo.set(t, this.add(ev.seq, { type: "todo", seq: ev.seq, todos: ev.todos, superseded: false }));
        break;
      }
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
        const t = this.turn(ev.seq);
        const turn = this.mut(t);
        turn.items.push(item);
        turn.result = item;
        this.textDelta = this.thinkingDelta = undefined;
        this.cur = -1;
        break;
      }
      case "system":
        this.add(ev.seq, { type: "system", seq: ev.seq, text: ev.detail ? `${ev.subtype}: ${ev.detail}` : ev.subtype });
        break;
      case "log": {
        // caic logs what it also reports as a `pr` or `ci` event: say it once.
        const prev = this.lastItem();
        if (prev?.type === "ci" && ciEcho(ev.line, prev)) break;
        this.add(ev.seq, { type: "log", seq: ev.seq, text: ev.line });
        break;
      }
      case "pr": {
        const item: Item = { type: "pr", seq: ev.seq, forge: ev.forge, number: ev.number, url: ev.url };
        const prev = this.lastItem();
        if (prev?.type === "log" && prev.text === `pull request #${ev.number}: ${ev.url}`) {
          this.set(this.lastLoc()!, item);
        } else {
          this.add(ev.seq, item);
        }
        break;
      }
      case "ci": {
        // CI reports come every few seconds while checks run: the latest replaces the
        // ones just before it.
        const item: Item = {
          type: "ci",
          seq: ev.seq,
          sha: ev.sha,
          state: ev.state,
          done: ev.done,
          total: ev.total,
          checks: ev.checks,
        };
        const prev = this.lastItem();
        if (prev?.type === "ci") this.set(this.lastLoc()!, item);
        else this.add(ev.seq, item);
        break;
      }
      case "error":
        this.add(ev.seq, { type: "error", seq: ev.seq, text: ev.message });
        break;
      case "subagentStart":
        this.add(ev.seq, { type: "system", seq: ev.seq, text: `subagent ${ev.taskId} started: ${ev.description}` });
        break;
      case "subagentEnd":
        this.add(ev.seq, { type: "system", seq: ev.seq, text: `subagent ${ev.taskId} ${ev.status}` });
        break;
      default:
        // init, usage, diffStat, and kinds this UI does not know yet.
        break;
    }
  }
}

/** Items that are caic's own lines, not the agent's work: they do not hold a turn open. */
const caicLine = new Set<Item["type"]>(["log", "system", "pr", "ci"]);

/** Whether log `line` repeats what CI item `ci` already says (`CI failed on <sha>`). */
function ciEcho(line: string, ci: Extract<Item, { type: "ci" }>): boolean {
  const m = /^CI (passed|failed) on ([0-9a-f]+)$/.exec(line);
  return !!m && m[1] === ci.state && ci.sha.startsWith(m[2]);
}

/** Groups events (by increasing seq) into turns. */
export function groupTurns(events: Event[]): Turn[] {
  return new TurnGrouper().update(events);
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

/** How many items of a long turn stay on screen, and by how many the cut moves. */
export const WINDOW = { keep: 150, step: 100 };

/**
 * Which items of a turn to show: its head (up to its prompt) and its latest items; the
 * ones between are `hidden` behind a "show earlier steps" button. The cut moves by
 * whole `step`s, so a streaming turn rarely shifts what is on screen.
 */
export function windowOf(items: Item[], showAll: boolean, w = WINDOW): { head: Item[]; hidden: number; tail: Item[] } {
  const u = items.findIndex((i) => i.type === "user");
  const h = u < 0 ? 0 : u + 1;
  const body = items.length - h;
  const hidden = showAll || body <= w.keep + w.step ? 0 : Math.floor((body - w.keep) / w.step) * w.step;
  return { head: items.slice(0, h), hidden, tail: items.slice(h + hidden) };
}
