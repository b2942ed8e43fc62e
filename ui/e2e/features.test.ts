// What a person does beyond the main flow (ui.test.ts): tasks in several repos at once,
// images on follow-ups, notifications, the keyboard, todo lists, plans, restart and
// revive, the dark theme and a phone-wide screen. Real `caic serve`, fake harness, real
// containers, Debian's Chromium.
import { afterAll, beforeAll, expect, test } from "vitest";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { Caic, createTask, getTask, World } from "./world";
import { contains, count, hasText, visible } from "./expect";
import { launch, pageErrors, shot } from "./browser";

const TURN = 90_000;
/** A 1x1 PNG. */
const PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

let world: World;
let caic: Caic;
let browser: Browser;
/** The two tasks started together in the first test: [first repo's, second repo's]. */
let pair: string[] = [];

beforeAll(async () => {
  world = new World();
  caic = await Caic.start(world);
  browser = await launch();
});

afterAll(async () => {
  await browser?.close();
  await caic?.kill();
  world?.cleanup();
});

const badge = (page: Page) => page.getByTestId("task-view").getByTestId("state").first();
const row = (page: Page, id: string) => page.locator(`[data-testid=task-row][data-id="${id}"]`);
const repoItem = (page: Page, repo: string) => page.locator(`[data-testid=repo-item][data-repo="${repo}"]`);

async function open(ctx: BrowserContext, path = "/"): Promise<Page> {
  const page = await ctx.newPage();
  pageErrors(page); // from the first render on
  page.on("dialog", (d) => void d.accept());
  await page.goto(`${caic.base}${path}`);
  await expect.poll(() => page.getByTestId("conn").getAttribute("data-state")).toBe("up");
  return page;
}

async function waitState(id: string, state: string | RegExp) {
  await expect
    .poll(async () => (await getTask(caic, id)).state, { timeout: TURN, interval: 200 })
    .toMatch(typeof state === "string" ? new RegExp(`^${state}$`) : state);
}

test("starts one task per picked repo, with errors inline per repo", async () => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 820 } });
  const page = await open(ctx);
  const errors = pageErrors(page);

  // Both repos are offered; the first (by name: nothing used yet) is picked.
  await count(page.getByTestId("repo-item"), 2);
  await expect.poll(() => repoItem(page, world.repoId).getByTestId("repo-check").isChecked()).toBe(true);
  expect(await repoItem(page, world.repo2Id).getByTestId("repo-check").isChecked()).toBe(false);

  // The filter narrows the list; picking there adds to the selection.
  await page.getByTestId("repo-filter").fill("-lib");
  await count(page.getByTestId("repo-item"), 1);
  await repoItem(page, world.repo2Id).getByTestId("repo-check").check();
  await page.getByTestId("repo-filter").fill("");
  await count(page.getByTestId("repo-item"), 2);
  await hasText(page.getByTestId("submit"), "Start 2 tasks");
  await page.getByTestId("harness").selectOption("fake");

  // A base branch only the first repo has: the second says so, and nothing starts.
  await page.getByTestId("branch").fill("feature-x");
  await page.getByTestId("prompt").fill(
    "FAKE_BASH cat README.md\nFAKE_WRITE docs/a-rather-long-file-name-for-a-narrow-screen.md " +
      "A long line that would overflow a phone screen unless the diff view scrolls it sideways in its own box.",
  );
  await page.getByTestId("prompt").press("Enter");
  await contains(repoItem(page, world.repo2Id).getByTestId("repo-error"), `no branch feature-x in ${world.repo2Id}`);
  await count(repoItem(page, world.repoId).getByTestId("repo-error"), 0);
  await shot(page, "desktop-new-task-multi-error");
  await count(page.getByTestId("task-row"), 0);

  // Each repo's default branch: two tasks, same prompt and image, each in its own repo.
  await page.getByTestId("branch").fill("");
  await page.getByTestId("attach").setInputFiles({ name: "shot.png", mimeType: "image/png", buffer: Buffer.from(PNG, "base64") });
  await count(page.getByTestId("thumb"), 1);
  await page.getByTestId("prompt").press("Enter");
  await page.waitForURL(/\/tasks\/[^/]+$/);
  await count(page.getByTestId("task-row"), 2);
  const ids = await page.getByTestId("task-row").evaluateAll((els) => els.map((e) => e.getAttribute("data-id")!));
  const tasks = await Promise.all(ids.map((id) => getTask(caic, id)));
  expect(tasks.map((t) => t.repo).sort()).toEqual([world.repoId, world.repo2Id]);
  expect(tasks.map((t) => t.title)).toEqual(["FAKE_BASH cat README.md", "FAKE_BASH cat README.md"]);
  pair = [world.repoId, world.repo2Id].map((r) => tasks.find((t) => t.repo === r)!.id);
  // The sidebar groups them by repo.
  const groups = await page.locator(".group h3").allTextContents();
  expect(groups.sort()).toEqual([world.repoId, world.repo2Id]);

  // Each agent ran in its own repo's copy.
  for (const [id, readme] of [
    [pair[0], "# demo"],
    [pair[1], "# library"],
  ]) {
    await row(page, id).click();
    await page.waitForURL(new RegExp(`/tasks/${id}$`));
    await contains(page.locator(".assistant").last(), "Done: ran cat README.md (exit 0); wrote docs/", { timeout: TURN });
    await contains(page.getByTestId("user-msg").first(), "1 image");
    await page.getByTestId("tool").first().locator("summary").click();
    await hasText(page.getByTestId("tool-output").first(), readme);
    await contains(badge(page), "waiting");
  }

  // Back on the form, the repos used last come first and the harness was remembered.
  await page.getByTestId("new-task").click();
  await expect.poll(() => page.getByTestId("harness").inputValue()).toBe("fake");
  const order = await page.getByTestId("repo-item").evaluateAll((els) => els.map((e) => e.getAttribute("data-repo")));
  expect(order).toEqual(tasks.sort((a, b) => b.createdAt - a.createdAt || a.repo.localeCompare(b.repo)).map((t) => t.repo));
  // No login configured: no user menu, straight to the app.
  await count(page.getByTestId("user-menu"), 0);
  expect(errors).toEqual([]);
  await ctx.close();
});

test("keyboard: up/down switch tasks, Esc closes diff, then task", async () => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 820 } });
  const page = await open(ctx);
  await count(page.getByTestId("task-row"), 2);
  const ids = await page.getByTestId("task-row").evaluateAll((els) => els.map((e) => e.getAttribute("data-id")!));
  await page.locator("body").click({ position: { x: 5, y: 600 } });
  await page.keyboard.press("ArrowDown");
  await page.waitForURL(new RegExp(`/tasks/${ids[0]}$`));
  await expect.poll(() => row(page, ids[0]).getAttribute("class")).toContain("selected");
  await page.keyboard.press("ArrowDown");
  await page.waitForURL(new RegExp(`/tasks/${ids[1]}$`));
  await page.keyboard.press("ArrowDown");
  await page.waitForURL(new RegExp(`/tasks/${ids[1]}$`));
  await page.keyboard.press("ArrowUp");
  await page.waitForURL(new RegExp(`/tasks/${ids[0]}$`));
  await contains(page.getByTestId("task-title"), "FAKE_BASH cat README.md");

  // Esc: diff -> task -> home.
  await page.getByTestId("btn-diff").click();
  await page.getByTestId("diff-view").waitFor();
  await page.keyboard.press("Escape");
  await page.getByTestId("task-view").waitFor();
  expect(page.url()).toMatch(new RegExp(`/tasks/${ids[0]}$`));
  await page.keyboard.press("Escape");
  await page.getByTestId("new-task-form").waitFor();
  expect(new URL(page.url()).pathname).toBe("/");
  // Typing in a box is not navigating: Esc there only leaves the box.
  await page.getByTestId("prompt").click();
  await page.keyboard.press("ArrowDown");
  await page.keyboard.press("Escape");
  expect(new URL(page.url()).pathname).toBe("/");
  await ctx.close();
});

test("follow-up input takes images by file picker, paste and drop", async () => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 820 } });
  const id = pair[0];
  const page = await open(ctx, `/tasks/${id}`);
  const errors = pageErrors(page);
  await contains(badge(page), "waiting", { timeout: TURN });
  const png = Buffer.from(PNG, "base64");

  await page.getByTestId("input-attach").setInputFiles({ name: "picked.png", mimeType: "image/png", buffer: png });
  await count(page.getByTestId("thumb"), 1);
  // Paste into the text box.
  await page.getByTestId("input").evaluate((el, b64) => {
    const dt = new DataTransfer();
    dt.items.add(new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], "pasted.png", { type: "image/png" }));
    el.dispatchEvent(new ClipboardEvent("paste", { clipboardData: dt, bubbles: true, cancelable: true }));
  }, PNG);
  await count(page.getByTestId("thumb"), 2);
  // Drop on the input area.
  await page.getByTestId("composer").evaluate((el, b64) => {
    const dt = new DataTransfer();
    dt.items.add(new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], "dropped.png", { type: "image/png" }));
    el.dispatchEvent(new DragEvent("dragover", { dataTransfer: dt, bubbles: true, cancelable: true }));
    el.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, PNG);
  await count(page.getByTestId("thumb"), 3);
  // A text file is not an image: ignored.
  await page.getByTestId("input-attach").setInputFiles({ name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("hi") });
  await count(page.getByTestId("thumb"), 3);
  // A click removes one.
  await page.getByTestId("thumb").first().click();
  await count(page.getByTestId("thumb"), 2);
  await shot(page, "desktop-follow-up-images");

  await page.getByTestId("input").fill("what is in these?");
  await page.getByTestId("input").press("Enter");
  await contains(page.getByTestId("user-msg").last(), "what is in these?", { timeout: TURN });
  await contains(page.getByTestId("user-msg").last(), "2 images");
  await contains(page.locator(".assistant").last(), "You said: what is in these? (with 2 images)", { timeout: TURN });
  await count(page.getByTestId("thumb"), 0);
  expect(errors).toEqual([]);
  await ctx.close();
});

/** Records `new Notification(...)` calls in `window.__notes`; `hidden` fakes a hidden page. */
const notificationSpy = (hidden: boolean) => `
  window.__notes = [];
  ${
    hidden
      ? `Object.defineProperty(Document.prototype, "hidden", { get: () => true, configurable: true });
         Object.defineProperty(Document.prototype, "visibilityState", { get: () => "hidden", configurable: true });`
      : ""
  }
  const Real = window.Notification;
  window.Notification = class extends Real {
    constructor(title, opts) {
      window.__notes.push({ title, body: opts && opts.body });
      super(title, opts);
    }
  };
`;

test("a notification when a running task waits for input, only while the page is hidden", async () => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 820 } });
  await ctx.grantPermissions(["notifications"], { origin: caic.base });
  const hiddenPage = await ctx.newPage();
  await hiddenPage.addInitScript(notificationSpy(true));
  await hiddenPage.goto(caic.base);
  const shownPage = await ctx.newPage();
  await shownPage.addInitScript(notificationSpy(false));
  await shownPage.goto(caic.base);
  for (const p of [hiddenPage, shownPage]) {
    await expect.poll(() => p.getByTestId("conn").getAttribute("data-state")).toBe("up");
    expect(await p.evaluate(() => [document.hidden, Notification.permission])).toEqual([p === hiddenPage, "granted"]);
  }

  const title = "FAKE_SLOW 3";
  const id = await createTask(caic, world.repoId, title);
  await waitState(id, "waiting");
  const notes = () => hiddenPage.evaluate(() => (window as unknown as { __notes: unknown[] }).__notes);
  await expect.poll(notes, { timeout: 15_000 }).toEqual([{ title: `caic: ${title}`, body: "waiting" }]);
  // The page someone is looking at does not notify.
  await hasText(row(shownPage, id).getByTestId("state"), /^waiting/);
  expect(await shownPage.evaluate(() => (window as unknown as { __notes: unknown[] }).__notes)).toEqual([]);

  // Asking counts too.
  const r = await fetch(`${caic.base}/api/v1/tasks/${id}/input`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ prompt: { text: "FAKE_SLOW 2\nFAKE_ASK", images: [] } }),
  });
  expect(r.status).toBe(200);
  await waitState(id, "asking");
  await expect
    .poll(notes, { timeout: 15_000 })
    .toEqual([
      { title: `caic: ${title}`, body: "waiting" },
      { title: `caic: ${title}`, body: "asking" },
    ]);
  await ctx.close();
});

test("todo progress, plan with clear-and-execute, restart, stop and revive", async () => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 820 } });
  const page = await open(ctx);
  const errors = pageErrors(page);
  await page.getByTestId("harness").selectOption("fake");
  await page.getByTestId("prompt").fill("FAKE_TODO 1");
  await page.getByTestId("prompt").press("Enter");
  await page.waitForURL(/\/tasks\/[^/]+$/);
  const id = page.url().split("/").pop()!;

  // The todo list: one card, the latest state of the list.
  await contains(page.locator(".assistant").last(), "Done: 1 of 3 todos completed.", { timeout: TURN });
  await count(page.getByTestId("todo"), 1);
  await hasText(page.getByTestId("todo-progress"), "1/3");
  const items = page.getByTestId("todo").getByTestId("todo-item");
  expect(await items.evaluateAll((els) => els.map((e) => e.getAttribute("data-status")))).toEqual([
    "completed",
    "in_progress",
    "pending",
  ]);
  await hasText(items.nth(1), "▸Making the change");
  await hasText(items.nth(0), "✓Read the code");
  // TodoWrite's bookkeeping results are not shown as tool calls.
  await count(page.getByTestId("tool"), 0);
  await page.getByTestId("input").fill("FAKE_TODO");
  await page.getByTestId("input").press("Enter");
  await contains(page.locator(".assistant").last(), "Done: 3 of 3 todos completed.", { timeout: TURN });
  await count(page.getByTestId("todo"), 2);
  await hasText(page.getByTestId("todo-progress").last(), "3/3");
  await shot(page, "desktop-todo");

  // A plan: shown as a card; "clear and execute" starts a fresh session with it.
  await page.getByTestId("input").fill("FAKE_PLAN");
  await page.getByTestId("input").press("Enter");
  const plan = page.getByTestId("plan");
  await plan.waitFor({ timeout: TURN });
  await contains(badge(page), "has plan", { timeout: TURN });
  await contains(plan, "Make the change");
  await visible(plan.getByTestId("plan-execute"));
  await shot(page, "desktop-plan");
  await plan.getByTestId("plan-clear-execute").click();
  await contains(page.getByTestId("user-msg").last(), "Execute this plan:", { timeout: TURN });
  await contains(page.locator(".assistant").last(), "You said: Execute this plan:", { timeout: TURN });
  await contains(badge(page), "waiting", { timeout: TURN });
  // The plan's buttons are gone once it was acted on.
  await count(page.getByTestId("plan-clear-execute"), 0);

  // Restart with the text in the box as the new session's first message.
  await page.getByTestId("input").fill("fresh start");
  await page.getByTestId("btn-restart").click();
  await hasText(page.getByTestId("user-msg").last(), "fresh start", { timeout: TURN });
  await contains(page.locator(".assistant").last(), "You said: fresh start", { timeout: TURN });
  await contains(badge(page), "waiting", { timeout: TURN });

  // Stop, then revive: the task takes input again.
  await page.getByTestId("btn-stop").click();
  await contains(badge(page), "stopped", { timeout: TURN });
  await count(page.getByTestId("input"), 0);
  await page.getByTestId("btn-revive").click();
  await contains(badge(page), "waiting", { timeout: TURN });
  await count(page.getByTestId("btn-revive"), 0);
  await page.getByTestId("input").fill("FAKE_BASH echo revived-ok");
  await page.getByTestId("input").press("Enter");
  await contains(page.locator(".assistant").last(), "Done: ran echo revived-ok (exit 0)", { timeout: TURN });
  expect((await getTask(caic, id)).state).toBe("waiting");
  expect(errors).toEqual([]);
  await ctx.close();
});

test("dark theme follows the system", async () => {
  const id = pair[0];
  const bg = async (scheme: "light" | "dark", name: string) => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 820 }, colorScheme: scheme });
    const page = await open(ctx, `/tasks/${id}`);
    await page.getByTestId("result").first().waitFor({ timeout: TURN });
    const colours = await page.evaluate(() => [
      getComputedStyle(document.body).backgroundColor,
      getComputedStyle(document.body).color,
      getComputedStyle(document.querySelector(".sidebar")!).backgroundColor,
    ]);
    await shot(page, name);
    await ctx.close();
    return colours;
  };
  const light = await bg("light", "desktop-task-light");
  const dark = await bg("dark", "desktop-task-dark");
  expect(light[0]).toBe("rgb(255, 255, 255)");
  expect(dark[0]).toBe("rgb(13, 17, 23)");
  expect(dark[1]).not.toBe(light[1]);
  expect(dark[2]).not.toBe(light[2]);
});

test("readable at 360 px: no horizontal scroll on any page", async () => {
  for (const scheme of ["light", "dark"] as const) {
    const ctx = await browser.newContext({
      viewport: { width: 360, height: 760 },
      isMobile: true,
      hasTouch: true,
      colorScheme: scheme,
    });
    const page = await open(ctx);
    const widths: Record<string, number> = {};
    const measure = async (name: string) => {
      widths[name] = await page.evaluate(() => document.documentElement.scrollWidth);
      await shot(page, `phone-${name}-${scheme}`);
    };
    await count(page.getByTestId("repo-item"), 2);
    await measure("home");
    await page.goto(`${caic.base}/tasks/${pair[0]}`);
    await page.getByTestId("result").first().waitFor({ timeout: TURN });
    await measure("task");
    await page.getByTestId("btn-diff").click();
    await page.getByTestId("diff-file").first().waitFor({ timeout: TURN });
    await measure("diff");
    console.log(`360 px (${scheme}): document scrollWidth ${JSON.stringify(widths)}`);
    for (const [name, w] of Object.entries(widths)) expect(w, name).toBeLessThanOrEqual(360);
    await ctx.close();
  }
});
