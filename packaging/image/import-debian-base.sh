#!/usr/bin/env bash
# Creates the Debian base image that packaging/image/Dockerfile starts FROM, without any
# registry: debootstrap a minimal bookworm rootfs and `docker import` it under that name.
# Used by CI and by machines that cannot pull from a registry. Idempotent.
set -euo pipefail
name="${1:-debian:bookworm-slim}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
if docker image inspect "$name" >/dev/null 2>&1; then
  echo "base image $name already present"
  exit 0
fi
command -v debootstrap >/dev/null || { apt-get update -q && apt-get install -y -q debootstrap; }
root="$(mktemp -d /tmp/caic-rootfs.XXXXXX)"
trap 'rm -rf "$root"' EXIT
echo "debootstrap bookworm into $root"
debootstrap --variant=minbase bookworm "$root" "$mirror" >/tmp/caic-debootstrap.log 2>&1 || {
  tail -30 /tmp/caic-debootstrap.log; exit 1; }
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | docker import --change 'CMD ["bash"]' - "$name"
echo "imported $name"
