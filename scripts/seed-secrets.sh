#!/usr/bin/env bash
# Create the seed's secret `user-info` (keys user_secret, username, password) in namespace
# flytesnacks-development of the local store, unless it is already there (idempotent: an existing
# secret is kept as it is). The store is $TASKSECRETS_HOME, by default the user's data directory.
# Usage: scripts/seed-secrets.sh [path/to/tasksecrets]
set -euo pipefail

TASKSECRETS="${1:-tasksecrets}"
NAMESPACE=flytesnacks-development

if "$TASKSECRETS" get secrets user-info -n "$NAMESPACE" -o name >/dev/null 2>&1; then
    echo "secret/user-info already exists in $NAMESPACE (kept)"
else
    # The seed's own demo values (Flyte's secrets guide creates the same secret with kubectl).
    "$TASKSECRETS" create secret generic user-info -n "$NAMESPACE" \
        --from-literal=user_secret=mysecret \
        --from-literal=username=my_username \
        --from-literal=password=my_password
fi
