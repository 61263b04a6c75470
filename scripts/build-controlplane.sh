#!/usr/bin/env bash
# Builds the real control plane the tests start (kube-apiserver, kube-scheduler, kubectl, etcd) from the
# published Go modules pinned by tests/peers/controlplane/go.sum, into a cache directory
# keyed by that go.sum, and prints the directory. A second run with the same go.sum only
# checks the binaries are there. No silent skip: without Go or the module proxy it fails
# and says which is missing.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
module_dir="$repo/tests/peers/controlplane"
binaries=(kube-apiserver kube-scheduler kubectl etcd)

fail() {
    echo "build-controlplane: $*" >&2
    exit 1
}

command -v go >/dev/null 2>&1 \
    || fail "the Go toolchain is missing: install Go (go.mod names $(grep -m1 '^go ' "$module_dir/go.mod")) and put 'go' on PATH"
[[ -f "$module_dir/go.sum" ]] \
    || fail "$module_dir/go.sum is missing: run gen-go-mod.sh and 'go mod tidy' there"

key="$(sha256sum "$module_dir/go.sum" | cut -c1-64)"
out="${XDG_CACHE_HOME:-$HOME/.cache}/tasksecrets/peers/controlplane-$key"

built=1
for name in "${binaries[@]}"; do
    [[ -x "$out/$name" ]] || built=0
done
if [[ $built -eq 1 ]]; then
    echo "$out"
    exit 0
fi

cd "$module_dir"
# Downloaded first, on its own, so an unreachable proxy is named as such and not
# mistaken for a compile error.
if ! download_log="$(go mod download 2>&1)"; then
    echo "$download_log" | tail -n 5 >&2
    fail "cannot download the modules in go.sum from GOPROXY=$(go env GOPROXY): is the Go module proxy reachable?"
fi

# Built into a sibling directory, then renamed: a build cut short leaves no directory
# that a later run would take for a complete one.
mkdir -p "$(dirname "$out")"
staging="$(mktemp -d "$out.partial.XXXXXX")"
trap 'rm -rf "$staging"' EXIT
# -trimpath: no build machine paths in the binaries; the cache key already names the
# sources exactly.
go build -trimpath -o "$staging/" tool
mv "$staging/server" "$staging/etcd"
for name in "${binaries[@]}"; do
    [[ -x "$staging/$name" ]] || fail "go build made no $name in $staging"
done
rm -rf "$out"
mv "$staging" "$out"
trap - EXIT
echo "$out"
