#!/usr/bin/env python3
"""A deterministic stand-in for Claude Code's headless stream-json mode.

caic's `fake` harness runs this instead of `claude`, so tests and demos need no model and
no credentials. It reads Claude stream-json user lines on stdin and writes Claude
stream-json on stdout, so caic parses it with its Claude parser. Python 3 stdlib only.

Each user message is one turn. Its text is read line by line; lines starting with one of
these commands act, other lines are just text:

  FAKE_WRITE <path> <content...>  Write tool: really writes the file (\\n in content = newline)
  FAKE_BASH <command...>          Bash tool: really runs the command in the cwd
  FAKE_ASK                        AskUserQuestion with three options; the turn ends there
  FAKE_PLAN                       writes a plan file, ExitPlanMode{plan}; the turn ends there
  FAKE_SLOW <seconds>             streams text deltas over that many seconds
  FAKE_TODO [done]                TodoWrite calls walking a three-item list until `done`
                                  items (0-3, default 3) are completed
  FAKE_REPEAT <n> <command...>    runs the command line n times (n <= 10000), e.g.
                                  `FAKE_REPEAT 1000 FAKE_BASH echo hi` for a long task
  FAKE_FAIL                       the turn ends with an error result
  FAKE_GARBAGE                    prints one line that is not JSON

Every turn starts with a system/init line, as Claude Code's does (it prints nothing before
the first user message). A turn without commands answers "You said: <text>". A control_request interrupt ends the
running turn like Claude Code does: control_response, "[Request interrupted by user]",
then an error_during_execution result. Stdin EOF: finish queued turns and exit 0.

Sessions are numbered per working directory and recorded in $CAIC_FAKE_STATE_DIR (default
~/.cache/caic-fake-agent) so --resume finds them. Like Claude Code, the turn and cost counters
a result reports are per process: a resumed session counts again from zero.
"""

import argparse
import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid

VERSION = "0.0.0-fake"
DEFAULT_MODEL = "fake-model"
TOOLS = ["Bash", "Edit", "Read", "Write", "Glob", "Grep", "TodoWrite", "AskUserQuestion", "ExitPlanMode"]
COST_PER_TURN = 0.01
MAX_OUTPUT = 64 * 1024
INTERRUPTED = "[Request interrupted by user]"
NAMESPACE = uuid.UUID("6f0c1b8e-7a55-4c2e-9d3a-1f0e5c7b2a90")


class Interrupted(Exception):
    """The client asked to interrupt the running turn."""


class TurnEnded(Exception):
    """A command ended the turn early (it already wrote its result)."""


class Out:
    """Serialised, flushed writes of whole lines to stdout."""

    def __init__(self):
        self.lock = threading.Lock()

    def raw(self, text):
        with self.lock:
            sys.stdout.buffer.write(text.encode("utf-8") + b"\n")
            sys.stdout.buffer.flush()

    def emit(self, obj):
        self.raw(json.dumps(obj, separators=(",", ":"), ensure_ascii=False))


class Agent:
    def __init__(self, args, out):
        self.out = out
        self.model = args.model or DEFAULT_MODEL
        self.cwd = os.getcwd()
        self.state_dir = os.environ.get("CAIC_FAKE_STATE_DIR") or os.path.join(
            os.path.expanduser("~"), ".cache", "caic-fake-agent"
        )
        self.num_turns = 0
        self.cost = 0.0
        self.seq = 0
        if args.resume:
            self.session_id = args.resume
            self._load()
        else:
            self.session_id = self._new_session_id()
        self.short = self.session_id.replace("-", "")[:8]
        self.interrupt = threading.Event()
        self.active = threading.Lock()
        self.turn_running = False

    # Session state.

    def _path(self, sid):
        return os.path.join(self.state_dir, sid + ".json")

    def _new_session_id(self):
        n = 0
        while True:
            sid = str(uuid.uuid5(NAMESPACE, "%s:%d" % (self.cwd, n)))
            if not os.path.exists(self._path(sid)):
                break
            n += 1
        self.session_id = sid
        self._save()
        return sid

    def _load(self):
        try:
            with open(self._path(self.session_id), encoding="utf-8") as f:
                st = json.load(f)
            self.seq = int(st.get("seq", 0))
        except (OSError, ValueError):
            pass

    def _save(self):
        try:
            os.makedirs(self.state_dir, exist_ok=True)
            tmp = self._path(self.session_id) + ".tmp"
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump({"num_turns": self.num_turns, "total_cost_usd": self.cost, "seq": self.seq}, f)
            os.replace(tmp, self._path(self.session_id))
        except OSError as e:
            print("fake_agent: cannot save state: %s" % e, file=sys.stderr)

    # Ids.

    def _next(self):
        self.seq += 1
        return self.seq

    def uid(self):
        return str(uuid.uuid5(NAMESPACE, "%s:uuid:%d" % (self.session_id, self._next())))

    def msg_id(self):
        return "msg_fake_%s_%d" % (self.short, self._next())

    def tool_id(self):
        return "toolu_fake_%s_%d" % (self.short, self._next())

    # Output helpers.

    def init(self):
        self.out.emit({
            "type": "system",
            "subtype": "init",
            "cwd": self.cwd,
            "session_id": self.session_id,
            "tools": TOOLS,
            "mcp_servers": [],
            "model": self.model,
            "permissionMode": "bypassPermissions",
            "slash_commands": [],
            "apiKeySource": "none",
            "claude_code_version": VERSION,
            "output_style": "default",
            "agents": [],
            "skills": [],
            "plugins": [],
            "uuid": self.uid(),
        })

    def stream(self, event):
        self.out.emit({
            "type": "stream_event",
            "event": event,
            "session_id": self.session_id,
            "parent_tool_use_id": None,
            "uuid": self.uid(),
        })

    def check(self):
        if self.interrupt.is_set():
            raise Interrupted()


class Turn:
    """One user message and everything the agent answers to it."""

    def __init__(self, agent, text, images):
        self.a = agent
        self.text = text
        self.images = images
        self.start = time.monotonic()
        self.usage = {"input_tokens": 0, "output_tokens": 0, "cache_creation_input_tokens": 0,
                      "cache_read_input_tokens": 0}
        self.last_text = ""
        self.did = []

    def _usage(self, output_text):
        u = {
            "input_tokens": 10 + len(self.text) // 4,
            "output_tokens": 1 + len(output_text) // 4,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 100 * self.a.num_turns,
        }
        for k, v in u.items():
            self.usage[k] += v
        return u

    def _assistant(self, mid, block, stop_reason):
        a = self.a
        a.out.emit({
            "type": "assistant",
            "message": {
                "id": mid,
                "type": "message",
                "role": "assistant",
                "model": a.model,
                "content": [block],
                "stop_reason": stop_reason,
                "stop_sequence": None,
                "usage": self._usage(block.get("text") or json.dumps(block.get("input"))),
            },
            "parent_tool_use_id": None,
            "session_id": a.session_id,
            "uuid": a.uid(),
        })

    def say(self, text, seconds=0.0):
        """Streams text as deltas (over `seconds`), then sends the whole message."""
        a = self.a
        a.check()
        mid = a.msg_id()
        n = max(2, int(seconds * 4)) if seconds > 0 else (2 if len(text) < 40 else 3)
        step = max(1, -(-len(text) // n))
        chunks = [text[i:i + step] for i in range(0, len(text), step)] or [""]
        while len(chunks) < 2:
            chunks.append("")
        a.stream({"type": "message_start", "message": {
            "id": mid, "type": "message", "role": "assistant", "model": a.model, "content": [],
            "stop_reason": None, "usage": {"input_tokens": 10, "output_tokens": 1}}})
        a.stream({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
        for chunk in chunks:
            if seconds > 0:
                deadline = time.monotonic() + seconds / len(chunks)
                while time.monotonic() < deadline:
                    a.check()
                    time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
            a.check()
            a.stream({"type": "content_block_delta", "index": 0,
                      "delta": {"type": "text_delta", "text": chunk}})
        a.stream({"type": "content_block_stop", "index": 0})
        self._assistant(mid, {"type": "text", "text": text}, None)
        a.stream({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                  "usage": {"output_tokens": 1 + len(text) // 4}})
        a.stream({"type": "message_stop"})
        self.last_text = text

    def tool_use(self, name, tool_input):
        self.a.check()
        tid = self.a.tool_id()
        block = {"type": "tool_use", "id": tid, "name": name, "input": tool_input}
        self._assistant(self.a.msg_id(), block, "tool_use")
        return tid

    def tool_result(self, tid, content, is_error=False):
        a = self.a
        a.out.emit({
            "type": "user",
            "message": {"role": "user", "content": [
                {"tool_use_id": tid, "type": "tool_result", "content": content, "is_error": is_error}]},
            "parent_tool_use_id": None,
            "session_id": a.session_id,
            "uuid": a.uid(),
        })

    def result(self, subtype="success", is_error=False, errors=None):
        a = self.a
        if self.usage["input_tokens"] == 0:
            # Ended before a whole message: the model still read the prompt.
            self._usage("")
        a.cost = round(a.cost + COST_PER_TURN, 6)
        ms = int((time.monotonic() - self.start) * 1000)
        line = {
            "type": "result",
            "subtype": subtype,
            "is_error": is_error,
            "duration_ms": ms,
            "duration_api_ms": ms,
            "num_turns": 1,  # model turns of this query, as Claude Code reports them
            "session_id": a.session_id,
            "total_cost_usd": a.cost,
            "usage": dict(self.usage),
            "modelUsage": {a.model: {
                "inputTokens": self.usage["input_tokens"],
                "outputTokens": self.usage["output_tokens"],
                "cacheReadInputTokens": self.usage["cache_read_input_tokens"],
                "cacheCreationInputTokens": 0,
                "costUSD": COST_PER_TURN,
            }},
            "permission_denials": [],
            "stop_reason": None if is_error else "end_turn",
            "uuid": a.uid(),
        }
        if errors is not None:
            line["errors"] = errors
        else:
            line["result"] = self.last_text
        a.out.emit(line)
        a._save()

    # Commands.

    def cmd_write(self, rest):
        parts = rest.split(None, 1)
        if not parts:
            self.say("FAKE_WRITE needs a path.")
            return
        rel = parts[0]
        content = (parts[1] if len(parts) > 1 else "").replace("\\n", "\n")
        path = os.path.normpath(os.path.join(self.a.cwd, rel))
        tid = self.tool_use("Write", {"file_path": path, "content": content})
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(content)
            self.tool_result(tid, "File created successfully at: %s" % path)
            self.did.append("wrote %s" % rel)
        except OSError as e:
            self.tool_result(tid, "<tool_use_error>%s</tool_use_error>" % e, True)
            self.did.append("failed to write %s" % rel)

    def cmd_bash(self, command):
        tid = self.tool_use("Bash", {"command": command, "description": "Run a shell command"})
        p = subprocess.Popen(command, shell=True, cwd=self.a.cwd, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        while True:
            try:
                raw, _ = p.communicate(timeout=0.1)
                break
            except subprocess.TimeoutExpired:
                if self.a.interrupt.is_set():
                    p.kill()
                    p.communicate()
                    self.tool_result(tid, "Interrupted by user", True)
                    raise Interrupted()
        output = raw.decode("utf-8", "replace")[:MAX_OUTPUT].rstrip("\n")
        if p.returncode != 0:
            self.tool_result(tid, ("Exit code %d\n%s" % (p.returncode, output)).rstrip("\n"), True)
        else:
            self.tool_result(tid, output)
        self.did.append("ran `%s` (exit %d)" % (command, p.returncode))

    def cmd_ask(self):
        self.say("I have a question before I go on.")
        self.tool_use("AskUserQuestion", {"questions": [{
            "question": "Which storage backend should I use?",
            "header": "Storage",
            "options": [
                {"label": "SQLite", "description": "One file, no server."},
                {"label": "PostgreSQL", "description": "A real database server."},
                {"label": "Plain files", "description": "JSON files on disk."},
            ],
            "multiSelect": False,
        }]})
        self.result()
        raise TurnEnded()

    def cmd_plan(self):
        plan = ("# Plan\n\n1. Read the code.\n2. Make the change.\n3. Run the tests.\n")
        plans = os.path.join(os.path.expanduser("~"), ".claude", "plans")
        path = os.path.join(plans, "fake-plan-%s-%d.md" % (self.a.short, self.a.num_turns))
        try:
            os.makedirs(plans, exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(plan)
        except OSError as e:
            print("fake_agent: cannot write plan: %s" % e, file=sys.stderr)
        self.say("Here is my plan.")
        self.tool_use("ExitPlanMode", {"plan": plan})
        self.result()
        raise TurnEnded()

    TODOS = [
        ("Read the code", "Reading the code"),
        ("Make the change", "Making the change"),
        ("Run the tests", "Running the tests"),
    ]

    def cmd_todo(self, arg):
        """Walks the todo list like Claude Code does: one TodoWrite per step, each with the
        whole list, until `arg` items are completed."""
        try:
            done = min(len(self.TODOS), max(0, int(arg)))
        except ValueError:
            done = len(self.TODOS)
        for step in range(done + 1):
            todos = []
            for i, (content, active) in enumerate(self.TODOS):
                status = "completed" if i < step else "in_progress" if i == step else "pending"
                todos.append({"content": content, "status": status, "activeForm": active})
            tid = self.tool_use("TodoWrite", {"todos": todos})
            self.tool_result(tid, "Todos have been modified successfully. Ensure that you continue to "
                                  "use the todo list to track your progress. Please proceed with the "
                                  "current tasks if applicable")
        self.did.append("%d of %d todos completed" % (done, len(self.TODOS)))

    def cmd_repeat(self, rest):
        parts = rest.split(None, 1)
        try:
            n = min(10000, max(0, int(parts[0])))
        except (IndexError, ValueError):
            n = 0
        line = parts[1] if len(parts) > 1 else ""
        if not n or not line.strip() or line.split()[0] == "FAKE_REPEAT":
            self.say("FAKE_REPEAT needs a count and a command.")
            return True
        before = len(self.did)
        said = False
        for _ in range(n):
            said = self.line(line) or said
        del self.did[before:]
        self.did.append("repeated `%s` %d times" % (line.strip(), n))
        return said

    def cmd_slow(self, arg):
        try:
            seconds = max(0.0, float(arg))
        except ValueError:
            seconds = 1.0
        self.say("Working slowly for %g seconds... done." % seconds, seconds)

    def cmd_fail(self):
        self.result("error_during_execution", True, ["FAKE_FAIL: simulated failure"])
        raise TurnEnded()

    def line(self, line):
        """Acts on one line of the prompt; returns whether it said something itself."""
        word, _, rest = line.strip().partition(" ")
        rest = rest.strip()
        if word == "FAKE_WRITE":
            self.cmd_write(rest)
        elif word == "FAKE_BASH":
            self.cmd_bash(rest)
        elif word == "FAKE_ASK":
            self.cmd_ask()
        elif word == "FAKE_PLAN":
            self.cmd_plan()
        elif word == "FAKE_SLOW":
            self.cmd_slow(rest)
            return True
        elif word == "FAKE_TODO":
            self.cmd_todo(rest)
        elif word == "FAKE_REPEAT":
            return self.cmd_repeat(rest)
        elif word == "FAKE_FAIL":
            self.cmd_fail()
        elif word == "FAKE_GARBAGE":
            self.a.out.raw("this line is not JSON {")
        return False

    def run(self):
        said = False
        for line in self.text.splitlines():
            said = self.line(line) or said
        if self.did:
            self.say("Done: %s." % "; ".join(self.did))
        elif not said:
            msg = "You said: %s" % self.text.strip()
            if self.images:
                msg += " (with %d image%s)" % (self.images, "" if self.images == 1 else "s")
            self.say(msg)
        self.result()


def prompt_of(msg):
    """(text, image count) of a stream-json user message."""
    content = (msg.get("message") or {}).get("content")
    if isinstance(content, str):
        return content, 0
    texts, images = [], 0
    for block in content or []:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text":
            texts.append(str(block.get("text", "")))
        elif block.get("type") == "image":
            images += 1
    return "\n".join(texts), images


def read_stdin(agent, turns):
    """Reader thread: queues user messages, answers control requests at once."""
    for raw in sys.stdin.buffer:
        line = raw.decode("utf-8", "replace").replace("\0", "").strip()
        if not line:
            continue
        try:
            msg = json.loads(line)
        except ValueError:
            print("fake_agent: ignoring stdin line that is not JSON", file=sys.stderr)
            continue
        if not isinstance(msg, dict):
            continue
        if msg.get("type") == "control_request":
            rid = msg.get("request_id", "")
            sub = (msg.get("request") or {}).get("subtype")
            # Answer first, then interrupt: the answer must come before the turn's result.
            agent.out.emit({"type": "control_response",
                            "response": {"subtype": "success", "request_id": rid, "response": {}}})
            if sub == "interrupt":
                with agent.active:
                    if agent.turn_running:
                        agent.interrupt.set()
        elif msg.get("type") == "user":
            turns.put(msg)
    turns.put(None)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model")
    ap.add_argument("--resume")
    args, _ = ap.parse_known_args()
    out = Out()
    agent = Agent(args, out)
    turns = queue.Queue()
    threading.Thread(target=read_stdin, args=(agent, turns), daemon=True).start()
    while True:
        msg = turns.get()
        if msg is None:
            break
        text, images = prompt_of(msg)
        # Like Claude Code, announce the session at the start of every turn.
        agent.init()
        with agent.active:
            agent.interrupt.clear()
            agent.turn_running = True
            agent.num_turns += 1
        turn = Turn(agent, text, images)
        try:
            turn.run()
        except TurnEnded:
            pass
        except Interrupted:
            out.emit({"type": "user",
                      "message": {"role": "user", "content": [{"type": "text", "text": INTERRUPTED}]},
                      "parent_tool_use_id": None, "session_id": agent.session_id, "uuid": agent.uid()})
            turn.result("error_during_execution", True, [])
        finally:
            with agent.active:
                agent.turn_running = False
    return 0


if __name__ == "__main__":
    sys.exit(main())
