#!/usr/bin/env bash
# Starts a real control plane on 127.0.0.1 for trying things by hand: etcd and
# kube-apiserver built by build-controlplane.sh, random free ports, their own serving
# certificate, service-account signing key and admin token, RBAC authorization, the API
# server's default admission plugins. Prints an admin kubeconfig path and runs until
# interrupted; then stops what it started, by PID, and removes its directory.
#
# Usage: scripts/dev-cluster.sh [--check]   (--check: start, run `kubectl get ns`, stop)
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
bin="$("$repo/scripts/build-controlplane.sh")"
state="$(mktemp -d "${TMPDIR:-/tmp}/tasksecrets-dev-cluster.XXXXXX")"
pids=()

# The API server first (the last started), then etcd: an API server whose etcd is gone
# retries it instead of shutting down. Each gets 10 s after SIGTERM, then SIGKILL.
stop() {
    local i pid
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        pid="${pids[i]}"
        kill "$pid" 2>/dev/null || continue
        for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$state"
}
trap stop EXIT
trap 'exit 130' INT TERM

# A port the kernel just handed out and released: another process may take it before
# we bind it, a small window the loopback-only use makes acceptable.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

make_credentials() {
    umask 077
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=tasksecrets-dev-ca \
        -keyout "$state/ca.key" -out "$state/ca.crt" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj /CN=kube-apiserver \
        -keyout "$state/apiserver.key" -out "$state/apiserver.csr" 2>/dev/null
    openssl x509 -req -in "$state/apiserver.csr" -CA "$state/ca.crt" -CAkey "$state/ca.key" \
        -CAcreateserial -days 2 -out "$state/apiserver.crt" \
        -extfile <(printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n') \
        2>/dev/null
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$state/sa.key" 2>/dev/null
    openssl pkey -in "$state/sa.key" -pubout -out "$state/sa.pub"
    # The admin token lives only in files of mode 0600, never in argv.
    token="$(openssl rand -hex 32)"
    printf '%s,tasksecrets-admin,tasksecrets-admin,"system:masters"\n' "$token" >"$state/tokens.csv"
}

write_kubeconfig() {
    cat >"$state/admin.kubeconfig" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: dev
  cluster:
    server: https://127.0.0.1:$apiserver_port
    certificate-authority: $state/ca.crt
users:
- name: admin
  user:
    token: $token
contexts:
- name: dev
  context: {cluster: dev, user: admin}
current-context: dev
KUBECONFIG
}

start_etcd() {
    etcd_port="$(free_port)"
    "$bin/etcd" --data-dir "$state/etcd" --name dev \
        --listen-client-urls "http://127.0.0.1:$etcd_port" \
        --advertise-client-urls "http://127.0.0.1:$etcd_port" \
        --listen-peer-urls "http://127.0.0.1:$(free_port)" \
        >"$state/etcd.log" 2>&1 &
    pids+=($!)
}

start_apiserver() {
    apiserver_port="$(free_port)"
    "$bin/kube-apiserver" \
        --etcd-servers "http://127.0.0.1:$etcd_port" \
        --bind-address 127.0.0.1 --advertise-address 127.0.0.1 \
        --secure-port "$apiserver_port" \
        --tls-cert-file "$state/apiserver.crt" --tls-private-key-file "$state/apiserver.key" \
        --cert-dir "$state/certs" \
        --token-auth-file "$state/tokens.csv" \
        --authorization-mode RBAC \
        --service-account-issuer https://kubernetes.default.svc.cluster.local \
        --service-account-key-file "$state/sa.pub" \
        --service-account-signing-key-file "$state/sa.key" \
        --service-cluster-ip-range 10.0.0.0/24 \
        >"$state/apiserver.log" 2>&1 &
    pids+=($!)
}

# Bounded: a server that is not ready within a minute has failed; its log says why.
wait_ready() {
    for _ in $(seq 120); do
        if "$bin/kubectl" --kubeconfig "$state/admin.kubeconfig" get --raw /readyz >/dev/null 2>&1; then
            return 0
        fi
        for pid in "${pids[@]}"; do
            kill -0 "$pid" 2>/dev/null || { tail -n 20 "$state"/*.log >&2; echo "dev-cluster: a server exited" >&2; exit 1; }
        done
        sleep 0.5
    done
    tail -n 20 "$state/apiserver.log" >&2
    echo "dev-cluster: kube-apiserver not ready after 60 s" >&2
    exit 1
}

make_credentials
start_etcd
start_apiserver
write_kubeconfig
wait_ready
echo "dev-cluster: ready; export KUBECONFIG=$state/admin.kubeconfig (logs in $state)" >&2
if [[ "${1:-}" == "--check" ]]; then
    "$bin/kubectl" --kubeconfig "$state/admin.kubeconfig" get ns
    exit 0
fi
echo "dev-cluster: Ctrl-C stops it" >&2
wait "${pids[0]}"
