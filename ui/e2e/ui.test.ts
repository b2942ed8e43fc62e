// The web UI in a real browser (Debian's Chromium via playwright-core) against a real
// `caic serve` with the fake harness and real containers.
import { afterAll, beforeAll, expect, test } from "vitest";
import type { Browser, Page } from "playwright-core";
import { Caic, World } from "./world";
import { contains, count, hasText, visible } from "./expect";
import { launch, pageErrors, shot } from "./browser";

const LONG = 300_000;
const TURN = 90_000;

let world: World;
let caic: Caic;
let browser: Browser;

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

test("create, follow, answer, follow up, diff, stop and purge a task", async () => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 820 } });
  const page = await ctx.newPage();
  const errors = pageErrors(page);
  page.on("dialog", (d) => void d.accept());
  await page.goto(caic.base);
  await expect.poll(() => page.getByTestId("conn").getAttribute("data-state")).toBe("up");

  // The form: repos, branches, harness, model; a bad request shows the server's error
  // under the repo it was for.
  const repoItem = page.locator(`[data-testid=repo-item][data-repo="${world.repoId}"]`);
  await expect.poll(() => repoItem.getByTestId("repo-check").isChecked()).toBe(true);
  await expect(await page.getByTestId("repo-check").count()).toBe(2);
  await page.getByTestId("harness").selectOption("fake");
  await page.getByTestId("prompt").fill("   ");
  await page.getByTestId("prompt").press("Enter");
  await contains(repoItem.getByTestId("repo-error"), "empty");
  await shot(page, "desktop-new-task-error");

  // Enter sends, Shift+Enter is a new line.
  const prompt = page.getByTestId("prompt");
  await prompt.fill("");
  await prompt.pressSequentially("FAKE_SLOW 2");
  await prompt.press("Shift+Enter");
  await prompt.pressSequentially("FAKE_WRITE hello.txt hi from the agent");
  await prompt.press("Enter");
  await page.waitForURL(/\/tasks\/[^/]+$/);
  const id = page.url().split("/").pop()!;
  const row = page.locator(`[data-testid=task-row][data-id="${id}"]`);
  await hasText(row.locator(".title"), "FAKE_SLOW 2");
  await contains(page.getByTestId("user-msg").first(), "FAKE_WRITE hello.txt");

  // The answer streams in, then the result card.
  await page.locator(".assistant.streaming").first().waitFor({ timeout: LONG });
  await page.getByTestId("result").first().waitFor({ timeout: TURN });
  await contains(page.locator(".assistant").first(), "Working slowly for 2 seconds");
  await contains(page.locator(".assistant").last(), "Done: wrote hello.txt");
  await contains(page.getByTestId("tool").first(), "Write:");
  await page.getByTestId("tool").first().locator("summary").click();
  await contains(page.getByTestId("tool-output").first(), "File created successfully");
  await hasText(page.getByTestId("result-cost").first(), /^\$/);
  await contains(badge(page), "waiting");
  await hasText(row.getByTestId("diffsum"), "1 file +1 -0", { timeout: TURN });
  await hasText(row.locator(".branch"), /^caic-\d+$/);
  await hasText(row.getByTestId("cost"), /^\$/);
  // Only the actions the state allows.
  await count(page.getByTestId("btn-revive"), 0);
  await visible(page.getByTestId("btn-stop"));
  await visible(page.getByTestId("btn-restart"));

  // An ask card, answered from the UI.
  await page.getByTestId("input").fill("FAKE_ASK");
  await page.getByTestId("input").press("Enter");
  const ask = page.getByTestId("ask");
  await ask.waitFor({ timeout: TURN });
  await contains(ask, "Which storage backend should I use?");
  await contains(badge(page), /asking|waiting/);
  await ask.getByText("PostgreSQL").click();
  await ask.getByTestId("ask-send").click();
  await hasText(page.getByTestId("user-msg").last(), "PostgreSQL");
  await contains(page.locator(".assistant").last(), "You said: PostgreSQL", { timeout: TURN });
  await visible(page.getByTestId("result").first());

  // A follow-up with a tool call.
  await page.getByTestId("input").fill("FAKE_BASH echo follow-up-ok");
  await page.getByTestId("send").click();
  await contains(page.getByTestId("tool").last(), "Bash: echo follow-up-ok", { timeout: TURN });
  await contains(page.locator(".assistant").last(), "Done: ran echo follow-up-ok (exit 0)", { timeout: TURN });
  await count(page.getByTestId("turn"), 4);
  await contains(badge(page), "waiting");
  await shot(page, "desktop-task");

  // The same task on a phone.
  const phone = await browser.newContext({ viewport: { width: 360, height: 760 }, isMobile: true, hasTouch: true });
  const p2 = await phone.newPage();
  await p2.goto(`${caic.base}/tasks/${id}`);
  await count(p2.getByTestId("turn"), 4, { timeout: TURN });
  const overflow = await p2.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await shot(p2, "phone-task");
  await p2.goto(caic.base);
  await p2.getByTestId("prompt").waitFor();
  await shot(p2, "phone-home");
  await phone.close();

  // The diff view, from the task.
  await page.getByTestId("btn-diff").click();
  await page.getByTestId("diff-file").first().waitFor({ timeout: TURN });
  await contains(page.getByTestId("diff-file").first(), "hello.txt");
  await hasText(page.locator(".dl.add").first(), "+hi from the agent");
  await shot(page, "desktop-diff");
  await page.keyboard.press("Escape");
  await page.getByTestId("task-view").waitFor();

  // A reload replays the history without duplicates.
  await page.reload();
  await count(page.getByTestId("turn"), 4, { timeout: TURN });

  // The connection indicator: red while the server is down, green once it is back,
  // and the task view replays without duplicating anything.
  const port = caic.hostPort;
  const shown = await page.getByTestId("user-msg").count();
  await caic.kill();
  await expect.poll(() => page.getByTestId("conn").getAttribute("data-state"), { timeout: 20_000 }).toBe("down");
  await shot(page, "desktop-disconnected");
  caic = await Caic.start(world, port);
  await expect.poll(() => page.getByTestId("conn").getAttribute("data-state"), { timeout: 30_000 }).toBe("up");
  await count(page.getByTestId("turn"), 4);
  await count(page.getByTestId("user-msg"), shown);
  await contains(badge(page), "waiting", { timeout: TURN });

  // Stop, then purge; the buttons follow the state.
  await page.getByTestId("btn-stop").click();
  await contains(badge(page), "stopped", { timeout: TURN });
  await count(page.getByTestId("btn-stop"), 0);
  await visible(page.getByTestId("btn-revive"));
  await count(page.getByTestId("input"), 0);
  await page.getByTestId("btn-purge").click();
  await contains(badge(page), "purged", { timeout: TURN });
  await count(page.getByTestId("btn-purge"), 0);
  await count(page.getByTestId("btn-revive"), 0);
  await contains(page.getByTestId("purged-group"), "Purged (1)");
  expect(errors).toEqual([]);
  await ctx.close();
});

test("the SPA is served with the right caching and compression", async () => {
  const r = await fetch(`${caic.base}/tasks/whatever`, { headers: { "accept-encoding": "br" } });
  expect(r.status).toBe(200);
  expect(r.headers.get("cache-control")).toBe("no-cache");
  expect(await r.text()).toContain('<div id="root">');
  const api404 = await fetch(`${caic.base}/api/v1/nope`);
  expect(api404.status).toBe(404);
  expect((await api404.json()).error.code).toBe("NOT_FOUND");
});

test("the app installs on a phone: manifest and PNG icons are served", async () => {
  const m = await fetch(`${caic.base}/manifest.webmanifest`);
  expect(m.status).toBe(200);
  expect(m.headers.get("content-type")).toContain("application/manifest+json");
  const manifest = await m.json();
  expect(manifest.display).toBe("standalone");
  const sizes = manifest.icons.map((i: { sizes: string }) => i.sizes);
  expect(sizes).toEqual(expect.arrayContaining(["192x192", "512x512"]));
  const page = await fetch(`${caic.base}/`);
  const html = await page.text();
  const touch = /rel="apple-touch-icon" href="([^"]+)"/.exec(html)?.[1];
  expect(touch).toBeTruthy();
  for (const src of [...manifest.icons.map((i: { src: string }) => i.src), touch!]) {
    const r = await fetch(`${caic.base}${src}`);
    expect(r.status, src).toBe(200);
    const body = new Uint8Array(await r.arrayBuffer());
    if (src.endsWith(".png")) {
      expect(r.headers.get("content-type")).toBe("image/png");
      // PNG signature, and the declared width in the IHDR chunk.
      expect(Array.from(body.slice(1, 4))).toEqual([0x50, 0x4e, 0x47]);
      const width = new DataView(body.buffer).getUint32(16);
      const declared = manifest.icons.find((i: { src: string }) => i.src === src)?.sizes;
      if (declared) expect(`${width}x${width}`).toBe(declared);
    }
  }
});
