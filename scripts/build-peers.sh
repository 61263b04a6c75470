#!/usr/bin/env bash
# Build the Flyte pod-webhook peer (tests/peers/flyte_webhook, a harness importing flytepropeller's
# webhook code) and print the binary's path. The binary is cached under
# ${XDG_CACHE_HOME:-$HOME/.cache}/tasksecrets/peers/flyte-webhook-<sha256 of go.sum>/ and rebuilt
# only when go.sum changes. Needs `go` and a Go module proxy that serves the modules in go.mod.
# Usage: scripts/build-peers.sh
set -euo pipefail

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/peers/flyte_webhook"

fail() {
    echo "build-peers: $*" >&2
    exit 1
}

command -v go >/dev/null 2>&1 ||
    fail "'go' is not on PATH: install Go (1.24 or newer) to build the Flyte webhook peer"

# Fetching the modules first tells an unreachable or refusing proxy apart from a build error,
# and names the module it could not get.
download_modules() {
    local log
    log="$(mktemp)"
    if ! (cd "$SRC" && go mod download) >"$log" 2>&1; then
        echo "build-peers: the Go module proxy ($(go env GOPROXY)) did not serve the peer's modules:" >&2
        sed 's/^/  /' "$log" >&2
        rm -f "$log"
        exit 1
    fi
    rm -f "$log"
}

if [[ ! -f "$SRC/go.sum" ]]; then
    download_modules
    fail "$SRC/go.sum is missing: run 'go mod tidy' in $SRC and commit go.sum"
fi

HASH="$(sha256sum "$SRC/go.sum" | cut -d' ' -f1)"
OUT_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/tasksecrets/peers/flyte-webhook-$HASH"
BIN="$OUT_DIR/flyte-webhook"

if [[ ! -x "$BIN" ]]; then
    download_modules
    mkdir -p "$OUT_DIR"
    # Build beside the final name and rename: a build cut short leaves no half binary behind.
    (cd "$SRC" && go build -trimpath -o "$BIN.partial" .)
    mv "$BIN.partial" "$BIN"
fi
echo "$BIN"
