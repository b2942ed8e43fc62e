#!/usr/bin/env python3
"""caic's bridge to `codex app-server` (JSON-RPC 2.0 over stdio, one JSON object a line).

caic drives every agent by writing lines to its stdin and reading lines from its stdout,
with no request/response round trip of its own. This bridge does the round trips Codex
needs and passes everything else through:

- at start: `initialize` -> `initialized` -> `thread/start` (or `thread/resume` with
  `--resume THREAD_ID`, falling back to a new thread when the old one cannot be loaded);
- each stdin line `{"method":"turn/start","params":{"input":[...]}}` from caic gets an id
  and the thread id, and is sent when no turn is running (queued otherwise);
- a stdin line `{"method":"turn/interrupt"}` interrupts the running turn, if any; prompts
  queued behind it are kept and run next (a follow-up is never lost);
- approval requests from Codex are accepted (the container is the sandbox); other server
  requests are refused;
- every line Codex prints is copied to stdout unchanged, so caic's parser reads Codex's
  own protocol. The bridge's requests use string ids `caic-<method>-<n>` so their
  responses can be told apart.
- stdin EOF: the running turn and queued prompts finish, then Codex's stdin is closed;
  the bridge exits when Codex does, with its exit code.

Stdlib only; Python 3.9+.
"""

import argparse
import json
import os
import subprocess
import sys
import threading

CLIENT_VERSION = "1"


def emit(obj):
    """Writes one line of the bridge's own to stdout (caic reads it)."""
    with OUT_LOCK:
        sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
        sys.stdout.flush()


OUT_LOCK = threading.Lock()


def provider_config():
    """`-c` overrides pointing Codex at an OpenAI-compatible Responses API.

    With OPENAI_API_KEY in the environment (caic passes it per session, never in the image),
    Codex uses a provider that reads that key, at OPENAI_BASE_URL when set (a proxy, a mock)
    or at OpenAI's own endpoint. Without it Codex's own login applies.
    """
    if not os.environ.get("OPENAI_API_KEY"):
        return []
    url = os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
    provider = "{name=%s,base_url=%s,env_key=%s,wire_api=%s}" % (
        json.dumps("OpenAI (caic)"),
        json.dumps(url),
        json.dumps("OPENAI_API_KEY"),
        json.dumps("responses"),
    )
    return ['model_provider="caic-openai"', "model_providers.caic-openai=" + provider]


class Bridge:
    def __init__(self, args):
        self.args = args
        argv = [args.codex, "app-server"]
        for kv in provider_config() + args.config:
            argv += ["-c", kv]
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,
        )
        self.lock = threading.Condition()
        self.responses = {}
        self.thread_id = None
        self.turn_id = None
        self.turn_running = False
        self.queue = []
        self.seq = 0
        self.closed = False
        self.sandbox_policy = {"type": "externalSandbox", "networkAccess": "enabled"}

    # -- wire -------------------------------------------------------------------------
    def send(self, obj):
        data = (json.dumps(obj, separators=(",", ":")) + "\n").encode()
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass

    def request(self, method, params):
        with self.lock:
            self.seq += 1
            rid = "caic-%s-%d" % (method, self.seq)
        self.send({"id": rid, "method": method, "params": params})
        return rid

    def wait(self, rid):
        with self.lock:
            while rid not in self.responses and not self.closed:
                self.lock.wait()
            return self.responses.pop(rid, None)

    # -- codex -> stdout ----------------------------------------------------------------
    def pump(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if not line.strip():
                continue
            with OUT_LOCK:
                sys.stdout.write(line + "\n")
                sys.stdout.flush()
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if isinstance(msg, dict):
                self.observe(msg)
        # Codex is gone (it exited, or was killed): so is the session.
        code = self.proc.wait()
        sys.stdout.flush()
        os._exit(code if code > 0 else (0 if code == 0 else 1))

    def observe(self, msg):
        method = msg.get("method")
        if method is None and "id" in msg:
            with self.lock:
                self.responses[msg["id"]] = msg
                self.lock.notify_all()
            return
        if "id" in msg and method:
            self.answer_server_request(msg)
            return
        params = msg.get("params") or {}
        if method == "turn/started":
            with self.lock:
                self.turn_id = (params.get("turn") or {}).get("id")
                self.turn_running = True
        elif method == "turn/completed":
            with self.lock:
                self.turn_running = False
                self.turn_id = None
                self.lock.notify_all()
            self.next_turn()

    def answer_server_request(self, msg):
        method = msg["method"]
        if method.endswith("/requestApproval") or method in (
            "execCommandApproval",
            "applyPatchApproval",
        ):
            result = {"decision": "accept"}
            if method in ("execCommandApproval", "applyPatchApproval"):
                result = {"decision": "approved"}
            self.send({"id": msg["id"], "result": result})
        else:
            self.send(
                {
                    "id": msg["id"],
                    "error": {"code": -32601, "message": "caic does not handle " + method},
                }
            )

    # -- stdin -> codex -------------------------------------------------------------------
    def start_thread(self):
        common = {
            "cwd": os.getcwd(),
            "approvalPolicy": "never",
            "sandbox": "danger-full-access",
        }
        if self.args.model:
            common["model"] = self.args.model
        if self.args.resume:
            rid = self.request(
                "thread/resume", dict(common, threadId=self.args.resume, excludeTurns=True)
            )
            resp = self.wait(rid)
            if resp is not None and "result" in resp:
                self.thread_id = resp["result"]["thread"]["id"]
                return True
        rid = self.request("thread/start", common)
        resp = self.wait(rid)
        if resp is None or "result" not in resp:
            return False
        self.thread_id = resp["result"]["thread"]["id"]
        return True

    def next_turn(self):
        with self.lock:
            if self.turn_running or not self.queue:
                return
            params = self.queue.pop(0)
            self.turn_running = True
        params["threadId"] = self.thread_id
        params.setdefault("sandboxPolicy", self.sandbox_policy)
        params.setdefault("approvalPolicy", "never")
        rid = self.request("turn/start", params)
        # A turn/start the server refuses never starts a turn.
        threading.Thread(target=self.check_turn_start, args=(rid,), daemon=True).start()

    def check_turn_start(self, rid):
        resp = self.wait(rid)
        if resp is None or "error" in resp:
            with self.lock:
                self.turn_running = False
                self.lock.notify_all()
            self.next_turn()

    def on_line(self, line):
        try:
            msg = json.loads(line)
        except ValueError:
            emit({"method": "caic/error", "params": {"message": "bridge: input is not JSON"}})
            return
        method = msg.get("method") if isinstance(msg, dict) else None
        if method == "turn/start":
            with self.lock:
                self.queue.append(dict(msg.get("params") or {}))
            self.next_turn()
        elif method == "turn/interrupt":
            with self.lock:
                turn = self.turn_id
            if turn:
                self.request("turn/interrupt", {"threadId": self.thread_id, "turnId": turn})
        else:
            emit({"method": "caic/error", "params": {"message": "bridge: unknown input %r" % method}})

    def run(self):
        threading.Thread(target=self.pump, daemon=True).start()
        rid = self.request(
            "initialize",
            {
                "clientInfo": {"name": "caic", "title": "caic", "version": CLIENT_VERSION},
                "capabilities": {"experimentalApi": True},
            },
        )
        if self.wait(rid) is None:
            return self.finish()
        self.send({"method": "initialized"})
        if not self.start_thread():
            return self.finish()
        for raw in sys.stdin:
            line = raw.strip()
            if line:
                self.on_line(line)
        # EOF: let the running and queued turns end, then let Codex exit.
        with self.lock:
            while (self.turn_running or self.queue) and not self.closed:
                self.lock.wait()
        return self.finish()

    def finish(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            return self.proc.wait()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--codex", default="codex", help="the codex executable")
    p.add_argument("--model")
    p.add_argument("--resume", metavar="THREAD_ID")
    p.add_argument("-c", "--config", action="append", default=[], metavar="KEY=VALUE")
    args = p.parse_args()
    # Codex refuses a CODEX_HOME that does not exist.
    home = os.environ.get("CODEX_HOME") or os.path.join(os.path.expanduser("~"), ".codex")
    os.makedirs(home, exist_ok=True)
    sys.exit(Bridge(args).run())


if __name__ == "__main__":
    main()
