#!/usr/bin/env bash
# Installs what caic needs on a Debian machine, starts the container engine, makes sure
# the Debian base image exists, then builds caic and runs `caic serve` on its defaults.
#   scripts/setup.sh          install + build + serve (localhost:2242)
#   scripts/setup.sh --deps   install + start the engine only (used by scripts/test.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-serve}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/caic-target}"

sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
log() { printf '\033[1m== %s\033[0m\n' "$*"; }

need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v git >/dev/null || need+=(git)
command -v cc >/dev/null || need+=(build-essential)
command -v pkg-config >/dev/null || need+=(pkg-config)
command -v npm >/dev/null || need+=(npm)
command -v python3 >/dev/null || need+=(python3)
command -v curl >/dev/null || need+=(curl)
command -v ss >/dev/null || need+=(iproute2)
# The browser tests drive Debian's Chromium (never a downloaded browser).
if [ "$mode" = "--deps" ]; then command -v chromium >/dev/null || need+=(chromium); fi
# The Podman suite runs caic on Podman's Docker-compatible API: podman itself, netavark (the
# network stack it was verified with, named so --no-install-recommends does not pick CNI)
# and catatonit (the init caic asks for with `init: true`).
if [ "$mode" = "--deps" ]; then
  # MinGW's C compiler: ring's build script needs it for the Windows type-check.
  command -v x86_64-w64-mingw32-gcc >/dev/null || need+=(gcc-mingw-w64-x86-64)
  command -v podman >/dev/null || need+=(podman)
  dpkg -s netavark >/dev/null 2>&1 || need+=(netavark)
  command -v catatonit >/dev/null || need+=(catatonit)
fi
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  sudo_ apt-get update -q
  sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" ca-certificates
fi
if ! command -v cargo >/dev/null; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    log "installing Rust with rustup"
    curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c clippy,rustfmt
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
fi

# cargo-deny, for scripts/test.sh's deny stage: built from crates.io once per machine (about
# 6 minutes on 2 busy cores), then reused. Pinned: deny.toml's keys follow its releases.
if [ "$mode" = "--deps" ] && ! cargo deny --version >/dev/null 2>&1; then
  log "installing cargo-deny (once per machine)"
  env -u CARGO_TARGET_DIR cargo install --locked cargo-deny@0.20.2
fi

# Rust's standard library for Windows, for scripts/test.sh's Windows type-check. It comes
# from rustup's server, which not every machine reaches: then that stage says it skipped.
if [ "$mode" = "--deps" ] && ! rustup target list --installed 2>/dev/null | grep -qx x86_64-pc-windows-gnu; then
  log "adding the x86_64-pc-windows-gnu target (once per machine)"
  timeout 300 rustup target add x86_64-pc-windows-gnu ||
    log "could not add the Windows target: the Windows type-check will be skipped"
fi

. scripts/node.sh

if ! docker info >/dev/null 2>&1; then
  log "starting the Docker engine"
  if [ -d /run/systemd/system ] && sudo_ systemctl start docker 2>/dev/null; then
    :
  else
    sudo_ sh -c 'nohup dockerd >/var/log/caic-dockerd.log 2>&1 &'
  fi
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { echo "dockerd did not start; see /var/log/caic-dockerd.log" >&2; exit 1; }
fi

# The image packaging/image/Dockerfile builds FROM; made locally when missing so no
# registry is needed.
sudo_ bash packaging/image/import-debian-base.sh debian:bookworm-slim

if [ "$mode" = "--deps" ]; then
  exit 0
fi
log "building the web UI"
(cd ui && npm ci --no-audit --no-fund && npm run build)
log "building caic"
cargo build --release -p caic-cli
log "starting caic serve"
exec "$CARGO_TARGET_DIR/release/caic" serve
