// Login in the browser: `caic serve` with GitHub and GitLab OAuth configured, GitHub
// pointed at a small mock of its OAuth endpoints (authorize, access_token, /user) so a
// real login round trip gives a real session cookie.
import { afterAll, beforeAll, expect, test } from "vitest";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Caic, World } from "./world";
import { contains, count, hasText, visible } from "./expect";
import { launch, pageErrors, shot } from "./browser";

/**
 * A 1x1 PNG, as the avatar: a `data:` URL, since the UI's CSP takes images only from
 * itself, `data:`, `blob:` and `https:` (real forges serve avatars over https), and this
 * mock speaks plain http.
 */
const AVATAR =
  "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

/**
 * GitHub's OAuth app endpoints as caic calls them: the browser is sent to
 * `/login/oauth/authorize` and comes straight back to caic's callback with a code (the
 * person "approves" at once, as `user`); caic exchanges the code at
 * `/login/oauth/access_token` and reads `/user`.
 */
class MockGitHub {
  user = { id: 583231, login: "alice" };
  /** Where caic really listens (the callback URL names external_url instead). */
  caicBase = "";
  private codes = new Map<string, { id: number; login: string }>();
  private tokens = new Map<string, { id: number; login: string }>();
  private n = 0;
  readonly server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://mock");
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { "content-type": "application/json", ...headers });
      res.end(typeof body === "string" ? body : JSON.stringify(body));
    };
    if (req.method === "GET" && url.pathname === "/login/oauth/authorize") {
      const redirect = url.searchParams.get("redirect_uri");
      const state = url.searchParams.get("state");
      if (!redirect || !state || url.searchParams.get("client_id") !== "caic-test-client") {
        return send(400, { error: "bad_request" });
      }
      const code = `code-${++this.n}`;
      this.codes.set(code, { ...this.user });
      const back = new URL(new URL(redirect).pathname, this.caicBase);
      back.searchParams.set("code", code);
      back.searchParams.set("state", state);
      res.writeHead(302, { location: back.toString() });
      return res.end();
    }
    if (req.method === "POST" && url.pathname === "/login/oauth/access_token") {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        const f = new URLSearchParams(body);
        const who = this.codes.get(f.get("code") ?? "");
        this.codes.delete(f.get("code") ?? "");
        if (!who || f.get("client_secret") !== "caic-test-client-secret") {
          return send(200, { error: "bad_verification_code", error_description: "The code is wrong." });
        }
        const token = `gho_mock_${this.n}_${who.login}`;
        this.tokens.set(token, who);
        send(200, { access_token: token, token_type: "bearer", scope: "read:user" });
      });
      return;
    }
    if (req.method === "GET" && url.pathname === "/user") {
      const token = (req.headers.authorization ?? "").replace(/^Bearer /i, "");
      const who = this.tokens.get(token);
      if (!who) return send(401, { message: "Bad credentials" });
      return send(200, { id: who.id, login: who.login, avatar_url: AVATAR });
    }
    send(404, { message: "Not Found" });
  });

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async listen() {
    await new Promise<void>((ok) => this.server.listen(0, "127.0.0.1", ok));
  }
}

let github: MockGitHub;
let world: World;
let caic: Caic;
let browser: Browser;

beforeAll(async () => {
  github = new MockGitHub();
  await github.listen();
  world = new World(`
[auth]
external_url = "https://caic.example.com"
oauth_allowed_users = ["alice"]

[auth.github_oauth]
client_id = "caic-test-client"
client_secret = "caic-test-client-secret"
url = "${github.url}"
api_url = "${github.url}"

[auth.gitlab_oauth]
client_id = "caic-test-gitlab"
client_secret = "caic-test-gitlab-secret"
url = "http://127.0.0.1:9"
`);
  caic = await Caic.start(world);
  github.caicBase = caic.base;
  browser = await launch();
});

afterAll(async () => {
  await browser?.close();
  await caic?.kill();
  github?.server.close();
  world?.cleanup();
});

async function signIn(page: Page) {
  await page.goto(caic.base);
  await page.getByTestId("login-github").click();
  await page.waitForURL(`${caic.base}/`);
  await visible(page.getByTestId("user-menu"));
  await expect.poll(() => page.getByTestId("conn").getAttribute("data-state")).toBe("up");
}

/** Client-side navigation, as a click on an in-app link does. */
async function go(page: Page, path: string) {
  await page.evaluate((p) => {
    history.pushState(null, "", p);
    dispatchEvent(new PopStateEvent("popstate"));
  }, path);
}

const session = async (ctx: BrowserContext) => (await ctx.cookies()).find((c) => c.name === "caic_session");

test("the login page offers one button per provider; the API is closed", async () => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 820 } });
  const page = await ctx.newPage();
  const errors = pageErrors(page);
  await page.goto(caic.base);
  await visible(page.getByTestId("login-page"));
  await hasText(page.getByTestId("login-github"), "Sign in with GitHub");
  await hasText(page.getByTestId("login-gitlab"), "Sign in with GitLab");
  expect(await page.getByTestId("login-github").getAttribute("href")).toBe("/api/v1/auth/github/start");
  expect(await page.getByTestId("login-gitlab").getAttribute("href")).toBe("/api/v1/auth/gitlab/start");
  // Nothing of the app is shown, and deep links land on the login page too.
  await count(page.getByTestId("new-task-form"), 0);
  await page.goto(`${caic.base}/tasks/whatever`);
  await visible(page.getByTestId("login-page"));
  expect((await fetch(`${caic.base}/api/v1/tasks`)).status).toBe(401);
  await shot(page, "desktop-login");
  await ctx.close();

  for (const scheme of ["light", "dark"] as const) {
    const phone = await browser.newContext({ viewport: { width: 360, height: 760 }, isMobile: true, colorScheme: scheme });
    const p = await phone.newPage();
    await p.goto(caic.base);
    await visible(p.getByTestId("login-github"));
    expect(await p.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    await shot(p, `phone-login-${scheme}`);
    await phone.close();
  }
  expect(errors).toEqual([]);
});

test("sign in through the provider, see who is signed in, sign out", async () => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 820 } });
  const page = await ctx.newPage();
  const errors = pageErrors(page);
  await signIn(page);
  expect(await session(ctx)).toBeDefined();
  // The app works with the session: repos are listed.
  await count(page.getByTestId("repo-item"), 2);
  expect(await page.locator(".avatar").first().getAttribute("src")).toBe(AVATAR);
  await expect.poll(() => page.locator(".avatar").first().evaluate((i: HTMLImageElement) => i.naturalWidth)).toBe(1);
  await page.getByTestId("user-menu").click();
  await hasText(page.getByTestId("user-name"), "alice");
  await contains(page.getByTestId("user-menu-panel"), "GitHub");
  await shot(page, "desktop-user-menu");
  // A click elsewhere closes the menu.
  await page.locator(".main").click({ position: { x: 600, y: 700 } });
  await count(page.getByTestId("user-menu-panel"), 0);

  await page.getByTestId("user-menu").click();
  await page.getByTestId("sign-out").click();
  await visible(page.getByTestId("login-page"));
  expect(await session(ctx)).toBeUndefined();
  await page.reload();
  await visible(page.getByTestId("login-page"));
  expect(errors).toEqual([]);
  await ctx.close();
});

test("a session that ends sends the person to the login page (stream and API call)", async () => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 820 } });
  const page = await ctx.newPage();
  await signIn(page);

  // A stream refused for want of a session (EventSource cannot say why: the UI asks).
  await ctx.clearCookies();
  await go(page, "/tasks/no-such-task");
  await visible(page.getByTestId("login-page"), { timeout: 20_000 });
  await contains(page.getByTestId("login-reason"), "session ended");

  // An API call answered 401.
  await signIn(page);
  await ctx.clearCookies();
  await go(page, "/tasks/no-such-task/diff");
  await visible(page.getByTestId("login-page"), { timeout: 20_000 });
  await contains(page.getByTestId("login-reason"), "session ended");
  await ctx.close();
});

test("a person signed in but refused sees who they are and can sign out", async () => {
  // caic answers /auth/me with 403 FORBIDDEN for a signed-in person it does not let in;
  // the current server refuses such a login at the callback instead, so the answer is
  // given here by the browser.
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 820 } });
  const page = await ctx.newPage();
  await page.route("**/api/v1/auth/me", (r) =>
    r.fulfill({
      status: 403,
      contentType: "application/json",
      body: JSON.stringify({
        error: { code: "FORBIDDEN", message: "bob is not in oauth_allowed_users" },
        details: { username: "bob" },
      }),
    }),
  );
  await page.goto(caic.base);
  await visible(page.getByTestId("denied-page"));
  await hasText(page.getByTestId("denied-user"), "bob");
  await contains(page.getByTestId("denied-message"), "not in oauth_allowed_users");
  await shot(page, "desktop-denied");
  await page.unroute("**/api/v1/auth/me");
  await page.getByTestId("denied-sign-out").click();
  await visible(page.getByTestId("login-page"));
  await ctx.close();
});

test("a login the allowlist refuses shows who was refused, then cleans the address", async () => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 820 } });
  const page = await ctx.newPage();
  const errors = pageErrors(page);
  const navigations: string[] = [];
  page.on("request", (r) => {
    if (r.isNavigationRequest()) navigations.push(r.url());
  });
  github.user = { id: 777, login: "mallory" };
  try {
    await page.goto(caic.base);
    await page.getByTestId("login-github").click();
    await visible(page.getByTestId("denied-page"));
    // caic sent the browser back to the UI naming the refused user...
    expect(navigations).toContain(`${caic.base}/?refused=mallory`);
    await hasText(page.getByTestId("denied-user"), "mallory");
    await contains(page.getByTestId("denied-page"), "You signed in as mallory, who is not allowed on this server.");
    await contains(page.getByTestId("denied-message"), "not in this server's allowed users");
    // ...without a session, and the name is taken off the address.
    expect(await session(ctx)).toBeUndefined();
    await expect.poll(() => page.url()).toBe(`${caic.base}/`);
    await shot(page, "desktop-refused");
    await hasText(page.getByTestId("denied-sign-out"), "Back to sign in");
    await page.getByTestId("denied-sign-out").click();
    await visible(page.getByTestId("login-page"));
    // A reload shows the login page, not the refusal again.
    await page.reload();
    await visible(page.getByTestId("login-page"));
    await count(page.getByTestId("denied-page"), 0);
  } finally {
    github.user = { id: 583231, login: "alice" };
  }
  expect(errors).toEqual([]);
  await ctx.close();
});
