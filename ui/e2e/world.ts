// A scratch world for the browser tests, like tests/tests/common/mod.rs: a repos root
// with two git repos (each with its bare origin), config and cache dirs, and a real
// `caic serve` on loopback.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";

/** The `caic` binary: $CAIC_BIN, else the debug build in $CARGO_TARGET_DIR. */
export function caicBin(): string {
  const bin =
    process.env.CAIC_BIN ?? join(process.env.CARGO_TARGET_DIR ?? fileURLToPath(new URL("../../target", import.meta.url)), "debug/caic");
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run cargo build -p caic-cli (or set CAIC_BIN)`);
  return bin;
}

const git = (cwd: string, ...args: string[]) => execFileSync("git", args, { cwd, stdio: "pipe" }).toString().trim();

/** Makes a repo at `dir` with one commit on `main`, a bare origin, and `branches`. */
function makeRepo(tmp: string, dir: string, readme: string, branches: string[]) {
  const origin = join(tmp, `${dir.split("/").pop()}-origin.git`);
  mkdirSync(dir, { recursive: true });
  git(tmp, "init", "-q", "--bare", "-b", "main", origin);
  git(dir, "init", "-q", "-b", "main");
  git(dir, "config", "user.name", "Test User");
  git(dir, "config", "user.email", "test@example.com");
  writeFileSync(join(dir, "README.md"), readme);
  git(dir, "add", ".");
  git(dir, "commit", "-q", "-m", "initial");
  git(dir, "remote", "add", "origin", origin);
  git(dir, "push", "-q", "-u", "origin", "main");
  git(dir, "remote", "set-head", "origin", "main");
  for (const b of branches) git(dir, "branch", b);
}

/** Temp dirs and two repos: `repoId` (with a `feature-x` branch) and `repo2Id`. */
export class World {
  readonly tmp = mkdtempSync(join(tmpdir(), "caic-e2e-"));
  readonly root = join(this.tmp, "src");
  readonly repoId = `web${this.tmp.slice(-6).replace(/[^a-z0-9]/gi, "").toLowerCase()}`;
  readonly repo = join(this.root, this.repoId);
  /** A second repo, sorted after the first by name; its containers share the prefix. */
  readonly repo2Id = `${this.repoId}-lib`;
  readonly repo2 = join(this.root, this.repo2Id);
  readonly config = join(this.tmp, "config");
  readonly cache = join(this.tmp, "cache");

  /** `configToml`, when given, is written as the server's config.toml. */
  constructor(configToml?: string) {
    makeRepo(this.tmp, this.repo, "# demo\n", ["feature-x"]);
    makeRepo(this.tmp, this.repo2, "# library\n", []);
    if (configToml) {
      mkdirSync(this.config, { recursive: true, mode: 0o700 });
      writeFileSync(join(this.config, "config.toml"), configToml, { mode: 0o600 });
    }
  }

  /** The bare repo `origin` of `dir` (one of this world's repos). */
  originOf(dir: string): string {
    return join(this.tmp, `${dir.split("/").pop()}-origin.git`);
  }

  /**
   * Makes `dir`'s origin look like `https://github.com/<owner>/<name>.git` (so caic
   * treats it as a GitHub repo) while git still pushes to its bare repo on disk, through
   * `url.<bare>.insteadOf`. Returns the URL.
   */
  onGitHub(dir: string, owner = "acme"): string {
    const url = `https://github.com/${owner}/${dir.split("/").pop()}.git`;
    git(dir, "remote", "set-url", "origin", url);
    git(dir, "config", `url.${this.originOf(dir)}.insteadOf`, url);
    return url;
  }

  /** Removes this world's containers and files. */
  cleanup() {
    try {
      const ids = execFileSync("docker", ["ps", "-aq", "--filter", `name=caic-${this.repoId}-`]).toString().split(/\s+/).filter(Boolean);
      if (ids.length) execFileSync("docker", ["rm", "-f", ...ids], { stdio: "ignore" });
    } catch {
      /* best effort */
    }
    rmSync(this.tmp, { recursive: true, force: true });
  }
}

function withEnv(base: NodeJS.ProcessEnv, changes: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const out = { ...base };
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined) delete out[k];
    else out[k] = v;
  }
  return out;
}

/** A running `caic serve`. */
export class Caic {
  private constructor(
    readonly proc: ChildProcess,
    readonly base: string,
    readonly log: string,
  ) {}

  /**
   * Starts caic for `world` on `listen` and waits for its address; `env` adds to (or,
   * with `undefined`, removes from) this process's environment.
   */
  static async start(world: World, listen = "127.0.0.1:0", env: Record<string, string | undefined> = {}): Promise<Caic> {
    const log = join(world.tmp, `caic-${Date.now()}.log`);
    const err = createWriteStream(log);
    const proc = spawn(
      caicBin(),
      ["serve", "--listen", listen, "--root", world.root, "--config-dir", world.config, "--cache-dir", world.cache],
      { env: withEnv({ ...process.env, CAIC_LOG: "info,caic=debug" }, env), stdio: ["ignore", "pipe", "pipe"] },
    );
    proc.stderr!.pipe(err);
    const base = await new Promise<string>((ok, fail) => {
      const timer = setTimeout(() => fail(new Error("caic did not print its address in 60s")), 60_000);
      const rl = createInterface({ input: proc.stdout! });
      rl.on("line", (l) => {
        if (l.startsWith("caic listening on ")) {
          clearTimeout(timer);
          ok(l.slice("caic listening on ".length).trim());
        }
      });
      proc.on("exit", (code) => {
        clearTimeout(timer);
        fail(new Error(`caic exited (${code}) before listening:\n${readFileSync(log, "utf8")}`));
      });
    });
    return new Caic(proc, base, log);
  }

  /** The `host:port` it listens on. */
  get hostPort(): string {
    return new URL(this.base).host;
  }

  /** Kills it the hard way, like a crash, and waits for it to exit. */
  async kill(): Promise<void> {
    if (this.proc.exitCode !== null) return;
    const gone = new Promise((ok) => this.proc.once("exit", ok));
    this.proc.kill("SIGKILL");
    await gone;
  }

  /** The end of its log, for failure messages. */
  tail(): string {
    return readFileSync(this.log, "utf8").split("\n").slice(-60).join("\n");
  }
}

/** A task as `GET /api/v1/tasks/{id}` answers (the fields the tests read). */
export type TaskInfo = { id: string; state: string; title: string; repo: string; branch: string; createdAt: number };

/** Starts a task with the fake harness through the API; returns its id. */
export async function createTask(caic: Caic, repo: string, prompt: string): Promise<string> {
  const r = await fetch(`${caic.base}/api/v1/tasks`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ repo, harness: "fake", prompt, images: [] }),
  });
  if (!r.ok) throw new Error(`create: ${r.status} ${await r.text()}`);
  return ((await r.json()) as { id: string }).id;
}

/** The task `id`, from the API. */
export async function getTask(caic: Caic, id: string): Promise<TaskInfo> {
  const r = await fetch(`${caic.base}/api/v1/tasks/${id}`);
  if (!r.ok) throw new Error(`get: ${r.status} ${await r.text()}`);
  return (await r.json()) as TaskInfo;
}

/** How many events the task's stream replays before `ready`. */
export async function countEvents(caic: Caic, id: string): Promise<number> {
  const ac = new AbortController();
  const r = await fetch(`${caic.base}/api/v1/tasks/${id}/events`, { signal: ac.signal });
  const reader = r.body!.getReader();
  const dec = new TextDecoder();
  let buf = "";
  let n = 0;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return n;
      buf += dec.decode(value, { stream: true });
      let i: number;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (/^event: ready$/m.test(block)) return n;
        if (/^data: /m.test(block)) n++;
      }
    }
  } finally {
    ac.abort();
  }
}
