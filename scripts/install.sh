#!/usr/bin/env bash
# Installs smartbin-edge as a supervised systemd service on Raspberry Pi OS or Debian (64-bit), from
# a checkout (built here) or an unpacked release (its dist/ shipped). See docs/install.md.
#
#   sudo scripts/install.sh                 install or upgrade from this directory
#   sudo scripts/install.sh --rollback      go back to the previous release
#   sudo scripts/install.sh --uninstall     remove the product; keep config, database and user
#   sudo scripts/install.sh --uninstall --purge   remove those too (refused while the database holds
#                                           events not yet sent; --force deletes them anyway)
#   scripts/install.sh --root DIR ...       the same into another root (an image, a test): nothing
#                                           on this host is touched (no systemctl, no useradd here)
#
# Layout: /opt/smartbin-edge/releases/<version> (bin, dist, production node_modules), the symlinks
# /opt/smartbin-edge/current and /opt/smartbin-edge/previous, /usr/local/bin/smartbin,
# /etc/systemd/system/smartbin.service, /etc/sysusers.d/smartbin.conf (user smartbin, in dialout
# and gpio), /etc/udev/rules.d/60-smartbin-gpio.rules, /etc/smartbin/config.yaml (0640
# root:smartbin, never overwritten), /var/lib/smartbin (0700 smartbin: the database).
# Idempotent: running it again with the same product changes nothing.
set -euo pipefail

PRODUCT=smartbin-edge
UNIT=smartbin.service
OPT=/opt/smartbin-edge
CONFIG=/etc/smartbin/config.yaml

usage() {
  sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
}

ROOT=""
ACTION=install
PURGE=0
FORCE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --root) ROOT="${2:?--root needs a directory}"; shift 2 ;;
    --root=*) ROOT="${1#--root=}"; shift ;;
    --rollback) ACTION=rollback; shift ;;
    --uninstall) ACTION=uninstall; shift ;;
    --purge) PURGE=1; shift ;;
    --force) FORCE=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "install.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [ "$PURGE" = 1 ] && [ "$ACTION" != uninstall ]; then
  echo "install.sh: --purge goes with --uninstall" >&2
  exit 2
fi
if [ "$FORCE" = 1 ] && [ "$PURGE" != 1 ]; then
  echo "install.sh: --force goes with --uninstall --purge" >&2
  exit 2
fi
if [ -n "$ROOT" ]; then
  mkdir -p "$ROOT"
  ROOT=$(cd "$ROOT" && pwd)
  [ "$ROOT" = / ] && ROOT=""
fi
HOST=1
[ -n "$ROOT" ] && HOST=0

say() { echo "install.sh: $*"; }
die() { echo "install.sh: $*" >&2; exit 1; }
# Runs a command on the host only (systemctl, udevadm): never with --root.
on_host() { if [ "$HOST" = 1 ]; then "$@"; fi; }

# The Node the service is to run, on a host install: one under a home folder (nvm's, a copy in
# ~/.cache) cannot be reached by the service, whose unit has ProtectHome=yes and whose user cannot
# enter another user's home, so the unit would fail at every start (status 203/EXEC, or EACCES).
if [ "$HOST" = 1 ] && [ "$ACTION" = install ] && command -v node >/dev/null 2>&1; then
  node_real=$(readlink -f "$(command -v node)")
  case "$node_real" in
    /home/* | /root/* | /run/user/*)
      die "the Node found, $node_real, is under a home folder, which the service cannot reach (ProtectHome=yes, and its user cannot enter that home): install Node for the whole system, into /usr/bin or /usr/local/bin (docs/install.md, section 2); nothing was installed" ;;
  esac
fi

if [ "$HOST" = 1 ] && [ "$(id -u)" -ne 0 ]; then
  die "run as root (sudo $0 $*), or with --root DIR to install into another tree"
fi

SRC=$(cd "$(dirname "$0")/.." && pwd)

# Another root must be a root file system already (an OS image, a container root): its users and
# groups are where the station's user is added. Checked before anything is written there.
if [ "$HOST" = 0 ] && [ "$ACTION" = install ] && { [ ! -f "$ROOT/etc/passwd" ] || [ ! -f "$ROOT/etc/group" ]; }; then
  die "--root $ROOT has no etc/passwd and etc/group: give the root of an OS file system (an image, a container root); nothing was written"
fi

# The Node that runs npm here and, on the host, the station: engines.node of package.json.
node_check() {
  command -v node >/dev/null 2>&1 || die "Node.js not found: install Node 22.12 or newer first (docs/install.md)"
  local floor found
  floor=$(sed -nE 's/^ *"node": *">= *([0-9]+(\.[0-9]+)*)".*/\1/p' "$SRC/package.json" | head -n 1)
  found=$(node -p process.versions.node)
  if [ "$(printf '%s\n%s\n' "$floor" "$found" | sort -V | head -n 1)" != "$floor" ]; then
    die "Node $found is too old: $PRODUCT needs Node $floor or newer (docs/install.md says how to install it)"
  fi
  command -v npm >/dev/null 2>&1 || die "npm not found (it comes with Node.js)"
}

version_of() { node -p "require(process.argv[1]).version" "$1/package.json"; }

# A fingerprint of what a release consists of: same fingerprint, same installed tree.
fingerprint() {
  (cd "$1" && find bin dist package.json package-lock.json config systemd scripts/install.sh scripts/outbox-readable.mjs \
    docs/install.md -type f -print0 2>/dev/null | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
}

# Makes sure $SRC/dist is the build of $SRC: built here in a checkout with its dev dependencies.
ensure_dist() {
  if [ -d "$SRC/src" ] && [ -x "$SRC/node_modules/.bin/tsc" ]; then
    say "building dist/ from the checkout"
    (cd "$SRC" && npm run --silent build)
  elif [ ! -f "$SRC/dist/cli/main.js" ]; then
    die "no dist/ here: in a checkout run 'npm ci' first (it builds dist/), or use an unpacked release"
  fi
}

gid_of() { # group name -> gid, from the target's /etc/group
  awk -F: -v g="$1" '$1 == g { print $3 }' "$ROOT/etc/group" 2>/dev/null | head -n 1
}
uid_of() {
  awk -F: -v u="$1" '$1 == u { print $3 }' "$ROOT/etc/passwd" 2>/dev/null | head -n 1
}
# chown that names ids from the target's files (with --root the host's names may differ).
own() { # own USER GROUP PATH
  local u g
  u=$(uid_of "$1"); g=$(gid_of "$2")
  if [ -z "$u" ] || [ -z "$g" ]; then die "user $1 or group $2 missing in $ROOT/etc"; fi
  if [ "$(id -u)" -eq 0 ]; then chown "$u:$g" "$3"; else say "not root: $3 left owned by $(id -un)"; fi
}

install_file() { # install_file MODE SRC DEST: copies only when different (idempotent)
  mkdir -p "$(dirname "$2")"
  if ! cmp -s "$1" "$2" 2>/dev/null; then cp "$1" "$2"; fi
  chmod "$3" "$2"
}

service_active() { [ "$HOST" = 1 ] && systemctl is-active --quiet "$UNIT" 2>/dev/null; }

system_setup() { # the user, groups, udev rule, unit, CLI link, config, state folder
  local rel=$1
  install_file "$rel/systemd/smartbin.sysusers" "$ROOT/etc/sysusers.d/smartbin.conf" 0644
  if [ "$HOST" = 1 ]; then
    systemd-sysusers /etc/sysusers.d/smartbin.conf
  else
    systemd-sysusers --root="$ROOT" "$ROOT/etc/sysusers.d/smartbin.conf"
  fi
  install_file "$rel/systemd/60-smartbin-gpio.rules" "$ROOT/etc/udev/rules.d/60-smartbin-gpio.rules" 0644
  on_host udevadm control --reload 2>/dev/null || true
  on_host udevadm trigger --subsystem-match=gpio 2>/dev/null || true
  install_file "$rel/systemd/smartbin.service" "$ROOT/etc/systemd/system/$UNIT" 0644
  if [ "$HOST" = 1 ]; then
    local nodedir
    nodedir=$(dirname "$(command -v node)")
    case "$nodedir" in
      /usr/bin | /usr/local/bin | /bin) rm -f "/etc/systemd/system/$UNIT.d/node-path.conf" ;;
      *)
        mkdir -p "/etc/systemd/system/$UNIT.d"
        printf '# Written by install.sh: the Node it found is not on systemd'"'"'s default PATH.\n[Service]\nEnvironment=PATH=%s:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin\n' \
          "$nodedir" >"/etc/systemd/system/$UNIT.d/node-path.conf.new"
        mv "/etc/systemd/system/$UNIT.d/node-path.conf.new" "/etc/systemd/system/$UNIT.d/node-path.conf"
        ;;
    esac
  fi
  mkdir -p "$ROOT/usr/local/bin"
  ln -sfn "$OPT/current/bin/smartbin.js" "$ROOT/usr/local/bin/smartbin"
  # The config: created once from the example, never overwritten.
  mkdir -p "$ROOT/etc/smartbin"
  chmod 0750 "$ROOT/etc/smartbin"
  own root smartbin "$ROOT/etc/smartbin"
  if [ ! -e "$ROOT$CONFIG" ]; then
    cp "$rel/config/smartbin.example.yaml" "$ROOT$CONFIG.new"
    chmod 0640 "$ROOT$CONFIG.new"
    own root smartbin "$ROOT$CONFIG.new"
    mv "$ROOT$CONFIG.new" "$ROOT$CONFIG"
    say "example config written to $CONFIG: edit it, then check it with: sudo -u smartbin smartbin config check"
  fi
  mkdir -p "$ROOT/var/lib/smartbin"
  chmod 0700 "$ROOT/var/lib/smartbin"
  own smartbin smartbin "$ROOT/var/lib/smartbin"
  # Enabled: started at every boot.
  if [ "$HOST" = 1 ]; then
    systemctl daemon-reload
    systemctl enable "$UNIT" >/dev/null
  else
    mkdir -p "$ROOT/etc/systemd/system/multi-user.target.wants"
    ln -sfn "/etc/systemd/system/$UNIT" "$ROOT/etc/systemd/system/multi-user.target.wants/$UNIT"
  fi
}

# Keeps current and previous; removes older releases and unfinished ones.
prune_releases() {
  local cur prev d
  cur=$(readlink "$ROOT$OPT/current" 2>/dev/null || true)
  prev=$(readlink "$ROOT$OPT/previous" 2>/dev/null || true)
  for d in "$ROOT$OPT"/releases/*; do
    [ -e "$d" ] || continue
    case "releases/$(basename "$d")" in
      "$cur" | "$prev") ;;
      *) rm -rf "$d" ;;
    esac
  done
}

do_install() {
  node_check
  ensure_dist
  local version fp rel cur
  version=$(version_of "$SRC")
  fp=$(fingerprint "$SRC")
  rel="$ROOT$OPT/releases/$version"
  cur=$(readlink "$ROOT$OPT/current" 2>/dev/null || true)
  mkdir -p "$ROOT$OPT/releases"
  local was_active=0 changed=0
  if service_active; then was_active=1; fi

  if [ -f "$rel/.fingerprint" ] && [ "$(cat "$rel/.fingerprint")" = "$fp" ]; then
    say "$PRODUCT $version is installed already"
  else
    say "installing $PRODUCT $version into $OPT/releases/$version"
    local stage="$rel.new"
    rm -rf "$stage"
    mkdir -p "$stage/scripts" "$stage/docs"
    cp -a "$SRC/bin" "$SRC/dist" "$SRC/config" "$SRC/systemd" "$SRC/package.json" "$SRC/package-lock.json" "$stage/"
    cp -a "$SRC/scripts/install.sh" "$SRC/scripts/outbox-readable.mjs" "$stage/scripts/"
    cp -a "$SRC/docs/install.md" "$stage/docs/"
    for f in LICENSE README.md; do if [ -f "$SRC/$f" ]; then cp -a "$SRC/$f" "$stage/"; fi; done
    # Production dependencies only, from the lock file, compiling nothing (their prebuilt binaries
    # are loaded at run time; no install script is needed, not even the package's own `prepare`).
    # A release with the same lock file lends its node_modules instead (upgrades, reinstalls).
    local donor="" d
    for d in "$ROOT$OPT"/releases/*; do
      if [ -f "$d/.fingerprint" ] && [ -d "$d/node_modules" ] && cmp -s "$d/package-lock.json" "$stage/package-lock.json"; then
        donor=$d
        break
      fi
    done
    if [ -n "$donor" ]; then
      cp -a "$donor/node_modules" "$stage/"
    else
      (cd "$stage" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=error >/dev/null)
    fi
    echo "$fp" >"$stage/.fingerprint"
    changed=1
    chmod -R go-w "$stage"
    if [ "releases/$version" = "$cur" ] && service_active; then systemctl stop "$UNIT"; fi
    rm -rf "$rel"
    mv "$stage" "$rel"
  fi

  if [ "$cur" != "releases/$version" ]; then
    changed=1
    if [ -n "$cur" ] && [ -e "$ROOT$OPT/$cur" ]; then
      ln -sfn "$cur" "$ROOT$OPT/previous"
      say "previous release kept for --rollback: $(basename "$cur")"
    fi
    ln -sfn "releases/$version" "$ROOT$OPT/current.new"
    mv -T "$ROOT$OPT/current.new" "$ROOT$OPT/current"
  fi
  prune_releases
  system_setup "$rel"
  # A running station is restarted on the new release; a stopped one is left stopped.
  if [ "$was_active" = 1 ] && [ "$changed" = 1 ]; then
    systemctl restart "$UNIT" || say "the service did not start again: journalctl -u smartbin"
  fi
  say "done: $PRODUCT $version in $OPT/current"
  if [ -z "$cur" ]; then
    say "next: edit $CONFIG, check it (sudo -u smartbin smartbin config check), then: sudo systemctl start smartbin"
  fi
}

do_rollback() {
  local cur prev
  cur=$(readlink "$ROOT$OPT/current" 2>/dev/null || true)
  prev=$(readlink "$ROOT$OPT/previous" 2>/dev/null || true)
  if [ -z "$prev" ] || [ ! -d "$ROOT$OPT/$prev" ]; then die "no previous release to roll back to"; fi
  [ -n "$cur" ] || die "$PRODUCT is not installed"
  command -v node >/dev/null 2>&1 || die "Node.js not found"
  local was_active=0
  if service_active; then was_active=1; systemctl stop "$UNIT"; fi
  # The database must stay readable by the release we go back to, or its events would be stranded.
  local verdict rc=0
  verdict=$(node "$ROOT$OPT/$cur/scripts/outbox-readable.mjs" "${ROOT:-/}" "$CONFIG" "$ROOT$OPT/$prev") || rc=$?
  if [ "$rc" -ne 0 ]; then
    if [ "$was_active" = 1 ]; then systemctl start "$UNIT"; fi
    [ "$rc" -eq 3 ] && die "rollback refused: $verdict"
    die "rollback refused: the database could not be checked (${verdict:-see above})"
  fi
  ln -sfn "$prev" "$ROOT$OPT/current.new"
  mv -T "$ROOT$OPT/current.new" "$ROOT$OPT/current"
  ln -sfn "$cur" "$ROOT$OPT/previous"
  system_setup "$ROOT$OPT/$prev"
  if [ "$was_active" = 1 ]; then systemctl start "$UNIT"; fi
  say "rolled back to $(basename "$prev") ($(basename "$cur") kept as previous: --rollback again returns to it)"
}

# Before --purge deletes the database: refuses while it holds events the broker has not acknowledged
# (residents' points not yet in the central ledger), or when that cannot be checked, unless --force.
check_purge() {
  [ "$FORCE" = 1 ] && return 0
  local check="" d
  for d in "$ROOT$OPT/current" "$(cd "$(dirname "$0")/.." && pwd)"; do
    if [ -f "$d/scripts/outbox-readable.mjs" ] && [ -d "$d/node_modules/better-sqlite3" ]; then check="$d/scripts/outbox-readable.mjs"; break; fi
  done
  local verdict rc=0
  if [ -n "$check" ] && command -v node >/dev/null 2>&1; then
    verdict=$(node "$check" --pending "${ROOT:-/}" "$CONFIG") || rc=$?
  elif [ -z "$(find "$ROOT/var/lib/smartbin" -maxdepth 1 -type f 2>/dev/null | head -1)" ]; then
    return 0
  else
    rc=1 verdict="no installed release to read it with"
  fi
  case "$rc" in
    0) return 0 ;;
    4) die "purge refused, nothing removed: $verdict; send them first (start the station with its broker reachable) or save them (smartbin outbox export FILE), or add --force to delete them" ;;
    *) die "purge refused, nothing removed: the database could not be checked for unsent events (${verdict:-see above}); --force deletes it unchecked" ;;
  esac
}

do_uninstall() {
  if [ "$PURGE" = 1 ]; then
    # On a host the station is stopped before the check, so that no deposit can be committed
    # between the check and the deletion; a refusal starts it again.
    local was_active=0
    if service_active; then
      was_active=1
      systemctl stop "$UNIT"
    fi
    if ! (check_purge); then
      if [ "$was_active" = 1 ]; then systemctl start "$UNIT" && say "$UNIT started again"; fi
      exit 1
    fi
  fi
  if [ "$HOST" = 1 ] && [ -e "/etc/systemd/system/$UNIT" ]; then
    systemctl disable --now "$UNIT" >/dev/null 2>&1 || true
  fi
  rm -f "$ROOT/etc/systemd/system/multi-user.target.wants/$UNIT" "$ROOT/etc/systemd/system/$UNIT"
  rm -rf "$ROOT/etc/systemd/system/$UNIT.d"
  on_host systemctl daemon-reload || true
  rm -f "$ROOT/usr/local/bin/smartbin" "$ROOT/etc/udev/rules.d/60-smartbin-gpio.rules" "$ROOT/etc/sysusers.d/smartbin.conf"
  rm -rf "$ROOT$OPT"
  if [ "$PURGE" = 1 ]; then
    rm -rf "$ROOT/etc/smartbin" "$ROOT/var/lib/smartbin"
    if [ -n "$(uid_of smartbin)" ]; then
      if [ "$HOST" = 1 ]; then userdel smartbin; else userdel --prefix "$ROOT" smartbin; fi
    fi
    if [ -n "$(gid_of smartbin)" ]; then
      if [ "$HOST" = 1 ]; then groupdel smartbin; else groupdel --prefix "$ROOT" smartbin; fi
    fi
    say "removed, with the config, the database and the smartbin user (the gpio group stays)"
  else
    say "removed; kept $CONFIG, /var/lib/smartbin (the database) and the smartbin user (--purge removes them)"
  fi
}

case "$ACTION" in
  install) do_install ;;
  rollback) do_rollback ;;
  uninstall) do_uninstall ;;
esac
