import { createEffect, createMemo, createResource, createSignal, For, on, Show } from "solid-js";
import { api, RequestError } from "../api/client";
import { navigate } from "../lib/router";
import { loaded, tasks } from "../lib/store";
import { harnessList } from "../lib/harnesses";
import { AttachButton, createAttachments, Thumbs } from "./Images";
import { orList } from "../lib/ship";

const remembered = (repo: string): { harness?: string; model?: string } => {
  try {
    return JSON.parse(localStorage.getItem(`caic.repo.${repo}`) ?? "{}");
  } catch {
    return {};
  }
};

/** What happened to one repo's task when the form was sent. */
type Outcome = { error: string } | { id: string };

/**
 * The form that starts a task, in one or more repos at once: one task per picked repo,
 * with the same prompt, harness and model. Errors show under the repo they belong to.
 */
export function NewTask() {
  const [repos] = createResource(api.repos);
  const [harnesses] = createResource(harnessList);
  const [picked, setPicked] = createSignal<string[]>([]);
  const [filter, setFilter] = createSignal("");
  const [branch, setBranch] = createSignal("");
  const [harness, setHarness] = createSignal("");
  const [model, setModel] = createSignal("");
  const [prompt, setPrompt] = createSignal("");
  const [outcomes, setOutcomes] = createSignal<Record<string, Outcome>>({});
  const [busy, setBusy] = createSignal(false);
  const [injectToken, setInjectToken] = createSignal(false);
  const supportsImages = () => harnesses()?.find((h) => h.name === harness())?.supportsImages ?? false;
  const att = createAttachments(supportsImages);

  // Repos by most recent use first, then by name.
  const sortedRepos = createMemo(() => {
    const last = new Map<string, number>();
    for (const t of tasks()) last.set(t.repo, Math.max(last.get(t.repo) ?? 0, t.createdAt));
    return (repos() ?? [])
      .slice()
      .sort((a, b) => (last.get(b.path) ?? 0) - (last.get(a.path) ?? 0) || a.path.localeCompare(b.path));
  });
  const shownRepos = () => {
    const f = filter().trim().toLowerCase();
    const o = outcomes();
    return sortedRepos().filter((r) => !f || r.path.toLowerCase().includes(f) || r.path in o);
  };
  // Start with the most recently used repo picked, once both lists are in.
  let autoPicked = false;
  createEffect(() => {
    const list = sortedRepos();
    if (autoPicked || !list.length || !loaded()) return;
    autoPicked = true;
    if (picked().length === 0) setPicked([list[0].path]);
  });
  const first = () => sortedRepos().find((r) => picked().includes(r.path))?.path ?? "";
  // Branches of every picked repo; the datalist offers their union.
  const [branches] = createResource(
    () => picked().slice().sort().join("\n"),
    async (key) => {
      const out = new Map<string, string[]>();
      await Promise.all(
        key
          .split("\n")
          .filter(Boolean)
          .map(async (r) => {
            try {
              out.set(r, (await api.branches(r)).branches);
            } catch {
              /* the server says so at submit */
            }
          }),
      );
      return out;
    },
  );
  const branchOptions = () => [...new Set([...(branches()?.values() ?? [])].flat())];
  // Harness and model are remembered per repo: follow the first picked one.
  createEffect(
    on([first, harnesses], ([r]) => {
      if (!r) return;
      const mem = remembered(r);
      const hs = harnesses() ?? [];
      if (mem.harness && hs.some((h) => h.name === mem.harness)) {
        setHarness(mem.harness);
        setModel(mem.model ?? "");
      }
    }),
  );
  createEffect(() => {
    const hs = harnesses() ?? [];
    if (hs.length && !hs.some((h) => h.name === harness())) setHarness(hs[0].name);
  });
  const models = () => harnesses()?.find((h) => h.name === harness())?.models ?? [];
  /** The picked harness when it has no credentials configured. */
  const uncredentialed = () => {
    const h = harnesses()?.find((x) => x.name === harness());
    return h && !h.credentialsConfigured && h.credentialEnv.length > 0 ? h : undefined;
  };

  const toggle = (path: string, on: boolean) => {
    setPicked(on ? [...picked().filter((p) => p !== path), path] : picked().filter((p) => p !== path));
    const o = { ...outcomes() };
    delete o[path];
    setOutcomes(o);
  };

  const submit = async () => {
    if (busy()) return;
    const chosen = sortedRepos()
      .map((r) => r.path)
      .filter((p) => picked().includes(p));
    if (chosen.length === 0) {
      setOutcomes({});
      return;
    }
    // A base branch that a picked repo does not have fails there, not here: say so first.
    const b = branch().trim();
    const missing: Record<string, Outcome> = {};
    if (b) {
      // The branch lists may still be loading for a repo picked a moment ago: ask now.
      const known = branches.loading ? undefined : branches();
      for (const r of chosen) {
        let list = known?.get(r);
        if (!list) {
          try {
            list = (await api.branches(r)).branches;
          } catch {
            /* the server says so when the task starts */
          }
        }
        if (list && !list.includes(b)) missing[r] = { error: `no branch ${b} in ${r}` };
      }
    }
    if (Object.keys(missing).length) {
      setOutcomes(missing);
      return;
    }
    setOutcomes({});
    setBusy(true);
    try {
      if ("Notification" in window && Notification.permission === "default") {
        void Notification.requestPermission().catch(() => {});
      }
      const req = {
        baseBranch: b || undefined,
        harness: harness(),
        model: model() || undefined,
        prompt: prompt(),
        images: att.images(),
        injectToken: injectToken() || undefined,
      };
      const results = await Promise.all(
        chosen.map(async (repo): Promise<[string, Outcome]> => {
          try {
            const r = await api.create({ ...req, repo });
            localStorage.setItem(`caic.repo.${repo}`, JSON.stringify({ harness: harness(), model: model() }));
            return [repo, { id: r.id }];
          } catch (e) {
            return [repo, { error: e instanceof RequestError ? e.message : String(e) }];
          }
        }),
      );
      const started = results.filter(([, o]) => "id" in o);
      const failed = results.filter(([, o]) => "error" in o);
      if (failed.length === 0) {
        setPrompt("");
        att.clear();
        navigate(`/tasks/${(started[0][1] as { id: string }).id}`);
        return;
      }
      // Keep the prompt and the failed repos picked, so a fix and Enter retries them.
      setOutcomes(Object.fromEntries(results));
      setPicked(failed.map(([r]) => r));
    } finally {
      setBusy(false);
    }
  };

  const pickedCount = () => picked().length;

  return (
    <form
      class="new-task"
      classList={{ dragging: att.dragging() }}
      data-testid="new-task-form"
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
      {...att.dropZone}
    >
      <h2>New task</h2>
      <div class="fields">
        <fieldset class="repos">
          <legend>
            Repos <span class="muted">({pickedCount()} picked)</span>
          </legend>
          <input
            type="search"
            data-testid="repo-filter"
            placeholder="filter repos"
            value={filter()}
            onInput={(e) => setFilter(e.currentTarget.value)}
          />
          <ul class="repo-list" data-testid="repo-list">
            <For each={shownRepos()} fallback={<li class="muted">No repo matches.</li>}>
              {(r) => {
                const outcome = () => outcomes()[r.path];
                return (
                  <li data-testid="repo-item" data-repo={r.path}>
                    <label>
                      <input
                        type="checkbox"
                        data-testid="repo-check"
                        checked={picked().includes(r.path)}
                        onChange={(e) => toggle(r.path, e.currentTarget.checked)}
                      />
                      <span class="repo-path">{r.path}</span>
                    </label>
                    <Show when={outcome()}>
                      {(o) => (
                        <Show
                          when={"error" in o() && (o() as { error: string }).error}
                          fallback={
                            <a
                              class="repo-started"
                              data-testid="repo-started"
                              href={`/tasks/${(o() as { id: string }).id}`}
                              onClick={(e) => {
                                e.preventDefault();
                                navigate(`/tasks/${(o() as { id: string }).id}`);
                              }}
                            >
                              started
                            </a>
                          }
                        >
                          {(msg) => (
                            <div class="repo-error" role="alert" data-testid="repo-error">
                              {msg()}
                            </div>
                          )}
                        </Show>
                      )}
                    </Show>
                  </li>
                );
              }}
            </For>
          </ul>
        </fieldset>
        <div class="field-col">
          <label>
            Base branch
            <input
              data-testid="branch"
              list="branches"
              placeholder={
                pickedCount() === 1 ? (branches()?.get(first())?.[0] ?? "default branch") : "each repo's default branch"
              }
              value={branch()}
              onInput={(e) => setBranch(e.currentTarget.value)}
            />
            <datalist id="branches">
              <For each={branchOptions()}>{(b) => <option value={b} />}</For>
            </datalist>
          </label>
          <label>
            Harness
            <select
              data-testid="harness"
              value={harness()}
              onChange={(e) => {
                setHarness(e.currentTarget.value);
                setModel("");
              }}
            >
              <For each={harnesses() ?? []}>
                {(h) => (
                  <option value={h.name}>
                    {h.name}
                    {!h.credentialsConfigured && h.credentialEnv.length ? " (no credentials)" : ""}
                  </option>
                )}
              </For>
            </select>
            <Show when={uncredentialed()}>
              {(h) => (
                <span class="field-hint" data-testid="harness-hint">
                  No credentials for {h().name}: set {orList(h().credentialEnv)} in caic's environment or in
                  [harness.{h().name}.env] of its config.
                </span>
              )}
            </Show>
          </label>
          <label>
            Model
            <select data-testid="model" value={model()} onChange={(e) => setModel(e.currentTarget.value)}>
              <option value="">default{models()[0] ? ` (${models()[0]})` : ""}</option>
              <For each={models()}>{(m) => <option value={m}>{m}</option>}</For>
            </select>
          </label>
          <label class="check-field">
            <input
              type="checkbox"
              data-testid="inject-token"
              checked={injectToken()}
              onChange={(e) => setInjectToken(e.currentTarget.checked)}
            />
            <span>
              Give the agent a forge token
              <span class="muted small">
                {" "}
                (GitHub or GitLab, for gh/glab and API calls; in its environment only, for this task)
              </span>
            </span>
          </label>
        </div>
      </div>
      <textarea
        data-testid="prompt"
        rows={5}
        placeholder="What should the agent do? Enter sends, Shift+Enter for a new line."
        value={prompt()}
        onInput={(e) => setPrompt(e.currentTarget.value)}
        onPaste={att.onPaste}
        onKeyDown={(e) => {
          if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
            e.preventDefault();
            void submit();
          }
        }}
      />
      <Thumbs a={att} />
      <Show when={pickedCount() === 0}>
        <div class="muted small" data-testid="pick-hint">
          Pick at least one repo.
        </div>
      </Show>
      <div class="actions">
        <Show when={supportsImages()}>
          <AttachButton a={att} testid="attach" />
        </Show>
        <button class="primary" type="submit" data-testid="submit" disabled={busy() || pickedCount() === 0}>
          {pickedCount() > 1 ? `Start ${pickedCount()} tasks` : "Start"}
        </button>
      </div>
    </form>
  );
}
