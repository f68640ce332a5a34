#!/usr/bin/env bash
# Runs the Kubernetes manifests' pods on this machine, without Kubernetes
# (needs root): the coordinator Job's pod and the Indexed worker Job's pods,
# with the manifests' own commands, arguments, environment, volumes
# (ConfigMap, Secret from make-secret.sh, emptyDir, PersistentVolumeClaim)
# and security settings (user 10001, fsGroup, read-only root filesystem), in
# a root filesystem holding what the container image holds
# (Deploy/container/make-rootfs.sh), each pod in its own network namespace,
# the Service name resolving to the coordinator pod (see run_pods.py for
# what is and is not emulated). Passes when every container exits 0 and the
# run on the claim's volume has the digest of a single-process
# `conaclip train` of configs/smoke.yaml (the ConfigMap's config).
#   bash Deploy/kubernetes/test-pods.sh
# Environment: CONACLIP_ROOTFS (an existing make-rootfs.sh directory to reuse;
# default: a fresh one, about 4 minutes), CONACLIP_BIN (host conaclip for keys
# and the reference; default: a debug build of this checkout), TIMEOUT (600 s),
# KEEP=1 keeps the scratch directory.
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "test-pods: run as root (namespaces, mounts, chroot)" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
. "$repo/Deploy/lib.sh"
cd "$repo"
started=$(date +%s)
say() { echo "test-pods: $*"; }
venv=${CONACLIP_K8S_VENV:-/tmp/conaclip-kubernetes-validate}
if ! "$venv/bin/python" -c 'import yaml' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check 'kubernetes-validate==1.37.0'
fi
work=$(mktemp -d /tmp/conaclip-pods.XXXXXX)
ok=0
cleanup() {
  local status=$?
  remove_or_keep_work
  exit "$status"
}
on_exit_cleanup

find_conaclip
rootfs=${CONACLIP_ROOTFS:-}
if [ -z "$rootfs" ]; then
  rootfs=$work/rootfs
  bash "$repo/Deploy/container/make-rootfs.sh" "$rootfs"
fi
[ -x "$rootfs/usr/local/bin/conaclip" ] || { say "$rootfs holds no conaclip"; exit 1; }

single_process_reference configs/smoke.yaml
CONACLIP_BIN=$bin bash "$here/make-secret.sh" >"$work/secret.yaml"

mkdir -p "$work/pods-run"
status=0
"$venv/bin/python" "$here/run_pods.py" --rootfs "$rootfs" --work "$work/pods-run" \
  --containerfile "$repo/Deploy/container/Containerfile" --timeout "${TIMEOUT:-600}" \
  "$here/configmap.yaml" "$here/coordinator.yaml" "$here/workers.yaml" "$work/secret.yaml" | tee "$work/run-pods.out" \
  || status=$?
[ "$status" = 0 ] || { say "FAIL: a container failed (logs: $work/pods-run/*.log)"; tail -n 15 "$work"/pods-run/*.log; exit 1; }
claim=$(awk '$1 == "pvc" && $2 == "conaclip-runs" {print $3}' "$work/run-pods.out")
run=$(dirname "$(find "$claim" -mindepth 2 -maxdepth 2 -name final -type d | head -n 1)")
[ -d "$run/final" ] || { say "FAIL: no final model on the claim's volume $claim"; exit 1; }
grep -h "security=\|launch from the environment\|weights digest" "$work"/pods-run/*.log | sed 's/^/  /'
actual=$("$bin" checkpoint digest "$run")
say "digest single-process            $expected"
say "digest pods (coordinator + $(ls "$work"/pods-run/conaclip-workers-*.worker.log | wc -l) workers) $actual"
[ "$actual" = "$expected" ] || { say "FAIL: digests differ"; exit 1; }
ok=1
say "PASS ($(( $(date +%s) - started )) s)"
