import { describe, expect, it } from "vitest";
import type { Event } from "../api/types";
import { EventLog } from "./replay";

const ev = (seq: number): Event => ({ seq, ts: 0, kind: "log", line: `l${seq}` });

describe("EventLog", () => {
  it("holds the history until ready, then goes live", () => {
    const log = new EventLog();
    log.connect();
    expect(log.push(ev(0))).toBe(false);
    expect(log.push(ev(1))).toBe(false);
    expect(log.events).toHaveLength(0);
    expect(log.ready()).toBe(true);
    expect(log.events.map((e) => e.seq)).toEqual([0, 1]);
    expect(log.push(ev(2))).toBe(true);
    expect(log.events.map((e) => e.seq)).toEqual([0, 1, 2]);
  });

  it("replays a reconnect without duplicates or clearing", () => {
    const log = new EventLog();
    log.connect();
    [0, 1, 2].forEach((s) => log.push(ev(s)));
    log.ready();
    log.push(ev(3));
    log.connect();
    // During the replay, what was shown stays shown.
    [0, 1, 2, 3, 4].forEach((s) => log.push(ev(s)));
    expect(log.events.map((e) => e.seq)).toEqual([0, 1, 2, 3]);
    expect(log.ready()).toBe(true);
    expect(log.events.map((e) => e.seq)).toEqual([0, 1, 2, 3, 4]);
    expect(log.push(ev(4))).toBe(false);
  });
});
