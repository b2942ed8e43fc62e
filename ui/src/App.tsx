import { Match, onCleanup, onMount, Switch } from "solid-js";
import { Sidebar, sidebarOrder } from "./components/Sidebar";
import { NewTask } from "./components/NewTask";
import { TaskView } from "./components/TaskView";
import { DiffView } from "./components/DiffView";
import { DeniedPage, LoginPage, Splash } from "./components/Login";
import { navigate, route } from "./lib/router";
import { onTaskChange, startTaskList, stopTaskList, tasks } from "./lib/store";
import { needsAttention } from "./lib/states";
import { auth, bootAuth } from "./lib/auth";

/** The app: the login gate, then the task list beside the current page. */
export function App() {
  void bootAuth();
  return (
    <Switch>
      <Match when={auth().kind === "open" || auth().kind === "in"}>
        <Workspace />
      </Match>
      <Match when={auth().kind === "login"}>
        <LoginPage />
      </Match>
      <Match when={auth().kind === "denied"}>
        <DeniedPage />
      </Match>
      <Match when={auth().kind === "loading"}>
        <Splash />
      </Match>
    </Switch>
  );
}

/** Everything a person with access sees. */
function Workspace() {
  startTaskList();
  onCleanup(stopTaskList);
  // Tell the person when a task that was working now needs them, if they look away.
  onCleanup(
    onTaskChange((prev, t) => {
      if (prev !== "running" || !needsAttention(t.state) || !document.hidden) return;
      if (!("Notification" in window) || Notification.permission !== "granted") return;
      const n = new Notification(`caic: ${t.title}`, { body: t.state.replace("_", " "), tag: t.id });
      n.onclick = () => {
        window.focus();
        navigate(`/tasks/${t.id}`);
      };
    }),
  );
  onMount(() => {
    const key = (e: KeyboardEvent) => {
      const target = e.target as HTMLElement | null;
      const typing = !!target && /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName);
      const r = route();
      if (e.key === "Escape") {
        if (typing) (target as HTMLElement).blur();
        else if (r.page === "diff") navigate(`/tasks/${r.id}`);
        else if (r.page === "task") navigate("/");
        return;
      }
      if (typing || (e.key !== "ArrowUp" && e.key !== "ArrowDown") || e.altKey || e.ctrlKey || e.metaKey) return;
      const list = sidebarOrder(tasks());
      if (!list.length) return;
      const i = r.page === "home" ? -1 : list.findIndex((t) => t.id === r.id);
      const j = e.key === "ArrowDown" ? Math.min(list.length - 1, i + 1) : Math.max(0, i - 1);
      e.preventDefault();
      navigate(`/tasks/${list[j].id}`);
    };
    window.addEventListener("keydown", key);
    onCleanup(() => window.removeEventListener("keydown", key));
  });
  return (
    <div class="app" classList={{ "on-home": route().page === "home" }}>
      <Sidebar />
      <main class="main">
        <Switch>
          <Match when={route().page === "home"}>
            <NewTask />
          </Match>
          <Match when={route().page === "task" && route()}>
            {(r) => {
              const id = () => (r() as { id: string }).id;
              return <Keyed id={id()} render={(i) => <TaskView id={i} />} />;
            }}
          </Match>
          <Match when={route().page === "diff" && route()}>
            {(r) => <DiffView id={(r() as { id: string }).id} />}
          </Match>
        </Switch>
      </main>
    </div>
  );
}

// Re-creates its child when `id` changes, so a task view never mixes two tasks.
function Keyed(props: { id: string; render: (id: string) => unknown }) {
  return <Switch>{<Match when={props.id} keyed>{(id) => props.render(id) as never}</Match>}</Switch>;
}
