// A small mock of the GitHub REST endpoints caic calls after a push (see
// crates/caic-forge/src/github.rs, and crates/caic-forge/src/mock.rs for the Rust twin):
// list and create pull requests, check runs of a commit, and Actions job logs (answered,
// as GitHub does, by a redirect to a pre-signed URL fetched without credentials).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** A check run as GitHub lists it. */
export type CheckRun = {
  id: number;
  name: string;
  status: "queued" | "in_progress" | "completed";
  conclusion: null | "success" | "failure" | "neutral" | "skipped" | "cancelled";
};

/** A pull request as the mock stores it. */
export type Pull = {
  number: number;
  state: "open" | "closed";
  title: string;
  body: string;
  html_url: string;
  head: { ref: string; label: string };
  base: { ref: string };
};

/** One request the mock received. */
export type Seen = { method: string; path: string; auth?: string };

/** The mock; tests change `checks`, `defaultChecks` and `logs` as CI "runs". */
export class MockGitHubApi {
  readonly pulls: Pull[] = [];
  /** Check runs per commit sha. */
  readonly checks = new Map<string, CheckRun[]>();
  /** Check runs of commits not in `checks`. */
  defaultChecks: CheckRun[] = [];
  /** Actions job logs per job id. */
  readonly logs = new Map<number, string>();
  readonly requests: Seen[] = [];
  /** Authorization headers seen by the pre-signed log downloads. */
  readonly presignedAuth: (string | undefined)[] = [];
  private readonly server: Server;

  constructor(readonly token: string) {
    this.server = createServer((req, res) => this.handle(req, res));
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async listen() {
    await new Promise<void>((ok) => this.server.listen(0, "127.0.0.1", ok));
  }

  close() {
    this.server.close();
    this.server.closeAllConnections();
  }

  private handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? "/", "http://mock");
    const send = (status: number, body: unknown, type = "application/json") => {
      res.writeHead(status, { "content-type": type });
      res.end(typeof body === "string" ? body : JSON.stringify(body));
    };
    const fail = (status: number, message: string) =>
      send(status, { message, documentation_url: "https://docs.github.com/rest" });
    this.requests.push({ method: req.method ?? "", path: url.pathname, auth: req.headers.authorization });

    const presigned = /^\/presigned\/job-(\d+)$/.exec(url.pathname);
    if (presigned) {
      this.presignedAuth.push(req.headers.authorization);
      const log = this.logs.get(Number(presigned[1]));
      return log === undefined ? fail(404, "Not Found") : send(200, log, "text/plain");
    }
    // GitHub refuses API requests without a User-Agent.
    if (!req.headers["user-agent"]) return fail(403, "Request forbidden by administrative rules.");
    if (req.headers.authorization !== `Bearer ${this.token}`) return fail(401, "Bad credentials");

    const m = /^\/repos\/([^/]+)\/([^/]+)(\/.*)$/.exec(url.pathname);
    if (!m) return fail(404, "Not Found");
    const [, owner, repo, rest] = m;

    if (rest === "/pulls" && req.method === "GET") {
      const state = url.searchParams.get("state") ?? "open";
      const head = url.searchParams.get("head");
      return send(
        200,
        this.pulls.filter((p) => (state === "all" || p.state === state) && (!head || head === p.head.label)),
      );
    }
    if (rest === "/pulls" && req.method === "POST") {
      let raw = "";
      req.on("data", (c) => (raw += c));
      req.on("end", () => {
        let body: { title?: string; body?: string; head?: string; base?: string };
        try {
          body = JSON.parse(raw);
        } catch {
          return fail(400, "Problems parsing JSON");
        }
        if (!body.title || !body.head || !body.base) return fail(422, "Validation Failed");
        if (this.pulls.some((p) => p.state === "open" && p.head.ref === body.head)) {
          return send(422, {
            message: "Validation Failed",
            errors: [{ resource: "PullRequest", code: "custom", message: `A pull request already exists for ${owner}:${body.head}.` }],
          });
        }
        const number = this.pulls.length + 1;
        const pull: Pull = {
          number,
          state: "open",
          title: body.title,
          body: body.body ?? "",
          html_url: `https://github.com/${owner}/${repo}/pull/${number}`,
          head: { ref: body.head, label: `${owner}:${body.head}` },
          base: { ref: body.base },
        };
        this.pulls.push(pull);
        send(201, pull);
      });
      return;
    }
    const runs = /^\/commits\/([0-9a-f]{40})\/check-runs$/.exec(rest);
    if (runs && req.method === "GET") {
      const list = this.checks.get(runs[1]) ?? this.defaultChecks;
      return send(200, {
        total_count: list.length,
        check_runs: list.map((c) => ({
          ...c,
          head_sha: runs[1],
          html_url: `https://github.com/${owner}/${repo}/actions/runs/7/job/${c.id}`,
          details_url: `https://github.com/${owner}/${repo}/actions/runs/7/job/${c.id}`,
          app: { slug: "github-actions" },
        })),
      });
    }
    const job = /^\/actions\/jobs\/(\d+)\/logs$/.exec(rest);
    if (job && req.method === "GET") {
      if (!this.logs.has(Number(job[1]))) return fail(404, "Not Found");
      res.writeHead(302, { location: `${this.url}/presigned/job-${job[1]}` });
      return res.end();
    }
    fail(404, "Not Found");
  }
}
