import { createSignal, For, onCleanup, onMount, Show } from "solid-js";
import { auth, providerName, signOut } from "../lib/auth";

function Brand() {
  return (
    <div class="gate-brand">
      <img src="/icon.svg" alt="" width="40" height="40" />
      <span>caic</span>
    </div>
  );
}

/** Shown while the UI learns whether it needs a login. */
export function Splash() {
  const retrying = () => {
    const a = auth();
    return a.kind === "loading" && a.retrying;
  };
  return (
    <div class="gate" data-testid="splash">
      <div class="gate-card">
        <Brand />
        <p class="muted">{retrying() ? "Cannot reach caic; retrying…" : "Loading…"}</p>
      </div>
    </div>
  );
}

/** The login page: one button per configured provider. */
export function LoginPage() {
  const a = () => auth();
  const providers = () => {
    const s = a();
    return s.kind === "login" ? s.providers : [];
  };
  const reason = () => {
    const s = a();
    return s.kind === "login" ? s.reason : undefined;
  };
  return (
    <div class="gate" data-testid="login-page">
      <div class="gate-card">
        <Brand />
        <h1>Sign in</h1>
        <Show when={reason()}>
          <p class="gate-note" data-testid="login-reason">
            {reason()}
          </p>
        </Show>
        <p class="muted">This caic server asks who you are before it shows its tasks.</p>
        <div class="gate-buttons">
          <For each={providers()}>
            {(p) => (
              <a class={`button primary provider-${p}`} href={`/api/v1/auth/${p}/start`} data-testid={`login-${p}`}>
                Sign in with {providerName(p)}
              </a>
            )}
          </For>
        </div>
        <Show when={providers().length === 0}>
          <p class="form-error">No login provider is configured on this server.</p>
        </Show>
      </div>
    </div>
  );
}

/** Signed in, but not let in: says who, offers to sign out. */
export function DeniedPage() {
  const s = () => {
    const a = auth();
    return a.kind === "denied" ? a : undefined;
  };
  return (
    <div class="gate" data-testid="denied-page">
      <div class="gate-card">
        <Brand />
        <h1>Access refused</h1>
        <Show when={s()?.username}>
          <p>
            {s()!.refused ? "You signed in as " : "You are signed in as "}
            <b data-testid="denied-user">{s()!.username}</b>, who is not allowed on this server.
          </p>
        </Show>
        <p class="muted" data-testid="denied-message">
          {s()?.message}
        </p>
        <p class="muted">Ask its owner to add you, or sign in with another account.</p>
        <div class="gate-buttons">
          <button class="primary" data-testid="denied-sign-out" onClick={() => void signOut()}>
            {s()?.refused ? "Back to sign in" : "Sign out"}
          </button>
        </div>
      </div>
    </div>
  );
}

/** The signed-in person's avatar and name, with a menu holding "Sign out". */
export function UserMenu() {
  const user = () => {
    const a = auth();
    return a.kind === "in" ? a.user : undefined;
  };
  const [open, setOpen] = createSignal(false);
  let root: HTMLDivElement | undefined;
  onMount(() => {
    const away = (e: MouseEvent) => {
      if (open() && root && !root.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener("click", away);
    onCleanup(() => document.removeEventListener("click", away));
  });
  return (
    <Show when={user()}>
      {(u) => (
        <div class="user-menu" ref={root}>
          <button
            class="avatar-button"
            data-testid="user-menu"
            title={`Signed in as ${u().username}`}
            aria-haspopup="menu"
            aria-expanded={open()}
            onClick={() => setOpen(!open())}
          >
            <Show when={u().avatarUrl} fallback={<span class="avatar initial">{u().username.slice(0, 1).toUpperCase()}</span>}>
              <img class="avatar" src={u().avatarUrl} alt="" />
            </Show>
          </button>
          <Show when={open()}>
            <div class="menu" role="menu" data-testid="user-menu-panel">
              <div class="menu-who">
                Signed in as <b data-testid="user-name">{u().username}</b>
                <div class="muted small">{providerName(u().provider)}</div>
              </div>
              <button role="menuitem" data-testid="sign-out" onClick={() => void signOut()}>
                Sign out
              </button>
            </div>
          </Show>
        </div>
      )}
    </Show>
  );
}
