// Merges a task's event stream across reconnects: each connection replays the history
// then sends `ready`; events are held until `ready` so a reconnect never flickers, and
// are deduplicated by `seq` so nothing shows twice.
import type { Event } from "../api/types";

export class EventLog {
  /** Every event shown, by increasing seq. */
  events: Event[] = [];
  private seen = new Set<number>();
  private buffer: Event[] = [];
  /** True between a connection's `ready` and its end. */
  live = false;

  /** A new connection starts: its history will be buffered until `ready`. */
  connect(): void {
    this.buffer = [];
    this.live = false;
  }

  /** One event from the stream; returns true when `events` changed. */
  push(ev: Event): boolean {
    if (!this.live) {
      this.buffer.push(ev);
      return false;
    }
    return this.add([ev]);
  }

  /** The history is complete: merge it; returns true when `events` changed. */
  ready(): boolean {
    this.live = true;
    const b = this.buffer;
    this.buffer = [];
    return this.add(b);
  }

  private add(evs: Event[]): boolean {
    let changed = false;
    let sorted = true;
    for (const ev of evs) {
      if (this.seen.has(ev.seq)) continue;
      this.seen.add(ev.seq);
      const last = this.events[this.events.length - 1];
      if (last && last.seq > ev.seq) sorted = false;
      this.events.push(ev);
      changed = true;
    }
    if (!sorted) this.events.sort((a, b) => a.seq - b.seq);
    return changed;
  }
}
