// A scratch world for the browser tests, like tests/tests/common/mod.rs: a repos root
// with one git repo (and its bare origin), config and cache dirs, and a real
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

/** Temp dirs and a repo. */
export class World {
  readonly tmp = mkdtempSync(join(tmpdir(), "caic-e2e-"));
  readonly root = join(this.tmp, "src");
  readonly repoId = `web${this.tmp.slice(-6).replace(/[^a-z0-9]/gi, "").toLowerCase()}`;
  readonly repo = join(this.root, this.repoId);
  readonly config = join(this.tmp, "config");
  readonly cache = join(this.tmp, "cache");

  constructor() {
    const origin = join(this.tmp, "origin.git");
    mkdirSync(this.repo, { recursive: true });
    git(this.tmp, "init", "-q", "--bare", "-b", "main", origin);
    git(this.repo, "init", "-q", "-b", "main");
    git(this.repo, "config", "user.name", "Test User");
    git(this.repo, "config", "user.email", "test@example.com");
    writeFileSync(join(this.repo, "README.md"), "# demo\n");
    git(this.repo, "add", ".");
    git(this.repo, "commit", "-q", "-m", "initial");
    git(this.repo, "remote", "add", "origin", origin);
    git(this.repo, "push", "-q", "-u", "origin", "main");
    git(this.repo, "remote", "set-head", "origin", "main");
    git(this.repo, "branch", "feature-x");
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

/** A running `caic serve`. */
export class Caic {
  private constructor(
    readonly proc: ChildProcess,
    readonly base: string,
    readonly log: string,
  ) {}

  /** Starts caic for `world` on `listen` and waits for its address. */
  static async start(world: World, listen = "127.0.0.1:0"): Promise<Caic> {
    const log = join(world.tmp, `caic-${Date.now()}.log`);
    const err = createWriteStream(log);
    const proc = spawn(
      caicBin(),
      ["serve", "--listen", listen, "--root", world.root, "--config-dir", world.config, "--cache-dir", world.cache],
      { env: { ...process.env, CAIC_LOG: "info,caic=debug" }, stdio: ["ignore", "pipe", "pipe"] },
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
