#!/usr/bin/env bash
# Checks the systemd units with systemd-analyze (installs Debian's systemd if
# missing; needs no running systemd):
#   - `systemd-analyze verify` on the coordinator unit and a worker instance:
#     any message (unknown key, bad value, missing executable) is a failure;
#   - `systemd-analyze security --offline=yes`: exposure must stay at or below
#     2.0 of 10 (the sandboxing options are all in effect);
#   - a deliberately broken copy (misspelt key, bad Restart= value) must fail.
# ExecStart names /usr/local/bin/conaclip; for the check it is pointed at the
# conaclip built from this checkout (or $CONACLIP_BIN), so verify also checks
# that the executable exists.
#   bash Deploy/systemd/verify.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
command -v systemd-analyze >/dev/null || {
  [ "$(id -u)" -eq 0 ] || { echo "verify: systemd-analyze missing; install systemd" >&2; exit 2; }
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd >/dev/null
}
bin=${CONACLIP_BIN:-}
if [ -z "$bin" ]; then
  bin="$(cd "$here/../.." && swift build --show-bin-path 2>/dev/null)/conaclip" || true
fi
[ -x "$bin" ] || { echo "verify: no conaclip executable at '$bin' (build it, or set CONACLIP_BIN)" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for unit in conaclip-coordinator.service conaclip-worker@.service; do
  sed "s#/usr/local/bin/conaclip#$bin#" "$here/$unit" >"$tmp/$unit"
done
sed -e 's/^NoNewPrivileges=yes/NoNewPrivilege=yes/' -e 's/^Restart=on-failure/Restart=sometimes/' \
  "$tmp/conaclip-coordinator.service" >"$tmp/broken.service"

failed=0
check() {  # UNIT: verify must exit 0 and print nothing
  local out
  if out=$(cd "$tmp" && systemd-analyze verify "./$1" 2>&1) && [ -z "$out" ]; then
    echo "verify: $1 ok"
  else
    echo "verify: $1 FAILED"; printf '%s\n' "$out" | sed 's/^/  /'; return 1
  fi
}
exposure() {  # UNIT
  local out
  if out=$(cd "$tmp" && systemd-analyze security --offline=yes --threshold=20 "./$1" 2>&1); then
    echo "verify: $1 $(printf '%s\n' "$out" | grep -o 'Overall exposure level.*' | sed 's/ for [^:]*:/:/')"
  else
    echo "verify: $1 exposure above 2.0"; printf '%s\n' "$out" | tail -3 | sed 's/^/  /'; return 1
  fi
}
check conaclip-coordinator.service || failed=1
check conaclip-worker@1.service || failed=1
exposure conaclip-coordinator.service || failed=1
exposure conaclip-worker@1.service || failed=1
if check broken.service >/dev/null 2>&1; then
  echo "verify: the deliberately broken unit passed: the check is not working"; failed=1
else
  echo "verify: a deliberately broken unit is rejected, as it must be"
fi
[ "$failed" = 0 ] && echo "verify: all systemd units ok" || { echo "verify: FAILED"; exit 1; }
