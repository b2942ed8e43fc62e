import type { DiffFile } from "../api/types";

/** `$0.0123` style cost. */
export function cost(usd: number): string {
  if (!usd) return "$0";
  return usd < 0.01 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(2)}`;
}

/** `850ms`, `4.2s`, `3m 05s`, `2h 01m`. */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(Math.floor(s % 60)).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, "0")}m`;
}

/** `3 files +12 -4`, or "" when nothing changed. */
export function diffSummary(files: DiffFile[] | undefined): string {
  if (!files || files.length === 0) return "";
  let a = 0;
  let d = 0;
  for (const f of files) {
    a += f.added;
    d += f.deleted;
  }
  return `${files.length} file${files.length === 1 ? "" : "s"} +${a} -${d}`;
}

/** `12k` style token count. */
export function tokens(n: number): string {
  if (n < 1000) return String(n);
  if (n < 1_000_000) return `${(n / 1000).toFixed(n < 10_000 ? 1 : 0)}k`;
  return `${(n / 1_000_000).toFixed(1)}M`;
}
