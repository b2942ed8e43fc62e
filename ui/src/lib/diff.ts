// Splits a unified diff (as `git diff` prints it) into per-file sections.

/** One file of a diff. */
export type FileDiff = {
  path: string;
  binary: boolean;
  added: number;
  deleted: number;
  lines: { kind: "add" | "del" | "hunk" | "ctx" | "meta"; text: string }[];
};

/** Parses `git diff` output. */
export function parseDiff(text: string): FileDiff[] {
  const files: FileDiff[] = [];
  let cur: FileDiff | undefined;
  for (const line of text.split("\n")) {
    if (line.startsWith("diff --git ")) {
      const m = /^diff --git a\/(.*) b\/(.*)$/.exec(line);
      cur = { path: m ? m[2] : line.slice(11), binary: false, added: 0, deleted: 0, lines: [] };
      files.push(cur);
      continue;
    }
    if (!cur) continue;
    if (line.startsWith("Binary files ")) {
      cur.binary = true;
      cur.lines.push({ kind: "meta", text: line });
    } else if (line.startsWith("+++ ") || line.startsWith("--- ")) {
      continue;
    } else if (line.startsWith("@@")) {
      cur.lines.push({ kind: "hunk", text: line });
    } else if (line.startsWith("+")) {
      cur.added++;
      cur.lines.push({ kind: "add", text: line });
    } else if (line.startsWith("-")) {
      cur.deleted++;
      cur.lines.push({ kind: "del", text: line });
    } else if (line.startsWith(" ")) {
      cur.lines.push({ kind: "ctx", text: line });
    } else if (line.startsWith("\\")) {
      cur.lines.push({ kind: "meta", text: line });
    }
  }
  return files;
}
