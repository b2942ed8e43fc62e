import { createEffect, createResource, createSignal, For, on, Show } from "solid-js";
import { api, RequestError } from "../api/client";
import type { ImageData } from "../api/types";
import { navigate } from "../lib/router";
import { tasks } from "../lib/store";
import { readImages } from "../lib/images";

const remembered = (repo: string): { harness?: string; model?: string } => {
  try {
    return JSON.parse(localStorage.getItem(`caic.repo.${repo}`) ?? "{}");
  } catch {
    return {};
  }
};

/** The form that starts a task. */
export function NewTask() {
  const [repos] = createResource(api.repos);
  const [harnesses] = createResource(api.harnesses);
  const [repo, setRepo] = createSignal("");
  const [filter, setFilter] = createSignal("");
  const [branch, setBranch] = createSignal("");
  const [harness, setHarness] = createSignal("");
  const [model, setModel] = createSignal("");
  const [prompt, setPrompt] = createSignal("");
  const [images, setImages] = createSignal<ImageData[]>([]);
  const [error, setError] = createSignal("");
  const [busy, setBusy] = createSignal(false);
  const [branches] = createResource(repo, async (r) => (r ? (await api.branches(r)).branches : []));

  // Repos by most recent use first, then by name.
  const sortedRepos = () => {
    const last = new Map<string, number>();
    for (const t of tasks()) last.set(t.repo, Math.max(last.get(t.repo) ?? 0, t.createdAt));
    const f = filter().toLowerCase();
    return (repos() ?? [])
      .filter((r) => r.path.toLowerCase().includes(f))
      .sort((a, b) => (last.get(b.path) ?? 0) - (last.get(a.path) ?? 0) || a.path.localeCompare(b.path));
  };
  createEffect(() => {
    const list = sortedRepos();
    if (list.length && !list.some((r) => r.path === repo())) setRepo(list[0].path);
  });
  createEffect(
    on(repo, (r) => {
      setBranch("");
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
  const supportsImages = () => harnesses()?.find((h) => h.name === harness())?.supportsImages ?? false;

  const submit = async () => {
    if (busy()) return;
    setError("");
    setBusy(true);
    try {
      if ("Notification" in window && Notification.permission === "default") {
        void Notification.requestPermission().catch(() => {});
      }
      const r = await api.create({
        repo: repo(),
        baseBranch: branch() || undefined,
        harness: harness(),
        model: model() || undefined,
        prompt: prompt(),
        images: images(),
      });
      localStorage.setItem(`caic.repo.${repo()}`, JSON.stringify({ harness: harness(), model: model() }));
      setPrompt("");
      setImages([]);
      navigate(`/tasks/${r.id}`);
    } catch (e) {
      setError(e instanceof RequestError ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  const addFiles = async (files: FileList | File[] | null | undefined) => {
    if (!files) return;
    const imgs = await readImages(files);
    if (imgs.length) setImages([...images(), ...imgs]);
  };

  return (
    <form
      class="new-task"
      data-testid="new-task-form"
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
      onDragOver={(e) => e.preventDefault()}
      onDrop={(e) => {
        e.preventDefault();
        void addFiles(e.dataTransfer?.files);
      }}
    >
      <h2>New task</h2>
      <div class="fields">
        <label>
          Repo
          <input
            type="search"
            placeholder="filter repos"
            value={filter()}
            onInput={(e) => setFilter(e.currentTarget.value)}
          />
          <select data-testid="repo" value={repo()} onChange={(e) => setRepo(e.currentTarget.value)}>
            <For each={sortedRepos()}>{(r) => <option value={r.path}>{r.path}</option>}</For>
          </select>
        </label>
        <label>
          Base branch
          <input
            data-testid="branch"
            list="branches"
            placeholder={branches()?.[0] ?? "default branch"}
            value={branch()}
            onInput={(e) => setBranch(e.currentTarget.value)}
          />
          <datalist id="branches">
            <For each={branches() ?? []}>{(b) => <option value={b} />}</For>
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
            <For each={harnesses() ?? []}>{(h) => <option value={h.name}>{h.name}</option>}</For>
          </select>
        </label>
        <label>
          Model
          <select data-testid="model" value={model()} onChange={(e) => setModel(e.currentTarget.value)}>
            <option value="">default{models()[0] ? ` (${models()[0]})` : ""}</option>
            <For each={models()}>{(m) => <option value={m}>{m}</option>}</For>
          </select>
        </label>
      </div>
      <textarea
        data-testid="prompt"
        rows={5}
        placeholder="What should the agent do? Enter sends, Shift+Enter for a new line."
        value={prompt()}
        onInput={(e) => setPrompt(e.currentTarget.value)}
        onPaste={(e) => {
          const files = e.clipboardData?.files;
          if (files && files.length) {
            e.preventDefault();
            void addFiles(files);
          }
        }}
        onKeyDown={(e) => {
          if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
            e.preventDefault();
            void submit();
          }
        }}
      />
      <Show when={images().length > 0}>
        <div class="thumbs">
          <For each={images()}>
            {(img, i) => (
              <button type="button" class="thumb" title="remove" onClick={() => setImages(images().filter((_, j) => j !== i()))}>
                <img src={`data:${img.mediaType};base64,${img.data}`} alt="attachment" />
              </button>
            )}
          </For>
        </div>
      </Show>
      <Show when={error()}>
        <div class="form-error" role="alert" data-testid="form-error">
          {error()}
        </div>
      </Show>
      <div class="actions">
        <Show when={supportsImages()}>
          <label class="attach">
            Attach images
            <input type="file" accept="image/*" multiple onChange={(e) => void addFiles(e.currentTarget.files)} />
          </label>
        </Show>
        <button class="primary" type="submit" data-testid="submit" disabled={busy()}>
          Start
        </button>
      </div>
    </form>
  );
}
