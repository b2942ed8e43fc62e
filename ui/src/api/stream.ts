// Server-sent event streams that reconnect by themselves (with backoff), so a server
// restart or a dropped network only shows as a red indicator for a while. A stream
// refused for want of a session sends the person to the login page.
import { checkSession } from "../lib/auth";

/** Handlers of one stream. */
export type StreamHandlers = {
  /** A new connection is being opened. */
  onConnecting?: () => void;
  /** A data message (the default `message` event). */
  onMessage: (data: string) => void;
  /** A named event, e.g. `ready`. */
  onNamed?: Record<string, (data: string) => void>;
  /** Whether the stream is currently connected. */
  onStatus?: (up: boolean) => void;
  /** Asked when the stream ended; false stops reconnecting (a finished task). */
  shouldReconnect?: () => boolean;
};

/** Opens `url` and keeps it open until the returned function is called. */
export function openStream(url: string, h: StreamHandlers): () => void {
  let es: EventSource | undefined;
  let closed = false;
  let delay = 250;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const connect = () => {
    if (closed) return;
    h.onConnecting?.();
    const s = new EventSource(url);
    es = s;
    s.onopen = () => {
      delay = 250;
      h.onStatus?.(true);
    };
    s.onmessage = (e) => h.onMessage(e.data);
    for (const [name, f] of Object.entries(h.onNamed ?? {})) {
      s.addEventListener(name, (e) => f((e as MessageEvent).data));
    }
    s.onerror = () => {
      // Reconnect ourselves: the browser's own retry does not start a fresh replay
      // cleanly after a server restart and gives up on some errors.
      s.close();
      if (es !== s || closed) return;
      // EventSource does not say why it failed: a lost session is one reason.
      void checkSession();
      if (h.shouldReconnect && !h.shouldReconnect()) return;
      h.onStatus?.(false);
      timer = setTimeout(connect, delay);
      delay = Math.min(delay * 2, 4000);
    };
  };
  connect();
  return () => {
    closed = true;
    if (timer) clearTimeout(timer);
    es?.close();
  };
}
