import type { ImageData } from "../api/types";

const allowed = ["image/png", "image/jpeg", "image/gif", "image/webp"];

/** Reads image files as base64 `ImageData`, skipping other files. */
export async function readImages(files: FileList | File[]): Promise<ImageData[]> {
  const out: ImageData[] = [];
  for (const f of Array.from(files)) {
    if (!allowed.includes(f.type)) continue;
    const buf = new Uint8Array(await f.arrayBuffer());
    let bin = "";
    for (let i = 0; i < buf.length; i += 0x8000) bin += String.fromCharCode(...buf.subarray(i, i + 0x8000));
    out.push({ mediaType: f.type, data: btoa(bin) });
  }
  return out;
}
