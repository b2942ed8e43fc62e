// Performance, measured in the browser and printed (sizes are asserted against the
// budget; timings are not asserted): what the task list page downloads, and a task with
// 5,000 events from the fake agent, rendered live and after a reload, then scrolled.
import { afterAll, beforeAll, expect, test } from "vitest";
import type { Browser, Page } from "playwright-core";
import { Caic, countEvents, createTask, getTask, World } from "./world";
import { count, visible } from "./expect";
import { launch, shot } from "./browser";

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

type FrameStats = { frames: number; median: number; p95: number; max: number; over50ms: number };

/** Scrolls `.scroll` from top to bottom over ~2 s, 1 step per frame; frame times in ms. */
async function scrollFrames(page: Page): Promise<FrameStats & { scrollHeight: number; reachedBottom: boolean }> {
  return page.evaluate(async () => {
    const el = document.querySelector(".scroll") as HTMLElement;
    el.scrollTop = 0;
    await new Promise((ok) => requestAnimationFrame(ok));
    const step = Math.max(50, (el.scrollHeight - el.clientHeight) / 120);
    const times: number[] = [];
    let last = performance.now();
    await new Promise<void>((ok) => {
      const tick = (now: number) => {
        times.push(now - last);
        last = now;
        el.scrollTop += step;
        if (el.scrollTop + el.clientHeight >= el.scrollHeight - 1 || times.length > 600) ok();
        else requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    });
    times.shift();
    times.sort((a, b) => a - b);
    const r = (x: number) => Math.round(x * 10) / 10;
    return {
      frames: times.length,
      median: r(times[Math.floor(times.length / 2)]),
      p95: r(times[Math.floor(times.length * 0.95)]),
      max: r(times[times.length - 1]),
      over50ms: times.filter((t) => t > 50).length,
      scrollHeight: el.scrollHeight,
      reachedBottom: el.scrollTop + el.clientHeight >= el.scrollHeight - 1,
    };
  });
}

test("the task list page loads under 300 KB compressed", async () => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 820 } });
  const page = await ctx.newPage();
  const encodings = new Map<string, string>();
  page.on("response", (r) => encodings.set(new URL(r.url()).pathname, r.headers()["content-encoding"] ?? "identity"));
  await page.goto(caic.base, { waitUntil: "load" });
  await expect.poll(() => page.getByTestId("conn").getAttribute("data-state")).toBe("up");
  await count(page.getByTestId("repo-item"), 2);
  await page.waitForLoadState("networkidle").catch(() => {});
  // Finished requests only: the task-list stream stays open and is not page weight.
  const entries = await page.evaluate(() =>
    [...performance.getEntriesByType("navigation"), ...performance.getEntriesByType("resource")].map((e) => {
      const r = e as PerformanceResourceTiming;
      return { path: new URL(r.name).pathname, transfer: r.transferSize, encoded: r.encodedBodySize, decoded: r.decodedBodySize };
    }),
  );
  const total = (k: "transfer" | "encoded" | "decoded") => entries.reduce((n, e) => n + e[k], 0);
  for (const e of entries) {
    console.log(
      `  ${e.path.padEnd(40)} ${String(e.encoded).padStart(7)} B ${encodings.get(e.path) ?? "?"} (${e.decoded} B decoded)`,
    );
  }
  console.log(
    `initial load of the task list page: ${entries.length} requests, ${(total("transfer") / 1024).toFixed(1)} KB transferred ` +
      `(${(total("encoded") / 1024).toFixed(1)} KB compressed bodies, ${(total("decoded") / 1024).toFixed(1)} KB uncompressed)`,
  );
  const js = entries.filter((e) => e.path.endsWith(".js"));
  expect(js.length).toBeGreaterThan(0);
  for (const e of js) expect(encodings.get(e.path)).toBe("br");
  expect(total("transfer")).toBeLessThan(300 * 1024);
  await ctx.close();
});

test("a task with 5,000 events from the fake agent renders live and after a reload, and scrolls", async () => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 820 } });
  const page = await ctx.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  const n = 1700;
  const t0 = Date.now();
  const id = await createTask(caic, world.repoId, `FAKE_REPEAT ${n} FAKE_BASH echo tick`);
  await page.goto(`${caic.base}/tasks/${id}`);
  // Live: frame times while the events stream in, until the result card shows.
  const live = await page.evaluate(async () => {
    const times: number[] = [];
    let last = performance.now();
    const long: number[] = [];
    const obs = new PerformanceObserver((l) => l.getEntries().forEach((e) => long.push(e.duration)));
    try {
      obs.observe({ type: "longtask", buffered: false });
    } catch {
      /* not supported */
    }
    await new Promise<void>((ok) => {
      const tick = (now: number) => {
        times.push(now - last);
        last = now;
        if (document.querySelector("[data-testid=result]") || times.length > 60 * 300) ok();
        else requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    });
    obs.disconnect();
    times.sort((a, b) => a - b);
    const r = (x: number) => Math.round(x * 10) / 10;
    return {
      frames: times.length,
      median: r(times[Math.floor(times.length / 2)]),
      p95: r(times[Math.floor(times.length * 0.95)]),
      max: r(times[times.length - 1]),
      longTasks: long.length,
      longestTask: r(Math.max(0, ...long)),
    };
  });
  const liveMs = Date.now() - t0;
  const events = await countEvents(caic, id);
  expect(events).toBeGreaterThanOrEqual(5000);
  expect((await getTask(caic, id)).state).toBe("waiting");
  console.log(`${events} events: task created to result card shown (live) ${liveMs} ms; frame times while streaming ${JSON.stringify(live)}`);
  // The turn shows its prompt and latest steps; the rest behind one button.
  const earlier = page.getByTestId("show-earlier");
  await visible(earlier);
  const hidden = Number((await earlier.textContent())!.replace(/[^0-9]/g, ""));
  const shown = await page.getByTestId("tool").count();
  expect(hidden + shown).toBe(n);
  expect(shown).toBeGreaterThan(0);
  await shot(page, "desktop-5000-events");

  // A fresh page replays the whole history at once.
  const p2 = await ctx.newPage();
  const t1 = Date.now();
  await p2.goto(`${caic.base}/tasks/${id}`);
  await visible(p2.getByTestId("result"), { timeout: 60_000 });
  const renderMs = Date.now() - t1;
  const nodes = () => p2.evaluate(() => document.getElementsByTagName("*").length);
  const windowed = await scrollFrames(p2);
  console.log(
    `${events} events, reloaded: page load to render ${renderMs} ms (${await nodes()} DOM elements, ${shown} of ${n} tool calls shown); ` +
      `scrolling frame times ms ${JSON.stringify(windowed)}`,
  );
  expect(windowed.reachedBottom).toBe(true);

  // Every step on request: all 1,700 tool calls in the page, still scrollable.
  const t2 = Date.now();
  await p2.getByTestId("show-earlier").click();
  await count(p2.getByTestId("tool"), n, { timeout: 60_000 });
  const allMs = Date.now() - t2;
  const full = await scrollFrames(p2);
  console.log(
    `${events} events, all steps shown: render ${allMs} ms (${await nodes()} DOM elements); scrolling frame times ms ${JSON.stringify(full)}`,
  );
  expect(full.reachedBottom).toBe(true);
  expect(errors).toEqual([]);
  await ctx.close();
});

test("1,000 turns (5,000 synthetic events) render and scroll (measured, not asserted)", async () => {
  const lines: string[] = [];
  let seq = 0;
  const usage = { inputTokens: 10, outputTokens: 5, cacheCreationInputTokens: 0, cacheReadInputTokens: 0 };
  const push = (e: Record<string, unknown>) => lines.push(`id: ${seq}\ndata: ${JSON.stringify({ seq: seq++, ts: 0, ...e })}\n\n`);
  for (let i = 0; i < 1000; i++) {
    push({ kind: "userInput", text: `prompt ${i}` });
    push({ kind: "toolUse", toolUseId: `t${i}`, name: "Bash", input: { command: `echo ${i}` } });
    push({ kind: "toolResult", toolUseId: `t${i}`, output: String(i), durationMs: 3 });
    push({ kind: "text", text: `Answer **${i}** with \`code\` and a list:\n\n- one\n- two` });
    push({ kind: "result", subtype: "success", isError: false, result: "", totalCostUsd: i / 100, durationMs: 900, numTurns: i + 1, usage });
  }
  const body = lines.join("") + "event: ready\ndata: {}\n\n";
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 820 } });
  const page = await ctx.newPage();
  await page.route("**/api/v1/tasks/perf/events", (r) =>
    r.fulfill({ status: 200, headers: { "content-type": "text/event-stream" }, body }),
  );
  const t0 = Date.now();
  await page.goto(`${caic.base}/tasks/perf`);
  await count(page.getByTestId("turn"), 1000, { timeout: 60_000 });
  const renderMs = Date.now() - t0;
  const frames = await page.evaluate(async () => {
    const el = document.querySelector(".scroll") as HTMLElement;
    const times: number[] = [];
    let last = performance.now();
    const end = last + 2000;
    el.scrollTop = 0;
    await new Promise<void>((ok) => {
      const step = (now: number) => {
        times.push(now - last);
        last = now;
        el.scrollTop += 200;
        if (now < end) requestAnimationFrame(step);
        else ok();
      };
      requestAnimationFrame(step);
    });
    times.sort((a, b) => a - b);
    return { frames: times.length, median: times[Math.floor(times.length / 2)], p95: times[Math.floor(times.length * 0.95)], max: times[times.length - 1] };
  });
  console.log(`1,000 synthetic turns: first render ${renderMs} ms; scrolling frame times ms ${JSON.stringify(frames)}`);
  await visible(page.getByTestId("result").last());
  await ctx.close();
});
