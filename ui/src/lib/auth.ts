// Who is using the UI: whether the server wants a login, who is signed in, and what to
// show when nobody is (the login page) or the person is refused (the "not allowed"
// page). Any API call or stream that finds the session gone sends the person back to
// the login page.
import { createSignal } from "solid-js";
import type { ApiError, ServerConfig, UserResp } from "../api/types";

/** What the app shows, as far as login goes. */
export type AuthState =
  /** Asking the server (or retrying while it is unreachable). */
  | { kind: "loading"; retrying: boolean }
  /** No login configured: everything is open. */
  | { kind: "open" }
  /** Login required and nobody is signed in. */
  | { kind: "login"; providers: string[]; reason?: string }
  /**
   * Signed in, but this server does not let the person in; `refused` when the login
   * itself was turned away (no session was issued).
   */
  | { kind: "denied"; providers: string[]; message: string; username?: string; refused?: boolean }
  /** Signed in. */
  | { kind: "in"; providers: string[]; user: UserResp };

const [auth, setAuth] = createSignal<AuthState>({ kind: "loading", retrying: false });

/** The current auth state, reactive. */
export { auth };

let providers: string[] = [];
let enabled = false;

/** Human names of the login providers. */
export function providerName(p: string): string {
  return p === "github" ? "GitHub" : p === "gitlab" ? "GitLab" : p;
}

async function json<T>(r: Response): Promise<T | undefined> {
  try {
    return (await r.json()) as T;
  } catch {
    return undefined;
  }
}

/**
 * The signed-in user from `GET /api/v1/auth/me`, or the page to show instead; throws
 * when the answer says nothing about the session (server error, unreachable).
 */
async function whoAmI(reason?: string): Promise<AuthState> {
  const r = await fetch("/api/v1/auth/me", { headers: { accept: "application/json" } });
  if (r.ok) {
    const user = await json<UserResp>(r);
    if (user) return { kind: "in", providers, user };
  }
  if (r.status === 403) {
    const body = await json<ApiError>(r);
    if (body?.error?.code === "FORBIDDEN") {
      const d = body.details;
      const username =
        d && typeof d === "object" && !Array.isArray(d) && typeof d.username === "string" ? d.username : undefined;
      return { kind: "denied", providers, message: body.error.message, username };
    }
  }
  // 401, or 404 "not logged in": the login page.
  if (r.status === 401 || r.status === 404) return { kind: "login", providers, reason };
  throw new Error(`GET /api/v1/auth/me: ${r.status}`);
}

let booted = false;

/**
 * The user named by `?refused=<user>` (where caic sends a browser whose login it turned
 * away), taken off the address so a reload or a bookmark does not show it again.
 */
function takeRefused(): string | undefined {
  const q = new URLSearchParams(location.search);
  const user = q.get("refused");
  if (user === null) return undefined;
  q.delete("refused");
  const rest = q.toString();
  history.replaceState(history.state, "", `${location.pathname}${rest ? `?${rest}` : ""}${location.hash}`);
  return user.trim() || undefined;
}

/**
 * Asks the server whether login is required (`GET /api/v1/server/config`) and, if so,
 * who is signed in; retries with backoff while the server is unreachable.
 */
export async function bootAuth(): Promise<void> {
  if (booted) return;
  booted = true;
  const refused = takeRefused();
  let delay = 500;
  for (;;) {
    try {
      const r = await fetch("/api/v1/server/config", { headers: { accept: "application/json" } });
      if (r.status === 401) {
        // A server that guards even its config: treat it as login-only.
        enabled = true;
        setAuth({ kind: "login", providers });
        return;
      }
      if (!r.ok) throw new Error(`${r.status}`);
      const cfg = (await r.json()) as ServerConfig;
      enabled = cfg.authEnabled;
      providers = cfg.authProviders;
      if (enabled && refused) {
        setAuth({
          kind: "denied",
          providers,
          username: refused,
          refused: true,
          message: `The login of ${refused} was refused: not in this server's allowed users.`,
        });
        return;
      }
      setAuth(enabled ? await whoAmI() : { kind: "open" });
      return;
    } catch {
      setAuth({ kind: "loading", retrying: true });
      await new Promise((ok) => setTimeout(ok, delay));
      delay = Math.min(delay * 2, 4000);
    }
  }
}

/** Called when an API call answered 401: back to the login page. */
export function sessionLost() {
  if (!enabled) {
    // The server started asking for a login since the page loaded: learn how.
    enabled = true;
    booted = false;
    void bootAuth();
    return;
  }
  const a = auth();
  if (a.kind === "login") return;
  setAuth({ kind: "login", providers, reason: "Your session ended. Sign in again." });
}

let checking: Promise<void> | undefined;

/**
 * Called when a stream failed (EventSource does not tell why): if login is on, asks
 * whether the session is still good, and goes to the login page when it is not.
 * A server that cannot be reached is not a lost session.
 */
export function checkSession(): Promise<void> {
  if (!enabled || auth().kind !== "in") return Promise.resolve();
  checking ??= (async () => {
    try {
      const next = await whoAmI("Your session ended. Sign in again.");
      if (next.kind !== "in") setAuth(next);
    } catch {
      /* unreachable: the stream retries */
    } finally {
      checking = undefined;
    }
  })();
  return checking;
}

/** Signs out (`POST /api/v1/auth/logout`), then shows the login page. */
export async function signOut(): Promise<void> {
  try {
    await fetch("/api/v1/auth/logout", { method: "POST" });
  } finally {
    setAuth({ kind: "login", providers });
  }
}
