import { createMemo, createSignal, For, Index, Match, Show, Switch } from "solid-js";
import type { TodoItem } from "../api/types";
import type { Item, Turn } from "../lib/turns";
import { promptOf, toolSummary, windowOf } from "../lib/turns";
import { renderMarkdown } from "../lib/markdown";
import { cost, diffSummary, duration } from "../lib/format";
import { ciLine, pullName } from "../lib/ship";

/** What the conversation can ask its task to do. */
export type Actions = {
  /** Sends text as input. */
  send: (text: string) => Promise<void>;
  /** Starts a fresh session with `text`. */
  restart: (text: string) => Promise<void>;
  /** Whether input is allowed now. */
  canInput: () => boolean;
  /** Whether a restart is allowed now. */
  canRestart: () => boolean;
};

function Markdown(props: { text: string; class?: string }) {
  return <div class={`md ${props.class ?? ""}`} innerHTML={renderMarkdown(props.text)} />;
}

function pretty(v: unknown): string {
  return typeof v === "string" ? v : JSON.stringify(v, null, 2);
}

function ToolCard(props: { item: Extract<Item, { type: "tool" }> }) {
  const it = () => props.item;
  const failed = () => !!it().result?.error;
  // The input and output are only put in the page once opened: a long task has
  // thousands of these.
  const [open, setOpen] = createSignal(false);
  return (
    <details
      class="tool"
      classList={{ failed: failed(), pending: !it().result }}
      data-testid="tool"
      onToggle={(e) => setOpen(e.currentTarget.open)}
    >
      <summary>
        <span class="tool-line">{toolSummary(it().name, it().input)}</span>
        <span class="muted">
          {it().result ? (it().result!.durationMs != null ? duration(it().result!.durationMs!) : "done") : "running…"}
        </span>
      </summary>
      <Show when={open()}>
        <Show when={it().input != null}>
          <pre class="io">{pretty(it().input)}</pre>
        </Show>
        <Show when={it().result}>
          <pre class="io out" data-testid="tool-output">{it().result!.error ?? it().result!.output}</pre>
        </Show>
      </Show>
    </details>
  );
}

function AskCard(props: { item: Extract<Item, { type: "ask" }>; actions: Actions }) {
  const [picked, setPicked] = createSignal<Record<number, string[]>>({});
  const [other, setOther] = createSignal<Record<number, string>>({});
  const [sent, setSent] = createSignal(false);
  const done = () => props.item.answered || sent();
  const toggle = (q: number, label: string, multi: boolean) => {
    const cur = picked()[q] ?? [];
    const next = multi ? (cur.includes(label) ? cur.filter((l) => l !== label) : [...cur, label]) : [label];
    setPicked({ ...picked(), [q]: next });
  };
  const answer = () => {
    const qs = props.item.questions;
    const parts = qs.map((q, i) => {
      const a = [...(picked()[i] ?? []), ...(other()[i]?.trim() ? [other()[i].trim()] : [])].join(", ");
      return qs.length === 1 ? a : `${q.question} ${a}`;
    });
    return parts.join("\n");
  };
  return (
    <div class="card ask" classList={{ answered: done() }} data-testid="ask">
      <For each={props.item.questions}>
        {(q, i) => (
          <fieldset disabled={done()}>
            <Show when={q.header}>
              <div class="ask-header">{q.header}</div>
            </Show>
            <legend>{q.question}</legend>
            <For each={q.options}>
              {(o) => (
                <label class="opt">
                  <input
                    type={q.multiSelect ? "checkbox" : "radio"}
                    name={`ask-${props.item.seq}-${i()}`}
                    checked={(picked()[i()] ?? []).includes(o.label)}
                    onChange={() => toggle(i(), o.label, q.multiSelect)}
                  />
                  <span>
                    <b>{o.label}</b>
                    <Show when={o.description}>
                      <span class="muted"> {o.description}</span>
                    </Show>
                  </span>
                </label>
              )}
            </For>
            <input
              type="text"
              class="other"
              placeholder="Other…"
              value={other()[i()] ?? ""}
              onInput={(e) => setOther({ ...other(), [i()]: e.currentTarget.value })}
            />
          </fieldset>
        )}
      </For>
      <Show when={!done()}>
        <button
          class="primary small"
          data-testid="ask-send"
          disabled={!answer().trim() || !props.actions.canInput()}
          onClick={async () => {
            try {
              await props.actions.send(answer());
              setSent(true);
            } catch {
              /* the task view shows the error */
            }
          }}
        >
          Send answer
        </button>
      </Show>
    </div>
  );
}

function PlanCard(props: { item: Extract<Item, { type: "plan" }>; actions: Actions; last: boolean }) {
  return (
    <div class="card plan" data-testid="plan">
      <div class="card-title">Plan</div>
      <Markdown text={props.item.plan} />
      <Show when={props.last && props.actions.canInput()}>
        <div class="actions">
          <button
            class="primary small"
            data-testid="plan-execute"
            onClick={() => void props.actions.send("Go ahead with the plan.").catch(() => {})}
          >
            Execute plan
          </button>
          <Show when={props.actions.canRestart()}>
            <button
              class="small"
              data-testid="plan-clear-execute"
              title="Start a fresh session whose first message is this plan"
              onClick={() => void props.actions.restart(`Execute this plan:\n\n${props.item.plan}`).catch(() => {})}
            >
              Clear and execute plan
            </button>
          </Show>
        </div>
      </Show>
    </div>
  );
}

function TodoCard(props: { todos: TodoItem[] }) {
  const done = () => props.todos.filter((t) => t.status === "completed").length;
  return (
    <div class="card todo" data-testid="todo">
      <div class="card-title">
        <span>Todo</span>
        <span class="muted" data-testid="todo-progress">
          {done()}/{props.todos.length}
        </span>
        <progress max={props.todos.length || 1} value={done()} />
      </div>
      <ul>
        <For each={props.todos}>
          {(t) => (
            <li class={`todo-${t.status}`} data-testid="todo-item" data-status={t.status}>
              <span class="todo-mark" aria-hidden="true">
                {t.status === "completed" ? "✓" : t.status === "in_progress" ? "▸" : "○"}
              </span>
              <span>{t.status === "in_progress" && t.activeForm ? t.activeForm : t.content}</span>
            </li>
          )}
        </For>
      </ul>
    </div>
  );
}

function ResultCard(props: { item: Extract<Item, { type: "result" }> }) {
  const r = () => props.item;
  return (
    <div class="card result" classList={{ failed: r().isError }} data-testid="result">
      <span class="badge" classList={{ "st-failed": r().isError, "st-waiting": !r().isError }}>
        {r().isError ? r().subtype : "done"}
      </span>
      <span data-testid="result-cost">{cost(r().costUsd)}</span>
      <span>{duration(r().durationMs)}</span>
      <span>
        {r().numTurns} turn{r().numTurns === 1 ? "" : "s"}
      </span>
      <Show when={diffSummary(r().diffStat)}>
        <span>{diffSummary(r().diffStat)}</span>
      </Show>
    </div>
  );
}

function ItemView(props: { item: Item; actions: Actions; last: boolean }) {
  return (
    <Switch>
      <Match when={props.item.type === "user" && props.item}>
        {(it) => (
          <div class="msg user" data-testid="user-msg">
            <div class="bubble">{it().text}</div>
            <Show when={it().images > 0}>
              <div class="muted small">
                {it().images} image{it().images === 1 ? "" : "s"}
              </div>
            </Show>
          </div>
        )}
      </Match>
      <Match when={props.item.type === "text" && props.item}>
        {(it) => <Markdown class={`assistant ${it().streaming ? "streaming" : ""}`} text={it().text} />}
      </Match>
      <Match when={props.item.type === "thinking" && props.item}>
        {(it) => (
          <details class="thinking" open={it().streaming}>
            <summary class="muted">Thinking{it().streaming ? "…" : ""}</summary>
            <Markdown text={it().text} />
          </details>
        )}
      </Match>
      <Match when={props.item.type === "tool" && props.item}>{(it) => <ToolCard item={it()} />}</Match>
      <Match when={props.item.type === "ask" && props.item}>
        {(it) => <AskCard item={it()} actions={props.actions} />}
      </Match>
      <Match when={props.item.type === "plan" && props.item}>
        {(it) => <PlanCard item={it()} actions={props.actions} last={props.last} />}
      </Match>
      <Match when={props.item.type === "todo" && !props.item.superseded && props.item}>
        {(it) => <TodoCard todos={it().todos} />}
      </Match>
      <Match when={props.item.type === "result" && props.item}>{(it) => <ResultCard item={it()} />}</Match>
      <Match when={props.item.type === "system" && props.item}>
        {(it) => <div class="line system">{it().text}</div>}
      </Match>
      <Match when={props.item.type === "pr" && props.item}>
        {(it) => (
          <div class="line system" data-testid="pr-line">
            {pullName(it()).replace(/^./, (c) => c.toUpperCase())}:{" "}
            <a href={it().url} target="_blank" rel="noopener noreferrer">
              {it().url}
            </a>
          </div>
        )}
      </Match>
      <Match when={props.item.type === "ci" && props.item}>
        {(it) => (
          <div class={`line system ci-line cil-${it().state}`} data-testid="ci-line" data-state={it().state}>
            {ciLine(it())}
          </div>
        )}
      </Match>
      <Match when={props.item.type === "log" && props.item}>
        {(it) => <div class="line log">{it().text}</div>}
      </Match>
      <Match when={props.item.type === "error" && props.item}>
        {(it) => (
          <div class="line error" data-testid="error-line">
            {it().text}
          </div>
        )}
      </Match>
    </Switch>
  );
}

function TurnView(props: { turn: Turn; collapsed: boolean; last: boolean; actions: Actions }) {
  const [open, setOpen] = createSignal(false);
  // A turn with thousands of steps shows its latest ones; the rest on request.
  const [all, setAll] = createSignal(false);
  const win = createMemo(() => windowOf(props.turn.items, all()));
  const summary = () => {
    const t = props.turn;
    const p = promptOf(t) ?? "(start)";
    const bits = [p.split("\n")[0].slice(0, 100)];
    if (t.tools) bits.push(`${t.tools} tool${t.tools === 1 ? "" : "s"}`);
    if (t.result) bits.push(cost(t.result.costUsd), duration(t.result.durationMs));
    return bits.join(" · ");
  };
  return (
    <section class="turn" data-testid="turn">
      <Show
        when={!props.collapsed || open()}
        fallback={
          <button class="turn-summary" onClick={() => setOpen(true)}>
            ▸ {summary()}
          </button>
        }
      >
        <Show when={props.collapsed}>
          <button class="turn-summary" onClick={() => setOpen(false)}>
            ▾ {summary()}
          </button>
        </Show>
        <Index each={win().head}>
          {(item) => <ItemView item={item()} actions={props.actions} last={props.last} />}
        </Index>
        <Show when={win().hidden > 0}>
          <button class="turn-summary earlier" data-testid="show-earlier" onClick={() => setAll(true)}>
            ▸ {win().hidden.toLocaleString("en")} earlier steps
          </button>
        </Show>
        <Index each={win().tail}>
          {(item) => <ItemView item={item()} actions={props.actions} last={props.last} />}
        </Index>
      </Show>
    </section>
  );
}

/** The conversation of a task; older turns collapse to one line each. */
export function Conversation(props: { turns: Turn[]; actions: Actions }) {
  return (
    <div class="conversation" data-testid="conversation">
      <Index each={props.turns}>
        {(turn, i) => (
          <TurnView
            turn={turn()}
            collapsed={i < props.turns.length - 2}
            last={i === props.turns.length - 1}
            actions={props.actions}
          />
        )}
      </Index>
    </div>
  );
}
