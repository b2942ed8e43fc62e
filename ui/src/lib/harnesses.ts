// The harness list, asked once per page load (it only changes with the server binary).
import { api } from "../api/client";
import type { HarnessInfo } from "../api/types";

let cached: Promise<HarnessInfo[]> | undefined;

/** The harnesses the server offers; a failed ask is retried next time. */
export function harnessList(): Promise<HarnessInfo[]> {
  cached ??= api.harnesses().catch((e) => {
    cached = undefined;
    throw e;
  });
  return cached;
}
