#!/usr/bin/env bash
# Bring up the single-host development control plane and show it working with the real kubectl.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="$(realpath -m "${1:-.dev/cluster}")"
.venv/bin/provision dev up --dir "$dir"
kubeconfig="$dir/admin.kubeconfig"
kubectl=(.venv/bin/kubectl --kubeconfig "$kubeconfig" --cache-dir "$dir/kubectl-cache")
echo
echo "\$ kubectl version"
"${kubectl[@]}" version
echo
echo "\$ kubectl get namespaces"
"${kubectl[@]}" get namespaces
echo
echo "\$ kubectl get services -A -o wide"
"${kubectl[@]}" get services -A -o wide
echo
echo "Use it:  export KUBECONFIG=$kubeconfig; .venv/bin/kubectl get all -A"
echo "Stop it: make dev-down"
