#!/usr/bin/env python3
"""caic relay: owns one agent process inside a task container.

Python 3.9+ standard library only. caic uploads this file over SSH at every session
start, so caic and the relay always come from the same build.

The relay daemon owns the agent's stdin/stdout and an append-only output log, so caic
can drop and re-attach its SSH link without losing or duplicating a line.

State, one directory per relay: ROOT/<name>/, ROOT from --root, else $CAIC_RELAY_ROOT,
else /tmp/caic-relay (a 0700 directory owned by the caller; the name defaults to "agent"):
  output.log   complete lines only: agent stdout + lines clients sent to the agent
  sock         unix socket the daemon listens on
  lock         flock held by the daemon for its whole life (the liveness truth)
  pid          agent pid          relay.pid   daemon pid
  stderr.log   agent stderr       relay.log   the daemon's own diagnostics
  exit.json    {"exitCode","signal","logSize"} written once the agent was reaped

Commands:
  start  --name N --dir WORKDIR   stdin: one JSON line {"argv":[...],"env":{...},"logInput":true}
                                  prints {"ok":true,"pid":AGENT,"relayPid":DAEMON}
  attach --name N --offset BYTES  stdout: the log from BYTES, then live output.
                                  stdin: lines for the agent; a NUL byte closes the
                                  agent's stdin; EOF only detaches.
  status --name N                 prints {"alive","pid","relayPid","logSize","exitCode",
                                  "signal","stderrTail"}
  stop   --name N                 SIGTERM the daemon (it terminates the agent)

attach exit codes: the agent's exit code (128+signal if killed) once the agent has
exited and the whole log was written out; 0 after a detach (stdin EOF); 75 when
replaced by a newer attach; 69 when no relay runs under that name or the link to the
daemon was lost; 2 for usage errors (bad name, bad offset).

Socket protocol (private between `attach` and the daemon of the same version):
client -> daemon: one handshake line {"offset":N}, then raw input bytes.
daemon -> client: frames, 1 type byte + 4-byte big-endian length + payload:
  D data (log bytes)   E exit (JSON)   R replaced (empty)   X error (UTF-8 text)
"""

import fcntl
import json
import os
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

ROOT_ENV = "CAIC_RELAY_ROOT"
DEFAULT_ROOT = "/tmp/caic-relay"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# Longest line the relay buffers before forcing a line break. caic itself accepts 32 MiB.
MAX_LINE = 64 << 20
CHUNK = 1 << 20
HEADER = struct.Struct(">BI")
F_DATA, F_EXIT, F_REPLACED, F_ERROR = b"D"[0], b"E"[0], b"R"[0], b"X"[0]
EXIT_DETACHED, EXIT_REPLACED, EXIT_UNAVAILABLE, EXIT_USAGE = 0, 75, 69, 2
TERM_GRACE = 10.0  # seconds between SIGTERM and SIGKILL of the agent
CLIENT_GRACE = 5.0  # seconds the daemon lets the client drain after the agent exited
STDOUT_GRACE = 2.0  # seconds of agent stdout drained after the agent exited
HANDSHAKE_TIMEOUT = 10.0
SEND_TIMEOUT = 60.0

LOG, SOCK, LOCK, PID, RELAY_PID, STDERR, RELAY_LOG, EXIT = (
    "output.log", "sock", "lock", "pid", "relay.pid", "stderr.log", "relay.log", "exit.json")


class UsageError(Exception):
    pass


def state_dir(args, create=False):
    name = args.get("name")
    if not NAME_RE.match(name or ""):
        raise UsageError("invalid relay name %r (want [A-Za-z0-9][A-Za-z0-9._-]{0,63})" % name)
    root = args.get("root") or os.environ.get(ROOT_ENV) or DEFAULT_ROOT
    if create:
        os.makedirs(root, mode=0o700, exist_ok=True)
        st = os.lstat(root)
        if not os.path.isdir(root) or os.path.islink(root) or st.st_uid != os.getuid():
            raise UsageError("relay root %s is not a directory owned by uid %d" % (root, os.getuid()))
    d = os.path.join(root, name)
    if create:
        try:
            os.mkdir(d, 0o700)
        except FileExistsError:
            if os.path.islink(d) or not os.path.isdir(d):
                raise UsageError("relay state dir %s is not a directory" % d)
    return d


def read_json(path):
    try:
        with open(path, "rb") as f:
            return json.loads(f.read().decode())
    except (OSError, ValueError):
        return None


def read_int(path):
    try:
        with open(path, "rb") as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def write_atomic(path, data):
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def write_all(fd, data):
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def lock_held(d):
    """True when a daemon holds the state dir's lock."""
    try:
        fd = os.open(os.path.join(d, LOCK), os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)


def exit_code_of(returncode):
    return 128 - returncode if returncode < 0 else returncode


def log(msg):
    # The daemon's stderr is relay.log. Never log env or input lines here.
    sys.stderr.write("%s relay: %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%S"), msg))
    sys.stderr.flush()


def send_frame(sock, kind, payload=b""):
    header = HEADER.pack(kind, len(payload))
    if len(payload) < 65536:
        sock.sendall(header + payload)
    else:
        sock.sendall(header)
        sock.sendall(payload)


# ---------------------------------------------------------------------------- daemon


class Client:
    """One attached client: a reader thread (input) and a sender thread (log)."""

    def __init__(self, relay, conn, offset):
        self.relay = relay
        self.conn = conn
        self.offset = offset
        self.replaced = False
        self.closed = False
        self.error = None  # set by the reader; the sender (sole writer) reports it
        self.sender = threading.Thread(target=self.send_loop, daemon=True)
        self.reader = threading.Thread(target=self.read_loop, daemon=True)

    def start(self):
        self.sender.start()
        self.reader.start()

    def replace(self):
        """A newer client took over: stop taking input now, tell the client, close."""
        with self.relay.cond:
            self.replaced = True
            self.relay.cond.notify_all()
        try:
            self.conn.shutdown(socket.SHUT_RD)
        except OSError:
            pass
        # If the sender is stuck in a send to a slow client, cut it off after a while.
        t = threading.Timer(2.0, self.kill)
        t.daemon = True
        t.start()

    def kill(self):
        with self.relay.cond:
            self.closed = True
            self.relay.cond.notify_all()
        try:
            self.conn.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def send_loop(self):
        relay = self.relay
        pos = self.offset
        rfd = os.open(relay.path(LOG), os.O_RDONLY)
        try:
            while True:
                with relay.cond:
                    while (pos >= relay.size and not relay.finished
                           and not self.replaced and not self.closed and self.error is None):
                        relay.cond.wait()
                    end, finished = relay.size, relay.finished
                    replaced, closed, error = self.replaced, self.closed, self.error
                if error is not None:
                    send_frame(self.conn, F_ERROR, error.encode())
                    self.conn.shutdown(socket.SHUT_RDWR)
                    return
                if replaced:
                    send_frame(self.conn, F_REPLACED)
                    self.conn.shutdown(socket.SHUT_RDWR)
                    return
                if closed:
                    return
                if pos < end:
                    data = os.pread(rfd, min(CHUNK, end - pos), pos)
                    if not data:
                        raise OSError("output log shrank under the relay")
                    send_frame(self.conn, F_DATA, data)
                    pos += len(data)
                    continue
                if finished:
                    send_frame(self.conn, F_EXIT, json.dumps(relay.exit_info).encode())
                    try:
                        self.conn.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    return
        except OSError:
            pass  # client went away; the reader sees EOF and cleans up
        finally:
            os.close(rfd)

    def read_loop(self):
        relay = self.relay
        pending = []  # pieces of the current incomplete line
        pending_len = 0
        try:
            while True:
                data = self.conn.recv(CHUNK)
                if not data:
                    break
                start = 0
                while start < len(data):
                    nul = data.find(b"\0", start)
                    seg_end = nul if nul != -1 else len(data)
                    nl = data.rfind(b"\n", start, seg_end)
                    if nl != -1:
                        pending.append(data[start:nl + 1])
                        relay.input_lines(b"".join(pending), self)
                        pending, pending_len = [], 0
                        start = nl + 1
                    if start < seg_end:
                        pending.append(data[start:seg_end])
                        pending_len += seg_end - start
                        if pending_len > MAX_LINE:
                            log("client input line over %d bytes, dropping client" % MAX_LINE)
                            with relay.cond:
                                self.error = "input line over %d bytes" % MAX_LINE
                                relay.cond.notify_all()
                            pending = []
                            return
                    if nul != -1:
                        if pending:
                            log("incomplete input line before NUL dropped")
                            pending, pending_len = [], 0
                        relay.close_stdin()
                        start = nul + 1
                    else:
                        start = len(data)
        except OSError:
            pass
        finally:
            if pending:
                log("client left with an incomplete input line (%d bytes), dropped" % pending_len)
            relay.client_gone(self)


class Relay:
    def __init__(self, d, lock_fd, ready_fd, req, workdir):
        self.dir = d
        self.lock_fd = lock_fd
        self.ready_fd = ready_fd
        self.argv = req["argv"]
        self.env = req["env"]
        self.log_input = req.get("logInput", True)
        self.workdir = workdir
        self.cond = threading.Condition()
        self.size = 0
        self.finished = False
        self.exit_info = None
        self.client = None
        self.client_lock = threading.Lock()
        self.stdin_lock = threading.Lock()
        self.stdin_closed = False
        self.proc = None
        self.terminating = False
        self.log_fd = os.open(self.path(LOG), os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_TRUNC, 0o600)
        self.listener = None

    def path(self, f):
        return os.path.join(self.dir, f)

    def append(self, data):
        """Appends complete lines to the log, atomically relative to other appends."""
        with self.cond:
            write_all(self.log_fd, data)
            self.size += len(data)
            self.cond.notify_all()

    def input_lines(self, data, client):
        """Forwards complete client lines to the agent, logging them first."""
        with self.stdin_lock:
            if client.replaced or client.closed:
                return
            if self.stdin_closed:
                log("input after the agent's stdin was closed: dropped")
                return
            # Log before the agent can see the line, so its reply always comes after it.
            if self.log_input:
                self.append(data)
            try:
                self.proc.stdin.write(data)
                self.proc.stdin.flush()
            except (OSError, ValueError):
                log("agent stdin is gone: input dropped")
                self.stdin_closed = True

    def close_stdin(self):
        with self.stdin_lock:
            if not self.stdin_closed:
                self.stdin_closed = True
                try:
                    self.proc.stdin.close()
                except OSError:
                    pass
                log("agent stdin closed on request")

    def client_gone(self, client):
        with self.client_lock:
            if self.client is client:
                self.client = None
        if not client.replaced and client.error is None:
            client.kill()  # a replaced or failed client is told so by its sender

    def accept_loop(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return  # listener closed at shutdown
            threading.Thread(target=self.handshake, args=(conn,), daemon=True).start()

    def handshake(self, conn):
        try:
            conn.settimeout(HANDSHAKE_TIMEOUT)
            line = b""
            while not line.endswith(b"\n"):
                b = conn.recv(1)
                if not b:
                    conn.close()
                    return
                line += b
                if len(line) > 4096:
                    raise ValueError("handshake too long")
            offset = json.loads(line.decode())["offset"]
            conn.settimeout(SEND_TIMEOUT)
            with self.cond:
                size = self.size
            err = None
            if not isinstance(offset, int) or offset < 0 or offset > size:
                err = "offset %r is outside the log (size %d)" % (offset, size)
            elif offset > 0 and os.pread(self.log_fd_r, 1, offset - 1) != b"\n":
                err = "offset %d is not at a line boundary" % offset
            if err:
                send_frame(conn, F_ERROR, err.encode())
                conn.close()
                return
        except (OSError, ValueError, KeyError, TypeError) as e:
            log("bad handshake: %s" % type(e).__name__)
            conn.close()
            return
        client = Client(self, conn, offset)
        with self.client_lock:
            old, self.client = self.client, client
        if old is not None:
            old.replace()
        client.start()

    def on_sigterm(self, signum, frame):
        if self.terminating:
            return
        self.terminating = True
        if self.proc is None:
            return  # run() signals the agent as soon as it exists
        log("SIGTERM: terminating the agent")
        self.signal_agent(signal.SIGTERM)
        t = threading.Timer(TERM_GRACE, self.signal_agent, args=(signal.SIGKILL,))
        t.daemon = True
        t.start()

    def signal_agent(self, sig):
        if self.proc.returncode is not None:
            return
        try:
            os.killpg(self.proc.pid, sig)  # the agent leads its own process group
        except OSError:
            try:
                self.proc.send_signal(sig)
            except OSError:
                pass

    def ready(self, msg):
        if self.ready_fd is not None:
            try:
                write_all(self.ready_fd, (json.dumps(msg) + "\n").encode())
            except OSError:
                pass
            os.close(self.ready_fd)
            self.ready_fd = None

    def run(self):
        env = dict(os.environ)
        env.update(self.env)
        stderr_fd = os.open(self.path(STDERR), os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
        self.log_fd_r = os.open(self.path(LOG), os.O_RDONLY)
        signal.signal(signal.SIGTERM, self.on_sigterm)
        try:
            self.proc = subprocess.Popen(
                self.argv, cwd=self.workdir, env=env, stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=stderr_fd, start_new_session=True,
                bufsize=0)
        except (OSError, ValueError, subprocess.SubprocessError) as e:
            self.ready({"ok": False, "error": "cannot start agent %r in %s: %s" % (
                self.argv[0], self.workdir, getattr(e, "strerror", None) or e)})
            return 1
        finally:
            os.close(stderr_fd)
            env = None
            self.env = None  # do not keep credentials around longer than needed
        if self.terminating:
            self.signal_agent(signal.SIGTERM)
        write_atomic(self.path(PID), b"%d\n" % self.proc.pid)
        sock_path = self.path(SOCK)
        try:
            self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.listener.bind(sock_path)
            os.chmod(sock_path, 0o600)
            self.listener.listen(8)
        except OSError as e:
            self.signal_agent(signal.SIGKILL)
            self.proc.wait()
            self.ready({"ok": False, "error": "cannot listen on %s: %s" % (sock_path, e)})
            return 1
        threading.Thread(target=self.accept_loop, daemon=True).start()
        log("agent pid %d started" % self.proc.pid)
        self.ready({"ok": True, "pid": self.proc.pid, "relayPid": os.getpid()})
        self.pump_stdout()
        return 0

    def pump_stdout(self):
        fd = self.proc.stdout.fileno()
        exited = threading.Event()
        threading.Thread(target=lambda: (self.proc.wait(), exited.set()), daemon=True).start()
        exited_at = None
        pending = []
        pending_len = 0
        while True:
            # A background process the agent left behind may hold its stdout open: once
            # the agent itself is gone, stop reading after a short quiet period.
            if exited_at is None and exited.is_set():
                exited_at = time.monotonic()
            ready, _, _ = select.select([fd], [], [], 0.5)
            if not ready:
                if exited_at is not None and time.monotonic() - exited_at > STDOUT_GRACE:
                    log("agent exited but its stdout is still open: stop reading")
                    break
                continue
            try:
                data = os.read(fd, CHUNK)
            except InterruptedError:
                continue
            except OSError as e:
                log("reading agent stdout: %s" % e)
                break
            if not data:
                break
            nl = data.rfind(b"\n")
            if nl == -1:
                pending.append(data)
                pending_len += len(data)
                if pending_len > MAX_LINE:
                    log("agent line over %d bytes: forcing a line break" % MAX_LINE)
                    pending.append(b"\n")
                    self.append(b"".join(pending))
                    pending, pending_len = [], 0
                continue
            pending.append(data[:nl + 1])
            self.append(b"".join(pending))
            rest = data[nl + 1:]
            pending, pending_len = ([rest], len(rest)) if rest else ([], 0)
        if pending:
            pending.append(b"\n")  # complete the agent's last partial line
            self.append(b"".join(pending))
        self.proc.stdout.close()
        rc = self.proc.wait()  # reap: no zombie
        self.stdin_closed = True
        info = {"exitCode": exit_code_of(rc), "signal": -rc if rc < 0 else None, "logSize": self.size}
        log("agent exited: code %d" % info["exitCode"])
        # exit.json first: any attach failing to reach us from now on reads the files.
        write_atomic(self.path(EXIT), json.dumps(info).encode())
        with self.cond:
            self.exit_info = info
            self.finished = True
            self.cond.notify_all()
        try:
            self.listener.close()
        except OSError:
            pass
        for f in (SOCK,):
            try:
                os.unlink(self.path(f))
            except OSError:
                pass
        with self.client_lock:
            client = self.client
        if client is not None:
            client.sender.join(CLIENT_GRACE)


def daemonize(relay_log_path):
    """Double fork + setsid. Returns in the daemon; the first child exits at once."""
    pid = os.fork()
    if pid > 0:
        os.waitpid(pid, 0)  # the first child exits at once; reap it
        return False
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    os.umask(0o077)
    os.chdir("/")
    null = os.open(os.devnull, os.O_RDWR)
    logfd = os.open(relay_log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.dup2(logfd, 2)
    os.close(null)
    os.close(logfd)
    sys.stdin = open(os.devnull)
    sys.stdout = open(os.devnull, "w")
    sys.stderr = os.fdopen(2, "w", buffering=1)
    return True


def cmd_start(args):
    line = sys.stdin.buffer.readline(MAX_LINE)
    try:
        req = json.loads(line.decode())
    except ValueError:
        raise UsageError("start wants one JSON line on stdin: {\"argv\":[...],\"env\":{...}}")
    argv, env = req.get("argv") if isinstance(req, dict) else None, req.get("env", {}) if isinstance(req, dict) else None
    if (not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv)
            or not isinstance(env, dict)
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items())):
        raise UsageError("start request needs argv (non-empty list of strings) and env (string map)")
    workdir = args.get("dir") or os.environ.get("HOME") or "/"
    if not os.path.isdir(workdir):
        raise UsageError("working directory %s does not exist" % workdir)
    d = state_dir(args, create=True)
    lock_fd = os.open(os.path.join(d, LOCK), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        raise UsageError("relay %r is already running (agent pid %s); stop it or pick another name"
                         % (args["name"], read_int(os.path.join(d, PID))))
    for f in (LOG, SOCK, PID, RELAY_PID, STDERR, EXIT, RELAY_LOG):
        try:
            os.unlink(os.path.join(d, f))
        except FileNotFoundError:
            pass
    rfd, wfd = os.pipe()
    if not daemonize(os.path.join(d, RELAY_LOG)):
        # Caller: wait for the daemon's verdict.
        os.close(wfd)
        os.close(lock_fd)
        chunks = []
        while True:
            b = os.read(rfd, 65536)
            if not b:
                break
            chunks.append(b)
        os.close(rfd)
        try:
            msg = json.loads(b"".join(chunks).decode())
        except ValueError:
            msg = {"ok": False, "error": "relay daemon died during start; see %s" % os.path.join(d, RELAY_LOG)}
        if not msg.get("ok"):
            sys.stderr.write("relay start: %s\n" % msg.get("error"))
            return 1
        sys.stdout.write(json.dumps(msg) + "\n")
        return 0
    # Daemon.
    os.close(rfd)
    code = 1
    try:
        write_atomic(os.path.join(d, RELAY_PID), b"%d\n" % os.getpid())
        relay = Relay(d, lock_fd, wfd, req, workdir)
        req = None
        code = relay.run()
    except BaseException as e:  # noqa: keep the daemon's failure visible in relay.log
        log("fatal: %s: %s" % (type(e).__name__, e))
        try:
            write_all(wfd, (json.dumps({"ok": False, "error": "relay failed: %s" % e}) + "\n").encode())
        except OSError:
            pass
    finally:
        try:
            os.unlink(os.path.join(d, RELAY_PID))
        except OSError:
            pass
    sys.stderr.flush()
    os._exit(code)


def cmd_status(args):
    d = state_dir(args)
    info = read_json(os.path.join(d, EXIT))
    try:
        log_size = os.stat(os.path.join(d, LOG)).st_size
    except OSError:
        log_size = 0
    tail = ""
    try:
        with open(os.path.join(d, STDERR), "rb") as f:
            f.seek(0, os.SEEK_END)
            n = f.tell()
            f.seek(max(0, n - 4096))
            tail = f.read().decode("utf-8", "replace")
    except OSError:
        pass
    out = {
        "alive": lock_held(d) and info is None,
        "pid": read_int(os.path.join(d, PID)),
        "relayPid": read_int(os.path.join(d, RELAY_PID)),
        "logSize": log_size,
        "exitCode": info.get("exitCode") if info else None,
        "signal": info.get("signal") if info else None,
        "stderrTail": tail,
    }
    sys.stdout.write(json.dumps(out) + "\n")
    return 0


def cmd_stop(args):
    d = state_dir(args)
    pid = read_int(os.path.join(d, RELAY_PID))
    if pid is None or not lock_held(d):
        sys.stderr.write("relay stop: relay %r is not running\n" % args["name"])
        return 1
    os.kill(pid, signal.SIGTERM)
    return 0


def cmd_attach(args):
    d = state_dir(args)
    try:
        offset = int(args.get("offset") or 0)
    except ValueError:
        raise UsageError("--offset wants a byte count")
    state = {"offset": offset, "nul": False}

    def write_out(data):
        try:
            write_all(1, data)
        except OSError:
            os._exit(EXIT_DETACHED)  # whoever read our stdout is gone
        state["offset"] += len(data)

    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(os.path.join(d, SOCK))
    except OSError:
        return attach_from_files(d, state, write_out)
    conn.sendall(json.dumps({"offset": offset}).encode() + b"\n")

    def pump_stdin():
        while True:
            try:
                data = os.read(0, CHUNK)
            except OSError:
                data = b""
            if not data:
                break
            if b"\0" in data:
                state["nul"] = True
            try:
                conn.sendall(data)
            except OSError:
                return  # the daemon is gone; the main loop finds out why
        if state["nul"]:
            return  # graceful end requested: keep streaming until the agent exits
        # Detach: the daemon reads what we sent, then sees EOF. The agent keeps running.
        os._exit(EXIT_DETACHED)

    threading.Thread(target=pump_stdin, daemon=True).start()
    while True:
        try:
            hdr = recv_exact(conn, HEADER.size)
            kind, n = HEADER.unpack(hdr)
            if kind == F_DATA:
                # Stream big frames through without holding them whole.
                left = n
                while left:
                    b = conn.recv(min(left, CHUNK))
                    if not b:
                        raise EOFError
                    left -= len(b)
                    write_out(b)
                continue
            payload = recv_exact(conn, n)
        except (EOFError, OSError):
            return attach_from_files(d, state, write_out, lost=True)
        if kind == F_EXIT:
            return json.loads(payload.decode())["exitCode"]
        if kind == F_REPLACED:
            sys.stderr.write("relay attach: replaced by a newer attach\n")
            return EXIT_REPLACED
        if kind == F_ERROR:
            sys.stderr.write("relay attach: %s\n" % payload.decode("utf-8", "replace"))
            return EXIT_USAGE


def recv_exact(conn, n):
    parts = []
    while n:
        b = conn.recv(min(n, CHUNK))
        if not b:
            raise EOFError
        parts.append(b)
        n -= len(b)
    return b"".join(parts)


def attach_from_files(d, state, write_out, lost=False):
    """The daemon is gone: serve the rest of a finished log straight from disk."""
    info = None
    # The daemon writes exit.json before it stops listening; allow a moment for a
    # daemon that is between closing a client and exiting.
    for _ in range(20):
        info = read_json(os.path.join(d, EXIT))
        if info is not None or lock_held(d) is False:
            break
        time.sleep(0.1)
    info = info or read_json(os.path.join(d, EXIT))
    if info is None:
        if lost:
            sys.stderr.write("relay attach: lost the link to relay daemon %s\n" % d)
        else:
            sys.stderr.write("relay attach: no relay is running in %s\n" % d)
        return EXIT_UNAVAILABLE
    pos, end = state["offset"], info["logSize"]
    if pos > end:
        sys.stderr.write("relay attach: offset %d is outside the log (size %d)\n" % (pos, end))
        return EXIT_USAGE
    with open(os.path.join(d, LOG), "rb") as f:
        if pos > 0:
            f.seek(pos - 1)
            if f.read(1) != b"\n":
                sys.stderr.write("relay attach: offset %d is not at a line boundary\n" % pos)
                return EXIT_USAGE
        f.seek(pos)
        while pos < end:
            data = f.read(min(CHUNK, end - pos))
            if not data:
                break
            write_out(data)
            pos += len(data)
    return info["exitCode"]


def parse_args(argv):
    usage = ("usage: relay.py [--root DIR] [--name N] start|attach|status|stop"
             " [--dir WORKDIR] [--offset BYTES]")
    args = {"name": "agent"}
    cmd = None
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("--name", "--dir", "--offset", "--root") and i + 1 < len(argv):
            args[a[2:]] = argv[i + 1]
            i += 2
        elif a in ("start", "attach", "status", "stop") and cmd is None:
            cmd = a
            i += 1
        else:
            raise UsageError("unknown argument %r; %s" % (a, usage))
    if cmd is None:
        raise UsageError(usage)
    return cmd, args


def main(argv):
    try:
        cmd, args = parse_args(argv)
        return {"start": cmd_start, "attach": cmd_attach, "status": cmd_status, "stop": cmd_stop}[cmd](args)
    except UsageError as e:
        sys.stderr.write("relay: %s\n" % e)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
