// Words for shipping work: pull request links, CI verdicts, pre-push scan findings.
import type { CiInfo, PullInfo } from "../api/types";

/** The first 7 characters of a commit id, as forges show it. */
export function shortSha(sha: string): string {
  return sha.slice(0, 7);
}

/** `PR #12` on GitHub, `MR !12` on GitLab. */
export function pullLabel(pr: Pick<PullInfo, "forge" | "number">): string {
  return pr.forge === "gitlab" ? `MR !${pr.number}` : `PR #${pr.number}`;
}

/** `pull request #12` on GitHub, `merge request !12` on GitLab. */
export function pullName(pr: Pick<PullInfo, "forge" | "number">): string {
  return pr.forge === "gitlab" ? `merge request !${pr.number}` : `pull request #${pr.number}`;
}

/** The CI pill's text: `CI pending 1/3` (or `CI pending` before any check showed up), `CI passed`, `CI failed`. */
export function ciLabel(ci: Pick<CiInfo, "state" | "done" | "total">): string {
  if (ci.state === "pending") return ci.total > 0 ? `CI pending ${ci.done}/${ci.total}` : "CI pending";
  return `CI ${ci.state}`;
}

/** A check's state as one character. */
export function checkMark(state: string): string {
  switch (state) {
    case "passed":
      return "✓";
    case "failed":
      return "✗";
    case "skipped":
      return "–";
    default:
      return "●";
  }
}

/** One line for a CI report in the conversation: `CI failed on abc1234: test, lint`. */
export function ciLine(ci: Pick<CiInfo, "sha" | "state" | "done" | "total" | "checks">): string {
  const base = `${ciLabel(ci)} on ${shortSha(ci.sha)}`;
  if (ci.state !== "failed") return base;
  const failed = ci.checks.filter((c) => c.state === "failed").map((c) => c.name);
  return failed.length ? `${base}: ${failed.join(", ")}` : base;
}

const kinds: Record<string, string> = {
  aws_access_key: "AWS access key",
  github_token: "GitHub token",
  generic_api_key: "API key",
  private_key: "private key",
  config_credential: "credential in config",
  large_binary: "large binary",
};

/** A scan finding's kind in words. */
export function findingKind(kind: string): string {
  return kinds[kind] ?? kind.replace(/_/g, " ");
}

/** `a`, `a or b`, `a, b or c`. */
export function orList(words: string[]): string {
  if (words.length <= 1) return words.join("");
  return `${words.slice(0, -1).join(", ")} or ${words[words.length - 1]}`;
}
