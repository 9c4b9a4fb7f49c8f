#!/usr/bin/env bash
# Packs an unpacked-release tarball of smartbin-edge: what scripts/install.sh installs on a gateway
# that has Node but no build tools (its dist/ built here, no src/, no dev dependencies). See
# docs/install.md, "From a release".
#
#   scripts/release.sh [--no-build] [OUTDIR]   writes OUTDIR/smartbin-edge-<version>.tar.gz (default: .)
#
# Run it in a checkout after `npm ci` (which builds dist/); it builds dist/ again to be sure it is
# current, unless --no-build (the tests: their dist/ is built once, and must not change under them). The tarball unpacks into smartbin-edge-<version>/ with bin, dist, config, systemd,
# package.json, package-lock.json, scripts/install.sh, scripts/outbox-readable.mjs and docs/.
set -euo pipefail
cd "$(dirname "$0")/.."
build=1
if [ "${1:-}" = --no-build ]; then
  build=0
  shift
fi
out="${1:-.}"
mkdir -p "$out"
out=$(cd "$out" && pwd)
version=$(node -p 'require("./package.json").version')
name="smartbin-edge-$version"
if [ "$build" = 1 ]; then npm run -s build; fi
[ -f dist/cli/main.js ] || { echo "release.sh: no dist/: run npm ci (or npm run build) first" >&2; exit 1; }
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/$name/scripts"
cp -a bin dist config systemd docs package.json package-lock.json "$stage/$name/"
cp -a scripts/install.sh scripts/outbox-readable.mjs "$stage/$name/scripts/"
# Reproducible enough: sorted names, no owner, the files' own times.
tar -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner -czf "$out/$name.tar.gz" "$name"
echo "$out/$name.tar.gz"
