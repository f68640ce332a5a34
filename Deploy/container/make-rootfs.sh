#!/usr/bin/env bash
# Builds, without an image builder, a root filesystem with what the
# Containerfile's runtime stage puts in the image (needs root and Debian's
# archive): a minimal Debian 12 (debootstrap --variant=minbase) with exactly
# the packages the runtime stage installs (read from the Containerfile),
# conaclip built with --static-swift-stdlib as the build stage does (debug,
# in CONACLIP_STATIC_BUILD, default /tmp/conaclip-static-build; or the
# executable CONACLIP_STATIC_BIN), configs/ in /opt/conaclip and the user
# 10001. Used by check.sh rootfs and Deploy/kubernetes/test-pods.sh.
#   bash Deploy/container/make-rootfs.sh DIR
set -euo pipefail
rootfs=${1:?usage: make-rootfs.sh DIR}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
say() { echo "make-rootfs: $*"; }
[ "$(id -u)" -eq 0 ] || { say "needs root (debootstrap, chroot)"; exit 2; }
[ ! -e "$rootfs" ] || [ -z "$(ls -A "$rootfs")" ] || { say "$rootfs is not empty"; exit 2; }
packages=$(awk '/^FROM .* AS runtime/{r=1} r&&/apt-get install/{p=1;next} p&&/rm -rf/{exit} p{print}' "$here/Containerfile" \
  | tr -d '\\&' | xargs)
[ -n "$packages" ] || { say "could not read the runtime stage's packages"; exit 1; }
say "runtime packages: $packages"
command -v debootstrap >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT
say "debootstrap (minbase) bookworm + runtime packages into $rootfs"
debootstrap --variant=minbase --include="${packages// /,}" bookworm "$rootfs" >"$log" 2>&1 \
  || { tail -n 20 "$log"; say "debootstrap failed"; exit 1; }
static_bin=${CONACLIP_STATIC_BIN:-}
if [ -z "$static_bin" ]; then
  scratch=${CONACLIP_STATIC_BUILD:-/tmp/conaclip-static-build}
  say "building conaclip --static-swift-stdlib (debug) in $scratch"
  (cd "$repo" && swift build --product conaclip --static-swift-stdlib --scratch-path "$scratch" >"$log" 2>&1) \
    || { tail -n 30 "$log"; exit 1; }
  static_bin="$(cd "$repo" && swift build --static-swift-stdlib --scratch-path "$scratch" --show-bin-path)/conaclip"
fi
install -m 755 "$static_bin" "$rootfs/usr/local/bin/conaclip"
mkdir -p "$rootfs/opt/conaclip"
cp -r "$repo/configs" "$rootfs/opt/conaclip/"
chroot "$rootfs" useradd --uid 10001 --user-group --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin conaclip
say "done: $rootfs"
