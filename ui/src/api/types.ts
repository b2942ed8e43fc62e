// Generated from crates/caic-api by crates/caic-server/tests/ts_types.rs; do not edit.
// Refresh: CAIC_UPDATE_TS=1 cargo test -p caic-server --test ts_types

export type JsonValue = number | string | boolean | Array<JsonValue> | { [key in string]: JsonValue } | null;

/**
 * Machine-readable error class; each maps to one HTTP status.
 */
export type ErrorCode = "BAD_REQUEST" | "UNAUTHORIZED" | "FORBIDDEN" | "NOT_FOUND" | "METHOD_NOT_ALLOWED" | "CONFLICT" | "PAYLOAD_TOO_LARGE" | "INTERNAL_ERROR" | "UNAVAILABLE";

/**
 * The `error` member of the envelope.
 */
export type ErrorBody = { 
/**
 * Error class.
 */
code: ErrorCode, 
/**
 * Human-readable explanation, safe to show to a user. On a 5xx, a generic message:
 * the detail is in the server's log under `requestId`.
 */
message: string, 
/**
 * The request's id (also in the `X-Request-Id` header), on a 5xx: what to quote
 * to whoever reads the server's log.
 */
requestId?: string, };

/**
 * The full error envelope returned by every failing API call.
 */
export type ApiError = { 
/**
 * What went wrong.
 */
error: ErrorBody, 
/**
 * Extra structured context, e.g. `{"state":"stopped"}` on a 409.
 */
details?: JsonValue, };

/**
 * Where a task is in its life.
 */
export type TaskState = "pending" | "branching" | "provisioning" | "starting" | "running" | "waiting" | "asking" | "has_plan" | "stopping" | "stopped" | "purging" | "purged" | "failed";

/**
 * A user action on a task.
 */
export type Action = "input" | "stop" | "revive" | "purge" | "restart" | "diff" | "sync" | "interrupt";

/**
 * An image attached to a prompt.
 */
export type ImageData = { 
/**
 * `image/png`, `image/jpeg`, `image/gif` or `image/webp`.
 */
mediaType: string, 
/**
 * Base64 of the image bytes.
 */
data: string, };

/**
 * What a user sends to an agent: text and optional images.
 */
export type Prompt = { 
/**
 * The text of the message.
 */
text: string, 
/**
 * Images attached to the message.
 */
images: Array<ImageData>, };

/**
 * Token counts for one model call or a whole turn.
 */
export type Usage = { 
/**
 * Uncached input tokens.
 */
inputTokens: number, 
/**
 * Output tokens.
 */
outputTokens: number, 
/**
 * Input tokens written to the prompt cache.
 */
cacheCreationInputTokens: number, 
/**
 * Input tokens read from the prompt cache.
 */
cacheReadInputTokens: number, };

/**
 * One changed file in a diff stat.
 */
export type DiffFile = { 
/**
 * Path relative to the repo root.
 */
path: string, 
/**
 * Lines added.
 */
added: number, 
/**
 * Lines deleted.
 */
deleted: number, 
/**
 * True for binary files (no line counts).
 */
binary: boolean, };

/**
 * One choice offered by an `ask` question.
 */
export type AskOption = { 
/**
 * Short label.
 */
label: string, 
/**
 * Longer explanation.
 */
description?: string, };

/**
 * A question the agent asks the user.
 */
export type AskQuestion = { 
/**
 * The question.
 */
question: string, 
/**
 * Short header shown above it.
 */
header?: string, 
/**
 * Choices.
 */
options: Array<AskOption>, 
/**
 * Several choices may be picked.
 */
multiSelect: boolean, };

/**
 * One entry of the agent's todo list.
 */
export type TodoItem = { 
/**
 * What to do.
 */
content: string, 
/**
 * `pending`, `in_progress` or `completed`.
 */
status: string, 
/**
 * Present-tense form shown while in progress.
 */
activeForm?: string, };

/**
 * What happened, tagged by `kind`.
 */
export type EventData = { "kind": "init", 
/**
 * Model the agent runs.
 */
model: string, 
/**
 * Agent CLI version.
 */
agentVersion: string, 
/**
 * Session id, used to resume.
 */
sessionId: string, 
/**
 * Tools the agent has.
 */
tools: Array<string>, 
/**
 * Working directory in the container.
 */
cwd: string, } | { "kind": "text", 
/**
 * The text.
 */
text: string, } | { "kind": "textDelta", 
/**
 * The piece.
 */
text: string, } | { "kind": "thinking", 
/**
 * The text.
 */
text: string, } | { "kind": "thinkingDelta", 
/**
 * The piece.
 */
text: string, } | { "kind": "toolUse", 
/**
 * Id pairing this call with its result.
 */
toolUseId: string, 
/**
 * Tool name (`Bash`, `Read`, `Edit`, `Write`, ...).
 */
name: string, 
/**
 * Tool input as JSON.
 */
input: JsonValue, } | { "kind": "toolResult", 
/**
 * Id of the matching `toolUse`.
 */
toolUseId: string, 
/**
 * Output text, possibly trimmed.
 */
output: string, 
/**
 * Error text when the tool failed.
 */
error?: string, 
/**
 * Milliseconds since the matching `toolUse`, measured by caic.
 */
durationMs?: number, } | { "kind": "ask", 
/**
 * Id of the tool call that asked.
 */
toolUseId: string, 
/**
 * The questions.
 */
questions: Array<AskQuestion>, } | { "kind": "todo", 
/**
 * Id of the tool call.
 */
toolUseId: string, 
/**
 * The full list.
 */
todos: Array<TodoItem>, } | { "kind": "usage", 
/**
 * The counts.
 */
usage: Usage, 
/**
 * Model that was called.
 */
model: string, } | { "kind": "result", 
/**
 * `success` or an error subtype.
 */
subtype: string, 
/**
 * True when the turn failed.
 */
isError: boolean, 
/**
 * The agent's final text.
 */
result: string, 
/**
 * Cost of the session so far, USD.
 */
totalCostUsd: number, 
/**
 * Wall time of the turn, ms.
 */
durationMs: number, 
/**
 * Model turns in the session so far.
 */
numTurns: number, 
/**
 * Tokens of the turn.
 */
usage: Usage, 
/**
 * Files changed so far, when known.
 */
diffStat: Array<DiffFile>, 
/**
 * The model's context window as the agent reports it, when it does.
 */
contextWindow?: number, } | { "kind": "system", 
/**
 * What kind of notice.
 */
subtype: string, 
/**
 * Extra text.
 */
detail?: string, } | { "kind": "userInput", 
/**
 * The text.
 */
text: string, 
/**
 * How many images were attached.
 */
images: number, } | { "kind": "diffStat", 
/**
 * One entry per file.
 */
diffStat: Array<DiffFile>, } | { "kind": "log", 
/**
 * The line.
 */
line: string, } | { "kind": "error", 
/**
 * What went wrong.
 */
message: string, 
/**
 * The offending raw line, if any.
 */
line?: string, } | { "kind": "subagentStart", 
/**
 * Its id.
 */
taskId: string, 
/**
 * What it does.
 */
description: string, } | { "kind": "subagentEnd", 
/**
 * Its id.
 */
taskId: string, 
/**
 * `completed`, `failed` or `stopped`.
 */
status: string, } | { "kind": "pr", 
/**
 * `github` or `gitlab`.
 */
forge: string, 
/**
 * PR number or MR iid.
 */
number: number, 
/**
 * Its web page.
 */
url: string, } | { "kind": "ci", 
/**
 * The commit.
 */
sha: string, 
/**
 * The verdict so far.
 */
state: CiState, 
/**
 * Checks finished.
 */
done: number, 
/**
 * All checks.
 */
total: number, 
/**
 * One entry per check.
 */
checks: Array<CiCheck>, };

/**
 * One event in a task's history, as stored and streamed.
 */
export type Event = { 
/**
 * Position in the task's history, from 0, never reused.
 */
seq: number, 
/**
 * When caic saw it, Unix milliseconds.
 */
ts: number, } & ({ "kind": "init", 
/**
 * Model the agent runs.
 */
model: string, 
/**
 * Agent CLI version.
 */
agentVersion: string, 
/**
 * Session id, used to resume.
 */
sessionId: string, 
/**
 * Tools the agent has.
 */
tools: Array<string>, 
/**
 * Working directory in the container.
 */
cwd: string, } | { "kind": "text", 
/**
 * The text.
 */
text: string, } | { "kind": "textDelta", 
/**
 * The piece.
 */
text: string, } | { "kind": "thinking", 
/**
 * The text.
 */
text: string, } | { "kind": "thinkingDelta", 
/**
 * The piece.
 */
text: string, } | { "kind": "toolUse", 
/**
 * Id pairing this call with its result.
 */
toolUseId: string, 
/**
 * Tool name (`Bash`, `Read`, `Edit`, `Write`, ...).
 */
name: string, 
/**
 * Tool input as JSON.
 */
input: JsonValue, } | { "kind": "toolResult", 
/**
 * Id of the matching `toolUse`.
 */
toolUseId: string, 
/**
 * Output text, possibly trimmed.
 */
output: string, 
/**
 * Error text when the tool failed.
 */
error?: string, 
/**
 * Milliseconds since the matching `toolUse`, measured by caic.
 */
durationMs?: number, } | { "kind": "ask", 
/**
 * Id of the tool call that asked.
 */
toolUseId: string, 
/**
 * The questions.
 */
questions: Array<AskQuestion>, } | { "kind": "todo", 
/**
 * Id of the tool call.
 */
toolUseId: string, 
/**
 * The full list.
 */
todos: Array<TodoItem>, } | { "kind": "usage", 
/**
 * The counts.
 */
usage: Usage, 
/**
 * Model that was called.
 */
model: string, } | { "kind": "result", 
/**
 * `success` or an error subtype.
 */
subtype: string, 
/**
 * True when the turn failed.
 */
isError: boolean, 
/**
 * The agent's final text.
 */
result: string, 
/**
 * Cost of the session so far, USD.
 */
totalCostUsd: number, 
/**
 * Wall time of the turn, ms.
 */
durationMs: number, 
/**
 * Model turns in the session so far.
 */
numTurns: number, 
/**
 * Tokens of the turn.
 */
usage: Usage, 
/**
 * Files changed so far, when known.
 */
diffStat: Array<DiffFile>, 
/**
 * The model's context window as the agent reports it, when it does.
 */
contextWindow?: number, } | { "kind": "system", 
/**
 * What kind of notice.
 */
subtype: string, 
/**
 * Extra text.
 */
detail?: string, } | { "kind": "userInput", 
/**
 * The text.
 */
text: string, 
/**
 * How many images were attached.
 */
images: number, } | { "kind": "diffStat", 
/**
 * One entry per file.
 */
diffStat: Array<DiffFile>, } | { "kind": "log", 
/**
 * The line.
 */
line: string, } | { "kind": "error", 
/**
 * What went wrong.
 */
message: string, 
/**
 * The offending raw line, if any.
 */
line?: string, } | { "kind": "subagentStart", 
/**
 * Its id.
 */
taskId: string, 
/**
 * What it does.
 */
description: string, } | { "kind": "subagentEnd", 
/**
 * Its id.
 */
taskId: string, 
/**
 * `completed`, `failed` or `stopped`.
 */
status: string, } | { "kind": "pr", 
/**
 * `github` or `gitlab`.
 */
forge: string, 
/**
 * PR number or MR iid.
 */
number: number, 
/**
 * Its web page.
 */
url: string, } | { "kind": "ci", 
/**
 * The commit.
 */
sha: string, 
/**
 * The verdict so far.
 */
state: CiState, 
/**
 * Checks finished.
 */
done: number, 
/**
 * All checks.
 */
total: number, 
/**
 * One entry per check.
 */
checks: Array<CiCheck>, });

/**
 * `POST /api/v1/tasks`: start a task.
 */
export type CreateTaskReq = { 
/**
 * Repo id, as listed by `GET /api/v1/server/repos`.
 */
repo: string, 
/**
 * Branch to start from; the repo's default branch when absent.
 */
baseBranch?: string, 
/**
 * Harness name, as listed by `GET /api/v1/server/harnesses`.
 */
harness: string, 
/**
 * Model; the harness default when absent.
 */
model?: string, 
/**
 * The first prompt.
 */
prompt: string, 
/**
 * Images attached to the first prompt.
 */
images: Array<ImageData>, 
/**
 * Pass a forge token to the agent at each session start (env only; S17).
 */
injectToken?: boolean, };

/**
 * Answer to a task creation: the task is recorded and starts in the background.
 */
export type CreateTaskResp = { 
/**
 * The new task's id.
 */
id: string, 
/**
 * Always `accepted`.
 */
status: string, };

/**
 * `POST /api/v1/tasks/{id}/input`: a follow-up message.
 */
export type InputReq = { 
/**
 * The message.
 */
prompt: Prompt, };

/**
 * `POST /api/v1/tasks/{id}/restart`: a new agent session, history kept.
 */
export type RestartReq = { 
/**
 * The first message of the new session.
 */
prompt: Prompt, };

/**
 * A generic acknowledgement.
 */
export type StatusResp = { 
/**
 * What happened, e.g. `sent`, `stopping`.
 */
status: string, };

/**
 * `GET /api/v1/tasks/{id}/diff`.
 */
export type DiffResp = { 
/**
 * Unified diff of the work against the branch point, untracked files included.
 */
diff: string, 
/**
 * Per-file line counts.
 */
diffStat: Array<DiffFile>, };

/**
 * How long each phase of a task's start took, ms since the task was created.
 */
export type StartupTimings = { 
/**
 * Branch `caic-N` created in the host repo.
 */
branchMs?: number, 
/**
 * Container created and started.
 */
containerMs?: number, 
/**
 * SSH into the container answered.
 */
sshMs?: number, 
/**
 * Repo pushed into the container.
 */
pushMs?: number, 
/**
 * Agent started under the relay.
 */
agentMs?: number, 
/**
 * First prompt written to the agent.
 */
promptMs?: number, 
/**
 * First line of agent output received.
 */
firstOutputMs?: number, };

/**
 * A pull request (GitHub) or merge request (GitLab) for a task's branch.
 */
export type PullInfo = { 
/**
 * `github` or `gitlab`.
 */
forge: string, 
/**
 * The number people see: PR number or MR iid.
 */
number: number, 
/**
 * Its web page.
 */
url: string, };

/**
 * Where a commit's CI stands as a whole.
 */
export type CiState = "pending" | "passed" | "failed";

/**
 * Where one check stands: `pending`, `passed`, `failed` or `skipped`.
 */
export type CiCheck = { 
/**
 * Its name as the forge shows it.
 */
name: string, 
/**
 * `pending`, `passed`, `failed` or `skipped`.
 */
state: string, 
/**
 * Its web page, when known.
 */
url?: string, };

/**
 * The CI status of the last commit caic pushed for a task.
 */
export type CiInfo = { 
/**
 * The commit the checks ran on.
 */
sha: string, 
/**
 * The verdict so far.
 */
state: CiState, 
/**
 * Checks finished.
 */
done: number, 
/**
 * All checks.
 */
total: number, 
/**
 * One entry per check.
 */
checks: Array<CiCheck>, };

/**
 * A task as the API shows it.
 */
export type Task = { 
/**
 * Sortable unique id.
 */
id: string, 
/**
 * Short title (the first prompt's first line for now).
 */
title: string, 
/**
 * The first prompt.
 */
prompt: string, 
/**
 * Repo id.
 */
repo: string, 
/**
 * Branch the work started from.
 */
baseBranch: string, 
/**
 * The task's own branch, `caic-N` (empty until reserved).
 */
branch: string, 
/**
 * Harness name.
 */
harness: string, 
/**
 * Model, when chosen or reported.
 */
model?: string, 
/**
 * Current state.
 */
state: TaskState, 
/**
 * When the state last changed, Unix ms.
 */
stateUpdatedAt: number, 
/**
 * When the task was created, Unix ms.
 */
createdAt: number, 
/**
 * Container name, once created.
 */
container?: string, 
/**
 * Agent session id, once known.
 */
sessionId?: string, 
/**
 * Agent CLI version, once known.
 */
agentVersion?: string, 
/**
 * Last error, if any.
 */
error?: string, 
/**
 * The agent's last result text.
 */
result?: string, 
/**
 * Cost so far, USD, over all sessions.
 */
costUsd: number, 
/**
 * Agent time so far, ms.
 */
durationMs: number, 
/**
 * Model turns so far.
 */
numTurns: number, 
/**
 * Cumulative input tokens.
 */
inputTokens: number, 
/**
 * Cumulative output tokens.
 */
outputTokens: number, 
/**
 * Input tokens of the last model call (context fill).
 */
activeInputTokens: number, 
/**
 * The model's context window.
 */
contextWindowLimit: number, 
/**
 * Files changed so far.
 */
diffStat: Array<DiffFile>, 
/**
 * How long the start took, phase by phase (this server run only).
 */
startup?: StartupTimings, 
/**
 * The pull/merge request opened for the task's branch.
 */
pr?: PullInfo, 
/**
 * CI of the last pushed commit.
 */
ci?: CiInfo, };

/**
 * A git repo caic can start tasks in.
 */
export type Repo = { 
/**
 * Path relative to the repos root; the repo id.
 */
path: string, 
/**
 * Default branch.
 */
baseBranch: string, 
/**
 * `origin` URL, if any.
 */
remoteUrl?: string, };

/**
 * `GET /api/v1/server/repos/branches?repo=`.
 */
export type BranchesResp = { 
/**
 * Branch names, default branch first.
 */
branches: Array<string>, };

/**
 * A harness a task can use.
 */
export type HarnessInfo = { 
/**
 * Name used in `CreateTaskReq.harness`.
 */
name: string, 
/**
 * Models offered; the first is the default.
 */
models: Array<string>, 
/**
 * Whether prompts may carry images.
 */
supportsImages: boolean, 
/**
 * Context window in tokens.
 */
contextWindow: number, 
/**
 * Environment variables that carry the agent's credentials (any one is enough).
 * caic passes them to the agent process over SSH at each session start, from
 * `[harness.<name>.env]` or caic's own environment; never in the image or labels.
 */
credentialEnv: Array<string>, 
/**
 * Whether one of `credential_env` is configured (true when none is needed).
 */
credentialsConfigured: boolean, };

/**
 * One message on the task-list stream `GET /api/v1/server/tasks/events`.
 */
export type TaskListEvent = { "kind": "snapshot", 
/**
 * The tasks.
 */
tasks: Array<Task>, } | { "kind": "upsert", 
/**
 * The task.
 */
task: Task, } | { "kind": "patch", 
/**
 * The changed fields.
 */
patch: JsonValue, } | { "kind": "delete", 
/**
 * Its id.
 */
id: string, };

/**
 * Where `POST /api/v1/tasks/{id}/sync` publishes the work.
 */
export type SyncTarget = "branch" | "default";

/**
 * `POST /api/v1/tasks/{id}/sync`: bring the work back to the host repo and publish it.
 */
export type SyncReq = { 
/**
 * Branch (default) or default branch.
 */
target: SyncTarget, 
/**
 * Push despite scan findings (branch target only).
 */
force: boolean, };

/**
 * A finding of the pre-push scan.
 */
export type SafetyIssue = { 
/**
 * File path in the repo.
 */
file: string, 
/**
 * Line in the new file, when it applies.
 */
line?: number, 
/**
 * `aws_access_key`, `github_token`, `generic_api_key`, `private_key`,
 * `config_credential` or `large_binary`.
 */
kind: string, 
/**
 * What was found, with any secret masked.
 */
detail: string, };

/**
 * Result of a sync.
 */
export type SyncResp = { 
/**
 * `synced`, `blocked` (scan findings) or `empty` (nothing to publish).
 */
status: string, 
/**
 * The branch the work was pushed to.
 */
branch: string, 
/**
 * The commit pushed, when one was.
 */
commit?: string, 
/**
 * Files changed by the work.
 */
diffStat: Array<DiffFile>, 
/**
 * Findings of the pre-push scan.
 */
safetyIssues: Array<SafetyIssue>, 
/**
 * The pull/merge request for the pushed branch, when the remote is a known forge
 * and a credential is available.
 */
pr?: PullInfo, };

/**
 * `GET /api/v1/auth/me`: who is logged in.
 */
export type UserResp = { 
/**
 * Stable user id, `provider:numeric id` (e.g. `github:583231`).
 */
id: string, 
/**
 * The login name at the provider.
 */
username: string, 
/**
 * `github` or `gitlab`.
 */
provider: string, 
/**
 * Avatar image URL.
 */
avatarUrl?: string, };

/**
 * `GET /api/v1/server/config`: what the UI needs before anyone logs in.
 */
export type ServerConfig = { 
/**
 * Whether login is required (at least one OAuth provider is configured).
 */
authEnabled: boolean, 
/**
 * The configured login providers (`github`, `gitlab`), one login button each;
 * start a login at `/api/v1/auth/{provider}/start`.
 */
authProviders: Array<string>, };

/** Which states allow each action (from caic_api::TaskState::allows). */
export const ALLOWED: Record<Action, TaskState[]> = {
  input: ["running", "waiting", "asking", "has_plan"],
  stop: ["starting", "running", "waiting", "asking", "has_plan"],
  revive: ["stopped", "failed"],
  purge: ["starting", "running", "waiting", "asking", "has_plan", "stopped", "failed"],
  restart: ["waiting", "asking", "has_plan"],
  diff: ["running", "waiting", "asking", "has_plan"],
  sync: ["running", "waiting", "asking", "has_plan"],
  interrupt: ["running"],
};
