#!/usr/bin/env bash
# Starts, for trying things by hand, the control plane the tests start (tests/controlplane.py):
# etcd and kube-apiserver built by build-controlplane.sh, on 127.0.0.1 at free ports, with their
# own certificates, service-account key and admin token, RBAC on and the default admission
# plugins; then deploy/webhook applied server-side and our webhook registered and serving
# (tests/webhook_in_cluster.py). Prints the admin kubeconfig and runs until Ctrl-C, then stops
# what it started and removes its directory. docs/webhook.md says what to try.
#
# Usage: scripts/dev-cluster.sh [--check] [--no-webhook]
#   --check       start, print `kubectl get ns` and the webhook registration, stop
#   --no-webhook  the control plane only
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
python="$repo/.venv/bin/python"
[[ -x "$python" ]] || { echo "dev-cluster: no virtualenv at $repo/.venv: run 'make venv' first" >&2; exit 1; }
export PATH="$repo/.venv/bin:$PATH"
exec "$python" "$repo/tests/controlplane.py" "$@"
