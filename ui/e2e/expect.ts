// Waiting assertions on playwright-core locators (playwright-core has no `expect`).
import { expect } from "vitest";
import type { Locator } from "playwright-core";

type Opts = { timeout?: number };
const t = (o?: Opts) => ({ timeout: o?.timeout ?? 15_000, interval: 100 });
const textOf = async (l: Locator) => ((await l.count()) ? ((await l.first().textContent()) ?? "") : "");

/** Waits until the first match's text contains `want` (or matches it). */
export async function contains(l: Locator, want: string | RegExp, o?: Opts) {
  if (typeof want === "string") await expect.poll(() => textOf(l), t(o)).toContain(want);
  else await expect.poll(() => textOf(l), t(o)).toMatch(want);
}

/** Waits until the first match's trimmed text is `want` (or matches it). */
export async function hasText(l: Locator, want: string | RegExp, o?: Opts) {
  if (typeof want === "string") await expect.poll(async () => (await textOf(l)).trim(), t(o)).toBe(want);
  else await expect.poll(async () => (await textOf(l)).trim(), t(o)).toMatch(want);
}

/** Waits until there are exactly `n` matches. */
export async function count(l: Locator, n: number, o?: Opts) {
  await expect.poll(() => l.count(), t(o)).toBe(n);
}

/** Waits until the first match is visible. */
export async function visible(l: Locator, o?: Opts) {
  await l.first().waitFor({ state: "visible", timeout: t(o).timeout });
}
