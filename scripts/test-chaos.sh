#!/usr/bin/env bash
# npm run test:chaos (issue 12): the chaos day through the real `smartbin run`.
#
# As root, the run gets its own mount namespace (unshare -m) with a 64 MiB tmpfs for the station's
# database, so that the day can fill that disk without touching the machine's own; the path is
# passed in CHAOS_DISK. Without root the disk faults are skipped, visibly (they fail when CI is set).
#   CHAOS_PROFILE=short|long (default short)   CHAOS_SEED=N (default: a random seed, printed)
set -euo pipefail
cd "$(dirname "$0")/.."
vitest=(node node_modules/vitest/vitest.mjs run --config vitest.chaos.config.ts "$@")
if [ -z "${CHAOS_DISK:-}" ] && [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null 2>&1; then
  disk=$(mktemp -d "${TMPDIR:-/tmp}/smartbin-chaos-disk-XXXXXX")
  trap 'rmdir "$disk" 2>/dev/null || true' EXIT
  # The mount lives as long as the namespace: it goes away with the last process in it.
  CHAOS_DISK="$disk" unshare -m --propagation private -- sh -c 'mount -t tmpfs -o size=64m,mode=0755 smartbin-chaos "$CHAOS_DISK" && exec "$@"' sh "${vitest[@]}"
  exit $?
fi
exec "${vitest[@]}"
