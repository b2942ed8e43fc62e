import { createMemo, For, Show } from "solid-js";
import type { Task } from "../api/types";
import { connected, loaded, tasks } from "../lib/store";
import { navigate, route } from "../lib/router";
import { cost, diffSummary, duration, tokens } from "../lib/format";
import { isDormant } from "../lib/states";
import { now } from "../lib/clock";
import { UserMenu } from "./Login";
import { CiPill, PullLink } from "./Ship";

/** A task's state as a coloured badge. */
export function StateBadge(props: { state: Task["state"]; since?: number }) {
  return (
    <span class={`badge st-${props.state}`} data-testid="state">
      {props.state.replace("_", " ")}
      <Show when={props.since}>
        <span class="since">{duration(Math.max(0, now() - props.since!))}</span>
      </Show>
    </span>
  );
}

function TaskRow(props: { task: Task }) {
  const t = () => props.task;
  const selected = () => {
    const r = route();
    return r.page !== "home" && r.id === t().id;
  };
  return (
    <li
      class="task-row"
      classList={{ selected: selected() }}
      data-testid="task-row"
      data-id={t().id}
      onClick={() => navigate(`/tasks/${t().id}`)}
    >
      <div class="row1">
        <span class="title">{t().title}</span>
        <StateBadge state={t().state} since={t().stateUpdatedAt} />
      </div>
      <div class="row2 muted">
        <Show when={t().branch}>
          <span class="branch">{t().branch}</span>
        </Show>
        <span>
          {t().harness}
          <Show when={t().model}>/{t().model}</Show>
        </span>
        <Show when={t().costUsd > 0}>
          <span data-testid="cost">{cost(t().costUsd)}</span>
        </Show>
        <Show when={t().contextWindowLimit > 0 && t().activeInputTokens > 0}>
          <span title="context used">
            {tokens(t().activeInputTokens)}/{tokens(t().contextWindowLimit)}
          </span>
        </Show>
        <Show when={diffSummary(t().diffStat)}>
          <a
            class="diffsum"
            data-testid="diffsum"
            href={`/tasks/${t().id}/diff`}
            onClick={(e) => {
              e.preventDefault();
              e.stopPropagation();
              navigate(`/tasks/${t().id}/diff`);
            }}
          >
            {diffSummary(t().diffStat)}
          </a>
        </Show>
        <Show when={t().pr}>{(pr) => <PullLink pr={pr()} testid="row-pr" />}</Show>
        <Show when={t().ci}>{(ci) => <CiPill ci={ci()} testid="row-ci" />}</Show>
      </div>
      <Show when={t().error}>
        <div class="row-error" data-testid="task-error">{t().error}</div>
      </Show>
    </li>
  );
}

/** The sidebar's groups: active tasks by repo (newest first), then stopped, then purged. */
export function groupTasks(list: readonly Task[]) {
  const active = new Map<string, Task[]>();
  const stopped: Task[] = [];
  const purged: Task[] = [];
  for (const t of [...list].reverse()) {
    if (t.state === "purged") purged.push(t);
    else if (isDormant(t.state)) stopped.push(t);
    else {
      const g = active.get(t.repo) ?? [];
      g.push(t);
      active.set(t.repo, g);
    }
  }
  return { active: [...active.entries()], stopped, purged };
}

/** Every task in the order the sidebar shows them (for up/down). */
export function sidebarOrder(list: readonly Task[]): Task[] {
  const g = groupTasks(list);
  return [...g.active.flatMap(([, l]) => l), ...g.stopped, ...g.purged];
}

/** The task list, grouped by repo, live from the task-list stream. */
export function Sidebar() {
  const groups = createMemo(() => groupTasks(tasks()));
  return (
    <nav class="sidebar">
      <header class="bar">
        <a
          class="brand"
          href="/"
          onClick={(e) => {
            e.preventDefault();
            navigate("/");
          }}
        >
          caic
        </a>
        <span
          class="conn"
          classList={{ up: connected(), down: !connected() }}
          data-testid="conn"
          data-state={connected() ? "up" : "down"}
          title={connected() ? "connected" : "disconnected: reconnecting…"}
        />
        <button class="primary small" data-testid="new-task" onClick={() => navigate("/")}>
          New task
        </button>
        <UserMenu />
      </header>
      <Show when={loaded() && tasks().length === 0}>
        <p class="muted pad">No tasks yet.</p>
      </Show>
      <For each={groups().active}>
        {([repo, list]) => (
          <section class="group">
            <h3>{repo}</h3>
            <ul>
              <For each={list}>{(t) => <TaskRow task={t} />}</For>
            </ul>
          </section>
        )}
      </For>
      <Show when={groups().stopped.length > 0}>
        <details class="group dormant">
          <summary>Stopped ({groups().stopped.length})</summary>
          <ul>
            <For each={groups().stopped}>{(t) => <TaskRow task={t} />}</For>
          </ul>
        </details>
      </Show>
      <Show when={groups().purged.length > 0}>
        <details class="group dormant" data-testid="purged-group">
          <summary>Purged ({groups().purged.length})</summary>
          <ul>
            <For each={groups().purged}>{(t) => <TaskRow task={t} />}</For>
          </ul>
        </details>
      </Show>
    </nav>
  );
}
