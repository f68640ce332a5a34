#!/usr/bin/env bash
# Validates the Kubernetes manifests in this directory:
#   1. against the Kubernetes OpenAPI schemas (kubernetes-validate, strict: unknown
#      fields are errors) for each version in K8S_VERSIONS;
#   2. cross-references the schemas cannot see (check_references.py): volumes,
#      ConfigMap/Secret/PVC names and keys, Service selector and port, Indexed
#      workers, resources, one BLAS thread, ConfigMap == configs/smoke.yaml;
#   3. self-test: deliberately broken manifests (misspelt field, wrong type,
#      missing required field, mount of an undefined volume) must be rejected.
# The Secret is the one make-secret.sh prints (needs conaclip: CONACLIP_BIN or
# a build in this checkout); without conaclip a stand-in with the same keys is used.
# kubernetes-validate is installed from PyPI into a venv (CONACLIP_K8S_VENV,
# default /tmp/conaclip-kubernetes-validate) the first time.
#   bash Deploy/kubernetes/validate.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
versions=${K8S_VERSIONS:-"1.29.0 1.33.0 1.37.0"}
venv=${CONACLIP_K8S_VENV:-/tmp/conaclip-kubernetes-validate}
if ! "$venv/bin/python" -c 'import kubernetes_validate, yaml' 2>/dev/null; then
  echo "validate: installing kubernetes-validate into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check 'kubernetes-validate==1.37.0'
fi
kv=("$venv/bin/kubernetes-validate" --strict --quiet)
py=$venv/bin/python

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bin=${CONACLIP_BIN:-}
if [ -z "$bin" ]; then bin="$(cd "$repo" && swift build --show-bin-path 2>/dev/null)/conaclip" || true; fi
if [ -x "$bin" ]; then
  CONACLIP_BIN=$bin bash "$here/make-secret.sh" >"$tmp/secret.yaml"
  echo "validate: Secret from make-secret.sh (fresh keys from $bin)"
else
  echo "validate: no conaclip executable; using a stand-in Secret with the same keys"
  cat >"$tmp/secret.yaml" <<'YAML'
apiVersion: v1
kind: Secret
metadata: {name: conaclip-keys}
type: Opaque
stringData: {coordinator.secret: x, coordinator.public: x, worker.secret: x, worker.public: x, allow: x}
YAML
fi
manifests=("$here/configmap.yaml" "$here/coordinator.yaml" "$here/workers.yaml")

failed=0
for version in $versions; do
  if "${kv[@]}" -k "$version" "${manifests[@]}" "$tmp/secret.yaml"; then
    echo "validate: ${#manifests[@]} manifests + Secret valid against Kubernetes $version (strict)"
  else
    echo "validate: schema errors against Kubernetes $version"; failed=1
  fi
done
"$py" "$here/check_references.py" "$repo/configs/smoke.yaml" "${manifests[@]}" "$tmp/secret.yaml" || failed=1

# Self-test: each broken variant must be rejected by the check named.
sed 's/completionMode: Indexed/completionMod: Indexed/' "$here/workers.yaml" >"$tmp/misspelt.yaml"
sed 's/backoffLimit: 4$/backoffLimit: four/' "$here/coordinator.yaml" >"$tmp/wrong-type.yaml"
"$py" - "$here/workers.yaml" "$tmp/no-containers.yaml" <<'PY'
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
del doc["spec"]["template"]["spec"]["containers"]
yaml.safe_dump(doc, open(sys.argv[2], "w"))
PY
sed 's/- {name: keys, mountPath: \/keys, readOnly: true}/- {name: key, mountPath: \/keys, readOnly: true}/' \
  "$here/workers.yaml" >"$tmp/undefined-volume.yaml"
cmp -s "$tmp/misspelt.yaml" "$here/workers.yaml" && { echo "validate: self-test edit did not apply"; failed=1; }
cmp -s "$tmp/wrong-type.yaml" "$here/coordinator.yaml" && { echo "validate: self-test edit did not apply"; failed=1; }
cmp -s "$tmp/undefined-volume.yaml" "$here/workers.yaml" && { echo "validate: self-test edit did not apply"; failed=1; }
for broken in misspelt wrong-type no-containers; do
  if "${kv[@]}" "$tmp/$broken.yaml" >"$tmp/$broken.out" 2>&1; then
    echo "validate: the broken manifest '$broken' passed the schema check: the check is not working"; failed=1
  else
    echo "validate: broken manifest '$broken' rejected: $(grep -m1 -o 'did not validate.*' "$tmp/$broken.out" | cut -c1-160)"
  fi
done
if "$py" "$repo/Deploy/kubernetes/check_references.py" "$repo/configs/smoke.yaml" "$here/configmap.yaml" \
     "$here/coordinator.yaml" "$tmp/undefined-volume.yaml" "$tmp/secret.yaml" >"$tmp/refs.out" 2>&1; then
  echo "validate: the broken manifest 'undefined-volume' passed the reference check: the check is not working"; failed=1
else
  echo "validate: broken manifest 'undefined-volume' rejected: $(grep -m1 'undefined volume' "$tmp/refs.out")"
fi

[ "$failed" = 0 ] && echo "validate: all Kubernetes manifests ok" || { echo "validate: FAILED"; exit 1; }
