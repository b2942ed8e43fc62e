#!/usr/bin/env bash
# Runs caic's whole test suite: lint, unit tests and end-to-end suites against a real
# Docker engine, real containers and the real agent CLIs talking to mock model APIs.
# Ends with a table of how long each stage took (printed even when a stage fails).
#   CAIC_TEST_SKIP="ui podman tests browser"  skips those stages (names as in the table;
#   for trying this script only: the default runs everything, and CI sets nothing).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/caic-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

# Stage timing: `stage NAME "title"` closes the running stage (ok) and opens the next;
# returns 1 when NAME is in CAIC_TEST_SKIP. The EXIT trap closes the last one (FAILED
# when the script is exiting non-zero), prints the table and keeps the exit code.
stage_names=() stage_secs=() stage_states=()
stage_cur="" stage_t0=0
suite_t0=$SECONDS
stage_close() {
  [ -n "$stage_cur" ] || return 0
  stage_names+=("$stage_cur") stage_secs+=($((SECONDS - stage_t0))) stage_states+=("$1")
  stage_cur=""
}
stage() {
  stage_close ok
  echo "== $2"
  case " ${CAIC_TEST_SKIP:-} " in
    *" $1 "*)
      echo "skipped (CAIC_TEST_SKIP=${CAIC_TEST_SKIP})"
      stage_names+=("$1") stage_secs+=(0) stage_states+=(skipped)
      return 1 ;;
  esac
  stage_cur="$1" stage_t0=$SECONDS
}
stage_table() {
  local rc=$? i fmt='%-10s %8s  %s\n' dur
  trap - EXIT
  stage_close "$([ "$rc" = 0 ] && echo ok || echo "FAILED (exit $rc)")"
  echo
  echo "== stage times"
  printf "$fmt" stage time result
  for i in "${!stage_names[@]}"; do
    dur=${stage_secs[$i]}
    printf "$fmt" "${stage_names[$i]}" "$((dur / 60))m$(printf %02d $((dur % 60)))s" "${stage_states[$i]}"
  done
  dur=$((SECONDS - suite_t0))
  printf "$fmt" total "$((dur / 60))m$(printf %02d $((dur % 60)))s" "$([ "$rc" = 0 ] && echo ok || echo "FAILED (exit $rc)")"
  exit "$rc"
}
trap stage_table EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if stage setup "setup: system packages, container engine, Node.js, Claude Code, cargo-deny"; then
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
fi

# The web UI first: the server embeds ui/dist when it is built.
if stage ui "web UI: npm ci, typecheck, unit tests (Vitest), build"; then
  (cd ui && npm ci --no-audit --no-fund && npm run typecheck && npm test && npm run build)
fi

if stage fmt "cargo fmt --check"; then
  cargo fmt --all -- --check
fi
if stage clippy "cargo clippy"; then
  cargo clippy --workspace --all-targets -- -D warnings
fi

# cargo-deny (installed by setup.sh): licenses, bans and sources per deny.toml; duplicate
# versions are listed, not failed on. Advisories need the RustSec database, a git clone
# from GitHub that CI cannot fetch: checked only when a copy is already on this machine.
if stage deny "cargo deny: licenses, bans, sources (+ advisories when the RustSec database is here)"; then
  cargo deny --color never check --hide-inclusion-graph -A duplicate licenses bans sources
  echo "duplicate crate versions (warnings, see deny.toml [bans]):"
  cargo deny --format json check --hide-inclusion-graph bans 2>&1 | python3 -c '
import json, sys
for line in sys.stdin:
    try:
        f = json.loads(line)["fields"]
    except (ValueError, KeyError, TypeError):
        continue
    if f.get("code") != "duplicate":
        continue
    entries = [l.split()[:2] for lab in f.get("labels", []) for l in lab["span"].splitlines()]
    print("  %-20s %s" % (entries[0][0], ", ".join(v for _, v in entries)))
'
  advisory_db="${CARGO_HOME:-$HOME/.cargo}/advisory-dbs/advisory-db-3157b0e258782691"
  if [ -d "$advisory_db/.git" ]; then
    cargo deny --color never --offline check --hide-inclusion-graph advisories
  else
    echo "cargo deny: advisories SKIPPED: no RustSec database at $advisory_db (a git clone from GitHub, unreachable here; copy one made by \`cargo deny fetch\` elsewhere, at most 90 days old)"
  fi
fi

# caic's libraries and binaries must type-check for Windows too (unix-only code behind
# cfg). macOS is unix; its target needs Apple's SDK for ring's C code, which Debian lacks.
if stage windows "Windows type-check (cargo check --target x86_64-pc-windows-gnu)"; then
  if rustup target list --installed 2>/dev/null | grep -qx x86_64-pc-windows-gnu &&
    command -v x86_64-w64-mingw32-gcc >/dev/null; then
    CARGO_TARGET_DIR="$CARGO_TARGET_DIR-windows" \
      cargo check --target x86_64-pc-windows-gnu --workspace --lib --bins
  else
    echo "Windows type-check SKIPPED: the x86_64-pc-windows-gnu target or MinGW's gcc is missing (see scripts/setup.sh)"
  fi
fi

if stage build "build caic and the container image"; then
  cargo build -p caic-cli
  "$CARGO_TARGET_DIR/debug/caic" image --config-dir "${CAIC_TEST_CONFIG:-$HOME/.cache/caic-test-config}"
fi

# Podman: caic also runs on Podman's Docker-compatible API (CAIC_CONTAINER_RUNTIME=podman).
# The rootful service listens on the socket caic looks for; the Debian base comes from the
# local Docker image (no registry); caic's image is built through Podman's API (minutes the
# first time, then reused: its tag is a content hash). tests/tests/podman.rs needs all three.
if stage podman "Podman: service, Debian base, caic image"; then
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
fi

if stage tests "tests"; then
  if command -v cargo-nextest >/dev/null 2>&1; then
    cargo nextest run --workspace --no-fail-fast "$@"
  else
    cargo test --workspace --no-fail-fast "$@"
  fi
fi
if stage browser "browser tests (Chromium + a real caic serve)"; then
  (cd ui && CAIC_BIN="$CARGO_TARGET_DIR/debug/caic" npm run e2e)
fi
