#!/usr/bin/env bash
# Runs caic's whole test suite: lint, unit tests and end-to-end suites against a real
# Docker engine, real containers and the real agent CLIs talking to mock model APIs.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/caic-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
bash scripts/setup.sh --deps
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
. scripts/node.sh

# The real Claude Code CLI on the host, for the mock-API tests that run it directly.
claude_dir="${CAIC_TEST_TOOLS:-$HOME/.cache/caic-test-tools}/claude-code"
if [ ! -x "$claude_dir/node_modules/.bin/claude" ]; then
  echo "== installing Claude Code for host-side tests"
  mkdir -p "$claude_dir"
  npm install --prefix "$claude_dir" --no-audit --no-fund @anthropic-ai/claude-code@2.1.332 >/dev/null
fi
export CAIC_TEST_CLAUDE="$claude_dir/node_modules/.bin/claude"

# The web UI first: the server embeds ui/dist when it is built.
echo "== web UI: npm ci, typecheck, unit tests (Vitest), build"
(cd ui && npm ci --no-audit --no-fund && npm run typecheck && npm test && npm run build)

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== build caic and the container image"
cargo build -p caic-cli
"$CARGO_TARGET_DIR/debug/caic" image --config-dir "${CAIC_TEST_CONFIG:-$HOME/.cache/caic-test-config}"

# Podman: caic also runs on Podman's Docker-compatible API (CAIC_CONTAINER_RUNTIME=podman).
# The rootful service listens on the socket caic looks for; the Debian base comes from the
# local Docker image (no registry); caic's image is built through Podman's API (minutes the
# first time, then reused: its tag is a content hash). tests/tests/podman.rs needs all three.
echo "== Podman: service, Debian base, caic image"
podman_sock=/run/podman/podman.sock
podman_log=/var/log/caic-podman.log
podman_up() { curl -fsS --max-time 5 --unix-socket "$podman_sock" http://d/_ping >/dev/null 2>&1; }
if ! podman_up; then
  echo "starting podman system service on $podman_sock (log: $podman_log)"
  mkdir -p "$(dirname "$podman_sock")"
  rm -f "$podman_sock" # a stale socket left by a service that died
  setsid nohup podman system service --time=0 "unix://$podman_sock" \
    >>"$podman_log" 2>&1 </dev/null &
  for _ in $(seq 1 60); do podman_up && break; sleep 0.5; done
  podman_up || {
    echo "the Podman service did not answer on $podman_sock:" >&2
    tail -20 "$podman_log" >&2
    exit 1
  }
fi
if ! podman image exists debian:bookworm-slim; then
  echo "loading debian:bookworm-slim from Docker into Podman"
  docker save debian:bookworm-slim | podman load -q
fi
echo "caic image through Podman (about 5 minutes when its inputs changed, else seconds)"
podman_build_log="$(mktemp /tmp/caic-podman-image.XXXXXX)"
if ! CAIC_CONTAINER_RUNTIME=podman CAIC_CONTAINER_SOCKET="unix://$podman_sock" \
  "$CARGO_TARGET_DIR/debug/caic" image --config-dir "${CAIC_TEST_CONFIG:-$HOME/.cache/caic-test-config}" \
  >"$podman_build_log" 2>&1; then
  tail -60 "$podman_build_log" >&2
  echo "building caic's image through Podman failed (full log: $podman_build_log)" >&2
  exit 1
fi
tail -1 "$podman_build_log"
rm -f "$podman_build_log"
export CAIC_TEST_PODMAN_SOCK="$podman_sock"
echo "== tests"
if command -v cargo-nextest >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast "$@"
else
  cargo test --workspace --no-fail-fast "$@"
fi
echo "== browser tests (Chromium + a real caic serve)"
(cd ui && CAIC_BIN="$CARGO_TARGET_DIR/debug/caic" npm run e2e)
