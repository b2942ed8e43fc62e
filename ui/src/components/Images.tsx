// Image attachments for a prompt: paste, drag and drop, or the file picker; shown as
// thumbnails that a click removes. Shared by the new-task form and the follow-up input.
import { createSignal, For, Show, type JSX } from "solid-js";
import type { ImageData } from "../api/types";
import { readImages } from "../lib/images";

/** The images attached to a prompt being written, with the handlers that add them. */
export type Attachments = ReturnType<typeof createAttachments>;

const hasFiles = (dt: DataTransfer | null) => !!dt && Array.from(dt.types).includes("Files");

/** Attachment state; `enabled` says whether the harness takes images at all. */
export function createAttachments(enabled: () => boolean) {
  const [images, setImages] = createSignal<ImageData[]>([]);
  const [dragging, setDragging] = createSignal(false);
  const add = async (files: FileList | File[] | null | undefined) => {
    if (!files || !enabled()) return;
    const imgs = await readImages(files);
    if (imgs.length) setImages([...images(), ...imgs]);
  };
  return {
    images,
    dragging,
    add,
    clear: () => setImages([]),
    remove: (i: number) => setImages(images().filter((_, j) => j !== i)),
    /** Spread on the drop zone (the form). */
    dropZone: {
      onDragOver: (e: DragEvent) => {
        if (!enabled() || !hasFiles(e.dataTransfer)) return;
        e.preventDefault();
        setDragging(true);
      },
      onDragLeave: (e: DragEvent) => {
        if (e.currentTarget === e.target) setDragging(false);
      },
      onDrop: (e: DragEvent) => {
        setDragging(false);
        if (!enabled() || !e.dataTransfer?.files.length) return;
        e.preventDefault();
        void add(e.dataTransfer.files);
      },
    } satisfies JSX.HTMLAttributes<HTMLElement>,
    /** For the text box: pasted images are attached, pasted text is left alone. */
    onPaste: (e: ClipboardEvent) => {
      const files = e.clipboardData?.files;
      if (enabled() && files && files.length) {
        e.preventDefault();
        void add(files);
      }
    },
  };
}

/** Thumbnails of the attached images; a click removes one. */
export function Thumbs(props: { a: Attachments }) {
  return (
    <Show when={props.a.images().length > 0}>
      <div class="thumbs" data-testid="thumbs">
        <For each={props.a.images()}>
          {(img, i) => (
            <button type="button" class="thumb" title="remove" data-testid="thumb" onClick={() => props.a.remove(i())}>
              <img src={`data:${img.mediaType};base64,${img.data}`} alt="attachment" />
            </button>
          )}
        </For>
      </div>
    </Show>
  );
}

/** The file picker, as a link-like label. */
export function AttachButton(props: { a: Attachments; testid: string; label?: string }) {
  return (
    <label class="attach" title="Attach images (or paste, or drop them here)">
      {props.label ?? "Attach images"}
      <input
        type="file"
        accept="image/png,image/jpeg,image/gif,image/webp"
        multiple
        data-testid={props.testid}
        onChange={(e) => {
          const input = e.currentTarget;
          void props.a.add(input.files).then(() => (input.value = ""));
        }}
      />
    </label>
  );
}
