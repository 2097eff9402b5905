#!/usr/bin/env bash
# Bring up the default local cluster (examples/cluster.yaml: 1 control plane + 2 workers on systemd-nspawn
# machines) and show it working with the real kubectl.
set -euo pipefail
cd "$(dirname "$0")/.."
spec="${1:-examples/cluster.yaml}"
if [ "$(id -u)" != 0 ]; then
  echo "error: local machines (systemd-nspawn, network namespaces, cgroups) need root: run as root" >&2
  exit 1
fi
.venv/bin/provision create "$spec"
name="$(.venv/bin/python -c 'import sys; from provisioner import spec; print(spec.load(sys.argv[1]).name)' "$spec")"
kubeconfig="$(.venv/bin/provision kubeconfig "$name" --path)"
echo
echo "\$ kubectl get nodes -o wide"
.venv/bin/kubectl --kubeconfig "$kubeconfig" get nodes -o wide
echo
echo "Use it:  export KUBECONFIG=$kubeconfig; .venv/bin/kubectl get nodes"
echo "Check:   .venv/bin/provision verify $name    Status: .venv/bin/provision status $name"
echo "Remove:  make down   (.venv/bin/provision delete $name)"
