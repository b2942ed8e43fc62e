// Thin fetch wrappers over caic's REST API.
import type {
  ApiError,
  BranchesResp,
  CreateTaskReq,
  CreateTaskResp,
  DiffResp,
  HarnessInfo,
  Prompt,
  Repo,
  StatusResp,
  SyncResp,
  SyncTarget,
} from "./types";
import { sessionLost } from "../lib/auth";

/** A failed API call, with the server's message. */
export class RequestError extends Error {
  constructor(
    readonly status: number,
    readonly body: ApiError | undefined,
    message: string,
  ) {
    super(message);
  }
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const r = await fetch(path, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!r.ok) {
    if (r.status === 401) sessionLost();
    const err = json as ApiError | undefined;
    throw new RequestError(r.status, err, err?.error?.message ?? `${r.status} ${r.statusText}`);
  }
  return json as T;
}

export const api = {
  repos: () => call<Repo[]>("GET", "/api/v1/server/repos"),
  branches: (repo: string) =>
    call<BranchesResp>("GET", `/api/v1/server/repos/branches?repo=${encodeURIComponent(repo)}`),
  harnesses: () => call<HarnessInfo[]>("GET", "/api/v1/server/harnesses"),
  create: (req: CreateTaskReq) => call<CreateTaskResp>("POST", "/api/v1/tasks", req),
  input: (id: string, prompt: Prompt) => call<StatusResp>("POST", `/api/v1/tasks/${id}/input`, { prompt }),
  restart: (id: string, prompt: Prompt) => call<StatusResp>("POST", `/api/v1/tasks/${id}/restart`, { prompt }),
  stop: (id: string) => call<StatusResp>("POST", `/api/v1/tasks/${id}/stop`),
  revive: (id: string) => call<StatusResp>("POST", `/api/v1/tasks/${id}/revive`),
  purge: (id: string) => call<StatusResp>("POST", `/api/v1/tasks/${id}/purge`),
  diff: (id: string) => call<DiffResp>("GET", `/api/v1/tasks/${id}/diff`),
  sync: (id: string, target: SyncTarget, force = false) =>
    call<SyncResp>("POST", `/api/v1/tasks/${id}/sync`, { target, force }),
  fixCi: (id: string) => call<StatusResp>("POST", `/api/v1/tasks/${id}/fix-ci`),
};
