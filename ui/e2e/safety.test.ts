// Agent text is not trusted: a message carrying script, event handlers, `javascript:`
// links, SVG and frames renders inert (and still readable), and the page runs under a
// Content-Security-Policy that the UI itself never trips. Real `caic serve`, fake
// harness, real containers, Debian's Chromium.
import { afterAll, beforeAll, expect, test } from "vitest";
import type { Browser, Page } from "playwright-core";
import { Caic, createTask, World } from "./world";
import { contains, count } from "./expect";
import { launch, pageErrors, shot } from "./browser";

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

/** Each line would set `window.__pwned` (or the title) if it ran; the fake agent echoes them. */
const PAYLOADS = [
  `<script>window.__pwned = "script"; document.title = "pwned"</script>`,
  `<img src=x onerror="window.__pwned = 'img'">`,
  `<a href="javascript:window.__pwned='html-link'" onclick="window.__pwned='onclick'">html link</a>`,
  `[markdown link](javascript:window.__pwned='md-link')`,
  `<javascript:window.__pwned='autolink'>`,
  `<svg onload="window.__pwned = 'svg'"><circle r="9"></circle></svg>`,
  `<svg><script>window.__pwned = "svg-script"</script></svg>`,
  `<iframe src="javascript:parent.__pwned='iframe'"></iframe>`,
  `<iframe srcdoc="<script>parent.__pwned='srcdoc'</script>"></iframe>`,
  `<details open ontoggle="window.__pwned='details'"><summary>open me</summary></details>`,
];
const PROMPT = ["Payloads follow, each on its own paragraph.", ...PAYLOADS, "End of payloads."].join("\n\n");

/** What in `root` (a CSS selector) could run code: elements, handler attributes, script links. */
async function liveParts(page: Page, root: string): Promise<string[]> {
  return page.locator(root).evaluateAll((els) => {
    const bad: string[] = [];
    for (const el of els)
      for (const e of [el, ...el.querySelectorAll("*")]) {
        const tag = e.tagName.toLowerCase();
        if (["script", "iframe", "svg", "img", "object", "embed", "form", "style", "details"].includes(tag)) bad.push(`<${tag}>`);
        for (const a of e.attributes) {
          if (a.name.toLowerCase().startsWith("on")) bad.push(`${tag}[${a.name}]`);
          if (/^\s*(javascript|data|vbscript):/i.test(a.value)) bad.push(`${tag}[${a.name}=${a.value}]`);
        }
      }
    return bad;
  });
}

test("an agent message full of script, handlers, javascript: links, SVG and frames renders inert and readable", async () => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 820 } });
  const page = await ctx.newPage();
  const errors = pageErrors(page);
  const id = await createTask(caic, world.repoId, PROMPT);
  await page.goto(`${caic.base}/tasks/${id}`);
  const reply = page.locator(".assistant").last();
  await contains(reply, "End of payloads.", { timeout: TURN });
  await contains(page.getByTestId("user-msg").first(), "End of payloads.");

  // The text is all there, the markup shown as written.
  const text = (await reply.textContent()) ?? "";
  for (const shown of [
    `<script>window.__pwned = "script"; document.title = "pwned"</script>`,
    `<img src=x onerror="window.__pwned = 'img'">`,
    "html link",
    "markdown link",
    `<svg onload="window.__pwned = 'svg'">`,
    `<iframe srcdoc="<script>parent.__pwned='srcdoc'</script>">`,
    "open me",
  ])
    expect(text).toContain(shown);
  // Nothing in the conversation can run: no such elements, no handlers, no script links.
  expect(await liveParts(page, ".assistant, [data-testid=user-msg]")).toEqual([]);
  await count(page.locator(".assistant a[href]"), 0);
  // A moment for anything that would fire (image errors, frame loads, toggles) to have fired.
  await page.evaluate(() => new Promise((ok) => requestAnimationFrame(() => setTimeout(ok, 200))));
  // Clicking the links does nothing either.
  for (const name of ["html link", "markdown link"]) await reply.getByText(name).first().click();
  expect(await page.evaluate(() => (window as unknown as { __pwned?: string }).__pwned)).toBeUndefined();
  expect(await page.title()).toBe("caic");
  expect(new URL(page.url()).pathname).toBe(`/tasks/${id}`);
  await shot(page, "desktop-unsafe-agent-text");
  expect(errors).toEqual([]);
  await ctx.close();
});

test("the UI is served under a strict CSP, which blocks inline script and which the UI never trips", async () => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 820 } });
  const page = await ctx.newPage();
  const errors = pageErrors(page);
  const resp = await page.goto(caic.base);
  const h = resp!.headers();
  const csp = h["content-security-policy"] ?? "";
  for (const d of ["default-src 'self'", "script-src 'self';", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"])
    expect(csp).toContain(d);
  expect(csp).not.toContain("unsafe");
  expect(h["x-content-type-options"]).toBe("nosniff");
  expect(h["referrer-policy"]).toBe("no-referrer");

  // Every page of the app renders without a violation: home, a task, its diff.
  await expect.poll(() => page.getByTestId("conn").getAttribute("data-state")).toBe("up");
  await count(page.getByTestId("repo-item"), 2);
  const id = await createTask(caic, world.repoId, "FAKE_WRITE notes.md # Notes\\n\\nSome *text*.");
  await page.goto(`${caic.base}/tasks/${id}`);
  await contains(page.locator(".assistant").last(), "Done: wrote notes.md", { timeout: TURN });
  await page.getByTestId("btn-diff").click();
  await page.getByTestId("diff-file").first().waitFor({ timeout: TURN });
  expect(errors).toEqual([]);

  // The policy is enforced: a script put in the page by hand does not run.
  const violated = await page.evaluate(
    () =>
      new Promise<string>((ok) => {
        document.addEventListener("securitypolicyviolation", (e) => ok(e.effectiveDirective), { once: true });
        const s = document.createElement("script");
        s.textContent = "window.__pwned = 'inline'";
        document.body.append(s);
      }),
  );
  expect(violated).toMatch(/^script-src/);
  expect(await page.evaluate(() => (window as unknown as { __pwned?: string }).__pwned)).toBeUndefined();
  expect(errors).toHaveLength(1);
  expect(errors[0]).toMatch(/^CSP: .*inline script.*script-src 'self'/);
  await ctx.close();
});
