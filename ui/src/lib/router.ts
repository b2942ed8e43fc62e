// A tiny history router: `/`, `/tasks/:id`, `/tasks/:id/diff`.
import { createSignal } from "solid-js";

const [path, setPath] = createSignal(location.pathname);
window.addEventListener("popstate", () => setPath(location.pathname));

/** The current route. */
export type Route = { page: "home" } | { page: "task"; id: string } | { page: "diff"; id: string };

/** Parses a path. */
export function parseRoute(p: string): Route {
  const m = /^\/tasks\/([^/]+)(\/diff)?\/?$/.exec(p);
  if (!m) return { page: "home" };
  const id = decodeURIComponent(m[1]);
  return m[2] ? { page: "diff", id } : { page: "task", id };
}

/** The current route, reactive. */
export const route = () => parseRoute(path());

/** Goes to `p`. */
export function navigate(p: string) {
  if (p === location.pathname) return;
  history.pushState(null, "", p);
  setPath(p);
}
