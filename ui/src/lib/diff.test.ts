import { expect, it } from "vitest";
import { parseDiff } from "./diff";

it("splits a git diff per file with counts and binary marks", () => {
  const text = [
    "diff --git a/hello.txt b/hello.txt",
    "new file mode 100644",
    "--- /dev/null",
    "+++ b/hello.txt",
    "@@ -0,0 +1,2 @@",
    "+hi",
    "+there",
    "diff --git a/README.md b/README.md",
    "--- a/README.md",
    "+++ b/README.md",
    "@@ -1 +1 @@",
    "-# demo",
    "+# Demo",
    " context",
    "diff --git a/img.png b/img.png",
    "Binary files /dev/null and b/img.png differ",
  ].join("\n");
  const files = parseDiff(text);
  expect(files.map((f) => [f.path, f.added, f.deleted, f.binary])).toEqual([
    ["hello.txt", 2, 0, false],
    ["README.md", 1, 1, false],
    ["img.png", 0, 0, true],
  ]);
  expect(files[1].lines.map((l) => l.kind)).toEqual(["hunk", "del", "add", "ctx"]);
});
