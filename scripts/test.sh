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
echo "== tests"
if command -v cargo-nextest >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast "$@"
else
  cargo test --workspace --no-fail-fast "$@"
fi
echo "== browser tests (Chromium + a real caic serve)"
(cd ui && CAIC_BIN="$CARGO_TARGET_DIR/debug/caic" npm run e2e)
