#!/usr/bin/env bash
# Installs the Debian packages the tests and benchmarks drive for real: PostgreSQL (server
# binaries, started by the tests into a temp dir) and wrk (the HTTPS load generator).
# Idempotent: does nothing when everything is present.
set -euo pipefail
need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-system: need root to install: ${need[*]} (run: sudo apt-get install -y ${need[*]})" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# Debian starts a cluster on install; the tests start their own, so stop the system one.
if command -v pg_ctlcluster >/dev/null 2>&1; then
  service postgresql stop >/dev/null 2>&1 || true
fi
