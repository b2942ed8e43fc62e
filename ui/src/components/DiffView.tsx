import { createResource, For, Show } from "solid-js";
import { api } from "../api/client";
import { parseDiff } from "../lib/diff";
import { navigate } from "../lib/router";

/** The diff of a task's work, one collapsible section per file. */
export function DiffView(props: { id: string }) {
  const [diff] = createResource(() => props.id, api.diff);
  const files = () => parseDiff(diff()?.diff ?? "");
  return (
    <div class="diff-view" data-testid="diff-view">
      <header class="task-head">
        <button class="back small" onClick={() => navigate(`/tasks/${props.id}`)}>
          ←
        </button>
        <h2>Diff</h2>
      </header>
      <div class="scroll">
        <Show when={diff.error}>
          <div class="form-error">{String(diff.error?.message ?? diff.error)}</div>
        </Show>
        <Show when={diff() && files().length === 0}>
          <p class="muted pad">No changes.</p>
        </Show>
        <For each={files()}>
          {(f) => (
            <details class="file" open data-testid="diff-file">
              <summary>
                <span class="path">{f.path}</span>
                <Show when={f.binary} fallback={<span class="stat"><span class="add">+{f.added}</span> <span class="del">-{f.deleted}</span></span>}>
                  <span class="badge">binary</span>
                </Show>
              </summary>
              <pre class="hunks">
                <For each={f.lines}>{(l) => <div class={`dl ${l.kind}`}>{l.text}</div>}</For>
              </pre>
            </details>
          )}
        </For>
      </div>
    </div>
  );
}
