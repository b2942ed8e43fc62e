import { createEffect, createMemo, createResource, createSignal, on, onCleanup, Show } from "solid-js";
import type { Action, Event, ImageData, Task } from "../api/types";
import { api, RequestError } from "../api/client";
import { openStream } from "../api/stream";
import { EventLog } from "../lib/replay";
import { TurnGrouper } from "../lib/turns";
import { harnessList } from "../lib/harnesses";
import { AttachButton, createAttachments, Thumbs } from "./Images";
import { allows } from "../lib/states";
import { cost, diffSummary, tokens } from "../lib/format";
import { navigate } from "../lib/router";
import { loaded, tasks } from "../lib/store";
import { StateBadge } from "./Sidebar";
import { Conversation, type Actions } from "./Conversation";
import { CiChecks, CiPill, createPush, PullLink, PushButton, PushOutcome } from "./Ship";

/** A task's events, live: history on connect, then live events; survives reconnects. */
function useEvents(id: () => string, task: () => Task | undefined) {
  const [events, setEvents] = createSignal<Event[]>([], { equals: false });
  const [up, setUp] = createSignal(false);
  createEffect(
    on(id, (tid) => {
      const log = new EventLog();
      setEvents([]);
      let ended = false;
      // Live events come in bursts (a busy agent sends hundreds a second): show them at
      // most once per frame.
      let frame = 0;
      const show = () => {
        if (!frame) {
          frame = requestAnimationFrame(() => {
            frame = 0;
            setEvents(log.events);
          });
        }
      };
      onCleanup(() => cancelAnimationFrame(frame));
      const close = openStream(`/api/v1/tasks/${encodeURIComponent(tid)}/events`, {
        onConnecting: () => log.connect(),
        onStatus: setUp,
        onMessage(data) {
          if (log.push(JSON.parse(data) as Event)) show();
        },
        onNamed: {
          ready() {
            if (log.ready()) setEvents(log.events);
          },
        },
        // A purged (or unknown) task's stream ends after its history: nothing more
        // will come.
        shouldReconnect: () => {
          const state = task()?.state ?? (loaded() ? "purged" : undefined);
          ended = log.live && state === "purged";
          return !ended;
        },
      });
      onCleanup(close);
    }),
  );
  return { events, up };
}

/** One task: its header, actions, conversation and input. */
export function TaskView(props: { id: string }) {
  const task = createMemo(() => tasks().find((t) => t.id === props.id));
  const { events } = useEvents(() => props.id, task);
  const grouper = new TurnGrouper();
  const turns = createMemo(() => grouper.update(events()));
  const [harnesses] = createResource(harnessList);
  const supportsImages = () => {
    const t = task();
    return !!t && !!harnesses()?.find((h) => h.name === t.harness)?.supportsImages;
  };
  const att = createAttachments(supportsImages);
  const [text, setText] = createSignal("");
  const [error, setError] = createSignal("");
  const [busy, setBusy] = createSignal(false);
  const can = (a: Action) => {
    const t = task();
    return !!t && allows(t.state, a);
  };
  let scroller: HTMLDivElement | undefined;
  let stick = true;
  const push = createPush(() => props.id);
  const [checksOpen, setChecksOpen] = createSignal(false);

  const act = async (f: () => Promise<unknown>) => {
    setError("");
    setBusy(true);
    try {
      await f();
    } catch (e) {
      setError(e instanceof RequestError ? e.message : String(e));
      throw e;
    } finally {
      setBusy(false);
    }
  };
  const actions: Actions = {
    send: (t) => act(() => api.input(props.id, { text: t, images: [] })),
    restart: (t) => act(() => api.restart(props.id, { text: t, images: [] })),
    canInput: () => can("input"),
    canRestart: () => can("restart"),
  };
  const sendable = () => !!text().trim() || att.images().length > 0;
  const send = async () => {
    if (!sendable() || busy()) return;
    const images: ImageData[] = att.images();
    try {
      await act(() => api.input(props.id, { text: text().trim(), images }));
      setText("");
      att.clear();
    } catch {
      /* shown */
    }
  };

  // Follow the bottom unless the person scrolled up.
  createEffect(
    on(events, () => {
      if (stick && scroller) queueMicrotask(() => scroller && (scroller.scrollTop = scroller.scrollHeight));
    }),
  );

  return (
    <div class="task-view" data-testid="task-view">
      <header class="task-head">
        <button class="back small" title="back" onClick={() => navigate("/")}>
          ←
        </button>
        <div class="head-main">
          <h2 class="task-title" data-testid="task-title">
            {task()?.title ?? props.id}
          </h2>
          <Show when={task()}>
            {(t) => (
              <div class="muted head-meta">
                <StateBadge state={t().state} since={t().stateUpdatedAt} />
                <span>{t().repo}</span>
                <Show when={t().branch}>
                  <span class="branch">{t().branch}</span>
                </Show>
                <span>
                  {t().harness}
                  <Show when={t().model}>/{t().model}</Show>
                </span>
                <Show when={t().costUsd > 0}>
                  <span>{cost(t().costUsd)}</span>
                </Show>
                <Show when={t().contextWindowLimit > 0 && t().activeInputTokens > 0}>
                  <span>
                    {tokens(t().activeInputTokens)}/{tokens(t().contextWindowLimit)} ctx
                  </span>
                </Show>
                <Show when={diffSummary(t().diffStat)}>
                  <a
                    href={`/tasks/${t().id}/diff`}
                    data-testid="head-diffsum"
                    onClick={(e) => {
                      e.preventDefault();
                      navigate(`/tasks/${t().id}/diff`);
                    }}
                  >
                    {diffSummary(t().diffStat)}
                  </a>
                </Show>
                <Show when={t().pr}>{(pr) => <PullLink pr={pr()} testid="head-pr" />}</Show>
                <Show when={t().ci}>
                  {(ci) => (
                    <CiPill ci={ci()} testid="ci-pill" open={checksOpen()} onClick={() => setChecksOpen(!checksOpen())} />
                  )}
                </Show>
              </div>
            )}
          </Show>
        </div>
        <div class="head-actions">
          <Show when={can("sync") && task()?.branch ? task() : undefined}>{(t) => <PushButton task={t()} push={push} />}</Show>
          <Show when={task()?.ci?.state === "failed" && can("input")}>
            <button
              class="small"
              data-testid="btn-fix-ci"
              disabled={busy()}
              title="Send the failing CI logs to the agent; caic pushes again after its turn"
              onClick={() => void act(() => api.fixCi(props.id)).catch(() => {})}
            >
              Fix CI
            </button>
          </Show>
          <Show when={can("diff")}>
            <button class="small" data-testid="btn-diff" onClick={() => navigate(`/tasks/${props.id}/diff`)}>
              Diff
            </button>
          </Show>
          <Show when={can("stop")}>
            <button
              class="small"
              data-testid="btn-stop"
              disabled={busy()}
              onClick={() => {
                if (task()?.state === "running" && !confirm("The agent is working. Stop it?")) return;
                void act(() => api.stop(props.id)).catch(() => {});
              }}
            >
              Stop
            </button>
          </Show>
          <Show when={can("revive")}>
            <button class="small" data-testid="btn-revive" disabled={busy()} onClick={() => void act(() => api.revive(props.id)).catch(() => {})}>
              Revive
            </button>
          </Show>
          <Show when={can("restart")}>
            <button
              class="small"
              data-testid="btn-restart"
              disabled={busy()}
              onClick={() => {
                const p = text().trim() || prompt("First message of the new session:")?.trim();
                if (p) void actions.restart(p).then(() => setText(""), () => {});
              }}
            >
              Restart
            </button>
          </Show>
          <Show when={can("purge")}>
            <button
              class="small danger"
              data-testid="btn-purge"
              disabled={busy()}
              onClick={() => {
                if (!confirm("Delete this task's container? Its history stays.")) return;
                void act(() => api.purge(props.id)).catch(() => {});
              }}
            >
              Purge
            </button>
          </Show>
        </div>
      </header>
      <Show when={task()}>{(t) => <PushOutcome task={t()} push={push} />}</Show>
      <Show when={checksOpen() && task()?.ci}>
        {(ci) => (
          <CiChecks ci={ci()} />
        )}
      </Show>
      <Show when={task()?.error}>
        <div class="line error">{task()!.error}</div>
      </Show>
      <div
        class="scroll"
        ref={scroller}
        onScroll={(e) => {
          const el = e.currentTarget;
          stick = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
        }}
      >
        <Conversation turns={turns()} actions={actions} />
        <Show when={task() && ["pending", "branching", "provisioning", "starting"].includes(task()!.state)}>
          <div class="line system">Starting: {task()!.state}…</div>
        </Show>
      </div>
      <Show when={error()}>
        <div class="form-error" role="alert" data-testid="task-error-msg">
          {error()}
        </div>
      </Show>
      <Show when={can("input")}>
        <form
          class="composer"
          classList={{ dragging: att.dragging() }}
          data-testid="composer"
          onSubmit={(e) => {
            e.preventDefault();
            void send();
          }}
          {...att.dropZone}
        >
          <Thumbs a={att} />
          <div class="composer-row">
            <textarea
              data-testid="input"
              rows={2}
              placeholder="Message the agent. Enter sends, Shift+Enter for a new line."
              value={text()}
              onInput={(e) => setText(e.currentTarget.value)}
              onPaste={att.onPaste}
              onKeyDown={(e) => {
                if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
                  e.preventDefault();
                  void send();
                }
              }}
            />
            <div class="composer-actions">
              <Show when={supportsImages()}>
                <AttachButton a={att} testid="input-attach" label="Image" />
              </Show>
              <button class="primary" type="submit" data-testid="send" disabled={busy() || !sendable()}>
                Send
              </button>
            </div>
          </div>
        </form>
      </Show>
    </div>
  );
}
