#!/usr/bin/env python3
"""caic's runner for Gemini CLI in headless stream-json mode.

Gemini CLI takes no input stream: each turn is one process
(`gemini -p "" --output-format stream-json ...`, the prompt on its stdin), and the next
turn resumes the same session by id. This runner keeps one long-lived process for caic:

- at start it prints `{"type":"caic_runner","agent_version":...,"session_id":...}`;
- each stdin line `{"type":"prompt","text":...,"images":[{"mediaType","data"}]}` from caic
  runs one turn (queued while one runs): the first of a new session uses `--session-id`
  with an id chosen here, later ones (and every turn with `--resume ID`) use `--resume`;
- a prompt's images (base64) are written to a fresh 0700 directory under ~/.caic (never
  in the repo, so never in its diff), which the turn's process gets with
  `--include-directories`; the prompt names each file as `@/path/image-N.ext`, which
  Gemini CLI reads into an inline image part for the model. The directory is removed
  before the turn's `result` line is passed on, or when its process ends without one
  (the session keeps the image data for later turns);
- a stdin line `{"type":"interrupt"}` sends SIGINT to the running turn; queued prompts are
  kept and run next (a follow-up is never lost);
- every line Gemini prints is copied to stdout unchanged; when a turn's process ends
  without a `result` line, the runner prints `{"type":"caic_turn_end","status":...}`;
- stdin EOF: the running and queued turns finish, then the runner exits.

With GEMINI_API_KEY set and no ~/.gemini/settings.json, it writes one selecting API-key
auth, with usage statistics off. The container is the sandbox: tools run with `--yolo`.
Stdlib only; Python 3.9+.
"""

import argparse
import base64
import binascii
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import uuid

OUT_LOCK = threading.Lock()

# Where prompt images are written, one private directory per turn.
IMAGES_ROOT = os.path.join(os.path.expanduser("~"), ".caic", "gemini-images")

# Media types caic accepts, and the file extension Gemini CLI maps back to each.
IMAGE_EXT = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
}


def emit(obj):
    with OUT_LOCK:
        sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
        sys.stdout.flush()


def agent_version(gemini):
    """The CLI's version from its package.json, without starting node."""
    path = shutil.which(gemini)
    if not path:
        return ""
    d = os.path.dirname(os.path.realpath(path))
    for _ in range(4):
        try:
            with open(os.path.join(d, "package.json")) as f:
                meta = json.load(f)
            if meta.get("name") == "@google/gemini-cli":
                return meta.get("version", "")
        except (OSError, ValueError):
            pass
        d = os.path.dirname(d)
    return ""


def write_images(images):
    """Writes a prompt's images to a new private directory; returns it and the paths.

    Returns (None, []) when there is nothing to write. A bad image is reported and left
    out; the turn still runs with the rest.
    """
    if not images:
        return None, []
    os.makedirs(IMAGES_ROOT, mode=0o700, exist_ok=True)
    d = tempfile.mkdtemp(prefix="turn-", dir=IMAGES_ROOT)
    paths = []
    for i, img in enumerate(images, 1):
        media = img.get("mediaType", "") if isinstance(img, dict) else ""
        ext = IMAGE_EXT.get(media)
        if ext is None:
            emit({"type": "caic_error",
                  "message": "runner: image %d has unsupported media type %r" % (i, media)})
            continue
        try:
            data = base64.b64decode(img.get("data", ""), validate=True)
        except (binascii.Error, ValueError, TypeError):
            emit({"type": "caic_error", "message": "runner: image %d is not valid base64" % i})
            continue
        path = os.path.join(d, "image-%d%s" % (i, ext))
        with open(path, "wb") as f:
            f.write(data)
        paths.append(path)
    return d, paths


def with_image_refs(text, paths):
    """The prompt text followed by one `@path` reference per image."""
    if not paths:
        return text
    refs = " ".join("@" + p for p in paths)
    return (text.rstrip() + "\n\n" + refs) if text.strip() else refs


def ensure_settings():
    if not os.environ.get("GEMINI_API_KEY"):
        return
    home = os.path.join(os.path.expanduser("~"), ".gemini")
    path = os.path.join(home, "settings.json")
    if os.path.exists(path):
        return
    os.makedirs(home, exist_ok=True)
    settings = {
        "security": {"auth": {"selectedType": "gemini-api-key"}},
        "privacy": {"usageStatisticsEnabled": False},
        "general": {"disableAutoUpdate": True},
    }
    with open(path, "w") as f:
        json.dump(settings, f, indent=2)


class Runner:
    def __init__(self, args):
        self.args = args
        self.session_id = args.resume or str(uuid.uuid4())
        self.started = bool(args.resume)
        self.lock = threading.Condition()
        self.queue = []
        self.proc = None
        self.busy = False
        self.interrupted = False

    def argv(self, include_dir=None):
        argv = [self.args.gemini, "-p", "", "--output-format", "stream-json", "--yolo",
                "--skip-trust"]
        if include_dir:
            argv += ["--include-directories", include_dir]
        if self.args.model:
            argv += ["-m", self.args.model]
        if self.started:
            argv += ["--resume", self.session_id]
        else:
            argv += ["--session-id", self.session_id]
        return argv

    def turn(self, prompt):
        self.interrupted = False
        try:
            images_dir, paths = write_images(prompt.get("images"))
        except OSError as e:
            emit({"type": "caic_error", "message": "runner: cannot write images: %s" % e})
            images_dir, paths = None, []

        def cleanup():
            if images_dir:
                shutil.rmtree(images_dir, ignore_errors=True)

        try:
            self.run_turn(with_image_refs(prompt.get("text", ""), paths), images_dir, cleanup)
        finally:
            cleanup()

    def run_turn(self, text, images_dir, cleanup):
        try:
            proc = subprocess.Popen(self.argv(images_dir), stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, bufsize=0)
        except OSError as e:
            emit({"type": "caic_turn_end", "status": "error",
                  "message": "cannot start gemini: %s" % e})
            return
        with self.lock:
            self.proc = proc
        try:
            proc.stdin.write(text.encode())
            proc.stdin.close()
        except OSError:
            pass
        saw_result = False
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if not line.strip():
                continue
            try:
                msg = json.loads(line)
            except ValueError:
                msg = None
            if isinstance(msg, dict):
                if msg.get("type") == "init":
                    self.started = True
                elif msg.get("type") == "result":
                    saw_result = True
                    # The CLI is done with the images: gone before caic sees the turn end.
                    cleanup()
            with OUT_LOCK:
                sys.stdout.write(line + "\n")
                sys.stdout.flush()
        code = proc.wait()
        with self.lock:
            self.proc = None
        if not saw_result:
            status = "interrupted" if self.interrupted else "error"
            emit({"type": "caic_turn_end", "status": status,
                  "message": "gemini exited with code %d" % code})

    def worker(self):
        while True:
            with self.lock:
                while not self.queue:
                    self.lock.wait()
                prompt = self.queue.pop(0)
                if prompt is None:
                    return
                self.busy = True
            self.turn(prompt)
            with self.lock:
                self.busy = False
                self.lock.notify_all()

    def on_line(self, line):
        try:
            msg = json.loads(line)
        except ValueError:
            msg = None
        kind = msg.get("type") if isinstance(msg, dict) else None
        if kind == "prompt":
            with self.lock:
                images = msg.get("images")
                self.queue.append({"text": str(msg.get("text", "")),
                                   "images": images if isinstance(images, list) else []})
                self.lock.notify_all()
        elif kind == "interrupt":
            with self.lock:
                proc = self.proc
                if proc is not None:
                    self.interrupted = True
                    try:
                        proc.send_signal(signal.SIGINT)
                    except OSError:
                        pass
        else:
            emit({"type": "caic_error", "message": "runner: unknown input line"})

    def run(self):
        ensure_settings()
        emit({"type": "caic_runner", "agent_version": agent_version(self.args.gemini),
              "session_id": self.session_id, "cwd": os.getcwd()})
        t = threading.Thread(target=self.worker)
        t.start()
        for raw in sys.stdin:
            line = raw.strip()
            if line:
                self.on_line(line)
        with self.lock:
            self.queue.append(None)
            self.lock.notify_all()
        t.join()
        return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--gemini", default="gemini", help="the gemini executable")
    p.add_argument("--model")
    p.add_argument("--resume", metavar="SESSION_ID")
    sys.exit(Runner(p.parse_args()).run())


if __name__ == "__main__":
    main()
