#!/usr/bin/env bash
# Validates the Kubernetes manifests injector-pack writes, in both modes (Pod + NodePort
# Service with --node/--node-port, and DaemonSet), against the Kubernetes OpenAPI schemas,
# offline and strictly (unknown fields are errors).
#
# The validator is kubernetes-validate from PyPI, which ships the schemas of Kubernetes
# 1.25 to 1.37; `kubectl apply --dry-run=client` cannot do this without a cluster (it downloads
# the schema from the API server). On first use it is installed into a venv under target/
# (about 10 s and 150 MB; K8S_VALIDATE_VENV overrides the place).
#
# Usage: tests/pack/validate-k8s.sh [KUBERNETES_VERSION...]   default: 1.25.0 1.37.0
# Needs: cargo, python3 with venv and pip, network access to PyPI on first use.
set -euo pipefail
cd "$(dirname "$0")/../.."

venv=${K8S_VALIDATE_VENV:-target/k8s-validate-venv}
if [ ! -x "$venv/bin/kubernetes-validate" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check kubernetes-validate
fi
cargo build --quiet --bin injector-pack

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The schema is what is checked, not the binary: a small stand-in keeps the YAML small.
printf 'not the injector\n' > "$work/zarf-injector"

pack() {
    local name=$1
    shift
    target/debug/injector-pack --quiet examples/hello-layout --out "$work/$name" \
        --chunk-size 300 --k8s "$work/$name.yaml" --injector "$work/zarf-injector" \
        --pod-image registry.k8s.io/pause:3.10 "$@" > /dev/null 2> "$work/$name.err" ||
        { cat "$work/$name.err" >&2; exit 1; }
}
pack pod --namespace seed --port 5001 --node node-1 --node-port 31999
pack daemonset --daemonset

versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(1.25.0 1.37.0)
for version in "${versions[@]}"; do
    "$venv/bin/kubernetes-validate" --strict --quiet --kubernetes-version "$version" \
        "$work/pod.yaml" "$work/daemonset.yaml"
    echo "valid against Kubernetes $version: Pod mode ($(grep -c '^---$' "$work/pod.yaml") objects)," \
        "DaemonSet mode ($(grep -c '^---$' "$work/daemonset.yaml") objects)"
done

# The validator must see mistakes: a misspelt field has to fail.
sed 's/readOnlyRootFilesystem:/readOnlyRootFileSystem:/' "$work/pod.yaml" > "$work/broken.yaml"
if "$venv/bin/kubernetes-validate" --strict --quiet "$work/broken.yaml" > /dev/null 2>&1; then
    echo "validate-k8s.sh: the validator accepted a misspelt field" >&2
    exit 1
fi
