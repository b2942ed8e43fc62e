// Shipping work from the browser: push the task branch (its pull request opens on a mock
// GitHub, CI is followed: pending, failed, the failing logs go to the agent, "Fix CI",
// passed), squash onto the default branch, nothing to push, a planted secret blocks the
// push and "Push anyway" overrides it, a push the remote refuses, and the new-task
// form's forge-token box and harness credential hint. Real `caic serve`, fake harness,
// real containers, real bare git remotes, Debian's Chromium.
import { afterAll, beforeAll, expect, test } from "vitest";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { execFileSync } from "node:child_process";
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Caic, getTask, World } from "./world";
import { contains, count, hasText, visible } from "./expect";
import { launch, pageErrors, shot } from "./browser";
import { MockGitHubApi, type CheckRun } from "./github";

const TURN = 90_000;
const TOKEN = "ghp_e2eMockTokenForCaicUiTests0000000001";
const SECRET = "AKIAQWERTYUIOPASDFGH";
/**
 * The failing step's output holds a command the fake agent runs when the log is handed
 * to it: the first time it only notes that it tried, the second time it writes the fix.
 */
const FIX = "FAKE_BASH if [ -e /tmp/caic-ci-tried ]; then echo fixed > fix.txt; else touch /tmp/caic-ci-tried; fi";
const JOB_LOG = [
  "2024-01-15T10:00:00.0000000Z ##[group]Run actions/checkout@v4",
  "2024-01-15T10:00:00.1000000Z with: repository: acme/demo",
  "2024-01-15T10:00:00.2000000Z ##[endgroup]",
  "2024-01-15T10:00:00.3000000Z Syncing repository: acme/demo",
  "2024-01-15T10:00:01.0000000Z ##[group]Run ./ci.sh",
  "2024-01-15T10:00:01.1000000Z ./ci.sh",
  "2024-01-15T10:00:01.2000000Z ##[endgroup]",
  "2024-01-15T10:00:02.0000000Z fix.txt is missing. To fix it, run:",
  `2024-01-15T10:00:02.1000000Z ${FIX}`,
  "2024-01-15T10:00:02.2000000Z ##[error]Process completed with exit code 1.",
  "",
].join("\n");

const run = (id: number, name: string, state: "pending" | "passed" | "failed"): CheckRun => ({
  id,
  name,
  status: state === "pending" ? "in_progress" : "completed",
  conclusion: state === "pending" ? null : state === "passed" ? "success" : "failure",
});

let gh: MockGitHubApi;
let world: World;
let caic: Caic;
let browser: Browser;
/** The task in the "GitHub" repo (pull request and CI), and the one in the plain repo. */
let prTask = "";
let plainTask = "";

const git = (dir: string, ...args: string[]) => execFileSync("git", ["-C", dir, ...args], { stdio: "pipe" }).toString().trim();
/** The commit of `branch` in a bare repo, or "" when it has no such branch. */
const head = (bare: string, branch: string) => {
  try {
    return git(bare, "rev-parse", "--verify", "-q", `refs/heads/${branch}`);
  } catch {
    return "";
  }
};

beforeAll(async () => {
  gh = new MockGitHubApi(TOKEN);
  await gh.listen();
  world = new World(`
[forge]
github_api = "${gh.url}"
ci_poll_secs = 1
`);
  world.onGitHub(world.repo);
  caic = await Caic.start(world, undefined, {
    GITHUB_TOKEN: TOKEN,
    GH_TOKEN: undefined,
    // No agent credentials: the real harnesses show the hint.
    ANTHROPIC_API_KEY: undefined,
    CLAUDE_CODE_OAUTH_TOKEN: undefined,
  });
  browser = await launch();
});

afterAll(async () => {
  await browser?.close();
  await caic?.kill();
  gh?.close();
  world?.cleanup();
});

const badge = (page: Page) => page.getByTestId("task-view").getByTestId("state").first();
const row = (page: Page, id: string) => page.locator(`[data-testid=task-row][data-id="${id}"]`);
const repoItem = (page: Page, repo: string) => page.locator(`[data-testid=repo-item][data-repo="${repo}"]`);
const result = (page: Page) => page.getByTestId("push-result");

async function open(ctx: BrowserContext, path = "/"): Promise<Page> {
  const page = await ctx.newPage();
  pageErrors(page); // from the first render on
  page.on("dialog", (d) => void d.accept());
  await page.goto(`${caic.base}${path}`);
  await expect.poll(() => page.getByTestId("conn").getAttribute("data-state")).toBe("up");
  return page;
}

/** Starts a task from the form in `repo` (only), returning its id and the request body. */
async function startFromForm(page: Page, repo: string, prompt: string, injectToken: boolean) {
  await page.getByTestId("new-task").click();
  await count(page.getByTestId("repo-item"), 2);
  // Wait for the form to pick the last used repo by itself, then pick only `repo`.
  await count(page.locator("[data-testid=repo-check]:checked"), 1);
  for (const r of [world.repoId, world.repo2Id]) await repoItem(page, r).getByTestId("repo-check").setChecked(r === repo);
  await page.getByTestId("harness").selectOption("fake");
  expect(await page.getByTestId("inject-token").isChecked()).toBe(false);
  if (injectToken) await page.getByTestId("inject-token").check();
  await page.getByTestId("prompt").fill(prompt);
  const sent = page.waitForRequest((r) => r.url().endsWith("/api/v1/tasks") && r.method() === "POST");
  await page.getByTestId("prompt").press("Enter");
  const body = JSON.parse((await sent).postData() ?? "{}") as { repo: string; injectToken?: boolean };
  await page.waitForURL(/\/tasks\/[^/]+$/);
  return { id: page.url().split("/").pop()!, body };
}

test("new task: the forge token box is off by default and is sent; a harness without credentials says so", async () => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 820 } });
  const page = await open(ctx);
  const errors = pageErrors(page);

  // A harness whose credentials caic does not have: named, with the variables to set.
  await page.getByTestId("harness").selectOption("claude");
  await contains(page.getByTestId("harness-hint"), "No credentials for claude: set ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN");
  expect(await page.getByTestId("harness").locator("option[value=claude]").textContent()).toBe("claude (no credentials)");
  await shot(page, "desktop-new-task-harness-hint");
  // The fake harness needs none.
  await page.getByTestId("harness").selectOption("fake");
  await count(page.getByTestId("harness-hint"), 0);

  // With the box ticked, the agent gets the forge token in its environment.
  const a = await startFromForm(
    page,
    world.repoId,
    'FAKE_BASH test -n "$GH_TOKEN" && echo token-given || echo token-absent\nFAKE_WRITE src/hello.txt hello from the agent',
    true,
  );
  expect(a.body).toMatchObject({ repo: world.repoId, injectToken: true });
  prTask = a.id;
  await contains(page.locator(".assistant").last(), "Done: ran test -n", { timeout: TURN });
  await page.getByTestId("tool").first().locator("summary").click();
  await hasText(page.getByTestId("tool-output").first(), "token-given");

  // Without it (the default), nothing is asked for.
  const b = await startFromForm(page, world.repo2Id, "hello there", false);
  expect(b.body.repo).toBe(world.repo2Id);
  expect("injectToken" in b.body).toBe(false);
  plainTask = b.id;
  await contains(page.locator(".assistant").last(), "You said: hello there", { timeout: TURN });
  expect(errors).toEqual([]);
  await ctx.close();
});

test("push the branch: pull request link, CI pending, failed (logs to the agent), Fix CI, passed", async () => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 820 } });
  const page = await open(ctx, `/tasks/${prTask}`);
  const errors = pageErrors(page);
  await contains(badge(page), "waiting", { timeout: TURN });
  const task = await getTask(caic, prTask);
  const branch = task.branch;
  const bare = world.originOf(world.repo);
  const prUrl = `https://github.com/acme/${world.repoId}/pull/1`;
  gh.defaultChecks = [run(41, "lint", "passed"), run(42, "test", "pending")];

  await page.getByTestId("btn-push").click();
  await hasText(result(page).first(), /^Pushed/, { timeout: 60_000 });
  expect(await result(page).getAttribute("data-status")).toBe("synced");
  const sha1 = head(bare, branch);
  expect(sha1).toMatch(/^[0-9a-f]{40}$/);
  // CI of the first commit stays where the test puts it; any later commit passes.
  gh.checks.set(sha1, gh.defaultChecks);
  gh.defaultChecks = [run(51, "lint", "passed"), run(52, "test", "passed")];
  await hasText(page.getByTestId("push-commit"), sha1.slice(0, 7));
  await hasText(page.getByTestId("push-branch-name"), branch);
  await hasText(page.getByTestId("push-pr"), "PR #1");
  expect(await page.getByTestId("push-pr").getAttribute("href")).toBe(prUrl);
  expect(git(bare, "show", `${branch}:src/hello.txt`)).toBe("hello from the agent");
  // The pull request: the task's title, its branch onto the base branch, opened once.
  expect(gh.pulls).toHaveLength(1);
  expect(gh.pulls[0]).toMatchObject({ title: task.title, head: { ref: branch }, base: { ref: "main" } });

  // The link on the task and in the sidebar; the CI pill follows the checks.
  await hasText(page.getByTestId("head-pr"), "PR #1");
  expect(await page.getByTestId("head-pr").getAttribute("href")).toBe(prUrl);
  expect(await page.getByTestId("head-pr").getAttribute("target")).toBe("_blank");
  await hasText(row(page, prTask).getByTestId("row-pr"), "PR #1");
  expect(await row(page, prTask).getByTestId("row-pr").getAttribute("href")).toBe(prUrl);
  await hasText(page.getByTestId("ci-pill"), /^CI pending 1\/2/, { timeout: 30_000 });
  await hasText(row(page, prTask).getByTestId("row-ci"), "CI pending 1/2");
  await shot(page, "desktop-push-synced");
  await page.getByTestId("ci-pill").click();
  const checks = page.getByTestId("ci-checks").getByTestId("ci-check");
  await count(checks, 2);
  expect(await checks.evaluateAll((els) => els.map((e) => [e.querySelector(".name")!.textContent, e.getAttribute("data-state")]))).toEqual([
    ["lint", "passed"],
    ["test", "pending"],
  ]);
  expect(await checks.nth(1).getByTestId("ci-check-link").getAttribute("href")).toBe(
    `https://github.com/acme/${world.repoId}/actions/runs/7/job/42`,
  );
  await shot(page, "desktop-ci-pending-checks");
  // The conversation says it in one line each, not once per poll.
  await contains(page.getByTestId("pr-line"), `Pull request #1: ${prUrl}`);
  await count(page.getByTestId("ci-line"), 1);
  await contains(page.getByTestId("ci-line"), `CI pending 1/2 on ${sha1.slice(0, 7)}`);

  // CI fails: the pill, the per-check list, and the failing log handed to the agent.
  gh.logs.set(42, JOB_LOG);
  gh.checks.set(sha1, [run(41, "lint", "passed"), run(42, "test", "failed")]);
  await hasText(page.getByTestId("ci-pill"), /^CI failed/, { timeout: 30_000 });
  await hasText(row(page, prTask).getByTestId("row-ci"), "CI failed");
  await expect.poll(() => checks.nth(1).getAttribute("data-state")).toBe("failed");
  await contains(page.getByTestId("ci-line"), `CI failed on ${sha1.slice(0, 7)}: test`);
  const handed = page.getByTestId("user-msg").filter({ hasText: "CI failed on commit" });
  await count(handed, 1, { timeout: TURN });
  await contains(handed.first(), "fix.txt is missing");
  // The pre-signed log was fetched without the token.
  expect(gh.presignedAuth.length).toBeGreaterThan(0);
  expect(gh.presignedAuth.every((a) => a === undefined)).toBe(true);
  // The agent's turn ended without a change: pushed again, same commit, CI stays failed.
  await contains(page.locator(".line.log").last(), "not watching again", { timeout: TURN });
  await contains(badge(page), "waiting", { timeout: TURN });
  await visible(page.getByTestId("btn-fix-ci"));
  await shot(page, "desktop-ci-failed");

  // Fix CI: the failure goes to the agent again; this time it fixes it, caic pushes the
  // fix, and CI passes on the new commit.
  await page.getByTestId("btn-fix-ci").click();
  // Turns that carry a handed failure, shown in full or folded to their summary line
  // (the fix's push and CI can fold the first one away before this looks).
  const handedTurns = page.getByTestId("turn").filter({ hasText: "CI failed on commit" });
  await count(handedTurns, 2, { timeout: TURN });
  await hasText(page.getByTestId("ci-pill"), /^CI passed/, { timeout: TURN });
  await count(page.getByTestId("btn-fix-ci"), 0);
  const sha2 = head(bare, branch);
  expect(sha2).not.toBe(sha1);
  expect(git(bare, "show", `${sha2}:fix.txt`)).toBe("fixed");
  await contains(page.getByTestId("ci-line").last(), `CI passed on ${sha2.slice(0, 7)}`);
  await hasText(row(page, prTask).getByTestId("row-ci"), "CI passed");
  expect(gh.pulls).toHaveLength(1);
  await shot(page, "desktop-ci-passed");
  expect(gh.requests.every((r) => r.path.startsWith("/presigned/") || r.auth === `Bearer ${TOKEN}`)).toBe(true);
  expect(errors).toEqual([]);
  await ctx.close();
});

test("nothing to push, squash onto main, a planted secret blocks the push, push anyway, a refused push", async () => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 820 } });
  const page = await open(ctx, `/tasks/${plainTask}`);
  const errors = pageErrors(page);
  await contains(badge(page), "waiting", { timeout: TURN });
  const { branch } = await getTask(caic, plainTask);
  const bare = world.originOf(world.repo2);
  const mainBefore = head(bare, "main");

  // The agent changed nothing yet.
  await page.getByTestId("btn-push").click();
  await contains(result(page), "Nothing to push: the work has no changes against main.", { timeout: 60_000 });
  expect(await result(page).getAttribute("data-status")).toBe("empty");
  expect(head(bare, branch)).toBe("");
  await page.getByTestId("push-dismiss").click();
  await count(result(page), 0);

  // Squash onto main: one commit on top of origin/main; the host checkout is untouched.
  await page.getByTestId("input").fill("FAKE_WRITE notes/plan.md a clean change");
  await page.getByTestId("input").press("Enter");
  await contains(page.locator(".assistant").last(), "Done: wrote notes/plan.md", { timeout: TURN });
  // Esc closes the menu and stays on the task.
  await page.getByTestId("btn-push-menu").click();
  await visible(page.getByTestId("push-menu"));
  await page.keyboard.press("Escape");
  await count(page.getByTestId("push-menu"), 0);
  await visible(page.getByTestId("task-view"));
  await page.getByTestId("btn-push-menu").click();
  await contains(page.getByTestId("push-squash"), "Squash onto main");
  await page.getByTestId("push-squash").click();
  await hasText(result(page), /^Squashed and pushed/, { timeout: 60_000 });
  await hasText(page.getByTestId("push-branch-name"), "main");
  const main = head(bare, "main");
  expect(main).not.toBe(mainBefore);
  await hasText(page.getByTestId("push-commit"), main.slice(0, 7));
  expect(git(bare, "rev-parse", "main~1")).toBe(mainBefore);
  expect(git(bare, "show", "main:notes/plan.md")).toBe("a clean change");
  expect(git(world.repo2, "rev-parse", "--abbrev-ref", "HEAD")).toBe("main");
  expect(existsSync(join(world.repo2, "notes"))).toBe(false);
  // No forge behind this remote: no pull request.
  await count(page.getByTestId("push-pr"), 0);

  // A planted secret: the push is blocked, the findings listed (masked), the agent told.
  await page.getByTestId("input").fill(`FAKE_WRITE deploy/config.env AWS_ACCESS_KEY_ID=${SECRET}`);
  await page.getByTestId("input").press("Enter");
  await contains(page.locator(".assistant").last(), "Done: wrote deploy/config.env", { timeout: TURN });
  await page.getByTestId("btn-push").click();
  await expect.poll(() => result(page).getAttribute("data-status"), { timeout: 60_000 }).toBe("blocked");
  await contains(result(page), "Push blocked: the pre-push scan found");
  const findings = page.getByTestId("finding");
  const aws = findings.and(page.locator("[data-kind=aws_access_key]"));
  await visible(aws);
  await hasText(aws.first().getByTestId("finding-loc"), "deploy/config.env:1");
  await hasText(aws.first().getByTestId("finding-kind"), "AWS access key");
  const details = await page.getByTestId("finding-detail").allTextContents();
  expect(details.length).toBeGreaterThan(0);
  for (const d of details) expect(d).not.toContain(SECRET);
  await contains(page.getByTestId("findings-note"), "The agent was told about");
  await visible(page.getByTestId("push-anyway"));
  expect(head(bare, branch)).toBe("");
  await contains(page.locator(".assistant").last(), "caic refused to push this work", { timeout: TURN });
  await shot(page, "desktop-push-blocked");

  // Squashing onto main cannot be forced.
  await page.getByTestId("btn-push-menu").click();
  await page.getByTestId("push-squash").click();
  await expect.poll(() => result(page).getAttribute("data-status"), { timeout: 60_000 }).toBe("blocked");
  await contains(result(page), "only the task branch can be pushed anyway");
  await count(page.getByTestId("push-anyway"), 0);
  expect(head(bare, "main")).toBe(main);

  // The branch can.
  await page.getByTestId("btn-push").click();
  await expect.poll(() => result(page).getAttribute("data-status"), { timeout: 60_000 }).toBe("blocked");
  await page.getByTestId("push-anyway").click();
  await hasText(result(page), /^Pushed/, { timeout: 60_000 });
  await hasText(page.getByTestId("push-branch-name"), branch);
  expect(git(bare, "show", `${branch}:deploy/config.env`)).toContain("AWS_ACCESS_KEY_ID=");

  // A push the remote refuses: the server's error, inline.
  const hook = join(bare, "hooks", "pre-receive");
  writeFileSync(hook, "#!/bin/sh\necho 'refused by the test hook' >&2\nexit 1\n", { mode: 0o755 });
  try {
    await page.getByTestId("input").fill("FAKE_WRITE notes/more.md more");
    await page.getByTestId("input").press("Enter");
    await contains(page.locator(".assistant").last(), "Done: wrote notes/more.md", { timeout: TURN });
    // The secret is still on the branch: blocked, then pushed anyway, which the remote refuses.
    await page.getByTestId("btn-push").click();
    await expect.poll(() => result(page).getAttribute("data-status"), { timeout: 60_000 }).toBe("blocked");
    await page.getByTestId("push-anyway").click();
    await expect.poll(() => result(page).getAttribute("data-status"), { timeout: 60_000 }).toBe("error");
    await contains(page.getByTestId("push-error"), "Push failed: ");
    expect(await result(page).getAttribute("role")).toBe("alert");
    console.log(`refused push shows: ${await page.getByTestId("push-error").textContent()}`);
    await shot(page, "desktop-push-error");
  } finally {
    rmSync(hook, { force: true });
  }
  expect(errors).toEqual([]);
  await ctx.close();
});

test("at 360 px, light and dark: the push outcome, the findings and the CI pill fit", async () => {
  for (const scheme of ["light", "dark"] as const) {
    const ctx = await browser.newContext({ viewport: { width: 360, height: 760 }, isMobile: true, hasTouch: true, colorScheme: scheme });
    const page = await open(ctx, `/tasks/${prTask}`);
    const widths: Record<string, number> = {};
    const measure = async (name: string) => {
      widths[name] = await page.evaluate(() => document.documentElement.scrollWidth);
      await shot(page, `phone-${name}-${scheme}`);
    };
    await hasText(page.getByTestId("ci-pill"), /^CI passed/, { timeout: TURN });
    await page.getByTestId("ci-pill").click();
    await count(page.getByTestId("ci-check"), 2);
    await measure("ci-checks");
    await page.getByTestId("btn-push").click();
    await hasText(result(page), /^Pushed/, { timeout: 60_000 });
    await hasText(page.getByTestId("push-pr"), "PR #1");
    await measure("push-synced");

    await page.goto(`${caic.base}/tasks/${plainTask}`);
    await contains(badge(page), "waiting", { timeout: TURN });
    await page.getByTestId("btn-push").click();
    await expect.poll(() => result(page).getAttribute("data-status"), { timeout: 60_000 }).toBe("blocked");
    await measure("push-blocked");
    console.log(`360 px (${scheme}): document scrollWidth ${JSON.stringify(widths)}`);
    for (const [name, w] of Object.entries(widths)) expect(w, name).toBeLessThanOrEqual(360);
    await ctx.close();
  }
});
