import { defineConfig } from "vitest/config";

// Browser end-to-end tests: a real `caic serve` (fake harness, real containers) and
// Debian's Chromium driven by playwright-core. Slow; run one file at a time.
export default defineConfig({
  test: {
    include: ["e2e/**/*.test.ts"],
    environment: "node",
    testTimeout: 600_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
