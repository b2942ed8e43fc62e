// Debian's Chromium, driven by playwright-core, and where screenshots go.
import { chromium, type Browser, type Page } from "playwright-core";
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** Where screenshots are saved: $CAIC_TEST_ARTEFACTS, else ui/test-artefacts. */
export const artefacts = process.env.CAIC_TEST_ARTEFACTS ?? fileURLToPath(new URL("../test-artefacts", import.meta.url));

/** Starts headless Chromium ($CAIC_CHROMIUM, else /usr/bin/chromium). */
export async function launch(): Promise<Browser> {
  mkdirSync(artefacts, { recursive: true });
  return chromium.launch({
    executablePath: process.env.CAIC_CHROMIUM ?? "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** Saves a screenshot of the viewport as `<artefacts>/<name>.png` and prints its path. */
export async function shot(page: Page, name: string) {
  const path = `${artefacts}/${name}.png`;
  await page.screenshot({ path, fullPage: false });
  console.log(`screenshot: ${path}`);
}

const collected = new WeakMap<Page, string[]>();

/**
 * Collects the page's uncaught errors and Content-Security-Policy violations, to assert
 * there were none. Called again for the same page, it returns the same list: call it
 * before the first navigation to catch what the first render does.
 */
export function pageErrors(page: Page): string[] {
  let errors = collected.get(page);
  if (errors) return errors;
  const list: string[] = [];
  page.on("pageerror", (e) => list.push(String(e)));
  // Chromium reports each violation on the console ("Refused to ... because it violates
  // the following Content Security Policy directive ...").
  page.on("console", (m) => {
    if (/Content Security Policy/i.test(m.text())) list.push(`CSP: ${m.text()}`);
  });
  collected.set(page, list);
  return list;
}
