#!/bin/sh
# caic container entrypoint, run as root. caic uploads the per-container host key and
# the authorized_keys (caic's own public key) before the first start; refuse to run an
# sshd without them rather than fall back to anything weaker.
set -eu
hostkey=/etc/ssh/ssh_host_ed25519_key
authkeys=/home/user/.ssh/authorized_keys
for f in "$hostkey" "$authkeys"; do
  if [ ! -s "$f" ]; then
    echo "caic-entrypoint: missing $f (keys are injected by caic at container creation)" >&2
    exit 1
  fi
done
chown root:root "$hostkey" "$hostkey.pub" 2>/dev/null || chown root:root "$hostkey"
chmod 0600 "$hostkey"
[ -f "$hostkey.pub" ] && chmod 0644 "$hostkey.pub"
chown user:user /home/user/.ssh "$authkeys"
chmod 0700 /home/user/.ssh
chmod 0600 "$authkeys"
mkdir -p /run/sshd
chmod 0755 /run/sshd
exec /usr/sbin/sshd -D -e
