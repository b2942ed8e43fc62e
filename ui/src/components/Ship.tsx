// Shipping a task's work: the push control and what came of a push (pushed, nothing to
// push, blocked by the pre-push scan, or an error), the pull request link, and the CI
// pill with its checks.
import { createSignal, For, onCleanup, onMount, Show } from "solid-js";
import type { CiInfo, PullInfo, SyncResp, SyncTarget, Task } from "../api/types";
import { api, RequestError } from "../api/client";
import { checkMark, ciLabel, findingKind, pullLabel, shortSha } from "../lib/ship";
import { diffSummary } from "../lib/format";

/** Where a push stands in the task view. */
export type PushState =
  | { kind: "idle" }
  | { kind: "pushing"; target: SyncTarget; force: boolean }
  | { kind: "done"; target: SyncTarget; resp: SyncResp }
  | { kind: "error"; target: SyncTarget; message: string };

/** A push of task `id`'s work, and its outcome. */
export function createPush(id: () => string) {
  const [state, setState] = createSignal<PushState>({ kind: "idle" });
  const push = async (target: SyncTarget, force = false) => {
    if (state().kind === "pushing") return;
    setState({ kind: "pushing", target, force });
    try {
      setState({ kind: "done", target, resp: await api.sync(id(), target, force) });
    } catch (e) {
      setState({ kind: "error", target, message: e instanceof RequestError ? e.message : String(e) });
    }
  };
  return { state, push, dismiss: () => setState({ kind: "idle" }) };
}

/** What `createPush` returns. */
export type Push = ReturnType<typeof createPush>;

/** The link to a task's pull (or merge) request: `PR #12`, opening the forge's page. */
export function PullLink(props: { pr: PullInfo; testid: string; short?: boolean }) {
  return (
    <a
      class="pr-link"
      data-testid={props.testid}
      href={props.pr.url}
      target="_blank"
      rel="noopener noreferrer"
      title={`Open ${pullLabel(props.pr)} on ${props.pr.forge === "gitlab" ? "GitLab" : "GitHub"}`}
      onClick={(e) => e.stopPropagation()}
    >
      {props.short ? `#${props.pr.number}` : pullLabel(props.pr)}
    </a>
  );
}

/** The CI verdict as a coloured pill; a button when `onClick` is given. */
export function CiPill(props: { ci: CiInfo; testid: string; open?: boolean; onClick?: () => void }) {
  const cls = () => `ci-pill ci-${props.ci.state}`;
  return (
    <Show
      when={props.onClick}
      fallback={
        <span class={cls()} data-testid={props.testid} data-state={props.ci.state}>
          {ciLabel(props.ci)}
        </span>
      }
    >
      <button
        type="button"
        class={cls()}
        data-testid={props.testid}
        data-state={props.ci.state}
        aria-expanded={!!props.open}
        title="Show the checks"
        onClick={() => props.onClick?.()}
      >
        {ciLabel(props.ci)} {props.open ? "▴" : "▾"}
      </button>
    </Show>
  );
}

/** The checks of the last pushed commit: name, state, link. */
export function CiChecks(props: { ci: CiInfo }) {
  return (
    <section class="ship-panel ci-checks" data-testid="ci-checks">
      <div class="ship-title">
        <span>
          Checks on <code>{shortSha(props.ci.sha)}</code>
        </span>
        <Show when={props.ci.total > 0}>
          <span class="muted">
            {props.ci.done}/{props.ci.total} done
          </span>
        </Show>
      </div>
      <Show when={props.ci.checks.length > 0} fallback={<p class="muted small">No check has started yet.</p>}>
        <ul class="checks">
          <For each={props.ci.checks}>
            {(c) => (
              <li class={`check ck-${c.state}`} data-testid="ci-check" data-state={c.state}>
                <span class="mark" aria-hidden="true">
                  {checkMark(c.state)}
                </span>
                <span class="name">{c.name}</span>
                <span class="state">{c.state}</span>
                <Show when={c.url}>
                  <a href={c.url} target="_blank" rel="noopener noreferrer" data-testid="ci-check-link">
                    details
                  </a>
                </Show>
              </li>
            )}
          </For>
        </ul>
      </Show>
    </section>
  );
}

/** The "Push" button and its menu (push the branch, or squash onto the base branch). */
export function PushButton(props: { task: Task; push: Push }) {
  const [open, setOpen] = createSignal(false);
  let root: HTMLDivElement | undefined;
  onMount(() => {
    const away = (e: MouseEvent) => {
      if (open() && root && !root.contains(e.target as Node)) setOpen(false);
    };
    // Esc closes the menu (and only the menu: the app's Esc leaves the task).
    const esc = (e: KeyboardEvent) => {
      if (open() && e.key === "Escape") {
        e.stopPropagation();
        setOpen(false);
      }
    };
    document.addEventListener("click", away);
    document.addEventListener("keydown", esc);
    onCleanup(() => {
      document.removeEventListener("click", away);
      document.removeEventListener("keydown", esc);
    });
  });
  const pushing = () => props.push.state().kind === "pushing";
  const squash = () => {
    setOpen(false);
    const base = props.task.baseBranch;
    if (!confirm(`Squash the work into one commit on top of origin/${base} and push it to ${base}?`)) return;
    void props.push.push("default");
  };
  return (
    <div class="split" ref={root} data-testid="push-control">
      <button
        class="small"
        data-testid="btn-push"
        disabled={pushing()}
        title={`Push ${props.task.branch} to origin (and open its pull request on GitHub or GitLab)`}
        onClick={() => {
          setOpen(false);
          void props.push.push("branch");
        }}
      >
        {pushing() ? "Pushing…" : "Push"}
      </button>
      <button
        class="small split-more"
        data-testid="btn-push-menu"
        disabled={pushing()}
        aria-label="More ways to push"
        aria-haspopup="menu"
        aria-expanded={open()}
        onClick={() => setOpen(!open())}
      >
        ▾
      </button>
      <Show when={open()}>
        <div class="menu push-menu" role="menu" data-testid="push-menu">
          <button
            role="menuitem"
            data-testid="push-branch"
            onClick={() => {
              setOpen(false);
              void props.push.push("branch");
            }}
          >
            Push branch <code>{props.task.branch}</code>
            <div class="muted small">and open its pull request</div>
          </button>
          <button role="menuitem" data-testid="push-squash" onClick={squash}>
            Squash onto <code>{props.task.baseBranch}</code>
            <div class="muted small">one commit on top of origin/{props.task.baseBranch}</div>
          </button>
        </div>
      </Show>
    </div>
  );
}

/** What came of the last push: shown under the task's header until dismissed. */
export function PushOutcome(props: { task: Task; push: Push }) {
  const st = () => props.push.state();
  return (
    <Show when={st().kind !== "idle" && st()}>
      {(s) => (
        <div class="ship-outcome">
          <Show when={s().kind === "pushing" && (s() as Extract<PushState, { kind: "pushing" }>)}>
            {(p) => (
              <div class="ship-panel muted" data-testid="push-result" data-status="pushing">
                {p().target === "default"
                  ? `Squashing onto ${props.task.baseBranch} and pushing…`
                  : `${p().force ? "Pushing anyway" : "Scanning and pushing"} ${props.task.branch}…`}
              </div>
            )}
          </Show>
          <Show when={s().kind === "error" && (s() as Extract<PushState, { kind: "error" }>)}>
            {(e) => (
              <div class="ship-panel push-error" role="alert" data-testid="push-result" data-status="error">
                <span data-testid="push-error">Push failed: {e().message}</span>
                <Dismiss push={props.push} />
              </div>
            )}
          </Show>
          <Show when={s().kind === "done" && (s() as Extract<PushState, { kind: "done" }>)}>
            {(d) => <Done task={props.task} push={props.push} target={d().target} resp={d().resp} />}
          </Show>
        </div>
      )}
    </Show>
  );
}

function Dismiss(props: { push: Push }) {
  return (
    <button class="small ghost" data-testid="push-dismiss" title="Dismiss" aria-label="Dismiss" onClick={() => props.push.dismiss()}>
      ×
    </button>
  );
}

function Done(props: { task: Task; push: Push; target: SyncTarget; resp: SyncResp }) {
  const r = () => props.resp;
  return (
    <>
      <Show when={r().status === "synced"}>
        <div class="ship-panel push-ok" data-testid="push-result" data-status="synced">
          <span>
            {props.target === "default" ? "Squashed and pushed " : "Pushed "}
            <code data-testid="push-commit">{shortSha(r().commit ?? "")}</code> to <code data-testid="push-branch-name">{r().branch}</code>
            <Show when={diffSummary(r().diffStat)}>
              <span class="muted"> · {diffSummary(r().diffStat)}</span>
            </Show>
            <Show when={r().pr}>
              {(pr) => (
                <>
                  {" · "}
                  <PullLink pr={pr()} testid="push-pr" />
                </>
              )}
            </Show>
          </span>
          <Dismiss push={props.push} />
        </div>
      </Show>
      <Show when={r().status === "empty"}>
        <div class="ship-panel" data-testid="push-result" data-status="empty">
          <span>Nothing to push: the work has no changes against {props.task.baseBranch}.</span>
          <Dismiss push={props.push} />
        </div>
      </Show>
      <Show when={r().status === "blocked"}>
        <section class="ship-panel findings" role="alert" data-testid="push-result" data-status="blocked">
          <div class="ship-title">
            <span>
              Push blocked: the pre-push scan found {r().safetyIssues.length} problem
              {r().safetyIssues.length === 1 ? "" : "s"}
            </span>
            <Dismiss push={props.push} />
          </div>
          <ul class="finding-list" data-testid="findings">
            <For each={r().safetyIssues}>
              {(f) => (
                <li class="finding" data-testid="finding" data-kind={f.kind}>
                  <code class="loc" data-testid="finding-loc">
                    {f.file}
                    {f.line != null ? `:${f.line}` : ""}
                  </code>
                  <span class="kind" data-testid="finding-kind">
                    {findingKind(f.kind)}
                  </span>
                  <span class="detail" data-testid="finding-detail">
                    {f.detail}
                  </span>
                </li>
              )}
            </For>
          </ul>
          <p class="muted small" data-testid="findings-note">
            The agent was told about {r().safetyIssues.length === 1 ? "this finding" : "these findings"} and asked to
            remove {r().safetyIssues.length === 1 ? "it" : "them"} from the branch.
          </p>
          <Show
            when={props.target === "branch"}
            fallback={
              <p class="muted small">
                Squashing onto {props.task.baseBranch} cannot override the scan: fix the findings first (only the
                task branch can be pushed anyway).
              </p>
            }
          >
            <div class="actions">
              <button
                class="small danger"
                data-testid="push-anyway"
                title={`Push ${props.task.branch} despite the findings`}
                onClick={() => {
                  if (!confirm(`Push ${props.task.branch} with these findings?`)) return;
                  void props.push.push("branch", true);
                }}
              >
                Push anyway
              </button>
            </div>
          </Show>
        </section>
      </Show>
    </>
  );
}
